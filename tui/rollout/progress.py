"""A rollout's progress as the controller reports it: step N of M, pause, weights, revisions, replicas, analysis.

Plain data from the Rollout's (or Deployment's) own status, its ReplicaSets and its AnalysisRuns, for the rollout
strip (widgets/progress.py), the assessment's analysis and pause findings (tui/assessment.py) and
`lookout status --json`. It judges nothing: the assessment does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from tui.rollout.pods import parse_time
from tui.rollout.target import owned_replicasets
from tui.textsafe import clean_ident, clean_line

DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4  # Argo Rollouts' default

# One vocabulary with the health matrix (tui.rollout.health): ✓ healthy, ! degraded, ✗ critical, … pending.
PHASE_SYMBOL = {"Healthy": "✓", "Progressing": "…", "Paused": "‖", "Degraded": "!", "Aborted": "✗",
                "ScaledDown": "-", "Unknown": "?"}


@dataclass(frozen=True)
class Step:
    index: int  # 0-based
    kind: str  # setWeight | pause | analysis | experiment | setCanaryScale | setHeaderRoute | ...
    text: str  # "setWeight 20%", "pause 90s", "pause (until promoted)", "analysis error-rate"
    state: str  # done | current | pending
    duration_s: float | None = None  # pause steps with a duration


@dataclass(frozen=True)
class Revision:
    revision: str  # "3"
    hash: str | None
    role: str  # stable | canary | active | preview | old
    replicasets: tuple[str, ...]
    images: tuple[str, ...]
    desired: int = 0
    ready: int = 0
    available: int = 0


@dataclass(frozen=True)
class MetricRun:
    """One metric of an AnalysisRun: what it measured against what it must meet, and its counts."""

    name: str
    phase: str  # Successful | Failed | Inconclusive | Error | Running | Pending
    values: tuple[str, ...]  # the last measured values, oldest first
    success_condition: str | None
    failure_condition: str | None
    count: int
    successful: int
    failed: int
    inconclusive: int
    error: int
    consecutive_error: int
    failure_limit: int
    inconclusive_limit: int
    consecutive_error_limit: int

    def counts_text(self) -> str:
        """`failed 3 > failureLimit 2`-style counts, as Argo's own messages put them."""
        parts = [f"failed {self.failed}{' > ' if self.failed > self.failure_limit else ' ≤ '}"
                 f"failureLimit {self.failure_limit}"]
        if self.inconclusive:
            op = " > " if self.inconclusive > self.inconclusive_limit else " ≤ "
            parts.append(f"inconclusive {self.inconclusive}{op}inconclusiveLimit {self.inconclusive_limit}")
        if self.error or self.consecutive_error:
            parts.append(f"consecutive errors {self.consecutive_error}"
                         f"{' > ' if self.consecutive_error > self.consecutive_error_limit else ' ≤ '}"
                         f"consecutiveErrorLimit {self.consecutive_error_limit}")
        return ", ".join(parts)

    def condition_text(self) -> str:
        if self.success_condition and self.failure_condition:
            return f"success {self.success_condition}, failure {self.failure_condition}"
        if self.success_condition:
            return self.success_condition
        if self.failure_condition:
            return f"failure {self.failure_condition}"
        return "no condition"

    def text(self) -> str:
        vals = " ".join(self.values) if self.values else "no value yet"
        return f"{self.name} {vals} vs {self.condition_text()} ({self.counts_text()})"


@dataclass(frozen=True)
class AnalysisView:
    name: str
    phase: str  # Pending | Running | Successful | Failed | Error | Inconclusive
    message: str
    created: str
    metrics: tuple[MetricRun, ...]


@dataclass(frozen=True)
class Progress:
    controller: str  # "Argo Rollouts" | "Deployment"
    kind: str
    name: str
    strategy: str  # canary | bluegreen | rolling | recreate
    phase: str  # the controller's own word
    symbol: str
    step_index: int | None = None  # 0-based index of the current step (= step_count when done)
    step_count: int | None = None
    steps: tuple[Step, ...] = ()
    pause: str = ""  # "pause 90s · 41s left" | "waiting for promotion" | "paused by hand" | ""
    pause_kind: str = ""  # step | promotion | hand | inconclusive | ""
    pause_left_s: float | None = None  # negative when past its duration
    paused_since: float | None = None
    desired_weight: int | None = None
    actual_weight: int | None = None
    complete: bool = False  # the update reached its last step and the new revision is stable
    revisions: tuple[Revision, ...] = ()
    desired: int = 0
    current: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    step_for_s: float | None = None  # how long the current step has lasted
    roles: str = ""  # "active green · preview blue"
    analyses: tuple[AnalysisView, ...] = ()
    flagger: object | None = None  # tui.rollout.flagger.FlaggerStatus: a Flagger Canary's own status
    # a CRD followed through a config mapping (tui.rollout.custom): its mapped health, switch progress, conditions
    health: str = ""  # healthy | progressing | paused | degraded | aborted | unknown; "" for Argo / Deployments
    switch_progress: int | None = None  # percent of a blue/green switch done
    conditions: tuple[str, ...] = ()  # "Type=Status Reason: message", the ones not True first
    message: str = ""  # what the mapped CRD says of its state (its message path, else its first condition)
    failing: tuple[str, ...] = ()  # its `must_hold` conditions that are False, as `Type=False Reason: message`

    @property
    def step_text(self) -> str | None:
        if not self.step_count:
            return None
        if self.complete or (self.step_index is not None and self.step_index >= self.step_count):
            return f"{self.step_count}/{self.step_count} done"
        return f"{(self.step_index or 0) + 1}/{self.step_count}"

    @property
    def analysis(self) -> AnalysisView | None:
        """The newest AnalysisRun (the one that decides the current step or revision)."""
        return self.analyses[-1] if self.analyses else None


def _int(v, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _meta(o: dict | None) -> dict:
    return (o or {}).get("metadata") or {}


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(v) -> float | None:
    """Argo's pause duration: an int (seconds) or "30s", "5m", "1h30m"."""
    if v is None or v == "":
        return None
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip()
    if s.isdigit():
        return float(s)
    total, pos = 0.0, 0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            return None
        n, unit = float(m.group(1)), m.group(2)
        total += n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
        pos = m.end()
    return total if pos == len(s) and pos else None


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(abs(s)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s % 60 else f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _step_text(step: dict) -> tuple[str, str, float | None]:
    if not isinstance(step, dict) or not step:
        return "step", "step", None
    kind = next(iter(step))
    v = step[kind]
    if kind == "setWeight":
        return kind, f"setWeight {clean_line(str(v))}%", None
    if kind == "pause":
        dur = parse_duration((v or {}).get("duration") if isinstance(v, dict) else None)
        return kind, (f"pause {fmt_seconds(dur)}" if dur is not None else "pause (until promoted)"), dur
    if kind == "analysis":
        names = [clean_line(str(t.get("templateName") or "")) for t in (v or {}).get("templates") or ()
                 if isinstance(t, dict)]
        return kind, "analysis " + (", ".join(n for n in names if n) or "run"), None
    if kind == "experiment":
        return kind, f"experiment {fmt_seconds(parse_duration((v or {}).get('duration')))}" \
            if isinstance(v, dict) and v.get("duration") else "experiment", None
    if kind == "setCanaryScale":
        if isinstance(v, dict) and "weight" in v:
            return kind, f"setCanaryScale {clean_line(str(v['weight']))}%", None
        if isinstance(v, dict) and "replicas" in v:
            return kind, f"setCanaryScale {clean_line(str(v['replicas']))} pods", None
        return kind, "setCanaryScale", None
    return clean_ident(str(kind)), clean_ident(str(kind)), None


_FLOAT = re.compile(r"-?\d+\.\d{5,}(?:[eE][-+]?\d+)?")


def short_value(value: str) -> str:
    """A measured value as Argo stores it (the query's result as text, `[0.08999871829134869]`) with each long
    float cut to 4 significant digits (`[0.09]`), so the 80-column strip shows the number, not its noise."""
    return _FLOAT.sub(lambda m: f"{float(m.group()):.4g}", value)


def analysis_views(runs: Iterable[dict]) -> tuple[AnalysisView, ...]:
    """AnalysisRuns oldest first, each metric's values against its conditions and its counts against its limits."""
    out = []
    for r in sorted(runs, key=lambda r: (_meta(r).get("creationTimestamp") or "", _meta(r).get("name") or "")):
        spec_metrics = {m.get("name"): m for m in (r.get("spec") or {}).get("metrics") or () if isinstance(m, dict)}
        st = r.get("status") or {}
        metrics = []
        results = [m for m in st.get("metricResults") or () if isinstance(m, dict)]
        seen = {m.get("name") for m in results}
        results += [{"name": n, "phase": "Pending"} for n in spec_metrics if n not in seen]
        for mr in results:
            sm = spec_metrics.get(mr.get("name")) or {}
            vals = tuple(short_value(clean_line(str(m.get("value")))) for m in mr.get("measurements") or ()
                         if isinstance(m, dict) and m.get("value") is not None)[-5:]
            metrics.append(MetricRun(
                clean_line(str(mr.get("name") or "metric")), clean_line(str(mr.get("phase") or "Pending")), vals,
                clean_line(str(sm["successCondition"])) if sm.get("successCondition") else None,
                clean_line(str(sm["failureCondition"])) if sm.get("failureCondition") else None,
                _int(mr.get("count")), _int(mr.get("successful")), _int(mr.get("failed")),
                _int(mr.get("inconclusive")), _int(mr.get("error")), _int(mr.get("consecutiveError")),
                _int(sm.get("failureLimit")), _int(sm.get("inconclusiveLimit")),
                _int(sm.get("consecutiveErrorLimit"), DEFAULT_CONSECUTIVE_ERROR_LIMIT)
                if sm.get("consecutiveErrorLimit") is not None else DEFAULT_CONSECUTIVE_ERROR_LIMIT))
        out.append(AnalysisView(clean_ident(_meta(r).get("name", "")), clean_line(str(st.get("phase") or "Pending")),
                                clean_line(str(st.get("message") or "")), _meta(r).get("creationTimestamp") or "",
                                tuple(metrics)))
    return tuple(out)


def _images(obj: dict) -> tuple[str, ...]:
    cs = ((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or ()
    return tuple(clean_line(str(c.get("image") or "")) for c in cs if isinstance(c, dict))


def _revisions(workload: dict, replicasets: Iterable[dict], hash_label: str, rev_annotation: str,
               roles: dict[str, str]) -> tuple[Revision, ...]:
    out = []
    for rs in owned_replicasets(workload, replicasets):
        rm, st = _meta(rs), rs.get("status") or {}
        h = (rm.get("labels") or {}).get(hash_label)
        desired = _int((rs.get("spec") or {}).get("replicas"))
        role = roles.get(h or "", "old")
        if role == "old" and not desired and not _int(st.get("replicas")):
            continue  # a scaled-down old revision: history, not the rollout's present
        out.append(Revision(clean_line(str((rm.get("annotations") or {}).get(rev_annotation) or "?")), h, role,
                            (clean_ident(rm.get("name", "")),), _images(rs), desired,
                            _int(st.get("readyReplicas")), _int(st.get("availableReplicas"))))
    out.sort(key=lambda r: -_int(r.revision, -1))
    return tuple(out)


def _colour(pods_labels: Iterable[dict], h: str | None, hash_label: str) -> str | None:
    for labels in pods_labels:
        if labels.get(hash_label) == h:
            for k in ("environment", "color", "colour", "slot"):
                if labels.get(k):
                    return clean_ident(labels[k])
    return None


def rollout_progress(kind: str | None, workload: dict | None, replicasets: Sequence[dict] = (),
                     analysis_runs: Sequence[dict] = (), *, now: float,
                     step_for_s: float | None = None) -> Progress | None:
    """The strip's data for an Argo Rollout or a Deployment; None for pods selected by label."""
    if not workload or kind not in ("Rollout", "Deployment"):
        return None
    spec, st, meta = workload.get("spec") or {}, workload.get("status") or {}, _meta(workload)
    desired = _int(spec.get("replicas", 1), 1)
    counts = dict(desired=desired, current=_int(st.get("replicas")), updated=_int(st.get("updatedReplicas")),
                  ready=_int(st.get("readyReplicas")), available=_int(st.get("availableReplicas")))
    name = clean_ident(meta.get("name", ""))
    if kind == "Deployment":
        from tui.rollout.target import Target, rollout_summary

        summ = rollout_summary(Target("Deployment", meta.get("name", ""), meta.get("namespace", ""), ""), workload,
                               replicasets)
        roles = {}
        if summ.stable_hash:
            roles[summ.stable_hash] = "stable"
        if summ.canary_hash:
            roles[summ.canary_hash] = "new"
        revs = _revisions(workload, replicasets, "pod-template-hash", "deployment.kubernetes.io/revision", roles)
        strategy = "recreate" if (spec.get("strategy") or {}).get("type") == "Recreate" else "rolling"
        pause = "paused by hand" if spec.get("paused") else ""
        return Progress("Deployment", "Deployment", name, strategy, summ.phase, PHASE_SYMBOL.get(summ.phase, "?"),
                        pause=pause, pause_kind="hand" if pause else "", complete=summ.phase == "Healthy",
                        revisions=revs, step_for_s=step_for_s, **counts)

    strat = spec.get("strategy") or {}
    canary, bg = strat.get("canary"), strat.get("blueGreen")
    strategy = "bluegreen" if bg is not None else "canary"
    phase = clean_line(str(st.get("phase") or ("Paused" if st.get("pauseConditions") or spec.get("paused")
                                               else "Progressing")))
    if st.get("abort") and phase == "Degraded":
        phase = "Aborted"
    current, stable = st.get("currentPodHash"), st.get("stableRS")
    complete = bool(current) and current == stable
    roles: dict[str, str] = {}
    if bg is not None:
        bgs = st.get("blueGreen") or {}
        if bgs.get("previewSelector"):
            roles[bgs["previewSelector"]] = "preview"
        if bgs.get("activeSelector"):
            roles[bgs["activeSelector"]] = "active"
    else:
        if current:
            roles[current] = "canary"
        if stable:
            roles[stable] = "stable"
    revs = _revisions(workload, replicasets, "rollouts-pod-template-hash", "rollout.argoproj.io/revision", roles)

    steps_spec = list((canary or {}).get("steps") or ())
    idx = st.get("currentStepIndex")
    idx = _int(idx) if idx is not None else None
    steps = []
    for i, s in enumerate(steps_spec):
        k, text, dur = _step_text(s)
        state = "done" if (idx is not None and i < idx) or complete else ("current" if i == idx else "pending")
        steps.append(Step(i, k, text, state, dur))

    # pause: a step's timed pause, a promotion awaited, an inconclusive analysis, or by hand
    pcs = [p for p in st.get("pauseConditions") or () if isinstance(p, dict)]
    pause, pause_kind, left, since = "", "", None, None
    if pcs:
        p = pcs[0]
        reason = str(p.get("reason") or "")
        started = parse_time(p.get("startTime"))
        since = started
        if reason == "CanaryPauseStep" and idx is not None and idx < len(steps) and steps[idx].kind == "pause":
            dur = steps[idx].duration_s
            if dur is None:
                pause, pause_kind = "waiting for promotion", "promotion"
            else:
                pause_kind = "step"
                left = dur - (now - started) if started is not None else None
                pause = (f"pause {fmt_seconds(dur)} · {fmt_seconds(left)} left" if left is not None and left >= 0
                         else f"pause {fmt_seconds(dur)} · {fmt_seconds(left)} past its duration" if left is not None
                         else f"pause {fmt_seconds(dur)}")
        elif reason == "BlueGreenPause":
            auto_s = (bg or {}).get("autoPromotionSeconds")
            if (bg or {}).get("autoPromotionEnabled", True) is False or auto_s is None:
                pause, pause_kind = "waiting for promotion", "promotion"
            else:
                pause_kind = "step"
                left = float(auto_s) - (now - started) if started is not None else None
                pause = f"auto-promotion in {fmt_seconds(left)}" if left is not None and left >= 0 else \
                    "auto-promotion overdue"
        elif reason == "InconclusiveAnalysisRun":
            pause, pause_kind = "paused: analysis inconclusive", "inconclusive"
        else:
            pause, pause_kind = f"paused ({clean_line(reason) or 'no reason given'})", "hand"
    elif spec.get("paused"):
        pause, pause_kind = "paused by hand", "hand"

    desired_w = actual_w = None
    if canary is not None:
        if complete:
            desired_w = actual_w = 100  # the new revision is the stable one: it has all of it
        elif st.get("abort"):
            desired_w, actual_w = 0, _weight(st)
        else:
            desired_w = 100 if idx is not None and idx >= len(steps_spec) else next(
                (_int(s["setWeight"]) for s in reversed(steps_spec[: (idx or 0) + 1])
                 if isinstance(s, dict) and "setWeight" in s), 0)
            actual_w = _weight(st)
            if actual_w is None:
                actual_w = desired_w
    role_text = ""
    if bg is not None:
        hash_label = "rollouts-pod-template-hash"
        labels = [{**((((rs.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}),
                   hash_label: (_meta(rs).get("labels") or {}).get(hash_label)}
                  for rs in owned_replicasets(workload, replicasets)]
        bgs = st.get("blueGreen") or {}
        a, pv = bgs.get("activeSelector"), bgs.get("previewSelector")
        an = _colour(labels, a, "rollouts-pod-template-hash") or (clean_ident(a) if a else "?")
        role_text = f"active {an}"
        if pv and pv != a:
            role_text += f" · preview {_colour(labels, pv, 'rollouts-pod-template-hash') or clean_ident(pv)}"
    elif revs and not complete and current and stable:
        role_text = "stable · canary"
    if since is not None:
        step_for_s = max(0.0, now - since)  # the controller's own start of the pause beats our first sight
    return Progress("Argo Rollouts", "Rollout", name, strategy, phase, PHASE_SYMBOL.get(phase, "?"),
                    idx, len(steps_spec) if canary is not None and steps_spec else None, tuple(steps), pause,
                    pause_kind, left, since, desired_w, actual_w, complete, revs, step_for_s=step_for_s,
                    roles=role_text, analyses=analysis_views(analysis_runs), **counts)


def _weight(st: dict) -> int | None:
    w = (((st.get("canary") or {}).get("weights") or {}).get("canary") or {}).get("weight")
    return None if w is None else _int(w)


class StepClock:
    """How long the current step has lasted: from when this Lookout first saw it (the controller keeps no
    start time for a setWeight step; a pause's own startTime is used when there is one)."""

    def __init__(self) -> None:
        self._key: object = None
        self._since: float | None = None

    def observe(self, key: object, now: float) -> float:
        if key != self._key:
            self._key, self._since = key, now
        return now - (self._since if self._since is not None else now)


def step_key(workload: dict | None) -> object:
    st = (workload or {}).get("status") or {}
    return (st.get("currentPodHash") or _meta(workload).get("generation"), st.get("currentStepIndex"),
            bool(st.get("pauseConditions")))


def group_progress(name: str, deployments: Sequence[dict], track_of) -> Progress | None:
    """A manual rollout's strip (Deployments joined by an app label, no controller over them): each Deployment
    with its track, images and replicas, the phase the worst of theirs. `track_of(labels)` names a track."""
    from tui.rollout.target import PHASE_RANK, _workload_phase

    if not deployments:
        return None
    revs, phases = [], []
    tot = dict(desired=0, current=0, updated=0, ready=0, available=0)
    for d in sorted(deployments, key=lambda d: _meta(d).get("name", "")):
        spec, st, m = d.get("spec") or {}, d.get("status") or {}, _meta(d)
        labels = (((spec.get("template") or {}).get("metadata")) or {}).get("labels") or {}
        desired = _int(spec.get("replicas", 1), 1)
        tot["desired"] += desired
        tot["current"] += _int(st.get("replicas"))
        tot["updated"] += _int(st.get("updatedReplicas"))
        tot["ready"] += _int(st.get("readyReplicas"))
        tot["available"] += _int(st.get("availableReplicas"))
        phases.append(_workload_phase("Deployment", d))
        revs.append(Revision(clean_line(str((m.get("annotations") or {}).get("deployment.kubernetes.io/revision")
                                            or "?")), None, clean_ident(str(track_of(labels) or "-")),
                             (clean_ident(m.get("name", "")),), _images(d), desired, _int(st.get("readyReplicas")),
                             _int(st.get("availableReplicas"))))
    live = [p for p in phases if p != "ScaledDown"] or phases
    phase = min(live, key=lambda p: PHASE_RANK.get(p, 3))
    tracks = {r.role for r in revs}
    strategy = "bluegreen" if tracks & {"blue", "green", "active", "preview"} else "canary"
    return Progress("Deployments", "Label", clean_ident(name), strategy, phase, PHASE_SYMBOL.get(phase, "?"),
                    complete=False, revisions=tuple(revs), **tot)
