"""The canary-vs-stable pane: figures per track side by side, deltas, sparklines, the verdict and why, the PromQL.

It renders a CompareState handed to it (`pane.state = ...`) and fetches nothing: the app hands it the
assessment's CompareState, whose verdict and findings are the ones every other view shows (tui/assessment.py).
Cluster text (pod names, reasons, evidence) goes through rich Text after textsafe.clean_line: never markup.
"""

from __future__ import annotations

import math
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from tui.metrics.analysis import (EMPTY_STATE, FIGURE_TITLES, FIGURES, CompareState, fmt_delta, fmt_duration,
                                  fmt_figure)
from tui.textsafe import clean, clean_line

BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 16
SPARK_GAP = 2
NOISE_FLOOR = 0.05  # sparklines: a spread under 5 % of the level is drawn flat
NAME_W = 14  # "▶ memory / pod"
COL_W = 10  # one track's figure ("1023.9 Mi")
DELTA_W = 8
VERDICT_MARK = {"promote": "✔ PROMOTE", "hold": "‖ HOLD", "rollback": "✖ ROLLBACK", "no-data": "? NO DATA"}
VERDICT_STYLE = {"promote": "bold green", "hold": "bold yellow", "rollback": "bold red", "no-data": "bold magenta"}
SEVERITY_MARK = {"critical": "✖ critical", "warning": "▲ warning", "info": "· info"}


def sparkline(values, width: int = SPARK_WIDTH) -> str:
    """Unicode blocks for the last `width` points (each point one block; resampled when there are more).

    A spread under NOISE_FLOOR of the level is drawn flat: a rate of 23.9/s then 24.0/s is scrape jitter, not a
    swing from the bottom to the top."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return ""
    if len(vals) > width:  # bucket means, so the whole window fits
        step = len(vals) / width
        vals = [sum(vals[int(i * step):max(int((i + 1) * step), int(i * step) + 1)])
                / max(1, len(vals[int(i * step):max(int((i + 1) * step), int(i * step) + 1)])) for i in range(width)]
    lo, hi = min(vals), max(vals)
    span = hi - lo
    if span <= 1e-12 or span < NOISE_FLOOR * max(abs(hi), abs(lo)):
        return BLOCKS[0 if hi == 0 else 3] * len(vals)
    return "".join(BLOCKS[min(7, int((v - lo) / span * 7.999))] for v in vals)


class ComparePane(Widget, can_focus=True):
    """Canary vs stable. Keys: j/k (or arrows) pick a figure, p shows or hides its PromQL."""

    DEFAULT_CSS = """
    ComparePane { height: auto; min-height: 8; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "move(1)", "Next figure", show=False, tooltip="next figure"),
        Binding("k,up", "move(-1)", "Previous figure", show=False, tooltip="previous figure"),
        Binding("p", "promql", "PromQL", key_display="p",
                tooltip="the PromQL behind the selected figure, ready to paste into Prometheus or Grafana"),
    ]

    class ShowPromQL(Message):
        """The user asked for the PromQL behind a figure (the app may copy it or open it in a dialog)."""

        def __init__(self, figure: str, promql: str) -> None:
            super().__init__()
            self.figure, self.promql = figure, promql

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._state: CompareState = EMPTY_STATE
        self.selected = 0

    # ---- data in -------------------------------------------------------------------------------
    @property
    def state(self) -> CompareState:
        return self._state

    @state.setter
    def state(self, value: CompareState) -> None:
        old = self._state
        self._state = value
        if value is not old:
            self.refresh(layout=True)

    @property
    def selected_figure(self) -> str:
        return FIGURES[self.selected]

    # ---- keys ----------------------------------------------------------------------------------
    def action_move(self, step: int) -> None:
        self.selected = (self.selected + step) % len(FIGURES)
        self.refresh(layout=True)

    def action_promql(self) -> None:
        """Open the text view with the selected figure's PromQL (or why it has none)."""
        fig = self.selected_figure
        self.post_message(self.ShowPromQL(fig, self._state.promql.get(fig) or ""))

    # ---- drawing -------------------------------------------------------------------------------
    def render(self) -> RenderableType:
        st = self._state
        # the verdict first: in a small pane it is what must stay visible; the figures behind it follow.
        parts = self._parts(st, tight=False)
        height = self.size.height
        if height and self._fixed_height() and self._lines(parts) > height:
            # the box is smaller than the whole: first drop what the screen shows elsewhere (the findings are in
            # the strip, the source in the title) and the blank lines, keeping each reason whole; if that is
            # still too much, one line per reason (z shows them whole)
            parts = self._parts(st, tight=False, compact=True)
            if self._lines(parts) > height:
                parts = self._parts(st, tight=True)
                spare = height - self._lines(parts)
                reasons = min(6, len(st.verdict.reasons))
                if spare > 0 and reasons:
                    # the room left goes to the reasons: each is cut at the lines it can have, not at one
                    per = 1 + spare // reasons
                    parts = self._parts(st, tight=True, reason_chars=per * max(10, self.size.width - 14))
        return Group(*parts)

    def _parts(self, st: CompareState, tight: bool, compact: bool = False,
               reason_chars: int | None = None) -> list[RenderableType]:
        parts: list[RenderableType] = [self._verdict(st, tight or compact, wrap=not tight or bool(reason_chars),
                                                     reason_chars=reason_chars)]
        if not (tight or compact) or st.stale or st.updated_at is None:
            parts.append(self._header(st))
        tracks = list(st.tracks)
        if tracks:
            parts.append(self._table(st, tracks))
        if st.findings and not compact:
            parts.append(self._findings(st))
        return parts

    def _fixed_height(self) -> bool:
        h = self.styles.height
        return h is not None and not h.is_auto

    def _lines(self, parts: list[RenderableType]) -> int:
        console = self.app.console
        return len(console.render_lines(Group(*parts), console.options.update_width(self.size.width), pad=False))

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

    def _spark_tracks(self, tracks, room: int) -> list:
        """The tracks whose sparklines fit in `room` columns: both, else the candidate's, else none."""
        shown = tracks[:2]
        fit = max(0, room // (SPARK_GAP + SPARK_WIDTH))
        if fit >= len(shown):
            return shown
        if fit == 0:
            return []
        return [next((t for t in shown if t.role == "candidate"), shown[0])]

    def _table(self, st: CompareState, tracks) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        has_delta = bool(st.deltas)
        width = self.size.width or 10 ** 6  # not laid out (rendered to a console): room for everything
        figures_w = NAME_W + COL_W * len(tracks) + (DELTA_W if has_delta else 0)
        sparks = self._spark_tracks(tracks, width - figures_w)  # sparklines give way first
        head = "".ljust(NAME_W) + "".join(clean_line(tr.name)[: COL_W - 1].rjust(COL_W) for tr in tracks)
        head += "Δ".rjust(DELTA_W) if has_delta else ""
        for tr in sparks:
            head += " " * SPARK_GAP + f"{clean_line(tr.name)[:SPARK_WIDTH - 6]} trend".ljust(SPARK_WIDTH)
        out.append(head.rstrip() + "\n", style="bold")
        for i, fig in enumerate(FIGURES):
            sel = i == self.selected
            style = "reverse" if sel and self.has_focus else ("bold" if sel else "")
            line = Text(no_wrap=True)
            line.append(("▶ " if sel else "  ") + FIGURE_TITLES[fig][: NAME_W - 2].ljust(NAME_W - 2), style=style)
            for tr in tracks:
                line.append(fmt_figure(fig, tr.get(fig)).rjust(COL_W))
            if has_delta:
                line.append(fmt_delta(st.deltas.get(fig)).rjust(DELTA_W))
            for tr in sparks:
                line.append(" " * SPARK_GAP)
                line.append(sparkline(st.history.get((tr.name, fig), ())).ljust(SPARK_WIDTH), style="cyan")
            line.rstrip()
            out.append_text(line)
            out.append("\n")
        pods = " · ".join(f"{clean_line(tr.name)} {len(tr.pods)} pod{'' if len(tr.pods) == 1 else 's'}"
                          for tr in tracks)
        out.append(pods, style="dim")
        return out

    def _verdict(self, st: CompareState, tight: bool = False, wrap: bool = False,
                 reason_chars: int | None = None) -> RenderableType:
        v = st.verdict
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("verdict ", style="bold")
        t.append(VERDICT_MARK.get(v.decision, v.decision), style=VERDICT_STYLE.get(v.decision, "bold"))
        if st.stale:
            t.append(" (figures are stale)", style="dim")
        # reasons in a grid: wrapped lines keep their indent under the bullet (a hanging indent)
        grid = Table.grid(expand=True)
        grid.add_column(width=4, no_wrap=True)
        one_line = tight and not wrap
        grid.add_column(ratio=1, no_wrap=one_line, overflow="ellipsis" if one_line else "fold")
        for r in v.reasons[:6]:
            body = Text()
            if tight:  # the sentence with its numbers says more in one line than the code does; z shows both
                text = clean_line(r.text)
                if reason_chars and len(text) > reason_chars:
                    text = text[: reason_chars - 1] + "…"
                body.append(text)
            else:
                body.append(clean_line(r.code), style="bold")
                body.append(": " + clean_line(r.text))
            grid.add_row(Text("  • "), body)
        if len(v.reasons) > 6:
            grid.add_row(Text(""), Text(f"… {len(v.reasons) - 6} more", style="dim"))
        parts: list[RenderableType] = [t, grid]
        if not tight:
            parts.append(Text(""))
        return Group(*parts)

    def _findings(self, st: CompareState) -> RenderableType:
        parts: list[RenderableType] = [Text(""), Text("findings", style="bold")]
        for f in st.findings[:6]:
            head = Text()
            head.append(SEVERITY_MARK.get(f.severity, f.severity),
                        style={"critical": "red", "warning": "yellow"}.get(f.severity, "dim"))
            head.append(" " + clean_line(f.code))
            if f.track:
                head.append(f" [{clean_line(f.track)}]")
            head.append(": " + clean_line(f.summary))
            parts.append(_indented(head, 2))
            for k, v in f.evidence[:3]:
                parts.append(_indented(Text(f"{clean_line(str(k))}: {clean_line(str(v))}", style="dim"), 6))
        return Group(*parts)


def _indented(text: Text, indent: int) -> Table:
    """`text` wrapped under itself, `indent` columns in (a long API error or selector keeps its margin)."""
    grid = Table.grid(expand=True)
    grid.add_column(width=indent, no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    grid.add_row(Text(""), text)
    return grid
