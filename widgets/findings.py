"""`f`: every finding of the assessment, whole, with its evidence; enter jumps to the object it rests on."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui.textsafe import clean_line

SEVERITY_LOOK = {"critical": ("✗", "CRITICAL", "bold red"), "warning": ("!", "WARNING", "yellow"),
                 "info": ("i", "INFO", "cyan")}


def finding_text(f: Any, evidence: int = 8) -> Text:
    """One finding as plain Text: the line the strip shows, whole, then its evidence (cluster text never markup)."""
    symbol, word, style = SEVERITY_LOOK.get(f.severity, ("?", str(f.severity).upper(), ""))
    t = Text()
    t.append(f"{symbol} {word:<8}", style=style)
    if f.track:
        t.append(f" {clean_line(str(f.track))}", style="bold")
    if not getattr(f, "holding", True):  # shown until clear_after, but no longer true
        t.append(" cleared:", style="green")
    t.append(f" {clean_line(f.summary)}")
    t.append(f"  [{clean_line(f.code)}]", style="dim")
    for k, v in tuple(f.evidence)[:evidence]:
        t.append(f"\n      {clean_line(str(k))}: ", style="dim")
        t.append(clean_line(str(v)))
    if len(f.evidence) > evidence:
        t.append(f"\n      … {len(f.evidence) - evidence} more", style="dim")
    if f.objects:
        t.append("\n      on: ", style="dim")
        t.append(", ".join(clean_line(o) for o in f.objects[:6]) + (" …" if len(f.objects) > 6 else ""))
    return t


class FindingsScreen(Screen[Any]):
    """The findings, most severe first; enter dismisses with the chosen one (the app shows its object)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="back to the main screen"),
        Binding("q", "back", "Back", show=False, tooltip="back to the main screen"),
        Binding("enter", "jump", "Go to object", tooltip="show the object the finding rests on (a pod, a Service)"),
        Binding("j", "cursor_down", "Down", show=False, tooltip="next finding"),
        Binding("k", "cursor_up", "Up", show=False, tooltip="previous finding"),
    ]

    def __init__(self, findings: Sequence[Any], title: str) -> None:
        super().__init__()
        self.findings = list(findings)
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield Static(Text(clean_line(self.title_text), no_wrap=True, overflow="ellipsis"), classes="screen-title")
        if self.findings:
            yield OptionList(*(Option(finding_text(f), id=str(i)) for i, f in enumerate(self.findings)),
                             id="findings-list")
        else:
            yield Static(Text("✓ no findings"), id="findings-none")
        yield Footer()

    def on_mount(self) -> None:
        if self.findings:
            self.query_one(OptionList).focus()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_cursor_down(self) -> None:
        if self.findings:
            self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.findings:
            self.query_one(OptionList).action_cursor_up()

    def action_jump(self) -> None:
        if not self.findings:
            self.dismiss(None)
            return
        i = self.query_one(OptionList).highlighted
        self.dismiss(self.findings[i] if i is not None else None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.findings[int(event.option.id or 0)])
