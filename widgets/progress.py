"""The rollout strip: the controller's progress (phase, step N of M, pause, weights, revisions, replicas, analysis).

One line on a small terminal, the step list, revisions and analysis below it on a large one. It renders a
tui.rollout.progress.Progress handed to it through tui.rollout.strip, the renderer `lookout status` prints too;
every string in it was cleaned in tui/.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.rollout import strip
from tui.rollout.strip import MAX_FULL_LINES
from widgets.status import _TextStatic


def _text(line: strip.Line) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    for text, style in line:
        t.append(text, style=style)
    return t


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
        return _text(strip.compact(p))

    @staticmethod
    def render_full(p: Any, max_lines: int | None = MAX_FULL_LINES) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(strip.full(p, max_lines)):
            if i:
                out.append("\n")
            out.append_text(_text(line))
        return out
