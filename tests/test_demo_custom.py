"""Custom resources and real manifests in the demo cluster, below kubectl: --manifests with CRDs and unknown
kinds, --without-crds, CRD schema validation, the protobuf decoder, a CRD's lifecycle in the state."""
from __future__ import annotations

import json
import os

import pytest
import yaml

from kubectl_support import Kubectl, kubectl_binary, start_cluster
from tui.demo import protobuf
from tui.demo.cluster import start_demo_cluster
from tui.demo.custom import SchemaCheck, preinstalled_crds, veritas_crds
from tui.demo.state import ClusterState, NotFound

FIX = os.path.join(os.path.dirname(__file__), "fixtures")


async def test_manifests_dir_loads_crds_first_and_skips_unknown_kinds(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    # the custom resource comes before its CRD (file order): the CRD is applied first anyway
    (d / "a-objects.yaml").write_text(yaml.safe_dump_all([
        {"apiVersion": "veritas.hearthlink.ai/v1", "kind": "VeritasEnvironment", "metadata": {"name": "pay"},
         "spec": {"active": "green"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}, "data": {"k": "v"}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "sm"}},
    ]))
    (d / "b-crds.yaml").write_text(yaml.safe_dump_all(veritas_crds()))
    rc = await start_demo_cluster(simulate=False, manifests_dir=str(d), kubeconfig_path=str(tmp_path / "kc"))
    try:
        env = rc.state.get("veritasenvironments.veritas.hearthlink.ai", "default", "pay")
        assert env is not None and env["spec"]["active"] == "green"
        assert rc.state.get("configmaps", "default", "kept")["data"] == {"k": "v"}
        assert len(rc.warnings) == 1, rc.warnings
        w = rc.warnings[0]
        assert "a-objects.yaml:" in w and "skipped ServiceMonitor sm" in w
        assert 'no kind "ServiceMonitor" in version "monitoring.coreos.com/v1"' in w
    finally:
        await rc.stop()
    # the same with the simulation running
    rc = await start_demo_cluster(manifests_dir=str(d), kubeconfig_path=str(tmp_path / "kc2"), speed=10.0)
    try:
        assert rc.state.get("veritasenvironments.veritas.hearthlink.ai", "default", "pay") is not None
        assert [w.split(": skipped ")[1].split(":")[0] for w in rc.warnings] == ["ServiceMonitor sm"]
    finally:
        await rc.stop()


def test_without_crds_leaves_the_sets_out_and_the_official_crd_applies_over_them(tmp_path):
    kubectl_binary()
    c = start_cluster(simulate=False, without_crds=["argo", "flagger"])
    try:
        k = Kubectl(kubectl_binary(), c.kubeconfig_path, str(tmp_path / "home"), namespace="default")
        r = k.run("api-resources")
        assert "flagger.app" not in r.out and "argoproj.io" not in r.out, r
        assert "networking.istio.io" in r.out and "split.smi-spec.io" in r.out
        r = k.run("get", "canaries", check=False)
        assert r.rc != 0 and 'the server doesn\'t have a resource type "canaries"' in r.err, r
    finally:
        c.stop()
    c = start_cluster(simulate=False)
    try:
        k = Kubectl(kubectl_binary(), c.kubeconfig_path, str(tmp_path / "home2"), namespace="default")
        canary = yaml.safe_load(open(os.path.join(FIX, "flagger", "istio-canary.yaml")))
        canary["metadata"]["namespace"] = "default"
        (tmp_path / "canary.yaml").write_text(yaml.safe_dump(canary))
        k.run("apply", "-f", str(tmp_path / "canary.yaml"))
        # Flagger's published CRDs (the pre-installed copy is that file, less its status) applied over them
        official = {"apiVersion": "v1", "kind": "List", "items": [
            x for x in preinstalled_crds() if x["spec"]["group"] == "flagger.app"]}
        (tmp_path / "crd.yaml").write_text(yaml.safe_dump(official))
        r = k.run("apply", "-f", str(tmp_path / "crd.yaml"))
        assert "customresourcedefinition.apiextensions.k8s.io/canaries.flagger.app configured" in r.out, r
        assert k.run("get", "canary", "podinfo", "-o", "jsonpath={.spec.provider}").out == "istio"
    finally:
        c.stop()


def test_schema_check_reports_like_kube_apiserver():
    schema = next(c for c in veritas_crds() if c["spec"]["names"]["kind"] == "VeritasCanary")[
        "spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    ok = SchemaCheck(schema).run({"spec": {"targetRef": {"name": "a"}, "trafficWeight": 0}})
    assert ok.errors == [] and ok.unknown == []
    bad = SchemaCheck(schema).run({"spec": {"targetRef": {"kind": "StatefulSet"}, "trafficWeight": "ten",
                                            "promotion": {"auto": "yes", "manual": True}}, "extra": 1})
    assert ("spec.targetRef.kind", 'Unsupported value: "StatefulSet": supported values: "Deployment"') in bad.errors
    assert ("spec.targetRef.name", "Required value") in bad.errors
    assert ("spec.trafficWeight", 'Invalid value: "ten": spec.trafficWeight in body must be of type integer: '
                                  '"string"') in bad.errors
    assert ("spec.promotion.auto", 'Invalid value: "yes": spec.promotion.auto in body must be of type boolean: '
                                   '"string"') in bad.errors
    assert sorted(bad.unknown) == ["extra", "spec.promotion.manual"]
    # pruned as kube-apiserver prunes: the unknown fields go, the rest stays
    obj = {"spec": {"targetRef": {"name": "a"}, "promotion": {"auto": True, "manual": True}}, "extra": 1}
    check = SchemaCheck(schema).run(obj)
    assert check.prune() == 2 and obj == {"spec": {"targetRef": {"name": "a"}, "promotion": {"auto": True}}}
    # preserve-unknown-fields keeps whatever is under it
    assert SchemaCheck({"type": "object", "properties": {"spec": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}).run({"spec": {"x": 1}}).unknown == []


def _ld(field: int, payload: bytes) -> bytes:
    n, out = len(payload), b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            break
    return bytes([(field << 3) | 2]) + out + payload


def test_protobuf_decoder_reads_a_configmap_and_refuses_other_kinds():
    meta = _ld(1, b"app-config") + _ld(3, b"") + _ld(8, b"")  # Go writes empty strings and a zero time too
    data = _ld(2, _ld(1, b"mode") + _ld(2, b"fast"))
    body = protobuf.MAGIC + _ld(1, _ld(1, b"v1") + _ld(2, b"ConfigMap")) + _ld(2, _ld(1, meta) + data)
    assert protobuf.decode(body) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"},
                                     "data": {"mode": "fast"}}
    pod = protobuf.MAGIC + _ld(1, _ld(1, b"v1") + _ld(2, b"Pod")) + _ld(2, _ld(1, meta))
    with pytest.raises(protobuf.ProtobufError, match=r"not Pod \(v1\): send JSON"):
        protobuf.decode(pod)
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(b"k8s\x00\x0a\x05ab")  # truncated


def test_crd_lifecycle_in_the_state():
    s = ClusterState(seed_crds=False)
    crd = next(c for c in veritas_crds() if c["spec"]["names"]["kind"] == "VeritasEnvironment")
    s.create(crd)
    key = "veritasenvironments.veritas.hearthlink.ai"
    assert s.routes[("veritas.hearthlink.ai", "v1", "veritasenvironments")] == key
    obj = {"apiVersion": "veritas.hearthlink.ai/v1", "kind": "VeritasEnvironment",
           "metadata": {"name": "e", "namespace": "default"}, "spec": {"active": "blue"}}
    assert s.resource_for(obj) == key
    s.create(obj)
    w = s.watch(key, "default")
    assert s.get(key, "default", "e")["metadata"]["generation"] == 1
    s.delete("customresourcedefinitions", None, crd["metadata"]["name"])
    assert key not in s.kinds and key not in s._objs and w.closed
    with pytest.raises(Exception, match="no matches for kind"):
        s.resource_for(obj)
    with pytest.raises(NotFound):
        s.kind(key)
    # saved and loaded: the CRD's kinds come back with it
    s.create(crd)
    s.create(obj)
    snap = json.loads(json.dumps(s.snapshot()))
    path = "/tmp/lookout-test-crd-state.json"
    try:
        with open(path, "w") as f:
            json.dump(snap, f)
        t = ClusterState.load(path)
        assert t.get(key, "default", "e")["spec"] == {"active": "blue"}
    finally:
        os.unlink(path)
