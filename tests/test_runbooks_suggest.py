"""Each demo scenario makes its matching runbook the first suggestion, read from the one assessment."""

from __future__ import annotations

import pytest

from assessment_support import played
from tui.runbooks.model import load_catalog
from tui.runbooks.suggest import suggest

# scenario: (seconds of the story, the runbook that must come first, words of the reason it gives)
CASES = {
    "healthy-canary": (12, "promotion-stuck", "paused"),  # paused at a canary step, waiting for promotion
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
