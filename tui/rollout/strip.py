"""What the rollout strip says, as styled spans: one renderer for the app's strip and `lookout status`'s text.

A line is a list of (text, style) spans; widgets/progress.py turns them into Rich Text, `lookout status` joins the
text alone. So the strip and the status report cannot disagree: both say what these functions say. Every string
in a Progress was cleaned in tui/ (tui.textsafe) when it was built.
"""

from __future__ import annotations

from typing import Any

from tui.rollout.progress import fmt_seconds

Span = tuple[str, str]  # (text, style: a Rich style name or "")
Line = list[Span]

PHASE_STYLE = {"Healthy": "green", "Progressing": "cyan", "Paused": "yellow", "Degraded": "bold red",
               "Aborted": "bold red", "ScaledDown": "dim",
               # Flagger's own words (tui.rollout.flagger.PHASE_SYMBOL)
               "Succeeded": "green", "Initialized": "green", "Failed": "bold red", "Waiting": "yellow",
               "WaitingPromotion": "yellow", "Promoting": "cyan", "Finalising": "cyan", "Initializing": "cyan"}
# a mapped in-house CRD's own phase word may be any: its mapped health picks the style (tui.rollout.custom)
HEALTH_STYLE = {"healthy": "green", "progressing": "cyan", "paused": "yellow", "degraded": "bold red",
                "aborted": "bold red"}
STEP_LOOK = {"done": ("✓", "green"), "current": ("▶", "bold"), "pending": ("·", "dim")}
RUN_LOOK = {"Successful": ("✓", "green"), "Running": ("…", "cyan"), "Pending": ("…", "dim"),
            "Failed": ("✗", "bold red"), "Error": ("✗", "bold red"), "Inconclusive": ("!", "yellow")}
MAX_FULL_LINES = 8


def plain(line: Line) -> str:
    return "".join(text for text, _ in line)


def _weight(p: Any) -> str | None:
    if p.complete and p.strategy == "canary":
        return "fully promoted"
    if p.actual_weight is None and p.desired_weight is None:
        return None
    if p.desired_weight is None or p.actual_weight == p.desired_weight:
        return f"weight {p.actual_weight}%"
    return f"weight {p.actual_weight}% (desired {p.desired_weight}%)"


def _style(p: Any) -> str:
    return PHASE_STYLE.get(p.phase) or HEALTH_STYLE.get(getattr(p, "health", ""), "bold")


def _switch(p: Any, t: Line) -> None:
    if getattr(p, "switch_progress", None) is not None:
        t.append((f" · switch {p.switch_progress}%", ""))


def _in_what(p: Any) -> str:
    """What the time is counted in: the step, or a mapped CRD's phase when it has no steps."""
    return "step" if p.step_count or not getattr(p, "health", "") else "phase"


def _replicas(p: Any, short: bool) -> str:
    if getattr(p, "health", ""):  # a mapped CRD: no replica counts of its own, its pods
        return f"{p.ready}/{p.desired} pods ready"
    if short:
        return f"{p.ready}/{p.desired} ready"
    return f"replicas desired {p.desired} · updated {p.updated} · ready {p.ready} · available {p.available}"


def _head(p: Any, t: Line) -> None:
    t.append((f"{p.symbol} ", _style(p)))
    t.append((p.phase, _style(p)))
    if p.step_text:
        t.append((f" · step {p.step_text}", ""))
        cur = next((s for s in p.steps if s.state == "current"), None)
        if cur is not None and not p.pause:
            t.append((f" {cur.text}", ""))
    if p.pause:
        t.append((f" · {p.pause}", "yellow" if p.pause_kind != "step" else ""))
    w = _weight(p)
    if w:
        t.append((f" · {w}", ""))
    _switch(p, t)
    if p.roles and p.strategy == "bluegreen":
        t.append((f" · {p.roles}", ""))


def _analysis_short(p: Any, t: Line) -> None:
    run = p.analysis
    if run is None:
        return
    symbol, style = RUN_LOOK.get(run.phase, ("?", ""))
    bad = next((m for m in run.metrics if m.failed or m.inconclusive or m.consecutive_error), None)
    if bad is None:
        t.append((" · analysis ", ""))
        t.append((f"{symbol} {run.phase}", style))
        return
    t.append((" · ", ""))
    t.append((f"{'✗' if run.phase in ('Failed', 'Error') else '!'} {bad.name}", style or "yellow"))
    if bad.values:
        t.append((f" {bad.values[-1]}", ""))
    # the count that is the trouble, against its limit (Argo stops a metric at count > limit)
    if bad.failed:
        word, n, limit = "failed", bad.failed, bad.failure_limit
    elif bad.inconclusive:
        word, n, limit = "inconclusive", bad.inconclusive, bad.inconclusive_limit
    else:
        word, n, limit = "errors in a row", bad.consecutive_error, bad.consecutive_error_limit
    t.append((f" {word} {n}{' > ' if n > limit else ' ≤ '}limit {limit}", ""))


def _flagger_checks(fs: Any, t: Line) -> None:
    if fs.phase == "Failed" and not fs.failed_checks:  # Flagger resets the count as it rolls back: not a ✓ 0/N
        t.append((f"✗ rolled back (threshold {fs.threshold})", "bold red"))
        return
    bad = fs.failed_checks > 0
    t.append((f"{'!' if bad else '✓'} {fs.checks_text}",
              ("bold red" if fs.failed_checks >= fs.threshold else "yellow") if bad else "green"))


def _flagger_short(p: Any, t: Line) -> None:
    fs = getattr(p, "flagger", None)
    if fs is None:
        return
    if fs.failed_checks or fs.phase in ("Progressing", "WaitingPromotion", "Waiting", "Failed"):
        t.append((" · ", ""))
        _flagger_checks(fs, t)


def short_step(s: Any) -> str:
    """A step in a few cells: 10% (setWeight), ‖20s (pause), ‖promote (pause with no duration), the kind else."""
    if s.kind == "setWeight":
        return s.text.removeprefix("setWeight ")
    if s.kind == "pause":
        return "‖" + (s.text.removeprefix("pause ") if s.duration_s is not None else "promote")
    return s.text


def compact(p: Any) -> Line:
    """The strip in one line (80x24): phase, step, pause or time left, weight, analysis or checks, replicas."""
    t: Line = [(f"{p.symbol} ", _style(p)), (p.phase, _style(p))]
    if p.step_text:
        t.append((f" · step {p.step_text}", ""))
        cur = next((s for s in p.steps if s.state == "current"), None)
        if cur is not None and not p.pause and cur.kind not in ("setWeight", "pause"):
            t.append((f" {short_step(cur)}", ""))
    if p.pause:
        if p.pause_kind == "step" and p.pause_left_s is not None and p.pause_left_s >= 0:
            t.append((f" · {fmt_seconds(p.pause_left_s)} left", ""))
        else:
            t.append((f" · {p.pause}", "yellow"))
    w = _weight(p)
    if w:
        t.append((f" · {w}", ""))
    _switch(p, t)
    if p.roles and p.strategy == "bluegreen":
        t.append((f" · {p.roles}", ""))
    _analysis_short(p, t)
    _flagger_short(p, t)
    if getattr(p, "health", "") in ("degraded", "aborted", "unknown") and p.message:
        t.append((f" · {p.message}", "yellow"))
    t.append((f" · {_replicas(p, True)}", ""))
    if p.step_for_s is not None and not p.complete:
        t.append((f" · {fmt_seconds(p.step_for_s)} in {_in_what(p)}", "dim"))
    if getattr(p, "health", "") in ("progressing", "paused") and p.message:  # "Waiting for approval ..."
        t.append((f" · {p.message}", "yellow" if p.health == "paused" else "dim"))
    return t


def full(p: Any, max_lines: int | None = MAX_FULL_LINES, *, zoomed: bool | None = None) -> list[Line]:
    """The strip in several lines: controller, strategy and head; the steps (zoomed: one a line, else one line);
    replicas; revisions; Flagger's checks; conditions; the AnalysisRun with each metric's values against its
    condition. `zoomed` (default: when max_lines is None) shows every step, revision, condition and older run."""
    zoomed = max_lines is None if zoomed is None else zoomed
    lines: list[Line] = []
    t: Line = [(f"{p.controller} ", "bold"), (f"{p.strategy} · ", "dim")]
    _head(p, t)
    if p.step_for_s is not None and not p.complete:
        t.append((f" · {fmt_seconds(p.step_for_s)} in this {_in_what(p)}", "dim"))
    lines.append(t)
    if p.steps and zoomed:  # the whole step list, one step a line, the current one marked
        for s in p.steps:
            symbol, style = STEP_LOOK.get(s.state, ("?", ""))
            t = [(f"{symbol} step {s.index + 1}/{len(p.steps)} ", style), (s.text, style)]
            if s.state == "current" and p.pause:
                pause = p.pause.removeprefix(s.text).lstrip(" ·")  # "pause 1m30s" is said already
                if pause:
                    t.append((f" · {pause}", "yellow" if p.pause_kind != "step" else ""))
            lines.append(t)
    elif p.steps:
        t = [("steps ", "dim")]
        for i, s in enumerate(p.steps):
            if i:
                t.append((" ", "dim"))
            symbol, style = STEP_LOOK.get(s.state, ("?", ""))
            t.append((f"{symbol}{short_step(s)}", style))
        lines.append(t)
    lines.append([(_replicas(p, False), "")])
    for r in p.revisions[: None if zoomed else 4]:
        custom = bool(getattr(p, "health", ""))  # a mapped CRD: one line per track, from its pods
        if p.kind == "Label":  # a manual rollout: each Deployment is a track
            t = [(f"{r.replicasets[0]} ", "bold")]
        elif custom:
            t = [("track ", "dim")]
        else:
            t = [(f"rev {r.revision} ", "bold")]
        t.append((f"{r.role:<8}", "cyan" if r.role in ("canary", "preview", "new") else ""))
        t.append((f" {r.ready}/{r.desired} ready  ", ""))
        t.append((", ".join(r.images), ""))
        if p.kind != "Label" and not custom:
            t.append((f"  {' '.join(r.replicasets)}", "dim"))
        lines.append(t)
    fs = getattr(p, "flagger", None)
    if fs is not None:  # a Flagger Canary: its checks against the threshold and its Promoted condition
        t = [("analysis ", "dim")]
        _flagger_checks(fs, t)
        if fs.iterations_total:
            t.append((f" · iterations {fs.iterations}/{fs.iterations_total}", ""))
        for ctype, status, reason, message in fs.conditions:
            t.append((f" · {ctype} {status}" + (f" {reason}" if reason else "") + (f": {message}" if message else ""),
                      ""))
        lines.append(t)
    for c in getattr(p, "conditions", ())[: None if zoomed else 3]:
        lines.append([("condition ", "dim"), (c, "" if "=True" in c.split(" ", 1)[0] else "yellow")])
    if zoomed:  # the earlier AnalysisRuns too, one line each
        for old in p.analyses[:-1]:
            symbol, style = RUN_LOOK.get(old.phase, ("?", ""))
            lines.append([("analysis ", "dim"), (f"{old.name} ", ""), (f"{symbol} {old.phase}", style)])
    run = p.analysis
    if run is not None:
        symbol, style = RUN_LOOK.get(run.phase, ("?", ""))
        t = [("analysis ", "dim"), (f"{run.name} ", ""), (f"{symbol} {run.phase}", style)]
        if run.message:
            t.append((f": {run.message}", ""))
        lines.append(t)
        for m in run.metrics:
            ms, mstyle = RUN_LOOK.get(m.phase, ("?", ""))
            lines.append([(f"  {ms} ", mstyle), (m.text(), "")])
    return lines[:max_lines]


def status_lines(p: Any) -> list[str]:
    """`lookout status`'s progress section: the strip as the app shows it unzoomed (the step list on one line),
    every line kept, so the failing metric's values and condition are never cut off."""
    if p is None:
        return []
    return [plain(line) for line in full(p, None, zoomed=False)]
