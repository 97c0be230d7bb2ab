"""The Textual app: the main screen's panes, drill-downs and keys, wired to a Session's store."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable

from rich.text import Text

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer

import styles
from tui.assessment import cell_of
from tui.rollout.events import event_row
from tui.session import SessionView
from tui.rollout.pods import malformed_row, pod_row
from tui.textsafe import clean_ident, clean_line, mask_url
from widgets.command import Command, CommandBar
from widgets.describe import TextScreen, render_lines
from widgets.help import HelpScreen
from widgets.logs import LogScreen
from widgets.network import NetworkPane
from widgets.panes import EventsPane, MetricsPane, Pane, PodsPane, TablePane
from widgets.progress import RolloutStrip
from widgets.runbooks import ConfirmStep, PickerItem, RunbookPanel, RunbookPicker
from widgets.status import Banner, FindingsStrip, HealthMatrix, StatusHeader
from widgets.table import age_text

PARKED_EVENTS = 2000  # events of other objects kept to re-check when pods arrive
STATUS_MIN_INTERVAL = 0.25  # header, health and findings are recomputed at most this often on changes
STATUS_SETTLE_SECONDS = 35.0  # findings debounce on time (raise after ~5 s, clear after ~30 s): after a
STATUS_SETTLE_INTERVAL = 1.0  # change, re-evaluate this often for this long, then not at all until the next
STATUS_MAX_SHARE = 0.05  # health over 10,000 pods costs ~35 ms a tick: keep ticks under this share of one core
TTY_CHECK_SECONDS = 3.0
NARROW_WIDTH = 110
SHORT_HEIGHT = 32
MERGED_LOG_POD_LIMIT = 30

class MainScreen(Screen):
    """The panes' screen. It owns the main screen's keys: `?`, the footer, the command palette and the README's key
    table are all generated from MAIN_KEYS (tests/test_keys.py presses every one of them in every pane).
    Zoom is Textual's own maximize: the zoomed pane fills the screen below the header, matrix, banners and
    findings strip, which stay in view."""

    ALLOW_IN_MAXIMIZED_VIEW = "#header, #health, .banner, #findings, Footer"
    ESCAPE_TO_MINIMIZE = False  # esc is our own `back`: it unzooms, then clears the filter

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "app.help", "Help", key_display="?", tooltip="every key, and the demo kubeconfig"),
        Binding("colon", "app.command", "Command", key_display=":",
                tooltip="jump: :pods :events :metrics :dns :progress :ns NAME :ctx NAME :rollout NAME :q"),
        Binding("tab", "app.next_pane", "Next pane", show=False,
                tooltip="next pane: pods, canary vs stable, events, DNS / endpoints (shift+tab: previous)"),
        Binding("shift+tab", "app.previous_pane", "Previous pane", show=False, tooltip="previous pane"),
        Binding("space", "app.freeze", "Freeze", tooltip="freeze the screen while you talk; changes wait"),
        Binding("z", "app.zoom", "Zoom",
                tooltip="zoom the focused pane, or the rollout strip (:progress), to full screen (z or esc back)"),
        Binding("enter", "app.zoom", "Zoom", show=False, tooltip="zoom the focused pane (as z)"),
        Binding("escape", "app.back", "Back", show=False, tooltip="back: unzoom, clear the filter"),
        Binding("f", "app.findings", "Findings", tooltip="every finding with its evidence; enter jumps to its object"),
        Binding("l", "app.logs", "Logs", tooltip="logs of the selected pod (p previous container, / search)"),
        Binding("L", "app.track_logs", "Track logs", key_display="L",
                tooltip="merged logs of every pod of the selected pod's track"),
        Binding("d", "app.describe", "Describe", tooltip="describe the selected pod (or the event's object)"),
        Binding("y", "app.yaml", "YAML", tooltip="YAML of the selected pod (Secret values redacted)"),
        Binding("r", "app.runbooks", "Runbooks",
                tooltip="runbooks, those that fit what Lookout sees first; steps run in the panel below"),
        Binding("I", "app.incident", "Incident", key_display="I",
                tooltip="start or join an incident: from then on the timeline is written as it happens"),
        Binding("i", "app.note", "Note", tooltip="add a note to the incident timeline"),
        Binding("t", "app.timeline", "Timeline",
                tooltip="the incident timeline, merged from every Lookout on the incident, newest last"),
        Binding("b", "app.diff", "Blue/green diff",
                tooltip="blue vs green (stable vs canary): the configuration diff; w the switch preview"),
    ]

    def on_screen_resume(self) -> None:
        app = self.app
        if isinstance(app, LookoutApp):
            app.main_resumed()


def main_screen_keys() -> list[str]:
    """Keys Lookout already uses on the main screen (a runbook's `key` may not take one)."""
    out = []
    for b in list(MainScreen.BINDINGS) + list(LookoutApp.BINDINGS):
        out += [k.strip() for k in b.key.split(",")]  # type: ignore[union-attr]
    return out + ["ctrl+p", "slash", "/", "j", "k", "g", "G"] + [str(n) for n in range(1, 10)] + ["n", "x"]


def _css_path() -> str:
    # an absolute path: CSS_PATH is otherwise resolved next to this module, and the sheet lives in `styles`
    return str(Path(styles.__file__).resolve().parent / "app.tcss")


class LookoutApp(App[int]):
    """Live rollout monitor. Data arrives as store deltas, coalesced and applied in batches."""

    CSS_PATH = _css_path()
    TITLE = "Lookout"
    ENABLE_COMMAND_PALETTE = True

    # Keys that work on every screen; the main screen's own keys are MainScreen.BINDINGS.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="quit (on a drill-down screen: back)"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="quit, from anywhere"),
    ]

    def __init__(self, session: SessionView, clock: Callable[[], float] = time.time, *, check_tty: bool | None = None,
                 events_buffer: int = 1000, refresh_ms: int = 40, log_buffer_lines: int = 10_000,
                 runbooks: Any = None, incident: Any = None, incident_root: str = "incident-logs") -> None:
        super().__init__()
        self.incident: Any = None  # tui.incident.log.Incident once one is open
        self._recorder: Any = None
        self.incident_root = incident_root
        self.incident_poll_seconds = 2.0
        self._pending_incident = incident
        if runbooks is None:
            from tui.runbooks.model import load_catalog

            runbooks = load_catalog(reserved_keys=main_screen_keys())
        self.catalog = runbooks  # tui.runbooks.model.Catalog
        from tui.runbooks.runner import RunLog

        self.run_log = RunLog()  # every step run, for the incident log
        self._open_runbook: Any = None
        self._step_task: asyncio.Task | None = None
        self._suggestion_shown: str | None = None
        self.session = session
        self.clock = clock
        self.check_tty = check_tty
        self.events_buffer = events_buffer
        # [defaults] refresh_ms, event_buffer, log_buffer_lines of the config file (tui/launch.py passes them)
        self.coalesce_seconds = refresh_ms / 1000.0
        self.log_buffer_lines = log_buffer_lines
        self.frozen = False
        self.zoomed: Pane | None = None
        self._auto_zoomed = False  # zoomed because a one-line pane got the focus on a small terminal
        self._pending: dict[tuple[str, Any], dict | None] = {}
        self._parked_events: dict[Any, dict] = {}  # events not (yet) known to be the rollout's
        self._other_changes = False
        self._flush_timer: Timer | None = None
        self._status_timer: Timer | None = None
        self._status_due: float | None = None
        self._last_change = 0.0
        self._status_cost = 0.0
        self._network_shown: Any = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._resolver_sig: Any = None
        self.flushes = 0  # batches applied; tests read it
        self.terminal_title: str | None = None
        self.assessment: Any = None  # the newest tui.assessment.Assessment: everything at the top renders it
        self._decision: str | None = None
        self.settle_seconds = STATUS_SETTLE_SECONDS
        self.tty_check_seconds = TTY_CHECK_SECONDS
        self._shutting_down = False

    # ---- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield RolloutStrip(id="rollout-strip")
        yield HealthMatrix(id="health")
        yield Banner(id="connection-banner", classes="banner")
        yield Banner(id="frozen-banner", classes="banner")
        yield FindingsStrip(id="findings")
        self._pods_pane = PodsPane(self._pod_row, clock=self.clock, id="pods", classes="pane")
        self._events_pane = EventsPane(event_row, clock=self.clock, max_rows=self.events_buffer, id="events",
                                       classes="pane")
        with Container(id="grid"):
            # wide: pods | canary vs stable side by side, events full width below (messages need it)
            yield self._pods_pane
            yield MetricsPane(id="compare", classes="pane metrics")
            yield self._events_pane
            yield NetworkPane(clock=self.clock, id="network", classes="pane network")
        yield RunbookPanel(id="runbook-panel")
        yield CommandBar()
        yield Footer()

    @property
    def pods_pane(self) -> PodsPane:
        return self._pods_pane

    @property
    def events_pane(self) -> EventsPane:
        return self._events_pane

    def _pod_row(self, pod: dict):
        try:
            return pod_row(pod, self.session.resolver.track_of(pod, "pods"), self.clock())
        except Exception as e:  # noqa: BLE001 - a malformed object from the server must not take the app down
            return malformed_row(pod, None, e)

    def on_mount(self) -> None:
        for rb in self.catalog.runbooks:  # a runbook's own key opens it (the loader refused Lookout's keys)
            if rb.key:
                self.bind(rb.key, f"open_runbook_key('{rb.id}')", description=rb.title[:20], show=False)
        self.query_one(CommandBar).display = False
        self.query_one("#connection-banner", Banner).display = False
        self.query_one("#frozen-banner", Banner).display = False
        self.query_one(RunbookPanel).display = False
        self._apply_size_classes()
        store = self.session.store
        self._resolver_sig = self._resolver_signature()
        self._last_change = time.monotonic()
        # whatever the store already holds, then live deltas
        self.pods_pane.feed(dict(store.objects.get("pods", {})))
        relevant = self.session.event_relevant
        self.events_pane.feed({k: e for k, e in store.objects.get("events", {}).items() if relevant(e)})
        self._unsubscribe.append(store.subscribe(self._on_deltas))
        self._unsubscribe.append(store.subscribe_health(self._on_health))
        # slow findings run in a thread at scale: show them when done; metrics come from the session's poller
        self.session.on_derived = lambda: self._schedule_status(self._status_gap())
        self.session.on_metrics = self._on_metrics
        self.query_one("#pod-table").focus()
        self._refresh_status()
        if self.check_tty if self.check_tty is not None else not self.is_headless:
            self.set_interval(self.tty_check_seconds, self._check_terminal, name="tty-check")
        self._start_session()
        for w in getattr(getattr(self.session, "settings", None), "warnings", ()):  # a [crds.<name>] mapping skipped
            self.notify(clean_line(w), title="config", severity="warning", markup=False, timeout=15)
        if self._pending_incident is not None:
            self.use_incident(self._pending_incident)
        choice = self.session.choice
        if choice.target is None and choice.candidates:
            self._pick_rollout()

    @work(exclusive=True, exit_on_error=False, group="session")
    async def _start_session(self) -> None:
        try:
            await self.session.start()
        except Exception as e:  # the banner and staleness say the rest; the app stays up
            self.notify(f"could not start watching: {e}", severity="error", markup=False, timeout=10)
        self._schedule_status(0)

    def _on_metrics(self, _state: Any) -> None:
        """A new canary-vs-stable reading: the next status tick assesses it with everything else."""
        if not self._shutting_down:
            self._schedule_status(self._status_gap())

    def _announce(self, assessment: Any) -> None:
        """The bell (once, on a change to rollback) and the terminal title, from the assessment."""
        decision = assessment.decision
        if decision == self._decision:
            return
        self._decision = decision
        if decision == "rollback":
            self.bell()  # a tmux window in the background gets marked
        self.set_terminal_title(assessment.title)

    def on_compare_pane_show_prom_ql(self, event: Any) -> None:
        screen = TextScreen(f"PromQL · {event.figure}")
        self.push_screen(screen)
        if event.promql:
            screen.show_lines(["# paste into Prometheus or Grafana", *event.promql.splitlines()])
        else:
            screen.show_lines([f"# {event.figure}: not a Prometheus figure",
                               "# it is read from the Kubernetes API (pods, metrics.k8s.io) or a direct scrape of the"
                               " pods' /metrics, so there is no PromQL behind it"])

    def set_terminal_title(self, title: str | None) -> None:
        """OSC 2 through the driver; the text is cleaned of control characters first."""
        driver = getattr(self, "_driver", None)
        if driver is None or self.is_headless:
            self.terminal_title = title
            return
        self.terminal_title = title
        text = clean_line(title or "lookout").replace("\x07", "")
        try:
            driver.write(f"\x1b]2;{text}\x07")
        except Exception:
            pass

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self._shutting_down = True  # timers may still fire while the screens come down
        super().exit(*args, **kwargs)

    async def on_unmount(self) -> None:
        self._shutting_down = True
        if self._step_task is not None and not self._step_task.done():
            self._step_task.cancel()  # its process group is killed, and reaped before the loop goes
            await asyncio.wait({self._step_task}, timeout=3)
        if self.incident is not None:
            self.incident.close()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        try:
            await asyncio.wait_for(self.session.stop(), timeout=3)
        except Exception:
            pass

    def on_resize(self) -> None:
        self._apply_size_classes()

    def _apply_size_classes(self) -> None:
        w, h = self.size
        narrow, short = w < NARROW_WIDTH, h < SHORT_HEIGHT
        main = self.screen_stack[0] if self.screen_stack else self.screen
        main.set_class(narrow, "-narrow")
        main.set_class(short, "-short")
        for pane in main.query(MetricsPane):
            pane.set_compact((narrow or short) and self.zoomed is not pane)
        for pane in main.query(NetworkPane):
            pane.set_compact((narrow or short) and self.zoomed is not pane)
        main.query_one(HealthMatrix).compact = narrow

    # ---- live data: coalesce, then apply in one batch -------------------------------------------
    def _on_deltas(self, deltas: list) -> None:
        self._last_change = time.monotonic()
        pending = self._pending
        recorder = self._recorder
        for d in deltas:
            if d.kind in ("pods", "events"):
                pending[(d.kind, d.key)] = None if d.type == "DELETED" else d.obj
                if recorder is not None and d.kind == "events" and d.type != "DELETED" and d.obj \
                        and self.session.event_relevant(d.obj):
                    recorder.observe_event(d.obj, now=self.clock())
            else:
                self._other_changes = True
        self._arm_flush()

    def _on_health(self, _health: Any) -> None:
        self._last_change = time.monotonic()
        self._schedule_status(self._status_gap())

    def _status_gap(self) -> float:
        return max(STATUS_MIN_INTERVAL, self._status_cost / STATUS_MAX_SHARE)

    def _arm_flush(self) -> None:
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(self.coalesce_seconds, self._apply_pending, name="coalesce")

    def _apply_pending(self) -> None:
        self._flush_timer = None
        if self._shutting_down:
            return
        if self.frozen:
            self._show_frozen_banner()
            return
        pending, self._pending = self._pending, {}
        pods: dict[Any, dict | None] = {}
        events: dict[Any, dict | None] = {}
        relevant = self.session.event_relevant
        parked = self._parked_events
        for (kind, key), obj in pending.items():
            if kind == "pods":
                pods[key] = obj
            elif obj is None or relevant(obj):
                events[key] = obj  # only the rollout's own events (its pods, ReplicaSets, workload, Services)
                parked.pop(key, None)
            else:
                # maybe a pod's event that came before the pod itself: look again when pods arrive
                parked[key] = obj
                if len(parked) > PARKED_EVENTS:
                    parked.pop(next(iter(parked)))
        if pods and parked:
            for key, obj in list(parked.items()):
                if relevant(obj):
                    events[key] = parked.pop(key)
        other, self._other_changes = self._other_changes, False
        self.flushes += 1
        with self.batch_update():
            if other:
                sig = self._resolver_signature()
                if sig != self._resolver_sig:
                    # the rollout moved its stable/canary hashes: every pod's track may have changed
                    self._resolver_sig = sig
                    pods = {**self.session.store.objects.get("pods", {}), **pods}
            if pods:
                self.pods_pane.feed(pods)
            if events:
                self.events_pane.feed(events)
            self._schedule_status(self._status_gap())

    def _resolver_signature(self) -> Any:
        # the session builds a new resolver on every rollout change; only its hashes move pods between tracks
        r = self.session.resolver
        try:
            return (getattr(r, "strategy", None), tuple(sorted(r.hashes.items())))
        except Exception:
            return None

    def _catch_up_visible(self) -> None:
        with self.batch_update():
            for pane in self.query(TablePane):
                pane.catch_up()

    # ---- header, health, findings, banners, staleness -------------------------------------------
    def _schedule_status(self, delay: float) -> None:
        due = time.monotonic() + delay
        if self._status_timer is not None:
            if self._status_due is not None and self._status_due <= due:
                return
            self._status_timer.stop()
        self._status_due = due
        self._status_timer = self.set_timer(max(0.01, delay), self._status_tick, name="status")

    def _status_tick(self) -> None:
        self._status_timer = None
        self._status_due = None
        started = time.perf_counter()
        ageing = self._refresh_status()
        self._status_cost = time.perf_counter() - started
        if ageing:  # an age shown in seconds (lost connection, stale source)
            self._schedule_status(max(1.0, self._status_gap()))
        elif time.monotonic() - self._last_change < self.settle_seconds:
            self._schedule_status(max(STATUS_SETTLE_INTERVAL, self._status_gap()))
        # else: nothing changes, nothing to recompute; the next delta wakes us

    def _refresh_status(self) -> bool:
        """Render the assessment at the top of the screen and in the pane titles; True if something shows an
        age in seconds. Every word up there comes from one tui.assessment.Assessment."""
        s = self.session
        now = self.clock()
        if self._shutting_down:
            return False
        if self.frozen or not self.screen_is_main():
            if self._recorder is not None:  # the timeline is written whatever the screen shows
                try:
                    self._observe_incident(s.assess(), now)
                except Exception:
                    pass
            return False
        target = s.target
        conn = s.connection
        try:
            a = s.assess()
        except Exception as e:  # a bug in one rule must not take the screen down: say so where it shows
            import logging

            logging.getLogger(__name__).exception("assessment failed")
            self.query_one(FindingsStrip).show(Text(f"! could not assess the rollout: {clean_line(str(e))}",
                                                    no_wrap=True, overflow="ellipsis"))
            return False
        self.assessment = a
        self._observe_incident(a, now)
        ageing = False
        with self.batch_update():
            self.query_one(StatusHeader).set_state(
                context=target.context, namespace=target.namespace, rollout=target.rollout, summary=a.summary,
                connection=conn, demo=target.demo, now=now, progress=getattr(a, "progress", None), roles=a.roles)
            progress = getattr(a, "progress", None)
            self.query_one(RolloutStrip).set_progress(progress, compact=self.small())
            # a pause's time left and the time in the step tick in seconds while the update is under way
            ageing |= progress is not None and not progress.complete and (
                progress.pause_kind == "step" or progress.step_for_s is not None)
            self.query_one(HealthMatrix).set_cells(a.cells)
            view = a.network if a.network is not None else s.network_view
            if view is not None and view is not self._network_shown:
                self._network_shown = view  # the session reuses its view while nothing it reads changed
                self.query_one(NetworkPane).show(view)
            self.query_one(FindingsStrip).set_findings(a.findings,
                                                       max_lines=2 if self.size.height < SHORT_HEIGHT else 4,
                                                       suggestion=self._suggestion_line(a))
            self.query_one(MetricsPane).set_roles(a.roles)
            if a.compare is not None and (s.metrics is not None or a.decision != "no-data"):
                self.query_one(MetricsPane).set_state(a.compare)
            self._announce(a)
            banner = self.query_one("#connection-banner", Banner)
            if not conn.ok:
                since = conn.since or now
                err = clean_line(str(conn.error or "no answer"))
                banner.say(Text(f"✗ CONNECTION LOST {age_text(now - since)} ago: {err} · retrying; "
                                f"what you see is as of then", no_wrap=True, overflow="ellipsis"))
                ageing = True
            else:
                banner.say(None)
            for pane, kinds in ((self.pods_pane, ("pods",)), (self.events_pane, ("events",)),
                                (self.query_one(NetworkPane), ("services", "endpointslices"))):
                text, ticking = self._staleness(a, kinds)
                ageing |= ticking
                pane.set_staleness(text)
        return ageing

    def screen_is_main(self) -> bool:
        try:
            return self.screen is self.screen_stack[0]
        except Exception:
            return False

    @staticmethod
    def _staleness(assessment: Any, kinds: tuple[str, ...]) -> tuple[str, bool]:
        """A pane's title word from the assessment's per-source staleness: the worst of its kinds."""
        rank = {"forbidden": 0, "stale": 1, "connecting": 2, "syncing": 3, "live": 4, "not-installed": 5}
        got = [st for st in assessment.staleness if st.source in kinds]
        if not got:
            return "loading …", False
        worst = min(got, key=lambda st: rank.get(st.state, 9))
        text = "loading …" if worst.state in ("connecting", "syncing") else worst.text()
        if len(text) > 90:
            text = text[:89] + "…"
        return text, worst.state == "stale" and worst.age is not None and worst.age < 60

    # ---- freeze ----------------------------------------------------------------------------------
    def action_freeze(self) -> None:
        self.frozen = not self.frozen
        banner = self.query_one("#frozen-banner", Banner)
        if self.frozen:
            self._show_frozen_banner()
        else:
            banner.say(None)
            self._apply_pending()
            self._refresh_status()

    def _show_frozen_banner(self) -> None:
        n = len(self._pending) + (1 if self._other_changes else 0)
        self.query_one("#frozen-banner", Banner).say(
            Text(f"❄ FROZEN — {n} change{'s' if n != 1 else ''} waiting — space to resume", no_wrap=True))

    # ---- panes, focus, zoom ----------------------------------------------------------------------
    def focused_pane(self) -> Pane | None:
        node: Widget | None = self.focused
        while node is not None:
            if isinstance(node, Pane):
                return node
            node = node.parent  # type: ignore[assignment]
        return None

    def action_zoom(self) -> None:
        if not self.screen_is_main():
            return
        strip = self.query_one(RolloutStrip)
        if self.focused is strip or self.zoomed is strip:  # the rollout strip zooms like a pane
            self._auto_zoomed = False
            self.zoom(None if self.zoomed is strip else strip)
            if self.zoomed is None:
                self.call_after_refresh(self._focus_in, self.pods_pane)
            return
        pane = self.focused_pane()
        if pane is None:
            return
        self._auto_zoomed = False
        self.zoom(None if self.zoomed is pane else pane)

    # ---- every pane reachable: tab, shift+tab and :pods :events :metrics :dns ------------------------
    def panes(self) -> list[Pane]:
        """The panes in tab order."""
        main = self.screen_stack[0] if self.screen_stack else self.screen
        return [main.query_one("#pods", Pane), main.query_one("#compare", Pane), main.query_one("#events", Pane),
                main.query_one("#network", Pane)]

    def small(self) -> bool:
        w, h = self.size
        return w < NARROW_WIDTH or h < SHORT_HEIGHT

    def show_pane(self, pane: Pane) -> None:
        """Focus `pane`. On a small terminal the canary-vs-stable and DNS panes are one line each: they are shown
        zoomed while they have the focus (and unzoomed when it moves on); a pane the user zoomed stays the zoom."""
        one_line = self.small() and isinstance(pane, (MetricsPane, NetworkPane))
        before = self.zoomed
        if self.zoomed is not None and self.zoomed is not pane:
            if self._auto_zoomed or one_line:
                self.zoom(pane if one_line else None)
                self._auto_zoomed = one_line
            else:
                self.zoom(pane)  # the user zoomed: keep zooming, now this pane
        elif self.zoomed is None and one_line:
            self.zoom(pane)
            self._auto_zoomed = True
        if self.zoomed is before:
            self._focus_in(pane)
        else:  # what it shows changed: focus once it is laid out
            self.call_after_refresh(self._focus_in, pane)

    def _focus_in(self, pane: Pane) -> None:
        target = {"pods": "#pod-table", "events": "#event-table", "compare": "#compare-body",
                  "network": "#endpoint-table"}.get(pane.id or "")
        try:
            widget = pane.query_one(target) if target else None
        except Exception:
            widget = None
        if widget is None or not widget.focusable:
            widget = next((w for w in pane.query("*") if w.focusable), None)
        if widget is not None:
            widget.focus()

    def _step_pane(self, step: int) -> None:
        if not self.screen_is_main():
            return
        panes = self.panes()
        current = self.focused_pane()
        i = panes.index(current) if current in panes else -1
        self.show_pane(panes[(i + step) % len(panes)])

    def action_next_pane(self) -> None:
        self._step_pane(1)

    def action_previous_pane(self) -> None:
        self._step_pane(-1)

    def zoom(self, pane: Pane | None) -> None:
        """Zoom `pane` (or unzoom with None) through the main screen's `maximize`/`minimize`."""
        main = self.screen_stack[0] if self.screen_stack else self.screen
        self.zoomed = pane
        if pane is None:
            main.minimize()
        else:
            main.maximize(pane, container=False)
        main.set_class(pane is not None, "-zoomed")
        self._apply_size_classes()
        main.query_one(RolloutStrip).redraw()  # zoomed it shows everything; unzoomed, what fits again
        self.call_after_refresh(self._catch_up_visible)

    def action_back(self) -> None:
        if self.zoomed is not None:
            pane = self.zoomed
            self.zoom(None)
            self._auto_zoomed = False
            if isinstance(pane, RolloutStrip):
                self.call_after_refresh(self._focus_in, self.pods_pane)
                return
            if self.small() and isinstance(pane, (MetricsPane, NetworkPane)):
                self.call_after_refresh(self._focus_in, self.pods_pane)  # its one line cannot hold the focus
            return
        pane = self.focused_pane()
        if isinstance(pane, TablePane) and pane.table.filter:
            pane.table.set_filter("")
            pane.update_title()

    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    def main_resumed(self) -> None:
        self.call_after_refresh(self._catch_up_visible)
        self._schedule_status(0)

    # ---- drill-down -----------------------------------------------------------------------------
    def _selected_pod(self) -> Any | None:
        """The pod under the cursor; with the events pane focused, the pod its event is about."""
        if not self.screen_is_main():
            return None
        if self.focused_pane() is self.events_pane:
            key = self.events_pane.table.cursor_key
            ev = self.session.store.get("events", *key) if key is not None else None
            inv = (ev or {}).get("involvedObject") or (ev or {}).get("regarding") or {}
            if inv.get("kind") == "Pod":
                row = self.pods_pane.table.rows.get((inv.get("namespace") or key[0], inv.get("name") or ""))
                if row is not None:
                    return row
        row = self.pods_pane.table.cursor_row
        if row is None:
            self.notify("no pod selected", severity="warning")
        return row

    def _selected_object(self) -> tuple[str, str, str] | None:
        """(resource, namespace, name) for d / y: the event pane's event's object, else the selected pod."""
        if self.focused_pane() is self.events_pane:
            key = self.events_pane.table.cursor_key
            if key is not None:
                ev = self.session.store.get("events", *key) or {}
                inv = ev.get("involvedObject") or ev.get("regarding") or {}
                if inv.get("kind") == "Pod" and inv.get("name"):
                    return ("pods", inv.get("namespace") or key[0], inv["name"])
                return ("events", key[0], key[1])
        row = self._selected_pod()
        if row is None:
            return None
        return ("pods", row.namespace, row.name)

    def action_logs(self) -> None:
        row = self._selected_pod()
        if row is None:
            return
        ns = row.namespace

        def follow(pod: str, previous: bool):
            return self.session.follow_logs(ns, pod, container=None, previous=previous, tail=500)

        self.push_screen(LogScreen(f"{ns}/{row.name}", [row.name], follow, max_lines=self.log_buffer_lines))

    def action_track_logs(self) -> None:
        row = self._selected_pod()
        if row is None:
            return
        ns, track = row.namespace, row.track
        pods = sorted(r.name for r in self.pods_pane.table.rows.values() if r.track == track and r.namespace == ns)
        note = ""
        if len(pods) > MERGED_LOG_POD_LIMIT:
            note = f"first {MERGED_LOG_POD_LIMIT} of {len(pods)} pods"
            pods = pods[:MERGED_LOG_POD_LIMIT]

        def follow(pod: str, previous: bool):
            return self.session.follow_logs(ns, pod, container=None, previous=previous, tail=100)

        self.push_screen(LogScreen(f"{ns} · track {track or '(none)'} · {len(pods)} pods", pods, follow,
                                   merged=True, max_lines=self.log_buffer_lines, note=note))

    def action_describe(self) -> None:
        self._open_text("describe")

    def action_yaml(self) -> None:
        self._open_text("yaml")

    def _open_text(self, mode: str) -> None:
        sel = self._selected_object()
        if sel is None:
            return
        res, ns, name = sel
        screen = TextScreen(f"{mode} {res}/{ns}/{name}")
        self.push_screen(screen)
        screen.run_worker(self._load_text(screen, mode, res, ns, name), exit_on_error=False)

    async def _load_text(self, screen: TextScreen, mode: str, res: str, ns: str, name: str) -> None:
        try:
            obj = await self.session.fetch_object(res, ns, name)
        except Exception as e:
            screen.show_lines([f"could not fetch {res} {ns}/{name}: {clean_line(str(e))}"])
            return
        if not obj:
            screen.show_lines([f"{res} {ns}/{name} was not found (deleted?)"])
            return
        kind = {"pods": "Pod", "events": "Event"}.get(res, obj.get("kind") if isinstance(obj, dict) else "") or ""
        events = [] if mode == "yaml" else [
            e for e in self.session.store.list("events", ns)
            if ((e.get("involvedObject") or e.get("regarding") or {}).get("name") == name
                and (e.get("involvedObject") or e.get("regarding") or {}).get("kind") in (kind, None, ""))]
        # render_lines catches what a malformed object raises and says so in place of "loading…"
        screen.show_lines(render_lines(mode, {"kind": kind, **obj} if isinstance(obj, dict) else obj, events,
                                       now=self.clock()))

    # ---- the incident: I opens or joins, i notes, t shows the timeline ---------------------------------
    def use_incident(self, incident: Any) -> None:
        """From now on the timeline is written as it happens; the other writers' files are read every 2 s."""
        from tui.incident.recorder import Recorder

        self.incident = incident
        self._recorder = Recorder(self.record_incident)
        conn = self.session.connection
        self._recorder.observe_connection(conn.ok, None, now=self.clock())
        if self.assessment is not None:
            self._observe_incident(self.assessment, self.clock())
        for ev in self.session.store.objects.get("events", {}).values():
            if self.session.event_relevant(ev):
                self._recorder.observe_event(ev, now=self.clock())
        self.run_worker(self._poll_incident(), group="incident", exit_on_error=False)  # the others' entries now
        self.set_interval(self.incident_poll_seconds, self._poll_incident, name="incident-poll")
        self.notify(f"incident {clean_line(incident.meta.id)}: the timeline is written to {incident.path}",
                    title="incident", timeout=6)

    def record_incident(self, kind: str, text: str, **kw: Any) -> Any:
        """One timeline entry (runbook steps, confirmations and refusals call this too); None without an incident."""
        if self.incident is None:
            return None
        entry = self.incident.record(kind, text, **kw)
        self._timeline_changed([entry])
        return entry

    def _observe_incident(self, a: Any, now: float) -> None:
        if self._recorder is None:
            return
        conn = self.session.connection
        self._recorder.observe_connection(conn.ok, str(conn.error or ""), now=now)
        self._recorder.observe(a, now=now)

    async def _poll_incident(self) -> None:
        import asyncio

        inc = self.incident
        if inc is None or self._shutting_down:
            return
        new = await asyncio.to_thread(inc.poll)  # a shared (NFS) directory may be slow: never on the UI
        if new:
            self._timeline_changed(new)

    def _timeline_changed(self, entries: list) -> None:
        from widgets.incident import TimelineScreen

        for screen in self.screen_stack:
            if isinstance(screen, TimelineScreen):
                screen.add_entries(entries)

    def action_incident(self) -> None:
        if self.incident is not None:
            self.notify(f"incident {clean_line(self.incident.meta.id)} is open: t shows its timeline, i adds a note",
                        title="incident")
            return
        from tui.incident.log import new_id
        from widgets.incident import IncidentForm

        t = self.session.target
        service = f"{t.namespace or ''}/{(t.rollout or '').split('/')[-1]}"
        form = IncidentForm(service=clean_line(service.rstrip("/")), environment=clean_line(t.context or ""),
                            directory=f"{self.incident_root}/{new_id(self.clock())}")
        self.push_screen(form, self._incident_form_done)

    def _incident_form_done(self, answer: dict | None) -> None:
        if not answer:
            return
        from tui.incident.log import Incident, IncidentError

        try:
            inc = Incident.open(answer["directory"] or f"{self.incident_root}/incident", severity=answer["severity"],
                                environment=answer["environment"], service=answer["service"],
                                summary=answer["summary"], clock=self.clock)
        except IncidentError as e:
            self.notify(clean_line(str(e)), title="incident not started", severity="error", timeout=8)
            return
        self.use_incident(inc)

    def action_note(self) -> None:
        if self.incident is None:
            self.notify("no incident is open: I starts one (or lookout --incident DIR)", title="note")
            return
        from widgets.incident import NoteForm

        self.push_screen(NoteForm(), lambda text: text and self.record_incident("note", text))

    def action_timeline(self) -> None:
        if self.incident is None:
            self.notify("no incident is open: I starts one (or lookout --incident DIR)", title="timeline")
            return
        from widgets.incident import TimelineScreen

        if isinstance(self.screen, TimelineScreen):
            return
        self.push_screen(TimelineScreen(self.incident), self._timeline_open)

    def _timeline_open(self, entry: Any) -> None:
        """enter on an entry: the object it rests on (describe), or the entry whole (a step's output)."""
        if entry is None:
            return
        import json

        parts = (entry.ref or "").split("/")
        res = {"Pod": "pods", "Service": "services", "Rollout": "rollouts", "Deployment": "deployments",
               "ReplicaSet": "replicasets", "EndpointSlice": "endpointslices"}.get(parts[0]) if parts else None
        if res and len(parts) == 3 and parts[1] and parts[2] and entry.kind != "step":
            screen = TextScreen(f"describe {res}/{parts[1]}/{parts[2]}")
            self.push_screen(screen)
            screen.run_worker(self._load_text(screen, "describe", res, parts[1], parts[2]), exit_on_error=False)
            return
        screen = TextScreen(f"{entry.kind} · {entry.author}")
        self.push_screen(screen)
        lines = [clean_line(entry.text), ""]
        data = dict(entry.data)
        excerpt = data.pop("output", None)
        lines += [clean_line(ln) for ln in json.dumps(data, indent=2, ensure_ascii=False).splitlines()]
        if excerpt:
            lines += ["", "output:"] + [clean_line(ln) for ln in str(excerpt).splitlines()]
        screen.show_lines(lines)

    # ---- help, command bar, palette --------------------------------------------------------------
    def action_findings(self) -> None:
        """`f`: every finding whole, with its evidence; enter shows the object it rests on."""
        if not self.screen_is_main():
            return
        from widgets.findings import FindingsScreen

        a = self.assessment
        findings = list(a.findings) if a is not None else []
        self.push_screen(FindingsScreen(findings, f"findings · {len(findings)} · {a.rollout if a else ''}"),
                         self._jump_to_finding)

    def action_diff(self) -> None:
        """`b`: the two environments' configuration diff (tui.diff), computed off the UI loop."""
        if not self.screen_is_main():
            return
        from widgets.diff import DiffScreen

        target = self.session.target
        self.push_screen(DiffScreen(self.environment_diff, self.session.store.subscribe,
                                    target.rollout or target.selector or "app", self.clock))

    async def environment_diff(self) -> Any:
        """The rollout's two environments compared, with the switch preview, on a copy of the store in a thread;
        the baseline and the findings come from the one assessment."""
        from tui.diff.report import StoreSnapshot, diff_rollout

        s = self.session
        snapshot = StoreSnapshot(s.store)
        a = self.assessment
        baseline = a.roles.baseline if a is not None else None
        findings = tuple(a.findings) if a is not None else ()
        return await asyncio.to_thread(diff_rollout, snapshot, s.choice.target, s.resolver, baseline, findings)

    def _jump_to_finding(self, finding: Any) -> None:
        if finding is None:
            return
        objects = list(getattr(finding, "objects", ()) or ())
        ns = self.session.target.namespace
        for obj in objects:
            kind, _, name = obj.partition("/")
            if kind == "Pod":
                table = self.pods_pane.table
                if table.filter:
                    table.set_filter("")
                    self.pods_pane.update_title()
                key = next((k for k in table.rows if k[1] == name and (not ns or k[0] == ns)), None)
                if key is not None:
                    self.show_pane(self.pods_pane)
                    self.call_after_refresh(table.move_cursor, table._index.get(key, table.cursor))
                    return
            if kind in ("Service", "EndpointSlice", "Ingress", "HTTPRoute", "VirtualService", "NetworkPolicy"):
                self.show_pane(self.panes()[3])
                return
        if finding.code in ("verdict-rollback",) or cell_of(finding.code) == "metrics":
            self.show_pane(self.panes()[1])
        elif cell_of(finding.code) in ("endpoints", "DNS"):
            self.show_pane(self.panes()[3])
        else:
            self.show_pane(self.pods_pane)

    def action_help(self) -> None:
        extra: list[str] = []
        target = self.session.target
        if target.demo:
            path = target.kubeconfig_path
            extra.append("Demo mode: this is the embedded demo cluster. To use kubectl on it from another pane:")
            extra.append(f"  KUBECONFIG={path} kubectl get pods")
        if self.session.read_only:
            extra.append("Read-only: Lookout will not change anything in the cluster.")
        from widgets.keys import help_sections

        self.push_screen(HelpScreen(help_sections(), extra))

    def action_command(self) -> None:
        if self.screen_is_main():
            self.query_one(CommandBar).open()

    @on(CommandBar.Closed)
    def _command_closed(self) -> None:
        def refocus() -> None:
            if self.screen_is_main() and (self.focused is None or isinstance(self.focused, CommandBar)):
                self.query_one("#pod-table").focus()

        self.call_after_refresh(refocus)

    @on(CommandBar.Invalid)
    def _command_invalid(self, event: CommandBar.Invalid) -> None:
        self.notify(event.why, severity="warning", markup=False)

    @on(CommandBar.Run)
    def _command_run(self, event: CommandBar.Run) -> None:
        self.run_command(event.command)

    def run_command(self, cmd: Command) -> None:
        if cmd.verb == "q":
            self.exit(0)
        elif cmd.verb == "help":
            self.action_help()
        elif cmd.verb == "progress":  # the rollout strip, zoomed: every step, revision and analysis metric
            strip = self.query_one(RolloutStrip)
            if strip.display:
                strip.focus()
                if self.zoomed is not strip:
                    self._auto_zoomed = False
                    self.zoom(strip)
            else:
                self.notify("no rollout progress to show: pods selected by label have no controller", markup=False)
        elif cmd.verb in ("pods", "events", "metrics", "dns"):
            self.show_pane(self.panes()[("pods", "metrics", "events", "dns").index(cmd.verb)])
        elif cmd.verb in ("ns", "ctx", "rollout"):
            kw = {"ns": "namespace", "ctx": "context", "rollout": "rollout"}[cmd.verb]
            self._switch(kw, cmd.arg)

    def _pick_rollout(self) -> None:
        from widgets.picker import RolloutPicker

        choice = self.session.choice
        where = choice.namespace or "every namespace"

        def chosen(candidate: Any) -> None:
            if candidate is not None:  # KIND/NAME: a Rollout and a mapped CRD of one name are not confused
                kind = candidate.kind
                self._switch_to(candidate.namespace or None,
                                candidate.name if kind == "Label" or candidate.members else f"{kind}/{candidate.name}")

        self.push_screen(RolloutPicker(choice.candidates, where), chosen)

    @work(exclusive=True, exit_on_error=False, group="switch")
    async def _switch_to(self, namespace: str | None, rollout: str) -> None:
        await self._do_switch({"namespace": namespace, "rollout": rollout}, f"{namespace or ''}/{rollout}")

    @work(exclusive=True, exit_on_error=False, group="switch")
    async def _switch(self, what: str, value: str | None) -> None:
        await self._do_switch({what: value}, f"{what} to {value or '(none)'}")

    async def _do_switch(self, kwargs: dict, what: str) -> None:
        self.notify(f"switching {clean_ident(what)}…", markup=False, timeout=3)
        try:
            await self.session.switch(**kwargs)
        except Exception as e:
            self.notify(clean_line(mask_url(f"could not switch {what}: {e}")), severity="error", markup=False,
                        timeout=8)
            return
        # nothing of the previous target stays on screen: every pane is emptied and says "loading …" until the
        # new target's first data; the session refilled the store (deltas follow)
        self._pending.clear()
        self._parked_events.clear()
        store = self.session.store
        self._resolver_sig = self._resolver_signature()
        relevant = self.session.event_relevant
        self.pods_pane.reconvert_all(dict(store.objects.get("pods", {})))
        self.events_pane.reconvert_all({k: e for k, e in store.objects.get("events", {}).items() if relevant(e)})
        from tui.metrics.analysis import EMPTY_STATE

        self.query_one(MetricsPane).set_state(EMPTY_STATE)
        self.query_one(NetworkPane).reset()
        self._network_shown = None
        self.assessment = None
        self._decision = None
        for pane in self.panes():
            pane.set_staleness("loading …")
        self._schedule_status(0)
        choice = self.session.choice
        if choice.target is None and choice.candidates:
            self._pick_rollout()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette: every key's action of the screen it was opened on (from the same declarations as `?`),
        the pane jumps, and quit. Textual's own theme and screenshot commands are left out."""
        from widgets.keys import key_rows

        if isinstance(screen, MainScreen):
            seen: set[str] = set()
            for r in key_rows():
                if r.where not in ("main screen", "canary vs stable pane", "pods and events panes") \
                        or r.action in seen:
                    continue
                seen.add(r.action)
                title = {"app.help": "Lookout keys", "promql": "PromQL of the selected figure",
                         "open_filter": "Filter the focused pane", "app.freeze": "Freeze / resume",
                         "app.zoom": "Zoom pane", "app.command": "Command bar", "app.back": "Back / unzoom"
                         }.get(r.action, r.title)
                yield SystemCommand(title, f"{r.does} ({r.keys})", self._palette_action(r.action))
            for title, verb in (("Go to pods", "pods"), ("Go to canary vs stable", "metrics"),
                                ("Go to events", "events"), ("Go to DNS / endpoints", "dns")):
                yield SystemCommand(title, f":{verb}", lambda v=verb: self.run_command(Command(v, None)))
        yield SystemCommand("Quit", "Quit Lookout (q)", self.action_quit)

    def _palette_action(self, action: str) -> Callable[[], Any]:
        def run() -> None:
            if action == "promql":
                self.query_one("#compare-body").action_promql()
            elif action == "open_filter":
                pane = self.focused_pane()
                (pane if isinstance(pane, TablePane) else self.pods_pane).action_open_filter()
            else:
                self.run_action(action if "." in action else f"app.{action}")
        return run

    # ---- runbooks ----------------------------------------------------------------------------------
    def _suggestion_line(self, assessment: Any) -> str | None:
        """"canary CrashLoopBackOff ...: runbook Pods crashing, press r" while a runbook's `when` holds."""
        from tui.runbooks.suggest import suggest

        try:
            found = suggest(self.catalog.runbooks, assessment)
        except Exception:  # a broken user runbook must not take the status down
            return None
        if not found:
            return None
        s = found[0]
        return f"{s.short + ': ' if s.short else ''}runbook {s.runbook.title}, press r"

    def action_runbooks(self) -> None:
        """`r`: the picker, runbooks whose `when` holds first with what triggered them."""
        if not self.screen_is_main():
            return
        from tui.runbooks.suggest import suggest

        found = suggest(self.catalog.runbooks, self.assessment) if self.assessment is not None else []
        first = {s.runbook.id for s in found}
        self._suggested = {s.runbook.id: s for s in found}
        items = [PickerItem(s.runbook.id, s.runbook.title, s.because or "its conditions hold", s.runbook.source,
                            " ".join(s.runbook.symptoms)) for s in found]
        items += [PickerItem(r.id, r.title, "", r.source, " ".join(r.symptoms))
                  for r in sorted(self.catalog.runbooks, key=lambda r: r.title.lower()) if r.id not in first]
        self.push_screen(RunbookPicker(items, self.catalog.errors), self.open_runbook)

    def _where(self, resource_version: str | None = None) -> Any:
        from tui.runbooks.context import where_for

        row = self.pods_pane.table.cursor_row if self.screen_is_main() else None
        where = where_for(self.session, self.assessment, selected_pod=getattr(row, "name", None),
                          selected_track=getattr(row, "track", None))
        if resource_version is not None:
            from dataclasses import replace

            where = replace(where, resource_version=resource_version)
        return where

    def _workload_version(self) -> str | None:
        t = self.session.target
        if not t.rollout or t.kind not in ("Rollout", "Deployment"):
            return None
        obj = self.session.store.get("rollouts" if t.kind == "Rollout" else "deployments", t.namespace, t.rollout)
        return ((obj or {}).get("metadata") or {}).get("resourceVersion")

    def _select_pod(self, name: str) -> None:
        table = self.pods_pane.table
        ns = self.session.target.namespace
        key = next((k for k in table.rows if k[1] == name and (not ns or k[0] == ns)), None)
        if key is None:
            return
        if table.filter:
            table.set_filter("")
            self.pods_pane.update_title()
        table.move_cursor(table._index.get(key, table.cursor))

    def action_open_runbook_key(self, runbook_id: str) -> None:
        if self.screen_is_main():
            self.open_runbook(runbook_id)

    def open_runbook(self, runbook_id: str | None) -> None:
        if not runbook_id:
            return
        rb = self.catalog.get(runbook_id)
        if rb is None:
            return
        from tui.runbooks.runner import plan

        self._open_runbook = rb
        suggestion = getattr(self, "_suggested", {}).get(runbook_id)
        if suggestion is not None and suggestion.pods:
            self._select_pod(suggestion.pods[0])  # {pod}: the pod the finding that suggested it rests on
        where = self._where()
        steps = []
        for i, st in enumerate(rb.steps):
            p = plan(rb, i, where)
            steps.append((st.title, p.mutates, p.refused or p.manual or ""))
        pod = where.values.get("pod")
        self.query_one(RunbookPanel).open(rb.id, rb.title, rb.source, steps, f"{{pod}} = {pod}" if pod else "")

    @on(RunbookPanel.Run)
    def _run_step(self, event: RunbookPanel.Run) -> None:
        rb = self._open_runbook
        if rb is None or not 0 <= event.index < len(rb.steps):
            return
        if self._step_task is not None and not self._step_task.done():
            self.notify("a step is running: x cancels it", severity="warning")
            return
        self._plan_and_run(rb, event.index)

    def _plan_and_run(self, rb: Any, index: int, note: str = "") -> None:
        from tui.runbooks.runner import plan

        panel = self.query_one(RunbookPanel)
        planned = plan(rb, index, self._where(self._workload_version()))
        if planned.refused:
            panel.set_step(index, "refused", planned.refused)
            panel.write(f"$ {planned.command}" if planned.command else f"step {index + 1}: {planned.step.title}")
            panel.write(f"refused: {planned.refused}")
            self._record_refusal(planned)
            self._incident_step("refused", planned, f"refused: {planned.refused}")
            return
        if planned.manual:
            panel.set_step(index, "manual", planned.manual)
            panel.write(f"step {index + 1} by hand: {planned.manual}")
            if planned.command:
                panel.write(f"  {planned.command}")
            return
        if planned.mutates:
            def answered(yes: bool | None) -> None:
                if yes:
                    self._incident_step("confirmed", planned, f"confirmed on {planned.target}")
                    self._start_step(planned, confirmed=True)
                else:
                    panel.set_step(index, "declined", "not run: nothing changed")
                    panel.write(f"step {index + 1} not run (answered no): nothing changed")
                    self._incident_step("refused", planned, "declined at the confirmation: nothing changed")

            self.push_screen(ConfirmStep(planned.step.title, planned.target, planned.command, note), answered)
            return
        self._start_step(planned, confirmed=False)

    def _incident_step(self, kind: str, planned: Any, outcome: str, run: Any = None) -> None:
        """The incident timeline (when one is open) gets every step run, confirmation and refusal."""
        if self.incident is None:
            return
        from tui.runbooks.runner import incident_entry

        text, data = incident_entry(planned, outcome, run)
        try:
            self.record_incident(kind, text, data=data)
        except Exception as e:  # noqa: BLE001 - the step ran; a full disk must not take the app down
            self.notify(f"could not write the incident log: {clean_line(str(e))}", severity="error", markup=False)

    def _record_refusal(self, planned: Any) -> None:
        from tui.runbooks.runner import StepRun

        self.run_log.add(StepRun(planned, started=self.clock(), state="refused", why=planned.refused or ""))

    def _start_step(self, planned: Any, *, confirmed: bool) -> None:
        panel = self.query_one(RunbookPanel)
        panel.set_step(planned.index, "running", "")
        panel.write(f"{'PromQL' if planned.query else '$'} {planned.command}")
        self._step_task = asyncio.create_task(self._execute(planned, confirmed))

    async def _execute(self, planned: Any, confirmed: bool) -> None:
        from tui.runbooks.runner import CHANGED_SINCE_SHOWN, changed_since_shown, execute

        panel = self.query_one(RunbookPanel)
        try:
            run = await execute(planned, confirmed=confirmed, on_line=panel.write, log=self.run_log, clock=self.clock,
                                promql=self._promql)
        except asyncio.CancelledError:
            if not self._shutting_down:
                panel.set_step(planned.index, "cancelled", "cancelled: killed")
                panel.write("cancelled: the process was killed")
            return
        if self._shutting_down:
            return
        if changed_since_shown(planned, run):
            run.why = CHANGED_SINCE_SHOWN
            self._incident_step("refused", planned, CHANGED_SINCE_SHOWN, run)
            panel.set_step(planned.index, "refused", CHANGED_SINCE_SHOWN)
            panel.write(f"refused: {CHANGED_SINCE_SHOWN}; shown again with what it is now")
            if self._open_runbook is planned.runbook:
                self._plan_and_run(planned.runbook, planned.index, note=CHANGED_SINCE_SHOWN)
            return
        panel.set_step(planned.index, run.state, run.summary)
        panel.write(f"[{run.summary}]")
        self._incident_step("step", planned, run.summary, run)

    async def _promql(self, query: str) -> list[str]:
        """A runbook's promql step, asked through the session's Prometheus (the same URL, auth and TLS)."""
        from tui.metrics.monitor import make_source
        from tui.runbooks.runner import promql_table

        source = getattr(self, "_promql_source", None)
        if source is None:
            source = make_source(self.session, prometheus_url=getattr(self.session, "prometheus_url", None))
            if not hasattr(source, "_query"):
                raise RuntimeError("no Prometheus configured: copy the query")
            self._promql_source = source
        return await promql_table(source, query, time.time())

    @on(RunbookPanel.Cancel)
    def _cancel_step(self) -> None:
        if self._step_task is not None and not self._step_task.done():
            self._step_task.cancel()
        else:
            self.notify("no step is running", severity="information")

    @on(RunbookPanel.Closed)
    def _runbook_closed(self) -> None:
        self.call_after_refresh(self._focus_in, self.pods_pane)

    # ---- the terminal going away -----------------------------------------------------------------
    def _check_terminal(self) -> None:
        try:
            if sys.stdin is None or sys.stdin.closed or not os.isatty(sys.stdin.fileno()):
                self.exit(0)
                return
            os.tcgetpgrp(sys.stdin.fileno())  # EIO/ENOTTY once the terminal hung up
        except (OSError, ValueError):
            self.exit(0)
