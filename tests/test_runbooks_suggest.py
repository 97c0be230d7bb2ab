"""Each demo scenario makes its matching runbook the first suggestion, read from the one assessment."""

from __future__ import annotations

import pytest

from assessment_support import played
from tui.runbooks.model import load_catalog
from tui.runbooks.suggest import suggest

# scenario: (seconds of the story, the runbook that must come first, words of the reason it gives)
CASES = {
    "healthy-canary": (12, "promotion-stuck", "pause"),  # paused at a canary step (rollout-paused)
    "bad-canary": (60, "unexpected-rollback", "aborted"),
    "bluegreen-switch": (40, "switch-not-completing", "endpoints"),
    "crashloop": (30, "pods-crashing", "CrashLoopBackOff"),
    "config-drift": (20, "state-not-syncing", ""),
    "canary-no-traffic": (30, "canary-no-traffic", "selects"),
    "metrics-missing": (30, "metrics-not-reporting", "/metrics"),
    "network-faults": (30, "canary-no-traffic", "canary"),
    "argo-bluegreen-analysis": (45, "unexpected-rollback", "aborted"),
}
CATALOG = load_catalog(include_user_dir=False)


@pytest.mark.parametrize("scenario", sorted(CASES))
async def test_scenario_suggests_its_runbook_first(scenario):
    seconds, want, words = CASES[scenario]
    p = await played(scenario, seconds)
    a = p.assessments[-1][1]
    found = suggest(CATALOG.runbooks, a)
    assert found and found[0].runbook.id == want, [(s.runbook.id, s.because) for s in found]
    assert words in found[0].because


async def test_nothing_suggested_for_a_healthy_finished_rollout():
    p = await played("healthy-canary", 90)
    a = p.assessments[-1][1]
    assert a.outcome.state == "healthy" and not a.findings
    assert suggest(CATALOG.runbooks, a) == []


async def test_state_not_syncing_needs_the_drift_finding():
    """A blue/green rollout alone is no reason for 'State not syncing': the runbook fits only beside the
    `environments-differ` finding (bluegreen-switch has none; config-drift has it)."""
    p = await played("bluegreen-switch", 40)
    a = p.assessments[-1][1]
    assert a.roles.strategy == "bluegreen"
    assert "environments-differ" not in {f.code for f in a.findings}
    assert "state-not-syncing" not in [s.runbook.id for s in suggest(CATALOG.runbooks, a)]
    p = await played("config-drift", 20)
    a = p.assessments[-1][1]
    found = {s.runbook.id: s for s in suggest(CATALOG.runbooks, a)}
    assert "state-not-syncing" in found and "differ" in found["state-not-syncing"].because


async def test_a_flagger_canary_at_a_closed_gate_suggests_its_gate_runbook_not_promotion_stuck():
    """flagger-podinfo with a confirm-promotion gate whose URL stays closed (the load tester's /gate/check, closed
    until opened: tui/demo/scenarios/README.md) and maxWeight 10: at 10 % Flagger waits in WaitingPromotion
    ("Halt podinfo.test advancement waiting for promotion approval approve-promotion": pkg/controller/
    scheduler_hooks.go runConfirmPromotionHooks). The finding `awaiting-approval` suggests 'Canary waiting for
    approval'; 'Promotion stuck' (Argo's steps and promote action, refused on a Canary) is not suggested. Opened
    (the demo's `demo.lookout.dev/gate: open`), the Canary goes on and the suggestion goes away."""
    from assessment_support import Player

    p = await Player("flagger-podinfo").start()
    try:
        await p.play(5)

        def gate(c):
            an = c["spec"]["analysis"]
            an["maxWeight"] = 10
            an["webhooks"].append({"name": "approve-promotion", "type": "confirm-promotion",
                                   "url": "http://flagger-loadtester.test/gate/check"})

        p.state.mutate("canaries.flagger.app", p.ns, "podinfo", gate)
        a = await p.play(60)
        assert a.progress.flagger.phase == "WaitingPromotion" and a.outcome.state == "paused"
        found = suggest(CATALOG.runbooks, a)
        ids = [s.runbook.id for s in found]
        assert ids[0] == "flagger-awaiting-approval", [(s.runbook.id, s.because) for s in found]
        assert "promotion-stuck" not in ids
        assert "confirm-promotion approve-promotion" in found[0].because

        def approve(c):
            c["metadata"].setdefault("annotations", {})["demo.lookout.dev/gate"] = "open"

        p.state.mutate("canaries.flagger.app", p.ns, "podinfo", approve)
        a = await p.play(75)  # Flagger's next interval (15 s) finds the gate open and promotes
        assert a.progress.flagger.phase == "Promoting", a.progress.flagger.phase
        assert "flagger-awaiting-approval" not in [s.runbook.id for s in suggest(CATALOG.runbooks, a)]
    finally:
        await p.stop()


async def test_failed_checks_suggest_the_flagger_halt_runbook():
    """flagger-podinfo at 120 s: the canary's success rate is below 99 %, Flagger halts and counts failed checks
    towards the threshold (5): 'Canary halted, failed checks counting to the rollback' is suggested."""
    p = await played("flagger-podinfo", 120)
    a = p.assessments[-1][1]
    assert a.progress.flagger.failed_checks > 0
    found = {s.runbook.id: s for s in suggest(CATALOG.runbooks, a)}
    assert "flagger-checks-failing" in found and "failed checks" in found["flagger-checks-failing"].because
    assert "promotion-stuck" not in found
