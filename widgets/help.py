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
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def __init__(self, keys: list[tuple[str, str]], extra: list[str]) -> None:
        super().__init__()
        self.keys = keys
        self.extra = extra

    def compose(self) -> ComposeResult:
        t = Text()
        t.append("Lookout keys\n\n", style="bold")
        width = max((len(k) for k, _ in self.keys), default=8) + 2
        for key, what in self.keys:
            t.append(f"  {key:<{width}}", style="bold")
            t.append(f"{what}\n")
        for line in self.extra:
            t.append("\n")
            t.append(line)
        t.append("\n\nesc closes this help", style="dim")
        with VerticalScroll(id="help-body"):
            yield Static(t, id="help-text")

    def action_close(self) -> None:
        self.dismiss()
