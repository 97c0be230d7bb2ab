"""The rollout strip: the controller's progress (phase, step N of M, pause, weights, revisions, replicas, analysis).

One line on a small terminal, the step list, revisions and analysis below it on a large one. It renders a
tui.rollout.progress.Progress handed to it; every string in it was cleaned in tui/.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.rollout.progress import fmt_seconds
from widgets.status import _TextStatic

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


def _switch(p: Any, t: Text) -> None:
    if getattr(p, "switch_progress", None) is not None:
        t.append(f" · switch {p.switch_progress}%")


def _in_what(p: Any) -> str:
    """What the time is counted in: the step, or a mapped CRD's phase when it has no steps."""
    return "step" if p.step_count or not getattr(p, "health", "") else "phase"


def _replicas(p: Any, short: bool) -> str:
    if getattr(p, "health", ""):  # a mapped CRD: no replica counts of its own, its pods
        return f"{p.ready}/{p.desired} pods ready"
    if short:
        return f"{p.ready}/{p.desired} ready"
    return f"replicas desired {p.desired} · updated {p.updated} · ready {p.ready} · available {p.available}"


def _head(p: Any, t: Text, short: bool) -> None:
    t.append(f"{p.symbol} ", style=_style(p))
    t.append(p.phase, style=_style(p))
    if p.step_text:
        t.append(f" · step {p.step_text}")
        cur = next((s for s in p.steps if s.state == "current"), None)
        if cur is not None and not p.pause:
            t.append(f" {cur.text}")
    if p.pause:
        t.append(f" · {p.pause}", style="yellow" if p.pause_kind != "step" else "")
    w = _weight(p)
    if w:
        t.append(f" · {w}")
    _switch(p, t)
    if p.roles and p.strategy == "bluegreen":
        t.append(f" · {p.roles}")


def _analysis_short(p: Any, t: Text) -> None:
    run = p.analysis
    if run is None:
        return
    symbol, style = RUN_LOOK.get(run.phase, ("?", ""))
    bad = next((m for m in run.metrics if m.failed or m.inconclusive or m.consecutive_error), None)
    if bad is None:
        t.append(" · analysis ")
        t.append(f"{symbol} {run.phase}", style=style)
        return
    t.append(" · ")
    t.append(f"{'✗' if run.phase in ('Failed', 'Error') else '!'} {bad.name}", style=style or "yellow")
    if bad.values:
        t.append(f" {bad.values[-1]}")
    # the count that is the trouble, against its limit (Argo stops a metric at count > limit)
    if bad.failed:
        word, n, limit = "failed", bad.failed, bad.failure_limit
    elif bad.inconclusive:
        word, n, limit = "inconclusive", bad.inconclusive, bad.inconclusive_limit
    else:
        word, n, limit = "errors in a row", bad.consecutive_error, bad.consecutive_error_limit
    t.append(f" {word} {n}{' > ' if n > limit else ' ≤ '}limit {limit}")


def _flagger_checks(fs: Any, t: Text) -> None:
    if fs.phase == "Failed" and not fs.failed_checks:  # Flagger resets the count as it rolls back: not a ✓ 0/N
        t.append(f"✗ rolled back (threshold {fs.threshold})", style="bold red")
        return
    bad = fs.failed_checks > 0
    t.append(f"{'!' if bad else '✓'} {fs.checks_text}",
             style=("bold red" if fs.failed_checks >= fs.threshold else "yellow") if bad else "green")


def _flagger_short(p: Any, t: Text) -> None:
    fs = getattr(p, "flagger", None)
    if fs is None:
        return
    if fs.failed_checks or fs.phase in ("Progressing", "WaitingPromotion", "Waiting", "Failed"):
        t.append(" · ")
        _flagger_checks(fs, t)


def _short_step(s: Any) -> str:
    """A step in a few cells: 10% (setWeight), ‖20s (pause), ‖promote (pause with no duration), the kind else."""
    if s.kind == "setWeight":
        return s.text.removeprefix("setWeight ")
    if s.kind == "pause":
        return "‖" + (s.text.removeprefix("pause ") if s.duration_s is not None else "promote")
    return s.text


class RolloutStrip(_TextStatic):
    """Argo Rollouts ‖ Paused · step 2/6 · pause 20s · 18s left · weight 10% · 5/5 ready · analysis ✓

    Focusable (a click, or `:progress`) and zoomable like a pane: zoomed, it shows everything, every step, revision,
    condition and analysis metric, at any terminal size."""

    can_focus = True
    ALLOW_MAXIMIZE = True
    _progress: Any = None
    _compact = False

    def set_progress(self, progress: Any, *, compact: bool) -> None:
        self._progress, self._compact = progress, compact
        if progress is None:
            if self.display:
                self.display = False
            return
        if not self.display:
            self.display = True
        if self.has_class("-maximized"):
            self.show(self.render_full(progress, max_lines=None))
        else:
            self.show(self.render_compact(progress) if compact else self.render_full(progress))

    def redraw(self) -> None:
        """After a zoom or unzoom: the same progress in the form that now fits."""
        self.set_progress(self._progress, compact=self._compact)

    @staticmethod
    def render_compact(p: Any) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{p.symbol} ", style=_style(p))
        t.append(p.phase, style=_style(p))
        if p.step_text:
            t.append(f" · step {p.step_text}")
            cur = next((s for s in p.steps if s.state == "current"), None)
            if cur is not None and not p.pause and cur.kind not in ("setWeight", "pause"):
                t.append(f" {_short_step(cur)}")
        if p.pause:
            if p.pause_kind == "step" and p.pause_left_s is not None and p.pause_left_s >= 0:
                t.append(f" · {fmt_seconds(p.pause_left_s)} left")
            else:
                t.append(f" · {p.pause}", style="yellow")
        w = _weight(p)
        if w:
            t.append(f" · {w}")
        _switch(p, t)
        if p.roles and p.strategy == "bluegreen":
            t.append(f" · {p.roles}")
        _analysis_short(p, t)
        _flagger_short(p, t)
        if getattr(p, "health", "") in ("degraded", "aborted", "unknown") and p.message:
            t.append(f" · {p.message}", style="yellow")
        t.append(f" · {_replicas(p, True)}")
        if p.step_for_s is not None and not p.complete:
            t.append(f" · {fmt_seconds(p.step_for_s)} in {_in_what(p)}", style="dim")
        if getattr(p, "health", "") in ("progressing", "paused") and p.message:  # "Waiting for approval ..."
            t.append(f" · {p.message}", style="yellow" if p.health == "paused" else "dim")
        return t

    @staticmethod
    def render_full(p: Any, max_lines: int | None = MAX_FULL_LINES) -> Text:
        lines: list[Text] = []
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{p.controller} ", style="bold")
        t.append(f"{p.strategy} · ", style="dim")
        _head(p, t, False)
        if p.step_for_s is not None and not p.complete:
            t.append(f" · {fmt_seconds(p.step_for_s)} in this {_in_what(p)}", style="dim")
        lines.append(t)
        if p.steps and max_lines is None:  # zoomed: the whole step list, one step a line, the current one marked
            for s in p.steps:
                symbol, style = STEP_LOOK.get(s.state, ("?", ""))
                t = Text(no_wrap=True, overflow="ellipsis")
                t.append(f"{symbol} step {s.index + 1}/{len(p.steps)} ", style=style)
                t.append(s.text, style=style)
                if s.state == "current" and p.pause:
                    pause = p.pause.removeprefix(s.text).lstrip(" ·")  # "pause 1m30s" is said already
                    if pause:
                        t.append(f" · {pause}", style="yellow" if p.pause_kind != "step" else "")
                lines.append(t)
        elif p.steps:
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append("steps ", style="dim")
            for i, s in enumerate(p.steps):
                if i:
                    t.append(" ", style="dim")
                symbol, style = STEP_LOOK.get(s.state, ("?", ""))
                t.append(f"{symbol}{_short_step(s)}", style=style)
            lines.append(t)
        lines.append(Text(_replicas(p, False), no_wrap=True, overflow="ellipsis"))
        for r in p.revisions[: 4 if max_lines else None]:
            t = Text(no_wrap=True, overflow="ellipsis")
            custom = bool(getattr(p, "health", ""))  # a mapped CRD: one line per track, from its pods
            if p.kind == "Label":  # a manual rollout: each Deployment is a track
                t.append(f"{r.replicasets[0]} ", style="bold")
            elif custom:
                t.append("track ", style="dim")
            else:
                t.append(f"rev {r.revision} ", style="bold")
            t.append(f"{r.role:<8}", style="cyan" if r.role in ("canary", "preview", "new") else "")
            t.append(f" {r.ready}/{r.desired} ready  ")
            t.append(", ".join(r.images))
            if p.kind != "Label" and not custom:
                t.append(f"  {' '.join(r.replicasets)}", style="dim")
            lines.append(t)
        fs = getattr(p, "flagger", None)
        if fs is not None:  # a Flagger Canary: its checks against the threshold and its Promoted condition
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append("analysis ", style="dim")
            _flagger_checks(fs, t)
            if fs.iterations_total:
                t.append(f" · iterations {fs.iterations}/{fs.iterations_total}")
            for ctype, status, reason, message in fs.conditions:
                t.append(f" · {ctype} {status}" + (f" {reason}" if reason else "") + (f": {message}" if message else ""))
            lines.append(t)
        for c in getattr(p, "conditions", ())[: 3 if max_lines else None]:
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append("condition ", style="dim")
            t.append(c, style="" if "=True" in c.split(" ", 1)[0] else "yellow")
            lines.append(t)
        if max_lines is None:  # zoomed: the earlier AnalysisRuns too, one line each
            for old in p.analyses[:-1]:
                symbol, style = RUN_LOOK.get(old.phase, ("?", ""))
                t = Text(no_wrap=True, overflow="ellipsis")
                t.append("analysis ", style="dim")
                t.append(f"{old.name} ")
                t.append(f"{symbol} {old.phase}", style=style)
                lines.append(t)
        run = p.analysis
        if run is not None:
            symbol, style = RUN_LOOK.get(run.phase, ("?", ""))
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append("analysis ", style="dim")
            t.append(f"{run.name} ")
            t.append(f"{symbol} {run.phase}", style=style)
            if run.message:
                t.append(f": {run.message}")
            lines.append(t)
            for m in run.metrics:
                t = Text(no_wrap=True, overflow="ellipsis")
                ms, mstyle = RUN_LOOK.get(m.phase, ("?", ""))
                t.append(f"  {ms} ", style=mstyle)
                t.append(m.text())
                lines.append(t)
        out = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(lines[:max_lines]):
            if i:
                out.append("\n")
            out.append_text(line)
        return out
