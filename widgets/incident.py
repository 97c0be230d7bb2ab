"""The incident: `I` opens (or joins) one, `i` adds a note to its timeline, `t` shows the timeline merged from every
Lookout writing to the incident directory, newest last, marked by author; `/` filters by kind or text and enter
opens what an entry rests on (the object's describe, or the entry whole: a step's output)."""

from __future__ import annotations

from typing import Any, ClassVar, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from tui.textsafe import clean_line

KIND_LOOK = {
    "opened": ("●", "bold"), "joined": ("●", "dim"), "left": ("○", "dim"), "phase": ("◆", "cyan"),
    "verdict": ("⚖", "bold"), "finding-raised": ("✗", "red"), "finding-cleared": ("✓", "green"),
    "warning-event": ("⚠", "yellow"), "step": ("▶", "magenta"), "confirmed": ("✔", "magenta"),
    "refused": ("⊘", "magenta"), "connection": ("⚡", "yellow"), "note": ("✎", "bold cyan"),
}


def entry_text(e: Any, *, show_author: bool, now_fmt=None) -> Text:
    import time

    symbol, style = KIND_LOOK.get(e.kind, ("·", ""))
    t = Text(no_wrap=False)
    t.append(time.strftime("%H:%M:%S", time.gmtime(e.at)), style="dim")
    if show_author and e.author:
        t.append(f" {clean_line(e.author)}", style="bold blue")
    t.append(f" {symbol} ", style=style)
    t.append(f"{clean_line(e.kind)}: ", style="dim")
    t.append(clean_line(e.text))
    return t


class TimelineScreen(Screen[Any]):
    """The incident's timeline; it follows new entries (ours and the other writers') while the cursor is on the last."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="back (esc clears a filter first)"),
        Binding("q", "back", "Back", show=False, tooltip="back to the main screen"),
        Binding("slash", "filter", "Filter", key_display="/",
                tooltip="keep entries whose kind or text matches (verdict, step, note, finding …)"),
        Binding("enter", "open", "Open", tooltip="what the entry rests on: its object's describe, or the entry whole"),
        Binding("i", "note", "Note", tooltip="add a note to the timeline"),
        Binding("j", "cursor_down", "Down", show=False, tooltip="next entry"),
        Binding("k", "cursor_up", "Up", show=False, tooltip="previous entry"),
    ]

    def __init__(self, incident: Any) -> None:
        super().__init__()
        self.incident = incident
        self._needle = ""
        self._shown: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="screen-title")
        yield OptionList(id="timeline")
        flt = Input(placeholder="filter: a kind (step, verdict, note, finding, warning) or any text", id="search")
        flt.cursor_blink = False
        yield flt
        yield Footer()

    def _title(self) -> Text:
        m = self.incident.meta
        authors = self.incident.authors()
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("incident ", style="bold")
        t.append(f"{clean_line(m.id)} · {m.severity.upper()} · {clean_line(m.service or '')}")
        t.append(f" · {len(self.incident.entries)} entries · {len(authors)} writer{'s' if len(authors) != 1 else ''}")
        if self._needle:
            t.append(f' · filter "{clean_line(self._needle)}"')
        if self.incident.write_error:
            t.append(f" · ✗ not saved: {clean_line(self.incident.write_error)}", style="bold red")
        return t

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.refill()
        self.query_one(OptionList).focus()

    def _matches(self, e: Any) -> bool:
        n = self._needle.lower()
        return not n or n in e.kind.lower() or n in e.text.lower() or n in (e.author or "").lower()

    def refill(self) -> None:
        lst = self.query_one(OptionList)
        at_end = lst.highlighted is None or lst.highlighted >= lst.option_count - 1
        self._shown = [e for e in self.incident.entries if self._matches(e)]
        multi = len(self.incident.authors()) > 1
        lst.clear_options()
        lst.add_options([Option(entry_text(e, show_author=multi)) for e in self._shown])
        if self._shown and at_end:
            lst.highlighted = len(self._shown) - 1
            lst.scroll_end(animate=False)
        self.query_one(".screen-title", Static).update(self._title())

    def add_entries(self, entries: Iterable[Any]) -> None:
        """New entries arrived (ours or another writer's): redraw, keeping the newest in view."""
        if self.is_mounted and list(entries):
            self.refill()

    def action_back(self) -> None:
        inp = self.query_one("#search", Input)
        if inp.has_focus or (inp.display and self._needle):
            inp.value = ""
            inp.display = False
            self.query_one(OptionList).focus()
            return
        self.dismiss(None)

    def action_filter(self) -> None:
        inp = self.query_one("#search", Input)
        inp.display = True
        inp.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._needle = event.value.strip()
        self.refill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(OptionList).focus()

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_note(self) -> None:
        self.app.action_note()

    def action_open(self) -> None:
        lst = self.query_one(OptionList)
        if lst.highlighted is None or not self._shown:
            return
        self.dismiss(self._shown[lst.highlighted])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()


class IncidentForm(ModalScreen[dict | None]):
    """Start an incident: severity (004's classes), environment, service, a one-line summary, the directory."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="close without starting an incident"),
    ]

    def __init__(self, *, service: str, environment: str, directory: str) -> None:
        super().__init__()
        self.service, self.environment, self.directory = service, environment, directory

    def compose(self) -> ComposeResult:
        from tui.incident.log import SEVERITIES

        with Vertical(id="incident-form"):
            yield Label("Start or join an incident (enter on the last field starts it, esc cancels)")
            yield Select([(f"{k.upper()}: {v[0]} (respond {v[1]})", k) for k, v in SEVERITIES.items()],
                         value="high", allow_blank=False, id="severity")
            yield Input(value=self.environment, placeholder="environment (production, staging …)", id="environment")
            yield Input(value=self.service, placeholder="service", id="service")
            yield Input(value=self.directory, placeholder="directory (an existing incident's to join it)", id="dir")
            s = Input(placeholder="one-line summary: what is wrong", id="summary")
            s.cursor_blink = False
            yield s

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = False
        self.query_one("#summary", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id != "summary":
            self.focus_next()
            return
        self.dismiss({"severity": str(self.query_one("#severity", Select).value),
                      "environment": self.query_one("#environment", Input).value.strip(),
                      "service": self.query_one("#service", Input).value.strip(),
                      "directory": self.query_one("#dir", Input).value.strip(),
                      "summary": self.query_one("#summary", Input).value.strip()})

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteForm(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="close without writing a note"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="note-form"):
            yield Label("Note for the incident timeline (enter writes it, esc cancels)")
            inp = Input(placeholder="what you did, saw or decided", id="note")
            inp.cursor_blink = False
            yield inp

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
