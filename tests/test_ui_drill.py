"""Pilot tests of the drill-down screens (logs, merged track logs, describe, YAML) and untrusted cluster text."""

from __future__ import annotations

import base64

from test_ui_fakes import NOW, FakeSession, event, make_session, pod
from test_ui_main import SIZE_SMALL, SIZE_WIDE, screen_text, table_lines, title
from tui.app import LookoutApp
from tui.kube.store import SourceHealth
from widgets.describe import TextScreen, describe_lines, yaml_lines
from widgets.logs import LogScreen

MARKUP = ["[bold]", "[@click=app.quit]x[/]", "[/"]
ESCAPES = ["\x1b]8;;http://x\x1b\\", "\x1bc", "\x1b[31m", "\x9b2J", "\x07"]
EVIL = "".join(m + e for m, e in zip(MARKUP, ESCAPES)) + "[/bold]"
EVIL_PLAIN = "".join(MARKUP) + "[/bold]"  # what a terminal must show once the escapes are stripped


async def _select(pilot, app, name: str) -> None:
    table = app.query_one("#pod-table")
    table.focus()
    table.move_cursor(table._index[("shop", name)])
    await pilot.pause()


async def test_logs_follow_previous_and_search():
    s = make_session()
    s.log_lines[("checkout-canary-01", False)] = ["starting", "GET /health 200", "GET /pay 500 boom"]
    s.log_lines[("checkout-canary-01", True)] = ["panic: out of memory"]
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        await _select(pilot, app, "checkout-canary-01")
        await pilot.press("l")
        await pilot.pause(0.2)
        assert isinstance(app.screen, LogScreen)
        log = app.screen.query_one("#text")
        assert list(log.lines) == ["starting", "GET /health 200", "GET /pay 500 boom"]
        assert "shop/checkout-canary-01" in screen_text(app) and "current container" in screen_text(app)
        await pilot.press("slash", *"500")
        await pilot.pause(0.1)
        assert list(log.lines) == ["GET /pay 500 boom"]
        await pilot.press("escape")  # clears the search first
        await pilot.pause(0.1)
        assert len(log.lines) == 3
        await pilot.press("p")
        await pilot.pause(0.2)
        assert list(log.lines) == ["panic: out of memory"]
        assert "previous container" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LogScreen)
        assert app.query_one("#pod-table").cursor_key == ("shop", "checkout-canary-01")


async def test_logs_are_bounded():
    s = make_session()
    s.log_lines[("checkout-stable-00", False)] = [f"line {i}" for i in range(7000)]
    app = LookoutApp(s, clock=lambda: NOW, log_buffer_lines=5000)  # [defaults] log_buffer_lines
    async with app.run_test(size=SIZE_SMALL) as pilot:
        await pilot.pause()
        await _select(pilot, app, "checkout-stable-00")
        await pilot.press("l")
        await pilot.pause(0.3)
        log = app.screen.query_one("#text")
        assert len(log.lines) <= 5000 and log.lines[-1] == "line 6999"


async def test_merged_track_logs_prefixed_by_pod():
    s = make_session()
    for i in range(3):
        s.log_lines[(f"checkout-canary-0{i}", False)] = [f"hello from {i}"]
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        await _select(pilot, app, "checkout-canary-02")
        await pilot.press("L")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, LogScreen) and screen.merged
        lines = sorted(screen.query_one("#text").lines)
        assert lines == [f"checkout-canary-0{i} │ hello from {i}" for i in range(3)]
        assert len(set(screen.highlighter.colours.values())) == 3  # a colour per pod, plus its name
        assert "track canary · 3 pods" in screen_text(app)


async def test_describe_and_yaml():
    s = make_session()
    s.store.apply("events", "ADDED", [event("crash", obj="checkout-canary-00", type_="Warning", reason="BackOff",
                                            message="Back-off restarting failed container app")])
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        await _select(pilot, app, "checkout-canary-00")
        await pilot.press("d")
        await pilot.pause(0.2)
        assert isinstance(app.screen, TextScreen)
        lines = list(app.screen.query_one("#text").lines)
        text = "\n".join(lines)
        assert "Name:           checkout-canary-00" in text
        assert "Namespace:      shop" in text
        assert "Labels:         app=checkout" in text
        assert "Image:          shop/checkout:2.0" in text
        assert "Restart Count:  0" in text
        assert "BackOff" in text and "Back-off restarting failed container app" in text
        await pilot.press("escape")
        await pilot.press("y")
        await pilot.pause(0.2)
        text = "\n".join(app.screen.query_one("#text").lines)
        assert "kind: Pod" in text and "name: checkout-canary-00" in text and "nodeName: node-1" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TextScreen)


async def test_describe_fetch_failure_is_shown():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        await _select(pilot, app, "checkout-canary-00")
        s.store.apply("pods", "DELETED", [pod("checkout-canary-00", "canary")])  # gone before the fetch
        await pilot.press("d")
        await pilot.pause(0.2)
        assert "could not fetch pods shop/checkout-canary-00" in "\n".join(app.screen.query_one("#text").lines)


def test_secret_values_redacted():
    secret = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"aHVudGVyMg=="}}'}},
        "data": {"password": base64.b64encode(b"hunter2").decode(), "user": base64.b64encode(b"admin").decode()},
        "stringData": {"token": "s3cr3t-token"},
    }
    text = "\n".join(yaml_lines(secret))
    assert "hunter2" not in text and "aHVudGVyMg" not in text and "s3cr3t" not in text and "YWRtaW4" not in text
    assert "password: '<redacted: 7 bytes>'" in text
    assert "user: '<redacted: 5 bytes>'" in text
    assert "token: '<redacted: 12 bytes>'" in text
    assert secret["data"]["password"] == base64.b64encode(b"hunter2").decode()  # the original is untouched
    described = "\n".join(describe_lines(secret))
    assert "aHVudGVyMg" not in described and "hunter2" not in described
    assert "password:  7 bytes" in described


# ---- untrusted text -----------------------------------------------------------------------------------
def _evil_session() -> FakeSession:
    s = make_session()
    s.target.namespace = "shop" + EVIL
    s.store.apply("pods", "ADDED", [pod("evil" + EVIL, "canary", waiting=("CrashLoopBackOff" + EVIL, "msg" + EVIL),
                                        annotations={"note": "ann" + EVIL}, node="node" + EVIL)])
    s.store.apply("events", "ADDED", [event("evil-ev", obj="evil" + EVIL, type_="Warning", reason="Reason" + EVIL,
                                            message="message" + EVIL, last=NOW)])
    s.log_lines[("evil" + EVIL, False)] = ["log" + EVIL, "\x1b[2J\x1b[Hcleared?", "[link=http://x]click[/link]"]

    class F:
        code, severity, track, summary = "x", "critical", "canary" + EVIL, "finding" + EVIL
        evidence, objects = (), ()

    s.found = [F()]
    return s


def _assert_plain(app: LookoutApp, text: str, *expected: str) -> None:
    assert app.is_running and app.return_code is None  # nothing quit the app
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    for e in expected:
        assert e in text, e


async def test_untrusted_text_main_screen():
    s = _evil_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=(160, 60)) as pilot:  # tall enough that every hostile row is on screen
        await pilot.pause(0.1)
        s.connection.ok = False
        s.connection.error = "err" + EVIL
        s.store.set_health(SourceHealth(source="events/shop", kind="events", connected=False, last_event=NOW,
                                        error="stale" + EVIL))
        await pilot.pause(0.4)
        table = app.query_one("#pod-table")
        pods_text = "\n".join(table_lines(table))
        _assert_plain(app, pods_text, "evil" + EVIL_PLAIN[:20], "CrashLoopBack")
        events_text = "\n".join(table_lines(app.query_one("#event-table")))
        _assert_plain(app, events_text, "Reason[bold]", "message[bold][@click")
        _assert_plain(app, screen_text(app), "finding" + EVIL_PLAIN, "err" + EVIL_PLAIN, "shop[bold]")
        _assert_plain(app, title(app.events_pane), "stale" + EVIL_PLAIN)
        # clicking where a [@click] would be does nothing either
        await pilot.click("#pod-table", offset=(10, 12))
        await pilot.pause()
        assert app.is_running
        for size in (SIZE_SMALL, SIZE_WIDE):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            _assert_plain(app, screen_text(app))


async def test_untrusted_text_drill_downs():
    s = _evil_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        await _select(pilot, app, "evil" + EVIL)
        await pilot.press("d")
        await pilot.pause(0.2)
        text = "\n".join(app.screen.query_one("#text").lines)
        _assert_plain(app, text, "note=ann" + EVIL_PLAIN, "msg" + EVIL_PLAIN, "message" + EVIL_PLAIN)
        _assert_plain(app, screen_text(app))
        await pilot.press("escape", "y")
        await pilot.pause(0.2)
        _assert_plain(app, "\n".join(app.screen.query_one("#text").lines), "ann[bold]")
        _assert_plain(app, screen_text(app))
        await pilot.press("escape", "l")
        await pilot.pause(0.2)
        lines = list(app.screen.query_one("#text").lines)
        _assert_plain(app, "\n".join(lines), "log" + EVIL_PLAIN, "cleared?", "[link=http://x]click[/link]")
        _assert_plain(app, screen_text(app), "[link=http://x]click[/link]")
        await pilot.press("slash", *"[bold")
        await pilot.pause(0.1)
        _assert_plain(app, screen_text(app))
        await pilot.press("escape", "escape", "L")
        await pilot.pause(0.2)
        _assert_plain(app, screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running
