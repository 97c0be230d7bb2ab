"""In-house rollout CRDs followed through a mapping in the config file: where each reads its phase, weight, step,
conditions and switch progress (kubectl JSONPath templates such as `{.status.phase}`), how its phases map to
healthy / progressing / paused / degraded / aborted, and which label selects each track's pods.

Plain data, no Textual: tui/config.py builds the CustomKinds from `[crds.<name>]` tables, tui/session.py watches
the objects and feeds them here, the strip and the assessment render the Progress and the outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from tui.textsafe import clean_ident, clean_line

HEALTHS = ("healthy", "progressing", "paused", "degraded", "aborted")
# the strip's one vocabulary (tui.rollout.progress.PHASE_SYMBOL) by mapped health
HEALTH_SYMBOL = {"healthy": "✓", "progressing": "…", "paused": "‖", "degraded": "!", "aborted": "✗", "unknown": "?"}
# the Argo word each health reads as where a view needs one (the header's phase, the picker)
HEALTH_WORD = {"healthy": "Healthy", "progressing": "Progressing", "paused": "Paused", "degraded": "Degraded",
               "aborted": "Aborted", "unknown": "Unknown"}
PATH_KEYS = ("phase", "weight", "desired_weight", "step", "step_count", "conditions", "switch_progress", "message",
             "active", "approval", "planned_pause")
# what a filled-in `approval` / `planned_pause` path reads as "no": kubectl prints these for a false or absent value
_NO = ("", "false", "0", "no", "none", "null")


class PathError(ValueError):
    """A JSONPath template that cannot be parsed; the message says where and what was expected."""


@dataclass(frozen=True)
class JsonPathTemplate:
    """A kubectl JSONPath template (`{.status.phase}`, `app={.spec.targetRef.name}`): text and `{...}` parts,
    each expression evaluated by jsonpath-ng; several matches are joined by a space, as kubectl prints them."""

    source: str
    parts: tuple[tuple[str, Any], ...]  # ("text", "app=") | ("path", compiled jsonpath-ng expression)

    @classmethod
    def parse(cls, text: str) -> "JsonPathTemplate":
        from jsonpath_ng.ext import parse as jp_parse

        if not isinstance(text, str) or "{" not in text:
            raise PathError(f"expected a kubectl JSONPath template such as \"{{.status.phase}}\", got {text!r}")
        parts: list[tuple[str, Any]] = []
        pos = 0
        for m in re.finditer(r"\{([^{}]*)\}", text):
            if m.start() > pos:
                parts.append(("text", _literal(text[pos:m.start()], text)))
            expr = m.group(1).strip()
            pos = m.end()
            if not expr:
                raise PathError(f"empty {{}} in {text!r}; expected a path such as {{.status.phase}}")
            if expr.startswith(("range ", "end")) or expr == "end":
                raise PathError(f"{{{expr}}} in {text!r}: range/end loops are not supported; expected one path "
                                f"such as {{.status.conditions[*].type}}")
            if expr[0] in "\"'" and expr[-1] == expr[0] and len(expr) >= 2:  # {"literal"}, as kubectl allows
                parts.append(("text", expr[1:-1]))
                continue
            if expr.startswith("$"):
                jp = expr
            elif expr.startswith((".", "[")):
                jp = "$" + expr
            else:
                raise PathError(f"{{{expr}}} in {text!r}: expected a path starting with '.', such as {{.{expr}}}")
            try:
                parts.append(("path", jp_parse(jp)))
            except Exception as e:  # noqa: BLE001 - its lexer, parser and ply raise several kinds
                raise PathError(f"{{{expr}}} in {text!r} is not a JSONPath expression: "
                                f"{clean_line(str(e)) or type(e).__name__}") from None
        if pos < len(text):
            parts.append(("text", _literal(text[pos:], text)))
        return cls(text, tuple(parts))

    def values(self, obj: Any) -> list[Any]:
        """Every match of the first path (for lists such as conditions)."""
        for kind, p in self.parts:
            if kind == "path":
                out: list[Any] = []
                for m in p.find(obj):
                    v = m.value
                    out.extend(v if isinstance(v, list) and len(self.parts) == 1 else [v])
                return out
        return []

    def text(self, obj: Any) -> str | None:
        """The template filled in; None when a path matched nothing (kubectl prints an empty string)."""
        out = []
        for kind, p in self.parts:
            if kind == "text":
                out.append(p)
                continue
            found = [m.value for m in p.find(obj)]
            if not found:
                return None
            out.append(" ".join(_scalar(v) for v in found))
        return "".join(out)


def _literal(s: str, whole: str) -> str:
    if "}" in s or "{" in s:
        raise PathError(f"unbalanced braces in {whole!r}")
    return s


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        import json

        return json.dumps(v, separators=(",", ":"), sort_keys=True)
    return str(v)


@dataclass(frozen=True)
class CustomKind:
    """One `[crds.<name>]` mapping."""

    name: str  # the table's name in the config file
    group: str
    version: str
    kind: str
    plural: str
    strategy: str = "canary"  # canary | bluegreen
    controller: str = ""  # the name the strip shows, default: the kind
    paths: Mapping[str, JsonPathTemplate] = field(default_factory=dict)
    phases: Mapping[str, str] = field(default_factory=dict)  # the CRD's phase word -> one of HEALTHS
    tracks: tuple[tuple[str, str, str], ...] = ()  # (track, label key, label value)
    selector: JsonPathTemplate | None = None  # the rollout's pod selector, e.g. app={.metadata.name}
    step_base: int = 0  # 1 when the CRD counts its steps from 1
    line: int | None = None  # where the mapping starts in the config file
    must_hold: tuple[str, ...] = ()  # condition types the controller must report True (else controller-check-failing)

    @property
    def store_key(self) -> str:
        """The Store kind its informer writes (the plural, as for every watched kind)."""
        return self.plural

    def ref(self):
        from tui.kube.resources import ResourceRef

        return ResourceRef(self.kind, self.group, self.version, self.plural, True)

    def names(self) -> set[str]:
        """What `--app KIND/NAME` may say for this kind (case-insensitive)."""
        return {self.kind.lower(), self.plural.lower(), self.name.lower(), f"{self.plural}.{self.group}".lower()}

    def pod_selector(self, obj: dict) -> str:
        sel = self.selector.text(obj) if self.selector is not None else None
        if sel:
            return sel
        return f"app={(obj.get('metadata') or {}).get('name', '')}"

    def read(self, key: str, obj: dict) -> str | None:
        p = self.paths.get(key)
        return p.text(obj) if p is not None else None

    def health(self, obj: dict) -> tuple[str, str]:
        """(mapped health, the controller's own phase word); health "unknown" for a phase the mapping lacks."""
        phase = self.read("phase", obj)
        if phase is None:
            return "unknown", ""
        word = clean_line(phase)
        return self.phases.get(phase, "unknown"), word


def guess_plural(kind: str) -> str:
    """kubectl's fallback (meta.UnsafeGuessKindToResource): lower-case, y -> ies, s/x/z/ch/sh -> +es, else +s."""
    k = kind.lower()
    if not k:
        return k
    if k.endswith("y") and len(k) > 1 and k[-2] not in "aeiou":
        return k[:-1] + "ies"
    if k.endswith(("s", "x", "z", "ch", "sh")):
        return k + "es"
    return k + "s"


def custom_kind_of(kinds: Iterable[CustomKind], kind: str | None) -> CustomKind | None:
    for ck in kinds:
        if ck.kind == kind:
            return ck
    return None


def _int(v: Any) -> int | None:
    if v is None:
        return None
    try:
        return int(float(str(v).strip().rstrip("%")))
    except (TypeError, ValueError):
        return None


def conditions_text(ck: CustomKind, obj: dict) -> tuple[str, ...]:
    """Each condition as `Type=Status Reason: message`, the ones not True first (they say what is wrong)."""
    p = ck.paths.get("conditions")
    if p is None:
        return ()
    out = []
    for c in p.values(obj):
        if not isinstance(c, dict):
            continue
        head = f"{clean_ident(str(c.get('type') or '?'))}={clean_ident(str(c.get('status') or '?'))}"
        if c.get("reason"):
            head += f" {clean_ident(str(c['reason']))}"
        if c.get("message"):
            head += f": {clean_line(str(c['message']))}"
        out.append((0 if str(c.get("status")) != "True" else 1, head))
    return tuple(t for _, t in sorted(out, key=lambda x: x[0]))


def failing_conditions(ck: CustomKind, obj: dict) -> tuple[str, ...]:
    """The `must_hold` conditions the controller reports as not True (`Type=False Reason: message`): its own word
    that something it checks is failing, e.g. a blue/green switch whose target fails its health checks."""
    p = ck.paths.get("conditions")
    if p is None or not ck.must_hold:
        return ()
    out = []
    for c in p.values(obj):
        if isinstance(c, dict) and str(c.get("type")) in ck.must_hold and str(c.get("status")) == "False":
            head = f"{clean_ident(str(c.get('type')))}=False"
            if c.get("reason"):
                head += f" {clean_ident(str(c['reason']))}"
            if c.get("message"):
                head += f": {clean_line(str(c['message']))}"
            out.append(head)
    return tuple(out)


def custom_outcome(ck: CustomKind, obj: dict | None) -> tuple[str, str]:
    """(outcome state, message) in tui.assessment's OUTCOMES; "unknown" while the object is not in the store."""
    if not obj:
        return "unknown", f"the {ck.kind} is not (yet) in the store"
    health, word = ck.health(obj)
    msg = ck.read("message", obj)
    if msg is None:
        conds = conditions_text(ck, obj)
        msg = conds[0] if conds else ""
    msg = clean_line(msg or "")
    if health == "unknown":
        if not word:
            return "unknown", msg or f"no {ck.paths['phase'].source if 'phase' in ck.paths else 'phase'} yet: " \
                                     f"is its controller running?"
        return "unknown", f"phase {word!r} is not in [crds.{ck.name}.phases]" + (f"; {msg}" if msg else "")
    return health, msg or word


def custom_progress(ck: CustomKind, obj: dict | None, pods: Sequence[dict] = (), *,
                    track_of: Callable[[Mapping[str, str]], str | None] = lambda labels: None,
                    step_for_s: float | None = None):
    """The strip's data for a mapped CRD: its phase, weight, step and switch progress, each track's pods."""
    from tui.rollout.progress import Progress, Revision

    if not obj:
        return None
    meta = obj.get("metadata") or {}
    health, word = ck.health(obj)
    weight = _int(ck.read("weight", obj))
    desired_w = _int(ck.read("desired_weight", obj))
    step = _int(ck.read("step", obj))
    count = _int(ck.read("step_count", obj))
    switch = _int(ck.read("switch_progress", obj))
    idx = None if step is None else step - ck.step_base
    complete = health == "healthy"
    if count is not None and complete and idx is not None:
        idx = count
    # each track's pods: images and readiness, from the pods the session already watches
    by_track: dict[str, list[dict]] = {}
    for p in pods:
        labels = (p.get("metadata") or {}).get("labels") or {}
        by_track.setdefault(track_of(labels) or "-", []).append(p)
    revs = []
    ready_total = 0
    for track, ps in sorted(by_track.items()):
        ready = sum(1 for p in ps if _pod_ready(p))
        ready_total += ready
        images = sorted({clean_line(str(c.get("image") or "")) for p in ps
                         for c in (p.get("spec") or {}).get("containers") or () if isinstance(c, dict)})
        revs.append(Revision("-", None, clean_ident(track), (f"{len(ps)} pod{'s' if len(ps) != 1 else ''}",),
                             tuple(images), len(ps), ready, ready))
    active = ck.read("active", obj)
    roles = ""
    if ck.strategy == "bluegreen" and active:
        a = clean_ident(active)
        other = next((t for t, _, _ in ck.tracks if t != a and t in ("blue", "green")), None)
        roles = f"active {a}" + (f" · preview {other}" if other else "")
    pause, pause_kind = custom_pause(ck, obj, health, word)
    symbol = HEALTH_SYMBOL.get(health, "?")
    return Progress(
        clean_line(ck.controller or ck.kind), ck.kind, clean_ident(meta.get("name", "")), ck.strategy,
        word or "Unknown", symbol, idx if count else None, count, (), pause, pause_kind, None, None,
        desired_w if desired_w is not None else (None if weight is None else weight), weight, complete,
        tuple(revs), len(pods), len(pods), len(pods), ready_total, ready_total,
        step_for_s=step_for_s if health in ("progressing", "paused") else None,  # how long in this step or phase
        roles=roles, health=health, switch_progress=switch, conditions=conditions_text(ck, obj),
        message=custom_outcome(ck, obj)[1],
        failing=failing_conditions(ck, obj) if health in ("progressing", "paused", "healthy") else ())


def _said(ck: CustomKind, key: str, obj: dict) -> str | None:
    """The path's text when it says yes (matched, and not false/0/empty), else None."""
    v = ck.read(key, obj)
    return None if v is None or v.strip().lower() in _NO else clean_line(v)


def custom_pause(ck: CustomKind, obj: dict, health: str, word: str) -> tuple[str, str]:
    """(pause text, pause kind) as tui.assessment.progress_findings reads them:

    - `approval` matches while the rollout runs or is paused: "approval", a person has to approve (the
      `awaiting-approval` finding, info; `lookout status` exits 2, hold), as Flagger's confirm gates;
    - a paused phase with `planned_pause` saying yes: "step", a planned pause (`rollout-paused`, info);
    - any other paused phase: "hand", nothing says it was planned (`rollout-paused`, warning)."""
    if health not in ("progressing", "paused"):
        return "", ""
    gate = _said(ck, "approval", obj)
    if gate is not None:
        return f"waiting for approval ({gate[:60]})", "approval"
    if health != "paused":
        return "", ""
    planned = _said(ck, "planned_pause", obj)
    if planned is not None:
        return f"paused ({word}, planned" + (f": {planned[:60]})" if planned.lower() != "true" else ")"), "step"
    return f"paused ({word})", "hand"


def _pod_ready(p: dict) -> bool:
    for c in (p.get("status") or {}).get("conditions") or ():
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def custom_summary(target, ck: CustomKind, obj: dict | None, pods: Sequence[dict] = ()):
    """The header's view: the mapped health as the phase word, the weight and step."""
    from tui.rollout.target import RolloutSummary

    if not obj:
        return RolloutSummary(target.kind, target.name, target.namespace, ck.strategy, "Unknown")
    state, msg = custom_outcome(ck, obj)
    count = _int(ck.read("step_count", obj))
    step = _int(ck.read("step", obj))
    idx = None if step is None else step - ck.step_base
    ready = sum(1 for p in pods if _pod_ready(p))
    return RolloutSummary(
        target.kind, target.name, target.namespace, ck.strategy, HEALTH_WORD.get(state, "Unknown"),
        step=f"{idx}/{count}" if idx is not None and count else None, step_index=idx, step_count=count,
        weight=_int(ck.read("weight", obj)), message=msg, paused=state == "paused", aborted=state == "aborted",
        desired=len(pods), current=len(pods), updated=len(pods), ready=ready, available=ready)


def custom_conventions(ck: CustomKind, base):
    """The session's track conventions with this mapping's track labels tried first."""
    from tui.rollout.tracks import TrackConventions

    rules: dict[str, list[tuple[str, str]]] = {}
    for track, key, value in ck.tracks:
        rules.setdefault(key, []).append((value, track))
    mine = tuple((k, tuple(v)) for k, v in rules.items())
    return TrackConventions(mine + tuple(r for r in base.labels if r[0] not in rules), base.argo_hash_label)


def custom_candidate(ck: CustomKind, obj: dict):
    """One picker / overview line: strategy, the controller's phase and its mapped health."""
    from tui.rollout.target import Candidate

    meta = obj.get("metadata") or {}
    health, word = ck.health(obj)
    step, count = _int(ck.read("step", obj)), _int(ck.read("step_count", obj))
    weight = _int(ck.read("weight", obj))
    return Candidate(ck.kind, meta.get("name", ""), meta.get("namespace", ""), ck.pod_selector(obj), ck.strategy,
                     "", word or "Unknown", step=f"{step - ck.step_base}/{count}" if step is not None and count else "",
                     weight="" if weight is None else str(weight), health=health)
