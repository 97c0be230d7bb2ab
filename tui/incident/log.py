"""An incident directory two (or more) Lookouts share, in 004's shape (incident-logs/<id>/).

Layout: `incident.json` (written once, by whoever opens the incident: id, severity, environment, service, summary,
opened-at, opened-by) and one `<user>@<host>-<pid>.jsonl` per writer. Each process appends only to its own file,
so no two processes ever append to one file (safe on NFS too); one JSON object per line, written, flushed and
fsync'd per entry, so a crash, a dropped SSH session or a SIGKILL loses at most the entry being written. Readers
take complete lines only and merge every writer's entries by time.

Every string that goes in is cleaned (tui.textsafe.clean_line); the entries hold no Secret values because nothing
that records them is given one (runbook output is sanitised and cut before it is recorded).
"""

from __future__ import annotations

import bisect
import getpass
import json
import os
import re
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tui.textsafe import clean_line

META = "incident.json"
SEVERITIES = {  # 004's classification: criteria and response time
    "critical": ("Production down, users affected", "Immediate (< 5 min)"),
    "high": ("Production degraded, partial outage", "Urgent (< 15 min)"),
    "medium": ("Staging affected, non-critical service", "Standard (< 1 hour)"),
    "low": ("Minor issue, no user impact", "Planned (< 24 hours)"),
}
KINDS = ("opened", "joined", "left", "phase", "verdict", "finding-raised", "finding-cleared", "warning-event",
         "step", "confirmed", "refused", "connection", "note")
EXCERPT_CHARS = 2000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class IncidentError(ValueError):
    """A bad incident directory or file, said in one line."""


def _clean(value: Any, limit: int = 500) -> Any:
    if isinstance(value, str):
        s = clean_line(value)
        return s if len(s) <= limit else s[: limit - 1] + "…"
    if isinstance(value, dict):
        return {_clean(str(k), 80): _clean(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, limit) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return _clean(str(value), limit)


@dataclass(frozen=True)
class Entry:
    at: float  # unix seconds
    kind: str  # one of KINDS
    text: str  # one line a person reads
    author: str = ""  # user@host
    data: dict = field(default_factory=dict)  # the numbers: codes, exit code, duration, argv, excerpt …
    ref: str = ""  # the object it rests on: "Pod/ns/name", "Service/ns/name", "Rollout/ns/name"
    seq: int = 0  # order within one writer

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict) -> "Entry":
        if not isinstance(d, dict):
            raise ValueError("not an object")
        at = d.get("at")
        if not isinstance(at, (int, float)):
            raise ValueError("no time")
        return cls(at=float(at), kind=_clean(str(d.get("kind", "")), 40), text=_clean(str(d.get("text", ""))),
                   author=_clean(str(d.get("author", "")), 120),
                   data=_clean(d.get("data")) if isinstance(d.get("data"), dict) else {},
                   ref=_clean(str(d.get("ref", "")), 300), seq=int(d.get("seq") or 0))

    def sort_key(self) -> tuple:
        return (self.at, self.author, self.seq)


@dataclass(frozen=True)
class Meta:
    id: str
    severity: str
    environment: str
    service: str
    summary: str
    opened_at: float
    opened_by: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, indent=2)


def whoami() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid()) if hasattr(os, "getuid") else "someone"
    return f"{clean_line(user)}@{clean_line(socket.gethostname().split('.')[0])}"


def new_id(now: float | None = None) -> str:
    """004's DEPLOYMENT_ID is `date +%s`; a UTC stamp reads better and sorts the same."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))


def read_meta(directory: Path) -> Meta:
    path = directory / META
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IncidentError(f"{path}: no incident here (no {META})") from None
    except json.JSONDecodeError as e:
        raise IncidentError(f"{path}:{e.lineno}: not JSON: {e.msg}") from None
    except OSError as e:
        raise IncidentError(f"{path}: {e.strerror or e}") from None
    if not isinstance(raw, dict):
        raise IncidentError(f"{path}:1: not a JSON object")
    try:
        return Meta(id=_clean(str(raw["id"]), 128), severity=_clean(str(raw.get("severity", "medium")), 20),
                    environment=_clean(str(raw.get("environment", "")), 80),
                    service=_clean(str(raw.get("service", "")), 200), summary=_clean(str(raw.get("summary", ""))),
                    opened_at=float(raw.get("opened_at") or 0), opened_by=_clean(str(raw.get("opened_by", "")), 120))
    except (KeyError, TypeError, ValueError) as e:
        raise IncidentError(f"{path}: missing or wrong field: {e}") from None


def read_entries(path: Path, offset: int = 0) -> tuple[list[Entry], int, list[str]]:
    """Complete lines from `offset`: (entries, new offset, problems as 'file:line: why'). A last line without its
    newline is being written: it is left for the next read."""
    entries: list[Entry] = []
    problems: list[str] = []
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError as e:
        return [], offset, [f"{path}: {e.strerror or e}"]
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset, []
    # the line number of the first line read (for messages): count the newlines before `offset`
    first_line = 1
    if offset:
        try:
            with open(path, "rb") as fh:
                first_line += fh.read(offset).count(b"\n")
        except OSError:
            pass
    for i, raw in enumerate(data[: end + 1].split(b"\n")[:-1]):
        if not raw.strip():
            continue
        try:
            entries.append(Entry.from_dict(json.loads(raw.decode("utf-8", "replace"))))
        except (ValueError, TypeError) as e:
            problems.append(f"{path}:{first_line + i}: skipped: {clean_line(str(e))[:120]}")
    return entries, offset + end + 1, problems


class Incident:
    """One process's view of an incident directory: it writes its own file and reads everyone's."""

    def __init__(self, directory: Path, meta: Meta, *, author: str | None = None, clock=time.time) -> None:
        self.directory = directory
        self.meta = meta
        self.author = author or whoami()
        self.clock = clock
        self.path = directory / f"{self.author}-{os.getpid()}.jsonl"
        self._fd: int | None = None
        self._seq = 0
        self._offsets: dict[Path, int] = {}
        self.entries: list[Entry] = []  # merged, by time
        self.problems: list[str] = []
        self.write_error: str | None = None

    # ---- open / join ---------------------------------------------------------------------------
    @classmethod
    def open(cls, directory: str | Path, *, severity: str = "medium", environment: str = "", service: str = "",
             summary: str = "", author: str | None = None, clock=time.time) -> "Incident":
        """Join the incident in `directory`, or open it there if it holds none yet (the first one writes
        incident.json with O_EXCL, so two people opening at once end up in one incident)."""
        d = Path(directory).expanduser()
        if severity not in SEVERITIES:
            raise IncidentError(f"severity {clean_line(severity)!r}: one of {', '.join(SEVERITIES)}")
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IncidentError(f"{d}: cannot create the incident directory: {e.strerror or e}") from None
        who = author or whoami()
        now = clock()
        opened = False
        meta = Meta(id=d.name if _ID.match(d.name) else new_id(now), severity=severity,
                    environment=_clean(environment, 80), service=_clean(service, 200), summary=_clean(summary),
                    opened_at=now, opened_by=who)
        try:
            fd = os.open(d / META, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            meta = read_meta(d)
        except OSError as e:
            raise IncidentError(f"{d / META}: {e.strerror or e}") from None
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(meta.to_json() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            opened = True
        inc = cls(d, meta, author=who, clock=clock)
        inc.poll()
        if opened:
            sev = SEVERITIES[meta.severity]
            inc.record("opened", f"incident opened: {meta.severity.upper()} ({sev[0]}; respond {sev[1]})"
                       + (f" · {meta.summary}" if meta.summary else ""),
                       data={"severity": meta.severity, "environment": meta.environment, "service": meta.service})
        else:
            inc.record("joined", f"{who} joined the incident")
        return inc

    # ---- writing -------------------------------------------------------------------------------
    def record(self, kind: str, text: str, *, data: dict | None = None, ref: str = "", at: float | None = None) -> Entry:
        """Append one entry to this writer's file (flushed and fsync'd before returning) and to the timeline."""
        self._seq += 1
        entry = Entry(at=at if at is not None else self.clock(), kind=kind, text=_clean(text), author=self.author,
                      data=_clean(data or {}), ref=_clean(ref, 300), seq=self._seq)
        line = (entry.to_json() + "\n").encode("utf-8")
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(self._fd, line)
            os.fsync(self._fd)
            self._offsets[self.path] = self._offsets.get(self.path, 0) + len(line)
            self.write_error = None
        except OSError as e:
            self.write_error = f"{self.path}: {e.strerror or e}"
        self._insert(entry)
        return entry

    def close(self) -> None:
        if self._fd is not None:
            try:
                self.record("left", f"{self.author} left")
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    # ---- reading -------------------------------------------------------------------------------
    def writers(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.glob("*.jsonl") if p.is_file())
        except OSError:
            return []

    def poll(self) -> list[Entry]:
        """New entries from the other writers' files since the last poll (our own are in already)."""
        new: list[Entry] = []
        for path in self.writers():
            if path == self.path:
                continue
            got, offset, problems = read_entries(path, self._offsets.get(path, 0))
            self._offsets[path] = offset
            self.problems.extend(problems)
            for e in got:
                self._insert(e)
            new.extend(got)
        return new

    def _insert(self, entry: Entry) -> None:
        if not self.entries or entry.sort_key() >= self.entries[-1].sort_key():
            self.entries.append(entry)
            return
        i = bisect.bisect_right([e.sort_key() for e in self.entries], entry.sort_key())
        self.entries.insert(i, entry)

    def authors(self) -> list[str]:
        return sorted({e.author for e in self.entries if e.author})


def load(directory: str | Path) -> tuple[Meta, list[Entry], list[str]]:
    """Everything in an incident directory, merged by time (for the report)."""
    d = Path(directory).expanduser()
    meta = read_meta(d)
    entries: list[Entry] = []
    problems: list[str] = []
    for path in sorted(d.glob("*.jsonl")):
        got, _, bad = read_entries(path)
        entries.extend(got)
        problems.extend(bad)
    entries.sort(key=Entry.sort_key)
    return meta, entries, problems


def entries_of(kind: str, entries: Iterable[Entry]) -> list[Entry]:
    return [e for e in entries if e.kind == kind]
