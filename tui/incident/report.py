"""`lookout incident report DIR`: 004's incident report, in Markdown, from the merged timeline of every writer.

Summary (id, environment, service, severity with its response time, duration, who), the timeline, then Root Cause,
Resolution and Action Items as sections to fill in, pre-filled with what the timeline shows: the findings raised
(the candidates for a root cause) and the steps that were run before the rollout got healthy again.
"""

from __future__ import annotations

import json
import time
from typing import Iterable

from tui.incident.log import SEVERITIES, Entry, Meta
from tui.textsafe import clean_line

RECOVERED = {"healthy", "promote"}


def utc(t: float, seconds: bool = True) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%H:%M:%S UTC", time.gmtime(t))


def _md(s: str) -> str:
    """One Markdown-safe line: cleaned, table pipes and leading markers neutralised."""
    s = clean_line(s).replace("|", "\\|").replace("`", "'")
    return s


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m} min" if h else (f"{m} min {s} s" if m else f"{s} s")


def recovery_at(entries: list[Entry]) -> float | None:
    """When the rollout was last seen healthy again after trouble: the last verdict PROMOTE or phase healthy
    that follows a ROLLBACK/abort/failure entry."""
    trouble = False
    at = None
    for e in entries:
        if e.kind == "verdict":
            d = e.data.get("decision")
            if d == "rollback":
                trouble, at = True, None
            elif d == "promote" and trouble:
                at = e.at
        elif e.kind == "phase":
            st = e.data.get("state")
            if st in ("aborted", "failed", "degraded"):
                trouble, at = True, None
            elif st in RECOVERED and trouble:
                at = at or e.at
    return at


def render_markdown(meta: Meta, entries: Iterable[Entry], *, now: float | None = None) -> str:
    entries = sorted(entries, key=Entry.sort_key)
    end = entries[-1].at if entries else meta.opened_at
    sev = SEVERITIES.get(meta.severity, ("", ""))
    authors = sorted({e.author for e in entries if e.author} | ({meta.opened_by} if meta.opened_by else set()))
    lines = ["# Incident Report", "", "## Summary",
             f"- Incident ID: {_md(meta.id)}",
             f"- Environment: {_md(meta.environment) or '(not given)'}",
             f"- Service: {_md(meta.service) or '(not given)'}",
             f"- Severity: {meta.severity.upper()} ({sev[0]}; response {sev[1]})",
             f"- Opened: {utc(meta.opened_at)} by {_md(meta.opened_by)}",
             f"- Duration: {_duration(end - meta.opened_at)} (to the last entry, {utc(end)})",
             f"- Responders: {', '.join(_md(a) for a in authors) or '(none)'}"]
    if meta.summary:
        lines.append(f"- What happened: {_md(meta.summary)}")
    lines += ["", "## Timeline"]
    multi = len(authors) > 1
    for e in entries:
        who = f" [{_md(e.author)}]" if multi and e.author else ""
        lines.append(f"- {utc(e.at)}{who} {e.kind}: {_md(e.text)}")
    if not entries:
        lines.append("- (no entries)")
    raised = [e for e in entries if e.kind == "finding-raised"]
    steps = [e for e in entries if e.kind == "step"]
    verdicts = [e for e in entries if e.kind == "verdict" and e.data.get("decision") == "rollback"]
    lines += ["", "## Root Cause", "[Describe root cause]"]
    if raised or verdicts:
        lines.append("")
        lines.append("What Lookout saw first (candidates):")
        seen: set[str] = set()
        for e in verdicts[:1] + raised:
            key = e.text
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"- {utc(e.at, seconds=False)}: {_md(e.text)}")
            if len(seen) >= 8:
                break
    rec = recovery_at(entries)
    lines += ["", "## Resolution", "[Describe how it was resolved]"]
    if steps or rec is not None:
        lines.append("")
        for e in steps:
            if rec is not None and e.at > rec:
                continue
            code = e.data.get("exit_code")
            lines.append(f"- {utc(e.at, seconds=False)}: {_md(e.text)}" + (f" (exit {code})" if code is not None else ""))
        if rec is not None:
            lines.append(f"- {utc(rec, seconds=False)}: healthy again")
    lines += ["", "## Action Items", "- [ ] Fix root cause", "- [ ] Add monitoring alert", "- [ ] Update runbook",
              "- [ ] Post-mortem meeting"]
    for code in dict.fromkeys(e.data.get("code") for e in raised if e.data.get("code")):
        lines.append(f"- [ ] Prevent `{_md(str(code))}` from reaching production again")
    return "\n".join(lines) + "\n"


def render_json(meta: Meta, entries: Iterable[Entry]) -> str:
    from dataclasses import asdict

    doc = {"incident": asdict(meta), "timeline": [asdict(e) for e in sorted(entries, key=Entry.sort_key)]}
    return json.dumps(doc, ensure_ascii=False, indent=2)
