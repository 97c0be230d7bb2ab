"""`l` and `L`: following one pod's log, or every pod of a track merged and prefixed with the pod (as stern does)."""

from __future__ import annotations

from collections import deque
from typing import AsyncIterator, Callable, ClassVar

from rich.highlighter import Highlighter
from rich.text import Text

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Log, Static

from tui.textsafe import clean_ident, clean_line

POD_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green",
               "bright_yellow", "bright_blue", "bright_red", "red")
SEPARATOR = " │ "

Follow = Callable[[str, bool], AsyncIterator[str]]  # (pod, previous) -> lines


class LogHighlighter(Highlighter):
    """Colours the pod prefix of merged logs and marks the search term; never parses markup."""

    def __init__(self) -> None:
        self.colours: dict[str, str] = {}
        self.term = ""

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
        if self.term:
            text.highlight_words([self.term], "reverse bold", case_sensitive=False)


class LogScreen(Screen):
    """Follows log streams into a bounded Log; `p` switches to the previous container, `/` filters and marks."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="back to the main screen (esc clears a search first)"),
        Binding("p", "toggle_previous", "Previous container", tooltip="the previous container's log (after a restart), and back"),
        Binding("slash", "search", "Search", key_display="/", tooltip="keep only the lines that match"),
        Binding("f", "toggle_follow", "Follow", tooltip="pause or resume following new lines"),
        Binding("q", "back", "Back", show=False, tooltip="back to the main screen"),
    ]

    def __init__(self, title: str, pods: list[str], follow: Follow, *, merged: bool = False,
                 max_lines: int = 5000, note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.pods = pods
        self.follow = follow
        self.merged = merged
        self.max_lines = max_lines
        self.note = note
        self.previous = False
        self.following = True
        self._all: deque[str] = deque(maxlen=max_lines)
        self._batch: list[str] = []
        self._flush_timer: Timer | None = None
        self._needle = ""
        self.highlighter = LogHighlighter()
        self.lines_received = 0

    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="screen-title")
        log = Log(max_lines=self.max_lines, highlight=True, id="log")
        log.highlighter = self.highlighter
        yield log
        search = Input(placeholder="search: keeps matching lines (enter keeps, esc clears)", id="search")
        search.cursor_blink = False  # deterministic screenshots
        yield search
        yield Footer()

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

    def _retitle(self) -> None:
        self.query_one(".screen-title", Static).update(self._title())

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one("#log", Log).focus()
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
        needle = self._needle.lower()
        if needle:
            batch = [ln for ln in batch if needle in ln.lower()]
        if batch:
            self.query_one("#log", Log).write_lines(batch)

    def _refill(self) -> None:
        log = self.query_one("#log", Log)
        log.clear()
        needle = self._needle.lower()
        lines = [ln for ln in self._all if needle in ln.lower()] if needle else list(self._all)
        log.write_lines(lines)
        self._batch.clear()

    def action_toggle_previous(self) -> None:
        self.previous = not self.previous
        self._all.clear()
        self._batch.clear()
        self.query_one("#log", Log).clear()
        self._retitle()
        self._start()

    def action_toggle_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self._refill()
        self._retitle()

    def action_search(self) -> None:
        inp = self.query_one("#search", Input)
        inp.display = True
        inp.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._needle = event.value.strip()
        self.highlighter.term = self._needle
        self._refill()
        self._retitle()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#log", Log).focus()

    def action_back(self) -> None:
        inp = self.query_one("#search", Input)
        if inp.has_focus or (inp.display and self._needle):
            inp.value = ""
            inp.display = False
            self.query_one("#log", Log).focus()
            return
        self.workers.cancel_group(self, "logs")
        self.dismiss()
