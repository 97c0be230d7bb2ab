"""`?`: every key of the app, and in demo mode how kubectl can join the same cluster."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """Keys in two columns; plain text throughout (the kubeconfig path comes from outside)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", tooltip="close the help"),
        Binding("j", "scroll(1)", "Down", show=False, tooltip="scroll down"),
        Binding("k", "scroll(-1)", "Up", show=False, tooltip="scroll up"),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]], extra: list[str]) -> None:
        super().__init__()
        self.sections = sections
        self.extra = extra

    def compose(self) -> ComposeResult:
        t = Text()
        t.append("Lookout keys", style="bold")
        # the demo kubeconfig first: at 80x24 it must not be below the fold
        for line in self.extra:
            t.append("\n")
            t.append(line)
        width = max((len(k) for _, rows in self.sections for k, _ in rows), default=8) + 2
        for where, rows in self.sections:
            t.append(f"\n\n{where}", style="bold underline")
            for key, what in rows:
                t.append(f"\n  {key:<{width}}", style="bold")
                t.append(what)
        t.append("\n\nesc closes this help · j/k or arrows scroll", style="dim")
        with VerticalScroll(id="help-body"):
            yield Static(t, id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_scroll(self, lines: int) -> None:
        body = self.query_one("#help-body")
        body.scroll_to(y=body.scroll_y + lines, animate=False)

    def action_close(self) -> None:
        self.dismiss()
