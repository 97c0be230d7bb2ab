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
    from widgets.findings import FindingsScreen
    from widgets.logs import LogScreen
    from widgets.panes import TablePane
    from widgets.table import VirtualTable

    palette = Binding("ctrl+p", "command_palette", "Palette", tooltip="command palette: every action, searchable")
    out = rows_of("main screen", MainScreen, MainScreen.BINDINGS)
    out += rows_of("everywhere", LookoutApp, list(LookoutApp.BINDINGS) + [palette])
    out += rows_of("pods, events, DNS tables", VirtualTable, VirtualTable.BINDINGS)
    out += rows_of("pods and events panes", TablePane, TablePane.BINDINGS)
    out += rows_of("canary vs stable pane", ComparePane, ComparePane.BINDINGS)
    out += rows_of("findings (f)", FindingsScreen, FindingsScreen.BINDINGS)
    out += rows_of("logs (l, L)", LogScreen, LogScreen.BINDINGS)
    out += rows_of("describe, YAML, PromQL", TextScreen, TextScreen.BINDINGS)
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
