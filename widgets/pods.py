"""The pods pane's table: PodRows grouped by track, sorted by name, with a text marker and a colour per state."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from rich.style import Style

from tui.rollout.pods import PodRow
from tui.rollout.tracks import track_sort_key
from tui.textsafe import clean_ident, clean_line
from widgets.table import Column, VirtualTable

# State -> (marker, style). The marker carries the meaning; the colour only helps.
STATE_LOOK: dict[str, tuple[str, Style]] = {
    "ok": ("✓", Style(color="green")),
    "pending": ("…", Style(color="cyan")),
    "warn": ("!", Style(color="yellow")),
    "fail": ("✗", Style(color="red", bold=True)),
    "done": ("·", Style(dim=True)),
}
_UNKNOWN_LOOK = ("?", Style())

NO_TRACK = "(no track)"


track_rank = track_sort_key  # the pods pane groups tracks in the one track order (tui.rollout.tracks)


def not_ready(row: PodRow) -> bool:
    return row.state != "done" and row.ready < row.total


class PodTable(VirtualTable[PodRow]):
    """Holds every pod of the rollout; paints only what is on screen."""

    grouped: ClassVar[bool] = True
    age_column: ClassVar[int | None] = 5

    _COLUMNS = [
        Column("NAME", 0, min_width=12, cut_middle=True),
        Column("TRACK", 7),
        Column("STATUS", 20),
        Column("READY", 5, "right"),
        Column("RST", 4, "right"),
        Column("AGE", 6, "right"),
        Column("NODE", 14),
    ]
    _NARROW_COLUMNS = [
        Column("NAME", 0, min_width=12, cut_middle=True),
        Column("TRACK", 7),
        Column("STATUS", 18),
        Column("READY", 5, "right"),
        Column("RST", 3, "right"),
        Column("AGE", 5, "right"),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.by_track: Counter[str] = Counter()
        self.not_ready_by_track: Counter[str] = Counter()

    def columns(self, width: int) -> list[Column]:
        # at 80 columns the node goes: the name matters more
        return self._NARROW_COLUMNS if width < 100 else self._COLUMNS

    def cells(self, row: PodRow) -> list[tuple[str, Style | None]]:
        marker, style = STATE_LOOK.get(row.state, _UNKNOWN_LOOK)
        return [
            (clean_ident(row.name), None),
            (row.track or "-", None),
            (f"{marker} {clean_line(row.status)}", style),
            (f"{row.ready}/{row.total}", Style(color="yellow") if not_ready(row) else None),
            (str(row.restarts), Style(color="yellow") if row.restarts else None),
            (clean_ident(row.node) or "-", None),
        ]

    def age_of(self, row: PodRow, now: float) -> float | None:
        return None if row.created is None else now - row.created

    def sort_key(self, row: PodRow) -> Any:
        return (track_rank(row.track), row.name, row.namespace)

    def group_of(self, row: PodRow) -> str:
        return row.track or NO_TRACK

    def group_label(self, group: str) -> str:
        n = self.by_track.get(group, 0)
        bad = self.not_ready_by_track.get(group, 0)
        text = f"▾ {group} · {n} pod{'s' if n != 1 else ''}"
        if bad:
            text += f" · {bad} not ready"
        return text

    def matches(self, row: PodRow, needle: str) -> bool:
        needle = needle.lower()
        return (
            needle in row.name.lower()
            or needle in row.status.lower()
            or needle in (row.track or NO_TRACK).lower()
        )

    def row_changed(self, key: Any, old: PodRow | None, new: PodRow) -> None:
        if old is not None:
            if old.track == new.track and not_ready(old) == not_ready(new):
                return  # counts unchanged: the group header need not repaint
            self.row_removed(key, old)
        g = new.track or NO_TRACK
        self._groups_dirty.add(g)
        self.by_track[g] += 1
        if not_ready(new):
            self.not_ready_by_track[g] += 1

    def row_removed(self, key: Any, old: PodRow) -> None:
        g = old.track or NO_TRACK
        self._groups_dirty.add(g)
        self.by_track[g] -= 1
        if self.by_track[g] <= 0:
            del self.by_track[g]
        if not_ready(old):
            self.not_ready_by_track[g] -= 1
            if self.not_ready_by_track[g] <= 0:
                del self.not_ready_by_track[g]

    def title_counts(self) -> str:
        total = sum(self.by_track.values())
        parts = [f"{total} pod{'s' if total != 1 else ''}"]
        for track in sorted(self.by_track, key=track_rank):
            parts.append(f"{track} {self.by_track[track]}")
        bad = sum(self.not_ready_by_track.values())
        parts.append(f"{bad} not ready")
        return " · ".join(parts)
