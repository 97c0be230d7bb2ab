"""Which runbook fits what Lookout sees: each runbook's `when` read against the one assessment (its findings,
verdict, outcome and roles), never a second computation of any of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from tui.runbooks.model import Condition, Runbook
from tui.textsafe import clean_line

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Suggestion:
    runbook: Runbook
    because: str  # the finding (or verdict, outcome) that made it fit, one line
    rank: tuple
    short: str = ""  # the same in a few words, for the findings strip ("canary CrashLoopBackOff")
    pods: tuple[str, ...] = ()  # the pods the triggering finding rests on (the app selects the first: {pod})


def _waiting_reasons(findings: Iterable[Any]) -> dict[str, Any]:
    """Pod waiting reasons as the findings report them (track-pods-failing and friends carry them as evidence)."""
    out: dict[str, Any] = {}
    for f in findings:
        for label, value in getattr(f, "evidence", ()) or ():
            v = str(value)
            if label == "reason":
                out.setdefault(v, f)
            elif label == "also" and ": " in v:
                out.setdefault(v.split(": ", 1)[1].split(" in ", 1)[0], f)
    return out


class _Facts:
    def __init__(self, assessment: Any):
        self.findings = [f for f in getattr(assessment, "findings", ()) if getattr(f, "holding", True)]
        self.by_code: dict[str, Any] = {}
        for f in self.findings:
            self.by_code.setdefault(f.code, f)
        verdict = getattr(assessment, "verdict", None)
        self.decision = getattr(verdict, "decision", None)
        self.reasons = {r.code: r for r in getattr(verdict, "reasons", ()) or ()}
        outcome = getattr(assessment, "outcome", None)
        self.outcome = getattr(outcome, "state", None)
        self.outcome_message = getattr(outcome, "message", "")
        self.phase = getattr(getattr(assessment, "summary", None), "phase", None)
        self.strategy = getattr(getattr(assessment, "roles", None), "strategy", "")
        self.waiting = _waiting_reasons(self.findings)


def _holds(c: Condition, facts: _Facts) -> tuple[bool, Any]:
    """(holds, the evidence: a Finding, a Reason or a text)."""
    if c.kind == "any":
        best = None
        for alt in c.alternatives:
            ok, ev = _holds(alt, facts)
            if ok and (best is None or _severity(ev) < _severity(best)):
                best = ev
        return best is not None, best
    if c.kind == "finding":
        f = facts.by_code.get(c.value)
        return f is not None, f
    if c.kind == "reason":
        r = facts.reasons.get(c.value)
        return r is not None, r
    if c.kind == "verdict":
        return facts.decision == c.value, f"verdict {facts.decision}"
    if c.kind == "outcome":
        return facts.outcome == c.value, f"rollout {facts.outcome}" + (
            f": {facts.outcome_message}" if facts.outcome_message else "")
    if c.kind == "phase":
        return facts.phase == c.value, f"phase {facts.phase}"
    if c.kind == "waiting":
        f = facts.waiting.get(c.value)
        return f is not None, f
    if c.kind == "strategy":
        return facts.strategy == c.value, None
    return False, None


def _severity(ev: Any) -> int:
    sev = getattr(ev, "severity", None)
    if sev in SEVERITY_RANK:
        return SEVERITY_RANK[sev]
    if getattr(ev, "decision", None) == "rollback":  # a verdict reason arguing for rollback
        return 0
    return 3


def _short(ev: Any) -> str:
    if ev is None:
        return ""
    if hasattr(ev, "summary") and hasattr(ev, "code"):
        reason = next((str(v) for k, v in getattr(ev, "evidence", ()) or () if k == "reason"), None)
        return clean_line(" ".join(x for x in (ev.track, reason or ev.code) if x))
    if hasattr(ev, "code"):
        return clean_line(str(ev.code))
    return clean_line(str(ev))[:40]


def _because(ev: Any) -> str:
    if ev is None:
        return ""
    if hasattr(ev, "summary") and hasattr(ev, "code"):
        return clean_line(f"{ev.summary}")
    if hasattr(ev, "text"):
        return clean_line(str(ev.text))
    return clean_line(str(ev))


def matches(runbook: Runbook, assessment: Any) -> Suggestion | None:
    """A Suggestion when every condition of the runbook's `when` holds (a runbook without `when` never does)."""
    if not runbook.when or assessment is None:
        return None
    facts = _Facts(assessment)
    evidence = []
    for c in runbook.when:
        ok, ev = _holds(c, facts)
        if not ok:
            return None
        if ev is not None:
            evidence.append(ev)
    lead = min(evidence, key=_severity) if evidence else None
    # the most severe trigger first; among equals the more specific runbook (more conditions)
    pods = tuple(o.split("/", 1)[1] for o in getattr(lead, "objects", ()) or () if str(o).startswith("Pod/"))
    return Suggestion(runbook, _because(lead), (_severity(lead), -_conditions(runbook.when)), _short(lead), pods)


def _conditions(when: Iterable[Condition]) -> int:
    return sum(1 if c.kind != "any" else 1 for c in when)


def suggest(runbooks: Iterable[Runbook], assessment: Any) -> list[Suggestion]:
    """The runbooks whose `when` holds, best first (catalog order breaks ties)."""
    out = []
    for i, rb in enumerate(runbooks):
        s = matches(rb, assessment)
        if s is not None:
            out.append(Suggestion(s.runbook, s.because, (*s.rank, i), s.short, s.pods))
    return sorted(out, key=lambda s: s.rank)
