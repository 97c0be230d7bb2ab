"""The demo cluster's object store: selectors, resourceVersions, history window, paging, watches, persistence."""

from __future__ import annotations

import asyncio

import pytest

from tui.demo.patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from tui.demo.state import (KINDS, AlreadyExists, BadRequest, ClusterState, Conflict, FieldSelector, Gone, Invalid,
                            LabelSelector, NotFound, event_to_v1)


def pod(name, ns="demo", labels=None, phase="Running", node="node-1"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1"}]},
            "status": {"phase": phase}}


def deployment(name, ns="demo", replicas=1):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}


@pytest.fixture
def state():
    return ClusterState(seed_crds=False)


# ------------------------------------------------------------------------------------------- selectors

@pytest.mark.parametrize("sel,labels,want", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web"}, True),
    ("app!=web", {"app": "web"}, False),
    ("app!=web", {}, True),
    ("app in (web, api)", {"app": "api"}, True),
    ("app notin (web,api)", {"app": "api"}, False),
    ("app notin (web,api)", {}, True),
    ("track", {"track": "canary"}, True),
    ("!track", {"track": "canary"}, False),
    ("!track", {"app": "x"}, True),
    ("app=web,track=canary", {"app": "web", "track": "stable"}, False),
    ("app=web, track in (canary)", {"app": "web", "track": "canary"}, True),
    ("example.com/tier=front", {"example.com/tier": "front"}, True),
    ("app=", {"app": ""}, True),
    ("", {"x": "y"}, True),
    ("n>3", {"n": "5"}, True),
    ("n<3", {"n": "5"}, False),
    ("app in ()", {"app": ""}, True),  # the server reads "()" as the empty value
    ("app in ()", {"app": "web"}, False),
])
def test_label_selector_matches(sel, labels, want):
    assert LabelSelector.parse(sel).matches(labels) is want


@pytest.mark.parametrize("bad", ["app in (web", "app=a=b", "!", "a,,b", "a b", "-x=1", "a=b,", "in (x)",
                                 "x=-bad-", "n>x"])
def test_malformed_label_selector_is_bad_request(bad):
    with pytest.raises(BadRequest) as e:
        LabelSelector.parse(bad)
    assert e.value.code == 400


def test_field_selectors(state):
    state.create(pod("a", phase="Running"))
    state.create(pod("b", phase="Pending", node=None))
    state.create(pod("c", ns="other"))
    names = lambda items: sorted(o["metadata"]["name"] for o in items)  # noqa: E731
    assert names(state.list("pods", None, None, "status.phase=Running")[0]) == ["a", "c"]
    assert names(state.list("pods", None, None, "status.phase!=Running")[0]) == ["b"]
    assert names(state.list("pods", None, None, "spec.nodeName=")[0]) == ["b"]
    assert names(state.list("pods", None, None, "metadata.name=a,metadata.namespace=demo")[0]) == ["a"]
    assert names(state.list("pods", "demo", "", "metadata.name==b")[0]) == ["b"]
    with pytest.raises(BadRequest, match="field label not supported: spec.bogus"):
        FieldSelector.parse("spec.bogus=1", "pods")
    with pytest.raises(BadRequest):
        FieldSelector.parse("status.phase", "pods")


def test_event_field_selectors(state):
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "demo"},
          "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "demo", "uid": "u1"},
          "reason": "BackOff", "type": "Warning", "message": "Back-off restarting", "source": {"component": "kubelet"}}
    state.create(ev)
    hit = state.list("events", "demo", None, "involvedObject.name=web-1,involvedObject.kind=Pod,type=Warning")[0]
    assert [e["metadata"]["name"] for e in hit] == ["e1"]
    assert state.list("events", "demo", None, "involvedObject.uid=other")[0] == []
    v1 = event_to_v1(hit[0])
    assert v1["apiVersion"] == "events.k8s.io/v1" and v1["note"] == "Back-off restarting"
    assert v1["regarding"]["name"] == "web-1" and v1["reportingController"] == "kubelet"


# ------------------------------------------------------------------------------- versions and writes

def test_resource_versions_are_monotonic_and_generation_tracks_spec(state):
    a = state.create(deployment("web"))
    assert a["metadata"]["generation"] == 1 and a["metadata"]["uid"]
    rv1 = int(a["metadata"]["resourceVersion"])
    b = state.mutate("deployments", "demo", "web", lambda o: o.setdefault("status", {}).update(replicas=1))
    rv2 = int(b["metadata"]["resourceVersion"])
    assert rv2 > rv1 and b["metadata"]["generation"] == 1  # status-only keeps generation
    c = state.mutate("deployments", "demo", "web", lambda o: o["spec"].update(replicas=3))
    assert int(c["metadata"]["resourceVersion"]) > rv2 and c["metadata"]["generation"] == 2
    same = state.mutate("deployments", "demo", "web", lambda o: None)
    assert same is c  # a no-op changes nothing, not even the resourceVersion
    assert state.resource_version == int(c["metadata"]["resourceVersion"])
    assert c["metadata"]["uid"] == a["metadata"]["uid"]


def test_create_errors(state):
    state.create(pod("a"))
    with pytest.raises(AlreadyExists):
        state.create(pod("a"))
    with pytest.raises(Invalid) as e:
        state.create(pod("Bad_Name"))
    assert e.value.code == 422 and "RFC 1123" in e.value.message
    with pytest.raises(Invalid):
        state.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a.b", "namespace": "demo"}})
    with pytest.raises(BadRequest):
        state.create({"apiVersion": "v9", "kind": "Nope", "metadata": {"name": "x"}})
    g = state.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-", "namespace": "demo"}})
    assert g["metadata"]["name"].startswith("web-") and len(g["metadata"]["name"]) == 9


def test_update_conflict_and_not_found(state):
    a = state.create(pod("a"))
    stale = a["metadata"]["resourceVersion"]
    state.mutate("pods", "demo", "a", lambda o: o["metadata"].setdefault("labels", {}).update(x="1"))
    new = dict(a, metadata=dict(a["metadata"], labels={"y": "2"}))
    with pytest.raises(Conflict) as e:
        state.update(new, expect_rv=stale)
    assert e.value.code == 409
    updated = state.update(new)  # unconditional
    assert updated["metadata"]["labels"] == {"y": "2"}
    with pytest.raises(NotFound):
        state.update(pod("zzz"))
    with pytest.raises(NotFound):
        state.delete("pods", "demo", "zzz")


def test_delete_cascades_to_owned_objects_and_namespace_contents(state):
    d = state.create(deployment("web"))
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"],
           "controller": True}
    rs = state.create({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                       "metadata": {"name": "web-1", "namespace": "demo", "ownerReferences": [ref]}, "spec": {}})
    p = pod("web-1-a")
    p["metadata"]["ownerReferences"] = [dict(ref, kind="ReplicaSet", name="web-1", uid=rs["metadata"]["uid"])]
    state.create(p)
    state.create(pod("unrelated"))
    state.delete("deployments", "demo", "web")
    assert state.get("replicasets", "demo", "web-1") is None
    assert state.get("pods", "demo", "web-1-a") is None
    assert state.get("pods", "demo", "unrelated") is not None
    state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    state.delete("namespaces", None, "demo")
    assert state.list("pods", "demo")[0] == []


def test_finalizers_hold_deletion(state):
    p = pod("a")
    p["metadata"]["finalizers"] = ["example.com/hold"]
    state.create(p)
    marked = state.delete("pods", "demo", "a")
    assert marked["metadata"]["deletionTimestamp"]
    assert state.get("pods", "demo", "a") is not None
    state.mutate("pods", "demo", "a", lambda o: o["metadata"].pop("finalizers"))
    assert state.get("pods", "demo", "a") is None


# ---------------------------------------------------------------------------------------------- paging

def test_paging_walks_every_object_once(state):
    for i in range(25):
        state.create(pod(f"p{i:02d}", ns="a" if i % 2 else "b", labels={"odd": str(i % 2)}))
    seen, token, pages = [], None, 0
    while True:
        page = state.list_page("pods", None, limit=10, continue_token=token)
        pages += 1
        seen += [p for p in page.items_raw]
        if page.continue_token is None:
            break
        assert page.remaining == 25 - len(seen)
        token = page.continue_token
        # a write between pages neither repeats nor skips objects after the cursor
        state.mutate("pods", "b", "p00", lambda o: o["metadata"]["labels"].update(t="x"))
    assert pages == 3 and len(seen) == 25
    names = [__import__("orjson").loads(r)["metadata"]["name"] for r in seen]
    assert len(set(names)) == 25
    # paging with a selector and a namespace
    page = state.list_page("pods", "a", "odd=1", limit=5)
    assert len(page.items_raw) == 5 and page.continue_token
    page2 = state.list_page("pods", "a", "odd=1", limit=50, continue_token=page.continue_token)
    assert len(page2.items_raw) == 7 and page2.continue_token is None


def test_expired_continue_token_is_gone(state):
    for i in range(5):
        state.create(pod(f"p{i}"))
    page = state.list_page("pods", None, limit=2)
    state.create(pod("later"))
    state.compact()  # the list's resourceVersion is now older than anything retained
    with pytest.raises(Gone) as e:
        state.list_page("pods", None, limit=2, continue_token=page.continue_token)
    assert e.value.code == 410 and e.value.reason == "Expired"
    with pytest.raises(BadRequest):
        state.list_page("pods", None, limit=2, continue_token="garbage!!")


# --------------------------------------------------------------------------------------------- watches

async def test_watch_replays_from_rv_and_translates_selector_changes(state):
    state.create(pod("a", labels={"track": "canary"}))
    _, rv = state.list("pods")
    state.create(pod("b", labels={"track": "canary"}))
    state.create(pod("c", labels={"track": "stable"}))
    w = state.watch("pods", "demo", rv, "track=canary")
    state.mutate("pods", "demo", "a", lambda o: o["metadata"]["labels"].update(track="stable"))
    state.mutate("pods", "demo", "c", lambda o: o["metadata"]["labels"].update(track="canary"))
    state.delete("pods", "demo", "b")
    got = []
    for _ in range(4):
        ev = await w.next_event(1)
        got.append((ev.type, ev.obj["metadata"]["name"]))
    assert got == [("ADDED", "b"), ("DELETED", "a"), ("ADDED", "c"), ("DELETED", "b")]
    assert await w.next_event(0.01) is None
    rvs = []
    w2 = state.watch("pods", "demo", rv)
    while (ev := await w2.next_event(0)) is not None:
        rvs.append(int(ev.obj["metadata"]["resourceVersion"]))
    assert rvs == sorted(rvs) and len(rvs) == 5
    w.close()
    w2.close()
    assert state.watcher_count("pods") == 0


async def test_watch_without_rv_starts_with_current_objects(state):
    state.create(pod("a"))
    state.create(pod("b", ns="other"))
    w = state.watch("pods", None, None)
    first = [await w.next_event(0), await w.next_event(0)]
    assert [(e.type, e.obj["metadata"]["name"]) for e in first] == [("ADDED", "a"), ("ADDED", "b")]
    state.create(pod("c"))
    t, obj = await w.__anext__()
    assert (t, obj["metadata"]["name"]) == ("ADDED", "c")
    w.close()


def test_history_window_makes_old_rv_gone():
    state = ClusterState(history=10, seed_crds=False)
    first = state.create(pod("p0"))
    for i in range(1, 30):
        state.create(pod(f"p{i}"))
    with pytest.raises(Gone) as e:
        state.watch("pods", None, int(first["metadata"]["resourceVersion"]))
    assert e.value.code == 410 and "too old resource version" in e.value.message
    w = state.watch("pods", None, state.resource_version - 5)  # still inside the window
    assert w.pending() == 5
    w.close()


async def test_slow_watcher_is_closed_not_buffered_forever(state):
    w = state.watch("pods", None, state.resource_version, queue_size=5)
    for i in range(20):
        state.create(pod(f"p{i}"))
    assert w.overflowed and state.watcher_count("pods") == 0
    got = 0
    with pytest.raises(StopAsyncIteration):
        while True:
            await w.next_event(0)
            got += 1
    assert got == 5  # the queued events are delivered, then the stream ends; the client resumes from there


async def test_close_wakes_a_blocked_reader(state):
    w = state.watch("pods", None, state.resource_version)
    task = asyncio.ensure_future(w.__anext__())
    await asyncio.sleep(0.01)
    w.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(task, 1)


def test_on_change_sees_type_resource_object_and_old(state):
    seen = []
    state.on_change(lambda t, res, obj, old: seen.append((t, res, obj["metadata"]["name"], old is not None)))
    state.create(pod("a"))
    state.mutate("pods", "demo", "a", lambda o: o["status"].update(phase="Failed"))
    state.delete("pods", "demo", "a")
    assert seen == [("ADDED", "pods", "a", False), ("MODIFIED", "pods", "a", True), ("DELETED", "pods", "a", False)]


def test_broken_listener_does_not_break_writes(state):
    state.on_change(lambda *a: 1 / 0)
    state.create(pod("a"))
    assert state.get("pods", "demo", "a") and "ZeroDivisionError" in state.callback_errors[0]


def test_save_and_load_keep_objects_and_resource_version(tmp_path, state):
    state.create(pod("a"))
    state.create(deployment("web"))
    path = str(tmp_path / "state.json")
    state.save(path)
    again = ClusterState.load(path)
    assert again.resource_version == state.resource_version
    assert again.get("pods", "demo", "a") == state.get("pods", "demo", "a")
    assert again.get_raw("deployments", "demo", "web") is not None
    with pytest.raises(Gone):
        again.watch("pods", None, 1)
    b = again.create(pod("b"))
    assert int(b["metadata"]["resourceVersion"]) == state.resource_version + 1


def test_registry_covers_the_kinds_lookout_watches():
    for res in ("namespaces", "nodes", "pods", "events", "services", "endpoints", "endpointslices", "deployments",
                "replicasets", "configmaps", "secrets", "podmetrics", "customresourcedefinitions", "rollouts",
                "analysisruns", "ingresses", "networkpolicies", "events.events.k8s.io"):
        assert res in KINDS
    assert KINDS["pods"].categories == ("all",) and KINDS["deployments"].short_names == ("deploy",)
    assert KINDS["rollouts"].api_version == "argoproj.io/v1alpha1"
    crds = ClusterState().list("customresourcedefinitions")[0]
    assert {c["metadata"]["name"] for c in crds} >= {"rollouts.argoproj.io", "analysisruns.argoproj.io"}


# ----------------------------------------------------------------------------------------------- patches

def test_merge_patch():
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": [1]}) == \
        {"a": 1, "b": {"d": 3, "e": 4}, "f": [1]}


def test_strategic_merge_patch_merges_keyed_lists():
    cur = {"spec": {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}],
                                    "ports": [{"containerPort": 80}]},
                                   {"name": "b", "image": "y:1"}],
                    "volumes": [{"name": "v1"}, {"name": "v2"}]},
           "metadata": {"finalizers": ["f1"]}}
    patch = {"spec": {"containers": [{"name": "a", "image": "x:2", "env": [{"name": "B", "value": "2"}],
                                      "ports": [{"containerPort": 81}]},
                                     {"name": "b", "$patch": "delete"}],
                      "volumes": [{"name": "v2", "$patch": "delete"}]},
             "metadata": {"finalizers": ["f2"]}}
    out = strategic_merge_patch(cur, patch)
    c = out["spec"]["containers"]
    assert [x["name"] for x in c] == ["a"] and c[0]["image"] == "x:2"
    assert [e["name"] for e in c[0]["env"]] == ["A", "B"]
    assert [p["containerPort"] for p in c[0]["ports"]] == [80, 81]
    assert out["spec"]["volumes"] == [{"name": "v1"}]
    assert out["metadata"]["finalizers"] == ["f1", "f2"]
    assert strategic_merge_patch({"spec": {"x": {"a": 1}}}, {"spec": {"x": {"$patch": "replace", "b": 2}}}) == \
        {"spec": {"x": {"b": 2}}}
    assert strategic_merge_patch({"a": 1, "b": 2}, {"$retainKeys": ["a"], "a": 3}) == {"a": 3}


def test_json_patch():
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    out = json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3}, {"op": "replace", "path": "/c", "value": "y"},
                           {"op": "copy", "from": "/c", "path": "/d"}, {"op": "move", "from": "/d", "path": "/e"},
                           {"op": "remove", "path": "/a/b/0"}, {"op": "test", "path": "/e", "value": "y"},
                           {"op": "add", "path": "/a~1b", "value": 1}])
    assert out == {"a": {"b": [2, 3]}, "c": "y", "e": "y", "a/b": 1}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}
    for bad in ([{"op": "replace", "path": "/nope", "value": 1}], [{"op": "test", "path": "/c", "value": "z"}],
                [{"op": "remove", "path": "/a/b/9"}], [{"op": "frob", "path": "/c"}], {"op": "add"}):
        with pytest.raises(PatchError):
            json_patch(doc, bad)


# ------------------------------------------------------------------------------------------ defaulting

def _svc(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "d"},
            "spec": dict({"selector": {"app": name}, "ports": [{"port": 80}]}, **spec)}


def test_service_cluster_ip_is_allocated_stable_and_kept():
    s = ClusterState(seed_crds=False)
    a = s.create(_svc("a"))["spec"]
    assert a["type"] == "ClusterIP" and a["clusterIPs"] == [a["clusterIP"]]
    parts = [int(x) for x in a["clusterIP"].split(".")]
    assert parts[0] == 10 and 96 <= parts[1] <= 111
    assert a["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    s.delete("services", "d", "a")
    assert s.create(_svc("a"))["spec"]["clusterIP"] == a["clusterIP"]        # the same address again
    assert s.update(_svc("a", selector={"app": "b"}))["spec"]["clusterIP"] == a["clusterIP"]
    with pytest.raises(Invalid):
        s.update(_svc("a", clusterIP="10.96.0.99"))
    h = s.create(_svc("h", clusterIP="None"))["spec"]
    assert h["clusterIP"] == "None" and h["clusterIPs"] == ["None"]
    ips = {s.create(_svc(f"s{i}"))["spec"]["clusterIP"] for i in range(50)}
    assert len(ips) == 50 and a["clusterIP"] not in ips
    e = s.create(_svc("ext", type="ExternalName", externalName="example.com"))["spec"]
    assert "clusterIP" not in e
    np_ = s.create(_svc("np", type="NodePort"))["spec"]
    assert 30000 <= np_["ports"][0]["nodePort"] <= 32767


def test_pod_and_deployment_defaults():
    s = ClusterState(seed_crds=False)
    p = s.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"},
                  "spec": {"containers": [{"name": "a", "image": "reg:5000/app", "ports": [{"containerPort": 8080}]},
                                          {"name": "b", "image": "app@sha256:ab"}]}})["spec"]
    assert p["containers"][0]["imagePullPolicy"] == "Always"
    assert p["containers"][0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert p["containers"][1]["imagePullPolicy"] == "IfNotPresent"
    assert (p["restartPolicy"], p["dnsPolicy"], p["schedulerName"], p["terminationGracePeriodSeconds"]) == (
        "Always", "ClusterFirst", "default-scheduler", 30)
    d = s.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "namespace": "d"},
                  "spec": {"strategy": {"type": "Recreate"}, "selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"labels": {"a": "b"}},
                                        "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}})["spec"]
    assert d["strategy"] == {"type": "Recreate"} and d["replicas"] == 1
    assert d["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
