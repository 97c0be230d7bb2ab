"""The canary-vs-stable pane: figures per track side by side, deltas, sparklines, the verdict and why, the PromQL.

It renders a CompareState handed to it (`pane.state = ...`) and fetches nothing. It posts VerdictChanged when
the decision changes, so the app can ring the bell once and put the verdict in the terminal title.
Cluster text (pod names, reasons, evidence) goes through rich Text after textsafe.clean_line: never markup.
"""

from __future__ import annotations

import math
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from tui.metrics.analysis import (EMPTY_STATE, FIGURE_TITLES, FIGURES, CompareState, fmt_delta, fmt_duration,
                                  fmt_figure)
from tui.textsafe import clean_line

BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 16
VERDICT_MARK = {"promote": "✔ PROMOTE", "hold": "‖ HOLD", "rollback": "✖ ROLLBACK", "no-data": "? NO DATA"}
VERDICT_STYLE = {"promote": "bold green", "hold": "bold yellow", "rollback": "bold red", "no-data": "bold magenta"}
SEVERITY_MARK = {"critical": "✖ critical", "warning": "▲ warning", "info": "· info"}


def sparkline(values, width: int = SPARK_WIDTH) -> str:
    """Unicode blocks for the last `width` points (each point one block; resampled when there are more)."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return ""
    if len(vals) > width:  # bucket means, so the whole window fits
        step = len(vals) / width
        vals = [sum(vals[int(i * step):max(int((i + 1) * step), int(i * step) + 1)])
                / max(1, len(vals[int(i * step):max(int((i + 1) * step), int(i * step) + 1)])) for i in range(width)]
    lo, hi = min(vals), max(vals)
    if hi - lo <= 1e-12:
        return BLOCKS[0 if hi == 0 else 3] * len(vals)
    return "".join(BLOCKS[min(7, int((v - lo) / (hi - lo) * 7.999))] for v in vals)


def terminal_title(state: CompareState, rollout: str) -> str:
    """What the terminal (tmux window) title says: the verdict first, so a background window is marked."""
    return f"{state.verdict.label} · {clean_line(rollout)} · lookout"


class ComparePane(Widget, can_focus=True):
    """Canary vs stable. Keys: j/k (or arrows) pick a figure, p shows or hides its PromQL."""

    DEFAULT_CSS = """
    ComparePane { height: auto; min-height: 8; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "move(1)", "Next figure", show=False),
        Binding("k,up", "move(-1)", "Previous figure", show=False),
        Binding("p", "toggle_promql", "PromQL", key_display="p"),
    ]

    class VerdictChanged(Message):
        """The decision changed (e.g. to rollback): the app rings the bell once and sets the terminal title."""

        def __init__(self, old: str | None, new: str, state: CompareState) -> None:
            super().__init__()
            self.old, self.new, self.state = old, new, state

    class ShowPromQL(Message):
        """The user asked for the PromQL behind a figure (the app may copy it or open it in a dialog)."""

        def __init__(self, figure: str, promql: str) -> None:
            super().__init__()
            self.figure, self.promql = figure, promql

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._state: CompareState = EMPTY_STATE
        self.selected = 0
        self.show_promql = False
        self._decision: str | None = None

    # ---- data in -------------------------------------------------------------------------------
    @property
    def state(self) -> CompareState:
        return self._state

    @state.setter
    def state(self, value: CompareState) -> None:
        old = self._state
        self._state = value
        if value.verdict.decision != self._decision:
            prev, self._decision = self._decision, value.verdict.decision
            self.post_message(self.VerdictChanged(prev, value.verdict.decision, value))
        if value is not old:
            self.refresh(layout=True)

    @property
    def selected_figure(self) -> str:
        return FIGURES[self.selected]

    # ---- keys ----------------------------------------------------------------------------------
    def action_move(self, step: int) -> None:
        self.selected = (self.selected + step) % len(FIGURES)
        self.refresh(layout=True)

    def action_toggle_promql(self) -> None:
        self.show_promql = not self.show_promql
        fig = self.selected_figure
        q = self._state.promql.get(fig)
        if self.show_promql and q:
            self.post_message(self.ShowPromQL(fig, q))
        self.refresh(layout=True)

    # ---- drawing -------------------------------------------------------------------------------
    def render(self) -> RenderableType:
        st = self._state
        # the verdict first: in a small pane it is what must stay visible; the figures behind it follow
        parts: list[Text] = [self._verdict(st), self._header(st)]
        tracks = list(st.tracks)
        if tracks:
            parts.append(self._table(st, tracks))
        if self.show_promql:
            parts.append(self._promql(st))
        if st.findings:
            parts.append(self._findings(st))
        return Group(*parts)

    def _header(self, st: CompareState) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("metrics: ", style="dim")
        t.append(clean_line(st.source or "waiting for the first reading"))
        if st.updated_at is not None:
            age = st.age or 0.0
            t.append(f" · {fmt_duration(age)} old" if age >= 2 else " · live", style="dim")
        if st.stale:
            t.append(" · STALE: ", style="bold red")
            t.append(clean_line(st.error or "the source did not answer"))
        return t

    def _table(self, st: CompareState, tracks) -> Text:
        name_w = 13
        col_w = 10
        out = Text(no_wrap=True, overflow="ellipsis")
        head = "".ljust(name_w) + "".join(clean_line(tr.name)[: col_w - 1].rjust(col_w) for tr in tracks)
        has_delta = bool(st.deltas)
        head += ("Δ".rjust(8) if has_delta else "") + "  " + "  ".join(
            clean_line(tr.name)[:SPARK_WIDTH].ljust(SPARK_WIDTH) for tr in tracks[:2])
        out.append(head.rstrip() + "\n", style="bold")
        for i, fig in enumerate(FIGURES):
            sel = i == self.selected
            style = "reverse" if sel and self.has_focus else ("bold" if sel else "")
            line = Text(no_wrap=True)
            line.append(("▶ " if sel else "  ") + FIGURE_TITLES[fig].ljust(name_w - 2), style=style)
            for tr in tracks:
                line.append(fmt_figure(fig, tr.get(fig)).rjust(col_w))
            if has_delta:
                line.append(fmt_delta(st.deltas.get(fig)).rjust(8))
            for tr in tracks[:2]:
                line.append("  ")
                line.append(sparkline(st.history.get((tr.name, fig), ())).ljust(SPARK_WIDTH), style="cyan")
            out.append_text(line)
            out.append("\n")
        pods = " · ".join(f"{clean_line(tr.name)}: {len(tr.pods)} pod(s)" for tr in tracks)
        out.append(pods, style="dim")
        return out

    def _verdict(self, st: CompareState) -> Text:
        v = st.verdict
        t = Text(no_wrap=False)
        t.append("verdict ", style="bold")
        t.append(VERDICT_MARK.get(v.decision, v.decision), style=VERDICT_STYLE.get(v.decision, "bold"))
        if st.stale:
            t.append(" (figures are stale)", style="dim")
        for r in v.reasons[:6]:
            t.append("\n  • ")
            t.append(clean_line(r.code), style="bold")
            t.append(": ")
            t.append(clean_line(r.text))
        if len(v.reasons) > 6:
            t.append(f"\n  … {len(v.reasons) - 6} more", style="dim")
        t.append("\n")
        return t

    def _promql(self, st: CompareState) -> Text:
        fig = self.selected_figure
        t = Text()
        t.append(f"\nPromQL for {FIGURE_TITLES[fig]}: ", style="bold")
        q = st.promql.get(fig)
        if q:
            t.append("\n" + clean_line(q).replace("  / ", "\n  / ") if "\n" not in q else "\n" + q)
        else:
            t.append("not a Prometheus figure (from the Kubernetes API: pods and metrics.k8s.io)", style="dim")
        return t

    def _findings(self, st: CompareState) -> Text:
        t = Text()
        t.append("\nfindings", style="bold")
        for f in st.findings[:6]:
            t.append("\n  ")
            t.append(SEVERITY_MARK.get(f.severity, f.severity),
                     style={"critical": "red", "warning": "yellow"}.get(f.severity, "dim"))
            t.append(" " + clean_line(f.code))
            if f.track:
                t.append(f" [{clean_line(f.track)}]")
            t.append(": " + clean_line(f.summary))
            for k, v in f.evidence[:3]:
                t.append(f"\n      {clean_line(str(k))}: {clean_line(str(v))}", style="dim")
        return t
