"""The switch preview: a dry run of the blue/green switch (the runbooks' `bluegreen switch --dry-run`).

Which Service selectors would change and to what, which pods would then take the traffic (ready counts per side),
and what blocks or endangers the switch: the target not ready, a finding on the target's track, a Secret key or a
referenced object missing on the target (blocking), a config key or env var present on one side only (a warning).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tui.diff.compare import DiffResult, Side
from tui.diff.sides import BLUE_GREEN, pod_ready, pods_of
from tui.textsafe import clean_ident, clean_line


@dataclass(frozen=True)
class SelectorChange:
    service: str
    key: str
    old: str
    new: str | None  # None: the target's pods carry no such label


@dataclass(frozen=True)
class SwitchPreview:
    live: Side  # what the Services send traffic to now
    target: Side
    changes: tuple[SelectorChange, ...]
    live_ready: int
    live_pods: int
    target_ready: int
    target_pods: int
    blockers: tuple[str, ...]
    warnings: tuple[str, ...]
    note: str = ""
    endpoints: tuple[tuple[str, str], ...] = ()  # the target's ready pods (name, IP): the endpoints to be

    @property
    def safe(self) -> bool:
        return not self.blockers

    def lines(self) -> list[str]:
        """The preview as plain lines (the screen, `lookout diff --switch-check`)."""
        live, tgt = self.live, self.target
        verdict = "SAFE" if self.safe else "BLOCKED"
        out = [f"switch {live.track} → {tgt.track}: {verdict}"
               + (f" ({len(self.blockers)} blocking, {len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''})"
                  if self.blockers or self.warnings else ""), ""]
        out.append("selectors that would change")
        if self.changes:
            for c in self.changes:
                new = c.new if c.new is not None else "(no such label on the target's pods)"
                out.append(f"  ~ Service {clean_ident(c.service)}: {clean_ident(c.key)}={clean_ident(c.old)} → "
                           f"{clean_ident(c.key)}={clean_ident(new)}")
        else:
            out.append(f"  {self.note or 'none'}")
        out += ["", "traffic after the switch",
                f"  {tgt.track}: {self.target_ready}/{self.target_pods} pods ready would take the traffic"]
        shown = self.endpoints[:ENDPOINTS_SHOWN]
        out += [f"    {clean_ident(name)} {clean_ident(ip) if ip else '(no IP yet)'}" for name, ip in shown]
        if len(self.endpoints) > len(shown):
            out.append(f"    … and {len(self.endpoints) - len(shown)} more")
        out += [f"  {live.track}: {self.live_ready}/{self.live_pods} pods ready would stop taking it", ""]
        out.append("blocking" if self.blockers else "blocking: nothing")
        out += [f"  ✗ {clean_line(b)}" for b in self.blockers]
        out.append("warnings" if self.warnings else "warnings: none")
        out += [f"  ! {clean_line(w)}" for w in self.warnings]
        return out

    def to_json(self) -> dict:
        return {"from": self.live.track, "to": self.target.track, "safe": self.safe,
                "endpoints": [{"pod": n, "ip": ip or None} for n, ip in self.endpoints],
                "selectors": [{"service": c.service, "key": c.key, "from": c.old, "to": c.new} for c in self.changes],
                "ready": {self.live.track: {"ready": self.live_ready, "pods": self.live_pods},
                          self.target.track: {"ready": self.target_ready, "pods": self.target_pods}},
                "blocking": list(self.blockers), "warnings": list(self.warnings), "note": self.note or None}


def _labels(side: Side) -> dict:
    return ((side.template.get("metadata") or {}).get("labels")) or {}


ENDPOINTS_SHOWN = 6


def _ready(store, side: Side) -> tuple[int, int]:
    pods = pods_of(store, side.namespace, _labels(side))
    return sum(1 for p in pods if pod_ready(p)), len(pods)


def _endpoints(store, side: Side) -> tuple[tuple[str, str], ...]:
    pods = [p for p in pods_of(store, side.namespace, _labels(side)) if pod_ready(p)]
    return tuple(sorted(((p.get("metadata") or {}).get("name", ""), str((p.get("status") or {}).get("podIP") or ""))
                        for p in pods))


def preview(store, diff: DiffResult, findings: Iterable = ()) -> SwitchPreview:
    """The switch from diff.a (live) to diff.b (target), from the store's Services and pods and the findings."""
    live, tgt = diff.a, diff.b
    la, lb = _labels(live), _labels(tgt)
    changes: list[SelectorChange] = []
    blockers: list[str] = []
    warnings: list[str] = []
    note = ""
    for svc in store.list("services", live.namespace):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if not sel or not all(la.get(k) == v for k, v in sel.items()):
            continue  # does not send traffic to the live side
        if all(lb.get(k) == v for k, v in sel.items()):
            continue  # selects both sides: nothing changes
        name = (svc.get("metadata") or {}).get("name", "")
        for k, v in sel.items():
            if lb.get(k) != v:
                changes.append(SelectorChange(name, k, v, lb.get(k)))
                if k not in lb:
                    blockers.append(f"Service {name} selects {k}={v}, and {tgt.track}'s pods carry no {k} label: "
                                    f"it would select nothing")
    if not changes:
        note = f"no Service sends traffic to {live.track} alone: nothing to switch"
    ready_a, pods_a = _ready(store, live)
    ready_b, pods_b = _ready(store, tgt)
    if pods_b == 0:
        blockers.append(f"{tgt.track} has no pods" + (" (scaled to 0)" if tgt.replicas == 0 else "")
                        + ": the switch would leave the Service without endpoints")
    elif ready_b == 0:
        blockers.append(f"{tgt.track} has no ready pods (0/{pods_b})")
    elif ready_b < pods_b:
        blockers.append(f"{tgt.track} is not ready: {pods_b - ready_b} of {pods_b} pods not ready")
    if ({live.track, tgt.track} <= BLUE_GREEN and tgt.replicas is not None and pods_a and pods_b
            and tgt.replicas < pods_a):  # a canary grows as it is promoted: only a switch moves all at once
        warnings.append(f"{tgt.track} wants {tgt.replicas} replica{'s' if tgt.replicas != 1 else ''}, "
                        f"{live.track} runs {pods_a} pods: less capacity after the switch")
    for f in findings:
        if getattr(f, "track", None) != tgt.track or getattr(f, "code", "") == "environments-differ":
            continue
        text = f"finding {f.code} on {tgt.track}: {clean_line(f.summary)}"
        if f.severity == "critical":
            blockers.append(text)
        elif f.severity == "warning":
            warnings.append(text)
    for c in diff.changes:
        if c.kind == "secret" and c.op == "-":
            blockers.append(f"{c.where}: key {c.name} is missing on {tgt.track}")
        elif c.kind in ("configmap-ref", "secret-ref") and c.op == "-":
            blockers.append(f"{c.where} is {c.name} on {live.track} only: missing on {tgt.track}")
        elif c.kind == "secret" and c.op == "+":
            warnings.append(f"{c.where}: key {c.name} only on {tgt.track}")
        elif c.kind in ("configmap", "env") and c.op in ("+", "-"):
            side = tgt.track if c.op == "+" else live.track
            what = f"{c.where}: key {c.name}" if c.kind == "configmap" else f"{c.name} ({c.where})"
            warnings.append(f"{what} only on {side}")
    return SwitchPreview(live, tgt, tuple(changes), ready_a, pods_a, ready_b, pods_b, tuple(blockers),
                         tuple(warnings), note, _endpoints(store, tgt))
