"""The incident log: the timeline written as it happens (one fsync'd JSON line per entry, one file per writer),
merged from two processes, survives SIGKILL, rendered as 004's report; and its keys in the app."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from assessment_support import Player
from tui.incident.log import Incident, IncidentError, load, read_entries
from tui.incident.recorder import Recorder
from tui.incident.report import render_markdown

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
PY = sys.executable


async def scripted_bad_canary(directory: Path) -> tuple[Incident, Player]:
    """bad-canary played whole on the demo clock, its assessments recorded; a note and two runbook steps (as the
    runbook runner records them) along the way."""
    p = await Player("bad-canary").start()
    try:
        inc = Incident.open(directory, severity="high", environment="lookout-demo", service="demo/checkout",
                            summary="canary p99 and 5xx up", author="sre-a@box", clock=p.clock)
        rec = Recorder(inc.record)
        rec.observe_connection(True, None, now=p.clock())
        seen_events = 0
        for t in range(1, 91):
            a = await p.step(1.0)
            rec.observe(a, now=p.clock())
            for ev in sorted(p.session.store.objects.get("events", {}).values(),
                             key=lambda e: (e.get("lastTimestamp") or "", (e.get("metadata") or {}).get("name", ""))):
                seen_events += rec.observe_event(ev, now=p.clock())
            if t == 30:
                inc.record("note", "p99 climbing on the canary; waiting for the analysis")
            if t == 60:
                inc.record("step", "kubectl argo rollouts get rollout checkout -n demo",
                           data={"argv": ["kubectl", "argo", "rollouts", "get", "rollout", "checkout", "-n", "demo"],
                                 "exit_code": 0, "duration_s": 0.4, "output": "Status: ✖ Degraded"})
            if t == 70:
                inc.record("confirmed", "abort confirmed for Rollout demo/checkout")
        return inc, p
    finally:
        await p.stop()


async def test_scripted_bad_canary_timeline_and_report(tmp_path):
    inc, p = await scripted_bad_canary(tmp_path / "inc-1")
    kinds = [e.kind for e in inc.entries]
    texts = [e.text for e in inc.entries]
    assert kinds[0] == "opened" and "HIGH" in texts[0] and "respond Urgent (< 15 min)" in texts[0]
    # the story in order: progressing, the verdict turns ROLLBACK with its numbers, the analysis fails, aborted
    def first(pred):
        return next(i for i, e in enumerate(inc.entries) if pred(e))

    i_rollback = first(lambda e: e.kind == "verdict" and e.data["decision"] == "rollback")
    i_aborted = first(lambda e: e.kind == "phase" and e.data["state"] == "aborted")
    i_note = first(lambda e: e.kind == "note")
    i_step = first(lambda e: e.kind == "step")
    assert i_note < i_step < i_aborted or i_note < i_step
    assert i_rollback < i_aborted or inc.entries[i_rollback].at <= inc.entries[i_aborted].at
    rb = inc.entries[i_rollback]
    assert rb.data["reasons"] and any(r["values"] for r in rb.data["reasons"]), rb
    assert any(e.kind == "finding-raised" for e in inc.entries)
    assert any(e.kind == "warning-event" for e in inc.entries)
    # every entry is on disk, one line each, in the order written
    on_disk, _, problems = read_entries(inc.path)
    assert not problems and [e.text for e in on_disk] == [e.text for e in inc.entries]
    # the report, checked against its expected Markdown (tests/fixtures/incident_report_bad_canary.md)
    meta, entries, problems = load(tmp_path / "inc-1")
    report = render_markdown(meta, entries)
    expected = (FIXTURES / "incident_report_bad_canary.md").read_text()
    if os.environ.get("LOOKOUT_UPDATE_GOLDEN"):
        (FIXTURES / "incident_report_bad_canary.md").write_text(report)
    assert report == expected


def test_writer_killed_loses_nothing_written(tmp_path):
    """SIGKILL after each entry was acknowledged: every acknowledged entry is on disk, whole."""
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from tui.incident.log import Incident
        inc = Incident.open({str(tmp_path / 'k')!r}, severity="critical", author="killed@box")
        for i in range(200):
            inc.record("note", f"entry {{i}}")
            print(i, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True)
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked == 120:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    files = list((tmp_path / "k").glob("*.jsonl"))
    assert len(files) == 1
    entries, _, problems = read_entries(files[0])
    notes = [e.text for e in entries if e.kind == "note"]
    assert not problems
    assert notes[: acked + 1] == [f"entry {i}" for i in range(acked + 1)]


def test_two_writers_one_incident_merged(tmp_path):
    d = tmp_path / "shared"
    a = Incident.open(d, severity="critical", summary="checkout down", author="alice@one")
    # a second process joins (its own file), notes, and reads alice's entries
    code = textwrap.dedent(f"""
        import sys, json
        sys.path.insert(0, {str(ROOT)!r})
        from tui.incident.log import Incident
        b = Incident.open({str(d)!r}, severity="low", author="bob@two")
        b.record("note", "bob: looking at the EndpointSlices")
        print(json.dumps([[e.author, e.kind, e.text] for e in b.entries]))
    """)
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=30, check=True).stdout
    seen_by_bob = json.loads(out)
    assert ["alice@one", "opened", seen_by_bob[0][2]] == seen_by_bob[0] and "CRITICAL" in seen_by_bob[0][2]
    assert [x[1] for x in seen_by_bob if x[0] == "bob@two"] == ["joined", "note"]
    # alice sees bob's entries on her next poll; meta stays the opener's (bob's severity did not overwrite it)
    new = a.poll()
    assert [e.text for e in new] == ["bob@two joined the incident", "bob: looking at the EndpointSlices"]
    assert a.meta.severity == "critical" and len(a.writers()) == 2
    a.record("note", "alice: selector typo found")
    meta, entries, _ = load(d)
    md = render_markdown(meta, entries)
    assert "[bob@two] note: bob: looking at the EndpointSlices" in md and "[alice@one] note: alice: selector" in md
    assert "Responders: alice@one, bob@two" in md


def test_hostile_text_and_bad_files(tmp_path):
    d = tmp_path / "h"
    inc = Incident.open(d, summary="x\x1b]52;c;UFdORUQ=\x07y", author="a@b")
    inc.record("note", "[red]markup[/red] \x1b[2J cleared?")
    raw = inc.path.read_text()
    assert "\x1b" not in raw and "\x07" not in raw and "[red]markup[/red]" in raw
    (d / "junk@x-1.jsonl").write_text('{"at": 1, "kind": "note", "text": "ok"}\nnot json\n{"half": ')
    got = inc.poll()
    assert [e.text for e in got] == ["ok"]
    assert any(p.endswith("junk@x-1.jsonl:2: skipped: Expecting value: line 1 column 1 (char 0)")
               for p in inc.problems), inc.problems
    with pytest.raises(IncidentError, match="severity 'urgent'"):
        Incident.open(tmp_path / "z", severity="urgent")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "incident.json").write_text("{\n  oops\n}")
    with pytest.raises(IncidentError, match=r"incident.json:2: not JSON"):
        load(tmp_path / "bad")


def test_cli_report(tmp_path):
    d = tmp_path / "c"
    inc = Incident.open(d, severity="medium", service="demo/checkout", author="a@b")
    inc.record("note", "hello")
    run = subprocess.run([PY, "-m", "tui.cli", "incident", "report", str(d)], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# Incident Report\n") and "note: hello" in run.stdout
    assert "## Root Cause" in run.stdout and "## Action Items" in run.stdout
    js = subprocess.run([PY, "-m", "tui.cli", "incident", "report", str(d), "--json"], capture_output=True,
                        text=True, timeout=60, cwd=ROOT)
    doc = json.loads(js.stdout)
    assert doc["incident"]["service"] == "demo/checkout" and [e["kind"] for e in doc["timeline"]] == ["opened", "note"]
    missing = subprocess.run([PY, "-m", "tui.cli", "incident", "report", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert missing.returncode == 4 and missing.stderr.count("\n") == 1 and "no incident here" in missing.stderr


# ---- in the app -----------------------------------------------------------------------------------
async def test_incident_keys_in_the_app(tmp_path):
    """I starts an incident through its form; the verdict and findings are recorded as they are; i writes a
    note; t shows the timeline and every key of it works; another process's entry shows up within seconds."""
    from test_snapshots import story_session
    from tui.app import LookoutApp
    from widgets.incident import IncidentForm, NoteForm, TimelineScreen
    from widgets.keys import EFFECTS, key_rows

    session = await story_session("aborted")
    app = LookoutApp(session, clock=session.clock, check_tty=False, incident_root=str(tmp_path))
    app.incident_poll_seconds = 0.5
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("I")
        await pilot.pause(0.2)
        assert isinstance(app.screen, IncidentForm)
        await pilot.press(*"canary 5xx", "enter")
        await pilot.pause(0.3)
        assert app.incident is not None and app.incident.meta.summary == "canary 5xx"
        app._refresh_status()
        kinds = [e.kind for e in app.incident.entries]
        assert kinds[0] == "opened" and "verdict" in kinds and "finding-raised" in kinds
        assert any(e.kind == "phase" and e.data["state"] == "aborted" for e in app.incident.entries)
        await pilot.press("i")
        await pilot.pause(0.2)
        assert isinstance(app.screen, NoteForm)
        await pilot.press(*"rolled back", "enter")
        await pilot.pause(0.2)
        assert app.incident.entries[-1].kind == "note" and app.incident.entries[-1].text == "rolled back"
        # another writer, another process
        code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tui.incident.log import Incident; "
                f"Incident.open({str(app.incident.directory)!r}, author='bob@two').record('note', 'bob here')")
        subprocess.run([PY, "-c", code], check=True, timeout=30)
        await pilot.press("t")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        for _ in range(20):
            if any(e.author == "bob@two" for e in screen._shown):
                break
            await pilot.pause(0.2)
        assert any(e.text == "bob here" for e in screen._shown), "the other writer's note did not show"
        # every key of the timeline, with its declared effect
        rows = [r for r in key_rows() if r.where == "incident timeline (t)"]
        assert {r.action for r in rows} == {"back", "filter", "open", "note", "cursor_down", "cursor_up"}
        for r in rows:
            if not isinstance(app.screen, TimelineScreen):
                while not isinstance(app.screen, TimelineScreen) and len(app.screen_stack) > 1:
                    app.pop_screen()
                    await pilot.pause(0.1)
                await pilot.press("t")
                await pilot.pause(0.2)
            tl = app.screen
            lst = tl.query_one("#timeline")
            if r.action == "cursor_up":
                lst.highlighted = len(tl._shown) - 1
            if r.action == "cursor_down":
                lst.highlighted = 0
            before = lst.highlighted
            if r.action == "open":  # an entry resting on no object: shown whole
                lst.highlighted = next(i for i, e in enumerate(tl._shown) if e.kind == "note")
            key = {"/": "slash", "esc": "escape"}.get(r.keys.split(" / ")[0], r.keys.split(" / ")[0])
            await pilot.press(key)
            await pilot.pause(0.2)
            kind, _, arg = EFFECTS[r.action].partition(":")
            if kind == "screen":
                assert type(app.screen).__name__ == arg, (r.action, type(app.screen).__name__)
            elif kind == "shown":
                assert tl.query_one(arg).display
                await pilot.press(*"note")
                await pilot.pause(0.1)
                assert tl._shown and all("note" in (e.kind + e.text + e.author) for e in tl._shown)
                await pilot.press("escape")
            elif kind == "main":
                assert not isinstance(app.screen, TimelineScreen)
            elif kind == "cursor":
                assert lst.highlighted == before + (1 if r.action == "cursor_down" else -1), r.action
        assert app.is_running
