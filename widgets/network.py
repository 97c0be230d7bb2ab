"""The DNS/endpoints pane: each Service with its ports and counts, the traffic split, DNS answers and network
findings on top; every EndpointSlice address below, grouped by Service. It draws the NetworkView handed to it."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from rich.style import Style
from rich.text import Text

from textual.app import ComposeResult
from textual.widgets import Static

from tui.network.dns import environment_summary
from tui.network.endpoints import EndpointRow
from tui.network.view import NetworkView
from tui.textsafe import clean_line
from widgets.panes import Pane
from widgets.table import Column, VirtualTable

TRACK_ORDER = ("stable", "primary", "canary", "blue", "green", "active", "preview")
SEVERITY_LOOK = {"critical": ("✗", Style(color="red", bold=True)), "warning": ("!", Style(color="yellow", bold=True)),
                 "info": ("i", Style(color="cyan"))}
STATE_LOOK = {"ready": ("✓", Style(color="green")), "not ready": ("✗", Style(color="red", bold=True)),
              "not ready, serving": ("!", Style(color="yellow")), "terminating": ("·", Style(dim=True)),
              "terminating, serving": ("·", Style(dim=True))}
HEAD = Style(bold=True)
DIM = Style(dim=True)


def _ip_key(ip: str) -> tuple:
    try:
        return (0,) + tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (1, ip)


def _track_rank(track: str | None) -> int:
    return TRACK_ORDER.index(track) if track in TRACK_ORDER else len(TRACK_ORDER)


class EndpointTable(VirtualTable[EndpointRow]):
    """Every address of every EndpointSlice of the rollout's Services, grouped by Service."""

    grouped: ClassVar[bool] = True

    _COLUMNS = [
        Column("ADDRESS", 15),
        Column("STATE", 22),
        Column("TRACK", 8),
        Column("POD", 0, min_width=12, keep_end=True),
        Column("NODE", 14),
        Column("SLICE", 16, keep_end=True),
    ]
    _NARROW_COLUMNS = [
        Column("ADDRESS", 15),
        Column("STATE", 14),
        Column("TRACK", 7),
        Column("POD", 0, min_width=10, keep_end=True),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.service_order: dict[str, int] = {}
        self.group_labels: dict[str, str] = {}

    def columns(self, width: int) -> list[Column]:
        return self._COLUMNS if width >= 100 else self._NARROW_COLUMNS

    def cells(self, row: EndpointRow) -> list[tuple[str, Style | None]]:
        mark, style = STATE_LOOK.get(row.state, ("?", None))
        return [(clean_line(row.address), None), (f"{mark} {row.state}", style),
                (clean_line(row.track or "-"), None), (clean_line(row.pod or "(no pod)"), None),
                (clean_line(row.node or "-"), DIM), (clean_line(row.slice), DIM)]

    def sort_key(self, row: EndpointRow) -> Any:
        return (self.service_order.get(row.service, 1 << 30), row.service, _track_rank(row.track), row.track or "",
                _ip_key(row.address), row.slice)

    def group_of(self, row: EndpointRow) -> str:
        return row.service

    def group_label(self, group: str) -> str:
        return self.group_labels.get(group) or f"Service {clean_line(group)}"

    def matches(self, row: EndpointRow, needle: str) -> bool:
        needle = needle.lower()
        return any(needle in (v or "").lower() for v in (row.address, row.pod, row.track, row.state, row.service,
                                                         row.node))


def summary_text(view: NetworkView, now: float | None = None, compact: bool = False) -> Text:
    """Services, ports, split, DNS and findings as Text: cluster strings are appended as plain text, never markup."""
    t = Text(no_wrap=False, overflow="fold")

    def line(*parts: tuple[str, Style | None] | str) -> None:
        for p in parts:
            if isinstance(p, str):
                t.append(clean_line(p))
            else:
                t.append(clean_line(p[0]), p[1])
        t.append("\n")

    if view.findings:
        line(("Findings", HEAD))
        for f in view.findings:
            mark, style = SEVERITY_LOOK.get(f.severity, ("?", None))
            track = f" [{f.track}]" if f.track else ""
            line("  ", (f"{mark} {f.severity}", style), f" {f.code}{track}: ", f.summary)
    else:
        line(("No network findings.", DIM))
    if not view.services and not any(f.code.startswith("forbidden-") for f in view.findings):
        line(("No Service selects this rollout's pods.", HEAD))  # not when we may not look: a finding says so
    for s in view.services:
        scope = f"{s.track} only" if s.track else "shared"
        role = f", {s.role}" if s.role and s.role != s.track else ""
        counts = " · ".join(f"{c.track or 'untracked'} {c.text}" for c in s.counts) or "no endpoints"
        if compact:  # 80 columns: what tells the Services apart, no addresses or names one can derive
            line(("Service ", HEAD), (s.name, HEAD), f" [{scope}{role}]  ", counts)
            line("  selector ", s.selector)
        else:
            line(("Service ", HEAD), (s.name, HEAD), f" [{scope}{role}]  {s.type} {s.cluster_ip}",
                 f"  ext {s.external}" if s.external else "", "  ", counts)
            line("  selector ", s.selector, ("  " + s.dns_name, DIM))
        for p in s.ports:
            line("  port ", p)
    if view.split:
        line(("Traffic split", HEAD))
        for l in view.split:
            note = f"  ({l.note})" if l.note and l.layer in ("nginx", "gateway") else ""
            line(f"  {l.layer:<9} ", (l.source, None), "  ", l.text, (note, DIM))
    if view.dns:
        line(("DNS", HEAD), (f"  via {view.dns_server}" if view.dns_server else "  via the system's resolvers", DIM))
        for a in view.dns:
            ttl = a.ttl_left(now) if now is not None else a.ttl
            ttl_s = f", TTL {ttl} s" if ttl is not None else ""
            env = f" → {environment_summary(a)}" if a.environments else ""
            line(f"  {a.name}  ", a.records, ttl_s, env,
                 (f"  ({a.source})" if a.source and not compact else "", DIM))
    t.rstrip()
    return t


class NetworkSummary(Static):
    DEFAULT_CSS = """
    NetworkSummary { height: auto; max-height: 60%; overflow-y: auto; padding: 0 1; }
    """


def one_line(view: NetworkView) -> Text:
    """The pane on a small terminal: services, ready endpoints, and the worst finding."""
    rows = view.endpoints
    ready = sum(1 for r in rows if r.ready)
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append("DNS / endpoints ", style="bold")
    n = len(view.services)
    t.append(f"{n} service{'s' if n != 1 else ''} · {ready}/{len(rows)} endpoints ready")
    rank = {"critical": 0, "warning": 1, "info": 2}
    worst = min(view.findings, key=lambda f: rank.get(f.severity, 3), default=None)
    if worst is not None:
        mark = {"critical": "✗", "warning": "!", "info": "i"}.get(worst.severity, "·")
        t.append(f" · {mark} {worst.severity} {clean_line(worst.code)}: {clean_line(worst.summary)}")
    return t


class NetworkPane(Pane):
    """Give it NetworkViews with `show(view)`; rows change by key, the summary only when its text does."""

    label = "DNS / endpoints"

    DEFAULT_CSS = """
    NetworkPane EndpointTable { height: 1fr; }
    """

    def __init__(self, *, clock: Callable[[], float], **kw: Any) -> None:
        super().__init__(**kw)
        self.clock = clock
        self.summary = NetworkSummary("", markup=False, id="network-summary")
        self.table = EndpointTable(clock=clock, id="endpoint-table")
        self.view: NetworkView | None = None
        self._pending: NetworkView | None = None
        self._summary_plain = None

    def compose(self) -> ComposeResult:
        yield self.summary
        yield self.table

    def on_mount(self) -> None:
        self.update_title()
        if self.view is None:
            self.summary.update(Text("DNS / endpoints · waiting for Services and EndpointSlices", no_wrap=True,
                                     overflow="ellipsis"))

    compact = False

    def set_compact(self, compact: bool) -> None:
        """Small terminals: the one-line summary only, until the pane is zoomed."""
        if compact != self.compact:
            self.compact = compact
            self.table.display = not compact
            self.summary.styles.max_height = 1 if compact else "60%"
            self._summary_plain = None
            self._draw_summary()

    def show(self, view: NetworkView) -> None:
        """Apply now when on screen; otherwise keep only the latest view for when the pane is shown."""
        self._pending = view
        if self.table._visible_now():
            self.catch_up()
        elif self.compact and self.display:  # one line on a small terminal: the summary is all that shows
            self.view, self._pending = view, None
            self._draw_summary()

    def reset(self) -> None:
        """Empty (the user switched rollout, namespace or context): nothing of the previous target stays."""
        self.view, self._pending, self._summary_plain = None, None, None
        self.table.update_rows((k, None) for k in list(self.table.rows))
        self.summary.update(Text("DNS / endpoints · loading …", no_wrap=True, overflow="ellipsis"))

    def catch_up(self) -> None:
        view, self._pending = self._pending, None
        if view is None:
            return
        self.view = view
        self._draw_summary()
        tbl = self.table
        self._apply_rows(view, tbl)

    def _draw_summary(self) -> None:
        if self.view is None:
            return
        if self.compact:
            text = one_line(self.view)
        else:
            text = summary_text(self.view, self.clock(), compact=0 < self.size.width < 100)
        if text.plain != self._summary_plain:
            self._summary_plain = text.plain
            self.summary.update(text)

    def on_resize(self) -> None:
        self._draw_summary()

    def _apply_rows(self, view: NetworkView, tbl: EndpointTable) -> None:
        order = {s.name: i for i, s in enumerate(view.services)}
        labels = {s.name: f"Service {s.name} · " + (" · ".join(f"{c.track or 'untracked'} {c.text}" for c in s.counts)
                                                   or "no endpoints") for s in view.services}
        if order != tbl.service_order or labels != tbl.group_labels:
            tbl.service_order, tbl.group_labels = order, labels
            tbl._groups_dirty |= set(labels)
            tbl._order_dirty = True  # group headers and sort keys follow the Services
            for k in list(tbl.rows):
                tbl._sort_keys[k] = tbl.sort_key(tbl.rows[k])
        fresh = {r.key: r for r in view.endpoints}
        changes: list = [(k, None) for k in tbl.rows if k not in fresh]
        changes += [(k, r) for k, r in fresh.items() if tbl.rows.get(k) != r]
        tbl.update_rows(changes)
        self.update_title()

    def title_parts(self) -> list[str]:
        v = self.view
        if v is None:
            return []
        ready = sum(1 for r in v.endpoints if r.ready and not r.terminating)
        parts = [f"{len(v.services)} service{'s' if len(v.services) != 1 else ''}",
                 f"{ready}/{len(v.endpoints)} endpoints ready"]
        crit = sum(1 for f in v.findings if f.severity == "critical")
        if v.findings:
            parts.append(f"{len(v.findings)} finding{'s' if len(v.findings) != 1 else ''}"
                         + (f" ({crit} critical)" if crit else ""))
        return parts
