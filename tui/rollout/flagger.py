"""Flagger: a Canary object with its `NAME` (canary) and `NAME-primary` (primary) Deployments is one rollout.

Flagger (github.com/fluxcd/flagger) copies the target Deployment `NAME` to `NAME-primary`, rewriting its selector
label (`app`, `name` or `app.kubernetes.io/name`) to `NAME-primary`; the apex Service `NAME` and the Service
`NAME-primary` select the primary, `NAME-canary` selects the canary. Its progress lives in the Canary's status
(phase, canaryWeight, failedChecks, iterations, conditions), and every event it records has the reason `Synced`
(pkg/controller/events.go recordEventInfof / recordEventWarningf): what happened is told by the message alone.

Plain data in, plain data out: recognition for tui.rollout.target, the strip's Progress, the controller's outcome
and findings for tui.assessment, and event classes for the events pane.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from tui.kube.resources import ResourceRef
from tui.textsafe import clean_ident, clean_line

CANARIES = ResourceRef("Canary", "flagger.app", "v1beta1", "canaries", True)
# Flagger's --selector-labels default: the label whose value it rewrites to NAME-primary
SELECTOR_LABELS = ("app", "name", "app.kubernetes.io/name")
PRIMARY, CANARY = "primary", "canary"

# Flagger's phases (pkg/apis/flagger/v1beta1/status.go) in the strip's vocabulary of symbols
PHASE_SYMBOL = {"Initializing": "…", "Initialized": "✓", "Waiting": "‖", "Progressing": "…",
                "WaitingPromotion": "‖", "Promoting": "…", "Finalising": "…", "Succeeded": "✓", "Failed": "✗",
                "Terminating": "-", "Terminated": "-"}
WAITING_PHASES = {"Waiting": "confirm-rollout", "WaitingPromotion": "confirm-promotion"}
DONE_PHASES = ("Initialized", "Succeeded")


def _meta(o: dict | None) -> dict:
    return (o or {}).get("metadata") or {}


def _int(v, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def analysis(canary: dict) -> dict:
    spec = canary.get("spec") or {}
    return spec.get("analysis") or spec.get("canaryAnalysis") or {}


def target_name(canary: dict) -> str:
    return str(((canary.get("spec") or {}).get("targetRef") or {}).get("name") or _meta(canary).get("name", ""))


def _deployment(deployments: Iterable[dict], namespace: str, name: str) -> dict | None:
    return next((d for d in deployments if _meta(d).get("name") == name
                 and _meta(d).get("namespace", "") == namespace), None)


def selector_label(canary: dict, deployments: Iterable[dict] = ()) -> tuple[str, str]:
    """(label key, canary value) Flagger rewrites: the first of SELECTOR_LABELS in the target Deployment's
    selector (its `matchLabels`), else `app=NAME`. The primary's pods carry `key=value-primary`."""
    ns, name = _meta(canary).get("namespace", ""), target_name(canary)
    d = _deployment(deployments, ns, name)
    ml = ((((d or {}).get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
    for k in SELECTOR_LABELS:
        if ml.get(k):
            return k, str(ml[k])
    return "app", name


def selector(canary: dict, deployments: Iterable[dict] = ()) -> str:
    """The pod selector of the whole rollout: both tracks (`app in (podinfo,podinfo-primary)`)."""
    key, value = selector_label(canary, deployments)
    return f"{key} in ({value},{value}-primary)"


def track_rule(canary: dict, deployments: Iterable[dict] = ()) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A tui.rollout.tracks LabelRule: `key=value-primary` is the primary track, `key=value` the canary."""
    key, value = selector_label(canary, deployments)
    return key, ((f"{value}-primary", PRIMARY), (value, CANARY))


def find_canary(canaries: Iterable[dict], name: str, namespace: str | None) -> list[dict]:
    """Canaries that `--app NAME` means: by the Canary's name, its target's, or the primary's (`NAME-primary`)."""
    out = []
    for c in canaries:
        if namespace is not None and _meta(c).get("namespace", "") != namespace:
            continue
        t = target_name(c)
        if name in (_meta(c).get("name"), t, f"{t}-primary"):
            out.append(c)
    return out


def canary_for_selector(canaries: Iterable[dict], deployments: Iterable[dict], matches, namespace: str) -> dict | None:
    """The Canary whose primary or canary pod template the target's selector (`matches(labels)`) selects."""
    deployments = list(deployments)
    for c in canaries:
        ns = _meta(c).get("namespace", "")
        if namespace and ns != namespace:
            continue
        t = target_name(c)
        for name in (t, f"{t}-primary"):
            d = _deployment(deployments, ns, name)
            labels = (((((d or {}).get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}
            if d is not None and matches(labels):
                return c
        key, value = selector_label(c, deployments)
        if matches({key: value}) or matches({key: f"{value}-primary"}):
            return c
    return None


def member_names(canary: dict) -> tuple[str, str]:
    t = target_name(canary)
    return t, f"{t}-primary"


# ---- status --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlaggerStatus:
    """The Canary's own status and the limits it is judged against, for the strip, findings and `--json`."""

    phase: str
    canary_weight: int
    failed_checks: int
    threshold: int  # analysis.threshold (Flagger's default 1)
    iterations: int
    iterations_total: int | None  # analysis.iterations (blue/green, A/B testing)
    max_weight: int | None
    step_weight: int | None
    conditions: tuple[tuple[str, str, str, str], ...]  # (type, status, reason, message)
    gates: tuple[str, ...]  # "confirm-rollout approve" (webhook type and name)
    message: str  # the Promoted condition's message

    @property
    def checks_text(self) -> str:
        return f"failed checks {self.failed_checks}/{self.threshold}"


def flagger_status(canary: dict) -> FlaggerStatus:
    st, an = canary.get("status") or {}, analysis(canary)
    conds = tuple((clean_line(str(c.get("type") or "")), clean_line(str(c.get("status") or "")),
                   clean_line(str(c.get("reason") or "")), clean_line(str(c.get("message") or "")))
                  for c in st.get("conditions") or () if isinstance(c, dict))
    promoted = next((c for c in conds if c[0] == "Promoted"), None)
    gates = tuple(f"{clean_line(str(w.get('type')))} {clean_line(str(w.get('name') or ''))}".strip()
                  for w in an.get("webhooks") or () if isinstance(w, dict)
                  and w.get("type") in ("confirm-rollout", "confirm-promotion", "confirm-traffic-increase"))
    return FlaggerStatus(
        clean_line(str(st.get("phase") or "Initializing")), _int(st.get("canaryWeight")),
        _int(st.get("failedChecks")), max(1, _int(an.get("threshold"), 1)), _int(st.get("iterations")),
        _int(an.get("iterations")) or None, _int(an.get("maxWeight")) or None, _int(an.get("stepWeight")) or None,
        conds, gates, promoted[3] if promoted else "")


def _weights(an: dict) -> list[int]:
    steps = [_int(w) for w in an.get("stepWeights") or () if _int(w) > 0]
    if steps:
        return steps
    step, top = _int(an.get("stepWeight")), _int(an.get("maxWeight"), 100) or 100
    if step <= 0:
        return []
    return list(range(step, top + 1, step)) or [top]


def strategy(canary: dict) -> str:
    """As Flagger's DeploymentStrategy(): A/B testing, blue/green (iterations) or canary (weights)."""
    an = analysis(canary)
    if an.get("match") and _int(an.get("iterations")):
        return "ab-testing"
    if _int(an.get("iterations")):
        return "iterations"
    return "canary"


def flagger_progress(canary: dict, deployments: Sequence[dict], *, now: float, step_for_s: float | None = None):
    """The strip's Progress for a Flagger Canary: its phase, weight steps (stepWeight up to maxWeight, or
    stepWeights), iterations, failed checks against the threshold, and the two Deployments as the revisions."""
    from tui.rollout.progress import Progress, Revision, Step, _images

    fs = flagger_status(canary)
    an = analysis(canary)
    ns = _meta(canary).get("namespace", "")
    canary_name, primary_name = member_names(canary)
    done = fs.phase in DONE_PHASES
    steps: list = []
    idx = count = None
    strat = strategy(canary)
    if strat == "canary":
        ws = _weights(an)
        if ws:
            count = len(ws)
            reached = [i for i, w in enumerate(ws) if w <= fs.canary_weight]
            idx = count if done or fs.phase in ("Promoting", "Finalising") else (reached[-1] if reached else 0)
            for i, w in enumerate(ws):
                state = "done" if i < idx or done else ("current" if i == idx else "pending")
                steps.append(Step(i, "setWeight", f"setWeight {w}%", state))
    elif fs.iterations_total:
        count = fs.iterations_total
        idx = count if done else min(fs.iterations, count)
    pause, pause_kind = "", ""
    if fs.phase in WAITING_PHASES:
        gate = next((g for g in fs.gates if g.startswith(WAITING_PHASES[fs.phase])), WAITING_PHASES[fs.phase])
        pause = ("waiting for approval" if fs.phase == "Waiting" else "waiting for promotion approval") + f" ({gate})"
        pause_kind = "approval"
    revs, tot = [], dict(desired=0, current=0, updated=0, ready=0, available=0)
    for name, role in ((primary_name, PRIMARY), (canary_name, CANARY)):
        d = _deployment(deployments, ns, name)
        if d is None:
            continue
        spec, st = d.get("spec") or {}, d.get("status") or {}
        desired = _int(spec.get("replicas", 1), 1)
        tot["desired"] += desired
        tot["current"] += _int(st.get("replicas"))
        tot["updated"] += _int(st.get("updatedReplicas"))
        tot["ready"] += _int(st.get("readyReplicas"))
        tot["available"] += _int(st.get("availableReplicas"))
        revs.append(Revision(clean_line(str((_meta(d).get("annotations") or {}).get("deployment.kubernetes.io/revision")
                                            or "?")), None, role, (clean_ident(name),), _images(d), desired,
                             _int(st.get("readyReplicas")), _int(st.get("availableReplicas"))))
    weight = None if strat != "canary" else (0 if done else fs.canary_weight)
    return Progress("Flagger", "Canary", clean_ident(_meta(canary).get("name", "")), strat, fs.phase,
                    PHASE_SYMBOL.get(fs.phase, "?"), idx, count, tuple(steps), pause, pause_kind, None, None,
                    weight, weight, done, tuple(revs), step_for_s=step_for_s, roles=f"{PRIMARY} · {CANARY}",
                    flagger=fs, **tot)


def flagger_outcome(canary: dict | None):
    """The controller's verdict (tui.assessment.Outcome): Failed is an abort (Flagger rolled back and scaled the
    canary to zero), Succeeded/Initialized healthy, Waiting/WaitingPromotion paused, the rest progressing."""
    from tui.assessment import Outcome

    if not canary:
        return Outcome("unknown", "flagger", "the Canary is not (yet) in the store")
    fs = flagger_status(canary)
    rev = str(((canary.get("status") or {}).get("lastAppliedSpec")) or "") or None
    if fs.phase == "Failed":
        return Outcome("aborted", "flagger", fs.message or f"Canary analysis failed ({fs.checks_text})", rev)
    if fs.phase in DONE_PHASES:
        return Outcome("healthy", "flagger", fs.message, rev)
    if fs.phase in WAITING_PHASES:
        return Outcome("paused", "flagger", fs.message or fs.phase, rev)
    if not (canary.get("status") or {}):
        return Outcome("unknown", "flagger", "no status yet: is the Flagger controller running?", rev)
    return Outcome("progressing", "flagger", fs.message, rev)


# ---- events: every reason is `Synced`, the message says what happened ------------------------------------

# (class, warning-like, pattern) in order; messages from pkg/controller/scheduler.go, scheduler_hooks.go and
# scheduler_metrics.go
EVENT_CLASSES: tuple[tuple[str, bool, re.Pattern], ...] = tuple((c, w, re.compile(p)) for c, w, p in (
    ("NoTraffic", True, r"^Halt advancement no values found\b.*not receiving traffic"),
    ("NoValues", True, r"^Halt advancement no values found\b"),
    ("WaitingApproval", True, r"^Halt \S+ advancement waiting for (promotion |traffic increase )?approval\b"),
    ("Halt", True, r"^Halt\b"),
    ("RollingBack", True, r"^Rolling back\b"),
    ("CanaryFailed", True, r"^Canary failed!"),
    ("PromotionFailed", True, r"^Promotion of \S+ failed\b"),
    ("QueryFailed", True, r"query failed\b"),
    ("Advance", False, r"^Advance \S+ (canary|primary) (weight|iteration)\b"),
    ("NewRevision", False, r"^New revision detected!"),
    ("Started", False, r"^Starting canary analysis\b"),
    ("Promoting", False, r"^Copying \S+ template spec to\b"),
    ("Routing", False, r"^(Routing all traffic|Stop traffic mirroring)\b"),
    ("Promoted", False, r"^Promotion completed!"),
    ("Initialized", False, r"^Initialization done!"),
    ("CheckPassed", False, r"check \S+ passed$"),
))


def is_flagger_event(ev: dict) -> bool:
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    return inv.get("kind") == "Canary" and str(inv.get("apiVersion") or "flagger.app/").startswith("flagger.app/") \
        and (ev.get("reason") or "") == "Synced"


def classify_message(message: str) -> tuple[str, bool] | None:
    """(class, warning-like) of a Flagger event message, None when it is none of the known ones."""
    m = (message or "").strip()
    for cls, warn, pat in EVENT_CLASSES:
        if pat.search(m):
            return cls, warn
    return None


def event_findings(canary: dict, events: Iterable[dict], now: float, window: float) -> list:
    """`no-traffic` on the canary while Flagger's newest metric check found no values ("… probably NAME.NS is not
    receiving traffic"), within `window` seconds and while the analysis runs."""
    from tui.rollout.events import event_time
    from tui.rollout.findings import Finding

    fs = flagger_status(canary)
    if fs.phase not in ("Progressing", "Waiting", "WaitingPromotion"):
        return []
    name = _meta(canary).get("name")
    newest: tuple[float, dict] | None = None
    for ev in events:
        inv = ev.get("involvedObject") or ev.get("regarding") or {}
        if not is_flagger_event(ev) or inv.get("name") != name:
            continue
        t = event_time(ev)
        if t is None or now - t > window:
            continue
        if newest is None or t > newest[0]:
            newest = (t, ev)
    if newest is None:
        return []
    msg = clean_line(str(newest[1].get("message") or newest[1].get("note") or ""))
    cls = classify_message(msg)
    if cls is None or cls[0] != "NoTraffic":
        return []
    return [Finding("no-traffic", "warning", CANARY,
                    f"Flagger found no metric values for the canary: {msg}",
                    (("Canary", clean_ident(str(name))), ("event", msg), ("phase", fs.phase)),
                    (f"Canary/{name}",))]


# ---- findings from the status ----------------------------------------------------------------------------


def flagger_findings(progress, events_text: str = "") -> list:
    """`awaiting-approval` (info) while Flagger waits at a confirm-rollout / confirm-promotion gate;
    `failed-checks-near-threshold` while failed checks count towards the threshold (warning when one more
    failed check rolls back, info before); `rollout-aborted` (critical) once the phase is Failed."""
    from tui.rollout.findings import Finding

    fs = getattr(progress, "flagger", None)
    if fs is None:
        return []
    ref = f"Canary/{progress.name}"
    out = []
    if fs.phase in WAITING_PHASES:
        gate = next((g for g in fs.gates if g.startswith(WAITING_PHASES[fs.phase])), WAITING_PHASES[fs.phase])
        what = "promotion" if fs.phase == "WaitingPromotion" else "the rollout to start"
        out.append(Finding("awaiting-approval", "info", None,
                           f"{progress.name} is waiting for approval of {what}: Flagger's {gate} gate is closed",
                           (("phase", fs.phase), ("gate", gate), ("canary weight", f"{fs.canary_weight}%")), (ref,)))
    if fs.phase == "Failed":
        # Flagger resets failedChecks to 0 as it rolls back: "0/5" would read as if no check had failed, so the count
        # is named only while it says something (the rollback's own event, quoted below, says why)
        checks = f" ({fs.checks_text})" if fs.failed_checks else ""
        out.append(Finding("rollout-aborted", "critical", CANARY,
                           f"Flagger rolled {progress.name} back: {fs.message or 'canary analysis failed'}{checks}",
                           (("phase", fs.phase), ("threshold", str(fs.threshold)))
                           + ((("failed checks", str(fs.failed_checks)),) if fs.failed_checks else ())
                           + ((("event", events_text),) if events_text else ()),
                           (ref,)))
    elif fs.failed_checks > 0 and fs.phase not in DONE_PHASES:
        left = fs.threshold - fs.failed_checks
        sev = "warning" if left <= 1 else "info"
        out.append(Finding("failed-checks-near-threshold", sev, CANARY,
                           f"{progress.name}: {fs.checks_text}; "
                           + ("the next failed check rolls it back" if left <= 1 else f"{left} more roll it back"),
                           (("failed checks", str(fs.failed_checks)), ("threshold", str(fs.threshold)),
                            ("phase", fs.phase)) + ((("last check", events_text),) if events_text else ()), (ref,)))
    return out


def last_event_text(canary: dict, events: Iterable[dict], classes: tuple[str, ...]) -> str:
    """The newest Flagger event message of one of `classes` for this Canary ("" when none)."""
    from tui.rollout.events import event_time

    name = _meta(canary).get("name")
    best: tuple[float, str] | None = None
    for ev in events:
        inv = ev.get("involvedObject") or ev.get("regarding") or {}
        if not is_flagger_event(ev) or inv.get("name") != name:
            continue
        msg = clean_line(str(ev.get("message") or ev.get("note") or ""))
        cls = classify_message(msg)
        if cls is None or cls[0] not in classes:
            continue
        t = event_time(ev) or 0.0
        if best is None or t >= best[0]:
            best = (t, msg)
    return best[1] if best else ""


# a Flagger phase's health, for the overview's symbol (the strip's vocabulary, PHASE_SYMBOL)
PHASE_HEALTH = {"Initializing": "progressing", "Initialized": "healthy", "Waiting": "paused",
                "Progressing": "progressing", "WaitingPromotion": "paused", "Promoting": "progressing",
                "Finalising": "progressing", "Succeeded": "healthy", "Failed": "aborted",
                "Terminating": "scaled-down", "Terminated": "scaled-down"}


def candidate(canary: dict, deployments: Sequence[dict]):
    """The picker's and `status -A`'s line for a Flagger rollout, as `kubectl get canaries` shows it: KIND Canary,
    the Canary's phase and weight (and iterations under blue/green or A/B testing), ready/desired of both
    Deployments, which it joins. Picking it watches both (a Label target over `NAME` and `NAME-primary`)."""
    from tui.rollout.target import Candidate

    ns = _meta(canary).get("namespace", "")
    ready = desired = 0
    for n in member_names(canary):
        d = _deployment(deployments, ns, n)
        if d is not None:
            ready += _int((d.get("status") or {}).get("readyReplicas"))
            desired += _int((d.get("spec") or {}).get("replicas", 1), 1)
    fs, strat = flagger_status(canary), strategy(canary)
    step = f"{fs.iterations}/{fs.iterations_total}" if strat != "canary" and fs.iterations_total \
        and fs.phase not in DONE_PHASES else ""
    return Candidate("Label", _meta(canary).get("name", ""), ns, selector(canary, deployments), strat,
                     f"{ready}/{desired}", fs.phase, tuple(sorted(member_names(canary))), step=step,
                     weight=str(fs.canary_weight) if strat == "canary" else "",
                     health=PHASE_HEALTH.get(fs.phase, "unknown"), shown_kind="Canary")


def step_key(canary: dict) -> object:
    """What changes when Flagger moves to its next step (tui.rollout.progress.StepClock)."""
    st = canary.get("status") or {}
    return (st.get("lastAppliedSpec"), st.get("phase"), st.get("canaryWeight"), st.get("iterations"))
