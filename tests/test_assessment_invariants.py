"""The assessment's rules, checked on every assessment of every demo scenario's whole story (demo clock).

Each scenario is played on the demo cluster's state for its full story; after every simulated second the real
Session assesses it. Every one of those assessments must obey the rules that tie the views together.
"""

from __future__ import annotations

import pytest

from assessment_support import played
from tui.assessment import (CELL_OF_CODE, CELLS, Assessment, assess, cell_of, exit_code)
from tui.demo.scenario import scenario_names
from tui.metrics.analysis import NO_DATA_CODES
from tui.network.findings import CODES as NETWORK_CODES

STORY_SECONDS = 200.0  # every scenario's timeline ends well before this (the last step is at 75 s)


def check(a: Assessment) -> None:
    cells = {c.name: c for c in a.cells}
    assert tuple(cells) == CELLS
    severities = [f.severity for f in a.findings]
    # a critical finding makes its cell critical and the exit code 1
    for f in a.findings:
        if f.severity == "critical":
            assert cells[cell_of(f.code)].level == "critical", (f.code, cells[cell_of(f.code)])
            assert a.exit_code == 1
        if f.severity == "warning":
            assert cells[cell_of(f.code)].level in ("degraded", "critical"), (f.code, cells[cell_of(f.code)])
    # rollback is never beside an all-green matrix, nor beside "no findings"
    if a.decision == "rollback":
        assert any(c.level == "critical" for c in a.cells)
        assert cells["metrics"].level == "critical"
        assert any(s == "critical" for s in severities)
        assert a.exit_code == 1
    # an aborted (or failed) rollout is never promote
    if a.outcome.state in ("aborted", "failed"):
        assert a.decision == "rollback"
        assert a.verdict.reasons[0].code == "rollout-aborted"
    # a verdict from stale data is never promote
    if any(s.stale for s in a.staleness if s.source in ("pods", "rollouts", "deployments", "metrics")):
        assert a.decision != "promote"
    # a critical cell always says why (a finding, the verdict or the controller), and the exit code follows
    for c in a.cells:
        if c.level == "critical":
            assert a.exit_code == 1
            assert c.detail
    # the exit code is the worst of the decision, the findings and the cells, never better
    expected = 1 if any(c.level == "critical" for c in a.cells) else exit_code(a.decision, severities)
    # ... and at least 2 (hold) while a person has to promote: the rollout is not done
    if expected == 0 and a.progress is not None and a.progress.pause_kind == "promotion":
        expected = 2
    assert a.exit_code == expected
    # the compare pane shows the same verdict and the same metrics findings as the strip
    assert a.compare is not None and a.compare.verdict == a.verdict
    assert set(a.compare.findings) == {f for f in a.findings if cell_of(f.code) == "metrics"}
    # the title leads with the decision
    assert a.title.startswith(a.verdict.label)


@pytest.mark.parametrize("scenario", scenario_names())
async def test_every_assessment_of_every_scenario_obeys_the_rules(scenario):
    p = await played(scenario, STORY_SECONDS)
    assert len(p.assessments) == int(STORY_SECONDS)
    for t, a in p.assessments:
        try:
            check(a)
        except AssertionError as e:
            raise AssertionError(f"{scenario} at {t:.0f} s: {e}; decision {a.decision}, cells "
                                 f"{[(c.name, c.level) for c in a.cells]}, findings "
                                 f"{[(f.code, f.severity) for f in a.findings]}") from None


def test_every_finding_code_maps_to_exactly_one_cell():
    from tui.rollout import findings as rollout_findings

    import inspect
    import re

    raised = set(re.findall(r'Finding\(\s*"([a-z0-9-]+)"', inspect.getsource(rollout_findings)))
    import tui.metrics.analysis as analysis
    import tui.metrics.pods as mpods
    import tui.metrics.prometheus as prom
    import tui.metrics.scrape as scrape

    for mod in (analysis, mpods, prom, scrape):
        raised |= set(re.findall(r'Finding\(\s*"([a-z0-9-]+)"', inspect.getsource(mod)))
    raised |= set(NETWORK_CODES) | set(NO_DATA_CODES) | {"verdict-rollback"}
    raised.discard("no-series")  # raised through a conditional expression, listed in NO_DATA_CODES
    missing = sorted(c for c in raised | set(NO_DATA_CODES) if c not in CELL_OF_CODE)
    assert not missing, f"codes with no health cell: {missing}"
    for code, name in CELL_OF_CODE.items():
        assert name in CELLS
    # the table in docs/status.md is the same table
    import pathlib

    doc = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "status.md").read_text()
    for code, name in CELL_OF_CODE.items():
        assert f"| `{code}` | {name} |" in doc, f"docs/status.md lacks the row for {code}"


def test_stale_data_never_promotes():
    from tui.kube.store import SourceHealth
    from tui.metrics.analysis import EMPTY_STATE, Reason, Verdict
    import dataclasses

    good = dataclasses.replace(EMPTY_STATE, verdict=Verdict("promote", (Reason("success-criteria-met", "fine",
                                                                               decision="promote"),)),
                               updated_at=1000.0, now=1000.0)
    fresh = assess(now=1005.0, rollout="Label/x", kind=None, workload=None, summary=None, pod_rows=(),
                   findings=(), compare=good, network_view=None, metrics_bound=30.0)
    assert fresh.decision == "promote"
    old = assess(now=1100.0, rollout="Label/x", kind=None, workload=None, summary=None, pod_rows=(),
                 findings=(), compare=good, network_view=None, metrics_bound=30.0)
    assert old.decision == "hold" and old.verdict.reasons[0].code == "stale-data"
    lost = SourceHealth("pods/demo", "pods", connected=False, synced=True, last_event=900.0,
                        error="connection refused")
    blind = assess(now=1005.0, rollout="Label/x", kind=None, workload=None, summary=None, pod_rows=(),
                   findings=(), compare=good, network_view=None, health=[lost])
    assert blind.decision == "hold" and "pods data is stale" in blind.verdict.reasons[0].text
    check(old)
    check(blind)
