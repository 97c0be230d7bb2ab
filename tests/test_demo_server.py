"""The demo cluster's API server over real HTTPS: auth, discovery, list/get/watch, paging, writes, errors, persistence."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time

import httpx
import pytest
import yaml

from tui.demo.cluster import DemoClusterError, load_manifest_dir, servable, start_demo_cluster
from tui.demo.state import ClusterState

NS = "demo"


def pod(name, labels=None, phase="Running", ns=NS):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "app:1",
                                                           "ports": [{"containerPort": 8080}]}]},
            "status": {"phase": phase}}


def deployment(name="web", replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "app:1",
                                                           "env": [{"name": "A", "value": "1"}]}]}}}}


@pytest.fixture
async def cluster(tmp_path):
    rc = await start_demo_cluster(simulate=False, kubeconfig_path=str(tmp_path / "kubeconfig"),
                                  bookmark_interval=0.3)
    rc.state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for i in range(6):
        rc.state.create(pod(f"web-{i}", {"app": "web", "track": "canary" if i < 2 else "stable"}))
    rc.state.create(pod("other", {"app": "other"}, phase="Pending"))
    try:
        yield rc
    finally:
        await rc.stop()


def _ctx(rc) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=rc.ca_pem.decode())


@pytest.fixture
async def client(cluster):
    async with httpx.AsyncClient(base_url=cluster.url, verify=_ctx(cluster), timeout=10,
                                 headers={"Authorization": f"Bearer {cluster.token}", "User-Agent": "test-client/1"}) as c:
        yield c


def names(body) -> list[str]:
    return [o["metadata"]["name"] for o in body["items"]]


# ------------------------------------------------------------------------------------------------ basics

async def test_tls_with_generated_ca_and_token_required(cluster):
    async with httpx.AsyncClient(base_url=cluster.url, verify=_ctx(cluster)) as c:
        r = await c.get("/api/v1/pods")
        assert r.status_code == 401
        assert r.json() | {"metadata": {}} == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                               "status": "Failure", "message": "Unauthorized",
                                               "reason": "Unauthorized", "code": 401}
        r = await c.get("/api/v1/pods", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
    with pytest.raises(httpx.ConnectError):  # the system trust store does not know our CA
        async with httpx.AsyncClient(base_url=cluster.url) as c:
            await c.get("/version")
    cfg = yaml.safe_load(open(cluster.kubeconfig_path))
    assert cfg["current-context"] == "lookout-demo"
    assert cfg["clusters"][0]["cluster"]["server"] == cluster.url
    assert cfg["users"][0]["user"]["token"] == cluster.token


async def test_discovery(client):
    v = (await client.get("/version")).json()
    assert v["gitVersion"].startswith("v1.33.") and v["minor"] == "33"
    assert (await client.get("/api")).json()["versions"] == ["v1"]
    groups = {g["name"] for g in (await client.get("/apis")).json()["groups"]}
    assert {"apps", "discovery.k8s.io", "metrics.k8s.io", "argoproj.io", "events.k8s.io",
            "apiextensions.k8s.io", "networking.k8s.io"} <= groups
    core = {r["name"]: r for r in (await client.get("/api/v1")).json()["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and "all" in core["pods"]["categories"]
    assert "watch" in core["pods"]["verbs"] and "pods/log" in core and "pods/status" in core
    apps = {r["name"]: r for r in (await client.get("/apis/apps/v1")).json()["resources"]}
    assert apps["deployments/scale"]["kind"] == "Scale" and apps["deployments"]["shortNames"] == ["deploy"]
    r = await client.get("/api", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
    assert r.json()["kind"] == "APIGroupDiscoveryList"  # aggregated discovery (see the test below)
    assert (await client.get("/apis/nope/v1")).status_code == 404


async def test_server_version_option(tmp_path):
    rc = await start_demo_cluster(simulate=False, server_version="1.29", kubeconfig_path=str(tmp_path / "kc"))
    try:
        async with httpx.AsyncClient(verify=_ctx(rc), headers={"Authorization": f"Bearer {rc.token}"}) as c:
            assert (await c.get(rc.url + "/version")).json()["gitVersion"].startswith("v1.29.")
    finally:
        await rc.stop()
    with pytest.raises(DemoClusterError):
        await start_demo_cluster(simulate=False, server_version="1.12")


# ---------------------------------------------------------------------------------------- list and get

async def test_list_get_and_selectors(client):
    r = await client.get(f"/api/v1/namespaces/{NS}/pods")
    body = r.json()
    assert r.status_code == 200 and body["kind"] == "PodList" and body["apiVersion"] == "v1"
    assert len(body["items"]) == 7 and int(body["metadata"]["resourceVersion"]) > 0
    assert len((await client.get("/api/v1/pods")).json()["items"]) == 7
    assert (await client.get("/api/v1/namespaces/nowhere/pods")).json()["items"] == []
    got = (await client.get(f"/api/v1/namespaces/{NS}/pods/web-3")).json()
    assert got["kind"] == "Pod" and got["metadata"]["name"] == "web-3"
    sel = (await client.get("/api/v1/pods", params={"labelSelector": "app=web,track in (canary)"})).json()
    assert names(sel) == ["web-0", "web-1"]
    sel = (await client.get("/api/v1/pods", params={"labelSelector": "!track"})).json()
    assert names(sel) == ["other"]
    fs = (await client.get("/api/v1/pods", params={"fieldSelector": "status.phase=Pending"})).json()
    assert names(fs) == ["other"]
    r = await client.get("/api/v1/pods", params={"labelSelector": "app in (web"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest" and r.json()["kind"] == "Status"
    r = await client.get("/api/v1/pods", params={"fieldSelector": "spec.bogus=x"})
    assert r.status_code == 400 and "field label not supported" in r.json()["message"]


async def test_errors_are_status_objects(client):
    r = await client.get(f"/api/v1/namespaces/{NS}/pods/nope")
    assert r.status_code == 404 and r.json()["reason"] == "NotFound"
    assert r.json()["details"] == {"name": "nope", "kind": "pods"}
    r = await client.get("/api/v1/nothings")
    assert r.status_code == 404 and r.json()["kind"] == "Status"
    r = await client.put(f"/api/v1/namespaces/{NS}/pods", json={})
    assert r.status_code == 405 and r.json()["reason"] == "MethodNotAllowed"
    r = await client.post(f"/api/v1/namespaces/{NS}/pods", content=b"{not json",
                          headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["kind"] == "Status"
    r = await client.get("/api/v1/pods", params={"limit": "many"})
    assert r.status_code == 400


async def test_paging_and_expired_continue(cluster, client):
    seen, token = [], None
    while True:
        params = {"limit": 3} | ({"continue": token} if token else {})
        body = (await client.get("/api/v1/pods", params=params)).json()
        seen += names(body)
        token = body["metadata"].get("continue")
        if not token:
            break
        assert body["metadata"]["remainingItemCount"] == 7 - len(seen)
    assert len(seen) == 7 and len(set(seen)) == 7
    body = (await client.get("/api/v1/pods", params={"limit": 2})).json()
    cluster.state.create(pod("late"))
    cluster.state.compact()
    r = await client.get("/api/v1/pods", params={"limit": 2, "continue": body["metadata"]["continue"]})
    assert r.status_code == 410 and r.json()["reason"] == "Expired" and r.json()["code"] == 410


# ------------------------------------------------------------------------------------------------ watch

async def _frames(resp, n, timeout=5.0):
    """The next n watch frames from a streaming response (one line iterator per response)."""
    out = []
    it = resp.extensions.get("lookout_lines")
    if it is None:
        it = resp.extensions["lookout_lines"] = resp.aiter_lines()

    async def read():
        async for line in it:
            if line.strip():
                out.append(json.loads(line))
                if len(out) >= n:
                    return
    await asyncio.wait_for(read(), timeout)
    return out


async def test_watch_streams_changes_as_they_happen(cluster, client):
    rv = (await client.get(f"/api/v1/namespaces/{NS}/pods")).json()["metadata"]["resourceVersion"]
    async with client.stream("GET", f"/api/v1/namespaces/{NS}/pods",
                             params={"watch": "true", "resourceVersion": rv, "labelSelector": "app=web"}) as resp:
        assert resp.status_code == 200
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        cluster.state.create(pod("web-new"))
        first = await _frames(resp, 1)
        assert time.monotonic() - t0 < 0.5  # flushed at once, not at the end of the stream
        cluster.state.mutate("pods", NS, "web-new", lambda o: o["status"].update(phase="Failed"))
        cluster.state.mutate("pods", NS, "web-0", lambda o: o["metadata"]["labels"].update(app="moved"))
        cluster.state.delete("pods", NS, "web-new")
        cluster.state.create(pod("ignored", {"app": "other"}))
        rest = await _frames(resp, 3)
    got = [(f["type"], f["object"]["metadata"]["name"]) for f in first + rest]
    assert got == [("ADDED", "web-new"), ("MODIFIED", "web-new"), ("DELETED", "web-0"), ("DELETED", "web-new")]
    rvs = [int(f["object"]["metadata"]["resourceVersion"]) for f in first + rest]
    assert rvs == sorted(rvs)


async def test_watch_without_rv_sends_current_objects_and_single_object_watch(cluster, client):
    async with client.stream("GET", f"/api/v1/namespaces/{NS}/pods",
                             params={"watch": "1", "fieldSelector": "metadata.name=web-2"}) as resp:
        f = await _frames(resp, 1)
        assert f[0]["type"] == "ADDED" and f[0]["object"]["metadata"]["name"] == "web-2"
        cluster.state.mutate("pods", NS, "web-3", lambda o: o["status"].update(phase="Failed"))
        cluster.state.mutate("pods", NS, "web-2", lambda o: o["status"].update(phase="Failed"))
        f = await _frames(resp, 1)
        assert f[0]["type"] == "MODIFIED" and f[0]["object"]["metadata"]["name"] == "web-2"
    async with client.stream("GET", f"/api/v1/watch/namespaces/{NS}/pods/web-4") as resp:  # legacy path
        f = await _frames(resp, 1)
        assert f[0]["object"]["metadata"]["name"] == "web-4"


async def test_watch_too_old_rv_gets_410_error_frame(cluster, client):
    cluster.state.compact()
    cluster.state.create(pod("x"))
    async with client.stream("GET", "/api/v1/pods", params={"watch": "true", "resourceVersion": "3"}) as resp:
        assert resp.status_code == 200
        f = await _frames(resp, 1)
    assert f[0]["type"] == "ERROR"
    assert f[0]["object"]["kind"] == "Status" and f[0]["object"]["code"] == 410
    assert f[0]["object"]["reason"] == "Expired" and "too old resource version" in f[0]["object"]["message"]


async def test_watch_bookmarks(cluster, client):
    rv = cluster.state.resource_version
    async with client.stream("GET", "/api/v1/pods", params={
            "watch": "true", "resourceVersion": str(rv), "allowWatchBookmarks": "true"}) as resp:
        f = await _frames(resp, 1, timeout=3)
        assert f[0] == {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                       "metadata": {"resourceVersion": str(rv)}}}
        cluster.state.create(pod("after-bookmark"))
        f = await _frames(resp, 2, timeout=3)
        assert f[0]["type"] == "ADDED" and f[1]["type"] == "BOOKMARK"
        assert f[1]["object"]["metadata"]["resourceVersion"] == str(cluster.state.resource_version)


async def test_watch_timeout_seconds_ends_stream(client):
    t0 = time.monotonic()
    async with client.stream("GET", "/api/v1/pods", params={"watch": "true", "timeoutSeconds": "1",
                                                            "resourceVersion": "0"}) as resp:
        lines = [line async for line in resp.aiter_lines() if line.strip()]
    assert 0.9 < time.monotonic() - t0 < 3.5
    assert len(lines) == 7  # the synthetic ADDED events for rv=0, then the server closed the stream


async def test_disconnect_mid_watch_frees_the_watcher(cluster):
    before = cluster.state.watcher_count()
    async with httpx.AsyncClient(base_url=cluster.url, verify=_ctx(cluster),
                                 headers={"Authorization": f"Bearer {cluster.token}"}) as c:
        async with c.stream("GET", "/api/v1/pods", params={"watch": "true", "resourceVersion": "0"}) as resp:
            await _frames(resp, 1)
            assert cluster.state.watcher_count() == before + 1
    for _ in range(100):
        if cluster.state.watcher_count() == before and cluster.server.active_streams == 0:
            break
        await asyncio.sleep(0.05)
    assert cluster.state.watcher_count() == before and cluster.server.active_streams == 0


# ------------------------------------------------------------------------------------------------ writes

async def test_create_replace_patch_delete(cluster, client):
    base = f"/apis/apps/v1/namespaces/{NS}/deployments"
    r = await client.post(base, json=deployment())
    assert r.status_code == 201 and r.json()["metadata"]["generation"] == 1
    r = await client.post(base, json=deployment())
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    bad = deployment("Bad_Name")
    r = await client.post(base, json=bad)
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    r = await client.post("/api/v1/namespaces/missing/pods", json=pod("a", ns="missing"))
    assert r.status_code == 404
    cur = (await client.get(f"{base}/web")).json()
    stale = json.loads(json.dumps(cur))
    cur["spec"]["replicas"] = 4
    r = await client.put(f"{base}/web", json=cur)
    assert r.status_code == 200 and r.json()["metadata"]["generation"] == 2
    r = await client.put(f"{base}/web", json=stale)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}}
    r = await client.patch(f"{base}/web", content=json.dumps(smp),
                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    env = r.json()["spec"]["template"]["spec"]["containers"][0]["env"]
    assert r.status_code == 200 and [e["name"] for e in env] == ["A", "B"]
    r = await client.patch(f"{base}/web", content=json.dumps({"metadata": {"labels": {"x": "1"}}}),
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["labels"] == {"x": "1"}
    jp = [{"op": "replace", "path": "/spec/replicas", "value": 1}]
    r = await client.patch(f"{base}/web", content=json.dumps(jp), headers={"Content-Type": "application/json-patch+json"})
    assert r.json()["spec"]["replicas"] == 1
    r = await client.patch(f"{base}/web", content=json.dumps([{"op": "remove", "path": "/spec/nope"}]),
                           headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    r = await client.patch(f"{base}/web", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = await client.patch(f"{base}/nope", content=b"{}", headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 404
    r = await client.request("DELETE", f"{base}/web", json={"kind": "DeleteOptions", "apiVersion": "v1",
                                                            "propagationPolicy": "Background"})
    assert r.status_code == 200 and r.json()["metadata"]["name"] == "web"
    assert (await client.get(f"{base}/web")).status_code == 404
    assert (await client.delete(f"{base}/web")).status_code == 404


async def test_server_side_apply_creates_then_merges(client):
    url = f"/api/v1/namespaces/{NS}/configmaps/cfg"
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}})
    h = {"Content-Type": "application/apply-patch+yaml"}
    r = await client.patch(url, content=body, headers=h, params={"fieldManager": "test"})
    assert r.status_code == 201
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"b": "2"}})
    r = await client.patch(url, content=body, headers=h, params={"fieldManager": "test"})
    assert r.status_code == 200 and r.json()["data"] == {"a": "1", "b": "2"}
    r = await client.patch(url, content=body, headers=h)
    assert r.status_code == 400


async def test_dry_run_changes_nothing(cluster, client):
    rv = cluster.state.resource_version
    r = await client.post(f"/api/v1/namespaces/{NS}/pods", json=pod("dry"), params={"dryRun": "All"})
    assert r.status_code == 201 and r.json()["metadata"]["name"] == "dry"
    r = await client.delete(f"/api/v1/namespaces/{NS}/pods/web-1", params={"dryRun": "All"})
    assert r.status_code == 200
    assert cluster.state.resource_version == rv and cluster.state.get("pods", NS, "web-1")


async def test_scale_and_status_subresources(cluster, client):
    cluster.state.create(deployment())
    url = f"/apis/apps/v1/namespaces/{NS}/deployments/web"
    s = (await client.get(url + "/scale")).json()
    assert s["kind"] == "Scale" and s["apiVersion"] == "autoscaling/v1" and s["spec"]["replicas"] == 2
    assert s["status"]["selector"] == "app=web"
    r = await client.patch(url + "/scale", content=json.dumps({"spec": {"replicas": 5}}),
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 5
    assert cluster.state.get("deployments", NS, "web")["spec"]["replicas"] == 5
    r = await client.put(url + "/scale", json=dict(s, spec={"replicas": 3}))
    assert r.status_code == 409  # s carries the old resourceVersion
    s["metadata"].pop("resourceVersion")
    r = await client.put(url + "/scale", json=dict(s, spec={"replicas": 3}))
    assert r.status_code == 200 and cluster.state.get("deployments", NS, "web")["spec"]["replicas"] == 3
    # status goes through /status only
    r = await client.patch(url, content=json.dumps({"status": {"replicas": 9}}),
                           headers={"Content-Type": "application/merge-patch+json"})
    assert "replicas" not in (r.json().get("status") or {})
    r = await client.patch(url + "/status", content=json.dumps({"status": {"replicas": 9}, "spec": {"replicas": 1}}),
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["status"]["replicas"] == 9 and r.json()["spec"]["replicas"] == 3
    gen = r.json()["metadata"]["generation"]
    r = await client.get(url + "/status")
    assert r.json()["status"]["replicas"] == 9 and r.json()["metadata"]["generation"] == gen


async def test_logs_and_proxy_without_simulation(client):
    r = await client.get(f"/api/v1/namespaces/{NS}/pods/web-1/log")
    assert r.status_code == 200 and r.text == ""
    r = await client.get(f"/api/v1/namespaces/{NS}/pods/web-1/log", params={"container": "nope"})
    assert r.status_code == 400
    r = await client.get(f"/api/v1/namespaces/{NS}/pods/web-1:8080/proxy/metrics")
    assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable"
    r = await client.get(f"/api/v1/namespaces/{NS}/pods/nope/log")
    assert r.status_code == 404


class FakeSim:
    namespace = NS

    def __init__(self):
        self.paused = False
        self.speed = 1.0

    def status(self):
        return {"paused": self.paused, "speed": self.speed}

    def pause(self): self.paused = True
    def resume(self): self.paused = False
    def step(self): pass
    def set_speed(self, x): self.speed = x

    def pod_logs(self, ns, pod, container, previous, tail, since):
        lines = [f"{pod}/{container} line {i}" for i in range(10)]
        return lines[-tail:] if tail else lines

    async def follow_logs(self, ns, pod, container):
        for i in range(3):
            await asyncio.sleep(0.01)
            yield f"live {i}"

    def pod_metrics_text(self, ns, pod, port):
        return None if pod == "web-5" else f'http_requests_total{{code="200"}} 7\n# port {port}\n'

    def pod_usage(self, ns, pod):
        return {"app": {"cpu": "12m", "memory": "34Mi"}}


async def test_logs_proxy_metrics_and_control_api_with_a_simulation(cluster, client):
    cluster.server.sim = FakeSim()
    base = f"/api/v1/namespaces/{NS}/pods"
    r = await client.get(f"{base}/web-1/log", params={"tailLines": "2"})
    assert r.text == "web-1/app line 8\nweb-1/app line 9\n"
    r = await client.get(f"{base}/web-1/log", params={"tailLines": "1", "timestamps": "true"})
    assert r.text.split(" ", 1)[1] == "web-1/app line 9\n" and r.text[4] == "-"
    async with client.stream("GET", f"{base}/web-1/log", params={"follow": "true", "tailLines": "1"}) as resp:
        lines = [line async for line in resp.aiter_lines()]
    assert lines == ["web-1/app line 9", "live 0", "live 1", "live 2"]
    r = await client.get(f"{base}/web-1:8080/proxy/metrics")
    assert r.status_code == 200 and "http_requests_total" in r.text and "# port 8080" in r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert (await client.get(f"{base}/web-5:8080/proxy/metrics")).status_code == 503
    pm = (await client.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods",
                           params={"labelSelector": "track=canary"})).json()
    assert pm["kind"] == "PodMetricsList" and [i["metadata"]["name"] for i in pm["items"]] == ["web-0", "web-1"]
    assert pm["items"][0]["containers"] == [{"name": "app", "usage": {"cpu": "12m", "memory": "34Mi"}}]
    one = (await client.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods/web-2")).json()
    assert one["kind"] == "PodMetrics"
    assert (await client.post("/lookout/v1/pause")).json()["paused"] is True
    assert (await client.post("/lookout/v1/resume")).json()["paused"] is False
    assert (await client.post("/lookout/v1/speed", params={"x": "4"})).json()["speed"] == 4.0
    assert (await client.post("/lookout/v1/speed", params={"x": "-1"})).status_code == 400
    assert (await client.post("/lookout/v1/step")).status_code == 200
    st = (await client.get("/lookout/v1/status")).json()
    assert st["simulation"]["speed"] == 4.0 and st["objects"]["pods"] == 7
    counters = (await client.get("/lookout/v1/counters")).json()
    assert counters["by_client"]["test-client/1"]["requests"] >= 10
    assert counters["by_kind"]["log"]["requests"] == 3 and counters["by_kind"]["log"]["bytes"] > 0
    assert counters["by_kind"]["proxy"]["requests"] == 2


async def test_events_v1_view(cluster, client):
    cluster.state.create({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": NS},
                          "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": NS},
                          "reason": "Started", "type": "Normal", "message": "Started container app"})
    core = (await client.get(f"/api/v1/namespaces/{NS}/events")).json()
    assert core["items"][0]["message"] == "Started container app"
    v1 = (await client.get(f"/apis/events.k8s.io/v1/namespaces/{NS}/events",
                           params={"fieldSelector": "regarding.name=web-1"})).json()
    assert v1["apiVersion"] == "events.k8s.io/v1" and v1["items"][0]["note"] == "Started container app"


# ----------------------------------------------------------------------------------- manifests and state

def test_manifest_errors_name_file_and_line(tmp_path):
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n"
                                      "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    assert [d["metadata"]["name"] for d in load_manifest_dir(str(tmp_path))] == ["a", "b"]
    (tmp_path / "zbad.yml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n")
    with pytest.raises(DemoClusterError) as e:
        load_manifest_dir(str(tmp_path))
    assert "zbad.yml:" in str(e.value) and str(e.value).split("zbad.yml:")[1][0].isdigit()
    os.unlink(tmp_path / "zbad.yml")
    (tmp_path / "zkind.yaml").write_text("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                                         "apiVersion: foo/v1\nkind: Widget\nmetadata: {name: w}\n")
    # a kind the cluster does not serve is no longer an error: servable() leaves it out with a warning
    docs = load_manifest_dir(str(tmp_path))
    _crds, rest, warnings = servable(ClusterState(), docs)
    assert [d["metadata"]["name"] for d in rest] == ["a", "b", "c"]
    assert len(warnings) == 1 and "zkind.yaml:6: skipped Widget w" in warnings[0], warnings


async def test_manifests_are_loaded_at_start(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "app.yaml").write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mine", "namespace": "default"},
         "data": {"k": "v"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mine"}, "spec": {"replicas": 1}}]))
    rc = await start_demo_cluster(simulate=False, manifests_dir=str(d), kubeconfig_path=str(tmp_path / "kc"))
    try:
        assert rc.state.get("configmaps", "default", "mine")["data"] == {"k": "v"}
        assert rc.state.get("deployments", "default", "mine") is not None
    finally:
        await rc.stop()


async def test_state_dir_persists_the_cluster(tmp_path):
    sd = str(tmp_path / "state")
    rc = await start_demo_cluster(simulate=False, state_dir=sd)
    token, ca, port, kc = rc.token, rc.ca_pem, rc.port, rc.kubeconfig_path
    rc.state.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep", "namespace": "default"}})
    rv = rc.state.resource_version
    await rc.stop()
    assert not os.path.exists(os.path.join(sd, ".state.json"))
    rc2 = await start_demo_cluster(simulate=False, state_dir=sd)
    try:
        assert (rc2.token, rc2.ca_pem, rc2.kubeconfig_path) == (token, ca, kc)
        assert rc2.port == port
        assert rc2.state.resource_version == rv
        async with httpx.AsyncClient(verify=_ctx(rc2), headers={"Authorization": f"Bearer {token}"}) as c:
            r = await c.get(rc2.url + "/api/v1/namespaces/default/configmaps/keep")
            assert r.status_code == 200
            r = await c.post(rc2.url + "/api/v1/namespaces/default/configmaps",
                             json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "next"}})
            assert int(r.json()["metadata"]["resourceVersion"]) == rv + 1
    finally:
        await rc2.stop()


# ------------------------------------------------------------------------------- with the real simulation

async def test_with_the_simulation_pods_logs_metrics(tmp_path):
    pytest.importorskip("tui.demo.sim")
    rc = await start_demo_cluster(kubeconfig_path=str(tmp_path / "kc"), speed=1.0)
    try:
        ns = yaml.safe_load(open(rc.kubeconfig_path))["contexts"][0]["context"]["namespace"]
        async with httpx.AsyncClient(base_url=rc.url, verify=_ctx(rc), timeout=10,
                                     headers={"Authorization": f"Bearer {rc.token}"}) as c:
            pods = (await c.get(f"/api/v1/namespaces/{ns}/pods")).json()["items"]
            assert pods, "the scenario seeds pods in the kubeconfig's namespace"
            running = next(p for p in pods if p["status"].get("phase") == "Running")
            name = running["metadata"]["name"]
            r = await c.get(f"/api/v1/namespaces/{ns}/pods/{name}/log", params={"tailLines": "3"})
            assert r.status_code == 200 and len(r.text.splitlines()) <= 3
            port = running["spec"]["containers"][0].get("ports", [{}])[0].get("containerPort", 8080)
            r = await c.get(f"/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/metrics")
            assert r.status_code in (200, 503)
            pm = (await c.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods")).json()
            assert pm["kind"] == "PodMetricsList"
            assert (await c.get("/lookout/v1/status")).json()["simulation"] is not None
    finally:
        await rc.stop()


def test_cli_prints_one_line_and_exits_zero_on_sigterm(tmp_path):
    import signal
    import subprocess
    import sys
    sd = str(tmp_path / "state")
    code = ("import argparse, sys; from tui.demo.cluster import run_demo_cluster; "
            "sys.exit(run_demo_cluster(argparse.Namespace(scenario='healthy-canary', port=0, speed=1.0, seed=1, "
            f"manifests=None, state_dir={sd!r}, write_kubeconfig=None, server_version=None, pods=None, "
            "background_pods=0, churn=0.0)))")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert "listening on https://127.0.0.1:" in line and f"KUBECONFIG={sd}/kubeconfig kubectl get pods" in line
        assert os.path.exists(os.path.join(sd, "kubeconfig"))
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0
        assert p.stdout.read() == ""
        assert os.path.exists(os.path.join(sd, "state.json"))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    bad = subprocess.run([sys.executable, "-c", code.replace("server_version=None", "server_version='1.2'")],
                         capture_output=True, text=True, timeout=20)
    assert bad.returncode == 4 and bad.stdout == "" and "server version" in bad.stderr


async def test_field_validation_strict_and_warn(client):
    pytest.importorskip("tui.demo.openapi")
    url = f"/api/v1/namespaces/{NS}/configmaps"
    typo = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typo"}, "data": {"a": "b"}, "dataa": {}}
    r = await client.post(url, json=typo, params={"fieldValidation": "Strict"})
    assert r.status_code == 400 and 'strict decoding error: unknown field "dataa"' in r.json()["message"]
    r = await client.post(url, json=typo, params={"fieldValidation": "Warn"})
    assert r.status_code == 201 and r.headers["warning"] == '299 - "unknown field \\"dataa\\""'
    smp = {"metadata": {"labels": {"a": "b"}}, "data": {"$patch": "replace", "x": "y"}}
    r = await client.patch(f"{url}/typo", content=json.dumps(smp), params={"fieldValidation": "Strict"},
                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 200 and r.json()["data"] == {"x": "y"}
    r = await client.patch(f"{url}/typo", content=json.dumps({"spec": {}}), params={"fieldValidation": "Strict"},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 400


# --------------------------------------------------------------------------------------- RBAC and stopping

async def test_forbidden_kinds_answer_403_like_kube_apiserver(tmp_path):
    rc = await start_demo_cluster(simulate=False, kubeconfig_path=str(tmp_path / "kc"),
                                  forbidden={"events", "deployments", "pods/log"})
    try:
        rc.state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        rc.state.create(pod("web-0"))
        async with httpx.AsyncClient(base_url=rc.url, verify=_ctx(rc), timeout=10,
                                     headers={"Authorization": f"Bearer {rc.token}"}) as c:
            r = await c.get(f"/api/v1/namespaces/{NS}/events")
            assert r.status_code == 403
            assert r.json() == {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Forbidden",
                "code": 403, "details": {"kind": "events"},
                "message": 'events is forbidden: User "system:serviceaccount:demo:lookout" cannot list resource '
                           f'"events" in API group "" in the namespace "{NS}"'}
            r = await c.get(f"/api/v1/namespaces/{NS}/events", params={"watch": "true"})
            assert r.status_code == 403 and "cannot watch resource" in r.json()["message"]
            r = await c.get("/api/v1/events")
            assert r.json()["message"].endswith('cannot list resource "events" in API group "" at the cluster scope')
            r = await c.get(f"/apis/apps/v1/namespaces/{NS}/deployments/web")
            assert r.status_code == 403 and r.json()["details"] == {"name": "web", "group": "apps",
                                                                     "kind": "deployments"}
            assert r.json()["message"] == ('deployments.apps "web" is forbidden: User "system:serviceaccount:demo:lookout" '
                                           f'cannot get resource "deployments" in API group "apps" in the namespace "{NS}"')
            r = await c.get(f"/api/v1/namespaces/{NS}/pods/web-0/log")
            assert r.status_code == 403 and 'cannot get resource "pods/log"' in r.json()["message"]
            assert (await c.get(f"/api/v1/namespaces/{NS}/pods")).status_code == 200       # others unaffected
            assert (await c.get(f"/apis/events.k8s.io/v1/namespaces/{NS}/events")).status_code == 200
            rc.server.forbidden.discard("events")                                         # RBAC fixed
            assert (await c.get(f"/api/v1/namespaces/{NS}/events")).status_code == 200
    finally:
        await rc.stop()
    with pytest.raises(DemoClusterError, match="unknown resource"):
        await start_demo_cluster(simulate=False, forbidden={"pods", "nope"})


async def test_stop_refuses_new_watches_and_does_not_wait_for_open_ones(cluster, client):
    async def watch_until_closed():
        async with client.stream("GET", f"/api/v1/namespaces/{NS}/pods", params={"watch": "true"}) as r:
            assert r.status_code == 200
            async for _ in r.aiter_lines():
                pass

    open_watch = asyncio.create_task(watch_until_closed())
    await asyncio.sleep(0.3)
    cluster.server.begin_shutdown()
    await asyncio.wait_for(open_watch, 5)          # the open watch ends at once
    r = await client.get(f"/api/v1/namespaces/{NS}/pods", params={"watch": "true"})
    assert r.status_code == 429 and r.json()["reason"] == "TooManyRequests"
    assert r.headers["Retry-After"] == "1"
    assert (await client.get(f"/api/v1/namespaces/{NS}/pods")).status_code == 200   # plain reads still answer
    t0 = time.monotonic()
    await cluster.stop()
    assert time.monotonic() - t0 < 1.0


async def test_restart_with_state_dir_after_rollout_restart_keeps_replica_counts(tmp_path):
    """Stop mid-rollout (a `kubectl rollout restart`), start again from the saved state: every ReplicaSet
    ends up with as many pods as it wants, none duplicated by the restored controllers."""
    pytest.importorskip("tui.demo.sim")
    sd = str(tmp_path / "state")
    rc = await start_demo_cluster(scenario="bluegreen-switch", state_dir=sd, speed=1.0)
    try:
        def restart(o):
            tmeta = o["spec"]["template"].setdefault("metadata", {})
            tmeta.setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = "2026-01-01T00:00:00Z"
        rc.state.mutate("deployments", "demo", "checkout-blue", restart)
        await asyncio.sleep(1.0)
    finally:
        await rc.stop()
    rc = await start_demo_cluster(scenario="bluegreen-switch", state_dir=sd, speed=1.0)
    try:
        def counts():
            out = {}
            for rs in rc.state.list("replicasets", "demo")[0]:
                uid = rs["metadata"]["uid"]
                n = sum(1 for p in rc.state.list("pods", "demo")[0]
                        if not p["metadata"].get("deletionTimestamp")
                        and any(ref.get("uid") == uid for ref in p["metadata"].get("ownerReferences", ())))
                out[rs["metadata"]["name"]] = (rs["spec"]["replicas"], n)
            return out
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            c = counts()
            if all(want == have for want, have in c.values()) and len(c) >= 2:
                break
            await asyncio.sleep(0.2)
        c = counts()
        assert all(want == have for want, have in c.values()), c
        deploy = rc.state.get("deployments", "demo", "checkout-blue")
        blue = [v for k, v in c.items() if k.startswith("checkout-blue-")]
        assert sum(have for _, have in blue) <= deploy["spec"]["replicas"] + 1   # maxSurge 25 % of 3
    finally:
        await rc.stop()


async def test_aggregated_discovery_lists_every_served_resource(cluster, client):
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    r = await client.get("/apis", headers={"Accept": accept})
    assert r.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    doc = r.json()
    assert doc["kind"] == "APIGroupDiscoveryList" and doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    groups = {g["metadata"]["name"]: g for g in doc["items"]}
    istio = [v["version"] for v in groups["networking.istio.io"]["versions"]]
    assert istio == ["v1", "v1beta1", "v1alpha3"]  # preferred first, as kube-apiserver orders them
    canaries = next(r for r in groups["flagger.app"]["versions"][0]["resources"] if r["resource"] == "canaries")
    assert canaries["responseKind"] == {"group": "flagger.app", "version": "v1beta1", "kind": "Canary"}
    assert canaries["scope"] == "Namespaced" and canaries["subresources"][0]["subresource"] == "status"
    deploy = next(r for r in groups["apps"]["versions"][0]["resources"] if r["resource"] == "deployments")
    assert {s["subresource"]: s["responseKind"]["kind"] for s in deploy["subresources"]} == {
        "status": "Deployment", "scale": "Scale"}
    r = await client.get("/api", headers={"Accept": accept.replace("v=v2;", "v=v2beta1;", 1)})
    core = r.json()
    assert core["apiVersion"] == "apidiscovery.k8s.io/v2beta1" and core["items"][0]["metadata"]["name"] == ""
    pods = next(r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "pods")
    assert {"log", "status", "proxy"} <= {s["subresource"] for s in pods["subresources"]}
    # without the aggregated type: the plain lists
    assert (await client.get("/apis")).json()["kind"] == "APIGroupList"
