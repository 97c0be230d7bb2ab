"""The two 001 mappings (examples/veritas-crds.toml) exercised by the demo's Veritas controller: the scenarios
veritas-promotion-stuck and veritas-switch-stuck played whole (tui/demo/controllers/veritas.py moves the objects,
no status is patched by hand), with the shipped mappings loaded, as `lookout demo --scenario NAME --config
examples/veritas-crds.toml` runs them. At each moment of the story: what the rollout strip says (phase, weight,
switch progress, message), the assessment's outcome, verdict and findings, and `lookout status --json`'s progress.

Seed 001 (/work/shared/seeds/001_596f4014437d2186.txt): "Canary Deployment Issues / Promotion Stuck" (Progressing
at the maximum weight, waiting for a manual approval), "Unexpected Rollback" (RollingBack then Failed) and
"Blue-Green Deployment Issues / Switch Not Completing" (Switching at 50 %, both environments receive traffic).
"""
from __future__ import annotations

import json
import os

import pytest

from assessment_support import Player
from test_demo_veritas import canary_scenario
from tui.config import load_config
from tui.demo.controllers.veritas import CANARIES
from tui.status import build_report
from widgets.progress import RolloutStrip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "veritas-crds.toml")


class Moment:
    """What Lookout shows at one moment of the played story."""

    def __init__(self, t: float, session, a):
        self.t = t
        self.a = a
        self.strip = RolloutStrip.render_compact(a.progress).plain
        self.full = RolloutStrip.render_full(a.progress).plain
        self.report = json.loads(json.dumps(build_report(session, a, "direct scrape")))
        self.progress = self.report["progress"]
        self.codes = {(f.code, f.severity) for f in a.findings}


async def story(scenario, until: float, settings=None, at=None) -> list[Moment]:
    """One Moment each second of scenario time; `at` (t -> callable(player)) acts on the cluster at a time."""
    p = await Player(scenario, settings=settings or load_config(EXAMPLE)).start()
    out = []
    try:
        while p.t < until:
            for t, act in (at or {}).items():
                if t == p.t:
                    act(p)
            a = await p.step(1.0)
            out.append(Moment(p.t, p.session, a))
        assert not p.sim.errors, p.sim.errors
    finally:
        await p.stop()
    return out


def when(moments: list[Moment], t: float) -> Moment:
    return next(m for m in moments if m.t == t)


async def test_promotion_stuck_is_followed_through_the_shipped_mapping():
    """veritas-promotion-stuck: Pending, then Progressing 10 → 50 %, then the wait for approval (the condition
    Promoted=False, reason WaitingForApproval, matched by the mapping's `approval` path) is `awaiting-approval`
    (info) and holds `lookout status` at exit 2; the on-call's annotation at 110 s promotes it: Promoting, then
    Succeeded, fully promoted."""
    ms = await story("veritas-promotion-stuck", 125)
    first = ms[0]
    assert first.report["rollout"]["kind"] == "VeritasCanary" and first.report["rollout"]["controller"] == "veritas"
    assert first.strip.startswith("… Pending · weight 0% (desired 10%)"), first.strip
    assert "waiting for canary veritas-spark-canary" in first.strip
    assert first.progress["phase"] == "Pending" and first.progress["health"] == "progressing"
    assert first.progress["weight"] == {"desired": 10, "actual": 0}

    # the weight the strip and the JSON show while Progressing: the controller's steps, in order
    weights = []
    for m in ms:
        if m.progress["phase"] == "Progressing" and (not weights or weights[-1] != m.progress["weight"]["actual"]):
            weights.append(m.progress["weight"]["actual"])
            assert f"weight {weights[-1]}%" in m.strip, m.strip
    assert weights == [10, 20, 30, 40, 50]

    # stepping: nothing to approve yet, the metrics (canary as good as stable) say promote
    m = when(ms, 40)
    assert m.strip.startswith("… Progressing · weight"), m.strip
    assert "successful analyses" in m.strip and "approval" not in m.strip
    assert m.a.outcome.state == "progressing" and m.a.verdict.decision == "promote" and m.a.exit_code == 0
    assert not any(code in ("awaiting-approval", "rollout-paused") for code, _ in m.codes)
    assert m.progress["pause"] is None

    # stuck at 50 %, waiting for an approval: the strip, the finding, the exit code and the JSON say so
    waiting = [m for m in ms if ("awaiting-approval", "info") in m.codes]
    assert waiting and 55 <= waiting[0].t <= 65 and waiting[-1].t < 111, [m.t for m in waiting]
    m = when(ms, 90)
    assert m.strip.startswith("… Progressing · waiting for approval (WaitingForApproval) · weight 50%"), m.strip
    assert "Waiting for approval to promote veritas-spark: spec.promotion.auto is false" in m.strip
    f = next(f for f in m.a.findings if f.code == "awaiting-approval")
    assert "kubectl annotate veritascanary veritas-spark veritas.hearthlink.ai/approved=true" in f.summary
    assert f.objects == ("VeritasCanary/veritas-spark",)
    assert not any(code == "rollout-paused" for code, _ in m.codes)  # waiting is not a pause by hand
    assert m.a.outcome.state == "progressing" and m.a.verdict.decision == "promote"
    assert m.a.exit_code == 2 and m.report["exit_code"] == 2  # a person has to approve: hold
    assert m.progress["pause"] == {"text": "waiting for approval (WaitingForApproval)", "kind": "approval",
                                   "left_s": None}
    assert m.progress["weight"] == {"desired": 50, "actual": 50}
    assert any(c.startswith("Promoted=False WaitingForApproval: Waiting for approval") for c in
               m.progress["conditions"])
    assert [x for x in m.report["findings"] if x["code"] == "awaiting-approval"][0]["cell"] == "rollout"

    # approved at 110 s: Promoting (weight 100), then Succeeded
    m = when(ms, 111)
    assert m.strip.startswith("… Promoting · weight 100%"), m.strip
    assert ("awaiting-approval", "info") not in m.codes and m.a.exit_code == 0
    m = ms[-1]
    assert m.strip.startswith("✓ Succeeded · fully promoted"), m.strip
    assert m.a.outcome.state == "healthy" and m.a.outcome.message.startswith("promoted: veritas-spark runs")
    assert m.progress["complete"] is True and m.progress["pause"] is None and m.a.exit_code == 0


async def test_switch_stuck_is_followed_through_the_shipped_mapping():
    """veritas-switch-stuck: Stable on blue; switched to green at 5 s it stays Switching at 50 % (both
    environments receive traffic) while green fails its health checks, and the metrics say why (green's error
    rate against blue's); green fixed at 90 s, the checks pass: 63, 76 %, then Stable on green at 100 %."""
    ms = await story("veritas-switch-stuck", 105)
    m = ms[0]
    assert m.report["rollout"]["kind"] == "VeritasEnvironment"
    assert m.strip.startswith("✓ Stable · switch 100% · active blue · preview green"), m.strip
    assert m.a.outcome.state == "healthy" and m.progress["switch_progress"] == 100

    seen = []
    for m in ms:
        pair = (m.progress["phase"], m.progress["switch_progress"])
        if not seen or seen[-1] != pair:
            seen.append(pair)
    assert seen == [("Stable", 100), ("Switching", 50), ("Switching", 63), ("Switching", 76), ("Stable", 100)]

    m = when(ms, 60)  # the seed's "switch not completing"
    assert m.strip.startswith("… Switching · switch 50% · active blue · preview green"), m.strip
    assert "switching veritas-spark from blue to green: 50% (both environments receive traffic)" in m.strip
    assert "in phase" in m.strip
    assert m.a.outcome.state == "progressing" and m.progress["health"] == "progressing"
    assert (m.a.roles.baseline, m.a.roles.candidate) == ("blue", "green")
    # green's 6 % errors: the metrics hold the switch (a rollback is pending its 5 minutes), exit 2
    assert m.a.verdict.decision == "hold" and m.a.exit_code == 2
    assert {r.code for r in m.a.verdict.reasons} >= {"error-rate-above-rollback-pending",
                                                     "error-rate-worse-than-stable"}
    assert any(c.startswith("TargetHealthy=False HealthCheckFailed: health check of green failing: error rate")
               for c in m.progress["conditions"]), m.progress["conditions"]
    assert not any(code in ("rollout-paused", "awaiting-approval") for code, _ in m.codes)
    # the controller's own word that the switch is held: its must_hold TargetHealthy is False (the seed's "health
    # check failing on the target"), a warning the strip and `lookout status` name
    failing = [f for f in m.a.findings if f.code == "controller-check-failing"]
    assert failing and failing[0].severity == "warning", m.codes
    assert "TargetHealthy=False HealthCheckFailed: health check of green failing" in failing[0].summary
    assert any(f["code"] == "controller-check-failing" for f in m.report["findings"])
    from tui.runbooks.model import load_catalog
    from tui.runbooks.suggest import suggest

    first = suggest(load_catalog(include_user_dir=False).runbooks, m.a)[0]
    assert first.runbook.id == "switch-not-completing" and "TargetHealthy=False" in first.because
    full = m.full.splitlines()[0]
    assert full.startswith("Veritas bluegreen · … Switching · switch 50% · active blue · preview green"), full

    m = when(ms, 95)  # green fixed: its checks pass, the switch moves on
    assert "switch 63%" in m.strip or "switch 76%" in m.strip, m.strip
    m = ms[-1]
    assert m.strip.startswith("✓ Stable · switch 100% · active green · preview blue"), m.strip
    assert not any(code == "controller-check-failing" for code, _ in m.codes)  # the check passes again
    assert m.a.outcome.state == "healthy" and m.a.outcome.message == "veritas-spark serves green"


async def test_a_failing_veritas_canary_is_a_rollback():
    """Seed 001 "Unexpected Rollback": the canary's errors fail two analyses; the controller's RollingBack and then
    Failed (after the rollback) are both `aborted` in the shipped mapping: verdict rollback (`rollout-aborted`
    with the controller's message), exit 1, and the strip says ✗ with the reason."""
    def bad_canary(p):
        p.sim.traffic.set_profile("canary", p.sim.traffic.profile("canary").replace(error_rate=0.08, p99=0.9),
                                  p.sim.clock())

    ms = await story(canary_scenario(), 40, at={5.0: bad_canary})
    phases = []
    for m in ms:
        if not phases or phases[-1] != m.progress["phase"]:
            phases.append(m.progress["phase"])
    assert phases == ["Progressing", "RollingBack", "Failed"]
    for m in ms:
        if m.progress["phase"] in ("RollingBack", "Failed"):
            assert m.a.outcome.state == "aborted" and m.a.verdict.decision == "rollback" and m.a.exit_code == 1
            assert m.a.verdict.reasons[0].code == "rollout-aborted"
            assert m.strip.startswith(f"✗ {m.progress['phase']} · weight 0%"), m.strip
    m = next(m for m in ms if m.progress["phase"] == "RollingBack")
    assert "failed checks threshold reached 2: error rate 8% > 1%" in m.strip
    assert m.report["rollout"]["outcome"] == "aborted"
    assert ms[-1].a.outcome.message.startswith("rolled back:")


async def test_a_canary_paused_by_hand_is_a_warning_and_a_planned_pause_is_not():
    """`spec.paused` on the VeritasCanary is set by a person: the mapped `Paused` phase, with no `planned_pause`
    path saying otherwise, is `rollout-paused` (warning: someone has to resume it). The same pause with a mapping
    whose `planned_pause` path says yes is a planned pause: `rollout-paused` info."""
    def pause(p):
        p.state.mutate(CANARIES, "veritas", "web", lambda o: o["spec"].__setitem__("paused", True))

    ms = await story(canary_scenario(), 20, at={8.0: pause})
    m = ms[-1]
    assert m.progress["phase"] == "Paused" and m.a.outcome.state == "paused"
    assert m.strip.startswith("‖ Paused · paused (Paused) · weight 20%"), m.strip
    assert ("rollout-paused", "warning") in m.codes
    assert m.progress["pause"]["kind"] == "hand"

    planned = open(EXAMPLE).read().replace(
        'approval = ', 'planned_pause = "{.spec.paused}"\napproval = ', 1)
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as fh:
        fh.write(planned)
    try:
        settings = load_config(fh.name)
    finally:
        os.unlink(fh.name)
    assert settings.warnings == ()
    ms = await story(canary_scenario(), 20, settings=settings, at={8.0: pause})
    m = ms[-1]
    assert ("rollout-paused", "info") in m.codes and ("rollout-paused", "warning") not in m.codes
    assert m.progress["pause"] == {"text": "paused (Paused, planned)", "kind": "step", "left_s": None}
    assert m.strip.startswith("‖ Paused · paused (Paused, planned) · weight 20%"), m.strip


# ---- the strip of a CRD-driven rollout, snapshotted -----------------------------------------------------------

SNAP_SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


def _switch_stuck_app():
    """`lookout demo --scenario veritas-switch-stuck --config examples/veritas-crds.toml`, 60 s in: the
    VeritasEnvironment stuck Switching at 50 %, green failing its health checks."""
    import asyncio

    from tui.app import LookoutApp

    async def play():
        p = await Player("veritas-switch-stuck", settings=load_config(EXAMPLE)).start()
        try:
            await p.play(60)
        finally:
            await p.stop()
        return p

    p = asyncio.new_event_loop().run_until_complete(play())
    return LookoutApp(p.session, clock=p.session.clock, check_tty=False)



@pytest.mark.parametrize("size", sorted(SNAP_SIZES))
def test_veritas_switch_strip_snapshot(snap_compare, size):
    async def settle(pilot):
        await pilot.pause(0.3)
        text = pilot.app.query_one("#rollout-strip")._last.plain
        assert "Switching · switch 50% · active blue · preview green" in text, text
        if size == "80x24":
            assert len(text.split("\n")) == 1
        else:
            assert text.startswith("Veritas bluegreen"), text

    assert snap_compare(_switch_stuck_app(), terminal_size=SNAP_SIZES[size], run_before=settle)


async def test_a_switch_that_times_out_is_aborted():
    """veritas-switch-stuck with a 30 s health-check timeout and green never fixed: the controller sends the
    Service back to blue and says Failed; the shipped mapping reads it as `aborted` (the switch was undone): verdict
    rollback with the controller's message, exit 1, the strip ✗ Failed at switch 0 % with blue still active."""
    from tui.demo.scenario import load_scenario

    sc = load_scenario("veritas-switch-stuck")
    for m in sc.manifests:
        if m["kind"] == "VeritasEnvironment":
            m["spec"]["switch"]["healthCheck"]["timeout"] = "30s"
    sc.timeline = [s for s in sc.timeline if s.action != "traffic"]
    ms = await story(sc, 45)
    assert when(ms, 30).progress["phase"] == "Switching" and when(ms, 30).a.exit_code != 1
    m = ms[-1]
    assert m.progress["phase"] == "Failed" and m.a.outcome.state == "aborted"
    assert m.strip.startswith("✗ Failed · switch 0% · active blue · preview green"), m.strip
    assert "switch to green did not pass its health check within 30s: veritas-spark back on blue" in m.strip
    assert m.a.verdict.decision == "rollback" and m.a.verdict.reasons[0].code == "rollout-aborted"
    assert "back on blue" in m.a.verdict.reasons[0].text
    assert m.a.exit_code == 1 and m.report["rollout"]["outcome"] == "aborted"
