"""The demo's Argo canary replica arithmetic replays Argo's own table tests.

Each case is a row of argo-rollouts utils/replicaset/canary_test.go (commit 9f8d111d), named as there:
TestCalculateReplicaCountsForCanary, TestApproximateWeightedNewStableReplicaCounts,
TestCalculateReplicaCountsForCanaryTrafficRouting and TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale.
"""

from __future__ import annotations

import pytest

from tui.demo.controllers.canaryscale import (RSCount, approximate_weighted_counts, basic_canary_counts,
                                              traffic_routed_counts, weight_to_replicas)


def new_rollout(replicas, set_weight, surge, unavailable, current="canary", stable="stable", scs=None, routing=None,
                promote_full=False, abort=False, abort_delay=None, min_pods=None, steps_extra=()):
    """canary_test.go newRollout: one step (setWeight + setCanaryScale), the given fenceposts and status."""
    step = {"setWeight": set_weight}
    if scs is not None:
        step["setCanaryScale"] = scs
    canary = {"maxSurge": surge, "maxUnavailable": unavailable, "steps": [step, *steps_extra]}
    if routing is not None:
        canary["trafficRouting"] = routing
    if abort_delay is not None:
        canary["abortScaleDownDelaySeconds"] = abort_delay
    if min_pods is not None:
        canary["minPodsPerReplicaSet"] = min_pods
    status = {"stableRS": stable, "currentPodHash": current}
    if promote_full:
        status["promoteFull"] = True
    if abort:
        status["abort"] = True
    return {"spec": {"replicas": replicas, "strategy": {"canary": canary}}, "status": status}


# (Go test name, replicas, setWeight, maxSurge, maxUnavailable, stable spec/avail, canary spec/avail,
#  expected stable, expected canary, extra)
BASIC = [
    ("Do not add extra RSs in scaleDownCount when .Spec.Replica < AvailableReplicas", 10, 100, 3, 0, 7, 8, 6, 3, 7, 6, {}),
    ("Use max surge int to scale up canary", 10, 20, 2, 0, 10, 10, 0, 0, 10, 2, {}),
    ("Use max surge percentage to scale up canary", 10, 20, "20%", 0, 10, 10, 0, 0, 10, 2, {}),
    ("Scale down extra stable replicas", 10, 20, "20%", 0, 10, 10, 2, 2, 8, 2, {}),
    ("Do not go past max surge", 10, 30, 2, 0, 10, 10, 0, 0, 10, 2, {}),
    ("Use max unavailable int to scale down stableRS", 10, 20, 0, 2, 10, 10, 0, 0, 8, 0, {}),
    ("Use max surge percentage to scale down stableRS", 10, 20, 0, "20%", 10, 10, 0, 0, 8, 0, {}),
    ("Do not go past max unavailable", 10, 30, 0, 2, 10, 10, 0, 0, 8, 0, {}),
    ("Use Max Surge and Max Unavailable", 10, 50, 2, 1, 10, 10, 0, 0, 9, 2, {}),
    ("Scale canaryRS to zero on setWeight of 0%", 10, 0, 1, 1, 10, 10, 1, 1, 10, 0, {}),
    ("Scale stable to zero on setWeight of 100%", 10, 100, 1, 1, 1, 1, 10, 10, 0, 10, {}),
    ("Do not scale canaryRS down to zero on non-zero weight", 1, 20, 1, 0, 1, 1, 0, 0, 1, 1, {}),
    ("Do not scale canaryRS down to zero on non-100 weight", 1, 90, 1, 0, 1, 1, 0, 0, 1, 1, {}),
    ("Scale canaryRS to zero on <50 weight without surge", 1, 49, 0, 1, 1, 1, 0, 0, 1, 0, {}),
    ("Scale stableRS down to zero on >=50 weight without surge", 1, 51, 0, 1, 1, 1, 0, 0, 0, 0, {}),
    ("Scale canaryRS to one on >=50 weight without surge and stable replicas", 1, 51, 0, 1, 0, 0, 0, 0, 0, 1, {}),
    ("Scale up Stable before canaryRS", 10, 30, 1, 0, 1, 1, 0, 0, 7, 1, {"older": (3, 3)}),
    ("Scale down canaryRS and stable", 10, 30, 0, 3, 8, 5, 4, 4, 7, 3, {}),
    ("Scale down stable and canary available", 10, 100, 1, 0, 10, 2, 10, 8, 2, 9, {}),
    ("Do not scale down canaryRS or stable when older RS count >= scaleDownCount", 10, 30, 0, 1, 8, 6, 4, 2, 8, 4,
     {"older": (3, 3)}),
    ("Do not round past maxSurge with uneven setWeight divisor", 10, 5, 0, 1, 10, 10, 0, 0, 9, 0, {}),
    ("Do not round past maxSurge with uneven setWeight divisor (part 2)", 10, 5, 0, 1, 9, 9, 0, 0, 9, 1, {}),
    ("Use maxUnavailable of 1 when percentage of maxUnavailable and maxSurge result in 0 replicas", 10, 10, "0%", "0%",
     10, 10, 0, 0, 9, 0, {}),
    ("Ignore setCanaryScale when trafficRouting is missing and use setWeight for replicas", 10, 20, "20%", 0,
     10, 10, 0, 0, 10, 2, {"scs": {"replicas": 9, "weight": 100}}),
    ("honor maxSurge during scale up when stableRS unavailable", 4, 100, 1, 0, 4, 1, 0, 0, 4, 1, {}),
    ("scale down to maxunavailable without exceeding maxSurge", 3, 99, 0, 2, 3, 3, 0, 0, 1, 0, {}),
    ("scale down to maxunavailable without exceeding maxSurge (part 2)", 3, 99, 0, 2, 1, 1, 0, 0, 1, 2, {}),
    ("honor maxUnavailable during scale down stableRS unavailable", 4, 100, 1, 0, 4, 1, 1, 1, 3, 1, {}),
    ("honor maxUnavailable when aborting or reducing weight part 1", 4, 0, 1, 0, 0, 0, 4, 4, 1, 4, {}),
    ("honor maxUnavailable when aborting or reducing weight part 2", 4, 0, 1, 0, 1, 0, 4, 4, 1, 4, {}),
    ("honor maxUnavailable when aborting or reducing weight part 3", 4, 0, 1, 0, 1, 1, 4, 4, 1, 3, {}),
    ("promote full does not consider weight", 4, 1, 4, 4, 4, 4, 0, 0, 0, 4, {"promote_full": True}),
    ("promote full still honors maxSurge/maxUnavailable", 4, 1, 3, 0, 4, 4, 0, 0, 4, 3, {"promote_full": True}),
]


@pytest.mark.parametrize("case", BASIC, ids=[c[0] for c in BASIC])
def test_basic_canary_counts_follow_argo(case):
    """TestCalculateReplicaCountsForCanary, rows without trafficRouting (CalculateReplicaCountsForBasicCanary)."""
    (_, replicas, weight, surge, unavail, s_spec, s_avail, c_spec, c_avail, want_stable, want_canary, extra) = case
    ro = new_rollout(replicas, weight, surge, unavail, scs=extra.get("scs"), promote_full=extra.get("promote_full", False))
    stable = RSCount("stable", s_spec, s_avail)
    canary = RSCount("canary", c_spec, c_avail)
    older = [RSCount("older", *extra["older"])] if "older" in extra else []
    assert basic_canary_counts(ro, canary, stable, older) == (want_canary, want_stable)


# (Go test name, replicas, setWeight, setCanaryScale, expected stable, expected canary, extra)
ROUTED = [
    ("For canary replicas, use setCanaryScale.replicas when specified along with trafficRouting (and ignore setWeight)",
     1, 100, {"replicas": 9}, 1, 9, {}),
    ("Use setCanaryScale.weight for canary replicas when specified with trafficRouting (and ignore setWeight)",
     4, 100, {"weight": 200}, 4, 8, {}),
    ("Ignore setCanaryScale replicas/weight when matchTrafficWeight is true",
     10, 20, {"replicas": 9, "weight": 100, "matchTrafficWeight": True}, 10, 2, {}),
    ("aborted with abortScaleDownDelaySeconds:0 and setCanaryScale", 1, 0, {"replicas": 1}, 1, 1,
     {"abort": True, "abort_delay": 0}),
    ("aborted with abortScaleDownDelaySeconds>0 and setCanaryScale", 1, 0, {"replicas": 1}, 1, 0,
     {"abort": True, "abort_delay": 30}),
    ("Honor MinPodsPerReplicaSet when using trafficRouting and starting canary", 10, 5, None, 10, 2, {"min_pods": 2}),
    ("Cap MinPodsPerReplicaSet when it exceeds rollout replicas with trafficRouting", 1, 100, None, 1, 1,
     {"min_pods": 2, "promote_full": True}),
]


@pytest.mark.parametrize("case", ROUTED, ids=[c[0] for c in ROUTED])
def test_traffic_routed_counts_follow_argo(case):
    """TestCalculateReplicaCountsForCanary, rows with trafficRouting (CalculateReplicaCountsForTrafficRoutedCanary):
    the stable stays at spec.replicas; setCanaryScale sets the canary."""
    _, replicas, weight, scs, want_stable, want_canary, extra = case
    ro = new_rollout(replicas, weight, 0, 0, scs=scs, routing={}, abort=extra.get("abort", False),
                     abort_delay=extra.get("abort_delay"), min_pods=extra.get("min_pods"),
                     promote_full=extra.get("promote_full", False))
    assert traffic_routed_counts(ro, None, None, None) == (want_canary, want_stable)


def test_traffic_routing_keeps_stable_at_spec_replicas():
    """TestCalculateReplicaCountsForCanaryTrafficRouting: 10 replicas, setWeight 10 -> canary 1, stable 10 (the
    case the demo's old basic arithmetic got wrong for Argo's getting-started guides)."""
    ro = new_rollout(10, 10, 0, 1, routing={})
    assert traffic_routed_counts(ro, None, None, None) == (1, 10)
    # and the getting-started nginx/istio shape: replicas 1, setWeight 5
    assert traffic_routed_counts(new_rollout(1, 5, "25%", "25%", routing={}), None, None, None) == (1, 1)


# (Go test name, replicas, setWeight ("rolloutMaxReplicas"), abort, canary weight, stable weight,
#  canary RS replicas, stable RS replicas/available, expected canary, expected stable, extra steps)
DYNAMIC = [
    ("Should scale stable replica up depending on next expected canary downscale step, if abort is true",
     10, 20, True, 60, 40, 6, (4, 4), 6, 8, [{"setWeight": 60}]),
    ("Should scale stable replica up depending on available canary replicas, if actual number of canaries is less "
     "than expected and abort is true", 10, 20, True, 60, 40, 1, (4, 4), 6, 8, [{"setWeight": 60}]),
    ("Should scale stable replica up depending on available stable replicas, if abort is true",
     10, 20, True, 60, 40, 2, (8, 4), 6, 8, [{"setWeight": 60}]),
    ("Should scale stable up as if canaries are scaled down to 0 if stable and canary replicas not passed, and abort "
     "is true", 10, 20, True, 60, 40, 0, (0, 0), 6, 10, [{"setWeight": 60}]),
    ("Should scale down stable", 10, 10, False, 10, 90, 0, (0, 0), 1, 9, []),
    ("Should take max of desired canary (20) > actual (10)", 10, 20, False, 10, 90, 0, (0, 0), 2, 9, []),
    ("Should leave canary scaled up if there is still traffic to it on abort", 10, 20, True, 20, 80, 0, (0, 0), 2, 10,
     []),
    ("Should reduce canary when there is less traffic to it on abort", 10, 20, True, 10, 90, 0, (0, 0), 1, 10, []),
]


@pytest.mark.parametrize("case", DYNAMIC, ids=[c[0] for c in DYNAMIC])
def test_dynamic_stable_scale_follows_argo(case):
    """TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale (dynamicStableScale: true, maxSurge 0,
    maxUnavailable 1)."""
    _, replicas, weight, abort, cw, sw, c_rs, s_rs, want_canary, want_stable, steps = case
    ro = new_rollout(replicas, weight, 0, 1, routing={}, abort=abort, steps_extra=steps)
    ro["spec"]["strategy"]["canary"]["dynamicStableScale"] = True
    stable = RSCount("stable", s_rs[0], s_rs[1]) if s_rs[0] > 0 else None
    canary = RSCount("canary", c_rs, c_rs) if c_rs > 0 else None
    weights = {"canary": {"weight": cw}, "stable": {"weight": sw}}
    assert traffic_routed_counts(ro, canary, stable, weights) == (want_canary, want_stable)


APPROX = [  # TestApproximateWeightedNewStableReplicaCounts: (replicas, weight, maxSurge, canary, stable)
    (0, 50, 0, 0, 0), (1, 1, 0, 0, 1), (1, 49, 0, 0, 1), (1, 50, 0, 1, 0), (1, 1, 1, 1, 1), (1, 100, 1, 1, 0),
    (2, 1, 0, 1, 1), (2, 99, 0, 1, 1), (2, 1, 1, 1, 2), (2, 99, 1, 2, 1), (3, 10, 0, 1, 2), (3, 50, 0, 2, 1),
    (3, 10, 1, 1, 3), (3, 33, 1, 1, 2), (3, 49, 1, 2, 2), (10, 14, 0, 1, 9), (10, 15, 0, 2, 8), (10, 99, 0, 9, 1),
    (10, 1, 1, 1, 10), (10, 19, 1, 2, 9), (10, 23, 1, 2, 8), (10, 24, 1, 3, 8), (10, 99, 1, 10, 1),
]


@pytest.mark.parametrize("replicas,weight,surge,canary,stable", APPROX)
def test_approximate_weighted_counts_follow_argo(replicas, weight, surge, canary, stable):
    """TestApproximateWeightedNewStableReplicaCounts (maxWeight 100)."""
    assert approximate_weighted_counts(replicas, weight, 100, surge) == (canary, stable)


def test_traffic_weight_to_replicas_rounds_up():
    """TestTrafficWeightToReplicas."""
    assert [weight_to_replicas(10, w, 100) for w in (0, 20, 25, 33, 99, 100)] == [0, 2, 3, 4, 10, 10]
    assert weight_to_replicas(23, 100000000, 100000000) == 23
