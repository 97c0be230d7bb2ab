"""Health cells (seed 001's "Health Status Matrix"): the pods cell and the cell shape; tui/assessment.py makes
the five cells (pods, rollout, metrics, endpoints, DNS) of the one assessment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tui.rollout.pods import PodRow

LEVELS = ("healthy", "degraded", "critical", "unknown", "pending")
# A word and a symbol for every level: the matrix must read without colour (NO_COLOR, 16 colours).
SYMBOLS = {"healthy": "✓", "degraded": "!", "critical": "✗", "unknown": "?", "pending": "…"}
WORDS = {"healthy": "healthy", "degraded": "degraded", "critical": "critical", "unknown": "unknown",
         "pending": "not yet"}
LEVEL_RANK = {"critical": 0, "degraded": 1, "unknown": 2, "pending": 3, "healthy": 4}


@dataclass(frozen=True)
class HealthCell:
    name: str  # "pods" | "metrics" | "endpoints" | "DNS"
    level: str  # one of LEVELS
    word: str
    symbol: str
    detail: str = ""


def cell(name: str, level: str, detail: str = "", word: str | None = None) -> HealthCell:
    return HealthCell(name, level, word or WORDS[level], SYMBOLS[level], detail)


def pods_health(rows: Iterable[PodRow], name: str = "pods") -> HealthCell:
    """All Running and Ready: healthy; some NotReady or not yet running: degraded; any failing
    (CrashLoopBackOff and its kin): critical. Terminating and Completed pods do not count."""
    total = ready = 0
    failing: dict[str, int] = {}
    not_ready = 0
    for r in rows:
        if r.state == "done" or r.status == "Terminating":
            continue
        total += 1
        if r.state == "ok":
            ready += 1
        elif r.state == "fail":
            failing[r.status] = failing.get(r.status, 0) + 1
        else:
            not_ready += 1
    if total == 0:
        return cell(name, "unknown", "no pods", word="no pods")
    detail = f"{ready}/{total} ready"
    if failing:
        worst = sorted(failing.items(), key=lambda kv: (-kv[1], kv[0]))
        detail += "; " + ", ".join(f"{n} {reason}" for reason, n in worst)
        return cell(name, "critical", detail)
    if not_ready:
        return cell(name, "degraded", detail + f"; {not_ready} not ready")
    return cell(name, "healthy", detail)


def track_health(rows: Iterable[PodRow]) -> dict[str | None, HealthCell]:
    """pods_health per track, for the canary-vs-stable pane."""
    by: dict[str | None, list[PodRow]] = {}
    for r in rows:
        by.setdefault(r.track, []).append(r)
    return {t: pods_health(rs, name=t or "untracked") for t, rs in by.items()}


