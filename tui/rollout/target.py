"""What the user points Lookout at (a Rollout, a Deployment or a label selector), and its summary."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Mapping

from tui.kube.selectors import Requirement, Selector, SelectorError, selector_text  # noqa: F401 - re-exported
from tui.kube.selectors import parse_selector as _parse_selector
from tui.rollout.tracks import TrackConventions, TrackResolver
from tui.textsafe import clean_line

APP_LABELS = ("app", "app.kubernetes.io/name")


class TargetError(Exception):
    """A target could not be resolved; the message is one sentence for stderr."""


class TargetNotFound(TargetError):
    pass


class AmbiguousTarget(TargetError):
    def __init__(self, message: str, candidates: list["Candidate"]):
        super().__init__(message)
        self.candidates = candidates


class BadSelector(TargetError, SelectorError):
    pass


# ---- label selectors: one parser, shared with the demo cluster (tui.kube.selectors) ---------------


def parse_selector(text: str | None) -> Selector:
    """Parse a labelSelector (`a=b,c!=d,e in (f,g),h notin (i),j,!k,n>3`) as kube-apiserver would."""
    try:
        return _parse_selector(text)
    except SelectorError as e:
        raise BadSelector(f"invalid label selector {(text or '')!r}: {e}") from None


def selector_string(label_selector: dict | None) -> str:
    """A metav1.LabelSelector (matchLabels + matchExpressions) as a labelSelector query string."""
    return selector_text(label_selector)


# ---- targets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    kind: str  # "Rollout" | "Deployment" | "Label"
    name: str  # the workload's name, or the label value / selector for kind "Label"
    namespace: str  # "" when a label target spans namespaces
    selector: str  # pod labelSelector, usable server-side

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}" if self.kind != "Label" else f"pods -l {self.selector}"

    def pod_selector(self) -> Selector:
        return parse_selector(self.selector)


@dataclass(frozen=True)
class Candidate:
    """Something the user could watch, for the picker."""

    kind: str
    name: str
    namespace: str
    selector: str
    strategy: str = ""  # canary | bluegreen | rolling | recreate | ""
    ready: str = ""  # "3/4" (ready/desired), "" when unknown
    phase: str = ""  # the controller's word, read from the workloads' own status: Healthy, Progressing, ...
    members: tuple[str, ...] = ()  # a manual rollout: the Deployments it joins ("checkout-canary", ...)
    step: str = ""  # "2/6" for an Argo canary (or a mapped CRD) under way, as `kubectl argo rollouts list` shows it
    weight: str = ""  # "20" (percent) for a canary
    health: str = ""  # healthy | progressing | paused | degraded | aborted | scaled-down | unknown
    shown_kind: str = ""  # what the SRE calls it when not its kind: "Canary" for Flagger's (tui.rollout.flagger)

    @property
    def kind_word(self) -> str:
        """The KIND column of the picker and `status -A`: the controller's object, "app" for a manual rollout."""
        return self.shown_kind or ("app" if self.members else self.kind)

    @property
    def symbol(self) -> str:
        """The strip's one vocabulary (tui.rollout.progress.PHASE_SYMBOL) for the overview's health column."""
        return {"healthy": "✓", "progressing": "…", "paused": "‖", "degraded": "!", "aborted": "✗",
                "scaled-down": "-"}.get(self.health or HEALTH_OF_PHASE.get(self.phase, ""), "?")

    def target(self) -> Target:
        return Target(self.kind, self.name, self.namespace, self.selector)

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        if self.members:
            return f"{self.kind_word} {where} ({' + '.join(self.members)})"
        return f"{self.kind} {where}"


def _meta(o: dict) -> dict:
    return o.get("metadata") or {}


def _ns_ok(o: dict, namespace: str | None) -> bool:
    return namespace is None or _meta(o).get("namespace", "") == namespace


def _workload_selector(obj: dict, deployments: Iterable[dict] = ()) -> str:
    sel = selector_string((obj.get("spec") or {}).get("selector"))
    if sel:
        return sel
    ref = (obj.get("spec") or {}).get("workloadRef") or {}
    if ref.get("name"):  # Argo Rollout that borrows a Deployment's pod template
        ns = _meta(obj).get("namespace", "")
        for d in deployments:
            if _meta(d).get("name") == ref["name"] and _meta(d).get("namespace", "") == ns:
                sel = selector_string((d.get("spec") or {}).get("selector"))
                if sel:
                    return sel
    labels = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    for k in APP_LABELS:
        if k in labels:
            return f"{k}={labels[k]}"
    return f"app={_meta(obj).get('name', '')}"


def _strategy(obj: dict) -> str:
    s = (obj.get("spec") or {}).get("strategy") or {}
    if "canary" in s:
        return "canary"
    if "blueGreen" in s:
        return "bluegreen"
    if s.get("type") == "Recreate":
        return "recreate"
    return "rolling"


HEALTH_OF_PHASE = {"Healthy": "healthy", "Progressing": "progressing", "Paused": "paused", "Degraded": "degraded",
                   "Aborted": "aborted", "ScaledDown": "scaled-down"}


def _candidate(kind: str, obj: dict, deployments: Iterable[dict] = ()) -> Candidate:
    st = obj.get("status") or {}
    desired = (obj.get("spec") or {}).get("replicas", 1)
    phase = _workload_phase(kind, obj)
    step = weight = ""
    canary = ((obj.get("spec") or {}).get("strategy") or {}).get("canary")
    if kind == "Rollout" and isinstance(canary, dict):  # as `kubectl argo rollouts list`: STEP and SET-WEIGHT
        steps = canary.get("steps") or []
        if steps and st.get("currentStepIndex") is not None:
            step = f"{min(_int(st.get('currentStepIndex')), len(steps))}/{len(steps)}"
        w = canary_weight(canary, st)
        weight = "" if w is None else str(w)
        if st.get("abort") and phase == "Degraded":
            phase = "Aborted"
    return Candidate(kind, _meta(obj).get("name", ""), _meta(obj).get("namespace", ""),
                     _workload_selector(obj, deployments), _strategy(obj),
                     f"{st.get('readyReplicas', 0) or 0}/{desired}", phase, step=step, weight=weight,
                     health=HEALTH_OF_PHASE.get(phase, "unknown"))


def _workload_phase(kind: str, obj: dict) -> str:
    """The controller's word from the workload's own status (no pods needed: the overview lists workloads)."""
    st, spec = obj.get("status") or {}, obj.get("spec") or {}
    if kind == "Rollout":
        return clean_line(str(st.get("phase") or "Unknown"))
    prog = _condition(obj, "Progressing") or {}
    if prog.get("reason") == "ProgressDeadlineExceeded":
        return "Degraded"
    if spec.get("paused"):
        return "Paused"
    desired = _int(spec.get("replicas", 1), 1)
    if desired == 0:
        return "ScaledDown"
    if _int(st.get("updatedReplicas")) >= desired and _int(st.get("availableReplicas")) >= desired \
            and _int(st.get("replicas")) <= desired:
        return "Healthy"
    return "Progressing"


# ---- manual rollouts: workloads that share an app identity and differ by a track convention ---------------

# label keys whose values tell tracks apart, and the name suffixes that do
TRACK_LABEL_KEYS = ("track", "deployment", "environment", "version", "role")
TRACK_SUFFIXES = ("canary", "stable", "primary", "blue", "green", "baseline", "preview", "active")
BLUE_GREEN_WORDS = frozenset({"blue", "green", "active", "preview"})
PHASE_RANK = {"Degraded": 0, "Aborted": 0, "Paused": 1, "Progressing": 2, "Unknown": 3, "Healthy": 4,
              "ScaledDown": 5}


def _template_labels(d: dict) -> dict:
    return ((((d.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}


def _app_identity(d: dict) -> tuple[str, str, str] | None:
    """(app label key, app, track word) of a Deployment: its template's app label, else its name without a
    track suffix; the track word from a track label or the suffix ("" when neither)."""
    labels = _template_labels(d)
    name = _meta(d).get("name", "")
    word = next((str(labels[k]) for k in TRACK_LABEL_KEYS if labels.get(k)), "")
    stem, suffix = name, ""
    for sfx in TRACK_SUFFIXES:
        if name.endswith("-" + sfx):
            stem, suffix = name[: -len(sfx) - 1], sfx
            break
    for k in APP_LABELS:
        if labels.get(k):
            return k, str(labels[k]), word or suffix
    return "", stem, word or suffix


@dataclass(frozen=True)
class AppGroup:
    """Deployments that are one rollout to an SRE: `checkout-stable` + `checkout-canary`, `myapp` + `myapp-canary`,
    `checkout-blue` + `checkout-green`, `reviews-v1` + `reviews-v2` with `version` labels."""

    namespace: str
    app: str
    key: str  # the shared app label key ("app"), or "" when only the names join them
    deployments: tuple[dict, ...]
    tracks: tuple[str, ...]

    @property
    def strategy(self) -> str:
        return "bluegreen" if set(self.tracks) & BLUE_GREEN_WORDS else "canary"

    @property
    def selector(self) -> str:
        return f"{self.key}={self.app}" if self.key else f"app={self.app}"

    def candidate(self) -> Candidate:
        ready = sum(_int((d.get("status") or {}).get("readyReplicas")) for d in self.deployments)
        desired = sum(_int((d.get("spec") or {}).get("replicas", 1), 1) for d in self.deployments)
        phases = [_workload_phase("Deployment", d) for d in self.deployments]
        live = [p for p in phases if p != "ScaledDown"] or phases
        phase = min(live, key=lambda p: PHASE_RANK.get(p, 3))
        return Candidate("Label", self.app, self.namespace, self.selector, self.strategy, f"{ready}/{desired}", phase,
                         tuple(sorted(_meta(d).get("name", "") for d in self.deployments)),
                         health=HEALTH_OF_PHASE.get(phase, "unknown"))


def app_groups(deployments: Iterable[dict], namespace: str | None = None) -> list[AppGroup]:
    """The manual rollouts among `deployments`: two or more sharing an app identity with different track words.
    Deployments that one app label joins but that carry no track convention are separate apps."""
    by: dict[tuple[str, str], list[tuple[str, dict, str]]] = {}
    for d in deployments:
        if not _ns_ok(d, namespace):
            continue
        key, app, word = _app_identity(d)
        by.setdefault((_meta(d).get("namespace", ""), app), []).append((key, d, word))
    out = []
    for (ns, app), members in sorted(by.items(), key=lambda kv: kv[0]):
        if len(members) < 2:
            continue
        words = [w for _, _, w in members]
        if len(set(words)) < 2:
            continue  # nothing tells them apart: not one rollout's tracks
        keys = {k for k, _, _ in members}
        key = keys.pop() if len(keys) == 1 else ""
        if not key:
            continue  # no shared label selects them together
        out.append(AppGroup(ns, app, key, tuple(d for _, d, _ in members), tuple(sorted(set(words)))))
    return out


def candidates(rollouts: Iterable[dict], deployments: Iterable[dict], pods: Iterable[dict] = (),
               namespace: str | None = None, custom: Iterable[tuple] = (),
               canaries: Iterable[dict] = ()) -> list[Candidate]:
    """Everything worth watching, for the picker: Rollouts, Flagger Canaries (one rollout over their two
    Deployments, tui.rollout.flagger) and mapped in-house CRDs (`custom`: (CustomKind, object) pairs,
    tui.rollout.custom), then Deployments, then app labels of pods that no listed workload covers; each group
    sorted by namespace and name."""
    from tui.rollout.custom import custom_candidate

    rollouts = [r for r in rollouts if _ns_ok(r, namespace)]
    deployments = [d for d in deployments if _ns_ok(d, namespace)]
    # Deployments that only lend their template to a Rollout (workloadRef) are not separate targets.
    lent = {(_meta(r).get("namespace", ""), ((r.get("spec") or {}).get("workloadRef") or {}).get("name"))
            for r in rollouts}
    out = [_candidate("Rollout", r, deployments) for r in rollouts]
    from tui.rollout import flagger

    for c in (c for c in canaries if _ns_ok(c, namespace)):
        out.append(flagger.candidate(c, deployments))
        lent |= {(_meta(c).get("namespace", ""), n) for n in flagger.member_names(c)}
    out += [custom_candidate(ck, o) for ck, o in custom if _ns_ok(o, namespace)]
    groups = app_groups([d for d in deployments if (_meta(d).get("namespace", ""), _meta(d).get("name")) not in lent])
    grouped = {(g.namespace, _meta(d).get("name")) for g in groups for d in g.deployments}
    out += [g.candidate() for g in groups]
    out += [_candidate("Deployment", d) for d in deployments
            if (_meta(d).get("namespace", ""), _meta(d).get("name")) not in lent | grouped]
    known = {(c.namespace, c.name) for c in out}
    labels: dict[tuple[str, str, str], int] = {}
    for p in pods:
        if not _ns_ok(p, namespace):
            continue
        pl = _meta(p).get("labels") or {}
        for k in APP_LABELS:
            v = pl.get(k)
            if v:
                ns = _meta(p).get("namespace", "")
                if (ns, v) not in known:
                    labels[(ns, k, v)] = labels.get((ns, k, v), 0) + 1
                break
    out += [Candidate("Label", v, ns, f"{k}={v}", "", "") for (ns, k, v) in labels]
    order = {"Rollout": 0, "Deployment": 1, "Label": 2}
    out.sort(key=lambda c: (0 if c.members else order.get(c.kind, 0), c.namespace, c.name))
    return out


def resolve_target(name: str | None, selector: str | None, rollouts: Iterable[dict], deployments: Iterable[dict],
                   pods: Iterable[dict] = (), namespace: str | None = None, custom: Iterable[tuple] = (),
                   custom_kinds: Iterable = (), canaries: Iterable[dict] = ()) -> Target:
    """Resolve `--app NAME` / `-l SELECTOR` (or neither) against what the cluster has.

    `namespace` None means all namespaces (-A). NAME is a Rollout's name, else a mapped in-house CRD's
    (`custom`: (CustomKind, object) pairs), else a Deployment's, else an `app` / `app.kubernetes.io/name` label
    value of pods; `KIND/NAME` (`rollout/checkout`, `veritascanary/checkout`) names the kind too. Neither given:
    the only Rollout or mapped CRD (or the only Deployment when there are none), else AmbiguousTarget with the
    candidates. `custom_kinds`: every mapped kind, those with no object too (so KIND/NAME knows them).
    """
    canaries = list(canaries)
    rollouts, deployments, pods, custom = list(rollouts), list(deployments), list(pods), list(custom)
    custom_kinds = list(custom_kinds) + [ck for ck, _ in custom]
    if name and "/" in name:
        word, name = name.split("/", 1)
        word = word.lower()
        if word in ("rollout", "rollouts", "ro", "rollouts.argoproj.io"):
            deployments, custom = [], []
        elif word in ("deployment", "deployments", "deploy", "deployments.apps"):
            rollouts, custom = [], []
        else:
            kind = next((ck.kind for ck in custom_kinds if word in ck.names()), None)
            if kind is None:
                raise TargetNotFound(f"no kind {word!r} is known: expected rollout/NAME, deployment/NAME or a kind "
                                     f"mapped in the config file's [crds] tables")
            custom = [(ck, o) for ck, o in custom if word in ck.names()]
            if not any(_meta(o).get("name") == name and _ns_ok(o, namespace) for _, o in custom):
                where = f" in namespace {namespace}" if namespace is not None else ""
                raise TargetNotFound(f"no {kind} named {name!r}{where}")
            rollouts, deployments = [], []
    if selector:
        sel = parse_selector(selector)  # raises BadSelector
        nss = {_meta(p).get("namespace", "") for p in pods if _ns_ok(p, namespace) and sel.matches(_meta(p).get("labels"))}
        ns = namespace if namespace is not None else (next(iter(nss)) if len(nss) == 1 else "")
        return Target("Label", name or sel.text, ns, sel.text)

    if not name:
        cands = candidates(rollouts, deployments, pods, namespace, custom, canaries)
        workloads = [c for c in cands if c.kind not in ("Deployment", "Label")] or [
            c for c in cands if c.kind == "Deployment" or c.members]
        if len(workloads) == 1:
            return workloads[0].target()
        if not cands:
            where = f"namespace {namespace}" if namespace is not None else "any namespace"
            raise TargetNotFound(f"no Rollout, Deployment or app-labelled pods found in {where}")
        raise AmbiguousTarget(f"several rollouts to watch; pick one with --app NAME: {_names(cands)}", cands)

    rollout_hits = [o for o in rollouts if _meta(o).get("name") == name and _ns_ok(o, namespace)]
    custom_hits = [(ck, o) for ck, o in custom if _meta(o).get("name") == name and _ns_ok(o, namespace)]
    if custom_hits and not rollout_hits:  # a CRD the user mapped is what they mean, not the Deployments under it
        if len(custom_hits) == 1:
            ck, o = custom_hits[0]
            return Target(ck.kind, name, _meta(o).get("namespace", ""), ck.pod_selector(o))
        from tui.rollout.custom import custom_candidate

        cands = [custom_candidate(ck, o) for ck, o in custom_hits]
        raise AmbiguousTarget(f"{name!r} is several objects; say which with KIND/NAME or -n: {_names(cands)}", cands)
    if not rollout_hits:  # Flagger: NAME and NAME-primary with a Canary NAME are one rollout, both tracks
        from tui.rollout import flagger

        hits = flagger.find_canary(canaries, name, namespace)
        if len(hits) == 1:
            c = hits[0]
            return Target("Label", _meta(c).get("name", name), _meta(c).get("namespace", ""),
                          flagger.selector(c, deployments))
        if len(hits) > 1:
            cands = [flagger.candidate(c, deployments) for c in hits]
            raise AmbiguousTarget(f"Canary {name!r} exists in several namespaces; use -n: {_names(cands)}", cands)
    groups = [g for g in app_groups(deployments, namespace) if g.app == name
              or any(_meta(d).get("name") == name for d in g.deployments)] if not rollout_hits else []
    if len(groups) == 1:  # a manual canary or blue/green pair: the app, not one half of it
        g = groups[0]
        return Target("Label", g.app, g.namespace, g.selector)
    if len(groups) > 1:
        cands = [g.candidate() for g in groups]
        raise AmbiguousTarget(f"app {name!r} exists in several namespaces; use -n: {_names(cands)}", cands)
    for kind, objs in (("Rollout", rollouts), ("Deployment", deployments)):
        hits = [o for o in objs if _meta(o).get("name") == name and _ns_ok(o, namespace)]
        if len(hits) == 1:
            o = hits[0]
            return Target(kind, name, _meta(o).get("namespace", ""), _workload_selector(o, deployments))
        if len(hits) > 1:
            cands = [_candidate(kind, o, deployments) for o in hits]
            raise AmbiguousTarget(f"{kind} {name!r} exists in several namespaces; use -n: {_names(cands)}", cands)

    groups: dict[tuple[str, str], int] = {}
    for p in pods:
        if not _ns_ok(p, namespace):
            continue
        pl = _meta(p).get("labels") or {}
        for k in APP_LABELS:
            if pl.get(k) == name:
                key = (_meta(p).get("namespace", ""), k)
                groups[key] = groups.get(key, 0) + 1
    nss = sorted({ns for ns, _ in groups})
    if len(nss) == 1:
        ns = nss[0]
        key = "app" if (ns, "app") in groups else "app.kubernetes.io/name"
        return Target("Label", name, ns, f"{key}={name}")
    if len(nss) > 1:
        cands = [Candidate("Label", name, ns, f"{k}={name}") for ns, k in sorted(groups)]
        raise AmbiguousTarget(f"pods labelled {name!r} exist in several namespaces; use -n: {_names(cands)}", cands)

    where = f" in namespace {namespace}" if namespace is not None else ""
    known = sorted({_meta(o).get("name", "") for o in rollouts + deployments if _ns_ok(o, namespace)})
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise TargetNotFound(f"no Rollout, Deployment or pods labelled app={name}{where}{hint}")


def _names(cands: list[Candidate], limit: int = 6) -> str:
    names = [str(c) for c in cands[:limit]]
    if len(cands) > limit:
        names.append(f"and {len(cands) - limit} more")
    return ", ".join(names)


def target_pods(target: Target, pods: Iterable[dict]) -> list[dict]:
    """The pods of `target` among `pods` (client-side check of the server-side scope)."""
    sel = target.pod_selector()
    ns = target.namespace
    return [p for p in pods if (not ns or _meta(p).get("namespace", "") == ns) and sel.matches(_meta(p).get("labels"))]


def owned_replicasets(workload: dict | None, replicasets: Iterable[dict]) -> list[dict]:
    """ReplicaSets whose controller owner is `workload` (by uid when known, else by kind and name)."""
    if not workload:
        return []
    m = _meta(workload)
    uid, name, ns = m.get("uid"), m.get("name"), m.get("namespace", "")
    out = []
    for rs in replicasets:
        rm = _meta(rs)
        if rm.get("namespace", "") != ns:
            continue
        for ref in rm.get("ownerReferences") or []:
            if (uid and ref.get("uid") == uid) or (not uid and ref.get("name") == name
                                                   and ref.get("kind") in ("Rollout", "Deployment")):
                out.append(rs)
                break
    return out


# ---- summary -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RolloutSummary:
    """What the header shows of the rollout; None where unknown."""

    kind: str
    name: str
    namespace: str
    strategy: str  # canary | bluegreen | rolling | recreate | ""
    phase: str  # Healthy | Progressing | Paused | Degraded | Aborted | Unknown
    step: str | None = None  # "3/8"
    step_index: int | None = None
    step_count: int | None = None
    weight: int | None = None  # canary traffic weight, percent
    message: str = ""
    paused: bool = False
    aborted: bool = False
    desired: int = 0
    current: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    stable_hash: str | None = None
    canary_hash: str | None = None
    active_hash: str | None = None
    preview_hash: str | None = None
    stable_service: str | None = None
    canary_service: str | None = None
    active_service: str | None = None
    preview_service: str | None = None
    generation: int | None = None
    observed_generation: int | str | None = None


def _int(v, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _condition(obj: dict, type_: str) -> dict | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def canary_weight(spec_canary: dict, status: dict) -> int | None:
    """Canary traffic weight: the controller's reported weight, else the last setWeight reached."""
    w = (((status.get("canary") or {}).get("weights") or {}).get("canary") or {}).get("weight")
    if w is not None:
        return _int(w)
    steps = spec_canary.get("steps") or []
    idx = status.get("currentStepIndex")
    if idx is None:
        return None
    idx = _int(idx)
    if not steps or idx >= len(steps):
        return 100
    for s in reversed(steps[: idx + 1]):
        if "setWeight" in s:
            return _int(s["setWeight"])
    return 0


def _template_hash(rs: dict) -> str | None:
    labels = _meta(rs).get("labels") or {}
    return labels.get("rollouts-pod-template-hash") or labels.get("pod-template-hash")


def rollout_summary(target: Target, obj: dict | None, replicasets: Iterable[dict] = ()) -> RolloutSummary:
    """The header's view of a Rollout or Deployment (`obj`); for label targets, a bare summary."""
    if not obj:
        return RolloutSummary(target.kind, target.name, target.namespace, "", "Unknown")
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, _meta(obj)
    kind = target.kind if target.kind != "Label" else ("Rollout" if "strategy" in spec and (
        "canary" in spec["strategy"] or "blueGreen" in spec["strategy"]) else "Deployment")
    strategy = _strategy(obj)
    desired = _int(spec.get("replicas", 1), 1)
    common = dict(
        kind=kind, name=meta.get("name", target.name), namespace=meta.get("namespace", target.namespace),
        strategy=strategy, desired=desired, current=_int(status.get("replicas")),
        updated=_int(status.get("updatedReplicas")), ready=_int(status.get("readyReplicas")),
        available=_int(status.get("availableReplicas")), generation=meta.get("generation"),
        observed_generation=status.get("observedGeneration"),
    )
    if kind == "Rollout":
        strat = spec.get("strategy") or {}
        canary, bg = strat.get("canary") or {}, strat.get("blueGreen") or {}
        steps = canary.get("steps") or []
        idx = status.get("currentStepIndex")
        aborted = bool(status.get("abort"))
        paused = bool(status.get("pauseConditions")) or bool(spec.get("paused"))
        phase = status.get("phase") or ("Paused" if paused else "Progressing")
        if aborted and phase == "Degraded":
            phase = "Aborted"
        msg = status.get("message") or ""
        if paused and not msg:
            msg = ", ".join(p.get("reason", "") for p in status.get("pauseConditions") or [] if p.get("reason"))
        stable = status.get("stableRS")
        current = status.get("currentPodHash")
        return RolloutSummary(
            **common, phase=phase, paused=paused, aborted=aborted, message=clean_line(msg),
            step=f"{_int(idx)}/{len(steps)}" if strategy == "canary" and steps and idx is not None else None,
            step_index=_int(idx) if idx is not None else None, step_count=len(steps) if strategy == "canary" else None,
            weight=canary_weight(canary, status) if strategy == "canary" else None,
            stable_hash=stable, canary_hash=current if current and current != stable else None,
            active_hash=(status.get("blueGreen") or {}).get("activeSelector"),
            preview_hash=(status.get("blueGreen") or {}).get("previewSelector"),
            stable_service=canary.get("stableService"), canary_service=canary.get("canaryService"),
            active_service=bg.get("activeService"), preview_service=bg.get("previewService"),
        )
    # Deployment: phase as `kubectl rollout status` would judge it.
    progressing = _condition(obj, "Progressing") or {}
    gen, obs = meta.get("generation"), status.get("observedGeneration")
    msg = progressing.get("message", "")
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        phase = "Degraded"
    elif spec.get("paused"):
        phase = "Paused"
    elif gen is not None and obs is not None and _int(obs) < _int(gen):
        phase = "Progressing"
    elif (common["updated"] >= desired and common["current"] <= common["updated"]
          and common["available"] >= common["updated"]):
        phase = "Healthy"
    else:
        phase = "Progressing"
    rss = owned_replicasets(obj, replicasets)
    rss.sort(key=lambda r: _int((_meta(r).get("annotations") or {}).get("deployment.kubernetes.io/revision")))
    newest = _template_hash(rss[-1]) if rss else None
    older = [r for r in rss[:-1] if _int((r.get("status") or {}).get("replicas"))]
    stable = _template_hash(older[-1]) if older else newest
    return RolloutSummary(
        **common, phase=phase, paused=bool(spec.get("paused")), message=clean_line(msg),
        stable_hash=stable, canary_hash=newest if newest != stable else None,
    )


# ---- from the store ------------------------------------------------------------------------------


def workload_of(store, target: Target) -> dict | None:
    """The target's Rollout or Deployment from the store (a Store, or {kind: {(ns, name): obj}})."""
    kind = {"Rollout": "rollouts", "Deployment": "deployments"}.get(target.kind)
    if kind is None:
        return None
    objs = store.objects.get(kind, {}) if hasattr(store, "objects") else store.get(kind, {})
    return objs.get((target.namespace, target.name))


def resolver_for(store, target: Target, conventions: TrackConventions | None = None) -> TrackResolver:
    """A TrackResolver for the target's current Rollout status; rebuild it when the Rollout changes."""
    return TrackResolver(conventions or TrackConventions(), workload_of(store, target) if target.kind == "Rollout" else None)


def target_object_names(store, target: Target, resolver: TrackResolver | None = None) -> set[str]:
    """"Kind/name" of everything the rollout consists of, for filtering events (events.relevant)."""
    names: set[str] = set()
    wl = workload_of(store, target)
    if wl is not None:
        names.add(f"{target.kind}/{target.name}")

    def kind_objs(kind: str):
        objs = store.objects.get(kind, {}) if hasattr(store, "objects") else store.get(kind, {})
        return objs.values()

    sel = target.pod_selector()
    ns = target.namespace
    for p in kind_objs("pods"):
        m = _meta(p)
        if (not ns or m.get("namespace", "") == ns) and sel.matches(m.get("labels")):
            names.add(f"Pod/{m.get('name', '')}")
    for rs in owned_replicasets(wl, kind_objs("replicasets")) if wl is not None else [
            r for r in kind_objs("replicasets") if (not ns or _meta(r).get("namespace", "") == ns)
            and sel.matches(((r.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels"))]:
        names.add(f"ReplicaSet/{_meta(rs).get('name', '')}")
    roles = set()
    if wl is not None and target.kind == "Rollout":
        strat = (wl.get("spec") or {}).get("strategy") or {}
        for sub, keys in (("canary", ("stableService", "canaryService")), ("blueGreen", ("activeService", "previewService"))):
            for k in keys:
                if (strat.get(sub) or {}).get(k):
                    roles.add(strat[sub][k])
    for svc in kind_objs("services"):
        m = _meta(svc)
        if ns and m.get("namespace", "") != ns:
            continue
        svc_sel = (svc.get("spec") or {}).get("selector") or {}
        # A Service is the rollout's when the Rollout names it, or its selector is a subset of the pods'.
        if m.get("name") in roles or (svc_sel and _selector_covers(sel, svc_sel)):
            names.add(f"Service/{m.get('name', '')}")
    return names


def _selector_covers(pod_sel: Selector, svc_selector: Mapping[str, str]) -> bool:
    """Whether a Service selector agrees with the target's equality requirements on shared keys and
    shares at least one of them (so `app=checkout` services belong to `app=checkout` rollouts)."""
    shared = False
    for key, op, values in pod_sel.requirements:
        if op == "=" and key in svc_selector:
            if svc_selector[key] not in values:
                return False
            shared = True
    return shared
