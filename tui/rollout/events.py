"""Event rows: what the events pane shows of one core/v1 Event, and which events concern the rollout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection

from tui.rollout.pods import parse_time
from tui.textsafe import clean_ident, clean_line

MESSAGE_MAX = 1000


@dataclass(frozen=True, slots=True)
class EventRow:
    namespace: str
    name: str
    type: str  # "Normal" | "Warning" | whatever the reporter wrote
    reason: str
    object: str  # "Pod/checkout-7d9c-abcde"
    message: str  # control characters stripped, one line
    count: int
    last: float | None  # epoch seconds of the latest occurrence
    warning: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def _involved(ev: dict) -> dict:
    # core/v1 uses involvedObject; events.k8s.io/v1 calls it regarding.
    return ev.get("involvedObject") or ev.get("regarding") or {}


def event_time(ev: dict) -> float | None:
    """The latest time the event happened: lastTimestamp, eventTime, series.lastObservedTime,
    firstTimestamp, then metadata.creationTimestamp (the first one present)."""
    series = ev.get("series") or {}
    for v in (ev.get("lastTimestamp"), ev.get("eventTime"), series.get("lastObservedTime"),
              ev.get("deprecatedLastTimestamp"), ev.get("firstTimestamp"),
              (ev.get("metadata") or {}).get("creationTimestamp")):
        if v:
            t = parse_time(v)
            if t is not None:
                return t
    return None


def event_row(ev: dict) -> EventRow:
    try:
        return _event_row(ev)
    except Exception as e:  # noqa: BLE001 - a malformed event from the server is shown as such, not a crash
        meta = ev.get("metadata") if isinstance(ev, dict) and isinstance(ev.get("metadata"), dict) else {}
        return EventRow(namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or "?"),
                        type="Warning", reason="Malformed", object="",
                        message=clean_line(f"this event's object is malformed ({type(e).__name__}: {e})"),
                        count=1, last=None, warning=True)


def _event_row(ev: dict) -> EventRow:
    meta = ev.get("metadata") or {}
    obj = _involved(ev)
    series = ev.get("series") or {}
    count = ev.get("count") or series.get("count") or ev.get("deprecatedCount") or 1
    msg = ev.get("message") or ev.get("note") or ""
    if msg:
        msg = clean_line(msg)
        if len(msg) > MESSAGE_MAX:
            msg = msg[: MESSAGE_MAX - 1] + "…"
    type_ = clean_line(ev.get("type") or "Normal")
    kind = clean_ident(obj.get("kind") or "")
    name = clean_ident(obj.get("name") or "")
    reason, warning = clean_line(ev.get("reason") or ""), type_ == "Warning"
    from tui.rollout.flagger import classify_message, is_flagger_event

    if is_flagger_event(ev):  # Flagger's reason is always `Synced`: its message says what happened
        cls = classify_message(msg)
        if cls is not None:
            reason, warning = f"{reason}/{cls[0]}", warning or cls[1]
    return EventRow(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        type=type_,
        reason=reason,
        object=f"{kind}/{name}" if kind else name,
        message=msg,
        count=int(count) if isinstance(count, (int, float)) or str(count).isdigit() else 1,
        last=event_time(ev),
        warning=warning,
    )


def relevant(ev: dict, target_names: Collection[str]) -> bool:
    """Whether `ev` is about one of the rollout's objects.

    `target_names` holds object names ("checkout-7d9c-abcde") or "Kind/name" strings
    ("Pod/checkout-7d9c-abcde", "Rollout/checkout"); a plain name matches any kind.
    """
    obj = _involved(ev)
    name = obj.get("name")
    if not name:
        return False
    if name in target_names:
        return True
    kind = obj.get("kind")
    return bool(kind) and f"{kind}/{name}" in target_names
