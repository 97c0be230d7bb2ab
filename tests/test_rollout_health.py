"""The health matrix: a level, a word and a symbol per cell, never colour alone."""

from __future__ import annotations

from test_rollout_fixtures import NOW, crashloop_cs, pod, running_cs
from tui.assessment import assess, overall
from tui.rollout.health import pods_health, track_health
from tui.rollout.pods import pod_row


def rows(*pods, track="stable"):
    return [pod_row(p, track, NOW) for p in pods]


def test_all_running_and_ready_is_healthy():
    c = pods_health(rows(pod("a"), pod("b")))
    assert (c.level, c.word, c.symbol, c.detail) == ("healthy", "healthy", "✓", "2/2 ready")


def test_some_not_ready_is_degraded():
    c = pods_health(rows(pod("a"), pod("b", containers=[running_cs(ready=False)])))
    assert (c.level, c.symbol) == ("degraded", "!") and "1 not ready" in c.detail


def test_crashloop_is_critical():
    c = pods_health(rows(pod("a"), pod("b", containers=[crashloop_cs()])))
    assert (c.level, c.word, c.symbol) == ("critical", "critical", "✗")
    assert "1 CrashLoopBackOff" in c.detail


def test_no_pods_is_unknown_and_terminating_does_not_count():
    assert pods_health([]).level == "unknown"
    t = pod("t")
    t["metadata"]["deletionTimestamp"] = "2025-10-09T08:53:00Z"
    assert pods_health(rows(pod("a"), t)).level == "healthy"


def test_matrix_cells_and_pending_ones_say_so():
    cells = assess(now=NOW, rollout="Label/checkout", kind=None, workload=None, summary=None,
                   pod_rows=rows(pod("a")), findings=(), compare=None, network_view=None).cells
    assert [c.name for c in cells] == ["pods", "rollout", "metrics", "endpoints", "DNS"]
    assert (cells[1].level, cells[1].word) == ("unknown", "n/a")  # pods by label: no controller to ask
    for c in cells[2:]:  # metrics, endpoints, DNS: nothing read yet
        assert (c.level, c.word, c.symbol) == ("pending", "waiting", "…")
    assert overall(cells) == "unknown"  # no controller to ask is not "healthy"
    assert overall(cells[:1]) == "healthy"
    for c in cells:  # never colour alone: a word and a symbol everywhere
        assert c.word and c.symbol


def test_per_track():
    h = track_health(rows(pod("a")) + rows(pod("b", containers=[crashloop_cs()]), track="canary"))
    assert h["stable"].level == "healthy" and h["canary"].level == "critical"
