"""Every key of the app, read from the bindings where they are declared: `?`, the README's key table and the
palette are generated from this list, and tests/test_keys.py presses each of them."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

KEY_NAMES = {
    "down": "↓", "up": "↑", "pagedown": "pgdn", "pageup": "pgup", "escape": "esc", "question_mark": "?",
    "colon": ":", "slash": "/", "space": "space", "enter": "enter", "tab": "tab", "shift+tab": "shift+tab",
    "home": "home", "end": "end",
}


@dataclass(frozen=True)
class KeyRow:
    where: str  # the screen or pane where the keys work
    keys: str  # "j / ↓"
    does: str
    action: str
    owner: str  # the class that declares the binding
    title: str = ""  # the binding's short description (footer, palette)


def key_text(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    return " / ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))


def rows_of(where: str, owner: type, bindings) -> list[KeyRow]:
    """One row per action (keys bound to the same action are joined), in declaration order."""
    by_action: dict[str, KeyRow] = {}
    for b in bindings:
        if not isinstance(b, Binding):
            b = Binding(*b)
        keys = key_text(b)
        does = b.tooltip or b.description
        row = by_action.get(b.action)
        if row is None:
            by_action[b.action] = KeyRow(where, keys, does, b.action, owner.__name__, b.description)
        else:
            by_action[b.action] = KeyRow(where, f"{row.keys} / {keys}", row.does, b.action, row.owner, row.title)
    return list(by_action.values())


def key_rows() -> list[KeyRow]:
    """Every key, by where it works."""
    from tui.app import LookoutApp, MainScreen
    from widgets.compare import ComparePane
    from widgets.describe import TextScreen
    from widgets.diff import DiffScreen
    from widgets.findings import FindingsScreen
    from widgets.help import HelpScreen
    from widgets.incident import TimelineScreen
    from widgets.logs import LogScreen
    from widgets.panes import TablePane
    from widgets.runbooks import ConfirmStep, RunbookPanel, RunbookPicker
    from widgets.table import VirtualTable

    palette = Binding("ctrl+p", "command_palette", "Palette", tooltip="command palette: every action, searchable")
    out = rows_of("main screen", MainScreen, MainScreen.BINDINGS)
    out += rows_of("everywhere", LookoutApp, list(LookoutApp.BINDINGS) + [palette])
    out += rows_of("pods, events, DNS tables", VirtualTable, VirtualTable.BINDINGS)
    out += rows_of("pods and events panes", TablePane, TablePane.BINDINGS)
    out += rows_of("canary vs stable pane", ComparePane, ComparePane.BINDINGS)
    out += rows_of("findings (f)", FindingsScreen, FindingsScreen.BINDINGS)
    out += rows_of("logs, describe, YAML, PromQL", TextScreen, TextScreen.BINDINGS)
    out += rows_of("logs (l, L)", LogScreen, LogScreen.BINDINGS)
    out += rows_of("incident timeline (t)", TimelineScreen, TimelineScreen.BINDINGS)
    out += rows_of("diff (b)", DiffScreen, DiffScreen.BINDINGS)
    out += rows_of("help (?)", HelpScreen, HelpScreen.BINDINGS)
    out += rows_of("runbook picker (r)", RunbookPicker, RunbookPicker.BINDINGS)
    out += _joined(rows_of("runbook panel", RunbookPanel, RunbookPanel.BINDINGS), "run(", "1–9", "run step 1 to 9")
    out += rows_of("confirmation of a step that changes the cluster", ConfirmStep, ConfirmStep.BINDINGS)
    return out


def _joined(rows: list[KeyRow], prefix: str, keys: str, does: str) -> list[KeyRow]:
    """Rows whose actions differ only by an argument (run(1) ... run(9)) as one row."""
    same = [r for r in rows if r.action.startswith(prefix)]
    if not same:
        return rows
    first = same[0]
    joined = KeyRow(first.where, keys, does, prefix + "N)", first.owner, "Run step N")
    out: list[KeyRow] = []
    for r in rows:
        if r in same:
            if r is first:
                out.append(joined)
            continue
        out.append(r)
    return out


def readme_table() -> list[str]:
    """The README's key table, generated (tests/test_keys.py checks the README holds exactly these rows)."""
    lines = ["| key | where | does |", "| --- | --- | --- |"]
    for r in key_rows():
        lines.append(f"| `{r.keys}` | {r.where} | {r.does} |")
    return lines


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    for r in key_rows():
        sections.setdefault(r.where, []).append((r.keys, r.does))
    return list(sections.items())


# What each key must visibly do; tests/test_keys.py presses every declared key in every pane where it is offered
# and checks this (a new binding without an entry here fails that test).
EFFECTS: dict[str, str] = {
    "app.help": "screen:HelpScreen",
    "app.command": "shown:#command-bar",
    "app.next_pane": "pane:+1",
    "app.previous_pane": "pane:-1",
    "app.freeze": "frozen",
    "app.zoom": "zoom",
    "app.back": "back",
    "app.findings": "screen:FindingsScreen",
    "app.logs": "screen:LogScreen",
    "app.track_logs": "screen:LogScreen",
    "app.describe": "screen:TextScreen",
    "app.yaml": "screen:TextScreen",
    "app.incident": "screen:IncidentForm",  # with an incident open: a notice naming it
    "app.note": "incident:NoteForm",  # without an incident: a notice saying how to start one
    "app.timeline": "incident:TimelineScreen",
    "app.diff": "screen:DiffScreen",
    "quit": "quit",
    "command_palette": "screen:CommandPalette",
    "open_filter": "shown:.filter",
    "promql": "screen:TextScreen",
    "move(1)": "figure:+1",
    "move(-1)": "figure:-1",
    "cursor_down": "cursor",
    "cursor_up": "cursor",
    "page_down": "cursor",
    "page_up": "cursor",
    "first": "cursor",
    "last": "cursor",
    # on the screens a key opens (tests/test_keys.py test_drill_down_keys)
    "back": "main",
    "close": "main",
    "jump": "main",
    "search": "shown:#search",
    "top": "scroll:top",
    "bottom": "scroll:bottom",
    "toggle_previous": "log",
    "filter": "shown:#search",
    "open": "screen:TextScreen",
    "note": "screen:NoteForm",
    "toggle_follow": "log",
    "scroll(1)": "scroll",
    "scroll(-1)": "scroll",
    # runbooks (tests/test_runbooks_app.py presses these)
    "app.runbooks": "screen:RunbookPicker",
    "cancel": "main",
    "run(N)": "step",
    "run_next": "step",
    "run_selected": "step",
    "search_output": "shown:#runbook-search",
    "zoom": "panel-zoom",
    "answer(True)": "main",
    "answer(False)": "main",
    "next_change": "diff",
    "previous_change": "diff",
    "toggle_layout": "diff",
    "toggle_switch": "diff",
    "export": "diff",
}
