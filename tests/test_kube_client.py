"""KubeClient (auth, errors, streams), ResourceRef paths and field trimming."""

from __future__ import annotations

import base64
import socket
import sys
import textwrap

import httpx
import pytest
import yaml

from tui import __version__
from tui.demo.cluster import start_demo_cluster
from tui.kube.client import ApiError, KubeClient, Unreachable
from tui.kube.config import load_target
from tui.kube.resources import DEPLOYMENTS, EVENTS, NODES, PODS, RESOURCES, ROLLOUTS, ref
from tui.kube.slim import LAST_APPLIED, REDACTED, redact_secret, slim_generic, slim_pod, slim_secret


def kubeconfig(tmp_path, server="https://k.example:6443", name="kc", **user) -> str:
    d = {"apiVersion": "v1", "kind": "Config", "current-context": "dev",
         "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
         "users": [{"name": "u", "user": user or {"token": "t0k"}}],
         "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u"}}]}
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d))
    return str(p)


def mock(fn) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(req):
        seen.append(req)
        return fn(req)

    return httpx.MockTransport(handler), seen


async def test_headers_params_and_json(tmp_path):
    t, seen = mock(lambda r: httpx.Response(200, json={"kind": "PodList", "items": []}))
    async with KubeClient(load_target(kubeconfig(tmp_path)), transport=t) as c:
        data = await c.get_json("/api/v1/pods", {"limit": 5, "labelSelector": None, "watch": True})
    assert data == {"kind": "PodList", "items": []}
    r = seen[0]
    assert r.headers["User-Agent"] == f"lookout/{__version__}" and r.headers["Authorization"] == "Bearer t0k"
    assert str(r.url) == "https://k.example:6443/api/v1/pods?limit=5&watch=true"


async def test_status_body_becomes_api_error(tmp_path):
    body = {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
            "message": 'pods "x" not found', "details": {"name": "x", "kind": "pods"}}
    t, _ = mock(lambda r: httpx.Response(404, json=body) if "json" in r.url.path
                else httpx.Response(502, text="<html>bad gateway</html>"))
    async with KubeClient(load_target(kubeconfig(tmp_path)), transport=t) as c:
        with pytest.raises(ApiError) as ei:
            await c.get_json("/api/v1/json/x")
        e = ei.value
        assert (e.status, e.reason, e.message, e.path) == (404, "NotFound", 'pods "x" not found', "/api/v1/json/x")
        assert str(e) == '404 NotFound: pods "x" not found'
        with pytest.raises(ApiError) as ei:
            await c.get_text("/proxy")
        assert (ei.value.status, ei.value.reason, ei.value.message) == (502, "Bad Gateway", "<html>bad gateway</html>")


async def test_401_refreshes_the_credential_once(tmp_path):
    tok = tmp_path / "tok"
    tok.write_text("old")
    good = {"token": "old"}
    t, seen = mock(lambda r: httpx.Response(200, json={}) if r.headers.get("Authorization") == f"Bearer {good['token']}"
                   else httpx.Response(401, json={"kind": "Status", "code": 401, "reason": "Unauthorized",
                                                  "message": "Unauthorized"}))
    async with KubeClient(load_target(kubeconfig(tmp_path, tokenFile=str(tok))), transport=t) as c:
        assert await c.get_json("/a") == {}
        tok.write_text("new")  # rotated on disk, and the server already wants the new one
        good["token"] = "new"
        assert await c.get_json("/b") == {}
        assert [r.headers["Authorization"] for r in seen] == ["Bearer old", "Bearer old", "Bearer new"]
        good["token"] = "other"
        with pytest.raises(ApiError) as ei:  # refreshing does not help: the 401 is the answer
            await c.get_json("/c")
        assert ei.value.status == 401 and len(seen) == 5


async def test_request_sends_json_with_content_type(tmp_path):
    t, seen = mock(lambda r: httpx.Response(200, json={"ok": True}))
    async with KubeClient(load_target(kubeconfig(tmp_path)), transport=t) as c:
        out = await c.request("patch", "/apis/apps/v1/namespaces/a/deployments/d", json={"spec": {"replicas": 2}},
                              content_type="application/merge-patch+json")
    assert out == {"ok": True}
    r = seen[0]
    assert r.method == "PATCH" and r.headers["Content-Type"] == "application/merge-patch+json"
    assert r.content == b'{"spec":{"replicas":2}}'


async def test_stream_lines_across_chunks(tmp_path):
    chunks = [b'{"a":1}\n{"b"', b':2}\n', b'\n{"c":3}\n{"d":4}\n', b'{"tail":5}']

    async def body():
        for ch in chunks:
            yield ch

    t, _ = mock(lambda r: httpx.Response(200, content=body()))
    async with KubeClient(load_target(kubeconfig(tmp_path)), transport=t) as c:
        batches = [b async for b in c.stream_batches("/w")]
        assert batches == [[b'{"a":1}'], [b'{"b":2}'], [b'{"c":3}', b'{"d":4}'], [b'{"tail":5}']]
        lines = [ln async for ln in c.stream_lines("/w", keep_empty=True)]
        assert lines == [b'{"a":1}', b'{"b":2}', b'', b'{"c":3}', b'{"d":4}', b'{"tail":5}']


async def test_unreachable_names_the_server(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    server = f"https://127.0.0.1:{port}"
    async with KubeClient(load_target(kubeconfig(tmp_path, server=server))) as c:
        with pytest.raises(Unreachable) as ei:
            await c.get_json("/version")
    assert str(ei.value).startswith(f"cannot reach the API server at {server}: ")


# ---- against the demo cluster: TLS with its CA, exec plugin credentials -------------------------------------

@pytest.fixture
async def demo(tmp_path):
    rc = await start_demo_cluster(simulate=False, kubeconfig_path=str(tmp_path / "demo.kubeconfig"))
    yield rc
    await rc.stop()


async def test_demo_cluster_over_https(demo):
    async with KubeClient(load_target(demo.kubeconfig_path)) as c:
        v = await c.get_json("/version")
        assert v["major"] == "1"
        ns = await c.get_json("/api/v1/namespaces")
        assert ns["kind"] == "NamespaceList"


async def test_proxy_environment_skips_a_loopback_server(demo, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing there: would fail if used
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    async with KubeClient(load_target(demo.kubeconfig_path)) as c:
        assert (await c.get_json("/version"))["major"] == "1"


async def test_wrong_ca_is_unreachable_with_the_reason(demo, tmp_path):
    from tui.demo import certs
    other = certs.generate(days=1)
    d = yaml.safe_load(open(demo.kubeconfig_path))
    d["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(other.ca_pem).decode()
    p = tmp_path / "wrong-ca"
    p.write_text(yaml.safe_dump(d))
    async with KubeClient(load_target(str(p))) as c:
        with pytest.raises(Unreachable, match="certificate verify failed"):
            await c.get_json("/version")


async def test_exec_plugin_token_against_the_demo_cluster(demo, tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(textwrap.dedent(f"""\
        import json, os, sys
        n = int(open(sys.argv[1]).read()) + 1 if os.path.exists(sys.argv[1]) else 1
        open(sys.argv[1], "w").write(str(n))
        # the first credential is stale: the server refuses it, the client re-runs the plugin once
        tok = "stale" if n == 1 else {demo.token!r}
        print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                          "status": {{"token": tok, "expirationTimestamp": "2999-01-01T00:00:00Z"}}}}))
        """))
    d = yaml.safe_load(open(demo.kubeconfig_path))
    d["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                      "command": sys.executable, "args": [str(plugin), str(tmp_path / "n")]}}
    p = tmp_path / "exec.kubeconfig"
    p.write_text(yaml.safe_dump(d))
    target = load_target(str(p))
    async with KubeClient(target) as c:
        assert (await c.get_json("/api/v1/namespaces"))["kind"] == "NamespaceList"
        assert (await c.get_json("/api/v1/namespaces"))["kind"] == "NamespaceList"
    assert (tmp_path / "n").read_text() == "2" and target.credentials.runs == 2


# ---- resources ---------------------------------------------------------------------------------------------

def test_paths():
    assert PODS.path("shop") == "/api/v1/namespaces/shop/pods"
    assert PODS.path() == "/api/v1/pods"
    assert PODS.path("shop", "web-1", "log") == "/api/v1/namespaces/shop/pods/web-1/log"
    assert DEPLOYMENTS.path("shop", "web") == "/apis/apps/v1/namespaces/shop/deployments/web"
    assert ROLLOUTS.path("shop") == "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts"
    assert NODES.path("ignored") == "/api/v1/nodes"
    assert EVENTS.api_version == "v1" and ROLLOUTS.api_version == "argoproj.io/v1alpha1"
    assert set(RESOURCES) == {"pods", "events", "services", "endpoints", "endpointslices", "deployments",
                              "replicasets", "configmaps", "secrets", "rollouts", "analysisruns", "namespaces",
                              "nodes", "ingresses", "networkpolicies"}
    with pytest.raises(KeyError, match="unknown resource 'canaries'"):
        ref("canaries")


def test_resources_match_the_demo_cluster_kinds():
    from tui.demo.state import KINDS
    for key, r in RESOURCES.items():
        k = KINDS[key]
        assert (k.group, k.version, k.kind, k.plural, k.namespaced) == (r.group, r.version, r.kind, r.plural,
                                                                        r.namespaced), key


# ---- slim ----------------------------------------------------------------------------------------------------

FULL_POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "7", "generation": 1,
                 "labels": {"app": "web"}, "annotations": {LAST_APPLIED: "{...}", "note": "keep"},
                 "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc"}], "creationTimestamp": "t0",
                 "managedFields": [{"manager": "kube-controller-manager"}], "generateName": "web-"},
    "spec": {"nodeName": "n1", "serviceAccountName": "web", "volumes": [{"name": "v"}], "tolerations": [{}],
             "containers": [{"name": "app", "image": "web:2", "ports": [{"containerPort": 8080}],
                             "readinessProbe": {"httpGet": {"path": "/ready"}}, "resources": {"limits": {}},
                             "env": [{"name": "A", "value": "secret-value"},
                                     {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                             "volumeMounts": [{"name": "v"}], "terminationMessagePath": "/dev/termination-log"}],
             "initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Always", "command": ["x"]}]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready"}], "containerStatuses": [{"name": "app"}],
               "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}], "hostIP": "192.168.0.1", "startTime": "t1",
               "qosClass": "Burstable", "hostIPs": [{"ip": "192.168.0.1"}]},
}


def test_slim_pod_keeps_what_lookout_reads():
    import copy
    before = copy.deepcopy(FULL_POD)
    s = slim_pod(FULL_POD)
    assert FULL_POD == before  # the input is untouched
    assert s["metadata"] == {"name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "7",
                             "generation": 1, "labels": {"app": "web"}, "annotations": {"note": "keep"},
                             "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc"}],
                             "creationTimestamp": "t0"}
    c = s["spec"]["containers"][0]
    assert c == {"name": "app", "image": "web:2", "ports": [{"containerPort": 8080}],
                 "readinessProbe": {"httpGet": {"path": "/ready"}}, "resources": {"limits": {}},
                 "env": [{"name": "A"}, {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}
    assert s["spec"]["initContainers"] == [{"name": "init", "image": "busybox", "restartPolicy": "Always"}]
    assert s["spec"]["nodeName"] == "n1" and s["spec"]["serviceAccountName"] == "web"
    assert set(s["status"]) == {"phase", "conditions", "containerStatuses", "podIP", "podIPs", "hostIP",
                                "startTime", "qosClass"}
    assert (s["kind"], s["apiVersion"]) == ("Pod", "v1")


def test_slim_generic_and_secrets():
    d = {"kind": "Deployment", "metadata": {"name": "d", "managedFields": [{}], "annotations": {LAST_APPLIED: "x"}},
         "spec": {"replicas": 3}}
    s = slim_generic(d)
    assert s == {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 3}}
    plain = {"kind": "Service", "metadata": {"name": "s"}}
    assert slim_generic(plain) is plain  # nothing to trim, nothing copied
    secret = {"kind": "Secret", "type": "Opaque",
              "metadata": {"name": "db", "annotations": {LAST_APPLIED: '{"data":{"password":"aHVudGVy"}}'}},
              "data": {"password": "aHVudGVy"}, "stringData": {"user": "admin"}}
    slim = slim_secret(secret)
    assert {k: v for k, v in slim.items() if k != "data"} == {"kind": "Secret", "type": "Opaque",
                                                              "metadata": {"name": "db"}}
    assert list(slim["data"]) == ["password", "user"]
    # keyed digests: comparable (same value, same digest, whether base64 or plain), never printable
    again = slim_secret({"kind": "Secret", "stringData": {"password": "hunter", "user": "root"}})
    assert slim["data"]["password"] == again["data"]["password"] and slim["data"]["user"] != again["data"]["user"]
    assert "aHVudGVy" not in repr(slim) and "hunter" not in repr(slim) and "admin" not in repr(slim)
    assert str(slim["data"]["password"]) == repr(slim["data"]["user"]) == "<redacted>"
    r = redact_secret(secret)
    assert r["data"] == {"password": "<redacted: 6 bytes>"} and r["stringData"] == {"user": "<redacted: 5 bytes>"}
    assert "aHVudGVy" not in repr(r) and "admin" not in repr(r)
