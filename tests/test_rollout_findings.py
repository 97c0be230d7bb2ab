"""Findings: the rules over store contents, and the debounce that keeps them from flapping."""

from __future__ import annotations

from test_rollout_fixtures import (NOW, config_error_cs, crashloop_cs, deployment, event, evicted_pod, image_pull_cs,
                                   oom_cs, pod, running_cs, store_of, ts, unschedulable_pod, canary_rollout)
from tui.rollout.findings import (Finding, FindingHistory, FindingTracker, evaluate, pod_failure, sort_findings)
from tui.rollout.target import Target
from tui.rollout.tracks import TrackResolver

STABLE, CANARY = "6b8f7c9d5", "7f9c4d8b6"
TARGET = Target("Rollout", "checkout", "demo", "app=checkout")


def labels(h):
    return {"app": "checkout", "rollouts-pod-template-hash": h}


def crashloop_store(**extra):
    ro = canary_rollout(stable=STABLE, canary=CANARY)
    pods = [pod(f"checkout-{STABLE}-s{i}", labels=labels(STABLE)) for i in range(4)]
    pods.append(pod(f"checkout-{CANARY}-c0", labels=labels(CANARY), containers=[crashloop_cs("app", 5)]))
    return store_of(pods=pods, rollouts=[ro], events=extra.get("events", [])), ro


def by_code(findings, code):
    return [f for f in findings if f.code == code]


# ---- rules ---------------------------------------------------------------------------------------


def test_crashloop_in_canary_only_raises_failing_for_canary_only():
    store, ro = crashloop_store()
    found = evaluate(store, TrackResolver(rollout=ro), TARGET, NOW, FindingHistory())
    failing = by_code(found, "track-pods-failing")
    assert [f.track for f in failing] == ["canary"]
    f = failing[0]
    assert f.severity == "critical"
    ev = dict(f.evidence)
    assert ev["container"] == "app"
    assert ev["reason"] == "CrashLoopBackOff"
    assert ev["message"].startswith("back-off 2m40s restarting failed container=app")
    assert ev["last termination"].startswith("Error, exit code 1, at ")
    assert f.objects == (f"Pod/checkout-{CANARY}-c0",)
    assert "canary" in f.summary and "CrashLoopBackOff" in f.summary and f.summary.endswith(".")
    assert not [x for x in found if x.track == "stable"]


def test_failure_kinds():
    cases = {
        "CreateContainerConfigError": pod("a", containers=[config_error_cs()]),
        "ImagePullBackOff": pod("b", containers=[image_pull_cs()]),
        "OOMKilled": pod("c", containers=[oom_cs()]),
        "Unschedulable": unschedulable_pod("d"),
        "Evicted": evicted_pod("e"),
    }
    for reason, p in cases.items():
        f = pod_failure(p, NOW)
        assert f is not None and f.reason == reason, (reason, f)
    cfg = pod_failure(cases["CreateContainerConfigError"], NOW)
    assert cfg.message == "couldn't find key DATABASE_URL in ConfigMap demo/checkout-config"
    assert pod_failure(cases["OOMKilled"], NOW).last_termination.startswith("OOMKilled, exit code 137")
    assert "Insufficient memory" in pod_failure(cases["Unschedulable"], NOW).message


def test_healthy_and_terminating_pods_are_not_failing():
    assert pod_failure(pod("a"), NOW) is None
    old = pod("b", containers=[running_cs(restarts=1, last={"exitCode": 1, "reason": "Error", "finishedAt": ts(7200)})])
    assert pod_failure(old, NOW) is None  # an old restart is history, not a failure
    t = pod("c", containers=[crashloop_cs()])
    t["metadata"]["deletionTimestamp"] = ts(1)
    assert pod_failure(t, NOW) is None


def test_not_ready_carries_latest_unhealthy_event():
    ro = canary_rollout(stable=STABLE, canary=CANARY)
    bad = pod(f"checkout-{STABLE}-s1", labels=labels(STABLE), containers=[running_cs(ready=False)])
    events = [
        event("e1", reason="Unhealthy", obj_name=bad["metadata"]["name"], ago=60,
              message="Readiness probe failed: Get \"http://10.1.0.5:8080/ready\": context deadline exceeded"),
        event("e2", reason="Unhealthy", obj_name=bad["metadata"]["name"], ago=5, count=7,
              message="Readiness probe failed: HTTP probe failed with statuscode: 503"),
    ]
    store = store_of(pods=[pod(f"checkout-{STABLE}-s0", labels=labels(STABLE)), bad], rollouts=[ro], events=events)
    found = evaluate(store, TrackResolver(rollout=ro), TARGET, NOW)
    [f] = by_code(found, "track-pods-not-ready")
    assert (f.track, f.severity) == ("stable", "warning")
    assert dict(f.evidence)["probe"] == "Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert "statuscode: 503" in f.summary


def test_just_started_pod_without_probe_failures_is_not_reported():
    ro = canary_rollout(stable=STABLE, canary=CANARY)
    fresh = pod("checkout-x", labels=labels(CANARY), containers=[running_cs(ready=False, started_ago=3)])
    found = evaluate(store_of(pods=[fresh], rollouts=[ro]), TrackResolver(rollout=ro), TARGET, NOW)
    assert not by_code(found, "track-pods-not-ready")


def test_restarts_rising_in_one_track_only():
    ro = canary_rollout(stable=STABLE, canary=CANARY)
    res = TrackResolver(rollout=ro)
    hist = FindingHistory(restart_window=600)
    s0 = pod("s0", labels=labels(STABLE))
    # exit code 0: the container quit "cleanly" (say, on a liveness kill it handles), so no pod is failing
    c0 = pod("c0", labels=labels(CANARY), containers=[running_cs(restarts=1, last={"exitCode": 0, "reason": "Completed",
                                                                                 "finishedAt": ts(3600)})])
    assert not by_code(evaluate(store_of(pods=[s0, c0], rollouts=[ro]), res, TARGET, NOW, hist), "track-restarts")
    c0["status"]["containerStatuses"][0]["restartCount"] = 3  # two more restarts, ready again in between
    c0["status"]["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"] = ts(-20)
    found = evaluate(store_of(pods=[s0, c0], rollouts=[ro]), res, TARGET, NOW + 30, hist)
    [f] = by_code(found, "track-restarts")
    assert f.track == "canary" and f.severity == "warning"
    assert "restarted 2 times" in f.summary and "stable pods did not restart" in f.summary
    # both tracks rising: not a track difference
    s0["status"]["containerStatuses"][0]["restartCount"] = 1
    found = evaluate(store_of(pods=[s0, c0], rollouts=[ro]), res, TARGET, NOW + 60, hist)
    assert not by_code(found, "track-restarts")


def test_progress_deadline_exceeded_is_critical():
    d = deployment("web", replicas=3, updated=1, available=2, total=4, conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": 'ReplicaSet "web-5d9f" has timed out progressing.'}])
    t = Target("Deployment", "web", "demo", "app=web")
    [f] = evaluate(store_of(deployments=[d]), TrackResolver(), t, NOW)
    assert (f.code, f.severity) == ("rollout-stalled", "critical")
    assert 'has timed out progressing' in dict(f.evidence)["message"]


def test_replica_failure():
    d = deployment("web", updated=2, available=2, conditions=[
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
         "message": 'pods "web-5d9f-" is forbidden: exceeded quota: compute, requested: cpu=2'}])
    [f] = evaluate(store_of(deployments=[d]), TrackResolver(), Target("Deployment", "web", "demo", "app=web"), NOW)
    assert (f.code, f.severity) == ("rollout-stalled", "warning") and "exceeded quota" in f.summary


def test_lagging_rollout_is_stalled_only_after_no_progress():
    t = Target("Deployment", "web", "demo", "app=web")
    hist = FindingHistory(stall_after=60)
    d = deployment("web", replicas=3, updated=2, available=1, total=4)
    assert evaluate(store_of(deployments=[d]), TrackResolver(), t, NOW, hist) == []
    assert evaluate(store_of(deployments=[d]), TrackResolver(), t, NOW + 59, hist) == []
    [f] = evaluate(store_of(deployments=[d]), TrackResolver(), t, NOW + 61, hist)
    assert f.code == "rollout-stalled" and "only 2 of 3 replicas updated" in f.summary
    d2 = deployment("web", replicas=3, updated=3, available=2, total=4)  # progress: the clock restarts
    assert evaluate(store_of(deployments=[d2]), TrackResolver(), t, NOW + 62, hist) == []


def test_paused_canary_mid_steps_is_not_stalled():
    ro = canary_rollout()
    hist = FindingHistory(stall_after=1)
    for dt in (0, 100, 200):
        found = evaluate(store_of(rollouts=[ro]), TrackResolver(rollout=ro), TARGET, NOW + dt, hist)
        assert not by_code(found, "rollout-stalled")


def test_controller_not_observing_and_argo_hash_generation():
    ro = canary_rollout(generation=5, observed=4)
    found = evaluate(store_of(rollouts=[ro]), TrackResolver(rollout=ro), TARGET, NOW)
    [f] = by_code(found, "controller-not-observing")
    assert f.severity == "info" and dict(f.evidence) == {"generation": "5", "observedGeneration": "4"}
    ro = canary_rollout(generation=5, observed="5")  # string, as Argo writes it
    assert not evaluate(store_of(rollouts=[ro]), TrackResolver(rollout=ro), TARGET, NOW)
    ro = canary_rollout(generation=5, observed="7d9c8b5f6")  # pre-1.0 Argo: a hash, not comparable
    assert not by_code(evaluate(store_of(rollouts=[ro]), TrackResolver(rollout=ro), TARGET, NOW),
                       "controller-not-observing")


# ---- debounce ------------------------------------------------------------------------------------


def F(code="track-pods-failing", severity="critical", track="canary"):
    return Finding(code, severity, track, "something.")


class Clock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


def test_condition_held_less_than_raise_after_raises_nothing():
    clock = Clock()
    tr = FindingTracker(raise_after=5, clear_after=30, clock=clock)
    for t in (0, 1, 2, 3, 4.9):
        clock.t = t
        assert tr.update([F()]) == []
    clock.t = 5.5
    assert tr.update([]) == []  # went away before it was shown
    clock.t = 6
    assert tr.update([F()]) == []  # starts from zero
    clock.t = 10.9
    assert tr.update([F()]) == []
    clock.t = 11
    [f] = tr.update([F()])
    assert f.since == 6 and f.holding


def test_clearing_waits_clear_after():
    tr = FindingTracker(raise_after=5, clear_after=30, clock=Clock())
    tr.update([F()], now=0)
    assert tr.update([F()], now=5)
    [f] = tr.update([], now=6)
    assert f.holding is False
    assert tr.update([], now=35.9)
    assert tr.update([], now=36) == []


def test_condition_coming_back_while_clearing_stays_shown():
    tr = FindingTracker(raise_after=5, clear_after=30)
    tr.update([F()], now=0)
    tr.update([F()], now=5)
    tr.update([], now=10)
    [f] = tr.update([F()], now=20)
    assert f.holding and f.since == 0
    tr.update([], now=30)
    assert tr.update([], now=59.9) and tr.update([], now=60) == []  # 30 s after it was first seen gone (30)


def test_sorted_most_severe_first():
    tr = FindingTracker(raise_after=0, clear_after=0)
    out = tr.update([F("controller-not-observing", "info", None), F("track-restarts", "warning", "stable"),
                     F("track-pods-failing", "critical", "canary")], now=0)
    assert [f.severity for f in out] == ["critical", "warning", "info"]
    assert sort_findings(reversed(out)) == out


def test_crashloop_end_to_end_with_debounce():
    store, ro = crashloop_store()
    res, hist, tr = TrackResolver(rollout=ro), FindingHistory(), FindingTracker(raise_after=5, clear_after=30)
    assert tr.update(evaluate(store, res, TARGET, NOW, hist), NOW) == []
    shown = tr.update(evaluate(store, res, TARGET, NOW + 5, hist), NOW + 5)
    assert [(f.code, f.track) for f in shown] == [("track-pods-failing", "canary")]
