"""OpenAPI documents of the demo cluster (tui/demo/openapi.py)."""
from __future__ import annotations

import json

import pytest

from tui.demo import openapi as oa


def _fields(buf: bytes):
    """Minimal protobuf wire decoder: yields (field number, wire type, value)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        yield field, wire, v


def _varint(buf: bytes, i: int):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def _pb_schema(buf: bytes) -> dict:
    """Decode the parts of openapi.v2.Schema the tests look at."""
    out: dict = {"properties": {}, "x": {}}
    for f, _w, v in _fields(buf):
        if f == 1:
            out["$ref"] = v.decode()
        elif f == 22:
            out["type"] = [x.decode() for _f, _w2, x in _fields(v)]
        elif f == 25:
            for _f, _w2, named in _fields(v):
                parts = dict((ff, vv) for ff, _ww, vv in _fields(named))
                out["properties"][parts[1].decode()] = _pb_schema(parts[2])
        elif f == 23:
            out["items"] = [_pb_schema(x) for _f, _w2, x in _fields(v)]
        elif f == 31:
            parts = dict((ff, vv) for ff, _ww, vv in _fields(v))
            any_ = dict((ff, vv) for ff, _ww, vv in _fields(parts[2]))
            out["x"][parts[1].decode()] = json.loads(any_[2].decode())
    return out


@pytest.fixture(scope="module")
def v2():
    return oa.openapi_v2()


def test_v2_json_is_swagger_and_refs_resolve(v2):
    assert v2["swagger"] == "2.0"
    doc = json.loads(oa.openapi_v2_bytes())
    defs = doc["definitions"]
    refs: set[str] = set()
    oa._refs(doc, refs)
    assert refs <= set(defs), refs - set(defs)
    for name in ("io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.PodTemplateSpec", "io.k8s.api.apps.v1.Deployment",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.api.discovery.v1.EndpointSlice",
                 "io.k8s.api.events.v1.Event", "io.k8s.api.core.v1.Event", "io.argoproj.v1alpha1.Rollout",
                 "io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics", "io.k8s.api.autoscaling.v1.Scale"):
        assert name in defs, name


def test_every_served_kind_has_a_gvk(v2):
    for res in oa.RESOURCES:
        name = oa.definition_for(res.group, res.version, res.kind)
        assert name == res.definition, res
        assert oa.definition_for(res.group, res.version, res.kind + "List") == res.definition + "List"


def test_types_and_patch_directives(v2):
    defs = v2["definitions"]
    meta = defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert meta["creationTimestamp"]["$ref"].endswith("meta.v1.Time")
    assert defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] | {"description": ""} == {
        "type": "string", "format": "date-time", "description": ""}
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    port = defs["io.k8s.api.core.v1.ServicePort"]["properties"]
    assert port["targetPort"]["$ref"].endswith("IntOrString") and port["port"]["type"] == "integer"
    assert "port" in defs["io.k8s.api.core.v1.ServicePort"]["required"]
    pod_spec = defs["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert pod_spec["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert pod_spec["containers"]["x-kubernetes-patch-strategy"] == "merge"
    assert pod_spec["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    c = defs["io.k8s.api.core.v1.Container"]["properties"]
    assert c["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    assert c["env"]["x-kubernetes-patch-merge-key"] == "name"
    assert c["volumeMounts"]["x-kubernetes-patch-merge-key"] == "mountPath"
    assert c["resources"]["$ref"].endswith("core.v1.ResourceRequirements")
    limits = defs["io.k8s.api.core.v1.ResourceRequirements"]["properties"]["limits"]
    assert limits["additionalProperties"]["$ref"].endswith("resource.Quantity")
    assert defs["io.k8s.api.core.v1.ConfigMap"]["properties"]["data"] == {
        **defs["io.k8s.api.core.v1.ConfigMap"]["properties"]["data"], "type": "object",
        "additionalProperties": {"type": "string"}}
    assert defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["template"]["$ref"].endswith(
        "core.v1.PodTemplateSpec")
    rollout = defs["io.argoproj.v1alpha1.Rollout"]["properties"]
    assert rollout["spec"]["x-kubernetes-preserve-unknown-fields"] is True


def test_protobuf_matches_json(v2):
    pb = oa.openapi_v2_protobuf()
    top = list(_fields(pb))
    assert (1, 2, b"2.0") in top
    defs_msg = [v for f, _w, v in top if f == 9]
    assert len(defs_msg) == 1
    names = {}
    for _f, _w, named in _fields(defs_msg[0]):
        parts = dict((ff, vv) for ff, _ww, vv in _fields(named))
        names[parts[1].decode()] = parts[2]
    assert set(names) == set(v2["definitions"])
    pod = _pb_schema(names["io.k8s.api.core.v1.Pod"])
    assert pod["type"] == ["object"]
    assert pod["x"]["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["metadata"]["$ref"] == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    spec = _pb_schema(names["io.k8s.api.core.v1.PodSpec"])
    containers = spec["properties"]["containers"]
    assert containers["type"] == ["array"] and len(containers["items"]) == 1
    assert containers["x"]["x-kubernetes-patch-merge-key"] == "name"
    paths = [v for f, _w, v in top if f == 8][0]
    path_names = set()
    for _f, _w, named in _fields(paths):
        parts = dict((ff, vv) for ff, _ww, vv in _fields(named))
        path_names.add(parts[1].decode())
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in path_names
    body, ctype = oa.openapi_v2_response("application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
    assert body == pb and "@" not in ctype and ctype.endswith("+protobuf")
    body, ctype = oa.openapi_v2_response("application/json")
    assert ctype == "application/json" and json.loads(body)["swagger"] == "2.0"


def test_v3_index_and_docs():
    index = oa.openapi_v3_index("https://127.0.0.1:1")
    keys = set(index["paths"])
    assert {"api/v1", "apis/apps/v1", "apis/events.k8s.io/v1", "apis/discovery.k8s.io/v1",
            "apis/networking.k8s.io/v1", "apis/apiextensions.k8s.io/v1", "apis/argoproj.io/v1alpha1",
            "apis/metrics.k8s.io/v1beta1"} <= keys
    for key, entry in index["paths"].items():
        url = entry["serverRelativeURL"]
        assert url.startswith(f"/openapi/v3/{key}?hash=")
        assert oa.openapi_v3_doc(url) == oa.openapi_v3_doc(key)
        doc = json.loads(oa.openapi_v3_doc(key))
        assert doc["openapi"].startswith("3.")
        schemas = doc["components"]["schemas"]
        refs: set[str] = set()
        oa._refs(doc, refs)
        assert refs <= set(schemas), (key, refs - set(schemas))
        assert "#/definitions/" not in json.dumps(doc)  # no v2 refs left
    assert oa.openapi_v3_doc("apis/nope/v1") is None


def _patch_op(doc: dict, group: str, version: str, kind: str) -> dict:
    for item in doc["paths"].values():
        op = item.get("patch")
        if op and op["x-kubernetes-group-version-kind"] == {"group": group, "version": version, "kind": kind}:
            return op
    raise AssertionError(f"no PATCH for {group}/{version} {kind}")


@pytest.mark.parametrize("key,group,version,kind,strategic", [
    ("api/v1", "", "v1", "Pod", True),
    ("api/v1", "", "v1", "ConfigMap", True),
    ("apis/apps/v1", "apps", "v1", "Deployment", True),
    ("apis/argoproj.io/v1alpha1", "argoproj.io", "v1alpha1", "Rollout", False),
])
def test_v3_patch_ops_declare_field_validation(key, group, version, kind, strategic):
    """kubectl >= 1.27 asks the server to validate (fieldValidation=Strict) only when the PATCH
    operation of the kind lists that query parameter; it builds strategic merge patches from v3
    only when the PATCH operation accepts application/strategic-merge-patch+json."""
    doc = json.loads(oa.openapi_v3_doc(key))
    op = _patch_op(doc, group, version, kind)
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in op["parameters"])
    assert ("application/strategic-merge-patch+json" in op["requestBody"]["content"]) is strategic
    schemas = doc["components"]["schemas"]
    gvk_schemas = [n for n, s in schemas.items()
                   if {"group": group, "version": version, "kind": kind} in s.get("x-kubernetes-group-version-kind", [])]
    assert len(gvk_schemas) == 1


def test_v3_schema_shapes():
    doc = json.loads(oa.openapi_v3_doc("api/v1"))
    s = doc["components"]["schemas"]
    assert s["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["x-kubernetes-int-or-string"] is True
    containers = s["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    created = s["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["creationTimestamp"]
    assert created["allOf"] == [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time"}]
    assert created["description"]


def test_warm_up_is_idempotent():
    th = oa.warm_up()
    assert th is oa.warm_up()
    th.join(30)
    assert not th.is_alive()
