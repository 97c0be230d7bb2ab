"""The events pane's table: newest first, warnings marked in words, a bounded number of rows."""

from __future__ import annotations

from typing import Any, ClassVar, Iterable

from rich.style import Style

from tui.textsafe import clean_ident, clean_line
from widgets.table import FUTURE_SKEW, Column, VirtualTable

WARNING_STYLE = Style(color="yellow", bold=True)


class EventTable(VirtualTable[Any]):
    """Rows are EventRow(namespace, name, type, reason, object, message, count, last, warning)."""

    age_column: ClassVar[int | None] = 4
    follow_top: ClassVar[bool] = True  # newest first, and the newest stay in view

    _COLUMNS = [
        Column("TYPE", 9),
        Column("REASON", 18),
        Column("OBJECT", 28, keep_end=True),
        Column("COUNT", 5, "right"),
        Column("AGE", 5, "right"),
        Column("MESSAGE", 0, min_width=10),
    ]
    _NARROW_COLUMNS = [
        Column("TYPE", 9),
        Column("REASON", 17),
        Column("OBJECT", 18, keep_end=True),
        Column("#", 3, "right"),
        Column("AGE", 4, "right"),
        Column("MESSAGE", 0, min_width=10),
    ]

    def __init__(self, *, max_rows: int = 500, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_rows = max_rows
        self.warnings = 0

    def columns(self, width: int) -> list[Column]:
        return self._NARROW_COLUMNS if width < 100 else self._COLUMNS

    def cells(self, row: Any) -> list[tuple[str, Style | None]]:
        if row.warning:
            kind = ("⚠ " + clean_line(row.type or "Warning"), WARNING_STYLE)
        else:
            kind = ("· " + clean_line(row.type or "Normal"), Style(dim=True))
        return [
            kind,
            (clean_line(row.reason or ""), WARNING_STYLE if row.warning else None),
            (clean_ident(row.object or ""), None),
            (str(row.count or 1), None),
            (clean_line(row.message or ""), None),
        ]

    def age_of(self, row: Any, now: float) -> float | None:
        return None if row.last is None else now - row.last

    def sort_key(self, row: Any) -> Any:
        # an event dated in the future (bad clock, hostile reporter) sorts as if it happened on arrival,
        # then sinks as newer events come; it is not pinned at the top for years
        last = row.last or 0.0
        return (-min(last, self._clock() + FUTURE_SKEW), row.namespace, row.name)

    def matches(self, row: Any, needle: str) -> bool:
        needle = needle.lower()
        return any(
            needle in (v or "").lower() for v in (row.type, row.reason, row.object, row.message)
        )

    def row_changed(self, key: Any, old: Any, new: Any) -> None:
        self.warnings += bool(new.warning) - bool(old is not None and old.warning)

    def row_removed(self, key: Any, old: Any) -> None:
        self.warnings -= bool(old.warning)

    def update_rows(self, changes: Iterable[tuple[Any, Any]]) -> None:
        changes = list(changes)
        super().update_rows(changes)
        over = len(self._rows) - self.max_rows
        if over > 0:
            # a ring buffer by time: the oldest events go
            oldest = sorted(self._rows, key=lambda k: self._sort_keys[k], reverse=True)[:over]
            super().update_rows((k, None) for k in oldest)

    def title_counts(self) -> str:
        n = len(self._rows)
        return f"{n} event{'s' if n != 1 else ''} · {self.warnings} warning{'s' if self.warnings != 1 else ''}"
