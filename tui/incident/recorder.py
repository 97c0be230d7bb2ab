"""What happened, as it happens: the assessment's changes become timeline entries.

The recorder keeps the last thing it wrote of each kind and writes only changes: the rollout's outcome (phase) and
its message, the verdict with its reasons and their numbers, each finding raised and cleared (by code and the
objects it rests on), warning events (once per event and count), connection lost and back. It reads the one
assessment (tui.assessment); it never judges anything itself.
"""

from __future__ import annotations

from typing import Any, Callable

from tui.textsafe import clean_line

Record = Callable[..., Any]  # Incident.record(kind, text, data=..., ref=..., at=...)


def _finding_key(f: Any) -> tuple:
    return (f.code, f.track or "", tuple(f.objects[:3]))


class Recorder:
    def __init__(self, record: Record) -> None:
        self.record = record
        self._outcome: tuple | None = None
        self._decision: str | None = None
        self._reason_codes: tuple[str, ...] = ()
        self._findings: dict[tuple, Any] = {}
        self._events: dict[str, int] = {}
        self._connected: bool | None = None

    def observe(self, a: Any, *, now: float) -> int:
        """Write what changed since the last assessment; returns how many entries were written."""
        n = 0
        ns_name = a.rollout
        o = a.outcome
        key = (o.state, o.message, o.revision)
        if key != self._outcome and not (self._outcome is None and o.state == "unknown"):  # not synced yet
            text = f"{a.rollout}: {o.state}" + (f" · {clean_line(o.message)}" if o.message else "")
            self.record("phase", text, data={"state": o.state, "controller": o.controller,
                                             "message": o.message, "revision": o.revision},
                        ref=ns_name, at=now)
            n += 1
            self._outcome = key
        v = a.verdict
        codes = tuple(r.code for r in v.reasons)
        if self._decision is None and v.decision == "no-data":
            pass  # nothing measured yet: the first real verdict is the news
        elif v.decision != self._decision or (v.decision in ("rollback", "hold") and codes[:1] != self._reason_codes[:1]):
            reasons = [{"code": r.code, "text": clean_line(r.text), "values": {k: val for k, val in r.values}}
                       for r in v.reasons[:6]]
            first = f": {clean_line(v.reasons[0].text)}" if v.reasons else ""
            label = {"no-data": "NO DATA"}
            if self._decision is None:
                before = ""
            elif self._decision != v.decision:
                before = f" (was {label.get(self._decision, self._decision.upper())})"
            else:
                before = ", its lead reason now"
            self.record("verdict", f"verdict {v.label}{before}{first}", data={"decision": v.decision,
                                                                                "reasons": reasons},
                        ref=ns_name, at=now)
            n += 1
        if not (self._decision is None and v.decision == "no-data"):
            self._decision, self._reason_codes = v.decision, codes
        current = {_finding_key(f): f for f in a.findings if f.code != "verdict-rollback"}
        for k, f in current.items():
            if k not in self._findings:
                self.record("finding-raised", f"{f.severity} {f.code}" + (f" [{f.track}]" if f.track else "")
                            + f": {clean_line(f.summary)}",
                            data={"code": f.code, "severity": f.severity, "track": f.track,
                                  "evidence": {str(lbl): str(val) for lbl, val in f.evidence[:8]},
                                  "objects": list(f.objects[:8])},
                            ref=f.objects[0] if f.objects else "", at=now)
                n += 1
        for k, f in self._findings.items():
            if k not in current:
                self.record("finding-cleared", f"cleared {f.code}" + (f" [{f.track}]" if f.track else ""),
                            data={"code": f.code, "track": f.track}, ref=f.objects[0] if f.objects else "", at=now)
                n += 1
        self._findings = current
        return n

    def observe_connection(self, ok: bool, error: str | None, *, now: float) -> int:
        if ok == self._connected:
            return 0
        was = self._connected
        self._connected = ok
        if was is None and ok:
            return 0
        if ok:
            self.record("connection", "connection back: live again", data={"ok": True}, at=now)
        else:
            self.record("connection", f"connection lost: {clean_line(error or 'no answer')}",
                        data={"ok": False, "error": clean_line(error or "")}, at=now)
        return 1

    def observe_event(self, ev: dict, *, now: float) -> int:
        """A Warning event, once per event uid and count."""
        if (ev.get("type") or "") != "Warning":
            return 0
        meta = ev.get("metadata") or {}
        uid = str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
        count = ev.get("count") or (ev.get("series") or {}).get("count") or 1
        try:
            count = int(count)
        except (TypeError, ValueError):
            count = 1
        if self._events.get(uid, 0) >= count:
            return 0
        self._events[uid] = count
        inv = ev.get("involvedObject") or ev.get("regarding") or {}
        ref = f"{inv.get('kind', '')}/{inv.get('namespace') or meta.get('namespace', '')}/{inv.get('name', '')}"
        reason = clean_line(str(ev.get("reason") or ""))
        msg = clean_line(str(ev.get("message") or ev.get("note") or ""))
        self.record("warning-event", f"⚠ {reason} {ref.split('/', 1)[0]}/{inv.get('name', '')}"
                    + (f" ×{count}" if count > 1 else "") + f": {msg}",
                    data={"reason": reason, "count": count, "message": msg}, ref=ref, at=now)
        return 1
