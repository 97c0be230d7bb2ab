"""`d` and `y`: a kubectl-describe-like text and the YAML of one object (Secret values redacted), shown as plain text."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Iterable

import yaml

from tui.kube.slim import redact_secret
from tui.kube.timestamps import parse_time
from tui.textsafe import clean, clean_ident, clean_line
from widgets.table import age_text
from widgets.textview import TextScreen

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


# ---- text builders (plain data in, plain lines out) ----------------------------------------------
def redact(obj: dict) -> dict:
    """A copy of `obj` in which no Secret value survives (tui.kube.slim.redact_secret: keys and sizes only)."""
    return redact_secret(obj)


def yaml_lines(obj: dict) -> list[str]:
    text = yaml.safe_dump(redact(obj), sort_keys=False, default_flow_style=False, allow_unicode=True, width=10_000)
    return [clean(line) for line in text.splitlines()]


def _ts(value: Any) -> float | None:
    return parse_time(value) if value else None


def _kv_block(title: str, mapping: dict | None, indent: int = 0, ident: bool = False) -> list[str]:
    pad = " " * indent
    if not mapping:
        return [f"{pad}{title + ':':<16}<none>"]
    lines = []
    for i, (k, v) in enumerate(sorted(mapping.items())):
        head = f"{pad}{title + ':':<16}" if i == 0 else pad + " " * 16
        value = clean_ident(str(v)) if ident else clean_line(str(v))
        lines.append(f"{head}{clean_ident(str(k))}={value}")
    return lines


def _state_lines(label: str, state: Any, pad: str) -> list[str]:
    if not state:
        return []
    if not isinstance(state, dict):  # malformed: say what is there rather than fail
        return [f"{pad}{label + ':':<16}{clean_line(str(state))} (not a state object)"]
    (name, detail), = list(state.items())[:1] or [("unknown", {})]
    detail = detail if isinstance(detail, dict) else {}
    lines = [f"{pad}{label + ':':<16}{clean_ident(str(name)).capitalize()}"]
    for k in ("reason", "message", "exitCode", "signal", "startedAt", "finishedAt"):
        if k in detail:
            lines.append(f"{pad}  {k[0].upper() + k[1:] + ':':<14}{clean_line(str(detail[k]))}")
    return lines


def _dict(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list:
    return v if isinstance(v, list) else []


def _count(v: Any) -> int | None:
    """An event's count, or None when it is not a number (a malformed or hostile object)."""
    if v is None or v == "":
        return 1
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v == v and abs(v) < 1e18:
        return int(v)
    if isinstance(v, str) and v.strip().isdigit():
        return int(v)
    return None


def _port_text(p: Any) -> str:
    if isinstance(p, dict):
        return f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
    return f"{p} (not a port)"


def render_lines(mode: str, obj: Any, events: Iterable[dict] = (), now: float | None = None) -> list[str]:
    """`describe` or `yaml` text of `obj`, or one line saying why it could not be rendered: a drill-down
    never stays on "loading…" because an object is malformed."""
    kind = clean_ident(str((obj.get("kind") if isinstance(obj, dict) else None) or "object"))
    try:
        if not isinstance(obj, dict):
            raise RenderError("the server's answer is not an object")
        if mode == "yaml":
            return yaml_lines(obj)
        return describe_lines(obj, events, now=now)
    except RenderError as e:
        return [f"could not render this {kind}: {clean_line(str(e))}"]
    except Exception as e:  # noqa: BLE001 - anything a malformed object can raise
        return [f"could not render this {kind}: {type(e).__name__}: {clean_line(str(e))}"]


class RenderError(ValueError):
    """An object too malformed to describe; str() says which field, in a few words."""


def _probe_text(p: dict) -> str:
    """As kubectl describe prints probes: `http-get http://:8080/healthz delay=0s timeout=1s period=10s`."""
    if p.get("httpGet"):
        h = p["httpGet"]
        how = f"http-get {str(h.get('scheme', 'HTTP')).lower()}://{h.get('host', '')}:{h.get('port', '')}{h.get('path', '')}"
    elif p.get("tcpSocket"):
        how = f"tcp-socket :{p['tcpSocket'].get('port', '')}"
    elif p.get("grpc"):
        how = f"grpc <pod>:{p['grpc'].get('port', '')}"
    elif p.get("exec"):
        how = "exec " + str(p["exec"].get("command", []))
    else:
        how = "<unknown>"
    return (f"{how} delay={p.get('initialDelaySeconds', 0)}s timeout={p.get('timeoutSeconds', 1)}s "
            f"period={p.get('periodSeconds', 10)}s #success={p.get('successThreshold', 1)} "
            f"#failure={p.get('failureThreshold', 3)}")


def describe_lines(obj: dict, events: Iterable[dict] = (), now: float | None = None) -> list[str]:
    """kubectl-describe-ish text for a pod (other kinds get their metadata, then YAML spec/status)."""
    now = now if now is not None else _dt.datetime.now().timestamp()
    if not isinstance(obj.get("metadata") or {}, dict):
        raise RenderError("metadata is not an object")
    meta = _dict(obj.get("metadata"))
    spec = _dict(obj.get("spec"))
    status = _dict(obj.get("status"))
    out = [
        f"{'Name:':<16}{clean_ident(str(meta.get('name', '')))}",
        f"{'Namespace:':<16}{clean_ident(str(meta.get('namespace', '')))}",
    ]
    kind = obj.get("kind") or "Pod"
    if kind == "Pod":
        out.append(f"{'Node:':<16}{clean_line(str(spec.get('nodeName') or '<none>'))}")
        if status.get("startTime"):
            out.append(f"{'Start Time:':<16}{clean_line(str(status['startTime']))}")
    out += _kv_block("Labels", _dict(meta.get("labels")), ident=True)
    annotations = dict(_dict(meta.get("annotations")))
    if kind == "Secret" and LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = "<redacted>"
    out += _kv_block("Annotations", annotations)
    if kind == "Pod":
        phase = status.get("phase", "")
        out.append(f"{'Status:':<16}{clean_line(str(phase))}")
        if status.get("reason"):
            out.append(f"{'Reason:':<16}{clean_line(str(status['reason']))}")
        if status.get("message"):
            out.append(f"{'Message:':<16}{clean_line(str(status['message']))}")
        out.append(f"{'IP:':<16}{clean_line(str(status.get('podIP') or '<none>'))}")
        owners = [o for o in _list(meta.get("ownerReferences")) if isinstance(o, dict)]
        if owners:
            o = owners[0]
            out.append(f"{'Controlled By:':<16}{clean_ident(str(o.get('kind')))}/{clean_ident(str(o.get('name')))}")
        statuses = {str(c.get("name")): c for c in _list(status.get("containerStatuses")) if isinstance(c, dict)}
        out.append("Containers:")
        for c in _list(spec.get("containers")):
            if not isinstance(c, dict):
                out.append(f"  {clean_line(str(c))} (not a container)")
                continue
            name = clean_ident(str(c.get("name", "")))
            cs = statuses.get(str(c.get("name"))) or {}
            out.append(f"  {name}:")
            out.append(f"    {'Image:':<16}{clean_line(str(c.get('image', '')))}")
            ports = ", ".join(_port_text(p) for p in _list(c.get("ports")))
            if ports:
                out.append(f"    {'Ports:':<16}{clean_line(ports)}")
            out += _state_lines("State", cs.get("state"), "    ")
            out += _state_lines("Last State", cs.get("lastState"), "    ")
            out.append(f"    {'Ready:':<16}{cs.get('ready', False)}")
            out.append(f"    {'Restart Count:':<16}{cs.get('restartCount', 0)}")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if isinstance(c.get(probe), dict):
                    out.append(f"    {probe[0].upper() + probe[1:-5] + ':':<16}{clean_line(_probe_text(c[probe]))}")
        conditions = [c for c in _list(status.get("conditions")) if isinstance(c, dict)]
        if conditions:
            out.append("Conditions:")
            out.append(f"  {'Type':<26} Status")
            for cond in conditions:
                out.append(f"  {clean_line(str(cond.get('type', ''))):<26} {clean_line(str(cond.get('status', '')))}")
    elif kind == "Event":
        out += _event_lines(obj, now)
    else:
        safe = redact(obj)
        for section in ("spec", "status"):
            if isinstance(safe.get(section), dict) and safe[section]:
                out.append(f"{section.capitalize()}:")
                out += ["  " + line for line in yaml_lines(safe[section])]
        if kind == "Secret":
            out.append("Data:")
            for k, v in (safe.get("data") or {}).items():  # "<redacted: N bytes>": sizes, never values
                out.append(f"  {clean_line(str(k))}:  {clean_line(str(v)).removeprefix('<redacted: ').rstrip('>')}")
    if kind == "Event":
        return out
    evs = sorted((e for e in events if isinstance(e, dict)), key=lambda e: _ts(_event_when(e)) or 0)
    out.append("Events:")
    if not evs:
        out.append("  <none>")
    else:
        out.append(f"  {'Type':<9}{'Reason':<22}{'Age':<8}{'From':<18}Message")
        for e in evs:
            when = _ts(_event_when(e))
            count = _count(e.get("count"))
            age = age_text(now - when) if when else "-"
            if count is None or count > 1:
                age = f"{age} (x{count if count is not None else '?'})"
            src = _dict(e.get("source")).get("component") or e.get("reportingComponent") or ""
            out.append(
                f"  {clean_line(str(e.get('type', ''))):<9}{clean_line(str(e.get('reason', ''))):<22}{age:<8}"
                f"{clean_ident(str(src)):<18}{clean_line(str(e.get('message', '')))}"
            )
    return out


def _event_when(e: dict) -> Any:
    return (e.get("lastTimestamp") or e.get("eventTime") or _dict(e.get("series")).get("lastObservedTime")
            or e.get("firstTimestamp") or _dict(e.get("metadata")).get("creationTimestamp"))


def _event_lines(ev: dict, now: float) -> list[str]:
    """What `kubectl describe event` would tell: type, reason, message, count, source, involved object, times."""
    obj = _dict(ev.get("involvedObject") or ev.get("regarding"))
    src = _dict(ev.get("source"))
    source = src.get("component") or ev.get("reportingComponent") or ev.get("reportingController") or ""
    host = src.get("host") or ev.get("reportingInstance") or ""
    raw_count = ev.get("count") if ev.get("count") is not None else _dict(ev.get("series")).get("count")
    count = _count(raw_count)
    count_text = str(count) if count is not None else f"{clean_line(str(raw_count))} (not a number)"
    involved = f"{clean_ident(str(obj.get('kind') or '?'))}/{clean_ident(str(obj.get('name') or '?'))}"
    if obj.get("namespace"):
        involved += f" in {clean_ident(str(obj['namespace']))}"
    if obj.get("fieldPath"):
        involved += f" ({clean_line(str(obj['fieldPath']))})"
    lines = [
        f"{'Type:':<16}{clean_line(str(ev.get('type') or 'Normal'))}",
        f"{'Reason:':<16}{clean_line(str(ev.get('reason') or '<none>'))}",
        f"{'Message:':<16}{clean_line(str(ev.get('message') or ev.get('note') or '<none>'))}",
        f"{'Count:':<16}{count_text}",
        f"{'Source:':<16}{clean_ident(str(source or '<none>'))}" + (f" on {clean_ident(str(host))}" if host else ""),
        f"Involved Object: {involved}",
    ]
    for label, key in (("First Seen:", "firstTimestamp"), ("Last Seen:", "lastTimestamp"), ("Event Time:", "eventTime")):
        value = ev.get(key)
        if value:
            t = _ts(value)
            age = f" ({age_text(now - t)} ago)" if t is not None and now - t >= 0 else (
                f" ({age_text(now - t)})" if t is not None else " (unreadable)")
            lines.append(f"{label:<16}{clean_line(str(value))}{age}")
    return lines


# ---- the screen: the one text view (widgets/textview.py) ------------------------------------------
__all__ = ["TextScreen", "describe_lines", "yaml_lines", "render_lines", "redact"]
