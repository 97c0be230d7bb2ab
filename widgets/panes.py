"""The main screen's panes: a titled box around a table (pods, events) or a plain note (panes still to come)."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from rich.text import Text

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region
from textual.widgets import Input, Static

from widgets.events import EventTable
from widgets.pods import PodTable
from widgets.table import VirtualTable


class FilterInput(Input):
    """The `/` filter line of a pane; esc clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter", show=False)]

    def action_clear(self) -> None:
        self.value = ""
        pane = self.parent
        if isinstance(pane, TablePane):
            pane.close_filter()


class Pane(Vertical):
    """A box with a title that says what it shows and how fresh it is."""

    label: ClassVar[str] = ""
    can_focus_children = True
    ALLOW_MAXIMIZE = True  # z zooms a pane through Screen.maximize

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.staleness = ""

    def set_staleness(self, text: str) -> None:
        if text != self.staleness:
            self.staleness = text
            self.update_title()

    def title_parts(self) -> list[str]:
        return []

    def update_title(self) -> None:
        parts = [self.label]
        if self.staleness:
            parts.append(self.staleness)
        parts.extend(self.title_parts())
        # Text, not str: a str title is parsed as markup and staleness carries server error text
        title = Text(" · ".join(parts))
        if self._title_cache != title.plain:
            self._title_cache = title.plain
            self._set_border_title(title)

    _title_cache = ""

    def _set_border_title(self, title: Text) -> None:
        # Textual's border_title setter repaints the whole pane, the table inside included: with counts
        # in the title that move on every change, the whole table went down the wire every frame
        # (150 KB/s at 200 changes/s). Only the top border line shows the title: repaint only it.
        if not self.is_mounted or not self.outer_size.width:
            self.border_title = title
            return
        self._border_title = self.render_str(Content.from_rich_text(title)).expand_tabs(4).split()[0]
        ox, oy = self.content_offset
        self.refresh(Region(-ox, -oy, self.outer_size.width, 1))

    def catch_up(self) -> None:
        """Bring the pane up to date after it was hidden."""


class TablePane(Pane):
    """A pane whose body is a VirtualTable fed with keyed objects, converted to rows only when shown."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "open_filter", "Filter", key_display="/",
                tooltip="filter the pane (pods: name, status, track); enter keeps it, esc clears")]

    def __init__(self, table: VirtualTable, convert: Callable[[dict], Any], **kw: Any) -> None:
        super().__init__(**kw)
        self.table = table
        self.convert = convert
        self._pending: dict[Any, dict | None] = {}

    def compose(self) -> ComposeResult:
        yield self.table
        flt = FilterInput(placeholder="filter (enter keeps it, esc clears)", classes="filter")
        flt.cursor_blink = False  # deterministic screenshots
        yield flt

    def on_mount(self) -> None:
        self.query_one(FilterInput).display = False
        self.update_title()

    # ---- live data -------------------------------------------------------------------------
    def feed(self, changes: dict[Any, dict | None]) -> None:
        """Keyed objects (None = gone). Applied now if the pane is on screen, else kept for later."""
        self._pending.update(changes)
        if self.table._visible_now():
            self.catch_up()

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def catch_up(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        convert = self.convert
        self.table.update_rows((k, None if o is None else convert(o)) for k, o in pending.items())
        self.update_title()

    def reconvert_all(self, objs: dict[Any, dict]) -> None:
        """Everything again (e.g. after a namespace switch): rows that are gone are removed."""
        changes: dict[Any, dict | None] = {k: None for k in self.table.rows}
        changes.update(objs)
        self.feed(changes)

    # ---- filter ----------------------------------------------------------------------------
    def action_open_filter(self) -> None:
        inp = self.query_one(FilterInput)
        inp.display = True
        inp.value = self.table.filter
        inp.focus()

    def close_filter(self) -> None:
        inp = self.query_one(FilterInput)
        inp.display = False
        self.table.set_filter(inp.value)
        self.update_title()
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.table.set_filter(event.value)
        self.update_title()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_filter()

    def filter_title(self) -> list[str]:
        f = self.table.filter
        if not f:
            return []
        shown = len(self.table.display_keys)
        return [f'filter "{f}": {shown} shown']


class PodsPane(TablePane):
    label = "pods"

    def __init__(self, convert: Callable[[dict], Any], *, clock: Callable[[], float], **kw: Any) -> None:
        super().__init__(PodTable(clock=clock, id="pod-table"), convert, **kw)

    def title_parts(self) -> list[str]:
        return self.filter_title() + [self.table.title_counts()]


class EventsPane(TablePane):
    label = "events"

    def __init__(self, convert: Callable[[dict], Any], *, clock: Callable[[], float], max_rows: int = 500,
                 **kw: Any) -> None:
        super().__init__(EventTable(clock=clock, max_rows=max_rows, id="event-table"), convert, **kw)

    def title_parts(self) -> list[str]:
        newer = self.table.cursor if self.table.rows else 0
        above = [f"↑ {newer} newer (g: newest)"] if newer > 0 else []
        return self.filter_title() + [self.table.title_counts()] + above

    def on_virtual_table_cursor_moved(self, event: Any) -> None:
        self.update_title()


class Note(Static, can_focus=True):
    """A focusable one-line note (the metrics pane's summary on small terminals), zoomable like the others."""


class MetricsPane(Pane):
    """Canary vs stable: the ComparePane inside the grid's box; one line (the verdict) on small terminals."""

    label = "canary vs stable"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        from widgets.compare import ComparePane

        self.compare = ComparePane(id="compare-body")
        self.compact = False
        self._summary = Note("", markup=False, classes="summary")

    def compose(self) -> ComposeResult:
        yield self._summary
        yield self.compare

    def on_mount(self) -> None:
        self._summary.display = False
        self.update_title()

    def set_state(self, state: Any) -> None:
        self.compare.state = state
        self.set_staleness(_metrics_staleness(state))
        if self.compact:
            self._summary.update(_one_line(state, self.label))

    def set_roles(self, roles: Any) -> None:
        """The title follows the strategy: "green vs blue" (candidate vs baseline) on blue/green, not canary."""
        label = roles_label(roles)
        if label != self.label:
            self.label = label
            self.update_title()
            if self.compact:
                self._summary.update(_one_line(self.compare.state, label))

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self._summary.display = compact
            self.compare.display = not compact
            if compact:
                self._summary.update(_one_line(self.compare.state, self.label))

    def title_parts(self) -> list[str]:
        src = getattr(self.compare.state, "source", "") or ""
        return [src] if src else []


def _metrics_staleness(state: Any) -> str:
    from widgets.table import age_text

    if getattr(state, "updated_at", None) is None:
        return "waiting"
    age = getattr(state, "age", None)
    if getattr(state, "stale", False):
        return f"stale {age_text(age)}" if age is not None else "stale"
    return "live"


def roles_label(roles: Any) -> str:
    """The metrics pane's name for what it compares: candidate vs baseline, by the roles from the traffic."""
    from tui.textsafe import clean_ident

    strategy = getattr(roles, "strategy", "") or ""
    base, cand = getattr(roles, "baseline", None), getattr(roles, "candidate", None)
    if strategy == "bluegreen":
        if base and cand:
            return f"active {clean_ident(base)} vs {clean_ident(cand)}"
        return "blue/green"
    if base == "primary":  # Flagger
        return "canary vs primary"
    return "canary vs stable"


def _one_line(state: Any, label: str = "canary vs stable") -> Text:
    from tui.textsafe import clean_line
    from widgets.compare import VERDICT_MARK, VERDICT_STYLE

    v = state.verdict
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{label} ", style="bold")
    t.append(VERDICT_MARK.get(v.decision, v.label), style=VERDICT_STYLE.get(v.decision, "bold"))
    if v.reasons:
        t.append(" · " + clean_line(v.reasons[0].text))
    return t
