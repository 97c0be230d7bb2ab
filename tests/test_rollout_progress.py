"""The rollout strip's data and its findings, played on the demo cluster's Argo Rollouts controller.

Each scenario moves on the demo clock (tests/assessment_support.py Player); the strip's step, weight, phase,
revisions and analysis are read from the one assessment, and the strip itself is snapshotted in five states at
80x24 and 120x40.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from assessment_support import Player
from tui.app import LookoutApp
from tui.status import build_report
from test_status import cluster  # noqa: F401 - the fixture: a demo cluster in a thread

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}

RUNNING_ANALYSIS = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AnalysisRun",
    "metadata": {"name": "checkout-error-rate-1", "namespace": "demo", "labels": {"app": "checkout"}},
    # `interval` without `count`: metrics that run until the rollout ends, so the demo's analysis controller (Argo's
    # rules) keeps the run Running and measures again only one interval later
    "spec": {"metrics": [{"name": "error-rate", "interval": "5m", "failureLimit": 2, "successCondition": "result[0] < 0.05",
                          "provider": {"prometheus": {"address": "http://prometheus:9090", "query": "q"}}},
                         {"name": "p99", "interval": "5m", "inconclusiveLimit": 1, "successCondition": "result[0] < 0.5",
                          "failureCondition": "result[0] > 1.0",
                          "provider": {"prometheus": {"address": "http://prometheus:9090", "query": "q"}}}]},
    "status": {"phase": "Running", "metricResults": [
        {"name": "error-rate", "phase": "Running", "count": 2, "successful": 1, "failed": 1,
         "measurements": [{"phase": "Successful", "value": "[0.012]"}, {"phase": "Failed", "value": "[0.081]"}]},
        {"name": "p99", "phase": "Running", "count": 1, "successful": 1,
         "measurements": [{"phase": "Successful", "value": "[0.210]"}]},
    ]},
}


async def _at(scenario: str, seconds: float, change: str | None = None) -> Player:
    p = await Player(scenario).start()
    try:
        await p.play(seconds)
        if change == "analysis":
            import copy

            p.state.create(copy.deepcopy(RUNNING_ANALYSIS), res="analysisruns")
            await p.play(seconds + 1)
    finally:
        await p.stop()
    return p


def at(scenario: str, seconds: float, change: str | None = None) -> Player:
    return asyncio.new_event_loop().run_until_complete(_at(scenario, seconds, change))


def codes(a) -> dict:
    return {f.code: f for f in a.findings}


# ---- the strip's data as the canary moves ----------------------------------------------------------------

async def test_healthy_canary_steps_pause_weight_revisions_as_it_moves():
    p = await Player("healthy-canary").start()
    try:
        a = await p.play(12)  # step 2 of 6: the 20 s pause after setWeight 10
        pr = a.progress
        assert (pr.controller, pr.strategy, pr.phase) == ("Argo Rollouts", "canary", "Paused")
        assert pr.step_text == "2/6" and pr.step_count == 6
        assert [s.state for s in pr.steps] == ["done", "current", "pending", "pending", "pending", "pending"]
        assert [s.text for s in pr.steps][:2] == ["setWeight 10%", "pause 20s"]
        assert pr.pause_kind == "step" and 0 < pr.pause_left_s < 20 and "left" in pr.pause
        assert (pr.desired_weight, pr.actual_weight) == (10, 10)
        revs = {r.role: r for r in pr.revisions}
        assert revs["canary"].images == ("registry.demo/checkout:1.5.0",) and revs["canary"].revision == "2"
        assert revs["stable"].images == ("registry.demo/checkout:1.4.2",) and revs["stable"].revision == "1"
        assert revs["canary"].replicasets[0].startswith("checkout-")
        # Argo's basic canary at 10 % of 5 surges: approximateWeightedCanaryStableReplicaCounts(5, 10, maxSurge 2)
        # is canary 1 beside stable 5 (argo-rollouts utils/replicaset/canary.go)
        assert (pr.desired, pr.ready) == (5, 6)
        paused = codes(a)["rollout-paused"]
        assert paused.severity == "info" and "left" in paused.summary
        assert pr.step_for_s == pytest.approx(20 - pr.pause_left_s, abs=0.01)

        a = await p.play(52)  # setWeight 50: two more canary pods starting, progressing, no pause
        pr = a.progress
        assert pr.phase == "Progressing" and pr.step_text == "5/6" and pr.desired_weight == 50
        assert "rollout-paused" not in codes(a)

        a = await p.play(60)  # the last pause has no duration: a person has to promote
        pr = a.progress
        assert pr.pause == "waiting for promotion" and pr.pause_kind == "promotion" and pr.step_text == "6/6"
        assert codes(a)["rollout-paused"].severity == "info"
        assert a.exit_code == 2  # hold while a promotion is awaited (docs/status.md)

        a = await p.play(90)  # promoted and complete
        pr = a.progress
        assert pr.phase == "Healthy" and pr.complete and pr.step_text == "6/6 done"
        assert [r.role for r in pr.revisions] == ["stable"] and pr.revisions[0].images == (
            "registry.demo/checkout:1.5.0",)
        assert "rollout-paused" not in codes(a) and a.exit_code == 0
    finally:
        await p.stop()


def test_header_after_full_promotion_never_says_weight_0():
    from widgets.status import StatusHeader

    a = at("healthy-canary", 90).session.assess()
    shown = []
    header = StatusHeader()
    header.show = shown.append  # the text it would paint, without a running app
    header.set_state(context="c", namespace="demo", rollout="checkout", summary=a.summary, connection=None,
                     demo=False, now=0.0, progress=a.progress)
    text = shown[-1].plain
    assert "Healthy" in text and "step 6/6 done" in text and "weight 0%" not in text, text


async def test_failed_analysis_run_shows_each_value_against_its_condition_and_limit():
    p = await Player("bad-canary").start()
    try:
        a = await p.play(50)
    finally:
        await p.stop()
    run = a.progress.analysis
    assert run.name == "checkout-error-rate-2" and run.phase == "Failed"
    m = run.metrics[0]
    assert m.values == ("[0.071]", "[0.103]", "[0.128]") and m.success_condition == "result[0] < 0.05"
    assert (m.failed, m.failure_limit, m.consecutive_error_limit) == (3, 2, 4)
    f = codes(a)["analysis-failing"]
    assert f.severity == "critical"
    assert "[0.128]" in f.summary and "result[0] < 0.05" in f.summary and "failed 3 > failureLimit 2" in f.summary
    assert a.cell("rollout").level == "critical" and a.exit_code == 1
    assert a.progress.phase == "Aborted" and a.progress.desired_weight == 0


async def test_compact_strip_states_failed_count_against_the_limit_not_as_a_fraction():
    """At 80x24 the strip showed bad-canary's aborted analysis as `✗ error-rate [0.128] failed 3/2`: "3 of 2"
    reads as garbage. Argo aborts when failed > failureLimit (analysis.go: "failed (3) > failureLimit (2)")."""
    from widgets.progress import RolloutStrip

    p = await Player("bad-canary").start()
    try:
        a = await p.play(50)
    finally:
        await p.stop()
    compact = RolloutStrip.render_compact(a.progress).plain
    assert "error-rate [0.128] failed 3 > limit 2" in compact and "3/2" not in compact
    # metrics-missing: nothing failed, the canary's query found no data three times (inconclusive); the strip read
    # `! error-rate failed 0/0` (then `failed 0 ≤ limit 0`) about a metric whose trouble is inconclusive results
    p = await Player("metrics-missing").start()
    try:
        a = await p.play(45)
    finally:
        await p.stop()
    compact = RolloutStrip.render_compact(a.progress).plain
    assert "! error-rate inconclusive 3 > limit 0" in compact and "failed 0" not in compact


def test_running_analysis_within_its_limit_is_a_warning_and_says_so():
    a = at("bad-canary", 30, "analysis").session.assess()
    f = codes(a)["analysis-failing"]
    assert f.severity == "warning" and "[0.081]" in f.summary and "failed 1 ≤ failureLimit 2" in f.summary
    assert a.cell("rollout").level == "degraded" and a.exit_code != 0
    p99 = a.progress.analysis.metrics[1]
    assert p99.failure_condition == "result[0] > 1.0" and p99.inconclusive_limit == 1


def test_paused_by_hand_and_past_its_duration_are_warnings():
    p = at("healthy-canary", 7)  # setWeight 10, the canary pod starting: no planned pause

    def hand(ro):
        ro["spec"]["paused"] = True

    p.state.mutate("rollouts", p.ns, "checkout", hand)
    p.sync()
    a = p.session.assess()
    f = codes(a)["rollout-paused"]
    assert f.severity == "warning" and "by hand" in f.summary

    # a timed pause whose duration ran out long ago, the controller silent
    from tui.assessment import progress_findings
    from tui.rollout.progress import rollout_progress

    p2 = at("healthy-canary", 12)
    ro = p2.session.workload()
    late = rollout_progress("Rollout", ro, p2.session.store.list("replicasets"), now=p2.clock() + 120)
    assert late.pause_left_s < -30 and "past its duration" in late.pause
    assert [x.severity for x in progress_findings(late) if x.code == "rollout-paused"] == ["warning"]


def test_inconclusive_pause_is_analysis_inconclusive():
    from tui.assessment import progress_findings
    from tui.rollout.progress import rollout_progress

    p = at("healthy-canary", 30)
    ro = p.session.workload()
    ro["status"]["pauseConditions"] = [{"reason": "InconclusiveAnalysisRun", "startTime": "2026-01-01T00:00:00Z"}]
    pr = rollout_progress("Rollout", ro, (), now=p.clock())
    got = {f.code: f.severity for f in progress_findings(pr)}
    assert got == {"analysis-inconclusive": "warning", "rollout-paused": "warning"}


def test_status_json_carries_the_progress_and_analysis():
    p = at("bad-canary", 50)
    s = p.session
    report = build_report(s, s.assess(), "direct scrape")
    doc = json.loads(json.dumps(report))
    pr = doc["progress"]
    assert pr["phase"] == "Aborted" and pr["step"]["count"] == 4
    m = pr["analysis_runs"][-1]["metrics"][0]
    assert m["values"][-1] == "[0.128]" and m["limits"]["failure"] == 2 and m["counts"]["failed"] == 3
    assert any(f["code"] == "analysis-failing" and f["cell"] == "rollout" for f in doc["findings"])


@pytest.mark.parametrize("cluster", [("healthy-canary", 4.0)], indirect=True)
def test_lookout_status_over_https_reports_the_step_and_pause(cluster, tmp_path, capsys):
    from test_status import fast_config, parse, run_status

    deadline = time.monotonic() + 30
    while not (cluster.call(cluster.cluster.state.get, "rollouts", "demo", "checkout") or {}).get(
            "status", {}).get("pauseConditions"):
        assert time.monotonic() < deadline, "the scenario never paused"
        time.sleep(0.2)
    run_status(parse(["--kubeconfig", cluster.kubeconfig_path, "--app", "checkout", "--json",
                      "--config", fast_config(tmp_path)]))
    out = json.loads(capsys.readouterr().out)
    pr = out["progress"]
    # the story moves on at 4x while status connects: the pause may be over, the update is not
    assert pr["controller"] == "Argo Rollouts" and pr["strategy"] == "canary" and pr["step"]["count"] == 6
    assert pr["steps"][pr["step"]["index"]]["state"] == "current"
    assert {r["role"] for r in pr["revisions"]} >= {"stable", "canary"}
    assert pr["revisions"][0]["images"] == ["registry.demo/checkout:1.5.0"]
    assert (pr["pause"] is not None) == any(f["code"] == "rollout-paused" for f in out["findings"])


# ---- the strip on screen ---------------------------------------------------------------------------------

STATES = {
    "progressing": ("healthy-canary", 52, None),  # setWeight 50: the canary scaling 1 -> 3
    "paused": ("healthy-canary", 12, None),
    "analysis-failing": ("bad-canary", 30, "analysis"),
    "degraded": ("bad-canary", 60, None),
    "completed": ("healthy-canary", 90, None),
}


def _app(state: str) -> LookoutApp:
    scenario, seconds, change = STATES[state]
    session = at(scenario, seconds, change).session
    return LookoutApp(session, clock=session.clock, check_tty=False)


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("state", sorted(STATES))
def test_strip_snapshot(snap_compare, state, size):
    async def settle(pilot):
        await pilot.pause(0.3)
        strip = pilot.app.query_one("#rollout-strip")
        assert strip.display
        text = strip._last.plain
        lines = text.split("\n")
        if size == "80x24":
            assert len(lines) == 1
        else:
            assert len(lines) >= 3 and lines[0].startswith("Argo Rollouts canary")
        want = {"progressing": "step 5/6", "paused": "left", "analysis-failing": "[0.081]",
                "degraded": "Aborted", "completed": "6/6 done"}[state]
        assert want in text, text

    assert snap_compare(_app(state), terminal_size=SIZES[size], run_before=settle)


def test_hostile_text_in_rollout_and_analysis_is_shown_as_text():
    """Names, images, messages, values and conditions come from the cluster: no control sequence reaches the
    strip, markup stays literal."""
    from test_hostile import HOSTILE, assert_safe
    from tui.assessment import progress_findings
    from tui.rollout.progress import rollout_progress
    from widgets.progress import RolloutStrip

    ro = {"metadata": {"name": "co" + HOSTILE, "namespace": "demo", "uid": "u1"},
          "spec": {"replicas": 2, "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {"duration": "1m"}},
                                                                    {"analysis": {"templates": [
                                                                        {"templateName": "t" + HOSTILE}]}}]}}},
          "status": {"phase": "Paused" + HOSTILE, "currentStepIndex": 1, "currentPodHash": "h2", "stableRS": "h1",
                     "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}]}}
    rs = {"metadata": {"name": "rs" + HOSTILE, "namespace": "demo",
                       "ownerReferences": [{"uid": "u1", "kind": "Rollout"}],
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
    for text in (RolloutStrip.render_compact(pr).plain, RolloutStrip.render_full(pr).plain):
        assert_safe(text)
        assert "[bold]markup[/bold]" in text
    for f in progress_findings(pr):
        assert_safe(f.summary)
        for k, v in f.evidence:
            assert_safe(str(v))


async def test_argo_bluegreen_waits_for_promotion_with_active_and_preview_named():
    """An Argo blue/green Rollout on the demo controller: the new revision comes up as preview, the Rollout waits
    for promotion (autoPromotionEnabled: false), the strip names the active and preview environments."""
    import copy

    from tui.assessment import progress_findings
    from tui.rollout.progress import rollout_progress

    def rollout(image: str, colour: str) -> dict:
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web", "environment": colour}},
                                      "spec": {"containers": [{"name": "app", "image": image,
                                                               "ports": [{"containerPort": 8080}]}]}},
                         "strategy": {"blueGreen": {"activeService": "web", "previewService": "web-preview",
                                                    "autoPromotionEnabled": False}}}}

    p = await Player("healthy-canary").start()
    try:
        for name in ("web", "web-preview"):
            p.state.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "demo"},
                            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}, res="services")
        p.state.create(rollout("registry.demo/web:1", "blue"), res="rollouts")
        await p.play(10)

        def new_release(ro):
            new = rollout("registry.demo/web:2", "green")
            ro["spec"]["template"] = copy.deepcopy(new["spec"]["template"])

        p.state.mutate("rollouts", "demo", "web", new_release)
        await p.play(25)
        ro = p.state.get("rollouts", "demo", "web")
        rss = p.state.list("replicasets", "demo")[0]
        pr = rollout_progress("Rollout", ro, rss, (), now=p.clock())
    finally:
        await p.stop()
    assert pr.strategy == "bluegreen" and pr.phase == "Paused" and pr.pause == "waiting for promotion"
    assert pr.roles == "active blue · preview green", pr.roles
    assert pr.desired_weight is None and pr.step_text is None
    assert {r.role: r.images for r in pr.revisions} == {"active": ("registry.demo/web:1",),
                                                        "preview": ("registry.demo/web:2",)}
    assert [(f.code, f.severity) for f in progress_findings(pr)] == [("rollout-paused", "info")]


# ---- the strip zoomed: compact at 80x24, everything when zoomed (z on it, or :progress) -------------------------


async def test_strip_zooms_at_80x24_to_every_step_revision_and_metric():
    from widgets.command import Command

    scenario, seconds, change = STATES["analysis-failing"]
    session = (await _at(scenario, seconds, change)).session
    app = LookoutApp(session, clock=session.clock, check_tty=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        strip = app.query_one("#rollout-strip")
        assert len(strip._last.plain.split("\n")) == 1  # compact on a small terminal
        app.run_command(Command("progress", None))
        await pilot.pause(0.2)
        assert app.zoomed is strip and app.focused is strip
        lines = strip._last.plain.split("\n")
        steps = [ln for ln in lines if " step " in ln and ln[:1] in "✓▶·"]
        assert len(steps) == app.assessment.progress.step_count == 4, lines  # the whole step list, one a line
        assert sum(ln.startswith("▶") for ln in steps) == 1
        assert any(ln.startswith("rev ") for ln in lines) and any("[0.081]" in ln for ln in lines), lines
        assert strip.region.height >= len(lines)  # it has the room: nothing cut at 8 lines
        await pilot.press("z")  # z on the zoomed strip: back
        await pilot.pause(0.2)
        assert app.zoomed is None and len(strip._last.plain.split("\n")) == 1
        strip.focus()  # a click focuses it; z zooms it, esc unzooms and the pods table has the focus again
        await pilot.press("z")
        await pilot.pause(0.2)
        assert app.zoomed is strip and len(strip._last.plain.split("\n")) > 8
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.zoomed is None and app.focused is app.query_one("#pod-table")


@pytest.mark.parametrize("size", sorted(SIZES))
def test_strip_zoomed_snapshot(snap_compare, size):
    async def zoom(pilot):
        await pilot.pause(0.3)
        from widgets.command import Command

        pilot.app.run_command(Command("progress", None))
        await pilot.pause(0.3)
        assert pilot.app.zoomed is pilot.app.query_one("#rollout-strip")

    assert snap_compare(_app("paused"), terminal_size=SIZES[size], run_before=zoom)


def test_measured_values_are_cut_to_four_significant_digits():
    """Argo stores a measurement as the query result's text; a long float is the number's noise in an 80-column
    strip: `[0.08999871829134869]` shows as `[0.09]`, short values and non-numbers as they are."""
    from tui.rollout.progress import analysis_views, short_value

    assert short_value("[0.08999871829134869]") == "[0.09]"
    assert short_value("[0.071]") == "[0.071]" and short_value("NaN") == "NaN" and short_value("[]") == "[]"
    assert short_value("[1.2e-05, 3.4567891]") == "[1.2e-05, 3.457]"
    run = {"metadata": {"name": "r"}, "spec": {"metrics": [{"name": "error-rate"}]},
           "status": {"phase": "Failed", "metricResults": [{"name": "error-rate", "phase": "Failed", "measurements": [
               {"value": "[0.08999871829134869]", "phase": "Failed"}]}]}}
    assert analysis_views([run])[0].metrics[0].values == ("[0.09]",)
