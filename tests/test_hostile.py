"""One hostile corpus through every output path: both CLIs (stdout, stderr, --json), the TUI's start-up errors,
panes, describe, YAML, logs. Nothing executable reaches a terminal, bidi controls and invisible characters in
identifiers are shown, URL passwords are masked."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from aiohttp import web

from e2e_support import demo_cluster
from test_ui_fakes import NOW, event, make_session, pod
from test_ui_main import SIZE_WIDE, row_line, screen_text
from tui.app import LookoutApp
from tui.textsafe import clean, clean_ident, clean_line, mask_url

# clipboard write, window title, clear screen, full reset, 8-bit CSI, bidi override and isolate, zero-width
# space, markup that must stay literal
CLIPBOARD = "\x1b]52;c;UFdORUQ=\x07"
TITLE = "\x1b]2;pwned-title\x07"
HOSTILE = (f"{CLIPBOARD}{TITLE}\x1b[2J\x1bc\x9b31m" "evil\u202egnp.exe\u2066x\u2069 zero\u200bwidth "
           "[bold]markup[/bold] [@click=app.quit]q[/]")
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def assert_safe(data: bytes | str, where: str = "") -> str:
    """Raw output: no ESC, BEL, C1 or bidi control; returns the text."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    assert "\x1b" not in text and "\x07" not in text, where
    assert not any(0x80 <= ord(c) <= 0x9f for c in text), where
    assert not BIDI.search(text), where
    return text


# ---- the sanitiser ---------------------------------------------------------------------------------

def test_bidi_is_escaped_in_all_text_and_invisibles_in_identifiers():
    assert clean("a\u202eb") == "a<U+202E>b" and clean_line("x\u2066y\u2069") == "x<U+2066>y<U+2069>"
    assert clean_ident("checkout\u200b") == "checkout<U+200B>" != "checkout"
    assert clean_ident("a\ufeffb\u00adc\u2060d") == "a<U+FEFF>b<U+00AD>c<U+2060>d"
    family = "👩\u200d👩\u200d👧"  # emoji joined by ZWJ; scripts need ZWNJ
    assert clean_line(family) == family and clean_line("می\u200cخواهم") == "می\u200cخواهم"
    assert clean_ident(family) != family  # in a name, a joiner is shown
    out = clean_line(HOSTILE)
    assert_safe(out)
    assert "[bold]markup[/bold]" in out and "evil<U+202E>gnp.exe" in out
    assert clean_line("ünïcødé ✓ 日本") == "ünïcødé ✓ 日本" and clean_ident("日本") == "日本"


@pytest.mark.parametrize("url,shown", [
    ("http://user:pass@host:9090", "http://user:***@host:9090"),
    ("https://u:p%40ss@prom.example/x?y=1", "https://u:***@prom.example/x?y=1"),
    ("http://user@host", "http://user@host"),
    ("https://ghp_0123456789abcdefghijklmn@host", "https://***@host"),
    ("http://host:9090", "http://host:9090"),
    ("failed: GET http://a:b@h/ and socks5://c:d@p:1", "failed: GET http://a:***@h/ and socks5://c:***@p:1"),
])
def test_mask_url(url, shown):
    assert mask_url(url) == shown


# ---- CLIs against a hostile API server ---------------------------------------------------------------

def _hostile_status(code: int) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": "Unauthorized" + HOSTILE, "message": "denied " + HOSTILE}


async def _hostile_server(mode: str):
    async def handle(request: web.Request):
        if mode == "401":
            return web.json_response(_hostile_status(401), status=401)
        if request.path == "/version":
            return web.json_response({"major": "1", "minor": "30", "gitVersion": "v1.30.0"})
        return web.json_response(_hostile_status(500), status=500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


def _kubeconfig(tmp_path, server: str, user: dict | None = None) -> str:
    d = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
         "clusters": [{"name": "c", "cluster": {"server": server}}],
         "users": [{"name": "u", "user": user or {"token": "t"}}],
         "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}]}
    p = tmp_path / "kubeconfig"
    p.write_text(yaml.safe_dump(d))
    return str(p)


def _lookout(*args: str, home: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, timeout=60,
                          env={**os.environ, "HOME": home}, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("mode", ["401", "500"])
async def test_api_server_error_text_reaches_stderr_clean(tmp_path, mode):
    runner, url = await _hostile_server(mode)
    try:
        kc = _kubeconfig(tmp_path, url)
        for command in (["status"], ["status", "--json"], []):  # `lookout` fails before its screen opens
            p = await asyncio.to_thread(_lookout, *command, "--kubeconfig", kc, "--app", "checkout",
                                        home=str(tmp_path))
            assert p.returncode in (3, 4), p
            err = assert_safe(p.stderr, f"{command} stderr")
            assert_safe(p.stdout, f"{command} stdout")
            assert "denied" in err and "[bold]markup[/bold]" in err and err.count("\n") == 1, err
            assert "<U+202E>" in err
    finally:
        await runner.cleanup()


async def test_exec_plugin_stderr_reaches_stderr_clean(tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(f"import sys\nsys.stderr.write({('starting' + chr(10) + 'fatal: ' + HOSTILE + chr(10))!r})\n"
                      "sys.exit(1)\n")
    kc = _kubeconfig(tmp_path, "https://127.0.0.1:9", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": [str(plugin)]}})
    for command in (["status"], []):
        p = await asyncio.to_thread(_lookout, *command, "--kubeconfig", kc, home=str(tmp_path))
        err = assert_safe(p.stderr, f"{command} stderr")
        assert p.returncode in (3, 4) and "failed with exit code 1: fatal:" in err and err.count("\n") == 1, err


async def test_prometheus_password_is_never_printed(tmp_path):
    async with demo_cluster(scenario="healthy-canary", speed=5) as cluster:
        prom = "http://alice:s3cr3t-pw@127.0.0.1:9/"
        for extra in ([], ["--json"]):
            p = await asyncio.to_thread(_lookout, "status", "--kubeconfig", cluster.kubeconfig_path,
                                        "--prometheus", prom, *extra, home=str(tmp_path))
            out = assert_safe(p.stdout) + assert_safe(p.stderr)
            assert "s3cr3t" not in out, out
            assert "alice:***@127.0.0.1:9" in out
            if extra:
                doc = json.loads(p.stdout)
                assert doc["metrics"]["source"] == "prometheus http://alice:***@127.0.0.1:9"
    from tui.metrics.prometheus import PrometheusSource

    src = PrometheusSource(prom)
    assert src.label == "prometheus http://alice:***@127.0.0.1:9" and src.url.startswith("http://alice:s3cr3t")


# ---- the TUI ---------------------------------------------------------------------------------------

NAME = "checkout\u200b"  # looks like checkout


def _hostile_session():
    s = make_session()
    s.target.context = "ctx" + HOSTILE
    s.target.namespace = "shop"
    s.store.apply("pods", "ADDED", [pod(NAME, "canary", waiting=("CrashLoopBackOff", "msg " + HOSTILE),
                                        annotations={"note": HOSTILE}, node="node\u202e1")])
    s.store.apply("events", "ADDED", [
        event("hostile-ev", obj=NAME, type_="Warning", reason="Reason" + HOSTILE, message="message " + HOSTILE,
              last=NOW),
        event("rs-ev", obj="checkout-7d9c\u200b", kind="ReplicaSet", reason="ScalingReplicaSet",
              message="Scaled " + HOSTILE, last=NOW - 1)])
    s.log_lines[(NAME, False)] = ["log " + HOSTILE, TITLE + CLIPBOARD + "after"]

    class F:
        code, severity, track, summary = "x", "critical", "canary", "finding " + HOSTILE
        evidence, objects = (), ()

    s.found = [F()]
    return s


async def test_hostile_corpus_through_every_pane_and_drill_down():
    s = _hostile_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.3)
        main = assert_safe(screen_text(app), "main screen")
        assert "checkout<U+200B>" in main and "finding" in main
        table = app.query_one("#pod-table")
        table.focus()
        table.move_cursor(table._index[("shop", NAME)])
        await pilot.pause()
        for key in ("d", "y", "l"):
            await pilot.press(key)
            await pilot.pause(0.3)
            widget = app.screen.query_one("#text")
            text = assert_safe("\n".join(widget.lines), key)
            assert_safe(screen_text(app), key)
            assert "<U+202E>" in text or key == "l"
            if key == "d":
                assert "Node:           node<U+202E>1" in text and "Name:           checkout<U+200B>" in text
            await pilot.press("escape")
            await pilot.pause(0.1)
        await pilot.press("L")
        await pilot.pause(0.3)
        assert_safe(screen_text(app), "track logs")
        await pilot.press("escape")
        await pilot.pause(0.1)
        # a non-pod event: describe shows the Event itself
        events = app.query_one("#event-table")
        events.focus()
        events.move_cursor(events._index[("shop", "rs-ev")])
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause(0.3)
        text = assert_safe("\n".join(app.screen.query_one("#text").lines), "event describe")
        assert "ReplicaSet/checkout-7d9c<U+200B> in shop" in text and "Scaled" in text
        assert app.is_running


# ---- drill-downs on malformed objects -------------------------------------------------------------

async def test_malformed_objects_render_or_say_why_never_loading_forever():
    s = make_session()
    bad_pod = pod("weird", "canary")
    bad_pod["spec"]["containers"][0]["ports"] = ["x"]
    bad_pod["status"]["containerStatuses"][0]["state"] = "running-ish"
    s.store.apply("pods", "ADDED", [bad_pod])
    broken = pod("broken", "canary")
    s.store.apply("pods", "ADDED", [broken])
    s.full_objects[("pods", "shop", "broken")] = {"kind": "Pod", "metadata": "x"}
    ev = event("many", obj="checkout", kind="Deployment", reason="ScalingReplicaSet", message="m", last=NOW - 2)
    ev["count"] = "many"
    future = event("future", obj="checkout", kind="Deployment", reason="FromTheFuture", message="f",
                   last=NOW + 3 * 365 * 86400 + 3600)
    s.store.apply("events", "ADDED", [ev, future])
    now = [NOW]
    app = LookoutApp(s, clock=lambda: now[0])
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause(0.2)
        table = app.query_one("#pod-table")
        for name, expected in (("weird", ["x (not a port)", "running-ish (not a state object)"]),
                               ("broken", ["could not render this Pod: metadata is not an object"])):
            table.focus()
            table.move_cursor(table._index[("shop", name)])
            await pilot.pause()
            await pilot.press("d")
            await pilot.pause(0.3)
            text = "\n".join(app.screen.query_one("#text").lines)
            assert "loading…" not in text and all(e in text for e in expected), text
            await pilot.press("escape")
            await pilot.pause(0.1)
        events = app.query_one("#event-table")
        events.focus()
        await pilot.press("z")  # zoomed, the pane is wide enough for its full AGE column
        await pilot.pause(0.2)
        # the future event reads "in 3y" and sorts as of its arrival (now), not years above everything
        assert "in 3y" in row_line(events, ("shop", "future")), row_line(events, ("shop", "future"))
        keys = events.display_keys
        assert keys.index(("shop", "future")) < keys.index(("shop", "many"))  # arrived now, "many" 2 s ago
        now[0] = NOW + 120
        s.store.apply("events", "ADDED", [event("later", obj="checkout", kind="Deployment", last=NOW + 100)])
        await pilot.pause(0.2)
        keys = events.display_keys
        assert keys.index(("shop", "later")) < keys.index(("shop", "future"))  # newer than the future one's arrival
        await pilot.press("z")
        await pilot.pause(0.1)
        events.move_cursor(events._index[("shop", "many")])
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause(0.3)
        text = "\n".join(app.screen.query_one("#text").lines)
        for want in ("Type:           Normal", "Reason:         ScalingReplicaSet", "Message:        m",
                     "Count:          many (not a number)", "Source:         kubelet",
                     "Involved Object: Deployment/checkout in shop"):
            assert want in text, text


# ---- the demo cluster's JSON patch test op ---------------------------------------------------------

def test_json_patch_test_op_compares_as_json():
    from tui.demo.patch import PatchError, json_patch

    doc = {"spec": {"replicas": 1, "paused": True, "ports": [{"port": 80}], "name": "1"}}
    assert json_patch(doc, [{"op": "test", "path": "/spec/replicas", "value": 1.0}])
    assert json_patch(doc, [{"op": "test", "path": "/spec/ports", "value": [{"port": 80}]}])
    for path, value in (("/spec/paused", 1), ("/spec/replicas", True), ("/spec/name", 1), ("/spec/replicas", "1"),
                        ("/spec/ports", [{"port": 80.5}])):
        with pytest.raises(PatchError, match="testing value"):
            json_patch(doc, [{"op": "test", "path": path, "value": value}])


async def test_json_patch_test_op_over_http():
    from tui.kube.client import ApiError, KubeClient
    from tui.kube.config import load_target

    async with demo_cluster(scenario="healthy-canary") as cluster:
        async with KubeClient(load_target(cluster.kubeconfig_path)) as client:
            cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags", "namespace": "demo"},
                  "data": {"x": "1"}}
            await client.request("POST", "/api/v1/namespaces/demo/configmaps", json=cm)
            path = "/api/v1/namespaces/demo/configmaps/flags"
            ok = [{"op": "test", "path": "/data/x", "value": "1"}, {"op": "add", "path": "/data/y", "value": "2"}]
            assert (await client.request("PATCH", path, json=ok, content_type="application/json-patch+json")
                    )["data"]["y"] == "2"
            bad = [{"op": "test", "path": "/data/x", "value": 1}, {"op": "add", "path": "/data/z", "value": "3"}]
            with pytest.raises(ApiError):
                await client.request("PATCH", path, json=bad, content_type="application/json-patch+json")
            assert "z" not in (await client.get_json(path))["data"]


# ---- in-app input, banners and the status report ---------------------------------------------------

async def test_in_app_ns_and_ctx_refuse_bad_names_in_place_and_banner_is_clean():
    s = make_session()
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=SIZE_WIDE) as pilot:
        await pilot.pause()
        from widgets.command import CommandBar

        for typed, words in (("ns ../../x", "is not a valid namespace name: it must be an RFC 1123 label"),
                             ("ns $(reboot)", "RFC 1123 label"),
                             ("ctx prod\x1b]2;t\x07", "contains control or invisible characters"),
                             ("ctx prod\u202e", "contains control or invisible characters")):
            await pilot.press("colon")
            await pilot.pause()
            app.query_one(CommandBar).value = typed  # pasted: keys cannot carry ESC
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert any(words in n.message for n in app._notifications), [n.message for n in app._notifications]
        assert s.switches == []  # nothing reached the session
        s.connection.ok = False
        s.connection.error = "lost: " + HOSTILE
        await pilot.pause(1.2)
        text = assert_safe(screen_text(app), "banner")
        assert "CONNECTION LOST" in text and "lost: " in text


def test_status_report_text_and_json_are_clean():
    from types import SimpleNamespace as NS

    from tui.status import build_report, render_text

    session = NS(choice=NS(target=NS(kind="Rollout", name="checkout\u200b", namespace="shop"), namespace="shop"),
                 kube_target=NS(context="ctx" + HOSTILE))
    figures = dict.fromkeys(("request_rate_rps", "error_ratio", "latency_p50_s", "latency_p95_s", "latency_p99_s",
                             "restarts", "cpu_cores", "memory_bytes"))
    state = NS(tracks=[NS(name="canary", role="candidate", pods=["pod\u202e1"], **figures)],
               verdict=NS(decision="no-data", reasons=[NS(code="prometheus-unreachable",
                                                          text="Prometheus at http://u:pw@h did not answer " + HOSTILE,
                                                          values=(), promql="up")]),
               promql={"error_ratio": "x"}, age=None, deltas={})
    finding = NS(code="x", severity="warning", track="canary", summary="finding " + HOSTILE,
                 evidence=(("Pod/pod\u200b1 message", HOSTILE), ("url", "http://u:pw@h")))
    assessment = NS(compare=state, summary=NS(phase="Progressing" + HOSTILE), verdict=state.verdict,
                    findings=[finding], outcome=NS(controller="argo-rollouts", state="degraded",
                                                   message="aborted: " + HOSTILE),
                    cells=[NS(name="pods", level="critical", word="critical", detail="pod\u200b1 " + HOSTILE)],
                    roles=NS(baseline="stable", candidate="canary", standby=(), why="labels " + HOSTILE),
                    staleness=[NS(source="pods", state="live", age=1.0, detail=HOSTILE)], exit_code=1)
    report = build_report(session, assessment, "prometheus http://u:***@h")
    for out in (render_text(report), json.dumps(report, ensure_ascii=False)):
        assert_safe(out)
        assert "pw@" not in out and "u:***@h" in out
        assert "checkout<U+200B>" in out and "pod<U+200B>1" in out
    assert report["tracks"][0]["pods"] == ["pod<U+202E>1"]


def test_terminal_title_bytes_are_clean():
    """What set_terminal_title writes to the terminal: one OSC 2 of ours, nothing of theirs."""
    from types import SimpleNamespace as NS

    written: list[str] = []
    fake = NS(_driver=NS(write=written.append), is_headless=False, terminal_title=None)
    LookoutApp.set_terminal_title(fake, "ROLLBACK · checkout\u200b " + HOSTILE)
    (raw,) = written
    assert raw.startswith("\x1b]2;") and raw.endswith("\x07")
    assert_safe(raw[4:-1], "title")
    assert "<U+202E>" in raw[4:-1]


async def test_malformed_pods_and_events_from_the_server_do_not_break_the_app():
    """kube-apiserver validates types; a hostile one does not. Wrongly-typed fields are dropped on arrival
    (tui.kube.slim's shape guard), so rows, findings and the assessment keep working."""
    from e2e_support import open_session, until

    async with demo_cluster(scenario="healthy-canary", speed=5) as cluster:
        session = await open_session(cluster)
        app = LookoutApp(session)
        async with app.run_test(size=SIZE_WIDE) as pilot:
            pods = app.pods_pane.table
            await until(pilot, lambda: len(pods.rows) > 0, timeout=15, what="pods")
            ns, name = next(iter(pods.rows))

            def bad(p):
                cs = p["status"]["containerStatuses"][0]
                cs["state"], cs["restartCount"], cs["lastState"] = "weird", "many", {"terminated": "x"}
                p["status"]["conditions"] = ["Ready"]
                p["spec"]["containers"][0]["ports"] = ["x"]
                p["metadata"]["labels"]["evil"] = 5

            cluster.state.mutate("pods", ns, name, bad)
            cluster.state.create({"apiVersion": "v1", "kind": "Event",
                                  "metadata": {"name": "bad-ev", "namespace": ns}, "involvedObject": "Pod/" + name,
                                  "reason": "Unhealthy", "message": ["x"], "count": "many", "type": 5})
            await until(pilot, lambda: session.store.get("events", ns, "bad-ev"), timeout=10, what="the event")
            stored = session.store.get("pods", ns, name)
            assert stored["status"]["containerStatuses"][0]["state"] == {}
            assert stored["status"]["containerStatuses"][0]["restartCount"] == 0
            assert session.store.get("events", ns, "bad-ev")["count"] is None
            assert session.pod_rows() and session.assess() is not None
            await pilot.pause(1.0)
            assert app.is_running and app.return_code is None
            assert_safe(screen_text(app))
