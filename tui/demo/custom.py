"""Custom resources in the demo cluster: the CRDs it comes with, validation against a CRD's
openAPIV3Schema, and the OpenAPI v3 documents (for `kubectl explain` and server-side field validation)
of the group versions CRDs serve.

The pre-installed CRDs: Argo Rollouts' and Flagger's published ones (tui/demo/crds/*.json, their source
URL in each CRD's `lookout.dev/source` annotation; the Argo ones with their embedded pod-template schemas
cut down to `x-kubernetes-preserve-unknown-fields`, which takes them from 3 MB to 190 kB), and generated
ones for Istio, SMI and the Gateway API (schemas that keep every field). The in-house Veritas CRDs ship
as tui/demo/crds/veritas.yaml and are not installed unless applied (or named by a scenario's `crds:`); once they
are, controllers/veritas.py runs their objects.

Nothing here imports tui.demo.state: the state imports this module.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from typing import Any, Iterable

import orjson

CRD_DIR = os.path.join(os.path.dirname(__file__), "crds")
# `lookout demo-cluster --without-crds` names: which pre-installed CRDs each stands for
CRD_SETS = ("argo", "flagger", "istio", "smi", "gateway")


# ------------------------------------------------------------------------------------ pre-installed

def _columns(*cols: tuple[str, str, str]) -> list[dict]:
    return [{"name": n, "type": t, "jsonPath": p} for n, t, p in cols] + [
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]


def _open_crd(group: str, kind: str, plural: str, versions: Iterable[str], storage: str, part_of: str, *,
              short: Iterable[str] = (), scope: str = "Namespaced", status: bool = True,
              columns: list[dict] | None = None, categories: Iterable[str] = ()) -> dict:
    """A CRD whose schema keeps every field (as a CRD installed without its validation schema)."""
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                 "description": f"{kind} spec (every field kept: the demo cluster has no schema for it)."},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "x-kubernetes-preserve-unknown-fields": True}
    names = {"kind": kind, "listKind": kind + "List", "plural": plural, "singular": kind.lower()}
    if short:
        names["shortNames"] = list(short)
    if categories:
        names["categories"] = list(categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": {"app.kubernetes.io/part-of": part_of}},
        "spec": {"group": group, "scope": scope, "names": names, "versions": [
            dict({"name": v, "served": True, "storage": v == storage, "schema": {"openAPIV3Schema": schema},
                  "subresources": {"status": {}} if status else {}},
                 **({"additionalPrinterColumns": columns} if columns else {})) for v in versions]},
    }


def _generated() -> dict[str, list[dict]]:
    istio_v = ("v1alpha3", "v1beta1", "v1")
    gw = "gateway.networking.k8s.io"
    return {
        "istio": [
            _open_crd("networking.istio.io", "VirtualService", "virtualservices", istio_v, "v1", "istio",
                      short=("vs",), categories=("istio-io", "networking-istio-io"),
                      columns=_columns(("Gateways", "string", ".spec.gateways"), ("Hosts", "string", ".spec.hosts"))),
            _open_crd("networking.istio.io", "DestinationRule", "destinationrules", istio_v, "v1", "istio",
                      short=("dr",), categories=("istio-io", "networking-istio-io"),
                      columns=_columns(("Host", "string", ".spec.host"))),
            _open_crd("networking.istio.io", "Gateway", "gateways", istio_v, "v1", "istio", short=("gw",),
                      categories=("istio-io", "networking-istio-io")),
            _open_crd("networking.istio.io", "ServiceEntry", "serviceentries", istio_v, "v1", "istio",
                      short=("se",), categories=("istio-io", "networking-istio-io")),
        ],
        "smi": [
            _open_crd("split.smi-spec.io", "TrafficSplit", "trafficsplits",
                      ("v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"), "v1alpha2", "smi", short=("ts",),
                      status=False, columns=_columns(("Service", "string", ".spec.service"))),
        ],
        "gateway": [
            _open_crd(gw, "GatewayClass", "gatewayclasses", ("v1", "v1beta1"), "v1", "gateway-api", short=("gc",),
                      scope="Cluster", columns=_columns(("Controller", "string", ".spec.controllerName"))),
            _open_crd(gw, "Gateway", "gateways", ("v1", "v1beta1"), "v1", "gateway-api", short=("gtw",),
                      columns=_columns(("Class", "string", ".spec.gatewayClassName"))),
            _open_crd(gw, "HTTPRoute", "httproutes", ("v1", "v1beta1"), "v1", "gateway-api",
                      columns=_columns(("Hostnames", "string", ".spec.hostnames"))),
            _open_crd(gw, "GRPCRoute", "grpcroutes", ("v1",), "v1", "gateway-api",
                      columns=_columns(("Hostnames", "string", ".spec.hostnames"))),
            _open_crd(gw, "ReferenceGrant", "referencegrants", ("v1beta1",), "v1beta1", "gateway-api",
                      short=("refgrant",), status=False),
        ],
    }


@functools.lru_cache(maxsize=None)
def _vendored(name: str) -> bytes:
    with open(os.path.join(CRD_DIR, name), "rb") as f:
        return f.read()


def preinstalled_crds(without: Iterable[str] = ()) -> list[dict]:
    """The CRDs a demo cluster starts with (fresh dicts), leaving out the sets named in `without`."""
    skip = set(without)
    unknown = skip - set(CRD_SETS)
    if unknown:
        raise ValueError(f"unknown CRD set {', '.join(sorted(unknown))} (known: {', '.join(CRD_SETS)})")
    out: list[dict] = []
    if "argo" not in skip:
        out += orjson.loads(_vendored("argo-rollouts.json"))
    if "flagger" not in skip:
        out += orjson.loads(_vendored("flagger.json"))
    for name, crds in _generated().items():
        if name not in skip:
            out += crds
    return out


def veritas_crds() -> list[dict]:
    """The in-house Veritas CRDs (VeritasCanary, VeritasEnvironment) from tui/demo/crds/veritas.yaml."""
    import yaml  # noqa: PLC0415

    return [d for d in yaml.safe_load_all(_vendored("veritas.yaml").decode()) if d]


# -------------------------------------------------------------------------------------- validation

def _type_ok(value: Any, t: str) -> bool:
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, float) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    return True


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (dict, list)):
        return '"' + type(value).__name__ + '"'
    return json.dumps(value)


class SchemaCheck:
    """Check an object against a CRD version's openAPIV3Schema as kube-apiserver does: `errors` are
    (field, message) pairs for a 422 Invalid; `unknown` the fields the schema does not declare (pruned by a
    real server, refused under fieldValidation=Strict)."""

    def __init__(self, schema: dict | None, limit: int = 50):
        self.schema = schema if isinstance(schema, dict) else {}
        self.limit = limit
        self.errors: list[tuple[str, str]] = []
        self.unknown: list[str] = []
        self._prunable: list[tuple[dict, str]] = []  # (object, key) of every unknown field

    def prune(self) -> int:
        """Drop the unknown fields found by `run` from the object, as kube-apiserver prunes them (unless
        fieldValidation=Strict refused them first). How many were dropped."""
        for container, key in self._prunable:
            container.pop(key, None)
        n, self._prunable = len(self._prunable), []
        return n

    def run(self, obj: dict) -> "SchemaCheck":
        if not self.schema:
            return self
        props = self.schema.get("properties") or {}
        for k, v in obj.items():
            if k in ("apiVersion", "kind", "metadata"):
                continue
            if k in props:
                self._walk(v, props[k], k)
            elif not self.schema.get("x-kubernetes-preserve-unknown-fields"):
                self.unknown.append(k)
                self._prunable.append((obj, k))
        for r in self.schema.get("required") or ():
            if r not in obj and r not in ("apiVersion", "kind", "metadata"):
                self.errors.append((r, "Required value"))
        return self

    def _err(self, path: str, msg: str) -> None:
        if len(self.errors) < self.limit:
            self.errors.append((path, msg))

    def _walk(self, value: Any, s: Any, path: str) -> None:
        if not isinstance(s, dict) or len(self.errors) >= self.limit:
            return
        if value is None:
            if not s.get("nullable"):
                return  # a null for a non-nullable field is pruned, as kube-apiserver does
            return
        if s.get("x-kubernetes-int-or-string"):
            if not (isinstance(value, str) or _type_ok(value, "integer")):
                self._err(path, f"Invalid value: {_show(value)}: {path} in body must be of type integer,string: "
                                f"{_show(type(value).__name__)}")
            return
        t = s.get("type")
        if isinstance(t, str) and not _type_ok(value, t):
            self._err(path, f"Invalid value: {_show(value)}: {path} in body must be of type {t}: "
                            f"{_show(_json_type(value))}")
            return
        enum = s.get("enum")
        if isinstance(enum, list) and value not in enum:
            self._err(path, f"Unsupported value: {_show(value)}: supported values: "
                            + ", ".join(_show(e) for e in enum))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi = s.get("minimum"), s.get("maximum")
            if isinstance(lo, (int, float)) and (value <= lo if s.get("exclusiveMinimum") else value < lo):
                self._err(path, f"Invalid value: {_show(value)}: {path} in body should be greater than "
                                f"{'' if s.get('exclusiveMinimum') else 'or equal to '}{lo}")
            if isinstance(hi, (int, float)) and (value >= hi if s.get("exclusiveMaximum") else value > hi):
                self._err(path, f"Invalid value: {_show(value)}: {path} in body should be less than "
                                f"{'' if s.get('exclusiveMaximum') else 'or equal to '}{hi}")
        if isinstance(value, str):
            if isinstance(s.get("maxLength"), int) and len(value) > s["maxLength"]:
                self._err(path, f"Too long: may not be longer than {s['maxLength']}")
            if isinstance(s.get("minLength"), int) and len(value) < s["minLength"]:
                self._err(path, f"Invalid value: {_show(value)}: {path} in body should be at least "
                                f"{s['minLength']} chars long")
            pat = s.get("pattern")
            if isinstance(pat, str):
                try:
                    if re.search(pat, value) is None:
                        self._err(path, f"Invalid value: {_show(value)}: {path} in body should match '{pat}'")
                except re.error:
                    pass
        if isinstance(value, dict):
            if s.get("x-kubernetes-preserve-unknown-fields") and not s.get("properties"):
                return
            props = s.get("properties")
            addl = s.get("additionalProperties")
            for k, v in value.items():
                sub = f"{path}.{k}"
                if isinstance(props, dict) and k in props:
                    self._walk(v, props[k], sub)
                elif isinstance(addl, dict):
                    self._walk(v, addl, f"{path}[{k}]")
                elif addl is True or s.get("x-kubernetes-preserve-unknown-fields"):
                    continue
                elif isinstance(props, dict) or addl is False:
                    if len(self.unknown) < self.limit:
                        self.unknown.append(sub)
                    self._prunable.append((value, k))
            for r in s.get("required") or ():
                if r not in value:
                    self._err(f"{path}.{r}", "Required value")
        elif isinstance(value, list):
            if isinstance(s.get("maxItems"), int) and len(value) > s["maxItems"]:
                self._err(path, f"Too many: {len(value)}: must have at most {s['maxItems']} items")
            if isinstance(s.get("minItems"), int) and len(value) < s["minItems"]:
                self._err(path, f"Invalid value: {len(value)}: {path} in body should have at least "
                                f"{s['minItems']} items")
            items = s.get("items")
            if isinstance(items, dict):
                for i, v in enumerate(value):
                    self._walk(v, items, f"{path}[{i}]")


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


# ------------------------------------------------------------------------------ OpenAPI v3 documents

def definition_name(group: str, version: str, kind: str) -> str:
    """How kube-apiserver names a custom resource's OpenAPI definition: the group reversed."""
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"




def v3_document(resources: list[dict], server_version: str) -> bytes:
    """The OpenAPI v3 document of one group version served by CRDs.

    `resources`: dicts with group, version, kind, plural, namespaced, subresources (tuple) and schema (the
    openAPIV3Schema, or None). The operations are the ones kube-apiserver lists (the PATCH ones carry
    the fieldValidation parameter, which tells kubectl the server validates fields itself)."""
    from tui.demo import openapi as oa  # noqa: PLC0415 - generating the built-in definitions is slow

    meta = oa.META
    paths: dict[str, dict] = {}
    schemas: dict[str, Any] = {}
    wanted = {f"{meta}.Status", f"{meta}.DeleteOptions", f"{meta}.Patch", f"{meta}.WatchEvent",
              f"{meta}.ObjectMeta", f"{meta}.ListMeta", "io.k8s.api.autoscaling.v1.Scale"}
    for r in resources:
        group, version, kind, plural = r["group"], r["version"], r["kind"], r["plural"]
        d = definition_name(group, version, kind)
        gvk = oa._gvk(group, version, kind)
        schema = r.get("schema") if isinstance(r.get("schema"), dict) else {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True}
        body = dict(schema)
        props = dict(body.get("properties") or {})
        props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of "
                               "this representation of an object."}
        props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST "
                         "resource this object represents."}
        props["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{meta}.ObjectMeta"}],
                             "description": "Standard object's metadata. More info: https://git.k8s.io/community/"
                                            "contributors/devel/sig-architecture/api-conventions.md#metadata"}
        body["properties"] = props
        body["x-kubernetes-group-version-kind"] = [gvk]
        schemas[d] = body
        schemas[d + "List"] = {
            "description": f"{kind}List is a list of {kind}", "type": "object", "required": ["items"],
            "properties": {"apiVersion": props["apiVersion"], "kind": props["kind"],
                           "metadata": {"allOf": [{"$ref": f"#/components/schemas/{meta}.ListMeta"}]},
                           "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{d}"}}},
            "x-kubernetes-group-version-kind": [oa._gvk(group, version, kind + "List")]}
        tag = oa._camel(group.split(".")[0]) + oa._camel(version)
        ns = "Namespaced" if r["namespaced"] else ""
        prefix = f"/apis/{group}/{version}"
        coll = f"{prefix}/namespaces/{{namespace}}/{plural}" if r["namespaced"] else f"{prefix}/{plural}"
        params = ["namespace"] if r["namespaced"] else []
        patch_types = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
        Op = oa._Op
        entries = {
            coll: (params, [Op("get", "list", f"list objects of kind {kind}", f"list{tag}{ns}{kind}", gvk,
                               oa._LIST_Q, None, d + "List"),
                            Op("post", "post", f"create a {kind}", f"create{tag}{ns}{kind}", gvk, oa._WRITE_Q, d, d),
                            Op("delete", "deletecollection", f"delete collection of {kind}",
                               f"deleteCollection{tag}{ns}{kind}", gvk, ("dryRun", "labelSelector", "fieldSelector"),
                               f"{meta}.DeleteOptions", f"{meta}.Status")]),
            coll + "/{name}": (params + ["name"], [
                Op("get", "get", f"read the specified {kind}", f"read{tag}{ns}{kind}", gvk, (), None, d),
                Op("put", "put", f"replace the specified {kind}", f"replace{tag}{ns}{kind}", gvk, oa._WRITE_Q, d, d),
                Op("delete", "delete", f"delete a {kind}", f"delete{tag}{ns}{kind}", gvk, ("dryRun",),
                   f"{meta}.DeleteOptions", f"{meta}.Status"),
                Op("patch", "patch", f"partially update the specified {kind}", f"patch{tag}{ns}{kind}", gvk,
                   oa._WRITE_Q + ("force",), f"{meta}.Patch", d, patch_types)]),
        }
        for sub in r.get("subresources") or ():
            sdef = d if sub == "status" else "io.k8s.api.autoscaling.v1.Scale"
            sgvk = gvk if sub == "status" else oa._gvk("autoscaling", "v1", "Scale")
            label = kind + sub.capitalize()
            entries[f"{coll}/{{name}}/{sub}"] = (params + ["name"], [
                Op("get", "get", f"read {sub} of the specified {kind}", f"read{tag}{ns}{label}", sgvk, (), None, sdef),
                Op("put", "put", f"replace {sub} of the specified {kind}", f"replace{tag}{ns}{label}", sgvk,
                   oa._WRITE_Q, sdef, sdef),
                Op("patch", "patch", f"partially update {sub} of the specified {kind}", f"patch{tag}{ns}{label}",
                   sgvk, oa._WRITE_Q + ("force",), f"{meta}.Patch", sdef, patch_types)])
        for path, (pnames, ops) in entries.items():
            item: dict[str, Any] = {op.method: oa._v3_op(op) for op in ops}
            item["parameters"] = [{"name": p, "in": "path", "description": oa._PATH_PARAM_DESC[p], "required": True,
                                   "schema": {"type": "string", "uniqueItems": True}} for p in pnames]
            paths[path] = item
    defs = oa._definitions()
    for n in oa._closure(wanted):
        schemas.setdefault(n, oa._v3_def(n, defs[n]))
    doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes CRD Swagger", "version": server_version},
           "paths": paths, "components": {"schemas": schemas}}
    return json.dumps(doc, separators=(",", ":")).encode()


def doc_hash(b: bytes) -> str:
    return hashlib.sha512(b).hexdigest().upper()
