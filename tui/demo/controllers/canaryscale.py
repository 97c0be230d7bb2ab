"""Argo Rollouts' canary replica arithmetic, ported from argo-rollouts utils/replicaset/canary.go and replicaset.go.

Pure functions over the Rollout as the API holds it (a dict: spec, status) and `RSCount`s (spec replicas and
available replicas of a ReplicaSet), so the demo's controller scales exactly as Argo's does and the tests can
replay Argo's own table tests (tests/test_demo_argo_traffic.py names each case).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"


@dataclass(frozen=True)
class RSCount:
    """What the arithmetic reads of a ReplicaSet: its name, spec.replicas, status.availableReplicas and
    status.replicas."""

    name: str
    replicas: int
    available: int = 0
    status_replicas: int | None = None

    @property
    def created(self) -> int:
        return self.replicas if self.status_replicas is None else self.status_replicas


def _canary(ro: dict) -> dict:
    return ((ro.get("spec") or {}).get("strategy") or {}).get("canary") or {}


def routed(ro: dict) -> bool:
    """Whether the canary has spec.strategy.canary.trafficRouting (an empty one counts, as a non-nil Go pointer)."""
    return _canary(ro).get("trafficRouting") is not None


def _status(ro: dict) -> dict:
    return ro.get("status") or {}


def spec_replicas(ro: dict) -> int:
    r = (ro.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def max_traffic_weight(ro: dict) -> int:
    """weightutil.MaxTrafficWeight."""
    tr = _canary(ro).get("trafficRouting")
    if tr and tr.get("maxTrafficWeight") is not None:
        return int(tr["maxTrafficWeight"])
    return 100


def _int_or_percent(v, total: int, round_up: bool) -> int:
    """intstr.GetValueFromIntOrPercent (the deprecated form Argo calls: "25" is read as 25 %)."""
    if isinstance(v, str):
        s = v.replace("%", "")
        try:
            pct = int(s)
        except ValueError:
            return 0
        x = pct * total / 100.0
        return int(math.ceil(x)) if round_up else int(math.floor(x))
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def resolve_fenceposts(max_surge, max_unavailable, desired: int) -> tuple[int, int]:
    """resolveFenceposts: both zero means maxUnavailable 1."""
    surge = _int_or_percent(0 if max_surge is None else max_surge, desired, True)
    unavailable = _int_or_percent(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(ro: dict) -> int:
    cs = _canary(ro)
    if not cs and "canary" not in ((ro.get("spec") or {}).get("strategy") or {}):
        return 0
    s, _ = resolve_fenceposts(cs.get("maxSurge", DEFAULT_MAX_SURGE), cs.get("maxUnavailable", DEFAULT_MAX_UNAVAILABLE),
                              spec_replicas(ro))
    return s


def max_unavailable(ro: dict) -> int:
    n = spec_replicas(ro)
    if n == 0:
        return 0
    strategy = (ro.get("spec") or {}).get("strategy") or {}
    if "canary" in strategy:
        cs = strategy.get("canary") or {}
        _, u = resolve_fenceposts(cs.get("maxSurge", DEFAULT_MAX_SURGE),
                                  cs.get("maxUnavailable", DEFAULT_MAX_UNAVAILABLE), n)
    else:
        u = _int_or_percent((strategy.get("blueGreen") or {}).get("maxUnavailable", DEFAULT_MAX_UNAVAILABLE), n, False)
    return min(u, n)


# ------------------------------------------------------------------------------------------------ steps

def current_step(ro: dict) -> tuple[dict | None, int | None]:
    """GetCurrentCanaryStep: (step, index); (None, index) past the last step; (None, None) without steps."""
    steps = _canary(ro).get("steps") or []
    if not steps:
        return None, None
    idx = int(_status(ro).get("currentStepIndex") or 0)
    if idx >= len(steps):
        return None, idx
    return steps[idx], idx


def current_set_weight(ro: dict) -> int:
    """GetCurrentSetWeight."""
    if _status(ro).get("abort"):
        return 0
    step, idx = current_step(ro)
    if step is None:
        return max_traffic_weight(ro)
    steps = _canary(ro).get("steps") or []
    for i in range(idx, -1, -1):
        if steps[i].get("setWeight") is not None:
            return int(steps[i]["setWeight"])
    return 0


def abort_scale_down_delay(ro: dict) -> float | None:
    """GetAbortScaleDownDelaySecondsOrDefault for a canary: None without traffic routing or for an explicit 0
    (leave the canary up); otherwise the delay, 30 s by default."""
    cs = _canary(ro)
    if not routed(ro):
        return None
    if "abortScaleDownDelaySeconds" in cs:
        v = cs.get("abortScaleDownDelaySeconds")
        return None if not v else float(v)
    return 30.0


def use_set_canary_scale(ro: dict) -> dict | None:
    """UseSetCanaryScale: the setCanaryScale in force (traffic routing only; matchTrafficWeight ends it)."""
    cs = _canary(ro)
    if not routed(ro):
        return None
    if _status(ro).get("abort") and abort_scale_down_delay(ro) is not None:
        return None
    step, idx = current_step(ro)
    if step is None:
        return None
    steps = cs.get("steps") or []
    for i in range(idx, -1, -1):
        scs = steps[i].get("setCanaryScale")
        if scs is None:
            continue
        if scs.get("matchTrafficWeight"):
            return None
        return scs
    return None


def desired_canary_weight(ro: dict, new_rs: RSCount | None, stable_rs: RSCount | None) -> int:
    """GetDesiredCanaryWeight: on abort with dynamicStableScale, step back through the setWeights as the
    stable comes up."""
    cs = _canary(ro)
    st = _status(ro)
    if st.get("abort") and cs.get("dynamicStableScale") and new_rs is not None and stable_rs is not None:
        mw = max_traffic_weight(ro)
        n = spec_replicas(ro)
        expected = n - stable_rs.available
        canary = max(expected, new_rs.available)
        if "abortScaleDownDelaySeconds" in cs:
            canary = expected
        for step in reversed(cs.get("steps") or []):
            if step.get("setWeight") is not None:
                if weight_to_replicas(n, int(step["setWeight"]), mw) < canary:
                    return int(step["setWeight"])
        return 0
    return current_set_weight(ro)


def canary_replicas_or_weight(ro: dict, new_rs: RSCount | None, stable_rs: RSCount | None) -> tuple[int | None, int]:
    """GetCanaryReplicasOrWeight: (explicit canary replicas or None, weight)."""
    st = _status(ro)
    if st.get("promoteFull") or not st.get("stableRS") or st.get("currentPodHash") == st.get("stableRS"):
        return None, max_traffic_weight(ro)
    scs = use_set_canary_scale(ro)
    if scs is not None:
        if scs.get("replicas") is not None:
            return int(scs["replicas"]), 0
        if scs.get("weight") is not None:
            return None, int(scs["weight"])
    return None, desired_canary_weight(ro, new_rs, stable_rs)


# ------------------------------------------------------------------------------------------------ counts

def weight_to_replicas(replicas: int, weight: int, max_weight: int) -> int:
    """trafficWeightToReplicas: rounds up."""
    return int(math.ceil(weight * replicas / max_weight))


def _tied(desired_weight: int, max_weight: int, total: int) -> bool:
    x = total * (desired_weight / max_weight)
    return x - math.floor(x) == 0.5


def _delta(desired_weight: int, max_weight: int, canary: int, total: int) -> float:
    return abs(canary * max_weight / total - desired_weight)


def approximate_weighted_counts(spec: int, desired_weight: int, max_weight: int, surge: int) -> tuple[int, int]:
    """approximateWeightedCanaryStableReplicaCounts: the (canary, stable) counts closest to the weight."""
    if spec == 0:
        return 0, 0
    ceil_c = int(math.ceil(spec * desired_weight / max_weight))
    floor_c = int(math.floor(spec * desired_weight / max_weight))
    tied = _tied(desired_weight, max_weight, spec)
    zero_ok = desired_weight == max_weight or desired_weight == 0 or (spec == 1 and surge == 0)
    options = []
    if ceil_c < spec or zero_ok:
        options.append((ceil_c, spec))
    if not tied and (floor_c != 0 or zero_ok):
        options.append((floor_c, spec))
    if surge > 0:
        options.append((ceil_c, spec + 1))
        if not _tied(desired_weight, max_weight, spec + 1) and (floor_c != 0 or zero_ok):
            options.append((floor_c, spec + 1))
    if not options:
        return 0, spec
    best = options[0]
    best_d = _delta(desired_weight, max_weight, *best)
    for o in options[1:]:
        d = _delta(desired_weight, max_weight, *o)
        if d < best_d:
            best, best_d = o, d
    return best[0], best[1] - best[0]


def _for_scale_down(rs: RSCount | None, ignore_availability: bool) -> int:
    """GetReplicasForScaleDown."""
    if rs is None:
        return 0
    if rs.replicas < rs.available or ignore_availability:
        return rs.replicas
    return rs.available


def _scale_down_count(drain: RSCount | None, desired: int, scale_down: int, count: int) -> int:
    if drain is not None and drain.replicas > desired:
        return max(desired, drain.replicas - scale_down)
    return count


def _within_limits(drain: RSCount | None, adjust: RSCount | None, drain_count: int, adjust_count: int,
                   max_allowed: int, min_available: int) -> tuple[int, int]:
    """adjustReplicaWithinLimits."""
    over = max(0, adjust_count + drain_count - max_allowed)
    total_avail = 0
    if drain is not None:
        total_avail += min(drain.available, drain_count)
    if adjust is not None:
        adjust_count -= over
        total_avail += min(adjust.available, adjust_count)
        extra = max(0, adjust.available - adjust_count)
        need = max(0, min_available - total_avail)
        adjust_count += min(extra, need)
        over = max(0, adjust_count + drain_count - max_allowed)
        drain_count -= over
    return drain_count, adjust_count


def stable_rs_exists(new_rs: RSCount | None, stable_rs: RSCount | None) -> bool:
    """CheckStableRSExists."""
    if stable_rs is None:
        return False
    return new_rs is None or new_rs.name != stable_rs.name


def basic_canary_counts(ro: dict, new_rs: RSCount | None, stable_rs: RSCount | None,
                        old_rss: list[RSCount | None]) -> tuple[int, int]:
    """CalculateReplicaCountsForBasicCanary: (new, stable), within maxSurge and maxUnavailable."""
    spec = spec_replicas(ro)
    _, desired_weight = canary_replicas_or_weight(ro, new_rs, stable_rs)
    surge = max_surge(ro)
    mw = max_traffic_weight(ro)
    want_new, want_stable = approximate_weighted_counts(spec, desired_weight, mw, surge)
    stable_count = new_count = 0
    if new_rs is not None:
        new_count = new_rs.replicas
    scale_stable = stable_rs_exists(new_rs, stable_rs)
    if scale_stable:
        stable_count = stable_rs.replicas
    else:
        want_new, want_stable = spec, 0
    max_allowed = spec + surge
    old = [r for r in old_rss if r is not None]
    all_rs = old + ([new_rs] if new_rs is not None else []) + ([stable_rs] if scale_stable else [])
    scale_up = max_allowed - sum(r.replicas for r in all_rs)
    if scale_stable and stable_rs.replicas < want_stable and scale_up > 0:
        if stable_rs.replicas + scale_up < want_stable:
            stable_count = stable_rs.replicas + scale_up
            scale_up = 0
        else:
            stable_count = want_stable
            scale_up -= want_stable - stable_rs.replicas
    if new_rs is not None and new_rs.replicas < want_new and scale_up > 0:
        new_count = min(new_rs.replicas + scale_up, want_new)
    if sum(r.replicas for r in old) > 0:
        return new_count, stable_count
    min_available = spec - max_unavailable(ro)
    increasing = new_rs is None or want_new >= new_rs.replicas
    to_scale_down = _for_scale_down(new_rs, not increasing) + _for_scale_down(stable_rs, increasing)
    if to_scale_down <= min_available:
        return new_count, stable_count
    scale_down = to_scale_down - min_available
    if not increasing:
        new_count = _scale_down_count(new_rs, want_new, scale_down, new_count)
        new_count, stable_count = _within_limits(new_rs, stable_rs, new_count, stable_count, max_allowed, min_available)
    elif scale_stable:
        stable_count = _scale_down_count(stable_rs, want_stable, scale_down, stable_count)
        stable_count, new_count = _within_limits(stable_rs, new_rs, stable_count, new_count, max_allowed, min_available)
    return new_count, stable_count


def min_pods_per_rs(ro: dict, count: int) -> int:
    """CheckMinPodsPerReplicaSet (traffic routing only), capped at spec.replicas."""
    cs = _canary(ro)
    if count == 0 or cs.get("minPodsPerReplicaSet") is None or not routed(ro):
        return count
    return max(count, min(int(cs["minPodsPerReplicaSet"]), spec_replicas(ro)))


def traffic_routed_counts(ro: dict, new_rs: RSCount | None, stable_rs: RSCount | None,
                          weights: dict | None) -> tuple[int, int]:
    """CalculateReplicaCountsForTrafficRoutedCanary: (canary, stable). Without dynamicStableScale the stable
    stays at spec.replicas; `weights` is status.canary.weights as last written."""
    cs = _canary(ro)
    spec = spec_replicas(ro)
    scs_replicas, desired_weight = canary_replicas_or_weight(ro, new_rs, stable_rs)
    mw = max_traffic_weight(ro)
    if scs_replicas is not None:
        canary = scs_replicas
    else:
        canary = min_pods_per_rs(ro, weight_to_replicas(spec, desired_weight, mw))
    if not cs.get("dynamicStableScale"):
        return canary, spec
    stable = weight_to_replicas(spec, mw - desired_weight, mw)
    if weights is not None:
        sw = int(((weights.get("stable") or {}).get("weight")) or 0)
        stable = max(stable, weight_to_replicas(spec, sw, mw))
        if _status(ro).get("abort"):
            cw = int(((weights.get("canary") or {}).get("weight")) or 0)
            canary = max(weight_to_replicas(spec, cw, mw), canary)
    return min_pods_per_rs(ro, canary), min_pods_per_rs(ro, stable)


def canary_counts(ro: dict, new_rs: RSCount | None, stable_rs: RSCount | None, old_rss: list[RSCount],
                  weights: dict | None) -> tuple[int, int]:
    """The (new, stable) counts Argo wants now: basic or traffic-routed."""
    if routed(ro):
        return traffic_routed_counts(ro, new_rs, stable_rs, weights)
    return basic_canary_counts(ro, new_rs, stable_rs, old_rss)


def progress_threshold_met(ro: dict, rs: RSCount | None, desired: int) -> bool:
    """ReplicaProgressThresholdMet (no threshold: all desired replicas available)."""
    th = _canary(ro).get("replicaProgressThreshold")
    if th is None or rs is None or int(th.get("value", 0)) < 0:
        return rs is not None and desired == rs.replicas and desired == rs.available
    if th.get("type") == "Percent":
        if desired == 0:
            return True
        return rs.available / desired * 100 >= int(th["value"]) - 1e-10
    return rs.available >= int(th["value"])


def at_desired_counts(ro: dict, new_rs: RSCount | None, stable_rs: RSCount | None, old_rss: list[RSCount],
                      weights: dict | None) -> bool:
    """AtDesiredReplicaCountsForCanary."""
    cs = _canary(ro)
    is_routed = routed(ro)
    want_new, want_stable = canary_counts(ro, new_rs, stable_rs, old_rss, weights)
    if not progress_threshold_met(ro, new_rs, want_new):
        return False
    if not is_routed or not cs.get("dynamicStableScale"):
        if not (stable_rs is not None and stable_rs.replicas == want_stable and stable_rs.created == want_stable):
            return False
    if not is_routed and sum(r.available for r in old_rss) != 0:
        return False
    return True
