"""Findings: every diagnosis Lookout makes, in one shape, and the debounce that keeps them from flapping."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping

from tui.rollout.pods import parse_time
from tui.rollout.target import Target, parse_selector, workload_of
from tui.rollout.tracks import TrackResolver, track_sort_key
from tui.textsafe import clean_line

SEVERITIES = ("critical", "warning", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}

Evidence = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Finding:
    """One diagnosis. `code` is stable (tests, docs and runbooks refer to it); `summary` is one sentence;
    `evidence` is (label, value) pairs in reading order; `objects` are "Kind/name" of what it rests on.

    `since` and `holding` are filled in by FindingTracker: when the condition started holding, and
    whether it still holds (False while a cleared condition waits out `clear_after`).
    """

    code: str
    severity: str  # "critical" | "warning" | "info"
    track: str | None
    summary: str
    evidence: Evidence = ()
    objects: tuple[str, ...] = ()
    since: float | None = field(default=None, compare=False)
    holding: bool = field(default=True, compare=False)

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.code, self.track)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by track order, then code."""
    return sorted(findings, key=lambda f: (SEVERITY_RANK.get(f.severity, len(SEVERITIES)),
                                           track_sort_key(f.track), f.code))


# ---- debounce ------------------------------------------------------------------------------------


@dataclass
class _Held:
    first: float  # first update in which the condition held
    gone: float | None  # first update in which it no longer held, None while it holds
    finding: Finding
    shown: bool = False


class FindingTracker:
    """Debounce raw findings (seed 003: health-check false positives, alert fatigue).

    A condition (identified by code and track) is shown only once it has held in every update for
    `raise_after` seconds; a shown one stays until it has not held for `clear_after` seconds. A
    condition that goes away before it is shown starts from zero next time.
    """

    def __init__(self, raise_after: float = 5.0, clear_after: float = 30.0, clock: Callable[[], float] = time.time,
                 fast_clear: Iterable[str] = (), fast_clear_after: float = 2.0):
        self.raise_after = raise_after
        self.clear_after = clear_after
        self.fast_clear = frozenset(fast_clear)  # codes that clear after `fast_clear_after` instead
        self.fast_clear_after = fast_clear_after
        self.clock = clock
        self._held: dict[tuple[str, str | None], _Held] = {}
        self._current: list[Finding] = []

    def update(self, raw: Iterable[Finding], now: float | None = None) -> list[Finding]:
        now = self.clock() if now is None else now
        seen = set()
        for f in raw:
            k = f.key
            seen.add(k)
            h = self._held.get(k)
            if h is None:
                self._held[k] = h = _Held(now, None, f)
            h.finding, h.gone = f, None
        for k in list(self._held):
            h = self._held[k]
            if k not in seen:
                if h.gone is None:
                    h.gone = now
                wait = self.fast_clear_after if k[0] in self.fast_clear else self.clear_after
                if not h.shown or now - h.gone >= wait:
                    del self._held[k]
                    continue
            if not h.shown and now - h.first >= self.raise_after:
                h.shown = True
        self._current = sort_findings(
            replace(h.finding, since=h.first, holding=h.gone is None) for h in self._held.values() if h.shown)
        return self._current

    @property
    def current(self) -> list[Finding]:
        return list(self._current)

    def reset(self) -> None:
        """Forget everything (the user switched rollout or namespace)."""
        self._held.clear()
        self._current = []


# ---- memory the rules need between evaluations ---------------------------------------------------


class FindingHistory:
    """What the rules remember between evaluations: per-pod restart counts (to see restarts rising
    per track) and the workload's last progress (to tell a rollout in progress from a stalled one)."""

    def __init__(self, restart_window: float = 600.0, stall_after: float = 60.0, max_pods: int = 50_000):
        self.restart_window = restart_window
        self.stall_after = stall_after
        self.max_pods = max_pods
        self._restarts: dict[str, int] = {}
        self._rises: deque[tuple[float, str | None, str, int]] = deque(maxlen=10_000)
        self._progress: tuple | None = None
        self._progress_since: float | None = None

    def observe_restarts(self, pods: Iterable[tuple[dict, str | None]], now: float) -> None:
        seen: dict[str, int] = {}
        for pod, track in pods:
            meta = pod.get("metadata") or {}
            key = meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}"
            statuses = (pod.get("status") or {}).get("containerStatuses") or ()
            n = sum(cs.get("restartCount", 0) for cs in statuses)
            seen[key] = n
            prev = self._restarts.get(key)
            if prev is None:
                # First sight: count a restart only if the last one finished inside the window.
                if n and any(now - (parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")) or -1e18)
                             < self.restart_window for cs in statuses):
                    self._rises.append((now, track, meta.get("name", ""), 1))
            elif n > prev:
                self._rises.append((now, track, meta.get("name", ""), n - prev))
        self._restarts = seen if len(seen) <= self.max_pods else dict(list(seen.items())[: self.max_pods])
        while self._rises and now - self._rises[0][0] > self.restart_window:
            self._rises.popleft()

    def restart_rises(self, now: float) -> dict[str | None, dict[str, int]]:
        """{track: {pod name: restarts}} within the window."""
        out: dict[str | None, dict[str, int]] = {}
        for t, track, pod, d in self._rises:
            if now - t <= self.restart_window:
                per = out.setdefault(track, {})
                per[pod] = per.get(pod, 0) + d
        return out

    def observe_progress(self, signature: tuple, now: float) -> float:
        """Seconds since the workload's progress signature last changed."""
        if signature != self._progress or self._progress_since is None:
            self._progress, self._progress_since = signature, now
        return now - self._progress_since

    def reset(self) -> None:
        self._restarts.clear()
        self._rises.clear()
        self._progress = self._progress_since = None


# ---- pod diagnosis -------------------------------------------------------------------------------

FAILING_WAITING = frozenset({
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName",
    "CreateContainerError", "RunContainerError", "ErrImageNeverPull",
})


def termination_text(term: Mapping | None) -> str:
    """"Error, exit code 1, at 2024-05-01T10:00:00Z" for a containerStateTerminated."""
    if not term:
        return ""
    parts = [clean_line(term.get("reason") or "terminated")]
    if term.get("signal"):
        parts.append(f"signal {term['signal']}")
    parts.append(f"exit code {term.get('exitCode', '?')}")
    if term.get("finishedAt"):
        parts.append(f"at {clean_line(str(term['finishedAt']))}")
    return ", ".join(parts)


@dataclass(frozen=True)
class PodFailure:
    pod: str
    container: str  # "" for pod-level failures (Evicted, Unschedulable)
    reason: str
    message: str
    last_termination: str
    exit_code: int | None = None


def _recent(ts: str | None, now: float, window: float) -> bool:
    t = parse_time(ts)
    return t is not None and now - t <= window


def pod_failure(pod: dict, now: float, window: float = 600.0) -> PodFailure | None:
    """Why `pod` is failing, or None. Terminating pods are never failing: they are on their way out."""
    meta, st = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return None
    statuses = st.get("containerStatuses") or ()
    if st.get("phase") == "Running" and statuses and not st.get("initContainerStatuses") and all(
            cs.get("ready") and not cs.get("restartCount") for cs in statuses):
        return None  # the steady state of almost every pod: decided in a few lookups
    name = meta.get("name", "")
    if st.get("reason") == "Evicted":
        return PodFailure(name, "", "Evicted", clean_line(st.get("message") or ""), "")
    if st.get("phase") == "Pending":
        for c in st.get("conditions") or ():
            if c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable":
                return PodFailure(name, "", "Unschedulable", clean_line(c.get("message") or ""), "")
    succeeded = st.get("phase") == "Succeeded"
    for cs in (st.get("initContainerStatuses") or []) + list(statuses):
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated")
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in FAILING_WAITING:
            return PodFailure(name, cs.get("name", ""), waiting["reason"], clean_line(waiting.get("message") or ""),
                              termination_text(last), (last or {}).get("exitCode"))
        term = state.get("terminated")
        if term and not succeeded and (term.get("exitCode", 0) != 0 or term.get("reason") == "OOMKilled"):
            return PodFailure(name, cs.get("name", ""), term.get("reason") or f"exit code {term.get('exitCode')}",
                              clean_line(term.get("message") or ""), termination_text(term), term.get("exitCode"))
        if last and (last.get("exitCode", 0) != 0 or last.get("reason") == "OOMKilled") and \
                _recent(last.get("finishedAt"), now, window):
            reason = "OOMKilled" if last.get("reason") == "OOMKilled" else (last.get("reason") or "Error")
            return PodFailure(name, cs.get("name", ""), reason, clean_line(last.get("message") or ""),
                              termination_text(last), last.get("exitCode"))
    if st.get("phase") == "Failed":
        return PodFailure(name, "", clean_line(st.get("reason") or "Failed"), clean_line(st.get("message") or ""), "")
    return None


def _ready(st: dict) -> bool:
    for c in st.get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    statuses = st.get("containerStatuses") or ()
    return bool(statuses) and all(cs.get("ready") for cs in statuses)


def _started(st: dict) -> float | None:
    ts = [parse_time(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
          for cs in st.get("containerStatuses") or ()]
    ts = [t for t in ts if t is not None]
    return max(ts) if ts else parse_time(st.get("startTime"))


def _store_kind(store, kind: str) -> Iterable[dict]:
    objs = store.objects.get(kind, {}) if hasattr(store, "objects") else store.get(kind, {})
    return objs.values()


def _track_word(track: str | None) -> str:
    return f"{track} " if track else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ---- the rules -----------------------------------------------------------------------------------


def rule_pods_failing(by_track: Mapping[str | None, list[dict]], now: float, window: float = 600.0) -> list[Finding]:
    out = []
    for track, pods in by_track.items():
        fails = [f for f in (pod_failure(p, now, window) for p in pods) if f is not None]
        if not fails:
            continue
        fails.sort(key=lambda f: f.pod)
        first = fails[0]
        where = f"container {first.container} of {first.pod}" if first.container else first.pod
        # the cause first: a narrow strip cuts the end of the line, never the reason
        cause = first.reason
        if first.exit_code is not None and first.reason not in ("Evicted",):
            cause += f" (exit code {first.exit_code})"
        verb = "is" if len(fails) == 1 else "are"
        summary = (f"{cause} in {where}: {len(fails)} of {_plural(len(pods), _track_word(track) + 'pod')} "
                   f"{verb} failing.")
        ev: list[tuple[str, str]] = [("pod", first.pod)]
        if first.container:
            ev.append(("container", first.container))
        ev.append(("reason", first.reason))
        if first.message:
            ev.append(("message", first.message))
        if first.last_termination:
            ev.append(("last termination", first.last_termination))
        if first.exit_code is not None:
            ev.append(("exit code", str(first.exit_code)))
        for f in fails[1:6]:
            ev.append(("also", f"{f.pod}: {f.reason}" + (f" in {f.container}" if f.container else "")))
        if len(fails) > 6:
            ev.append(("also", f"and {len(fails) - 6} more pods"))
        out.append(Finding("track-pods-failing", "critical", track, summary, tuple(ev),
                           tuple(f"Pod/{f.pod}" for f in fails)))
    return out


def unhealthy_events(events: Iterable[dict]) -> dict[tuple[str, str], dict]:
    """The latest `Unhealthy` event per pod (namespace, name)."""
    from tui.rollout.events import event_time

    latest: dict[tuple[str, str], tuple[float, dict]] = {}
    for ev in events:
        if ev.get("reason") != "Unhealthy":
            continue
        obj = ev.get("involvedObject") or ev.get("regarding") or {}
        if obj.get("kind") not in (None, "Pod"):
            continue
        k = (obj.get("namespace") or (ev.get("metadata") or {}).get("namespace", ""), obj.get("name", ""))
        t = event_time(ev) or 0.0
        if k not in latest or t >= latest[k][0]:
            latest[k] = (t, ev)
    return {k: v for k, (_, v) in latest.items()}


def rule_pods_not_ready(by_track: Mapping[str | None, list[dict]], unhealthy: Mapping[tuple[str, str], dict],
                        now: float, grace: float = 15.0, window: float = 600.0) -> list[Finding]:
    out = []
    for track, pods in by_track.items():
        stuck = []
        for p in pods:
            meta, st = p.get("metadata") or {}, p.get("status") or {}
            if st.get("phase") != "Running" or meta.get("deletionTimestamp") or _ready(st):
                continue
            if pod_failure(p, now, window) is not None:
                continue  # reported as failing
            ev = unhealthy.get((meta.get("namespace", ""), meta.get("name", "")))
            started = _started(st)
            if ev is None and started is not None and now - started < grace:
                continue  # just started: probes have not had their chance yet
            stuck.append((p, ev))
        if not stuck:
            continue
        stuck.sort(key=lambda x: (x[1] is None, (x[0].get("metadata") or {}).get("name", "")))
        pod, ev = stuck[0]
        name = (pod.get("metadata") or {}).get("name", "")
        not_ready = [cs.get("name", "") for cs in (pod.get("status") or {}).get("containerStatuses") or ()
                     if not cs.get("ready")]
        probe = clean_line(ev.get("message") or ev.get("note") or "") if ev else ""
        verb = "is" if len(stuck) == 1 else "are"
        summary = f"{len(stuck)} of {_plural(len(pods), _track_word(track) + 'pod')} {verb} running but not ready"
        summary += f": {probe}" if probe else "."
        if probe and not summary.endswith("."):
            summary += "."
        evidence: list[tuple[str, str]] = [("pod", name)]
        if not_ready:
            evidence.append(("containers not ready", ", ".join(not_ready)))
        if probe:
            evidence.append(("probe", probe))
            if ev.get("count"):
                evidence.append(("times", str(ev.get("count"))))
        for p, _ in stuck[1:6]:
            evidence.append(("also", (p.get("metadata") or {}).get("name", "")))
        out.append(Finding("track-pods-not-ready", "warning", track, summary, tuple(evidence),
                           tuple(f"Pod/{(p.get('metadata') or {}).get('name', '')}" for p, _ in stuck)))
    return out


def rule_restarts(by_track: Mapping[str | None, list[dict]], history: FindingHistory, now: float) -> list[Finding]:
    tracks = [t for t, pods in by_track.items() if t is not None and pods]
    if len(tracks) < 2:
        return []  # "rising in one track and not the other" needs two tracks
    rises = history.restart_rises(now)
    rising = [t for t in tracks if sum((rises.get(t) or {}).values()) > 0]
    if len(rising) != 1:
        return []
    t = rising[0]
    others = [o for o in tracks if o != t]
    per_pod = rises[t]
    total = sum(per_pod.values())
    minutes = max(1, round(history.restart_window / 60))
    summary = (f"{_track_word(t)}pods restarted {_plural(total, 'time')} in the last {minutes} min; "
               f"{' and '.join(others)} pods did not restart.")
    ev = [(pod, f"+{n} restarts") for pod, n in sorted(per_pod.items(), key=lambda x: (-x[1], x[0]))[:6]]
    ev += [(f"{o} restarts", "0") for o in others]
    return [Finding("track-restarts", "warning", t, summary, tuple(ev), tuple(f"Pod/{p}" for p in sorted(per_pod)))]


def _int_or_none(v) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return None


def rule_not_observing(workload: dict | None, kind: str) -> list[Finding]:
    if not workload:
        return []
    meta, st = workload.get("metadata") or {}, workload.get("status") or {}
    name = meta.get("name", "")
    gen = _int_or_none(meta.get("generation"))
    raw = st.get("observedGeneration")
    obs = _int_or_none(raw)
    if gen is None:
        return []
    if not st:
        return [Finding("controller-not-observing", "info", None,
                        f"{kind} {name} has no status yet: its controller has not processed it"
                        + (" (is the Argo Rollouts controller running?)." if kind == "Rollout" else "."),
                        (("generation", str(gen)), ("observedGeneration", "none")), (f"{kind}/{name}",))]
    if obs is None or obs >= gen:
        return []  # Argo before v1.0 writes a hash here: nothing to compare
    return [Finding("controller-not-observing", "info", None,
                    f"The {kind} controller has not yet observed generation {gen} of {name} (it last saw {obs}); "
                    f"status may lag the spec.",
                    (("generation", str(gen)), ("observedGeneration", str(obs))), (f"{kind}/{name}",))]


def _condition(st: dict, type_: str) -> dict | None:
    for c in st.get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


def rule_stalled(workload: dict | None, kind: str, history: FindingHistory | None, now: float) -> list[Finding]:
    if not workload:
        return []
    meta, spec, st = workload.get("metadata") or {}, workload.get("spec") or {}, workload.get("status") or {}
    name = meta.get("name", "")
    obj = f"{kind}/{name}"
    desired = _int_or_none(spec.get("replicas"))
    desired = 1 if desired is None else desired
    updated = st.get("updatedReplicas") or 0
    available = st.get("availableReplicas") or 0
    total = st.get("replicas") or 0
    counts = (("desired", str(desired)), ("updated", str(updated)), ("available", str(available)),
              ("total", str(total)))

    progressing = _condition(st, "Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        msg = clean_line(progressing.get("message") or "")
        return [Finding("rollout-stalled", "critical", None,
                        f"{kind} {name} exceeded its progress deadline" + (f": {msg}" if msg else "."),
                        (("condition", "Progressing=False ProgressDeadlineExceeded"),) + (
                            (("message", msg),) if msg else ()) + counts, (obj,))]
    failure = _condition(st, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        msg = clean_line(failure.get("message") or "")
        return [Finding("rollout-stalled", "warning", None,
                        f"{kind} {name} cannot create replicas" + (f": {msg}" if msg else "."),
                        (("condition", f"ReplicaFailure {clean_line(failure.get('reason') or '')}".strip()),)
                        + ((("message", msg),) if msg else ()) + counts, (obj,))]
    if kind == "Rollout" and st.get("phase") == "Degraded":
        msg = clean_line(st.get("message") or "")
        return [Finding("rollout-stalled", "warning", None,
                        f"Rollout {name} is Degraded" + (f": {msg}" if msg else "."),
                        (("phase", "Degraded"),) + ((("message", msg),) if msg else ()) + counts, (obj,))]

    paused = bool(spec.get("paused")) or bool(st.get("pauseConditions"))
    mid_canary = False
    if kind == "Rollout":
        steps = ((spec.get("strategy") or {}).get("canary") or {}).get("steps")
        idx = _int_or_none(st.get("currentStepIndex"))
        mid_canary = bool(steps) and idx is not None and idx < len(steps)
    lag = []
    if not paused and not mid_canary:
        if updated < desired:
            lag.append(f"only {updated} of {desired} replicas updated")
        if available < updated:
            lag.append(f"{updated} updated but only {available} available")
        if total > updated:
            lag.append(f"{_plural(total - updated, 'old replica')} pending termination")
    elif available < min(updated, desired) and not paused:
        lag.append(f"{updated} updated but only {available} available")
    if history is None or not lag:
        if history is not None:
            history.observe_progress((), now)
        return []
    sig = (meta.get("generation"), updated, available, total, st.get("readyReplicas"), st.get("currentStepIndex"),
           st.get("currentPodHash"))
    still = history.observe_progress(sig, now)
    if still < history.stall_after:
        return []
    return [Finding("rollout-stalled", "warning", None,
                    f"{kind} {name} has made no progress for {int(still)} s: {'; '.join(lag)}.",
                    counts + (("no change for", f"{int(still)} s"),), (obj,))]


def tracks_of_pods(pods: Iterable[dict], resolver: TrackResolver) -> dict[str | None, list[dict]]:
    by: dict[str | None, list[dict]] = {}
    for p in pods:
        by.setdefault(resolver.track_of_pod(p), []).append(p)
    return by


def evaluate(store, resolver: TrackResolver, target: Target, now: float, history: FindingHistory | None = None,
             *, not_ready_grace: float = 15.0) -> list[Finding]:
    """Raw findings (not debounced) for `target` from the store's contents; feed them to FindingTracker.

    `history` carries restart counts and progress between calls; without it the restart rule is off
    and a rollout is only "stalled" on its own conditions (ProgressDeadlineExceeded, ReplicaFailure).
    """
    sel = parse_selector(target.selector)
    ns = target.namespace
    pods = [p for p in _store_kind(store, "pods")
            if (not ns or (p.get("metadata") or {}).get("namespace", "") == ns)
            and sel.matches((p.get("metadata") or {}).get("labels"))]
    by_track = tracks_of_pods(pods, resolver)
    window = history.restart_window if history else 600.0
    out = rule_pods_failing(by_track, now, window)
    out += rule_pods_not_ready(by_track, unhealthy_events(_store_kind(store, "events")), now, not_ready_grace, window)
    if history is not None:
        history.observe_restarts(((p, t) for t, ps in by_track.items() for p in ps), now)
        # A restart finding that names only pods already reported as failing adds nothing but noise.
        failing = {o for f in out if f.code == "track-pods-failing" for o in f.objects}
        out += [f for f in rule_restarts(by_track, history, now) if not set(f.objects) <= failing]
    workload = workload_of(store, target)
    observing = rule_not_observing(workload, target.kind)
    out += observing
    if not observing:  # a stale status says nothing about progress
        out += rule_stalled(workload, target.kind, history, now)
    out += rule_aborted(workload, target.kind)
    return sort_findings(out)


def rule_aborted(workload: dict | None, kind: str) -> list[Finding]:
    """`rollout-aborted`: the Rollout was aborted (by analysis or by hand): traffic went back to stable.

    After an abort no canary is left to judge, so the metrics verdict looks at stable alone; this finding
    keeps the abort itself on screen (and makes `lookout status` exit 1) until the rollout moves on."""
    if workload is None or kind != "Rollout":
        return []
    st = workload.get("status") or {}
    if not st.get("abort"):
        return []
    msg = clean_line(str(st.get("message") or ""))
    name = (workload.get("metadata") or {}).get("name", "")
    at = clean_line(str(st.get("abortedAt") or ""))
    evidence = [("status.abort", "true"), ("status.phase", clean_line(str(st.get("phase") or "")))]
    if msg:
        evidence.append(("status.message", msg))
    if at:
        evidence.append(("status.abortedAt", at))
    summary = f"Rollout {name} was aborted" + (f": {msg}" if msg else "") + "; traffic is back on stable."
    return [Finding("rollout-aborted", "critical", None, summary, tuple(evidence), (f"Rollout/{name}",))]


evaluate_findings = evaluate  # the name docs/CONTRACTS.md uses
