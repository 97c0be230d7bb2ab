"""The one assessment of a rollout: outcome, verdict, findings, health cells, staleness and exit code.

Computed here and nowhere else, from plain data (the store's workload, the pod rows, the debounced findings, the
metrics CompareState, the network view and the sources' health). The header, the health matrix, the findings
strip, the compare pane, the terminal title and bell, and `lookout status` (text and JSON) only render it, so
two views can never disagree. The rules that tie the parts together live in `assess` and are stated as tests
(tests/test_assessment*.py): a critical finding makes its cell critical and the exit code 1; `rollback` is never
beside an all-green matrix; an aborted rollout is never `promote`; a verdict from stale data is never `promote`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from tui.metrics.analysis import (NO_DATA_CODES, CompareState, Reason, TrackFigures, Verdict, fmt_duration,
                                  fmt_figure)
from tui.network.findings import CODES as NETWORK_CODES
from tui.rollout.findings import Finding, sort_findings
from tui.rollout.health import SYMBOLS, WORDS, HealthCell, cell, pods_health
from tui.rollout.roles import Roles
from tui.textsafe import clean_line

EXIT_OK, EXIT_BAD, EXIT_HOLD = 0, 1, 2

# ---- the health cells, and which cell each finding code belongs to ---------------------------------------

CELLS = ("pods", "rollout", "metrics", "endpoints", "DNS")

ROLLOUT_CODES = ("rollout-aborted", "rollout-stalled", "controller-not-observing", "environments-differ",
                 "analysis-failing", "analysis-inconclusive", "rollout-paused",
                 "awaiting-approval", "failed-checks-near-threshold",  # these two: Flagger (tui.rollout.flagger)
                 "controller-check-failing")  # a mapped CRD's must_hold condition False (tui.rollout.custom)
POD_CODES = ("track-pods-failing", "track-pods-not-ready", "track-restarts", "cpu-near-limit", "memory-near-limit",
             "memory-leak-suspected")
METRICS_CODES = NO_DATA_CODES + ("verdict-rollback", "source-stale")
DNS_CODES = tuple(c for c in NETWORK_CODES if c.startswith("dns"))
ENDPOINT_CODES = tuple(c for c in NETWORK_CODES if not c.startswith("dns"))
# a kind the API server refuses us (tui.rollout.forbidden): named in the cell its data would fill
FORBIDDEN_CELL = {"forbidden-pods": "pods", "forbidden-rollout": "rollout", "forbidden-endpoints": "endpoints",
                  "forbidden-events": "rollout"}

# Every finding code Lookout raises, and the one cell it makes worse (docs/status.md has the same table).
CELL_OF_CODE: dict[str, str] = {
    **{c: "pods" for c in POD_CODES},
    **{c: "rollout" for c in ROLLOUT_CODES},
    **{c: "metrics" for c in METRICS_CODES},
    **{c: "endpoints" for c in ENDPOINT_CODES},
    **{c: "DNS" for c in DNS_CODES},
    **FORBIDDEN_CELL,
}


def cell_of(code: str) -> str:
    """The health cell a finding code belongs to (unknown codes: the rollout cell, so they still count)."""
    return CELL_OF_CODE.get(code, "rollout")


LEVEL_RANK = {"critical": 0, "degraded": 1, "unknown": 2, "pending": 3, "healthy": 4}
SEVERITY_LEVEL = {"critical": "critical", "warning": "degraded"}

# ---- the controller's own outcome ------------------------------------------------------------------------

# What each controller's status means (docs/status.md "Outcome per controller" is the same table):
#   Argo Rollout   status.abort: true, or a RolloutAborted condition  -> aborted
#                  status.phase Degraded (no abort)                    -> degraded
#                  spec.paused / status.pauseConditions / Paused       -> paused
#                  status.phase Healthy                                -> healthy
#                  otherwise                                           -> progressing
#   Deployment     Progressing=False, reason ProgressDeadlineExceeded  -> failed
#                  spec.paused                                         -> paused
#                  updated = desired, old replicas gone, all available -> healthy
#                  otherwise                                           -> progressing
#   in-house CRD   its phase through [crds.<name>.phases] (tui.rollout.custom) -> that state
#   pods by label  (no controller object)                              -> unknown
OUTCOMES = ("progressing", "paused", "healthy", "degraded", "aborted", "failed", "unknown")


@dataclass(frozen=True)
class Outcome:
    state: str  # one of OUTCOMES
    controller: str  # argo-rollouts | deployment | labels | an in-house CRD's controller name, lower case
    message: str = ""
    revision: str | None = None  # changes with a retry or a new release


def _condition(status: Mapping, type_: str) -> dict | None:
    for c in status.get("conditions") or ():
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


def rollout_outcome(kind: str | None, workload: dict | None, summary=None) -> Outcome:
    """The controller's own verdict on its rollout, by the table above."""
    if kind == "Rollout":
        if not workload:
            return Outcome("unknown", "argo-rollouts", "the Rollout is not (yet) in the store")
        spec, st = workload.get("spec") or {}, workload.get("status") or {}
        revision = st.get("currentPodHash")
        aborted_cond = next((c for c in st.get("conditions") or () if isinstance(c, dict)
                             and c.get("reason") == "RolloutAborted" and c.get("status") in ("True", "False")
                             and c.get("type") in ("Progressing", "RolloutAborted")), None)
        msg = clean_line(str(st.get("message") or (aborted_cond or {}).get("message") or ""))
        if st.get("abort") or (aborted_cond is not None and not st.get("phase") == "Healthy"):
            return Outcome("aborted", "argo-rollouts", msg or "the Rollout was aborted", revision)
        phase = st.get("phase")
        if phase == "Degraded":
            return Outcome("degraded", "argo-rollouts", msg or "the Rollout is Degraded", revision)
        if not st:
            return Outcome("unknown", "argo-rollouts", "no status yet: is the Argo Rollouts controller running?",
                           revision)
        if spec.get("paused") or st.get("pauseConditions") or phase == "Paused":
            why = ", ".join(clean_line(str(p.get("reason") or "")) for p in st.get("pauseConditions") or ()
                            if isinstance(p, dict) and p.get("reason"))
            return Outcome("paused", "argo-rollouts", why or msg, revision)
        if phase == "Healthy":
            return Outcome("healthy", "argo-rollouts", msg, revision)
        return Outcome("progressing", "argo-rollouts", msg, revision)
    if kind == "Deployment":
        if not workload:
            return Outcome("unknown", "deployment", "the Deployment is not (yet) in the store")
        revision = (_meta(workload).get("annotations") or {}).get("deployment.kubernetes.io/revision")
        st = workload.get("status") or {}
        prog = _condition(st, "Progressing") or {}
        if prog.get("reason") == "ProgressDeadlineExceeded":
            return Outcome("failed", "deployment", clean_line(str(prog.get("message") or
                                                                   "progress deadline exceeded")), revision)
        if (workload.get("spec") or {}).get("paused"):
            return Outcome("paused", "deployment", "the Deployment is paused", revision)
        phase = getattr(summary, "phase", None)
        if phase == "Healthy":
            return Outcome("healthy", "deployment", "", revision)
        return Outcome("progressing", "deployment", clean_line(str(prog.get("message") or "")), revision)
    return Outcome("unknown", "labels", "pods selected by label: no controller to ask")


def _meta(o: dict | None) -> dict:
    return (o or {}).get("metadata") or {}


# ---- per-source staleness --------------------------------------------------------------------------------

# Sources whose staleness matters to the verdict: without fresh pods, workload or metrics it is a guess.
DECIDING_SOURCES = ("pods", "rollouts", "deployments", "replicasets", "metrics")


@dataclass(frozen=True)
class Staleness:
    source: str  # a store kind ("pods", "services", ...) or "metrics"
    state: str  # live | syncing | connecting | stale | forbidden | not-installed
    age: float | None = None  # seconds since its data was last known good
    detail: str = ""

    @property
    def stale(self) -> bool:
        return self.state in ("stale", "forbidden")

    def text(self) -> str:
        if self.state == "stale":
            when = f"stale {_age(self.age)}" if self.age is not None else "no data"
            return f"{when}: {self.detail}" if self.detail else when
        if self.state == "forbidden":
            return self.detail if self.detail.startswith("forbidden") else f"forbidden: {self.detail}"
        return self.state


def _age(s: float | None) -> str:
    if s is None:
        return "?"
    s = max(0, int(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    return f"{s // 3600}h"


def source_staleness(health: Iterable, compare: CompareState | None, now: float,
                     metrics_bound: float, link=None) -> tuple[Staleness, ...]:
    """One entry per store kind (the worst of its informers) and one for metrics.

    `link` (tui.kube.liveness.LinkState): when the API server stopped answering, every kind the store watches is
    stale since its last answer, whatever its informer believes (a stalled watch says nothing)."""
    by_kind: dict[str, list] = {}
    for h in health:
        by_kind.setdefault(h.kind, []).append(h)
    out = []
    for kind in sorted(by_kind):
        hs = by_kind[kind]
        forbidden = [h for h in hs if h.forbidden]
        bad = [h for h in hs if not h.forbidden and not h.not_installed and (not h.connected or h.error)]
        if forbidden:
            out.append(Staleness(kind, "forbidden", None, clean_line(forbidden[0].error or "forbidden")))
        elif all(h.not_installed for h in hs):
            out.append(Staleness(kind, "not-installed"))
        elif bad:
            h = bad[0]
            if not h.error:
                out.append(Staleness(kind, "connecting" if h.last_event is None and not h.synced else "syncing"))
            else:
                out.append(Staleness(kind, "stale", h.age(now), clean_line(h.error)))
        elif not all(h.synced or h.not_installed for h in hs):
            out.append(Staleness(kind, "syncing"))
        else:
            out.append(Staleness(kind, "live", max((h.age(now) or 0.0) for h in hs)))
    if link is not None and not link.ok:
        lost = f"connection lost: {clean_line(link.error or 'no answer')}"
        out = [st if st.state in ("forbidden", "not-installed", "stale")
               else Staleness(st.source, "stale", max(0.0, now - link.last_ok), lost) for st in out]
    if compare is not None and compare.updated_at is not None:
        age = max(0.0, now - compare.updated_at)
        if compare.stale or age > metrics_bound:
            out.append(Staleness("metrics", "stale", age, clean_line(compare.error or
                                                                     f"older than {fmt_duration(metrics_bound)}")))
        else:
            out.append(Staleness("metrics", "live", age))
    elif compare is not None and compare.stale:
        out.append(Staleness("metrics", "stale", None, clean_line(compare.error or "no answer")))
    return tuple(out)


# ---- the assessment --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateSighting:
    """The candidate's figures as last seen, kept for the moment it is gone (an abort scales it away)."""

    at: float
    track: str
    figures: TrackFigures
    revision: str | None = None

    def text(self) -> str:
        import datetime as dt

        f = self.figures
        when = dt.datetime.fromtimestamp(self.at, dt.timezone.utc).strftime("%H:%M:%S")
        parts = [f"5xx {fmt_figure('error_ratio', f.error_ratio)}", f"p99 {fmt_figure('latency_p99_s', f.latency_p99_s)}",
                 f"{fmt_figure('request_rate_rps', f.request_rate_rps)}"]
        return f"{self.track} at {when}: " + ", ".join(parts)


class CandidateMemory:
    """Remembers the newest candidate figures per revision; an abort's reason quotes them after the pods go."""

    def __init__(self) -> None:
        self.last: CandidateSighting | None = None

    def observe(self, compare: CompareState | None, roles: Roles, revision: str | None, now: float) -> None:
        if compare is None or compare.stale or roles.candidate is None:
            return
        tf = compare.track(roles.candidate)
        if tf is None or tf.request_rate_rps is None or not tf.pods:
            return
        self.last = CandidateSighting(compare.updated_at or now, roles.candidate, tf, revision)

    def for_revision(self, revision: str | None) -> CandidateSighting | None:
        s = self.last
        if s is None:
            return None
        if revision is not None and s.revision is not None and s.revision != revision:
            return None  # a newer release or a retry: the old figures say nothing about it
        return s

    def reset(self) -> None:
        self.last = None


@dataclass(frozen=True)
class Assessment:
    """Everything every view says about the rollout, decided once."""

    at: float
    rollout: str  # "Rollout/checkout"
    outcome: Outcome
    roles: Roles
    verdict: Verdict
    findings: tuple[Finding, ...]
    cells: tuple[HealthCell, ...]  # in CELLS order
    staleness: tuple[Staleness, ...]
    exit_code: int
    compare: CompareState | None = None  # the figures; its verdict and findings are the assessment's
    summary: object | None = None  # RolloutSummary
    progress: object | None = None  # tui.rollout.progress.Progress: steps, pause, weights, revisions, analysis
    network: object | None = None  # the NetworkView with the assessment's (debounced) network findings

    @property
    def decision(self) -> str:
        return self.verdict.decision

    @property
    def title(self) -> str:
        """What the terminal (tmux window) title says: the decision first, so a background window is marked."""
        name = self.rollout.split("/", 1)[-1]
        return f"{self.verdict.label} · {clean_line(name)} · lookout"

    def cell(self, name: str) -> HealthCell:
        return next(c for c in self.cells if c.name == name)

    def source(self, name: str) -> Staleness | None:
        return next((s for s in self.staleness if s.source == name), None)


def exit_code(decision: str, severities: Iterable[str]) -> int:
    """Worst wins: 1 (rollback, critical) over 2 (hold, no data, warning) over 0."""
    code = {"rollback": EXIT_BAD, "hold": EXIT_HOLD, "no-data": EXIT_HOLD}.get(decision, EXIT_OK)
    for s in severities:
        if s == "critical":
            code = EXIT_BAD
        elif s == "warning" and code == EXIT_OK:
            code = EXIT_HOLD
    return code


NO_READING = Verdict("no-data", (Reason("no-reading", "no metrics yet", decision="no-data"),))


def _exit_code_of(text: str) -> str | None:
    import re

    m = re.search(r"exit code (\d+)", text or "")
    return m.group(1) if m else None


def _candidate_failing(findings: Sequence[Finding], roles: Roles) -> Reason | None:
    cand = roles.candidate
    if cand is None:
        return None
    f = next((f for f in findings if f.code == "track-pods-failing" and f.track == cand), None)
    if f is None:
        return None
    ev = dict(f.evidence)
    pod, container, reason = ev.get("pod", ""), ev.get("container", ""), ev.get("reason", "")
    code = ev.get("exit code") or _exit_code_of(ev.get("last termination", ""))
    where = f"container {container} of pod {pod}" if container else f"pod {pod}"
    text = f"the {cand} track is failing: {reason} in {where}" + (f", exit code {code}" if code else "")
    values = (("track", cand), ("pod", pod), ("container", container or None), ("reason", reason),
              ("exit_code", int(code) if code and code.isdigit() else None))
    return Reason("candidate-failing", text, values, None, "rollback")


def _aborted_reason(outcome: Outcome, sighting: CandidateSighting | None, analysis_runs: Sequence[dict]) -> Reason:
    what = "aborted" if outcome.state == "aborted" else "failed"
    # what made it first (the figures), then the controller's words, then the analysis: a small pane shows the start
    text = f"the rollout {what}"
    values: list = [("outcome", outcome.state), ("controller", outcome.controller)]
    run = _failed_run(analysis_runs)
    if sighting is not None:
        f = sighting.figures
        text += f"; last seen before it: {sighting.text()}"
        values += [("candidate", sighting.track), ("seen_at", round(sighting.at, 3)),
                   ("error_ratio", None if f.error_ratio is None else round(f.error_ratio, 6)),
                   ("latency_p99_s", None if f.latency_p99_s is None else round(f.latency_p99_s, 6)),
                   ("request_rate_rps", None if f.request_rate_rps is None else round(f.request_rate_rps, 3))]
    if outcome.message:
        text += f"; {outcome.controller}: {outcome.message.rstrip('. ')}"  # joined by ';', not '.;'
    if run is not None:
        name, msg, measured = run
        text += f"; AnalysisRun {name}: {msg.rstrip('. ')}" if msg else f"; AnalysisRun {name} failed"
        if measured:
            text += f" (measured {', '.join(measured)})"
        values += [("analysis_run", name), ("analysis_message", msg or None),
                   ("measurements", ", ".join(measured) or None)]
    if sighting is None and run is None:
        text += "; the candidate's figures before it were not seen by this Lookout (it started after)"
    return Reason("rollout-aborted", text, tuple(values), None, "rollback")


def _failed_run(runs: Sequence[dict]) -> tuple[str, str, list[str]] | None:
    failed = [r for r in runs if ((r.get("status") or {}).get("phase") in ("Failed", "Error"))]
    if not failed:
        return None
    failed.sort(key=lambda r: (_meta(r).get("creationTimestamp") or "", _meta(r).get("name") or ""))
    r = failed[-1]
    st = r.get("status") or {}
    measured: list[str] = []
    for mr in st.get("metricResults") or ():
        if not isinstance(mr, dict):
            continue
        vals = [clean_line(str(m.get("value"))) for m in mr.get("measurements") or () if isinstance(m, dict)
                and m.get("value") is not None][-3:]
        if vals:
            measured.append(f"{clean_line(str(mr.get('name') or 'metric'))} " + " ".join(vals))
    return clean_line(_meta(r).get("name", "")), clean_line(str(st.get("message") or "")), measured


# a timed pause this long past its duration is no longer "planned"
PAUSE_OVERDUE_GRACE_S = 30.0


def progress_findings(progress) -> list[Finding]:
    """What the controller's own analysis and pauses say, in the shared finding shape.

    analysis-failing       a metric of the newest AnalysisRun failed: critical once the run is Failed/Error (over
                           its failureLimit or consecutiveErrorLimit), warning while failures stay within the limit
    analysis-inconclusive  a metric is Inconclusive, or the Rollout paused on an InconclusiveAnalysisRun: warning
    rollout-paused         info at a planned pause (time left) or while a promotion is awaited; warning when paused
                           past the step's duration, by an inconclusive analysis, or by hand with no step
    awaiting-approval      info while a mapped in-house CRD's `approval` path matches (Flagger's: flagger_findings)
    controller-check-failing  warning while a mapped CRD's `must_hold` condition is False (its controller's own
                           check failing: a switch held by a failing health check)
    """
    if progress is None:
        return []
    if getattr(progress, "flagger", None) is not None:  # a Flagger Canary: its gates and failed checks
        from tui.rollout.flagger import flagger_findings

        return flagger_findings(progress)
    out: list[Finding] = []
    ref = f"{progress.kind}/{progress.name}"
    for cond in getattr(progress, "failing", ()) or ():
        out.append(Finding("controller-check-failing", "warning", None,
                           f"{progress.kind} {progress.name}: {progress.controller} reports {cond}",
                           (("condition", cond), ("phase", progress.phase)) + (
                               (("switch", f"{progress.switch_progress}%"),) if progress.switch_progress is not None
                               else ()), (ref,)))
    run = progress.analysis
    if run is not None and run.phase not in ("Successful",):
        finished_bad = run.phase in ("Failed", "Error")
        for m in run.metrics:
            over = m.failed > m.failure_limit or m.consecutive_error > m.consecutive_error_limit
            if m.failed or m.phase in ("Failed", "Error") or m.consecutive_error:
                sev = "critical" if finished_bad or over else "warning"
                last = m.values[-1] if m.values else "no value"
                out.append(Finding(
                    "analysis-failing", sev, None,
                    f"AnalysisRun {run.name}: {m.name} measured {last} against {m.condition_text()}; "
                    f"{m.counts_text()}",
                    (("AnalysisRun", run.name), ("phase", run.phase), ("metric", m.name),
                     ("measured", " ".join(m.values) or "none"), ("condition", m.condition_text()),
                     ("counts", m.counts_text())) + ((("message", run.message),) if run.message else ()),
                    (f"AnalysisRun/{run.name}", ref)))
            elif m.inconclusive or m.phase == "Inconclusive":
                out.append(Finding(
                    "analysis-inconclusive", "warning", None,
                    f"AnalysisRun {run.name}: {m.name} is inconclusive ({m.counts_text()})",
                    (("AnalysisRun", run.name), ("metric", m.name), ("measured", " ".join(m.values) or "none"),
                     ("condition", m.condition_text()), ("counts", m.counts_text())),
                    (f"AnalysisRun/{run.name}", ref)))
    kind = progress.pause_kind
    if kind == "inconclusive" and not any(f.code == "analysis-inconclusive" for f in out):
        out.append(Finding("analysis-inconclusive", "warning", None,
                           "the Rollout paused on an inconclusive AnalysisRun: promote or abort it by hand",
                           (("pause", progress.pause),), (ref,)))
    if kind:
        step = progress.step_text
        where = (("step", step),) if step else ()
        if kind == "step":
            left = progress.pause_left_s
            overdue = left is not None and left < -PAUSE_OVERDUE_GRACE_S
            out.append(Finding("rollout-paused", "warning" if overdue else "info", None,
                               f"{progress.name} {progress.pause}" + (": the controller has not resumed it" if overdue
                                                                       else " (a planned pause)"),
                               where + (("pause", progress.pause),), (ref,)))
        elif kind == "approval":  # a mapped CRD's `approval` path (tui.rollout.custom.custom_pause): as Flagger's gates
            msg = clean_line(progress.message or "") if progress.message != progress.phase else ""
            out.append(Finding("awaiting-approval", "info", None,
                               f"{progress.name}: {msg}" if "approv" in msg.lower()  # its own words say it
                               else f"{progress.name} is waiting for approval" + (f": {msg}" if msg else ""),
                               where + (("pause", progress.pause),), (ref,)))
        elif kind == "promotion":
            out.append(Finding("rollout-paused", "info", None,
                               f"{progress.name} is waiting for promotion (a planned pause with no duration)",
                               where + (("pause", progress.pause),), (ref,)))
        else:
            out.append(Finding("rollout-paused", "warning", None,
                               f"{progress.name} is {progress.pause}" + ("" if step else ", at no planned step"),
                               where + (("pause", progress.pause),), (ref,)))
    return out


def _with_findings(c: HealthCell, findings: Sequence[Finding]) -> HealthCell:
    """The cell at least as bad as its worst finding; the finding says why."""
    mine = sort_findings(f for f in findings if cell_of(f.code) == c.name and f.severity in SEVERITY_LEVEL)
    if not mine:
        return c
    worst = mine[0]
    lv = SEVERITY_LEVEL[worst.severity]
    if c.level == "critical" or (c.level == "degraded" and lv == "degraded"):
        return c  # already as bad: its own detail stays
    # the rollout cell's word is the controller's (Argo's Degraded is a phase): a warning raising it reads
    # "warning", never "degraded" beside a Rollout that is Healthy
    word = "warning" if c.name == "rollout" and lv == "degraded" else WORDS[lv]
    return HealthCell(c.name, lv, word, SYMBOLS[lv], f"{worst.code}: {clean_line(worst.summary)}")


def _at_most_degraded(c: HealthCell) -> HealthCell:
    """A pod in CrashLoopBackOff flips between Running and Waiting every few seconds: the pods cell turns
    critical through the (debounced) track-pods-failing finding, so it says critical exactly when the strip
    shows why, and the exit code does not flap with each restart."""
    if c.level != "critical":
        return c
    return HealthCell(c.name, "degraded", WORDS["degraded"], SYMBOLS["degraded"], c.detail)


def _rollout_cell(outcome: Outcome, summary) -> HealthCell:
    level = {"aborted": "critical", "failed": "critical", "degraded": "degraded", "unknown": "unknown"}.get(
        outcome.state, "healthy")
    word = {"unknown": "unknown" if outcome.controller != "labels" else "n/a"}.get(outcome.state, outcome.state)
    detail = outcome.message or (getattr(summary, "phase", "") or "")
    return cell("rollout", level, detail, word=word)


def _metrics_cell(verdict: Verdict, has_reading: bool, stale: bool) -> HealthCell:
    first = verdict.reasons[0].text if verdict.reasons else ""
    if verdict.decision == "rollback":
        return cell("metrics", "critical", first, word="rollback")
    if not has_reading:
        return cell("metrics", "pending", "no reading yet", word="waiting")
    if stale:
        return cell("metrics", "degraded", first, word="stale")
    level = {"promote": "healthy", "hold": "degraded"}.get(verdict.decision, "unknown")
    word = {"promote": "promote", "hold": "hold"}.get(verdict.decision, "no data")
    return cell("metrics", level, first, word=word)


def _refused_text(refused: Sequence[Staleness]) -> str:
    from tui.rollout.forbidden import TITLES, who

    return "; ".join(f"{TITLES.get(s.source, s.source)}: {who(s.detail)}" for s in refused)


def _endpoints_cell(view, refused: Sequence[Staleness] = ()) -> HealthCell:
    if refused:  # never "no Service selects the rollout" when we may not look
        return cell("endpoints", "unknown", _refused_text(refused), word="forbidden")
    if view is None:
        return cell("endpoints", "pending", "no reading yet", word="waiting")
    rows = getattr(view, "endpoints", ())
    if not rows:
        if getattr(view, "services", ()):
            return cell("endpoints", "unknown", "the rollout's Services have no endpoints", word="none")
        return cell("endpoints", "unknown", "no Service selects the rollout", word="none")
    ready = sum(1 for r in rows if r.ready)
    return cell("endpoints", "healthy", f"{ready}/{len(rows)} endpoints ready")


def _dns_cell(view, refused: Sequence[Staleness] = ()) -> HealthCell:
    if refused:  # the names to check come from the Services and routes we may not read
        return cell("DNS", "unknown", "cannot tell: " + _refused_text(refused), word="forbidden")
    if view is None:
        return cell("DNS", "pending", "no reading yet", word="waiting")
    answers = getattr(view, "dns", ())
    failed = [a for a in answers if a.error]
    if failed:  # the dns-lookup-failed finding makes it degraded once it holds; until then it is only unknown
        return cell("DNS", "unknown", f"{failed[0].name}: {failed[0].error}", word="no answer")
    if not answers:
        return cell("DNS", "unknown", "no external names to check", word="n/a")
    return cell("DNS", "healthy", f"{len(answers)} names resolve as expected")


def assess(*, now: float, rollout: str, kind: str | None, workload: dict | None, summary, pod_rows: Iterable,
           findings: Iterable[Finding], compare: CompareState | None, network_view, health: Iterable = (),
           roles: Roles = Roles(), sighting: CandidateSighting | None = None, analysis_runs: Sequence[dict] = (),
           metrics_bound: float = 30.0, link=None, replicasets: Sequence[dict] = (),
           step_for_s: float | None = None, group_progress=None, canary: dict | None = None,
           events: Sequence[dict] = (), deployments: Sequence[dict] = ()) -> Assessment:
    """The assessment, by these rules, in this order:

    1. The controller's outcome: aborted or failed means `rollback`, reason `rollout-aborted` with the
       controller's message, the failed AnalysisRun and the last candidate figures seen.
    2. A failing candidate track (crash loop, image pull, OOM...) means `rollback`, reason `candidate-failing`.
    3. Otherwise the metrics verdict, which is never `promote` beside a critical finding, a Degraded rollout or a
       stale deciding source (pods, workload, metrics): those hold it, each with its reason.
    4. A rollback the findings do not already explain is a critical `verdict-rollback` finding, so the strip
       never says "no findings" beside a rollback.
    5. Each finding makes its one cell (CELL_OF_CODE) at least as bad as its severity; the metrics cell shows the
       final decision; the exit code is the worst of the decision and the findings.
    6. The controller's own analysis and pauses are findings (`analysis-failing`, `analysis-inconclusive`,
       `rollout-paused`, see `progress_findings`); a promotion awaited holds the exit code at 2.
    """
    from tui.rollout.progress import rollout_progress

    if canary is not None:  # Flagger: its Canary is the controller, over the two Deployments the target selects
        from tui.rollout import flagger

        progress = flagger.flagger_progress(canary, deployments, now=now, step_for_s=step_for_s)
        outcome = flagger.flagger_outcome(canary)
        extra = flagger.flagger_findings(progress, flagger.last_event_text(
            canary, events, ("RollingBack", "CanaryFailed") if outcome.state == "aborted"
            else ("Halt", "NoTraffic", "NoValues")))
        findings = sort_findings(list(findings) + extra)
    else:
        progress = rollout_progress(kind, workload, replicasets, analysis_runs, now=now, step_for_s=step_for_s) \
            or group_progress  # a manual rollout: its Deployments, no controller to judge by
        findings = sort_findings(list(findings) + progress_findings(progress))
        outcome = rollout_outcome(kind, workload, summary)
        if outcome.controller == "labels" and getattr(progress, "health", ""):  # an in-house CRD: its mapped health
            outcome = Outcome(progress.health, "-".join(progress.controller.lower().split()) or "custom",
                              progress.message or progress.phase,
                              str(_meta(workload).get("generation") or "") or None)
    staleness = source_staleness(health, compare, now, metrics_bound, link)
    base = compare.verdict if compare is not None else NO_READING

    front: list[Reason] = []
    if outcome.state in ("aborted", "failed"):
        front.append(_aborted_reason(outcome, sighting, analysis_runs))
    failing = _candidate_failing(findings, roles)
    if failing is not None:
        front.append(failing)
    if front:
        rest = [r for r in base.reasons if r.decision in ("rollback",)]
        verdict = Verdict("rollback", tuple(front + rest))
    else:
        verdict = base
        if base.decision == "promote":
            holds: list[Reason] = []
            if outcome.state == "degraded":
                holds.append(Reason("rollout-degraded", f"the rollout is Degraded: {outcome.message}",
                                    (("outcome", "degraded"),), None, "hold"))
            crit = [f for f in findings if f.severity == "critical"]
            if crit:
                f = crit[0]
                holds.append(Reason("critical-finding", f"{f.code}: {clean_line(f.summary)}"
                                    + (f" (and {len(crit) - 1} more critical)" if len(crit) > 1 else ""),
                                    (("finding", f.code), ("track", f.track), ("critical_findings", len(crit))),
                                    None, "hold"))
            for s in staleness:
                if s.stale and s.source in DECIDING_SOURCES:
                    holds.append(Reason("stale-data", f"{s.source} data is {s.text()}: not fresh enough to promote",
                                        (("source", s.source), ("age_s", None if s.age is None else round(s.age, 1)),
                                         ("bound_s", metrics_bound if s.source == "metrics" else None)),
                                        None, "hold"))
            if holds:
                verdict = Verdict("hold", tuple(holds) + tuple(r for r in base.reasons if r.decision != "promote"))

    all_findings = list(findings)
    if verdict.decision == "rollback" and not any(f.severity == "critical" for f in findings):
        r = verdict.reasons[0]
        all_findings.append(Finding("verdict-rollback", "critical", dict(r.values).get("track") or roles.candidate,
                                    f"the verdict is ROLLBACK: {r.text}",
                                    tuple((k, "" if v is None else str(v)) for k, v in r.values)))
    all_findings = sort_findings(all_findings)

    metrics_stale = any(s.source == "metrics" and s.stale for s in staleness)
    refused = [s for s in staleness if s.state == "forbidden" and s.source in ("services", "endpointslices")]
    cells = [
        _at_most_degraded(pods_health(pod_rows)),
        _rollout_cell(outcome, summary),
        _metrics_cell(verdict, compare is not None and compare.updated_at is not None, metrics_stale),
        _endpoints_cell(network_view, refused),
        _dns_cell(network_view, refused),
    ]
    cells = tuple(_with_findings(c, all_findings) for c in cells)
    code = exit_code(verdict.decision, (f.severity for f in all_findings))
    if any(c.level == "critical" for c in cells):
        code = EXIT_BAD
    if code == EXIT_OK and progress is not None and progress.pause_kind in ("promotion", "approval"):
        code = EXIT_HOLD  # a person has to promote: not done, not bad
    from tui.metrics.analysis import EMPTY_STATE

    # the pane shows the assessment's verdict and the same (debounced) findings as the strip, never its own
    shown = replace(compare if compare is not None else replace(EMPTY_STATE, now=now), verdict=verdict,
                    findings=tuple(f for f in all_findings if cell_of(f.code) == "metrics"))
    return Assessment(now, rollout, outcome, roles, verdict, tuple(all_findings), cells, staleness, code, shown,
                      summary, progress, _network_shown(network_view, all_findings))


def _network_shown(view, findings: Sequence[Finding]):
    """The DNS/endpoints pane's view with the assessment's network findings, not the raw ones its evaluation made:
    the pane and the strip show the same debounced findings (no `dns-stale` in one beside `no findings` in the
    other for the seconds after a blue/green switch). The same object while they are the same."""
    if view is None:
        return None
    mine = tuple(f for f in findings if f.code in NETWORK_CODES or f.code in ("forbidden-endpoints", "forbidden-pods"))
    if tuple(getattr(view, "findings", ())) == mine:
        return view
    key = (id(view), mine)
    hit = _NETWORK_MEMO.get("last")
    if hit is not None and hit[0] == key and hit[2] is view:
        return hit[1]
    shown = replace(view, findings=mine)
    _NETWORK_MEMO["last"] = (key, shown, view)
    return shown


_NETWORK_MEMO: dict = {}  # the last view shown, so an unchanged pane is not redrawn (the app compares identity)


def overall(cells: Iterable[HealthCell]) -> str:
    levels = [c.level for c in cells if c.level != "pending"]
    return min(levels, key=LEVEL_RANK.__getitem__) if levels else "unknown"


__all__ = ["Assessment", "CELLS", "CELL_OF_CODE", "CandidateMemory", "CandidateSighting", "Outcome", "Staleness",
           "assess", "cell_of", "exit_code", "rollout_outcome", "source_staleness"]
