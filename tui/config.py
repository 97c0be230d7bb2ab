"""Settings from a TOML file: track label conventions, findings timing, thresholds, defaults.

Every mistake in the file is a ConfigError naming the file, the line and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tui.rollout.tracks import ARGO_HASH_LABEL, TRACKS, TrackConventions

__all__ = [
    "ConfigError", "Settings", "FindingsSettings", "Thresholds", "Defaults", "load_config", "default_config_path",
    "EXAMPLE",
]


class ConfigError(Exception):
    """One line: `FILE:LINE: what is wrong; what is expected`."""


@dataclass(frozen=True)
class FindingsSettings:
    raise_after: float = 5.0  # seconds a condition must hold before it is shown (seed 003: false positives)
    clear_after: float = 30.0  # seconds it must have stopped holding before it goes away (alert fatigue)
    restart_window: float = 600.0  # restarts count as "rising" within this many seconds
    stall_after: float = 60.0  # a lagging rollout is "stalled" after this long without any progress
    not_ready_grace: float = 15.0  # a just-started pod may be not ready this long without a finding


@dataclass(frozen=True)
class Thresholds:
    # seed 002, success criteria: error rate < 0.1 %, latency < 100 ms
    error_rate_ok_percent: float = 0.1
    p99_ok_ms: float = 100.0
    # seed 002, rollback criteria: error rate > 5 % for > 5 min, latency > 500 ms
    error_rate_rollback_percent: float = 5.0
    error_rate_rollback_for: float = 300.0
    p99_rollback_ms: float = 500.0
    # seed 003: CPU / memory over 80 % of the limit is a warning; a leak when last > 1.5 x first
    cpu_warning_percent: float = 80.0
    memory_warning_percent: float = 80.0
    memory_leak_factor: float = 1.5


@dataclass(frozen=True)
class Defaults:
    namespace: str | None = None  # None: the kubeconfig context's namespace
    refresh_ms: int = 40  # coalescing interval of screen updates
    event_buffer: int = 1000  # events kept by the events pane
    log_buffer_lines: int = 10_000  # lines kept by a log view


@dataclass(frozen=True)
class Settings:
    tracks: TrackConventions = field(default_factory=TrackConventions)
    findings: FindingsSettings = field(default_factory=FindingsSettings)
    thresholds: Thresholds = field(default_factory=Thresholds)
    defaults: Defaults = field(default_factory=Defaults)
    path: str | None = None  # the file these came from, None for built-in defaults


EXAMPLE = """\
# ~/.config/lookout/config.toml (every key is optional)
[defaults]
namespace = "shop"
refresh_ms = 40
event_buffer = 1000
log_buffer_lines = 10000

[findings]            # seconds
raise_after = 5
clear_after = 30
restart_window = 600
stall_after = 60
not_ready_grace = 15

[thresholds]
error_rate_ok_percent = 0.1
p99_ok_ms = 100
error_rate_rollback_percent = 5
error_rate_rollback_for = 300   # seconds
p99_rollback_ms = 500
cpu_warning_percent = 80
memory_warning_percent = 80
memory_leak_factor = 1.5

[tracks]
argo_hash_label = "rollouts-pod-template-hash"
# Label conventions, tried in order; giving any replaces the built-in ones.
# Each table maps label values to a track: stable, canary, blue, green, active or preview.
[tracks.labels.deployment]
canary = "canary"
stable = "stable"
[tracks.labels.environment]
blue = "blue"
green = "green"
[tracks.labels.track]
stable = "stable"
canary = "canary"
"""


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "lookout" / "config.toml"


# ---- validation ----------------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, keypath: tuple[str, ...], message: str):
        super().__init__(message)
        self.keypath = keypath
        self.message = message


def _number(minimum: float | None = 0.0, maximum: float | None = None, strict_min: bool = False,
            unit: str = "") -> Callable[[tuple[str, ...], Any], float]:
    def check(kp: tuple[str, ...], v: Any) -> float:
        what = "a number" + (f" of {unit}" if unit else "")
        rng = []
        if minimum is not None:
            rng.append(f"{'>' if strict_min else '>='} {minimum:g}")
        if maximum is not None:
            rng.append(f"<= {maximum:g}")
        expected = what + (" " + " and ".join(rng) if rng else "")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or math.isinf(v):
            raise _Bad(kp, f"expected {expected}, got {_show(v)}")
        if minimum is not None and (v < minimum or (strict_min and v == minimum)):
            raise _Bad(kp, f"expected {expected}, got {_show(v)}")
        if maximum is not None and v > maximum:
            raise _Bad(kp, f"expected {expected}, got {_show(v)}")
        return float(v)
    return check


def _integer(minimum: int, maximum: int | None = None, unit: str = "") -> Callable[[tuple[str, ...], Any], int]:
    def check(kp: tuple[str, ...], v: Any) -> int:
        expected = f"a whole number{f' of {unit}' if unit else ''} >= {minimum}" + (f" and <= {maximum}" if maximum else "")
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum or (maximum is not None and v > maximum):
            raise _Bad(kp, f"expected {expected}, got {_show(v)}")
        return v
    return check


_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _namespace(kp: tuple[str, ...], v: Any) -> str:
    if not isinstance(v, str) or not _DNS1123.match(v):
        raise _Bad(kp, f"expected a namespace name (lower-case letters, digits and '-', at most 63), got {_show(v)}")
    return v


def _label_key(kp: tuple[str, ...], v: Any) -> str:
    if not isinstance(v, str) or not _LABEL_KEY.match(v):
        raise _Bad(kp, f"expected a label key such as \"rollouts-pod-template-hash\" or \"example.com/track\", got {_show(v)}")
    return v


def _show(v: Any) -> str:
    if isinstance(v, str):
        return repr(v) if len(v) <= 40 else repr(v[:37] + "...")
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


SECONDS = _number(0.0, unit="seconds")
PERCENT = _number(0.0, 100.0, unit="percent")
MS = _number(0.0, strict_min=True, unit="milliseconds")

_SCHEMA: dict[str, tuple[type, dict[str, Callable[[tuple[str, ...], Any], Any]]]] = {
    "findings": (FindingsSettings, {
        "raise_after": SECONDS, "clear_after": SECONDS, "restart_window": _number(0.0, strict_min=True, unit="seconds"),
        "stall_after": SECONDS, "not_ready_grace": SECONDS,
    }),
    "thresholds": (Thresholds, {
        "error_rate_ok_percent": PERCENT, "p99_ok_ms": MS, "error_rate_rollback_percent": PERCENT,
        "error_rate_rollback_for": SECONDS, "p99_rollback_ms": MS, "cpu_warning_percent": PERCENT,
        "memory_warning_percent": PERCENT, "memory_leak_factor": _number(1.0, strict_min=True, unit="times"),
    }),
    "defaults": (Defaults, {
        "namespace": _namespace, "refresh_ms": _integer(1, 10_000, "milliseconds"),
        "event_buffer": _integer(1, 10_000_000, "events"), "log_buffer_lines": _integer(1, 100_000_000, "lines"),
    }),
}
_TRACK_KEYS = ("argo_hash_label", "labels")


def _expect_table(kp: tuple[str, ...], v: Any, what: str) -> dict:
    if not isinstance(v, dict):
        raise _Bad(kp, f"expected a table {what}, got {_show(v)}")
    return v


def _one_of(words) -> str:
    words = list(words)
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


def _build(data: dict) -> Settings:
    parts: dict[str, Any] = {}
    for section, value in data.items():
        if section == "tracks":
            parts["tracks"] = _build_tracks(_expect_table(("tracks",), value, "[tracks]"))
            continue
        if section not in _SCHEMA:
            raise _Bad((section,), f"unknown section [{section}]; expected {_one_of(['[' + s + ']' for s in ['defaults', 'findings', 'thresholds', 'tracks']])}")
        cls, fields = _SCHEMA[section]
        table = _expect_table((section,), value, f"[{section}]")
        kwargs = {}
        for key, v in table.items():
            check = fields.get(key)
            if check is None:
                raise _Bad((section, key), f"unknown key {key!r} in [{section}]; expected {_one_of(fields)}")
            kwargs[key] = check((section, key), v)
        parts[section] = cls(**kwargs)
    f = parts.get("findings")
    if f is not None and f.clear_after < 0:
        raise _Bad(("findings", "clear_after"), "expected a number of seconds >= 0")
    t = parts.get("thresholds")
    if t is not None and t.error_rate_rollback_percent < t.error_rate_ok_percent:
        key = "error_rate_rollback_percent" if "error_rate_rollback_percent" in data["thresholds"] else "error_rate_ok_percent"
        raise _Bad(("thresholds", key), f"expected error_rate_rollback_percent ({t.error_rate_rollback_percent:g}) "
                                        f">= error_rate_ok_percent ({t.error_rate_ok_percent:g})")
    if t is not None and t.p99_rollback_ms < t.p99_ok_ms:
        key = "p99_rollback_ms" if "p99_rollback_ms" in data["thresholds"] else "p99_ok_ms"
        raise _Bad(("thresholds", key), f"expected p99_rollback_ms ({t.p99_rollback_ms:g}) >= p99_ok_ms ({t.p99_ok_ms:g})")
    return Settings(**parts)


def _build_tracks(table: dict) -> TrackConventions:
    defaults = TrackConventions()
    hash_label = defaults.argo_hash_label
    labels = defaults.labels
    for key, v in table.items():
        if key == "argo_hash_label":
            hash_label = _label_key(("tracks", key), v)
        elif key == "labels":
            lt = _expect_table(("tracks", "labels"), v,
                               "of label keys, e.g. [tracks.labels.deployment] with canary = \"canary\"")
            rules = []
            for label, mapping in lt.items():
                kp = ("tracks", "labels", label)
                _label_key(kp, label)
                m = _expect_table(kp, mapping, f"mapping values of label {label!r} to tracks")
                if not m:
                    raise _Bad(kp, f"expected at least one `value = \"track\"` line for label {label!r}")
                pairs = []
                for value, track in m.items():
                    vkp = kp + (value,)
                    if not _LABEL_VALUE.match(value):
                        raise _Bad(vkp, f"expected a label value (letters, digits, '-', '_', '.'), got {_show(value)}")
                    if track not in TRACKS:
                        raise _Bad(vkp, f"expected a track: {_one_of(TRACKS)}; got {_show(track)}")
                    pairs.append((value, track))
                rules.append((label, tuple(pairs)))
            labels = tuple(rules)
        else:
            raise _Bad(("tracks", key), f"unknown key {key!r} in [tracks]; expected {_one_of(_TRACK_KEYS)}")
    return TrackConventions(labels, hash_label or ARGO_HASH_LABEL)


# ---- locating a key's line -----------------------------------------------------------------------

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"' + r"|'[^']*'"
_KEY_PART = re.compile(r"\s*(" + _BARE + "|" + _QUOTED + r")\s*")


def _parse_key(text: str, pos: int = 0) -> tuple[tuple[str, ...], int] | None:
    """A (dotted) key at `pos`: its parts and the position after it; None when there is none."""
    parts = []
    while True:
        m = _KEY_PART.match(text, pos)
        if not m:
            return None
        raw = m.group(1)
        if raw[0] == '"':
            try:
                raw = tomllib.loads(f"k = {raw}")["k"]
            except tomllib.TOMLDecodeError:
                raw = raw[1:-1]
        elif raw[0] == "'":
            raw = raw[1:-1]
        parts.append(raw)
        pos = m.end()
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return tuple(parts), pos


def locate(text: str, keypath: tuple[str, ...]) -> int | None:
    """1-based line where `keypath` is defined (a `key =` line or a `[table]` header); when the exact
    key is not found, the line of its longest defined prefix. None if nothing matches."""
    best: tuple[int, int] | None = None  # (matched length, line)
    table: tuple[str, ...] = ()
    in_multiline: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("["):
            double = s.startswith("[[")
            parsed = _parse_key(s, 2 if double else 1)
            if parsed:
                table = parsed[0]
                full = table
            else:
                continue
        else:
            parsed = _parse_key(line)
            if not parsed or parsed[1] >= len(line) or line[parsed[1]] != "=":
                continue
            full = table + parsed[0]
            rest = line[parsed[1] + 1:]
            for q in ('"""', "'''"):
                if rest.count(q) == 1:
                    in_multiline = q
        n = 0
        while n < len(full) and n < len(keypath) and full[n] == keypath[n]:
            n += 1
        if n == len(keypath) and len(full) == n:
            return lineno
        if n and (best is None or n > best[0]):
            best = (n, lineno)
    return best[1] if best else None


def _dotted(keypath: tuple[str, ...]) -> str:
    return ".".join(k if re.fullmatch(_BARE, k) else '"' + k.replace('"', '\\"') + '"' for k in keypath)


# ---- loading -------------------------------------------------------------------------------------

_TOML_POS = re.compile(r"^(.*?)\s*\(at line (\d+), column (\d+)\)\s*$")


def load_config(path: str | os.PathLike | None = None) -> Settings:
    """Settings from `path` (--config), else from the default file when it exists, else defaults."""
    explicit = path is not None
    p = Path(path) if explicit else default_config_path()
    shown = str(path) if explicit else str(p)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{shown}: no such file (given with --config)") from None
        return Settings()
    except IsADirectoryError:
        raise ConfigError(f"{shown}: is a directory; expected a TOML file") from None
    except OSError as e:
        raise ConfigError(f"{shown}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{shown}:{line}: not UTF-8 text; expected a TOML file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = _TOML_POS.match(str(e))
        if m:
            raise ConfigError(f"{shown}:{m.group(2)}:{m.group(3)}: invalid TOML: {m.group(1)}") from None
        raise ConfigError(f"{shown}: invalid TOML: {e}") from None
    try:
        settings = _build(data)
    except _Bad as e:
        line = locate(text, e.keypath)
        where = f"{shown}:{line}" if line else shown
        raise ConfigError(f"{where}: {_dotted(e.keypath)}: {e.message}") from None
    return dataclasses.replace(settings, path=str(p))
