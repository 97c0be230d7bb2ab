"""A keyed, virtual table: lays out only the visible rows, so 10,000 live rows cost what 40 do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Generic, Hashable, Iterable, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style

from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

R = TypeVar("R")
Key = Hashable


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    width: int  # 0 = takes the remaining width (at most one such column)
    justify: str = "left"  # "left" | "right"
    min_width: int = 4
    keep_end: bool = False  # cut from the left: for names whose end tells them apart
    cut_middle: bool = False  # cut in the middle: a pod name keeps its head and its unique suffix


@dataclass(frozen=True, slots=True)
class GroupHeader:
    """A row of the display list that names a group (e.g. a track) instead of showing an object."""

    group: str


def fit(text: str, width: int, justify: str = "left", keep_end: bool = False, cut_middle: bool = False) -> str:
    """Pad or cut `text` to exactly `width` cells; a cut shows an ellipsis so nobody misreads it as whole."""
    if width <= 0:
        return ""
    n = cell_len(text)
    if n > width:
        if width == 1:
            return "…"
        if cut_middle and width >= 8:
            # "checkout-green-7d9c5f8b4-x2k4s" -> "checkout-gr…b4-x2k4s": the suffix tells replicas apart
            tail_w = min(width - 4, max((width - 1) // 2, 12))
            head = set_cell_size(text, width - 1 - tail_w)
            tail = text[-tail_w:]
            while cell_len(tail) > tail_w:
                tail = tail[1:]
            return set_cell_size(head + "…" + tail, width)
        if keep_end:
            tail = text[-(width - 1):]
            while cell_len(tail) > width - 1:
                tail = tail[1:]
            return set_cell_size("…" + tail, width)
        return set_cell_size(text, width - 1) + "…"
    if justify == "right":
        return " " * (width - n) + text
    return text + " " * (width - n)


FUTURE_SKEW = 5.0  # a timestamp this far ahead is clock skew between nodes, shown as 0s


def age_text(seconds: float | None) -> str:
    """kubectl-like ages; the granularity decides how often the pane needs to tick.

    A timestamp in the future (a wrong clock, or a hostile object) reads "in 3y", never a frozen "0s".
    """
    if seconds is None:
        return "-"
    if seconds <= -FUTURE_SKEW:
        return "in " + _future_text(-seconds)
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h{m}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d{h}h" if h else f"{d}d"


def _future_text(s: float) -> str:
    s = int(s)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    if s < 365 * 86400:
        return f"{s // 86400}d"
    return f"{s // (365 * 86400)}y"


def next_age_change(seconds: float) -> float:
    """Seconds until `age_text(seconds)` shows something else."""
    if seconds <= -FUTURE_SKEW:
        ahead = -seconds
        step = 1.0 if ahead < 60 else 60.0 if ahead < 3600 else 3600.0
        return max(0.001, (ahead % step) or step) + 0.001
    s = max(0.0, seconds)
    if s < 60:
        step = 1.0
    elif s < 86400:
        step = 60.0
    else:
        step = 3600.0
    return step - (s % step) + 0.001


class VirtualTable(ScrollView, Generic[R], can_focus=True):
    """Rows by key; a display list rebuilt only when the key set, a sort field or the filter changes.

    Subclasses say how a row looks (`cells`), sorts (`sort_key`), groups (`group_of`) and filters
    (`matches`). Changing a row that is off-screen repaints nothing.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Down", show=False, tooltip="move the cursor down"),
        Binding("k,up", "cursor_up", "Up", show=False, tooltip="move the cursor up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, tooltip="page down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, tooltip="page up"),
        Binding("home,g", "first", "First", show=False, tooltip="first row (events: the newest)"),
        Binding("end,G", "last", "Last", show=False, tooltip="last row"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "vtable--header",
        "vtable--cursor",
        "vtable--group",
    }

    DEFAULT_CSS = """
    VirtualTable {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        background: $surface;
        & > .vtable--header { text-style: bold; color: $text-muted; }
        & > .vtable--group { text-style: bold; color: $accent; }
        & > .vtable--cursor { background: $block-cursor-blurred-background; }
        &:focus > .vtable--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    }
    """

    class CursorMoved(Message):
        def __init__(self, table: "VirtualTable", key: Key | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "VirtualTable":
            return self.table

    grouped: ClassVar[bool] = False
    # newest-first tables (events): a cursor on the first row stays on the first row as rows arrive above it,
    # so the newest stay in view; a user who moved down keeps their row (the pane says how many are newer)
    follow_top: ClassVar[bool] = False

    def __init__(self, *, clock: Callable[[], float], name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._clock = clock
        self._rows: dict[Key, R] = {}
        self._versions: dict[Key, int] = {}
        self._sort_keys: dict[Key, Any] = {}
        self._display: list[Key | GroupHeader] = []
        self._index: dict[Key | GroupHeader, int] = {}
        self._order_dirty = False
        self._filter = ""
        self.cursor = 0
        self._strips: LRUCache[tuple, Strip] = LRUCache(512)
        self._layout_width = -1
        self._widths: list[int] = []
        self._tick_timer: Timer | None = None
        self._tick_deadline: float | None = None
        self._shown_age: dict[int, str] = {}  # virtual line -> the age text it shows
        self._groups_dirty: set[str] = set()  # groups whose header text changed since the last commit
        self.repaints = 0  # lines rendered; tests use it to prove off-screen changes paint nothing
        self._paint_width = 0
        self._paint_style: Style | None = None
        self._paint_styles: dict[str, Style] = {}

    # ---- what subclasses define ---------------------------------------------------------
    def columns(self, width: int) -> list[Column]:
        """The columns at this width (narrow terminals may drop some)."""
        raise NotImplementedError

    def cells(self, row: R) -> list[tuple[str, Style | None]]:
        """Every column but the age one, as (already-clean text, style); cached per row version."""
        raise NotImplementedError

    def age_of(self, row: R, now: float) -> float | None:
        return None

    age_column: ClassVar[int | None] = None  # index into columns() where the age goes

    def sort_key(self, row: R) -> Any:
        raise NotImplementedError

    def group_of(self, row: R) -> str:
        return ""

    def group_label(self, group: str) -> str:
        return group

    def matches(self, row: R, needle: str) -> bool:
        return True

    # ---- data ----------------------------------------------------------------------------
    @property
    def rows(self) -> dict[Key, R]:
        return self._rows

    @property
    def display_keys(self) -> list[Key]:
        return [k for k in self._display if not isinstance(k, GroupHeader)]

    @property
    def filter(self) -> str:
        return self._filter

    def set_filter(self, needle: str) -> None:
        needle = needle.strip()
        if needle == self._filter:
            return
        self._filter = needle
        self._order_dirty = True
        self._commit(set())

    def update_rows(self, changes: Iterable[tuple[Key, R | None]]) -> None:
        """Apply keyed changes: a row to add or replace, or None to remove. One repaint at most."""
        touched: set[Key] = set()
        for key, row in changes:
            old = self._rows.get(key)
            if row is None:
                if old is not None:
                    del self._rows[key]
                    self._versions.pop(key, None)
                    self._sort_keys.pop(key, None)
                    self.row_removed(key, old)
                    if key in self._index:
                        self._order_dirty = True
                continue
            self._rows[key] = row
            self._versions[key] = self._versions.get(key, 0) + 1
            sk = self.sort_key(row)
            self.row_changed(key, old, row)
            if old is None:
                self._sort_keys[key] = sk
                self._order_dirty = True
                continue
            if sk != self._sort_keys.get(key):
                self._sort_keys[key] = sk
                self._order_dirty = True
            elif self._filter and (key in self._index) != self.matches(row, self._filter):
                self._order_dirty = True
            touched.add(key)
        self._commit(touched)

    def row_changed(self, key: Key, old: R | None, new: R) -> None:
        """Hook for subclasses keeping counts."""

    def row_removed(self, key: Key, old: R) -> None:
        """Hook for subclasses keeping counts."""

    def _commit(self, touched: set[Key]) -> None:
        if self._order_dirty:
            self._rebuild()
            return
        if not touched or not self._visible_now():
            self._groups_dirty.clear() if not self._visible_now() else None
            return
        top = int(self.scroll_y)
        bottom = top + self._body_height()
        for key in touched:
            i = self._index.get(key)
            if i is not None and top <= i < bottom:
                self.refresh_line(i + 1)
        self._refresh_group_headers(top, bottom)

    def _refresh_group_headers(self, top: int, bottom: int) -> None:
        dirty, self._groups_dirty = self._groups_dirty, set()
        if not self.grouped or not dirty:
            return
        for i in range(top, min(bottom, len(self._display))):
            entry = self._display[i]
            if isinstance(entry, GroupHeader) and entry.group in dirty:
                self.refresh_line(i + 1)

    def _rebuild(self) -> None:
        self._order_dirty = False
        self._groups_dirty.clear()
        at_top = self.follow_top and self.cursor == 0 and int(self.scroll_y) == 0
        old_cursor_key = self._display[self.cursor] if 0 <= self.cursor < len(self._display) and not at_top else None
        screen_offset = self.cursor - int(self.scroll_y)
        needle = self._filter
        rows = self._rows
        if needle:
            keys = [k for k, r in rows.items() if self.matches(r, needle)]
        else:
            keys = list(rows)
        keys.sort(key=self._sort_keys.__getitem__)
        if self.grouped:
            display: list[Key | GroupHeader] = []
            current = None
            group_of = self.group_of
            for k in keys:
                g = group_of(rows[k])
                if g != current:
                    display.append(GroupHeader(g))
                    current = g
                display.append(k)
        else:
            display = keys  # type: ignore[assignment]
        self._display = display
        self._index = {k: i for i, k in enumerate(display)}
        self._strips.clear()
        self._shown_age.clear()
        n = len(display)
        if old_cursor_key is not None and old_cursor_key in self._index:
            self.cursor = self._index[old_cursor_key]
        elif at_top:
            self.cursor = 0
        else:
            self.cursor = max(0, min(self.cursor, n - 1))
        self._set_virtual_height(n + 1)
        if self.size.height:
            self.scroll_to(y=max(0, self.cursor - screen_offset), animate=False, force=True)
        self.refresh()

    def _set_virtual_height(self, height: int) -> None:
        """Grow or shrink the scrollable height without a screen-wide layout when the scrollbar stays as it is.

        Assigning `virtual_size` lays out the whole screen (tens of ms); a table that gains a row
        only needs its scrollbar updated, unless the scrollbar appears or disappears.
        """
        new = Size(self.size.width, height)
        old = self.virtual_size
        if new == old:
            return
        viewport = self.container_size.height
        if not self.is_mounted or not viewport or (old.height > viewport) != (height > viewport) \
                or old.width != new.width:
            self.virtual_size = new
            return
        self.set_reactive(ScrollView.virtual_size, new)
        self._scroll_update(new)

    # ---- cursor --------------------------------------------------------------------------
    @property
    def cursor_key(self) -> Key | None:
        if 0 <= self.cursor < len(self._display):
            k = self._display[self.cursor]
            if isinstance(k, GroupHeader):
                # the first row of that group is what the user means
                nxt = self.cursor + 1
                if nxt < len(self._display) and not isinstance(self._display[nxt], GroupHeader):
                    return self._display[nxt]
                return None
            return k
        return None

    @property
    def cursor_row(self) -> R | None:
        k = self.cursor_key
        return None if k is None else self._rows.get(k)

    def move_cursor(self, index: int) -> None:
        n = len(self._display)
        if n == 0:
            return
        index = max(0, min(index, n - 1))
        old = self.cursor
        self.cursor = index
        if old != index:
            if 0 <= old < n:
                self.refresh_line(old + 1)
            self.refresh_line(index + 1)
            self.post_message(self.CursorMoved(self, self.cursor_key))
        self._scroll_cursor_into_view()

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        h = self._body_height()
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, force=True)
        elif self.cursor >= top + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False, force=True)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self._body_height())

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self._body_height())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._display) - 1)

    def on_click(self, event) -> None:
        y = event.y
        if y >= 1:
            self.move_cursor(int(self.scroll_y) + y - 1)

    # ---- painting ------------------------------------------------------------------------
    def _visible_now(self) -> bool:
        try:
            # not Screen.is_current: that also counts the screen right below the top one
            if self.app.screen is not self.screen:
                return False
        except Exception:
            return False
        maximized = getattr(self.screen, "maximized", None)
        if maximized is not None and maximized is not self and maximized not in self.ancestors:
            return False  # another pane is zoomed (Screen.maximize): this one is not drawn
        node = self
        while node is not None and node is not self.screen:
            if not node.display:
                return False
            node = node.parent
        return True

    def on_resize(self) -> None:
        self._layout_width = -1
        self._strips.clear()
        self.virtual_size = Size(self.size.width, len(self._display) + 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def _column_widths(self, width: int) -> list[int]:
        if width == self._layout_width:
            return self._widths
        cols = self.columns(width)
        fixed = sum(c.width for c in cols if c.width) + (len(cols) - 1)
        flex = max(0, width - fixed)
        widths = []
        for c in cols:
            widths.append(c.width if c.width else max(c.min_width, flex))
        self._widths = widths
        self._layout_width = width
        return widths

    def _line(self, parts: list[tuple[str, Style | None]], base: Style, width: int) -> Strip:
        cols = self.columns(width)
        widths = self._column_widths(width)
        segs: list[Segment] = []
        used = 0
        for i, (col, w) in enumerate(zip(cols, widths)):
            if used >= width:
                break
            w = min(w, width - used)
            text, style = parts[i] if i < len(parts) else ("", None)
            segs.append(Segment(fit(text, w, col.justify, col.keep_end, col.cut_middle), base + style if style else base))
            used += w
            if used < width:
                segs.append(Segment(" ", base))
                used += 1
        if used < width:
            segs.append(Segment(" " * (width - used), base))
        return Strip(segs, width)

    def render_lines(self, crop):
        # computed once per paint, not once per line: both walk the DOM
        self._paint_width = self.scrollable_content_region.width or self.size.width
        self._paint_style = self.rich_style
        self._paint_styles = {
            name: self.get_component_rich_style(name, partial=True)
            for name in ("vtable--header", "vtable--cursor", "vtable--group")
        }
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self._paint_width or self.scrollable_content_region.width or self.size.width
        base = self._paint_style or self.rich_style
        component = self._paint_styles or {
            name: self.get_component_rich_style(name, partial=True)
            for name in ("vtable--header", "vtable--cursor", "vtable--group")
        }
        if y == 0:
            hstyle = base + component["vtable--header"]
            return self._line([(c.label, None) for c in self.columns(width)], hstyle, width)
        i = int(self.scroll_y) + y - 1
        if i >= len(self._display):
            return Strip.blank(width, base)
        self.repaints += 1
        entry = self._display[i]
        is_cursor = i == self.cursor
        if isinstance(entry, GroupHeader):
            style = base + component["vtable--group"]
            if is_cursor:
                style += component["vtable--cursor"]
            label = self.group_label(entry.group)
            return Strip([Segment(fit(label, width), style)], width)
        row = self._rows[entry]
        now = self._clock()
        age = self.age_of(row, now) if self.age_column is not None else None
        age_s = age_text(age) if self.age_column is not None else ""
        if age is not None:
            self._shown_age[i] = age_s
            self._arm_tick(next_age_change(age))
        cache_key = (entry, self._versions.get(entry), is_cursor, width, age_s)
        strip = self._strips.get(cache_key)
        if strip is not None:
            return strip
        parts = list(self.cells(row))
        if self.age_column is not None:
            parts.insert(self.age_column, (age_s, None))
        row_base = base
        if is_cursor:
            cursor_style = component["vtable--cursor"]
            row_base = base + cursor_style
            parts = [(t, (s + cursor_style) if s else None) for t, s in parts]
        strip = self._line(parts, row_base, width)
        self._strips[cache_key] = strip
        return strip

    # ---- ages: tick only when a shown age would change -----------------------------------
    def _arm_tick(self, delay: float) -> None:
        loop_now = self._clock()
        deadline = loop_now + delay
        if self._tick_deadline is not None and self._tick_deadline <= deadline + 0.05:
            return
        if self._tick_timer is not None:
            self._tick_timer.stop()
        self._tick_deadline = deadline
        self._tick_timer = self.set_timer(max(0.05, delay), self._age_tick, name="age-tick")

    def _age_tick(self) -> None:
        self._tick_timer = None
        self._tick_deadline = None
        if not self._visible_now():
            self._shown_age.clear()  # a repaint when shown re-arms the tick
            return
        now = self._clock()
        top = int(self.scroll_y)
        h = self._body_height()
        soonest: float | None = None
        for i in range(top, min(top + h, len(self._display))):
            entry = self._display[i]
            if isinstance(entry, GroupHeader):
                continue
            age = self.age_of(self._rows[entry], now)
            if age is None:
                continue
            if age_text(age) != self._shown_age.get(i):
                self.refresh_line(i + 1)  # re-rendering re-arms the tick
            else:
                nxt = next_age_change(age)
                soonest = nxt if soonest is None else min(soonest, nxt)
        if soonest is not None:
            self._arm_tick(soonest)
