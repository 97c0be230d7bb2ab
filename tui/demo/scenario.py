"""Scenario files: load and validate tui/demo/scenarios/<name>.yaml; every error names the file and line.

A scenario is one story: the app and its tracks, the manifests the cluster starts with, the traffic
each track gets, how each image behaves, and a timeline of steps at scenario seconds (which `speed`
compresses). The format is documented in tui/demo/scenarios/README.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

SCENARIO_DIR = os.path.join(os.path.dirname(__file__), "scenarios")

BEHAVIOURS = ("ok", "crash", "imagepull", "oom", "notready")
# one timeline step does exactly one of these
ACTIONS = ("set_image", "patch", "apply", "delete", "scale", "traffic", "promote", "abort", "retry", "say")
_TOP_KEYS = {"name", "plays", "description", "namespace", "app", "workload", "tracks", "settings", "images",
             "traffic", "dns", "crds", "manifests", "timeline"}
# `crds:` names CRDs shipped but not pre-installed, which the scenario installs before its manifests
SCENARIO_CRDS = ("veritas",)
_PROFILE_KEYS = {"error_rate", "p50", "p99", "metrics", "cpu_per_request", "base_cpu", "base_memory_mi"}
_IMAGE_KEYS = {"behaviour", "version", "requires_env", "crash_after", "crash_log", "oom_after", "ready_after",
               "pull_error"}
_SETTINGS_KEYS = {"endpoint_lag", "start_delay", "pull_seconds", "resync"}


class ScenarioError(ValueError):
    """A scenario file that cannot be played; the message starts with `file:line:`."""


@dataclass
class TrafficProfile:
    """What one track's requests look like: share of 5xx, latency quantiles (seconds), metrics on or off."""

    error_rate: float = 0.001
    p50: float = 0.03
    p99: float = 0.12
    metrics: bool = True
    cpu_per_request: float = 0.004  # CPU seconds per request
    base_cpu: float = 0.003  # CPU seconds per second when idle
    base_memory_mi: float = 72.0

    def replace(self, **kw) -> "TrafficProfile":
        d = dict(self.__dict__)
        d.update(kw)
        return TrafficProfile(**d)


@dataclass
class ImageBehaviour:
    behaviour: str = "ok"
    version: str = ""
    requires_env: tuple[str, ...] = ()
    crash_after: float = 2.0  # seconds running before the process exits
    crash_log: tuple[str, ...] = ()
    oom_after: float = 30.0
    ready_after: float = 3.0  # readiness probe first passes after this many seconds
    pull_error: str = ""


@dataclass
class Track:
    name: str
    image: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def matches(self, labels: dict, images: list[str]) -> bool:
        if self.image is not None and self.image not in images:
            return False
        for k, v in self.labels.items():
            if labels.get(k) != v:
                return False
        return True


@dataclass
class Step:
    at: float
    action: str
    args: Any
    say: str = ""
    line: int = 0


@dataclass
class Scenario:
    name: str
    path: str
    plays: str
    description: str
    namespace: str
    app: str
    workload: dict  # {"kind": "Rollout"|"Deployment", "name": ...}: the workload `pods=N` scales
    tracks: list[Track]
    settings: dict
    images: dict[str, ImageBehaviour]
    traffic_service: str | None
    total_rps: float
    profiles: dict[str, TrafficProfile]
    dns: dict | None
    manifests: list[dict]
    timeline: list[Step]
    crds: tuple[str, ...] = ()
    also_served: tuple[str, ...] = ()  # more Services whose ready endpoints share `rps` (a preview's smoke traffic)

    def track_of(self, labels: dict, images: list[str]) -> str | None:
        for t in self.tracks:
            if t.matches(labels, images):
                return t.name
        return None


def scenario_names() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(SCENARIO_DIR) if f.endswith(".yaml"))


def scenario_path(name: str) -> str:
    if os.sep in name or name.endswith((".yaml", ".yml")):
        return name
    return os.path.join(SCENARIO_DIR, name + ".yaml")


def load_scenario(name_or_path: str) -> Scenario:
    path = scenario_path(name_or_path)
    if not os.path.exists(path):
        raise ScenarioError(f"unknown scenario {name_or_path!r}: choose one of {', '.join(scenario_names())}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return parse_scenario(text, path)


# ------------------------------------------------------------------------------------------ parsing

def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict:
    """(path within the document) -> 1-based line, from the composed YAML node tree."""
    out = {} if out is None else out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[path + (key,)] = k.start_mark.line + 1
            _line_map(v, path + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, path + (i,), out)
    return out


class _Checker:
    def __init__(self, path: str, lines: dict):
        self.path = path
        self.lines = lines
        self.types: dict | None = None  # (apiVersion, kind) -> resource key manifests may use; None: pre-installed

    def line(self, p: tuple) -> int:
        while p and p not in self.lines:
            p = p[:-1]
        return self.lines.get(p, 1)

    def fail(self, p: tuple, msg: str):
        where = ".".join(str(x) for x in p) or "top level"
        raise ScenarioError(f"{self.path}:{self.line(p)}: {where}: {msg}")

    def mapping(self, v, p, allowed: set | None = None, required: tuple = ()) -> dict:
        if v is None:
            v = {}
        if not isinstance(v, dict):
            self.fail(p, f"expected a mapping, got {type(v).__name__}")
        if allowed is not None:
            for k in v:
                if k not in allowed:
                    self.fail(p + (k,), f"unknown key {k!r} (expected one of {', '.join(sorted(allowed))})")
        for k in required:
            if k not in v:
                self.fail(p, f"missing required key {k!r}")
        return v

    def number(self, v, p, lo: float | None = None, hi: float | None = None) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(p, f"expected a number, got {v!r}")
        if lo is not None and v < lo or hi is not None and v > hi:
            self.fail(p, f"{v} is out of range [{lo}, {hi}]")
        return float(v)

    def string(self, v, p) -> str:
        if not isinstance(v, str) or not v:
            self.fail(p, f"expected a non-empty string, got {v!r}")
        return v


def _profile(c: _Checker, v, p, base: TrafficProfile) -> TrafficProfile:
    v = c.mapping(v, p, _PROFILE_KEYS | {"over"})
    kw = {}
    for k, x in v.items():
        if k == "over":
            continue
        if k == "metrics":
            if not isinstance(x, bool):
                c.fail(p + (k,), "expected true or false")
            kw[k] = x
        elif k == "error_rate":
            kw[k] = c.number(x, p + (k,), 0.0, 1.0)
        else:
            kw[k] = c.number(x, p + (k,), 0.0)
    prof = base.replace(**kw)
    if prof.p99 < prof.p50:
        c.fail(p, f"p99 ({prof.p99}) is below p50 ({prof.p50})")
    return prof


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = mark.line + 1 if mark else 1
        raise ScenarioError(f"{path}:{line}: not valid YAML: {getattr(e, 'problem', None) or e}") from None
    c = _Checker(path, _line_map(node) if node is not None else {})
    d = c.mapping(data, (), _TOP_KEYS, required=("name", "app", "manifests"))
    name = c.string(d["name"], ("name",))
    stem = os.path.splitext(os.path.basename(path))[0]
    if path != "<scenario>" and stem != name:
        c.fail(("name",), f"name {name!r} differs from the file name {stem!r}")
    ns = c.string(d.get("namespace", "demo"), ("namespace",))
    app = c.string(d["app"], ("app",))

    wl = c.mapping(d.get("workload"), ("workload",), {"kind", "name"})
    workload = {}
    if wl:
        kind = c.string(wl.get("kind"), ("workload", "kind"))
        if kind not in ("Rollout", "Deployment"):
            c.fail(("workload", "kind"), "expected Rollout or Deployment")
        workload = {"kind": kind, "name": c.string(wl.get("name"), ("workload", "name"))}

    tracks = []
    for tname, tv in c.mapping(d.get("tracks"), ("tracks",)).items():
        p = ("tracks", tname)
        tv = c.mapping(tv, p, {"image", "labels"})
        if not tv:
            c.fail(p, "a track needs `image:` or `labels:` to match its pods")
        labels = c.mapping(tv.get("labels"), p + ("labels",))
        tracks.append(Track(tname, tv.get("image"), {str(k): str(v) for k, v in labels.items()}))

    settings = {"endpoint_lag": 1.0, "start_delay": 0.4, "pull_seconds": 1.5, "resync": 5.0}
    for k, v in c.mapping(d.get("settings"), ("settings",), _SETTINGS_KEYS).items():
        settings[k] = c.number(v, ("settings", k), 0.0)

    images = {}
    for img, iv in c.mapping(d.get("images"), ("images",)).items():
        p = ("images", img)
        iv = c.mapping(iv, p, _IMAGE_KEYS)
        b = iv.get("behaviour", "ok")
        if b not in BEHAVIOURS:
            c.fail(p + ("behaviour",), f"unknown behaviour {b!r} (expected one of {', '.join(BEHAVIOURS)})")
        kw: dict[str, Any] = {"behaviour": b}
        for k in ("crash_after", "oom_after", "ready_after"):
            if k in iv:
                kw[k] = c.number(iv[k], p + (k,), 0.0)
        for k in ("version", "pull_error"):
            if k in iv:
                kw[k] = c.string(iv[k], p + (k,))
        for k in ("requires_env", "crash_log"):
            if k in iv:
                x = iv[k]
                if isinstance(x, str):
                    x = [x]
                if not isinstance(x, list) or not all(isinstance(s, str) for s in x):
                    c.fail(p + (k,), "expected a string or a list of strings")
                kw[k] = tuple(x)
        images[str(img)] = ImageBehaviour(**kw)

    tr = c.mapping(d.get("traffic"), ("traffic",), {"service", "also_served", "rps", "tracks"})
    also = tr.get("also_served") or []
    if not isinstance(also, list) or not all(isinstance(x, str) for x in also):
        c.fail(("traffic", "also_served"), "expected a list of Service names")
    total_rps = c.number(tr.get("rps", 50), ("traffic", "rps"), 0.0)
    profiles: dict[str, TrafficProfile] = {}
    track_names = {t.name for t in tracks}
    for tname, pv in c.mapping(tr.get("tracks"), ("traffic", "tracks")).items():
        if tname not in track_names:
            c.fail(("traffic", "tracks", tname), f"no track named {tname!r} in `tracks:`")
        profiles[tname] = _profile(c, pv, ("traffic", "tracks", tname), TrafficProfile())

    dns = None
    if d.get("dns") is not None:
        dv = c.mapping(d["dns"], ("dns",), {"name", "service", "follows_at"}, required=("name", "service"))
        dns = {"name": c.string(dv["name"], ("dns", "name")), "service": c.string(dv["service"], ("dns", "service")),
               "follows_at": c.number(dv.get("follows_at", 0), ("dns", "follows_at"), 0.0)}

    crds = d.get("crds") or []
    if not isinstance(crds, list) or any(x not in SCENARIO_CRDS for x in crds):
        c.fail(("crds",), f"expected a list of CRD sets to install, from: {', '.join(SCENARIO_CRDS)}")
    c.types = _types(tuple(crds))
    manifests = d.get("manifests")
    if not isinstance(manifests, list) or not manifests:
        c.fail(("manifests",), "expected a non-empty list of Kubernetes objects")
    for i, m in enumerate(manifests):
        _check_manifest(c, m, ("manifests", i))

    steps = []
    last = 0.0
    for i, sv in enumerate(d.get("timeline") or []):
        p = ("timeline", i)
        sv = c.mapping(sv, p, set(ACTIONS) | {"at"}, required=("at",))
        at = c.number(sv["at"], p + ("at",), 0.0)
        if at < last:
            c.fail(p + ("at",), f"steps must be in time order: {at} comes after {last}")
        last = at
        acts = [k for k in sv if k in ACTIONS and k != "say"]
        if len(acts) > 1:
            c.fail(p, f"one action per step, got {', '.join(acts)}")
        say = sv.get("say", "")
        if not isinstance(say, str):
            c.fail(p + ("say",), "expected a string")
        action = acts[0] if acts else "say"
        args = sv.get(action) if acts else say
        args = _check_action(c, action, args, p + (action,), profiles, track_names)
        steps.append(Step(at=at, action=action, args=args, say=say, line=c.line(p)))

    return Scenario(name=name, path=path, plays=str(d.get("plays", "")), description=str(d.get("description", "")),
                    namespace=ns, app=app, workload=workload, tracks=tracks, settings=settings, images=images,
                    traffic_service=tr.get("service"), total_rps=total_rps, profiles=profiles, dns=dns,
                    manifests=manifests, timeline=steps, crds=tuple(crds), also_served=tuple(also))


def scenario_crds(names) -> list[dict]:
    """The CRDs a scenario's `crds:` installs (fresh dicts)."""
    from tui.demo.custom import veritas_crds  # noqa: PLC0415

    return [crd for n in names for crd in {"veritas": veritas_crds}[n]()]


def _types(crds: tuple[str, ...]) -> dict:
    from tui.demo.state import crd_kinds, preinstalled_types  # noqa: PLC0415

    out = preinstalled_types()
    if crds:
        out = dict(out)
        for crd in scenario_crds(crds):
            for key, k in crd_kinds(crd, {}).items():
                out.setdefault((k.api_version, k.kind), key)
    return out


def _check_manifest(c: _Checker, m, p) -> None:
    m = c.mapping(m, p, required=("apiVersion", "kind", "metadata"))
    meta = c.mapping(m["metadata"], p + ("metadata",), required=("name",))
    c.string(meta["name"], p + ("metadata", "name"))
    from tui.demo.state import preinstalled_types, resource_for, StateError  # noqa: PLC0415 (keeps scenario.py importable alone)
    try:
        resource_for(m, c.types or preinstalled_types())
    except StateError as e:
        c.fail(p + ("kind",), e.message)


_REF_KINDS = {"Rollout": "rollouts", "Deployment": "deployments", "Service": "services", "ConfigMap": "configmaps",
              "Secret": "secrets", "ReplicaSet": "replicasets", "Pod": "pods", "AnalysisRun": "analysisruns",
              "VeritasCanary": "veritascanaries.veritas.hearthlink.ai",
              "VeritasEnvironment": "veritasenvironments.veritas.hearthlink.ai"}


def _ref(c: _Checker, v, p, extra: set = frozenset(), required: tuple = ()) -> dict:
    v = c.mapping(v, p, {"kind", "name"} | set(extra), required=("kind", "name") + tuple(required))
    if v["kind"] not in _REF_KINDS:
        c.fail(p + ("kind",), f"unknown kind {v['kind']!r} (expected one of {', '.join(_REF_KINDS)})")
    c.string(v["name"], p + ("name",))
    return dict(v, res=_REF_KINDS[v["kind"]])


def _check_action(c: _Checker, action: str, v, p, profiles, track_names) -> Any:
    if action == "say":
        return v
    if action == "set_image":
        r = _ref(c, v, p, {"container", "image"}, required=("image",))
        c.string(r["image"], p + ("image",))
        return r
    if action == "patch":
        r = _ref(c, v, p, {"merge", "strategic", "status"})
        kinds = [k for k in ("merge", "strategic", "status") if k in r]
        if len(kinds) != 1:
            c.fail(p, "a patch has exactly one of merge:, strategic: or status: (a merge patch of the status)")
        c.mapping(r[kinds[0]], p + (kinds[0],))
        return r
    if action == "scale":
        r = _ref(c, v, p, {"replicas"}, required=("replicas",))
        c.number(r["replicas"], p + ("replicas",), 0)
        return r
    if action == "delete":
        return _ref(c, v, p)
    if action in ("promote", "abort", "retry"):
        if isinstance(v, str):
            return {"kind": "Rollout", "name": v, "res": "rollouts", "full": False}
        r = c.mapping(v, p, {"name", "full"}, required=("name",))
        return {"kind": "Rollout", "name": r["name"], "res": "rollouts", "full": bool(r.get("full"))}
    if action == "apply":
        docs = v if isinstance(v, list) else [v]
        for i, m in enumerate(docs):
            _check_manifest(c, m, p + (i,) if isinstance(v, list) else p)
        return docs
    if action == "traffic":
        v = c.mapping(v, p)
        out = {}
        for tname, pv in v.items():
            if tname not in track_names:
                c.fail(p + (tname,), f"no track named {tname!r} in `tracks:`")
            pv = c.mapping(pv, p + (tname,), _PROFILE_KEYS | {"over"})
            prof = _profile(c, pv, p + (tname,), profiles.get(tname, TrafficProfile()))
            out[tname] = {"changes": {k: getattr(prof, k) for k in pv if k != "over"},
                          "over": c.number(pv.get("over", 0), p + (tname, "over"), 0.0)}
        return out
    c.fail(p, f"unknown action {action!r}")
