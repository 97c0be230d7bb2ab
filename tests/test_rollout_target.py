"""Resolving --app / -l into a Target, the picker's candidates, and the header's rollout summary."""

from __future__ import annotations

import pytest

from test_rollout_fixtures import bluegreen_rollout, canary_rollout, deployment, pod, store_of
from tui.rollout.target import (AmbiguousTarget, BadSelector, Target, TargetNotFound, candidates, parse_selector,
                                resolve_target, rollout_summary, selector_string, target_object_names, target_pods)


def test_selector_parsing_and_matching():
    s = parse_selector("app=checkout,tier!=db,env in (prod, staging),!legacy,track")
    assert s.matches({"app": "checkout", "env": "prod", "track": "x"})
    assert not s.matches({"app": "checkout", "env": "dev", "track": "x"})
    assert not s.matches({"app": "checkout", "env": "prod", "track": "x", "legacy": "1"})
    assert not s.matches({"app": "checkout", "env": "prod", "track": "x", "tier": "db"})
    assert parse_selector("a notin (b)").matches({})
    assert parse_selector("").matches({"anything": "x"})
    assert parse_selector("app==checkout").matches({"app": "checkout"})
    with pytest.raises(BadSelector):
        parse_selector("a=(b")
    with pytest.raises(BadSelector):
        parse_selector("a b c")


def test_selector_string_from_label_selector():
    assert selector_string({"matchLabels": {"b": "2", "a": "1"},
                            "matchExpressions": [{"key": "t", "operator": "In", "values": ["x", "y"]},
                                                 {"key": "u", "operator": "DoesNotExist"}]}) == "a=1,b=2,t in (x,y),!u"


def test_resolve_rollout_then_deployment_then_label():
    ro = canary_rollout()
    dep = deployment("web")
    pods = [pod("p1", labels={"app.kubernetes.io/name": "cart"})]
    t = resolve_target("checkout", None, [ro], [dep], pods, namespace="demo")
    assert t == Target("Rollout", "checkout", "demo", "app=checkout")
    assert resolve_target("web", None, [ro], [dep], pods).kind == "Deployment"
    t = resolve_target("cart", None, [ro], [dep], pods)
    assert (t.kind, t.namespace, t.selector) == ("Label", "demo", "app.kubernetes.io/name=cart")


def test_not_found_suggests_close_names():
    with pytest.raises(TargetNotFound, match="did you mean checkout"):
        resolve_target("checkot", None, [canary_rollout()], [], [])


def test_ambiguous_across_namespaces_lists_candidates():
    a, b = deployment("web"), deployment("web")
    b["metadata"]["namespace"] = "prod"
    with pytest.raises(AmbiguousTarget) as e:
        resolve_target("web", None, [], [a, b], [])
    assert {c.namespace for c in e.value.candidates} == {"demo", "prod"}
    assert "demo/web" in str(e.value) and "prod/web" in str(e.value)


def test_no_name_picks_the_only_rollout_or_asks():
    assert resolve_target(None, None, [canary_rollout()], [deployment("web")], []).name == "checkout"
    with pytest.raises(AmbiguousTarget):
        resolve_target(None, None, [], [deployment("web"), deployment("api")], [])
    with pytest.raises(TargetNotFound):
        resolve_target(None, None, [], [], [], namespace="empty")


def test_label_selector_target():
    pods = [pod("p", labels={"app": "x", "tier": "web"})]
    t = resolve_target(None, "app=x,tier=web", [], [], pods)
    assert t == Target("Label", "app=x,tier=web", "demo", "app=x,tier=web")
    assert target_pods(t, pods) == pods


def test_candidates_for_picker():
    ro = canary_rollout()
    ro["spec"]["workloadRef"] = {"kind": "Deployment", "name": "checkout-template"}
    cs = candidates([ro], [deployment("web"), deployment("checkout-template")],
                    [pod("p", labels={"app": "loose"}), pod("q", labels={"app": "web"})])
    assert [(c.kind, c.name) for c in cs] == [("Rollout", "checkout"), ("Deployment", "web"), ("Label", "loose")]
    assert cs[0].strategy == "canary" and cs[0].ready == "5/5"


def test_summary_of_paused_canary():
    ro = canary_rollout(step=1, weight=20)
    s = rollout_summary(Target("Rollout", "checkout", "demo", "app=checkout"), ro, [])
    assert (s.strategy, s.phase, s.step, s.weight, s.paused) == ("canary", "Paused", "1/8", 20, True)
    assert (s.stable_hash, s.canary_hash) == ("6b8f7c9d5", "7f9c4d8b6")
    assert (s.stable_service, s.canary_service) == ("checkout-stable", "checkout-canary")
    assert (s.desired, s.updated, s.ready, s.available) == (5, 1, 5, 5)


def test_summary_weight_from_steps_when_not_reported():
    ro = canary_rollout(step=3, weight=None, phase="Progressing")
    assert rollout_summary(Target("Rollout", "checkout", "demo", ""), ro).weight == 40
    ro = canary_rollout(step=8, weight=None, phase="Healthy")
    assert rollout_summary(Target("Rollout", "checkout", "demo", ""), ro).weight == 100


def test_summary_of_bluegreen_and_aborted():
    s = rollout_summary(Target("Rollout", "payments", "demo", ""), bluegreen_rollout(active="a1", preview="p2"))
    assert (s.strategy, s.active_hash, s.preview_hash, s.active_service, s.step, s.weight) == (
        "bluegreen", "a1", "p2", "payments-active", None, None)
    ro = canary_rollout(phase="Degraded")
    ro["status"]["abort"] = True
    ro["status"]["message"] = "RolloutAborted: Rollout aborted update to revision 3\x1b[31m"
    s = rollout_summary(Target("Rollout", "checkout", "demo", ""), ro)
    assert s.phase == "Aborted" and s.aborted and s.message == "RolloutAborted: Rollout aborted update to revision 3"


def test_summary_of_deployment():
    d = deployment("web", replicas=3, updated=2, available=2, total=4)
    rs_old = {"metadata": {"name": "web-old", "namespace": "demo", "labels": {"pod-template-hash": "old1"},
                           "annotations": {"deployment.kubernetes.io/revision": "1"},
                           "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "dep-web"}]},
              "status": {"replicas": 2}}
    rs_new = {"metadata": {"name": "web-new", "namespace": "demo", "labels": {"pod-template-hash": "new2"},
                           "annotations": {"deployment.kubernetes.io/revision": "2"},
                           "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "dep-web"}]},
              "status": {"replicas": 2}}
    s = rollout_summary(Target("Deployment", "web", "demo", "app=web"), d, [rs_new, rs_old])
    assert (s.strategy, s.phase, s.stable_hash, s.canary_hash) == ("rolling", "Progressing", "old1", "new2")
    s = rollout_summary(Target("Deployment", "web", "demo", "app=web"), deployment("web"), [rs_new])
    assert s.phase == "Healthy"


def test_target_object_names_for_event_filtering():
    ro = canary_rollout()
    store = store_of(rollouts=[ro], pods=[pod("checkout-abc", labels={"app": "checkout"}), pod("other", labels={"app": "x"})],
                     services=[{"metadata": {"name": "checkout-canary", "namespace": "demo"}, "spec": {"selector": {"app": "checkout"}}},
                               {"metadata": {"name": "unrelated", "namespace": "demo"}, "spec": {"selector": {"app": "x"}}}])
    names = target_object_names(store, Target("Rollout", "checkout", "demo", "app=checkout"))
    assert names == {"Rollout/checkout", "Pod/checkout-abc", "Service/checkout-canary"}
