"""`b`: blue vs green (stable vs canary): the configuration diff, unified or side by side, and the switch preview.

The screen renders what it is handed (tui.diff's EnvDiff, computed off the UI loop by the app) and asks again when
either side changes. Every line carries a `+` / `-` / `~` marker, so it reads without colour (NO_COLOR)."""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any, Awaitable, Callable, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from tui.diff.render import DiffLine, side_by_side, text as diff_text, unified
from tui.diff.report import DIFF_KINDS
from tui.textsafe import clean_ident, clean_line

STYLES = {"+": "green", "-": "red", "~": "yellow", "@": "bold cyan", "h": "bold", "?": "magenta", "=": "dim",
          "✗": "bold red", "!": "yellow"}
REFRESH_AFTER = 0.5  # s: a burst of changes to either side is one recomputation


def export_name(app: str, now: float) -> str:
    """./lookout-diff-<app>-<time>.diff, the app's name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", clean_ident(app or "app")).strip("._") or "app"
    stamp = _dt.datetime.fromtimestamp(now, _dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"lookout-diff-{safe}-{stamp}.diff"


def export_text(env: Any) -> str:
    """The unified diff, then the switch preview as comment lines."""
    out = diff_text(env.result)
    if env.switch is not None:
        out += "\n\n" + "\n".join(f"# {line}" if line else "#" for line in env.switch.lines())
    return out + "\n"


class DiffScreen(Screen):
    """The two environments compared: a summary by kind, then the changes; `w` the switch preview."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", tooltip="back to the main screen"),
        Binding("n", "next_change", "Next change", tooltip="next change"),
        Binding("N", "previous_change", "Prev change", key_display="N", tooltip="previous change"),
        Binding("s", "toggle_layout", "Side by side", tooltip="unified or side by side"),
        Binding("w", "toggle_switch", "Switch preview",
                tooltip="switch preview: the selectors that would change, the pods that would take the traffic, "
                        "what blocks it (w again: the diff)"),
        Binding("e", "export", "Export", tooltip="export the diff to ./lookout-diff-<app>-<time>.diff"),
        Binding("j,down", "scroll(1)", "Down", show=False, tooltip="scroll down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, tooltip="scroll up"),
    ]

    def __init__(self, compute: Callable[[], Awaitable[Any]], subscribe: Callable[[Callable], Callable[[], None]],
                 app_name: str, clock: Callable[[], float], *, switch: bool = False) -> None:
        super().__init__()
        self._compute = compute
        self._subscribe = subscribe
        self._unsubscribe: Callable[[], None] | None = None
        self.app_name = app_name
        self.clock = clock
        self.env: Any = None
        self.side_by_side = False
        self.switch_view = switch
        self.current: int | None = None  # the change under the cursor (n / N)
        self._change_rows: list[int] = []  # line number of each change in the shown lines
        self._timer: Timer | None = None
        self.computations = 0  # tests read it
        self.exported: Path | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("diff · loading…", no_wrap=True, overflow="ellipsis"), classes="screen-title",
                     id="diff-title")
        with VerticalScroll(id="diff-scroll"):
            yield Static(Text("comparing the two environments…"), id="diff-body")
        yield Footer()

    def on_mount(self) -> None:
        self._unsubscribe = self._subscribe(self._on_deltas)
        self.query_one("#diff-scroll").focus()
        self.recompute()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_resize(self) -> None:
        if self.side_by_side and self.env is not None:
            self.render_env()

    # ---- data ------------------------------------------------------------------------------------
    def _on_deltas(self, deltas: list) -> None:
        if any(getattr(d, "kind", None) in DIFF_KINDS for d in deltas) and self._timer is None and self.is_mounted:
            self._timer = self.set_timer(REFRESH_AFTER, self._refresh_due, name="diff-refresh")

    def _refresh_due(self) -> None:
        self._timer = None
        self.recompute()

    @work(exclusive=True, exit_on_error=False, group="diff")
    async def recompute(self) -> None:
        try:
            env = await self._compute()
        except Exception as e:  # noqa: BLE001 - say it in place; the app goes on
            self.query_one("#diff-body", Static).update(Text(f"could not compare: {clean_line(str(e))}"))
            return
        self.computations += 1
        self.show(env)

    def show(self, env: Any) -> None:
        self.env = env
        if self.is_mounted:
            self.render_env()

    # ---- drawing ---------------------------------------------------------------------------------
    def lines(self) -> list[DiffLine]:
        env = self.env
        if env is None:
            return [DiffLine(" ", "comparing the two environments…")]
        if env.result is None:
            return [DiffLine("?", f"nothing to compare: {clean_line(env.why)}")]
        if self.switch_view:
            if env.switch is None:
                return [DiffLine("?", "no switch preview")]
            out = []
            for line in env.switch.lines():
                s = line.strip()
                marker = s[:1] if s[:1] in ("✗", "!", "~") else ("h" if line and not line.startswith(" ") else " ")
                out.append(DiffLine(marker, line, None))
            return out
        if self.side_by_side:
            width = max(40, self.size.width - 2)
            return side_by_side(env.result, width)
        return unified(env.result)

    def title_text(self) -> str:
        env = self.env
        if env is None or env.result is None:
            return "diff · " + ("loading…" if env is None else "nothing to compare")
        r = env.result
        head = f"{clean_ident(r.a.track)} ↔ {clean_ident(r.b.track)}"
        if self.switch_view and env.switch is not None:
            verdict = "SAFE" if env.switch.safe else "BLOCKED"
            return f"switch preview · {head} · {verdict} · w: back to the diff"
        layout = "side by side" if self.side_by_side else "unified"
        return f"diff · {head} · {clean_line(r.summary())} · {layout}"

    def render_env(self) -> None:
        lines = self.lines()
        self._change_rows = [i for i, ln in enumerate(lines) if ln.change is not None]
        if self.current is not None and self.current >= len(self._change_rows):
            self.current = None
        body = Text(no_wrap=True, overflow="ellipsis")
        current_row = self._change_rows[self.current] if self.current is not None else None
        for i, ln in enumerate(lines):
            style = STYLES.get(ln.marker, "")
            if i == current_row:
                style = f"{style} reverse".strip()
            body.append(ln.text, style=style or None)
            if i < len(lines) - 1:
                body.append("\n")
        self.query_one("#diff-body", Static).update(body)
        self.query_one("#diff-title", Static).update(Text(self.title_text(), no_wrap=True, overflow="ellipsis"))

    # ---- keys ------------------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def _step(self, step: int) -> None:
        if self.switch_view:
            self.switch_view = False
        self.render_env()
        rows = self._change_rows
        if not rows:
            self.notify("no changes: the two environments are the same", markup=False, timeout=3)
            return
        self.current = (step - 1 if step > 0 else len(rows) - 1) if self.current is None else \
            (self.current + step) % len(rows)
        self.render_env()
        self.query_one("#diff-scroll", VerticalScroll).scroll_to(y=max(0, rows[self.current] - 3), animate=False)

    def action_next_change(self) -> None:
        self._step(1)

    def action_previous_change(self) -> None:
        self._step(-1)

    def action_toggle_layout(self) -> None:
        self.side_by_side = not self.side_by_side
        self.switch_view = False
        self.render_env()

    def action_toggle_switch(self) -> None:
        self.switch_view = not self.switch_view
        self.render_env()
        self.query_one("#diff-scroll", VerticalScroll).scroll_home(animate=False)

    def action_scroll(self, step: int) -> None:
        scroll = self.query_one("#diff-scroll", VerticalScroll)
        scroll.scroll_to(y=max(0, scroll.scroll_y + step), animate=False)

    @work(exclusive=True, exit_on_error=False, group="export")
    async def action_export(self) -> None:
        import asyncio

        env = self.env
        if env is None or env.result is None:
            self.notify("nothing to export yet", severity="warning", markup=False)
            return
        path = Path.cwd() / export_name(self.app_name, self.clock())
        try:
            await asyncio.to_thread(path.write_text, export_text(env), encoding="utf-8")
        except OSError as e:
            self.notify(f"could not export: {clean_line(str(e))}", severity="error", markup=False, timeout=8)
            return
        self.exported = path
        self.notify(f"diff exported to {path}", markup=False, timeout=8)
