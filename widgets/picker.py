"""The rollout picker: when nothing says what to watch and several things could be, the user chooses."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.textsafe import clean_ident, clean_line


class RolloutPicker(ModalScreen[Any]):
    """Lists candidates (Rollouts, Deployments, app labels); dismisses with the chosen one, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, candidates: list[Any], where: str) -> None:
        super().__init__()
        self.candidates = list(candidates)
        self.where = where

    def compose(self) -> ComposeResult:
        title = Text(f"Several things to watch in {clean_line(self.where)}: pick one (enter), esc cancels",
                     style="bold")
        yield Static(title, id="picker-title")
        options = []
        for i, c in enumerate(self.candidates):
            t = Text(no_wrap=True, overflow="ellipsis")
            members = getattr(c, "members", ())
            t.append(f"{getattr(c, 'symbol', '?')} ")
            t.append(f"{c.kind_word:<10} ", style="bold")
            t.append(clean_ident(f"{c.namespace}/{c.name}" if c.namespace else c.name))
            # one line per rollout, as `kubectl argo rollouts list`: strategy, phase, readiness, what it joins
            extra = " · ".join(x for x in (getattr(c, "strategy", ""), clean_line(getattr(c, "phase", "") or ""),
                                           getattr(c, "step", "") and f"step {c.step}",
                                           getattr(c, "weight", "") and f"weight {c.weight}%",
                                           getattr(c, "ready", "") and f"ready {c.ready}",
                                           members and " + ".join(clean_ident(m) for m in members)) if x)
            if extra:
                t.append(f"  {clean_line(extra)}", style="dim")
            options.append(Option(t, id=str(i)))
        yield OptionList(*options, id="picker-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.candidates[int(event.option.id)])

    def action_cancel(self) -> None:
        self.dismiss(None)
