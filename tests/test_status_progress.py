"""`lookout status`'s text output says the controller's progress, line for line what the app's rollout strip says.

The demo scenarios are played on the demo cluster's own controllers and a hand-moved clock
(tests/assessment_support.py Player); the report is built from the session's one assessment as `lookout status`
builds it (tui.status.build_report, then JSON, then render_text). One run goes through `lookout status` itself
against the demo cluster over HTTPS.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from assessment_support import Player
from test_status import cluster, fast_config, parse  # noqa: F401 - the fixture: a demo cluster in a thread
from tui.rollout import strip
from tui.status import build_report, progress_report, render_text, run_status
from widgets.progress import RolloutStrip


def _play(scenario: str, times: tuple[int, ...], before=None) -> dict[int, tuple[object, str]]:
    """The assessment and `lookout status`'s text at each of `times` (scenario seconds)."""
    async def go():
        p = await Player(scenario).start()
        out = {}
        try:
            for t in times:
                a = await p.play(t)
                if before is not None:
                    a = before(p, t) or a
                report = json.loads(json.dumps(build_report(p.session, a, "direct scrape")))  # as --json prints it
                out[t] = (a, render_text(report))
        finally:
            await p.stop()
        return out

    return asyncio.new_event_loop().run_until_complete(go())


def section(text: str) -> list[str]:
    """The progress section of the text output: its first line starts `progress  `, the rest are indented."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("progress  "))
    out = [lines[start][10:]]
    for line in lines[start + 1:]:
        if not line.startswith(" " * 10):
            break
        out.append(line[10:])
    return out


def test_bad_canary_after_the_abort_names_the_failing_metric_with_its_values_and_condition():
    """bad-canary at 60 s: Argo aborted the update after the AnalysisRun's third failed measurement. The text
    output's progress section is the app's strip (120x40, unzoomed) line for line: phase, step 2/4 and its step
    list, weight, replicas, revisions with images, the failed run and its metric's values against its condition."""
    (a, text), = _play("bad-canary", (60,)).values()
    got = section(text)
    assert got == RolloutStrip.render_full(a.progress).plain.split("\n")  # the strip and status cannot disagree
    assert got[0].startswith("Argo Rollouts canary · ✗ Aborted · step 2/4") and "weight 0%" in got[0]
    assert got[1] == "steps ✓20% ▶‖1m30s ·50% ·‖1m"
    assert got[2] == "replicas desired 5 · updated 0 · ready 5 · available 5"
    assert any(line.startswith("rev 2 canary") and "registry.demo/checkout:1.5.0" in line for line in got)
    assert any(line.startswith("analysis checkout-error-rate-2 ✗ Failed") for line in got)
    assert "  ✗ error-rate [0.071] [0.103] [0.128] vs result[0] < 0.05 (failed 3 > failureLimit 2)" in got
    # the section sits between the outcome and the health line
    lines = text.splitlines()
    assert lines[1].startswith("outcome   aborted") and lines[2].startswith("progress  ")
    assert lines[2 + len(got)].startswith("health    ")


def test_healthy_canary_paused_says_the_pause_and_time_left_then_fully_promoted():
    got = _play("healthy-canary", (30, 90))
    paused, done = section(got[30][1]), section(got[90][1])
    assert paused[0].startswith("Argo Rollouts canary · ‖ Paused · step 4/6 · pause 20s · ")
    assert " left · weight 25%" in paused[0], paused[0]
    assert paused[1] == "steps ✓10% ✓‖20s ✓25% ▶‖20s ·50% ·‖promote"
    assert paused[2] == "replicas desired 5 · updated 1 · ready 5 · available 5"
    assert done[0].startswith("Argo Rollouts canary · ✓ Healthy · step 6/6 done · fully promoted"), done[0]
    for t in (30, 90):
        a, text = got[t]
        assert section(text) == RolloutStrip.render_full(a.progress).plain.split("\n")


def test_weight_desired_and_actual_differ_both_are_said():
    """The traffic router has not caught up: the Rollout's status.canary.weights says 10 % while the step asks
    for 25 % (Argo's RolloutStatus.Canary.Weights, pkg/apis/rollouts/v1alpha1/types.go)."""
    def lagging(p, t):
        def lag(ro):
            ro["status"].setdefault("canary", {})["weights"] = {"canary": {"weight": 10}, "stable": {"weight": 90}}

        p.state.mutate("rollouts", p.ns, "checkout", lag)
        p.sync()
        return p.session.assess()

    (a, text), = _play("healthy-canary", (30,), before=lagging).values()
    assert "weight 10% (desired 25%)" in section(text)[0]
    assert "weight 10% (desired 25%)" in RolloutStrip.render_compact(a.progress).plain


def test_flagger_podinfo_progressing_then_failed():
    """flagger-podinfo on the demo's Flagger: progressing at 30 % with failed checks counted against the threshold,
    then rolled back. The checks line says `failed checks N/5`, then `✗ rolled back (threshold 5)` (Flagger resets
    failedChecks as it rolls back: pkg/controller/scheduler.go rollback)."""
    got = _play("flagger-podinfo", (60, 120, 180))
    s60, s120, s180 = (section(got[t][1]) for t in (60, 120, 180))
    assert s60[0].startswith("Flagger canary · … Progressing · step 2/5 setWeight 20% · weight 20%"), s60[0]
    assert s60[1] == "steps ✓10% ▶20% ·30% ·40% ·50%"
    assert any(line.startswith("rev 1 primary") and "podinfo:6.0.0" in line for line in s60)
    assert any(line.startswith("rev 2 canary") and "podinfo:6.0.1" in line for line in s60)
    assert s120[0].startswith("Flagger canary · … Progressing · step 3/5 setWeight 30% · weight 30%"), s120[0]
    checks = next(line for line in s120 if line.startswith("analysis "))
    assert checks.startswith("analysis ! failed checks ") and "/5" in checks, checks
    assert s180[0].startswith("Flagger canary · ✗ Failed"), s180[0]
    assert next(line for line in s180 if line.startswith("analysis ")).startswith(
        "analysis ✗ rolled back (threshold 5) · Promoted False Failed")
    assert not any("✓ failed checks" in line for line in s180)
    for t in (60, 120, 180):
        a, text = got[t]
        assert section(text) == RolloutStrip.render_full(a.progress).plain.split("\n")


def test_no_progress_no_section():
    """Pods selected by a label with no controller over them: no progress, no section (and no empty line)."""
    assert strip.status_lines(None) == [] and progress_report(None) is None
    report = {"rollout": {"kind": "Label", "name": "x", "phase": None, "outcome": "unknown", "message": None},
              "namespace": "demo", "context": "c", "health": [], "metrics": {"source": "direct scrape", "deltas": {}},
              "tracks": [], "verdict": {"decision": "no-data", "reasons": []}, "findings": [], "progress": None,
              "exit_code": 2}
    assert "progress" not in render_text(report)


def test_hostile_progress_is_plain_text_in_the_report():
    """Names, images, messages, values and conditions from the cluster reach the text output without a control
    sequence, markup kept literal, as in the strip."""
    from test_hostile import HOSTILE, assert_safe
    from tui.rollout.progress import rollout_progress
    from tui.status import _sanitised

    ro = {"metadata": {"name": "co" + HOSTILE, "namespace": "demo", "uid": "u1"},
          "spec": {"replicas": 2, "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}},
          "status": {"phase": "Paused" + HOSTILE, "currentStepIndex": 1, "currentPodHash": "h2", "stableRS": "h1",
                     "pauseConditions": [{"reason": "Hand" + HOSTILE, "startTime": "2026-01-01T00:00:00Z"}]}}
    rs = {"metadata": {"name": "rs" + HOSTILE, "namespace": "demo", "ownerReferences": [{"uid": "u1"}],
                       "labels": {"rollouts-pod-template-hash": "h2"},
                       "annotations": {"rollout.argoproj.io/revision": "2" + HOSTILE}},
          "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "img" + HOSTILE}]}}},
          "status": {"readyReplicas": 1}}
    run = {"metadata": {"name": "ar" + HOSTILE, "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"metrics": [{"name": "m" + HOSTILE, "successCondition": "result < 1" + HOSTILE}]},
           "status": {"phase": "Failed", "message": "msg" + HOSTILE,
                      "metricResults": [{"name": "m" + HOSTILE, "phase": "Failed", "failed": 1,
                                         "measurements": [{"value": "[9]" + HOSTILE}]}]}}
    pr = rollout_progress("Rollout", ro, [rs], [run], now=1_767_225_630.0)
    lines = _sanitised(progress_report(pr))["text"]
    assert len(lines) >= 5
    text = "\n".join(lines)
    assert_safe(text)
    assert "[bold]markup[/bold]" in text and "img" in text and "result < 1" in text


@pytest.mark.parametrize("cluster", [("healthy-canary", 4.0)], indirect=True)
def test_lookout_status_text_over_https_shows_the_progress(cluster, tmp_path, capsys):
    """`lookout status --app checkout` (text) against the demo cluster over HTTPS, while the canary steps."""
    deadline = time.monotonic() + 30
    while not (cluster.call(cluster.cluster.state.get, "rollouts", "demo", "checkout") or {}).get(
            "status", {}).get("currentStepIndex"):
        assert time.monotonic() < deadline, "the scenario never stepped"
        time.sleep(0.2)
    run_status(parse(["--kubeconfig", cluster.kubeconfig_path, "--app", "checkout",
                      "--config", fast_config(tmp_path)]))
    text = capsys.readouterr().out
    got = section(text)
    assert got[0].startswith("Argo Rollouts canary · "), text
    assert " · step " in got[0] and "/6" in got[0]
    assert got[1].startswith("steps ") and "▶" in got[1]
    assert got[2].startswith("replicas desired 5 · ")
    assert any(line.startswith("rev ") and "registry.demo/checkout:1.5.0" in line for line in got)
