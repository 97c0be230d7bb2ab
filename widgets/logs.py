"""`l` and `L`: following one pod's log, or every pod of a track merged and prefixed with the pod (as stern does)."""

from __future__ import annotations

from collections import deque
from typing import AsyncIterator, Callable, ClassVar

from rich.text import Text

from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Log

from tui.textsafe import clean_ident, clean_line
from widgets.textview import TermHighlighter, TextScreen

POD_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green",
               "bright_yellow", "bright_blue", "bright_red", "red")
SEPARATOR = " │ "

Follow = Callable[[str, bool], AsyncIterator[str]]  # (pod, previous) -> lines


class LogHighlighter(TermHighlighter):
    """Colours the pod prefix of merged logs and marks the search term; never parses markup."""

    def __init__(self) -> None:
        super().__init__()
        self.colours: dict[str, str] = {}

    def colour_of(self, pod: str) -> str:
        if pod not in self.colours:
            self.colours[pod] = POD_COLOURS[len(self.colours) % len(POD_COLOURS)]
        return self.colours[pod]

    def highlight(self, text: Text) -> None:
        if self.colours:
            cut = text.plain.find(SEPARATOR)
            if cut > 0:
                pod = text.plain[:cut].strip()
                text.stylize(self.colours.get(pod, "bold"), 0, cut)
        super().highlight(text)


class LogScreen(TextScreen):
    """The text view following log streams into a bounded buffer; `p` switches to the previous container, `f`
    pauses and resumes following. Search, g/G and esc are the text view's own."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_previous", "Previous container",
                tooltip="the previous container's log (after a restart), and back"),
        Binding("f", "toggle_follow", "Follow", tooltip="pause or resume following new lines"),
    ]
    loading_text = ""

    def __init__(self, title: str, pods: list[str], follow: Follow, *, merged: bool = False,
                 max_lines: int = 5000, note: str = "") -> None:
        super().__init__(title, max_lines=max_lines)
        self.pods = pods
        self.follow = follow
        self.merged = merged
        self.note = note
        self.previous = False
        self.following = True
        self._all: deque[str] = deque(maxlen=max_lines)
        self._batch: list[str] = []
        self._flush_timer: Timer | None = None
        self.highlighter = LogHighlighter()
        self.lines_received = 0

    def _title(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("logs ", style="bold")
        t.append(clean_line(self.title_text))
        t.append(" · previous container" if self.previous else " · current container")
        t.append(" · following" if self.following else " · paused")
        if self._needle:
            t.append(f' · filter "{clean_line(self._needle)}"')
        if self.note:
            t.append(f" · {clean_line(self.note)}", style="dim")
        return t

    def on_mount(self) -> None:
        super().on_mount()
        if self.merged:
            for pod in self.pods:
                self.highlighter.colour_of(clean_ident(pod))
        self._start()

    def _start(self) -> None:
        self.workers.cancel_group(self, "logs")
        for pod in self.pods:
            self.run_worker(self._follow_one(pod, self.previous), group="logs", exit_on_error=False)

    async def _follow_one(self, pod: str, previous: bool) -> None:
        prefix = f"{clean_ident(pod)}{SEPARATOR}" if self.merged else ""
        try:
            async for line in self.follow(pod, previous):
                self._add(prefix + clean_line(line.rstrip("\n")))
        except Exception as e:  # a stream that fails says so in the log, the others go on
            self._add(f"{prefix}── lookout: log stream failed: {clean_line(str(e))}")
        else:
            self._add(f"{prefix}── lookout: end of log stream")

    def _add(self, line: str) -> None:
        self.lines_received += 1
        self._all.append(line)
        self._batch.append(line)
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(0.04, self._write_batch)

    def _write_batch(self) -> None:
        self._flush_timer = None
        batch, self._batch = self._batch, []
        if not self.following:
            return
        batch = self.matching(batch)
        if batch:
            self.query_one("#text", Log).write_lines(batch, scroll_end=True)

    def all_lines(self) -> deque[str]:
        return self._all

    def _refill(self) -> None:
        super()._refill()
        self._batch.clear()

    def after_refill(self, log: Log) -> None:
        log.scroll_end(animate=False)  # a log reads from its newest line

    def action_toggle_previous(self) -> None:
        self.previous = not self.previous
        self._all.clear()
        self._batch.clear()
        self.query_one("#text", Log).clear()
        self._retitle()
        self._start()

    def action_toggle_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self._refill()
        self._retitle()

    def leave(self) -> None:
        self.workers.cancel_group(self, "logs")
        self.dismiss()
