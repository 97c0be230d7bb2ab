"""The one text view: describe, YAML, PromQL and logs are all a TextScreen (logs add following and the previous
container). The same keys everywhere: `/` keeps only the lines that match and marks the term, `g`/`G` go to the top
and the bottom, esc clears a search and then goes back. Every line handed in is already plain, cleaned text."""

from __future__ import annotations

from typing import Iterable, ClassVar

from rich.highlighter import Highlighter
from rich.text import Text

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, Log, Static

from tui.textsafe import clean_line


class TermHighlighter(Highlighter):
    """Marks the search term; never parses markup."""

    def __init__(self) -> None:
        self.term = ""

    def highlight(self, text: Text) -> None:
        if self.term:
            text.highlight_words([self.term], "reverse bold", case_sensitive=False)


class TextScreen(Screen):
    """A full-screen plain-text view; subclasses feed lines (all at once with show_lines, or streamed)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="back (esc clears a search first)"),
        Binding("slash", "search", "Search", key_display="/", tooltip="keep only the lines that match, marked"),
        Binding("g", "top", "Top", tooltip="to the first line"),
        Binding("G", "bottom", "Bottom", key_display="G", tooltip="to the last line"),
        Binding("q", "back", "Back", show=False, tooltip="back"),
    ]
    loading_text = "loading…"

    def __init__(self, title: str, *, max_lines: int = 100_000) -> None:
        super().__init__()
        self.title_text = title
        self.max_lines = max_lines
        self._lines: list[str] = []
        self._shown = False
        self._needle = ""
        self.highlighter: Highlighter = TermHighlighter()

    # ---- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="screen-title")
        log = Log(max_lines=self.max_lines, highlight=True, auto_scroll=False, id="text")
        log.highlighter = self.highlighter
        yield log
        search = Input(placeholder="search: keeps matching lines (enter keeps, esc clears)", id="search")
        search.cursor_blink = False  # deterministic screenshots
        yield search
        yield Footer()

    def _title(self) -> Text:
        t = Text(clean_line(self.title_text), no_wrap=True, overflow="ellipsis")
        if self._needle:
            t.append(f' · filter "{clean_line(self._needle)}"')
        return t

    def _retitle(self) -> None:
        self.query_one(".screen-title", Static).update(self._title())

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        if self._shown:  # handed over before the screen was mounted (the PromQL view, a fast fetch)
            self._refill()
        elif self.loading_text:
            self.query_one("#text", Log).write_line(self.loading_text)
        self.query_one("#text", Log).focus()

    # ---- lines -----------------------------------------------------------------------------
    def show_lines(self, lines: list[str]) -> None:
        self._lines = lines
        self._shown = True
        if self.is_mounted:
            self._refill()

    def all_lines(self) -> Iterable[str]:
        return self._lines

    def matching(self, lines: Iterable[str]) -> list[str]:
        needle = self._needle.lower()
        return [ln for ln in lines if needle in ln.lower()] if needle else list(lines)

    def _refill(self) -> None:
        log = self.query_one("#text", Log)
        log.clear()
        log.write_lines(self.matching(self.all_lines()), scroll_end=False)
        self.after_refill(log)

    def after_refill(self, log: Log) -> None:
        log.scroll_home(animate=False)

    # ---- keys ------------------------------------------------------------------------------
    def action_top(self) -> None:
        self.query_one("#text", Log).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one("#text", Log).scroll_end(animate=False)

    def action_search(self) -> None:
        inp = self.query_one("#search", Input)
        inp.display = True
        inp.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._needle = event.value.strip()
        if isinstance(self.highlighter, TermHighlighter):
            self.highlighter.term = self._needle
        self._refill()
        self._retitle()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#text", Log).focus()

    def action_back(self) -> None:
        inp = self.query_one("#search", Input)
        if inp.has_focus or (inp.display and self._needle):
            inp.value = ""
            inp.display = False
            self.query_one("#text", Log).focus()
            return
        self.leave()

    def leave(self) -> None:
        self.dismiss()
