"""Pilot tests of the main screen: pods and events panes, live deltas, filter, freeze, zoom, banners, help."""

from __future__ import annotations

import html
import re
import time

import pytest

from test_ui_fakes import NOW, FakeSession, event, fill, make_session, pod
from tui.app import LookoutApp
from tui.kube.store import SourceHealth
from widgets.help import HelpScreen
from widgets.table import GroupHeader

SIZE_WIDE = (120, 40)
SIZE_SMALL = (80, 24)


def screen_text(app: LookoutApp) -> str:
    """The visible screen as text (from the SVG export), for `in` checks."""
    svg = app.export_screenshot()
    parts = re.findall(r"<text [^>]*>(.*?)</text>", svg)
    return html.unescape("".join(parts)).replace("\xa0", " ")


def table_lines(table) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def row_line(table, key) -> str:
    i = table._index[key]
    return table.render_line(i + 1 - int(table.scroll_y)).text


def title(pane) -> str:
    return pane._title_cache


async def test_pods_grouped_by_track_with_counts():
    app = LookoutApp(make_session(), clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        table = app.query_one("#pod-table")
        display = table._display
        assert display[0] == GroupHeader("stable")
        assert display[9] == GroupHeader("canary")
        names = [k[1] for k in display if not isinstance(k, GroupHeader)]
        assert names[:8] == sorted(names[:8]) and all("stable" in n for n in names[:8])
        assert all("canary" in n for n in names[8:])
        t = title(app.pods_pane)
        assert "pods · live · 11 pods · stable 8 · canary 3 · 0 not ready" in t
        lines = table_lines(table)
        assert lines[0].split()[:4] == ["NAME", "TRACK", "STATUS", "READY"]
        assert "▾ stable · 8 pods" in lines[1]
        assert "checkout-stable-00" in lines[2] and "✓ Running" in lines[2] and "1h" in lines[2]


async def test_crashloop_delta_updates_that_row_only():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        table = app.query_one("#pod-table")
        key = ("shop", "checkout-canary-01")
        versions = dict(table._versions)
        before = table.repaints
        t0 = time.perf_counter()
        s.store.apply("pods", "MODIFIED", [pod("checkout-canary-01", "canary", created=NOW - 91, rv=2,
                                               restarts=4, waiting=("CrashLoopBackOff", "back-off 40s"))])
        while table.rows[key].status != "CrashLoopBackOff" and time.perf_counter() - t0 < 2:
            await pilot.pause(0.005)
        print(f"\nstore delta -> row updated in {1000 * (time.perf_counter() - t0):.0f} ms")
        await pilot.pause()
        painted = table.repaints - before
        line = row_line(table, key)
        assert "✗ CrashLoopBackOff" in line and "0/1" in line
        changed = {k for k, v in table._versions.items() if versions.get(k) != v}
        assert changed == {key}
        # the row and the two visible group headers (their not-ready counts), nothing else
        assert painted <= 3
        assert "1 not ready" in title(app.pods_pane)
        assert "▾ canary · 3 pods · 1 not ready" in table_lines(table)[10]


async def test_deltas_are_coalesced_into_one_batch():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause(0.1)
        flushes = app.flushes
        for i in range(200):
            s.store.apply("pods", "MODIFIED", [pod(f"checkout-stable-{i % 8:02d}", created=NOW - 3600 - i % 8,
                                                   rv=10 + i, restarts=i)])
        await pilot.pause(0.15)
        assert app.flushes - flushes == 1
        assert app.query_one("#pod-table").rows[("shop", "checkout-stable-07")].restarts == 199


async def test_off_screen_change_repaints_nothing():
    s = FakeSession()
    s.store.apply("pods", "ADDED", [pod(f"p-{i:04d}") for i in range(500)])
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        table = app.query_one("#pod-table")
        before = table.repaints
        s.store.apply("pods", "MODIFIED", [pod("p-0400", rv=2, restarts=3)])
        await pilot.pause(0.1)
        assert table.rows[("shop", "p-0400")].restarts == 3
        assert table.repaints == before


async def test_cursor_and_scroll_survive_inserts_above():
    s = FakeSession()
    s.store.apply("pods", "ADDED", [pod(f"p-{i:04d}") for i in range(300, 600)])
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        table = app.query_one("#pod-table")
        for _ in range(3):
            await pilot.press("pagedown")
        await pilot.press("j", "j")
        key = table.cursor_key
        offset = table.cursor - int(table.scroll_y)
        s.store.apply("pods", "ADDED", [pod(f"p-{i:04d}") for i in range(100)])  # all sort above
        await pilot.pause(0.1)
        assert table.cursor_key == key
        assert table.cursor - int(table.scroll_y) == offset


async def test_filter_and_esc_clears():
    app = LookoutApp(make_session(), clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        table = app.query_one("#pod-table")
        await pilot.press("slash", *"canary")
        await pilot.pause()
        assert [k[1] for k in table.display_keys] == [f"checkout-canary-0{i}" for i in range(3)]
        assert 'filter "canary": 3 shown' in title(app.pods_pane)
        await pilot.press("enter")
        assert table.has_focus and table.filter == "canary"
        await pilot.press("slash")
        await pilot.press("escape")
        await pilot.pause()
        assert table.filter == "" and len(table.display_keys) == 11
        assert "filter" not in title(app.pods_pane)
        # by status too
        s: FakeSession = app.session
        s.store.apply("pods", "MODIFIED", [pod("checkout-stable-03", rv=5, waiting=("ImagePullBackOff", "no"))])
        await pilot.press("slash", *"imagepull", "enter")
        await pilot.pause(0.1)
        assert [k[1] for k in table.display_keys] == ["checkout-stable-03"]


async def test_freeze_holds_changes_and_resume_applies_them():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        table = app.query_one("#pod-table")
        await pilot.press("space")
        assert app.frozen
        s.store.apply("pods", "MODIFIED", [pod("checkout-canary-00", "canary", created=NOW - 90, rv=2,
                                               waiting=("CrashLoopBackOff", "x"))])
        s.store.apply("pods", "ADDED", [pod("checkout-canary-09", "canary")])
        await pilot.pause(0.1)
        assert table.rows[("shop", "checkout-canary-00")].status == "Running"
        assert ("shop", "checkout-canary-09") not in table.rows
        assert "FROZEN — 2 changes waiting — space to resume" in screen_text(app)
        await pilot.press("space")
        await pilot.pause(0.1)
        assert not app.frozen
        assert table.rows[("shop", "checkout-canary-00")].status == "CrashLoopBackOff"
        assert ("shop", "checkout-canary-09") in table.rows
        assert "FROZEN" not in screen_text(app)


async def test_events_newest_first_warnings_marked_and_bounded():
    s = FakeSession()
    s.store.apply("events", "ADDED", [event(f"e{i}", last=NOW - i, reason=f"R{i}") for i in range(20)])
    s.store.apply("events", "ADDED", [event("bad", type_="Warning", reason="BackOff",
                                            message="Back-off restarting failed container", last=NOW - 5.5)])
    app = LookoutApp(s, clock=lambda: NOW, events_buffer=10)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        table = app.query_one("#event-table")
        assert len(table.rows) == 10
        names = [k[1] for k in table.display_keys]
        assert names[:7] == ["e0", "e1", "e2", "e3", "e4", "e5", "bad"]
        line = row_line(table, ("shop", "bad"))
        assert "⚠ Warning" in line and "BackOff" in line and "Back-off" in line
        assert "10 events · 1 warning" in title(app.events_pane)
        s.store.apply("events", "ADDED", [event("newest", last=NOW + 1)])
        await pilot.pause(0.1)
        assert len(table.rows) == 10 and table.display_keys[0] == ("shop", "newest")
        assert ("shop", "e9") not in table.rows


async def test_zoom_and_back():
    app = LookoutApp(make_session(), clock=lambda: NOW)
    async with app.run_test(size=SIZE_SMALL) as pilot:
        await pilot.pause()
        app.query_one("#event-table").focus()
        await pilot.press("z")
        await pilot.pause()
        assert app.zoomed is app.events_pane
        assert not app.pods_pane.display or app.pods_pane.region.height == 0
        assert app.events_pane.region.height >= 15
        await pilot.press("escape")
        await pilot.pause()
        assert app.zoomed is None and app.pods_pane.region.height > 0
        # the canary-vs-stable pane zooms too, and then shows its whole table instead of one line
        app.query_one("#compare-body").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.zoomed is app.query_one("#compare")
        assert "verdict" in screen_text(app)
        await pilot.press("z")
        await pilot.pause()
        assert app.zoomed is None


async def test_hidden_pane_catches_up_when_shown():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        app.query_one("#event-table").focus()
        await pilot.press("z")
        await pilot.pause()
        s.store.apply("pods", "ADDED", [pod("checkout-canary-07", "canary")])
        await pilot.pause(0.1)
        table = app.query_one("#pod-table")
        assert ("shop", "checkout-canary-07") not in table.rows and app.pods_pane.waiting == 1
        await pilot.press("z")
        await pilot.pause(0.1)
        assert ("shop", "checkout-canary-07") in table.rows


async def test_help_lists_every_key_and_demo_kubeconfig():
    app = LookoutApp(make_session(), clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        from widgets.keys import key_rows

        assert "KUBECONFIG=/tmp/lookout-demo/kubeconfig kubectl get pods" in text
        help_text = str(app.screen.query_one("#help-text").render())
        for r in key_rows():  # every declared key, with what it does
            assert r.keys in help_text and r.does in help_text, r
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_lists_lookout_actions():
    app = LookoutApp(make_session(), clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for t in ("Freeze / resume", "Zoom pane", "Logs", "Track logs", "Describe", "YAML", "Command bar",
                  "Lookout keys", "Next pane", "Findings", "PromQL of the selected figure", "Go to DNS / endpoints"):
            assert t in titles, (t, titles)
        assert "Change theme" not in titles  # Textual's own commands are not Lookout's


async def test_header_health_findings():
    from test_ui_fakes import Summary  # noqa: F401

    class F:
        def __init__(self, code, severity, track, summary):
            self.code, self.severity, self.track, self.summary = code, severity, track, summary
            self.evidence, self.objects = (), ()

    s = make_session()
    s.found = [F("track-restarts", "warning", "canary", "restarts rising in canary only"),
               F("track-pods-failing", "critical", "canary", "1 pod in CrashLoopBackOff")]
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "DEMO" in text and "lookout-demo/shop/checkout" in text
        assert "Progressing" in text and "step 2/5" in text and "weight 20%" in text and "● connected" in text
        # the critical pods finding makes the pods cell critical (one assessment: matrix and strip agree)
        assert "pods ✗ critical" in text and "metrics … waiting" in text and "rollout ? n/a" in text
        crit = text.index("✗ CRITICAL")
        warn = text.index("! WARNING")
        assert crit < warn  # most severe first


async def test_connection_lost_banner_and_staleness():
    s = make_session()
    clock = {"t": NOW}
    s.clock = lambda: clock["t"]
    app = LookoutApp(s, clock=lambda: clock["t"])
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause(0.1)
        assert "pods · live" in title(app.pods_pane)
        s.connection.ok = False
        s.connection.since = NOW - 12
        s.connection.error = "connect ECONNREFUSED [bold]127.0.0.1[/bold]"
        s.store.set_health(SourceHealth(source="pods/shop", kind="pods", connected=False, synced=True,
                                        last_event=NOW - 12, error="connection refused"))
        await pilot.pause(0.4)
        text = screen_text(app)
        assert "✗ CONNECTION LOST 12s ago: connect ECONNREFUSED [bold]127.0.0.1[/bold]" in text
        assert "pods · stale 12s: connection refused" in title(app.pods_pane)
        assert "events · live" in title(app.events_pane)
        clock["t"] = NOW + 2
        await pilot.pause(1.2)  # staleness ticks each second while shown in seconds
        assert "stale 14s" in title(app.pods_pane)
        s.connection.ok = True
        s.store.set_health(SourceHealth(source="pods/shop", kind="pods", connected=True, synced=True,
                                        last_event=NOW + 2))
        await pilot.pause(0.4)
        assert "CONNECTION LOST" not in screen_text(app)
        assert "pods · live" in title(app.pods_pane)


async def test_ages_tick_only_when_shown_text_changes():
    s = FakeSession()
    s.store.apply("pods", "ADDED", [pod("young", created=NOW - 10), pod("old", created=NOW - 7200)])
    clock = {"t": NOW}
    app = LookoutApp(s, clock=lambda: clock["t"])
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        table = app.query_one("#pod-table")
        assert "10s" in row_line(table, ("shop", "young")).split()
        clock["t"] = NOW + 3
        await pilot.pause(1.1)
        assert "13s" in row_line(table, ("shop", "young"))
        assert table._tick_timer is not None  # seconds are shown: the next tick is armed
        s.store.apply("pods", "DELETED", [pod("young")])
        await pilot.pause(1.2)
        # only minute-or-coarser ages left: the next tick is at least many seconds away
        assert table._tick_deadline is None or table._tick_deadline - clock["t"] > 30


async def test_command_bar_switch_and_errors():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        await pilot.press("colon", *"ns other", "enter")
        await pilot.pause(0.1)
        assert s.switches[-1] == ("other", None, None)
        await pilot.press("colon", *"ns nope", "enter")
        await pilot.pause(0.1)
        msgs = [n.message for n in app._notifications]
        assert any("namespace [bold]nope[/bold] not found" in m for m in msgs)
        await pilot.press("colon", *"bogus", "enter")
        await pilot.pause(0.1)
        assert any("unknown command :bogus" in n.message for n in app._notifications)
        await pilot.press("colon", *"rollout web", "enter")
        await pilot.pause(0.1)
        assert s.switches[-1] == (None, None, "web")
        await pilot.press("colon", *"events", "enter")
        await pilot.pause()
        assert app.query_one("#event-table").has_focus
        await pilot.press("colon", "q", "enter")
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_key_stops_session():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        assert s.started
        await pilot.press("q")
        await pilot.pause()
    assert s.stopped


@pytest.mark.parametrize("size", [SIZE_SMALL, SIZE_WIDE])
async def test_layout_fits(size):
    app = LookoutApp(make_session(), clock=lambda: NOW)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        pods = app.pods_pane.region
        events = app.events_pane.region
        assert pods.height >= 7 and events.height >= 5
        text = screen_text(app)
        assert "checkout-stable-00" in text and "ev-0" not in text  # event names are not shown, objects are
        assert "canary vs stable" in text and "DNS / endpoints" in text or "DNS/endpoints" in text


async def test_ten_thousand_rows_first_paint():
    empty = LookoutApp(FakeSession(), clock=lambda: NOW)
    t0 = time.perf_counter()
    async with empty.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        baseline = time.perf_counter() - t0
    s = FakeSession()
    s.store.apply("pods", "ADDED", [
        pod(f"checkout-{'canary' if i % 10 == 0 else 'stable'}-{i:05d}", "canary" if i % 10 == 0 else "stable")
        for i in range(10_000)])
    app = LookoutApp(s, clock=lambda: NOW)
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        elapsed = time.perf_counter() - t0
        table = app.query_one("#pod-table")
        print(f"\n10,000 pods: mount to first paint {elapsed * 1000:.0f} ms "
              f"(the same app with no pods: {baseline * 1000:.0f} ms), {table.repaints} row lines rendered")
        assert len(table.rows) == 10_000
        assert "10000 pods · stable 9000 · canary 1000 · 0 not ready" in title(app.pods_pane)
        assert "checkout-stable-00001" in screen_text(app)
        assert table.repaints < 200  # only the visible rows were laid out
        await pilot.press("end")
        await pilot.pause()
        assert "checkout-canary-09990" in screen_text(app)


async def test_idle_app_stops_recomputing_status():
    s = make_session()
    calls = {"n": 0}
    findings = s.findings

    def counting():
        calls["n"] += 1
        return findings()

    s.findings = counting
    app = LookoutApp(s, clock=lambda: NOW)
    app.settle_seconds = 0.5
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause(2.0)
        assert app._status_timer is None  # settled: nothing is scheduled
        n = calls["n"]
        await pilot.pause(1.5)
        assert calls["n"] == n  # and nothing runs
        s.store.apply("pods", "MODIFIED", [pod("checkout-stable-00", created=NOW - 3600, rv=9, restarts=1)])
        await pilot.pause(0.5)
        assert calls["n"] > n  # a change wakes it


async def test_exits_when_stdin_is_not_a_terminal():
    app = LookoutApp(make_session(), clock=lambda: NOW, check_tty=True)
    app.tty_check_seconds = 0.2
    async with app.run_test(size=SIZE_WIDE) as pilot:  # pytest's stdin is not a TTY
        await pilot.pause(0.6)
    assert app.return_code == 0 and app.session.stopped


async def test_panes_catch_up_after_a_drill_down():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause(0.1)
        s.store.apply("pods", "ADDED", [pod("checkout-canary-05", "canary")])
        await pilot.pause(0.1)
        table = app.query_one("#pod-table")
        assert ("shop", "checkout-canary-05") not in table.rows  # not drawn behind the YAML screen
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert ("shop", "checkout-canary-05") in table.rows


async def test_logs_from_events_pane_follow_the_events_pod():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        events = app.query_one("#event-table")
        events.focus()
        events.move_cursor(events._index[("shop", "ev-1")])  # about checkout-canary-01
        await pilot.press("l")
        await pilot.pause(0.1)
        assert "shop/checkout-canary-01" in screen_text(app)
