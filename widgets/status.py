"""The top of the main screen: where we are, the health matrix, the findings strip and the banners."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from rich.text import Text

from textual.widgets import Static

from tui.rollout.findings import sort_findings
from tui.textsafe import clean_ident, clean_line, mask_url
from widgets.table import age_text

LEVEL_STYLE = {
    "healthy": "green",
    "ok": "green",
    "degraded": "yellow",
    "warning": "yellow",
    "critical": "bold red",
    "failing": "bold red",
}
SEVERITY_LOOK = {
    "critical": ("✗", "CRITICAL", "bold red"),
    "warning": ("!", "WARNING", "yellow"),
    "info": ("i", "INFO", "cyan"),
}


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


class _TextStatic(Static):
    """A Static that only repaints when its plain text or styles changed."""

    _last: Text | None = None

    def show(self, text: Text) -> None:
        if self._last is not None and self._last == text:
            return
        self._last = text
        self.update(text)


class StatusHeader(_TextStatic):
    """context / namespace / rollout · phase · step · weight · connection · DEMO"""

    def set_state(self, *, context: str, namespace: str, rollout: str | None, summary: Any, connection: Any,
                  demo: bool, now: float, progress: Any = None, roles: Any = None) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        if demo:
            t.append(" DEMO ", style="bold reverse magenta")
            t.append(" ")
        ok = bool(_attr(connection, "ok", True))
        if ok and _attr(connection, "connecting", False):  # no answer yet: say where we are knocking
            server = clean_line(mask_url(str(_attr(connection, "server", "") or "the API server")))
            t.append(f"… connecting to {server}", style="yellow")
        elif ok:
            t.append("● connected", style="green")
        else:
            since = _attr(connection, "since")
            age = age_text(now - since) if since else "?"
            t.append(f"✗ disconnected {age}", style="bold red")
        t.append("  ⎈ ", style="bold")
        t.append(clean_ident(context or "?"), style="bold")
        t.append("/")
        t.append(clean_ident(namespace or "*"))
        t.append("/")
        t.append(clean_ident(rollout) if rollout else "(no rollout)", style="bold")
        if summary is not None:
            phase = _attr(summary, "phase")
            step = _attr(summary, "step")
            weight = _attr(summary, "weight")
            strategy = _attr(summary, "strategy")
            if _attr(summary, "kind") == "Label":  # no workload object: say what is watched instead
                t.append(f" · {roles_text(roles) or 'pods by label'}")
            elif phase:
                t.append(" · ")
                t.append(clean_line(str(phase)), style="bold")
            if progress is not None:  # the controller's progress: after full promotion no "weight 0%"
                step = _attr(progress, "step_text")
                weight = None if _attr(progress, "complete") else _attr(progress, "actual_weight")
                roles = _attr(progress, "roles")
                if roles and _attr(progress, "strategy") == "bluegreen":
                    t.append(f" · {clean_line(str(roles))}")
            if step is not None and step != "":
                t.append(f" · step {clean_line(str(step))}")
            if weight is not None and weight != "":
                w = f"{weight}%" if isinstance(weight, (int, float)) else clean_line(str(weight))
                t.append(f" · weight {w}")
            if strategy:
                t.append(f" · {clean_line(str(strategy))}")
        self.show(t)


def roles_text(roles: Any) -> str:
    """The roles in the header, from where the traffic goes: "active green · preview blue", "stable · canary"."""
    if roles is None:
        return ""
    base, cand = _attr(roles, "baseline"), _attr(roles, "candidate")
    strategy = _attr(roles, "strategy", "")
    if strategy == "bluegreen" and base:
        out = f"active {clean_ident(str(base))}"
        return out + (f" · preview {clean_ident(str(cand))}" if cand else "")
    if strategy == "canary" and (base or cand):
        return " · ".join(x for x in (base and f"{clean_ident(str(base))}", cand and f"{clean_ident(str(cand))}") if x)
    return ""


class HealthMatrix(_TextStatic):
    """pods ✓ healthy │ metrics … not yet │ ...: a word and a symbol for each cell, not colour alone."""

    compact = False

    def set_cells(self, cells: Sequence[Any]) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        if not self.compact:
            t.append("health ", style="dim")
        for i, c in enumerate(cells):
            if i:
                t.append(" │ ", style="dim")
            level = str(_attr(c, "level", "") or "")
            style = LEVEL_STYLE.get(level.lower(), "dim")
            t.append(clean_line(str(_attr(c, "name", "?"))) + " ", style="bold")
            t.append(f"{clean_line(str(_attr(c, 'symbol', '?')))} {clean_line(str(_attr(c, 'word', level)))}",
                     style=style)
        if not cells:
            t.append("…", style="dim")
        self.show(t)


class FindingsStrip(_TextStatic):
    """One line per finding, most severe first; a few at most, then a count of the rest."""

    MAX_LINES = 3

    def set_findings(self, findings: Sequence[Any], max_lines: int | None = None,
                     suggestion: str | None = None) -> None:
        """`suggestion`: the runbook that fits, one line ("...: runbook Pods crashing, press r"), shown last; it
        takes the line of "… and N more" (the count goes to its end), so the strip is never taller for it."""
        limit = max_lines or self.MAX_LINES
        items = sort_findings(findings)
        t = Text(no_wrap=True, overflow="ellipsis")
        if not items:
            t.append("✓ no findings", style="green")
        if suggestion:
            shown = items[: max(1, limit - 1)]
        else:
            shown = items if len(items) <= limit else items[: limit - 1]
        for i, f in enumerate(shown):
            if i:
                t.append("\n")
            sev = str(_attr(f, "severity", "info"))
            symbol, word, style = SEVERITY_LOOK.get(sev, ("?", sev.upper(), ""))
            t.append(f"{symbol} {word:<8}", style=style)
            track = _attr(f, "track")
            if track:
                t.append(f" {clean_line(str(track))}", style="bold")
            if not _attr(f, "holding", True):  # shown until clear_after, but no longer true: say so
                t.append(" cleared:", style="green")
            t.append(f" {clean_line(str(_attr(f, 'summary', '')))}")
            code = _attr(f, "code")
            if code:
                t.append(f"  [{clean_line(str(code))}]", style="dim")
        more = len(items) - len(shown)
        if suggestion:
            t.append("\n→ ", style="bold")
            t.append(clean_line(suggestion))
            if more:
                t.append(f" · {more} more finding{'s' if more > 1 else ''}: f", style="dim")
        elif more:
            t.append(f"\n… and {more} more · f lists them all", style="dim")
        self.show(t)


class Banner(_TextStatic):
    """A one-line banner (frozen screen, lost connection); hidden when there is nothing to say."""

    def say(self, text: Text | None) -> None:
        if text is None:
            if self.display:
                self.display = False
            return
        self.show(text)
        if not self.display:
            self.display = True
