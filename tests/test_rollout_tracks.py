"""Track resolution: label conventions and Argo Rollouts' pod-template hashes."""

from __future__ import annotations

from test_rollout_fixtures import bluegreen_rollout, canary_rollout, pod
from tui.rollout.tracks import TrackConventions, TrackResolver

STABLE, CANARY = "6b8f7c9d5", "7f9c4d8b6"


def test_default_label_conventions():
    r = TrackResolver()
    assert r.track_of(pod("a", labels={"app": "x", "deployment": "canary"})) == "canary"
    assert r.track_of(pod("a", labels={"app": "x", "deployment": "stable"})) == "stable"
    assert r.track_of(pod("a", labels={"app": "x", "environment": "green"})) == "green"
    assert r.track_of(pod("a", labels={"app": "x", "track": "canary"})) == "canary"
    assert r.track_of(pod("a", labels={"app": "x", "track": "weird"})) is None
    assert r.track_of(pod("a", labels={"app": "x"})) is None


def test_argo_canary_hashes_win_over_static_labels():
    r = TrackResolver(rollout=canary_rollout(stable=STABLE, canary=CANARY))
    h = "rollouts-pod-template-hash"
    assert r.track_of(pod("a", labels={h: STABLE})) == "stable"
    assert r.track_of(pod("a", labels={h: CANARY, "track": "stable"})) == "canary"
    assert r.track_of(pod("a", labels={h: "0ld0ld"})) is None
    assert r.strategy == "canary"


def test_fully_promoted_canary_has_no_canary_track():
    r = TrackResolver(rollout=canary_rollout(stable=STABLE, canary=STABLE))
    assert r.track_of(pod("a", labels={"rollouts-pod-template-hash": STABLE})) == "stable"
    assert r.hashes == {STABLE: "stable"}


def test_bluegreen_active_preview_and_environment_label_preferred():
    ro = bluegreen_rollout(active="aaa111", preview="bbb222")
    r = TrackResolver(rollout=ro)
    h = "rollouts-pod-template-hash"
    assert r.track_of(pod("a", labels={h: "aaa111"})) == "active"
    assert r.track_of(pod("a", labels={h: "bbb222"})) == "preview"
    assert r.track_of(pod("a", labels={h: "bbb222", "environment": "green"})) == "green"


def test_replicasets_and_services():
    ro = canary_rollout(stable=STABLE, canary=CANARY)
    r = TrackResolver(rollout=ro)
    rs = {"kind": "ReplicaSet", "metadata": {"name": f"checkout-{CANARY}", "labels": {"rollouts-pod-template-hash": CANARY}},
          "spec": {"template": {"metadata": {"labels": {}}}}}
    assert r.track_of(rs) == "canary"
    rs_no_kind = {"metadata": {"name": "x"}, "spec": {"replicas": 1, "template": {"metadata": {"labels": {"track": "stable"}}}}}
    assert r.track_of(rs_no_kind) == "stable"
    svc = {"metadata": {"name": "checkout-canary"}, "spec": {"ports": [{"port": 80}], "selector": {"app": "checkout"}}}
    assert r.track_of(svc) == "canary"  # by the role the Rollout gives it
    svc = {"metadata": {"name": "other"}, "spec": {"selector": {"app": "checkout", "rollouts-pod-template-hash": STABLE}}}
    assert r.track_of(svc, kind="services") == "stable"
    svc = {"metadata": {"name": "web-blue"}, "spec": {"type": "ClusterIP", "selector": {"environment": "blue"}}}
    assert TrackResolver().track_of(svc) == "blue"


def test_custom_conventions_and_order():
    conv = TrackConventions.from_mapping({"example.com/track": {"prod": "stable", "next": "canary"}})
    r = TrackResolver(conv)
    assert r.track_of(pod("a", labels={"example.com/track": "next"})) == "canary"
    assert r.track_of(pod("a", labels={"deployment": "canary"})) is None  # replaced the defaults
    # first rule wins
    r = TrackResolver()
    assert r.track_of(pod("a", labels={"deployment": "canary", "track": "stable"})) == "canary"


def test_deployment_without_replicasets_keeps_label_conventions():
    dep = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"strategy": {"type": "RollingUpdate"}}}
    r = TrackResolver(rollout=dep)
    assert r.hashes == {} and r.track_of(pod("a", labels={"track": "canary"})) == "canary"


def _rs(name: str, h: str, revision: int, replicas: int) -> dict:
    return {"metadata": {"name": name, "labels": {"app": "web", "pod-template-hash": h},
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                         "ownerReferences": [{"kind": "Deployment", "name": "web"}]},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas}}


def test_deployment_rolling_update_new_replicaset_is_the_canary():
    dep = {"metadata": {"name": "web"}, "spec": {"strategy": {"type": "RollingUpdate"}}}
    old, new = _rs("web-aaa", "aaa", 1, 3), _rs("web-bbb", "bbb", 2, 1)
    r = TrackResolver(rollout=dep, replicasets=(old, new), workload_kind="Deployment")
    assert r.track_of(pod("a", labels={"app": "web", "pod-template-hash": "bbb"})) == "canary"
    assert r.track_of(pod("b", labels={"app": "web", "pod-template-hash": "aaa"})) == "stable"
    # labels of a convention still win over the hash
    assert r.track_of(pod("c", labels={"pod-template-hash": "bbb", "track": "stable"})) == "stable"
    # once the old ReplicaSet is scaled to zero the new version is simply stable
    done = TrackResolver(rollout=dep, replicasets=(_rs("web-aaa", "aaa", 1, 0), new), workload_kind="Deployment")
    assert done.track_of(pod("a", labels={"pod-template-hash": "bbb"})) == "stable"
