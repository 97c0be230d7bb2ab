"""Informers against the demo cluster over HTTPS: paged lists, deltas, 410 relists, restarts, scoping, errors."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest

from tui.demo.cluster import start_demo_cluster
from tui.kube.client import KubeClient
from tui.kube.config import load_target
from tui.kube.informer import Informer, _Gone
from tui.kube.resources import PODS, SECRETS, ResourceRef
from tui.kube.slim import keep_all
from tui.kube.store import Store

NS = "shop"
FAST = dict(backoff_initial=0.02, backoff_max=0.2, slow_retry=0.2)


def pod(name: str, ns: str = NS, **labels) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "web"},
                         "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"containers": [{"name": "c", "image": "web:1", "env": [{"name": "PASSWORD", "value": "hunter2"}]}]},
            "status": {"phase": "Pending"}}


def ensure_ns(state, *names):
    for n in names:
        if state.get("namespaces", None, n) is None:
            state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}})


@pytest.fixture
async def cluster(tmp_path):
    rc = await start_demo_cluster(simulate=False, history=200, bookmark_interval=0.5,
                                  kubeconfig_path=str(tmp_path / "kubeconfig"))
    ensure_ns(rc.state, NS, "other")
    yield rc
    await rc.stop()


@pytest.fixture
async def client(cluster):
    c = KubeClient(load_target(cluster.kubeconfig_path))
    yield c
    await c.aclose()


def server_view(state, res, ns=None, selector=None) -> dict:
    objs, _ = state.list(res, ns, selector)
    return {(o["metadata"].get("namespace") or "", o["metadata"]["name"]): o["metadata"]["resourceVersion"]
            for o in objs}


def store_view(store, kind) -> dict:
    return {k: o["metadata"]["resourceVersion"] for k, o in store.kind(kind).items()}


async def until(cond, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Running:
    """An informer's run() as a task, cancelled at exit."""

    def __init__(self, inf: Informer):
        self.inf = inf

    async def __aenter__(self):
        self.task = asyncio.create_task(self.inf.run())
        return self.inf

    async def __aexit__(self, *exc):
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


# ---- list and watch ------------------------------------------------------------------------------------

async def test_paged_list_fills_the_store_page_by_page(cluster, client):
    for i in range(1234):
        cluster.state.create(pod(f"web-{i:04d}"))
    cluster.state.create(pod("elsewhere", ns="other"))
    store = Store()
    batches: list[int] = []
    store.subscribe(lambda ds: batches.append(len(ds)))
    inf = Informer(client, store, PODS, namespace=NS, page_size=100, **FAST)
    async with Running(inf):
        await asyncio.wait_for(inf.synced.wait(), 10)
        assert store_view(store, "pods") == server_view(cluster.state, "pods", NS)
        assert batches[:13] == [100] * 12 + [34]  # one delta batch per page, as it arrived
        h = store.health["pods/shop"]
        assert h.synced and h.connected and h.error is None and h.last_sync
        # trimmed on arrival: no managedFields, no env values
        p = store.get("pods", NS, "web-0001")
        assert "managedFields" not in p["metadata"]
        assert p["spec"]["containers"][0]["env"] == [{"name": "PASSWORD"}]
        assert p["kind"] == "Pod" and p["apiVersion"] == "v1"


async def test_changes_arrive_as_deltas(cluster, client):
    cluster.state.create(pod("a"))
    store = Store()
    seen: list[tuple[str, str]] = []
    store.subscribe(lambda ds: seen.extend((d.type, d.key[1]) for d in ds))
    inf = Informer(client, store, PODS, namespace=NS, **FAST)
    async with Running(inf):
        await asyncio.wait_for(inf.synced.wait(), 5)
        assert seen == [("ADDED", "a")]
        seen.clear()
        cluster.state.create(pod("b"))
        cluster.state.mutate("pods", NS, "a", lambda o: o["status"].update(phase="Running"))
        cluster.state.delete("pods", NS, "b")
        cluster.state.create(pod("x", ns="other"))  # out of scope
        await until(lambda: len(seen) >= 3, what="three deltas")
        await asyncio.sleep(0.1)
        assert seen == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
        assert store.get("pods", NS, "a")["status"]["phase"] == "Running"
        assert store_view(store, "pods") == server_view(cluster.state, "pods", NS)
        # bookmarks move the resourceVersion on with nothing to apply
        rv = int(inf.resource_version)
        cluster.state.create(pod("y", ns="other"))
        await until(lambda: int(inf.resource_version) > rv, what="a bookmark")


async def test_burst_of_frames_is_applied_in_few_batches(cluster, client):
    store = Store()
    batches: list[int] = []
    store.subscribe(lambda ds: batches.append(len(ds)))
    inf = Informer(client, store, PODS, namespace=NS, **FAST)
    async with Running(inf):
        await asyncio.wait_for(inf.synced.wait(), 5)
        for i in range(500):
            cluster.state.create(pod(f"burst-{i}"))
        await until(lambda: len(store.kind("pods")) == 500, what="500 pods")
        assert sum(batches) == 500 and len(batches) < 100


async def test_410_relists_and_store_equals_server(cluster, client):
    for i in range(30):
        cluster.state.create(pod(f"p{i}"))
    store = Store()
    inf = Informer(client, store, PODS, namespace=NS, page_size=7, **FAST)
    async with Running(inf):
        await asyncio.wait_for(inf.synced.wait(), 5)
    old_rv = inf.resource_version
    # while the informer is away: deletions, additions, changes, and more history than the server keeps
    for i in range(0, 30, 3):
        cluster.state.delete("pods", NS, f"p{i}")
    for i in range(5):
        cluster.state.create(pod(f"new{i}"))
    cluster.state.mutate("pods", NS, "p1", lambda o: o["metadata"]["labels"].update(v="2"))
    for i in range(300):
        cluster.state.mutate("pods", NS, "p2", lambda o, i=i: o["metadata"].setdefault("annotations", {}).update(n=str(i)))
    assert int(old_rv) < cluster.state.oldest_watchable_rv()
    deltas = []
    store.subscribe(deltas.extend)
    async with Running(inf):
        await until(lambda: inf.relists == 1 and inf.health.last_sync and store_view(store, "pods")
                    == server_view(cluster.state, "pods", NS), what="relist")
    assert store.get("pods", NS, "p0") is None and store.get("pods", NS, "new4") is not None
    # the relist emits only what changed
    assert sorted(d.type for d in deltas).count("DELETED") == 10
    assert all(d.key[1] != "p4" for d in deltas)


async def test_restart_on_the_same_port_reconnects_and_converges(tmp_path):
    state_dir = tmp_path / "state"
    rc = await start_demo_cluster(simulate=False, state_dir=str(state_dir), bookmark_interval=0.5)
    ensure_ns(rc.state, NS)
    for i in range(20):
        rc.state.create(pod(f"p{i}"))
    target = load_target(rc.kubeconfig_path)
    store = Store()
    health = []
    store.subscribe_health(lambda h: health.append((h.connected, h.error)))  # the UI's banner follows this
    async with KubeClient(target) as client:
        inf = Informer(client, store, PODS, namespace=NS, **FAST)
        async with Running(inf):
            await asyncio.wait_for(inf.synced.wait(), 5)
            await until(lambda: rc.state.watcher_count("pods") > 0, what="the watch")
            port = rc.port
            await rc.stop()
            await until(lambda: not inf.health.connected, what="disconnect")
            assert "cannot reach the API server at https://127.0.0.1:" in inf.health.error
            # changes made while Lookout could not see them, saved with the cluster
            rc.state.delete("pods", NS, "p3")
            rc.state.create(pod("while-away"))
            rc.state.mutate("pods", NS, "p5", lambda o: o["status"].update(phase="Failed"))
            rc.save()
            rc2 = await start_demo_cluster(simulate=False, state_dir=str(state_dir), port=port, bookmark_interval=0.5)
            try:
                await until(lambda: inf.health.connected and inf.health.error is None
                            and store_view(store, "pods") == server_view(rc2.state, "pods", NS),
                            timeout=10, what="reconnect and converge")
                assert inf.health.reconnects >= 1
                assert store.get("pods", NS, "p5")["status"]["phase"] == "Failed"
                rc2.state.create(pod("after"))  # and the watch is live again
                await until(lambda: store.get("pods", NS, "after") is not None, what="live watch")
            finally:
                await rc2.stop()
    assert any(not connected and err.startswith("cannot reach") for connected, err in health if err)
    assert health[-1] == (True, None)


async def test_label_selector_scopes_the_informer(cluster, client):
    cluster.state.create(pod("a1", app="a"))
    cluster.state.create(pod("b1", app="b"))
    store = Store()
    inf = Informer(client, store, PODS, namespace=NS, label_selector="app=a", **FAST)
    assert inf.health.source == "pods/shop[app=a]"
    async with Running(inf):
        await asyncio.wait_for(inf.synced.wait(), 5)
        assert set(store.kind("pods")) == {(NS, "a1")}
        cluster.state.create(pod("a2", app="a"))
        cluster.state.create(pod("b2", app="b"))
        await until(lambda: (NS, "a2") in store.kind("pods"), what="a2")
        # relabelled out of the selector: the watch says DELETED
        cluster.state.mutate("pods", NS, "a1", lambda o: o["metadata"]["labels"].update(app="b"))
        await until(lambda: (NS, "a1") not in store.kind("pods"), what="a1 leaves the scope")
        assert set(store.kind("pods")) == {(NS, "a2")}


async def test_two_scopes_of_one_kind_share_the_store(cluster, client):
    cluster.state.create(pod("x", ns=NS))
    cluster.state.create(pod("y", ns="other"))
    store = Store()
    i1 = Informer(client, store, PODS, namespace=NS, **FAST)
    i2 = Informer(client, store, PODS, namespace="other", **FAST)
    async with Running(i1), Running(i2):
        await asyncio.wait_for(asyncio.gather(i1.synced.wait(), i2.synced.wait()), 5)
        assert set(store.kind("pods")) == {(NS, "x"), ("other", "y")}
        i1.resource_version = "1"  # force i1 to relist (410): it must not touch the other scope
        cluster.state.delete("pods", NS, "x")
        await until(lambda: (NS, "x") not in store.kind("pods"), what="x deleted")
        assert ("other", "y") in store.kind("pods")


async def test_kind_not_installed_is_reported_and_others_continue(cluster, client):
    canaries = ResourceRef("Canary", "flagger.app", "v1beta1", "canaries", True)
    # the demo cluster pre-installs Flagger's CRD: without it, canaries are not served
    cluster.state.delete("customresourcedefinitions", None, "canaries.flagger.app")
    store = Store()
    cluster.state.create(pod("a"))
    bad = Informer(client, store, canaries, namespace=NS, **FAST)
    good = Informer(client, store, PODS, namespace=NS, **FAST)
    async with Running(bad), Running(good):
        await until(lambda: bad.health.error is not None, what="not installed")
        assert bad.health.error == "not installed: the cluster does not serve canaries (flagger.app/v1beta1)"
        # an absent CRD is a settled answer, not an outage: `lookout status` does not wait for it
        assert bad.health.not_installed and bad.health.settled and not bad.health.forbidden
        assert not bad.health.synced
        await asyncio.wait_for(good.synced.wait(), 5)
        cluster.state.create(pod("b"))
        await until(lambda: store.get("pods", NS, "b") is not None, what="pods still flow")


async def test_secrets_arrive_without_values(cluster, client):
    cluster.state.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                          "metadata": {"name": "db", "namespace": NS},
                          "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}})
    store = Store()
    inf = Informer(client, store, SECRETS, namespace=NS, **FAST)
    async with Running(inf):
        await asyncio.wait_for(inf.synced.wait(), 5)
        s = store.get("secrets", NS, "db")
        from tui.kube.slim import SecretDigest

        # keys, each with a keyed digest (for the blue/green diff) that prints as <redacted>, never a value
        assert list(s["data"]) == ["password", "user"]
        assert all(isinstance(v, SecretDigest) for v in s["data"].values())
        shown = orjson.dumps(s, default=str).decode() + repr(s)
        assert "aHVudGVyMg" not in shown and "hunter2" not in shown and "<redacted>" in shown


async def test_forbidden_on_the_demo_server_is_reported_retried_slowly_and_recovers(cluster, client):
    """The demo server's per-kind 403 (RBAC without a rule): reported with kube-apiserver's wording,
    retried slowly, and picked up again once allowed; other kinds are untouched."""
    ensure_ns(cluster.state, NS)
    cluster.state.create(pod("a"))
    cluster.server.forbidden.update({"pods", "secrets"})
    store = Store()
    pods = Informer(client, store, PODS, namespace=NS, **FAST)
    secrets = Informer(client, store, SECRETS, namespace=NS, **FAST)
    async with Running(pods), Running(secrets):
        await until(lambda: pods.health.forbidden and secrets.health.forbidden, what="forbidden")
        assert pods.health.error == ('forbidden: pods is forbidden: User "system:serviceaccount:demo:lookout" '
                                     f'cannot list resource "pods" in API group "" in the namespace "{NS}"')
        assert pods.health.connected and not pods.health.synced
        n = cluster.server.counters.by_kind["forbidden"]["requests"]
        await asyncio.sleep(0.3)
        assert cluster.server.counters.by_kind["forbidden"]["requests"] - n <= 6  # slow, not a hot loop
        cluster.server.forbidden.discard("pods")  # RBAC fixed: the next slow retry picks it up
        await asyncio.wait_for(pods.synced.wait(), 5)
        assert not pods.health.forbidden and pods.health.error is None
        assert set(store_view(store, "pods")) == {(NS, "a")}
        assert secrets.health.forbidden


# ---- errors the demo server does not produce: a scripted transport --------------------------------------

class Script:
    """An httpx transport answering from a function; records requests."""

    def __init__(self, fn):
        self.fn = fn
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.fn(request)


def status(code, reason, message):
    return httpx.Response(code, json={"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                      "message": message, "reason": reason, "code": code})


def fake_target(tmp_path):
    (tmp_path / "kc").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "clusters: [{name: c, cluster: {server: 'https://k.example:6443', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t0k}}]\n"
        "contexts: [{name: dev, context: {cluster: c, user: u, namespace: shop}}]\n")
    return load_target(str(tmp_path / "kc"))


async def test_forbidden_is_reported_and_retried_slowly(tmp_path):
    allowed = {"pods": False}

    def answer(req: httpx.Request):
        if "/secrets" in req.url.path:
            return status(403, "Forbidden", 'secrets is forbidden: User "dev" cannot list resource "secrets"')
        if not allowed["pods"]:
            return status(403, "Forbidden", 'pods is forbidden: User "dev" cannot list resource "pods"')
        if req.url.params.get("watch"):
            return httpx.Response(200, content=b"")
        return httpx.Response(200, json={"kind": "PodList", "metadata": {"resourceVersion": "5"},
                                         "items": [pod("a")]})

    script = Script(answer)
    async with KubeClient(fake_target(tmp_path), transport=httpx.MockTransport(script)) as client:
        store = Store()
        pods = Informer(client, store, PODS, namespace=NS, **FAST)
        secrets = Informer(client, store, SECRETS, namespace=NS, **FAST)
        async with Running(pods), Running(secrets):
            await until(lambda: pods.health.forbidden and secrets.health.forbidden, what="forbidden")
            assert pods.health.error == 'forbidden: pods is forbidden: User "dev" cannot list resource "pods"'
            assert pods.health.connected and not pods.health.synced
            allowed["pods"] = True  # RBAC fixed: the next slow retry picks it up
            await asyncio.wait_for(pods.synced.wait(), 5)
            assert not pods.health.forbidden and pods.health.error is None
            assert secrets.health.forbidden  # still forbidden, on its own
            n = sum("/secrets" in r.url.path for r in script.requests)
            await asyncio.sleep(0.3)
            assert sum("/secrets" in r.url.path for r in script.requests) - n <= 3  # slow, not a hot loop


async def test_watch_error_frames_and_batching_unit():
    store = Store()
    emits: list[list] = []
    store.subscribe(lambda ds: emits.append([(d.type, d.key[1]) for d in ds]))
    inf = Informer(None, store, PODS, namespace=NS, slim=keep_all)  # type: ignore[arg-type]

    def frame(t, name=None, rv="1", **obj):
        o = {"metadata": {"name": name, "namespace": NS, "resourceVersion": rv}} if name else obj
        return orjson.dumps({"type": t, "object": o})

    inf._apply_frames([frame("ADDED", "a", "2"), frame("ADDED", "b", "3"), frame("MODIFIED", "a", "4"),
                       frame("DELETED", "b", "5"), frame("ADDED", "c", "6"),
                       frame("BOOKMARK", kind="Pod", metadata={"resourceVersion": "9"})])
    assert emits == [[("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a")], [("DELETED", "b")], [("ADDED", "c")]]
    assert inf.resource_version == "9" and inf._owned == {(NS, "a"), (NS, "c")}
    with pytest.raises(_Gone):
        inf._apply_frames([frame("ADDED", "d", "10"), frame("ERROR", kind="Status", code=410, reason="Expired",
                                                             message="too old resource version: 9 (20)")])
    assert store.get("pods", NS, "d") is not None and inf.resource_version == "10"
