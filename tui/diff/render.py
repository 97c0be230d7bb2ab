"""The diff as plain lines (unified or side by side) and as a JSON document; every cluster string cleaned."""

from __future__ import annotations

from dataclasses import dataclass

from tui.diff.compare import Change, DiffResult, Side
from tui.textsafe import clean_ident, clean_line

MARKERS = {"~": "~", "+": "+", "-": "-", "=": "=", "?": "?"}


@dataclass(frozen=True)
class DiffLine:
    marker: str  # "@" a section, "h" a header, "~" "+" "-" "=" "?" a change, " " context / detail
    text: str
    change: int | None = None  # index of the change the line starts (for n / N)


def state_line(d: DiffResult) -> str:
    """Replica counts are state, not drift: "blue 3/3 ready, green scaled to 0"."""
    def one(s: Side) -> str:
        if s.replicas == 0:
            return f"{s.track} scaled to 0"
        want = "?" if s.replicas is None else str(s.replicas)
        return f"{s.track} {s.ready or 0}/{want} ready"

    return f"{one(d.a)}, {one(d.b)}"


def services_line(d: DiffResult) -> str | None:
    """"services: blue ← checkout · green ← checkout-preview" (None when not looked up)."""
    if not d.services:
        return None
    return "services: " + " · ".join(f"{clean_ident(t)} ← {', '.join(clean_ident(n) for n in names) or 'none'}"
                                      for t, names in d.services)


def side_title(s: Side) -> str:
    return f"{clean_ident(s.track)}: {s.kind} {clean_ident(s.namespace)}/{clean_ident(s.name)}"


def _v(v: str | None) -> str:
    return clean_line(v if v is not None else "")


def change_text(c: Change, d: DiffResult) -> str:
    name = clean_line(c.name)
    if c.secret:
        return {"~": f"{name}: differs", "-": f"{name}: only on {d.a.track}", "+": f"{name}: only on {d.b.track}",
                "?": f"{name}: cannot compare"}.get(c.op, name)
    if c.op == "~":
        return f"{name}: {_v(c.a)} → {_v(c.b)}" if not c.detail else f"{name}: (multi-line, differs)"
    if c.op == "-":
        return f"{name}: {_v(c.a)}"
    if c.op == "+":
        return f"{name}: {_v(c.b)}"
    if c.op == "=":
        return f"{clean_ident(c.a)} → {clean_ident(c.b)}: renamed, same content"
    return name


def _head(d: DiffResult, columns: str | None = None) -> list[DiffLine]:
    """The lines both layouts start with: the two sides, state, Services, summary, (columns), notes."""
    out = [DiffLine("h", f"--- {side_title(d.a)}"), DiffLine("h", f"+++ {side_title(d.b)}"),
           DiffLine("h", f"state: {state_line(d)}")]
    if services_line(d):
        out.append(DiffLine("h", services_line(d)))
    out.append(DiffLine("h", "summary: " + clean_line(d.summary())))
    if columns is not None:
        out.append(DiffLine("h", columns))
    out += [DiffLine("?", f"note: {clean_line(n)}") for n in d.notes]
    return out


def unified(d: DiffResult) -> list[DiffLine]:
    """The diff in reading order: a section per object part, one line per change, line diffs indented."""
    out = _head(d)
    where = None
    for i, c in enumerate(d.changes):
        if c.where != where:
            where = c.where
            out.append(DiffLine("@", f"@@ {clean_line(where)}"))
        out.append(DiffLine(c.op, f"{c.op} {change_text(c, d)}", i))
        for line in c.detail:
            out.append(DiffLine(line[:1] if line[:1] in "+-" else " ", f"    {clean_line(line)}"))
    return out


def _cut(s: str, w: int) -> str:
    return s if len(s) <= w else s[: max(0, w - 1)] + "…"


def side_by_side(d: DiffResult, width: int = 120) -> list[DiffLine]:
    """One row per change: field | A | B, columns fitted to `width`."""
    field_w = max(12, min(34, width // 3))
    col = max(8, (width - field_w - 8) // 2)
    head = f"  {'field':<{field_w}} │ {_cut(clean_ident(d.a.track), col):<{col}} │ {_cut(clean_ident(d.b.track), col)}"
    out = _head(d, head)
    where = None
    for i, c in enumerate(d.changes):
        if c.where != where:
            where = c.where
            out.append(DiffLine("@", f"@@ {clean_line(where)}"))
        if c.secret:
            a = {"~": "(hidden)", "-": "(hidden)", "+": "—", "?": "?"}.get(c.op, "")
            b = {"~": "(hidden) differs", "-": "—", "+": "(hidden)", "?": "?"}.get(c.op, "")
        elif c.op == "=":
            a, b = clean_ident(c.a), clean_ident(c.b) + " (same content)"
        else:
            a = "—" if c.a is None else _v(c.a).replace("\n", "⏎")
            b = "—" if c.b is None else _v(c.b).replace("\n", "⏎")
        out.append(DiffLine(c.op, f"{c.op} {_cut(clean_line(c.name), field_w):<{field_w}} │ {_cut(a, col):<{col}} │ "
                                  f"{_cut(b, col)}", i))
    return out


def text(d: DiffResult) -> str:
    """`lookout diff` text output and the export file: the unified lines."""
    return "\n".join(line.text for line in unified(d))


def to_json(d: DiffResult, switch=None) -> dict:
    def side(s: Side) -> dict:
        return {"track": s.track, "kind": s.kind, "namespace": s.namespace, "name": s.name,
                "replicas": s.replicas, "ready": s.ready}

    doc = {"a": side(d.a), "b": side(d.b), "identical": d.identical, "summary": d.summary(),
           "counts": d.counts(), "state": state_line(d),
           "configmaps": [list(p) for p in d.configmaps], "secrets": [list(p) for p in d.secrets],
           "services": {t: list(names) for t, names in d.services},
           "changes": [c.to_json() for c in d.changes], "notes": list(d.notes)}
    if switch is not None:
        doc["switch"] = switch.to_json()
    return doc
