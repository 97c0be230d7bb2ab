"""The header's health matrix (seed 001's "Health Status Matrix"): pods, metrics, endpoints, DNS."""

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
COMING = "coming in a later issue"


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


# Later issues fill these in; until then the matrix says plainly that they are coming.
def metrics_health(data: object | None = None) -> HealthCell:
    """From the canary-vs-stable verdict: promote healthy, hold degraded, rollback critical, no data unknown."""
    verdict = getattr(data, "verdict", None)
    if verdict is None:
        return cell("metrics", "pending", "no reading yet", word="waiting")
    first = verdict.reasons[0].text if verdict.reasons else ""
    if getattr(data, "stale", False):
        return cell("metrics", "degraded", f"stale: {getattr(data, 'error', '') or first}", word="stale")
    level = {"promote": "healthy", "hold": "degraded", "rollback": "critical"}.get(verdict.decision, "unknown")
    word = {"promote": "healthy", "hold": "hold", "rollback": "rollback"}.get(verdict.decision, "no data")
    return cell("metrics", level, first, word=word)


def _worst(findings) -> tuple[str | None, object | None]:
    rank = {"critical": 0, "warning": 1}
    worst = min((f for f in findings if f.severity in rank), key=lambda f: rank[f.severity], default=None)
    return (None if worst is None else worst.severity), worst


def endpoints_health(view: object | None = None) -> HealthCell:
    """From the DNS/endpoints view: its Service and endpoint findings decide; else ready endpoints per track."""
    if view is None:
        return cell("endpoints", "pending", "no reading yet", word="waiting")
    findings = [f for f in getattr(view, "findings", ()) if not f.code.startswith("dns")]
    sev, worst = _worst(findings)
    rows = getattr(view, "endpoints", ())
    ready = sum(1 for r in rows if r.ready)
    detail = f"{ready}/{len(rows)} endpoints ready"
    if sev == "critical":
        return cell("endpoints", "critical", f"{worst.code}: {worst.summary}")
    if sev == "warning":
        return cell("endpoints", "degraded", f"{worst.code}: {worst.summary}")
    if not rows:
        return cell("endpoints", "unknown", "no endpoints", word="none")
    return cell("endpoints", "healthy", detail)


def dns_health(view: object | None = None) -> HealthCell:
    """From the DNS answers: stale names (still on the old environment) or failed lookups."""
    if view is None:
        return cell("DNS", "pending", "no reading yet", word="waiting")
    findings = [f for f in getattr(view, "findings", ()) if f.code.startswith("dns")]
    sev, worst = _worst(findings)
    answers = getattr(view, "dns", ())
    if sev is not None:
        return cell("DNS", "critical" if sev == "critical" else "degraded", f"{worst.code}: {worst.summary}")
    failed = [a for a in answers if a.error]
    if failed:
        return cell("DNS", "degraded", f"{failed[0].name}: {failed[0].error}")
    if not answers:
        return cell("DNS", "unknown", "no external names to check", word="n/a")
    return cell("DNS", "healthy", f"{len(answers)} names resolve as expected")


def health_matrix(rows: Iterable[PodRow], metrics: object | None = None, endpoints: object | None = None,
                  dns: object | None = None) -> tuple[HealthCell, ...]:
    """The four cells, in the order the header shows them."""
    return (pods_health(rows), metrics_health(metrics), endpoints_health(endpoints), dns_health(dns))


def overall(cells: Iterable[HealthCell]) -> str:
    """The worst level among cells that have something to say (pending cells are ignored)."""
    levels = [c.level for c in cells if c.level != "pending"]
    return min(levels, key=LEVEL_RANK.__getitem__) if levels else "unknown"
