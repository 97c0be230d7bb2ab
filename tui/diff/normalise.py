"""Normalisation before the diff: server-set noise dropped, the environment's own name made the pairing key.

A pod template is flattened into fields keyed by a neutral key (the same on both sides when they mean the same
thing) with the side's own display text and value: `checkout-config-blue` on blue and `checkout-config-green` on
green are one field, and `ENVIRONMENT=blue` against `ENVIRONMENT=green` is no difference.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# labels and annotations the controllers and kubectl set: state, not configuration
NOISE_LABELS = frozenset({"pod-template-hash", "rollouts-pod-template-hash", "controller-revision-hash"})
NOISE_ANNOTATION_PREFIXES = ("kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/",
                             "rollout.argoproj.io/", "kubectl.kubernetes.io/restartedAt")
NOISE_META = frozenset({"uid", "resourceVersion", "managedFields", "creationTimestamp", "deletionTimestamp",
                        "generation", "selfLink", "ownerReferences", "generateName", "name", "namespace"})
ENV_MARK = "{env}"


def compact(value) -> str:
    """One line for a structured value: keys sorted, so equal values read equal."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)
    except (TypeError, ValueError):
        return str(value)


def noise_annotation(key: str) -> bool:
    return any(key.startswith(p) for p in NOISE_ANNOTATION_PREFIXES)


@dataclass(frozen=True)
class Pairing:
    """Each side's own name (`blue`, `green`): where it appears as a whole word it is the pairing key."""

    token: str = ""

    def neutral(self, value):
        """`value` with this side's name replaced by {env}, recursively (strings in dicts and lists)."""
        if not self.token:
            return value
        if isinstance(value, str):
            return _token_re(self.token).sub(ENV_MARK, value)
        if isinstance(value, dict):
            return {self.neutral(k): self.neutral(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.neutral(v) for v in value]
        return value


_RE_CACHE: dict[str, re.Pattern] = {}


def _token_re(token: str) -> re.Pattern:
    r = _RE_CACHE.get(token)
    if r is None:
        r = _RE_CACHE[token] = re.compile(r"(?<![A-Za-z0-9])" + re.escape(token) + r"(?![A-Za-z0-9])")
    return r


@dataclass(frozen=True)
class Field:
    """One comparable field of one side: what kind of difference it is, where, and its text and value."""

    kind: str  # image, env, envFrom, command, args, resources, probes, ports, volumeMounts, volumes, ...
    where: str  # "container app", "pod"
    name: str  # the field as this side names it ("env WORKERS", "envFrom configMapRef checkout-config-blue")
    value: str  # as this side has it


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


CONTAINER_KEYS = {"image": "image", "command": "command", "args": "args", "readinessProbe": "probes",
                  "livenessProbe": "probes", "startupProbe": "probes"}
POD_SKIP = frozenset({"containers", "initContainers", "volumes", "nodeSelector", "tolerations", "affinity",
                      "securityContext", "serviceAccountName", "serviceAccount"})


def template_fields(template: dict, pairing: Pairing) -> dict[str, Field]:
    """{neutral key: Field} for a pod template (metadata + spec), noise dropped."""
    out: dict[str, Field] = {}
    neutral = pairing.neutral

    def put(kind: str, where: str, key: str, name: str, value) -> None:
        out[f"{neutral(where)}\x00{neutral(key)}"] = Field(kind, where, name, compact(value))

    meta = _d(template.get("metadata"))
    spec = _d(template.get("spec"))
    for k, v in sorted(_d(meta.get("labels")).items()):
        if k not in NOISE_LABELS:
            put("labels", "pod", f"label {k}", f"label {k}", v)
    for k, v in sorted(_d(meta.get("annotations")).items()):
        if not noise_annotation(k):
            put("annotations", "pod", f"annotation {k}", f"annotation {k}", v)
    for group, label in (("initContainers", "init container"), ("containers", "container")):
        for c in _l(spec.get(group)):
            if not isinstance(c, dict):
                continue
            where = f"{label} {c.get('name', '?')}"
            put("containers", where, "container", "container", "present")
            for k, v in c.items():
                if k == "name":
                    continue
                if k in CONTAINER_KEYS:
                    put(CONTAINER_KEYS[k], where, k, k, v)
                elif k == "env":
                    for e in _l(v):
                        if not isinstance(e, dict):
                            continue
                        n = str(e.get("name", ""))
                        val = e.get("value", "") if "valueFrom" not in e else "from " + _value_from(e["valueFrom"])
                        put("env", where, f"env {n}", f"env {n}", val)
                elif k == "envFrom":
                    for e in _l(v):
                        if not isinstance(e, dict):
                            continue
                        src = next((s for s in ("configMapRef", "secretRef") if s in e), None)
                        ref = _d(e.get(src)).get("name", "") if src else compact(e)
                        text = f"envFrom {src or 'source'} {ref}" + (f" prefix {e['prefix']}" if e.get("prefix") else "")
                        put("envFrom", where, text, text, "optional" if _d(e.get(src)).get("optional") else "present")
                elif k == "ports":
                    for p in _l(v):
                        if isinstance(p, dict):
                            n = p.get("name") or p.get("containerPort")
                            put("ports", where, f"port {n}", f"port {n}",
                                f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}")
                elif k == "volumeMounts":
                    for m in _l(v):
                        if isinstance(m, dict):
                            path = m.get("mountPath", "")
                            rest = {x: y for x, y in m.items() if x != "mountPath"}
                            put("volumeMounts", where, f"mount {path}", f"mount {path}", rest)
                elif k == "resources":
                    for section, vals in sorted(_d(v).items()):
                        for r, q in sorted(_d(vals).items()):
                            put("resources", where, f"{section}.{r}", f"{section}.{r}", q)
                elif k == "securityContext":
                    for sk, sv in sorted(_d(v).items()):
                        put("securityContext", where, f"securityContext.{sk}", f"securityContext.{sk}", sv)
                else:
                    put("other", where, k, k, v)
    for vol in _l(spec.get("volumes")):
        if isinstance(vol, dict):
            n = vol.get("name", "")
            put("volumes", "pod", f"volume {n}", f"volume {n}", {x: y for x, y in vol.items() if x != "name"})
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if sa:
        put("serviceAccount", "pod", "serviceAccountName", "serviceAccountName", sa)
    for k, v in sorted(_d(spec.get("nodeSelector")).items()):
        put("scheduling", "pod", f"nodeSelector {k}", f"nodeSelector {k}", v)
    for t in _l(spec.get("tolerations")):
        put("scheduling", "pod", f"toleration {compact(t)}", f"toleration {compact(t)}", "present")
    if spec.get("affinity"):
        put("scheduling", "pod", "affinity", "affinity", spec["affinity"])
    for sk, sv in sorted(_d(spec.get("securityContext")).items()):
        put("securityContext", "pod", f"securityContext.{sk}", f"securityContext.{sk}", sv)
    for k, v in spec.items():
        if k not in POD_SKIP:
            put("other", "pod", k, k, v)
    return out


def _value_from(vf) -> str:
    vf = _d(vf)
    for key in ("configMapKeyRef", "secretKeyRef"):
        if key in vf:
            r = _d(vf[key])
            kind = "ConfigMap" if key == "configMapKeyRef" else "Secret"
            return f"{kind} {r.get('name', '')} key {r.get('key', '')}" + (" (optional)" if r.get("optional") else "")
    if "fieldRef" in vf:
        return f"field {_d(vf['fieldRef']).get('fieldPath', '')}"
    if "resourceFieldRef" in vf:
        r = _d(vf["resourceFieldRef"])
        return f"resource {r.get('resource', '')}" + (f" of {r['containerName']}" if r.get("containerName") else "")
    return compact(vf)


def references(template: dict) -> dict[str, list[str]]:
    """The ConfigMaps and Secrets a pod template reads: {"configmaps": [...], "secrets": [...]}, in order."""
    cms: list[str] = []
    secrets: list[str] = []

    def add(lst: list[str], name) -> None:
        if isinstance(name, str) and name and name not in lst:
            lst.append(name)

    spec = _d(template.get("spec"))
    for group in ("initContainers", "containers"):
        for c in _l(spec.get(group)):
            c = _d(c)
            for e in _l(c.get("envFrom")):
                e = _d(e)
                add(cms, _d(e.get("configMapRef")).get("name"))
                add(secrets, _d(e.get("secretRef")).get("name"))
            for e in _l(c.get("env")):
                vf = _d(_d(e).get("valueFrom"))
                add(cms, _d(vf.get("configMapKeyRef")).get("name"))
                add(secrets, _d(vf.get("secretKeyRef")).get("name"))
    for vol in _l(spec.get("volumes")):
        vol = _d(vol)
        add(cms, _d(vol.get("configMap")).get("name"))
        add(secrets, _d(vol.get("secret")).get("secretName"))
        for src in _l(_d(vol.get("projected")).get("sources")):
            src = _d(src)
            add(cms, _d(src.get("configMap")).get("name"))
            add(secrets, _d(src.get("secret")).get("name"))
    return {"configmaps": cms, "secrets": secrets}
