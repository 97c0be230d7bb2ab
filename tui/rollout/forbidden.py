"""A kind the API server refuses us (403) is named as such, never taken for "none exist": one finding per cell.

Each finding lists the refused kinds of its cell with the server's words ("Services: forbidden for
system:serviceaccount:demo:lookout"). Kinds the verdict needs (pods, the workload and its ReplicaSets, the
Services that say where traffic goes) make it a warning: `lookout status` cannot decide and exits 2.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from tui.rollout.findings import Finding
from tui.textsafe import clean_line

# finding code -> the store kinds it speaks for (the cell is in tui.assessment.CELL_OF_CODE)
FORBIDDEN_CODES: dict[str, tuple[str, ...]] = {
    "forbidden-pods": ("pods",),
    "forbidden-rollout": ("rollouts", "deployments", "replicasets", "analysisruns", "canaries"),
    "forbidden-endpoints": ("services", "endpointslices", "ingresses", "networkpolicies", "httproutes",
                            "virtualservices", "destinationrules", "trafficsplits"),
    "forbidden-events": ("events",),
}
# without these the verdict is a guess: warning (exit 2); the others are info
NEEDED = frozenset({"pods", "rollouts", "deployments", "replicasets", "services", "endpointslices"})
TITLES = {"pods": "Pods", "rollouts": "Rollouts", "deployments": "Deployments", "replicasets": "ReplicaSets",
          "analysisruns": "AnalysisRuns", "services": "Services", "endpointslices": "EndpointSlices",
          "ingresses": "Ingresses", "networkpolicies": "NetworkPolicies", "httproutes": "HTTPRoutes",
          "virtualservices": "VirtualServices", "events": "Events", "canaries": "Canaries",
          "destinationrules": "DestinationRules", "trafficsplits": "TrafficSplits"}
CONSEQUENCE = {
    "forbidden-pods": "the rollout's pods cannot be seen: no decision is possible",
    "forbidden-rollout": "the controller's own state is unknown",
    "forbidden-endpoints": "where traffic goes is unknown: endpoints and DNS cannot be checked",
    "forbidden-events": "the events pane is empty because they are refused, not because nothing happened",
}
_USER = re.compile(r'User "([^"]{1,200})"')


def who(message: str) -> str:
    """`forbidden for system:serviceaccount:demo:lookout`, from the server's RBAC message when it names the user."""
    m = _USER.search(message or "")
    return f"forbidden for {clean_line(m.group(1))}" if m else "forbidden"


def forbidden_kinds(health: Iterable, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """kind -> the server's message, for every watched kind whose informer is refused, and `extra` (kinds start-up
    was refused, e.g. Rollouts when the target fell back to pods by label)."""
    out: dict[str, str] = dict(extra or {})
    for h in health:
        if getattr(h, "forbidden", False):
            out.setdefault(h.kind, h.error or "forbidden")
    return out


def forbidden_findings(kinds: Mapping[str, str], *, by_label: bool = False) -> list[Finding]:
    out = []
    for code, mine in FORBIDDEN_CODES.items():
        refused = [k for k in mine if k in kinds]
        if not refused:
            continue
        parts = [f"{TITLES.get(k, k)}: {who(kinds[k])}" for k in refused]
        consequence = CONSEQUENCE[code]
        if code == "forbidden-rollout" and by_label and "rollouts" in refused:
            consequence = "the rollout's pods are selected by label and the controller's state is unknown"
        severity = "warning" if any(k in NEEDED for k in refused) else "info"
        evidence = tuple((TITLES.get(k, k), clean_line(kinds[k])[:300]) for k in refused)
        out.append(Finding(code, severity, None, "; ".join(parts) + f" ({consequence})", evidence))
    return out


def without_blind_findings(findings: Iterable[Finding], kinds: Mapping[str, str]) -> list[Finding]:
    """Drop the findings that read a refused kind as empty: with pods refused, every pod and endpoint check sees
    "no pods"; with Services or EndpointSlices refused, the endpoint checks see "no Service"."""
    from tui.assessment import CELL_OF_CODE

    blind: set[str] = set()
    if "pods" in kinds:
        blind |= {"pods", "endpoints"}
    if "services" in kinds or "endpointslices" in kinds:
        blind.add("endpoints")
    if not blind:
        return list(findings)
    return [f for f in findings if f.code in FORBIDDEN_CODES or CELL_OF_CODE.get(f.code) not in blind]
