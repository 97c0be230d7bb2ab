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

from tui.metrics.analysis import MetricsSettings
from tui.rollout.tracks import ARGO_HASH_LABEL, TRACKS, TrackConventions

__all__ = [
    "ConfigError", "Settings", "FindingsSettings", "Thresholds", "Defaults", "load_config", "default_config_path",
    "EXAMPLE", "MetricsSettings", "PrometheusSettings",
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
    refresh_ms: int = 40  # a burst of cluster changes becomes one repaint at most this often (LookoutApp's coalescing)
    event_buffer: int = 1000  # events kept by the events pane (LookoutApp(events_buffer=...), its ring buffer)
    log_buffer_lines: int = 10_000  # lines kept by a log view (LogScreen(max_lines=...), its ring buffer)

    @property
    def coalesce_seconds(self) -> float:
        return self.refresh_ms / 1000.0


# Bounds: below 10 ms coalescing no longer batches a burst; above 1 s the screen lags what it shows. The
# buffers are held in memory per pane: a million log lines or 100,000 events is already hundreds of MB.
REFRESH_MS_RANGE = (10, 1000)
EVENT_BUFFER_RANGE = (10, 100_000)
LOG_BUFFER_LINES_RANGE = (100, 1_000_000)


@dataclass(frozen=True)
class PrometheusSettings:
    """How to reach Prometheus; `--prometheus URL` overrides `url`. Secrets are best kept in *_file keys."""

    url: str | None = None  # None: no Prometheus, metrics by direct scrape through the API server
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    username: str | None = None  # basic auth
    password: str | None = None
    password_file: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # extra HTTP headers, e.g. X-Scope-OrgID for Mimir/Cortex
    ca_file: str | None = None
    cert_file: str | None = None  # client certificate (mutual TLS) ...
    key_file: str | None = None  # ... and its key
    insecure_skip_verify: bool = False
    timeout: float = 10.0  # seconds per query


@dataclass(frozen=True)
class Settings:
    tracks: TrackConventions = field(default_factory=TrackConventions)
    findings: FindingsSettings = field(default_factory=FindingsSettings)
    thresholds: Thresholds = field(default_factory=Thresholds)
    defaults: Defaults = field(default_factory=Defaults)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)
    crds: tuple = ()  # tui.rollout.custom.CustomKind: in-house rollout CRDs mapped in [crds.<name>] tables
    warnings: tuple[str, ...] = ()  # `FILE:LINE: ...` for each [crds.<name>] mapping skipped as wrong
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

[metrics]
convention = "plain"          # plain | istio | linkerd | nginx: which series the queries read
window = 60                   # seconds of the rate window ([1m])
interval = 5                  # seconds between polls
history = 900                 # seconds of sparkline history
min_requests = 100            # fewer canary requests in the window: HOLD, not-enough-traffic
confidence = 0.99             # an error-rate difference counts only when significant at this level
latency_regression_percent = 50   # canary p99 this much above stable's is worse ...
latency_regression_min_ms = 25    # ... when the difference is at least this
# track_label = "rollouts_pod_template_hash"  # Prometheus label telling tracks apart (default: from pod labels)
# status_label = "code"       # or "status"
namespace_label = "namespace"
pod_label = "pod"
metrics_port = ""             # direct scrape: pod port of /metrics ("" = prometheus.io/port, else the first port)
metrics_path = "metrics"
timeout = 10
# [metrics.queries]           # override one figure's PromQL: {sel} {group} {window} {status} are filled in
# error_ratio = 'sum by ({group}) (rate(http_requests_total{{{sel},{status}=~"5.."}}[{window}])) / sum by ({group}) (rate(http_requests_total{{{sel}}}[{window}]))'
# One rollout differs? [metrics.rollouts.<name>] takes any [metrics] key (and its own .queries) for the
# Rollout/Deployment <name> or the app label value <name>; "<namespace>/<name>" wins over <name>.
# [metrics.rollouts.checkout]
# convention = "istio"
# min_requests = 500
# [metrics.rollouts."shop/payments"]
# status_label = "status"
# [metrics.rollouts."shop/payments".queries]
# latency_p99_s = 'histogram_quantile(0.99, sum by ({group}, le) (rate(payments_seconds_bucket{{{sel}}}[{window}])))'

[prometheus]
# url = "https://prometheus.example.com"   # or --prometheus URL; none = direct scrape
# bearer_token_file = "/var/run/secrets/prometheus-token"
# username = "lookout"
# password_file = "~/.config/lookout/prometheus-password"
# ca_file = "/etc/ssl/my-ca.pem"
# cert_file = "client.pem"
# key_file = "client-key.pem"
insecure_skip_verify = false
timeout = 10
# [prometheus.headers]
# X-Scope-OrgID = "team-a"

[tracks]
argo_hash_label = "rollouts-pod-template-hash"
# Label conventions, tried in order; giving any replaces the built-in ones.
# Each table maps label values to a track: stable, primary (Flagger's), canary, blue, green, active or preview.
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

_PROM_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_FIGURE_KEYS = ("request_rate_rps", "error_ratio", "latency_p50_s", "latency_p95_s", "latency_p99_s")


def _prom_label(kp: tuple[str, ...], v: Any) -> str:
    if not isinstance(v, str) or not _PROM_LABEL.match(v):
        raise _Bad(kp, f"expected a Prometheus label name (letters, digits and '_', not starting with a digit), "
                       f"got {_show(v)}")
    return v


def _convention(kp: tuple[str, ...], v: Any) -> str:
    from tui.metrics.queries import CONVENTIONS

    if v not in CONVENTIONS:
        raise _Bad(kp, f"expected {_one_of(CONVENTIONS)}, got {_show(v)}")
    return v


def _text(allow_empty: bool = False):
    def check(kp: tuple[str, ...], v: Any) -> str:
        if not isinstance(v, str) or (not allow_empty and not v.strip()):
            raise _Bad(kp, f"expected a{'' if allow_empty else ' non-empty'} string, got {_show(v)}")
        return v
    return check


def _port(kp: tuple[str, ...], v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535:
        return str(v)
    if isinstance(v, str) and (v == "" or (v.isdigit() and 1 <= int(v) <= 65535) or _DNS1123.match(v)):
        return v
    raise _Bad(kp, f"expected a port number 1-65535 or a port name, got {_show(v)}")


def _url(kp: tuple[str, ...], v: Any) -> str:
    if not isinstance(v, str) or not re.match(r"^https?://[^/\s]+", v):
        raise _Bad(kp, f"expected an http:// or https:// URL, got {_show(v)}")
    return v.rstrip("/")


def _path(kp: tuple[str, ...], v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Bad(kp, f"expected a file path, got {_show(v)}")
    return os.path.expanduser(v)


def _boolean(kp: tuple[str, ...], v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad(kp, f"expected true or false, got {_show(v)}")
    return v


def _headers(kp: tuple[str, ...], v: Any) -> tuple[tuple[str, str], ...]:
    t = _expect_table(kp, v, "of header names to values, e.g. X-Scope-OrgID = \"team-a\"")
    out = []
    for k, val in t.items():
        if not re.match(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", k):
            raise _Bad(kp + (k,), f"expected an HTTP header name, got {_show(k)}")
        if not isinstance(val, str) or "\n" in val or "\r" in val:
            raise _Bad(kp + (k,), f"expected a one-line string, got {_show(val)}")
        out.append((k, val))
    return tuple(out)


def _queries(kp: tuple[str, ...], v: Any) -> dict[str, str]:
    t = _expect_table(kp, v, "of figure names to PromQL templates")
    out = {}
    for k, q in t.items():
        if k not in _FIGURE_KEYS:
            raise _Bad(kp + (k,), f"unknown figure {k!r}; expected {_one_of(_FIGURE_KEYS)}")
        if not isinstance(q, str) or not q.strip():
            raise _Bad(kp + (k,), f"expected a PromQL template string, got {_show(q)}")
        try:
            q.format(sel="x", group="g", window="1m", status="code")
        except (KeyError, IndexError, ValueError) as e:
            raise _Bad(kp + (k,), f"expected a template using only {{sel}} {{group}} {{window}} {{status}} "
                                  f"(literal braces doubled), got an error: {e}") from None
        out[k] = q
    return out


_ROLLOUT_KEY = re.compile(r"^(?:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?$")


def _metrics_rollouts(kp: tuple[str, ...], v: Any) -> dict[str, dict[str, Any]]:
    """[metrics.rollouts.<name>] tables: the [metrics] keys (but `rollouts`), overriding them for one rollout."""
    t = _expect_table(kp, v, "of rollout names, e.g. [metrics.rollouts.checkout] or "
                             "[metrics.rollouts.\"shop/checkout\"]")
    fields = {k: c for k, c in _METRICS_FIELDS.items() if k != "rollouts"}
    out: dict[str, dict[str, Any]] = {}
    for name, table in t.items():
        rkp = kp + (name,)
        if not _ROLLOUT_KEY.match(name):
            raise _Bad(rkp, f"expected a rollout name or app label value, optionally as \"<namespace>/<name>\", "
                            f"got {_show(name)}")
        table = _expect_table(rkp, table, f"of [metrics] keys for rollout {name!r}")
        kwargs = {}
        for key, val in table.items():
            check = fields.get(key)
            if check is None:
                raise _Bad(rkp + (key,), f"unknown key {key!r} in [{_dotted(rkp)}]; expected {_one_of(fields)}")
            kwargs[key] = check(rkp + (key,), val)
        out[name] = kwargs
    return out


_METRICS_FIELDS: dict[str, Callable[[tuple[str, ...], Any], Any]] = {
    "convention": _convention, "window": _number(1.0, unit="seconds"),
    "interval": _number(0.2, unit="seconds"), "history": _number(60.0, 86400.0, unit="seconds"),
    "min_requests": _integer(1, 10_000_000, "requests"), "confidence": _number(0.5, 0.9999),
    "latency_regression_percent": _number(0.0, unit="percent"),
    "latency_regression_min_ms": _number(0.0, unit="milliseconds"),
    "track_label": _prom_label, "status_label": _prom_label, "namespace_label": _prom_label,
    "pod_label": _prom_label, "metrics_port": _port, "metrics_path": _text(),
    "timeout": _number(0.1, unit="seconds", strict_min=False), "queries": _queries,
    "rollouts": _metrics_rollouts,
}

_SCHEMA: dict[str, tuple[type, dict[str, Callable[[tuple[str, ...], Any], Any]]]] = {
    "metrics": (MetricsSettings, _METRICS_FIELDS),
    "prometheus": (PrometheusSettings, {
        "url": _url, "bearer_token": _text(), "bearer_token_file": _path, "username": _text(), "password": _text(),
        "password_file": _path, "headers": _headers, "ca_file": _path, "cert_file": _path, "key_file": _path,
        "insecure_skip_verify": _boolean, "timeout": _number(0.1, unit="seconds"),
    }),
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
        "namespace": _namespace, "refresh_ms": _integer(*REFRESH_MS_RANGE, "milliseconds"),
        "event_buffer": _integer(*EVENT_BUFFER_RANGE, "events"),
        "log_buffer_lines": _integer(*LOG_BUFFER_LINES_RANGE, "lines"),
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
        if section == "crds":
            continue  # built by _build_crds: a wrong mapping is skipped with a warning, the rest still loads
        if section == "tracks":
            parts["tracks"] = _build_tracks(_expect_table(("tracks",), value, "[tracks]"))
            continue
        if section not in _SCHEMA:
            raise _Bad((section,), f"unknown section [{section}]; expected {_one_of(['[' + s + ']' for s in ['crds', 'defaults', 'findings', 'metrics', 'prometheus', 'thresholds', 'tracks']])}")
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
    pr = parts.get("prometheus")
    if pr is not None:
        for a, b in (("bearer_token", "bearer_token_file"), ("password", "password_file")):
            if getattr(pr, a) and getattr(pr, b):
                raise _Bad(("prometheus", b), f"expected either {a} or {b}, not both")
        if (pr.password or pr.password_file) and not pr.username:
            raise _Bad(("prometheus", "password" if pr.password else "password_file"),
                       "expected username too: basic auth needs both")
        if (pr.username or pr.password or pr.password_file) and (pr.bearer_token or pr.bearer_token_file):
            raise _Bad(("prometheus", "username"), "expected basic auth or a bearer token, not both")
        if bool(pr.cert_file) != bool(pr.key_file):
            raise _Bad(("prometheus", "cert_file" if pr.cert_file else "key_file"),
                       "expected cert_file and key_file together (a client certificate needs its key)")
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


def _crd_paths_bad(t: dict) -> bool:
    """Whether a path of the table is wrong: that is said before what it lacks (the user is editing it)."""
    from tui.rollout.custom import PATH_KEYS, JsonPathTemplate, PathError

    for key in PATH_KEYS:
        if key in t:
            try:
                JsonPathTemplate.parse(t[key])
            except PathError:
                return True
    return False


# ---- in-house rollout CRDs: [crds.<name>] -------------------------------------------------------------

_CRD_KEYS = ("api_version", "kind", "resource", "strategy", "controller", "selector", "step_base", "phases",
             "tracks", "must_hold")


def _build_crds(data: dict) -> tuple[list, list[_Bad]]:
    """Each [crds.<name>] table as a CustomKind; a wrong one is left out and its _Bad returned."""
    from tui.rollout.custom import HEALTHS, PATH_KEYS, CustomKind, JsonPathTemplate, PathError, guess_plural

    value = data.get("crds")
    if value is None:
        return [], []
    if not isinstance(value, dict):
        return [], [_Bad(("crds",), "expected tables such as [crds.veritas-canary], got " + _show(value))]
    kinds, bads, seen = [], [], {}
    allowed = _CRD_KEYS + PATH_KEYS
    for name, table in value.items():
        kp = ("crds", name)
        try:
            t = _expect_table(kp, table, f"[crds.{name}] with api_version, kind, phase and [crds.{name}.phases]")
            for key in t:
                if key not in allowed:
                    raise _Bad(kp + (key,), f"unknown key {key!r} in [crds.{name}]; expected {_one_of(allowed)}")
            for key in ("api_version", "kind", "phase", "phases"):
                if key not in t and (key in ("api_version", "kind") or not _crd_paths_bad(t)):
                    raise _Bad(kp, f"[crds.{name}] needs {key!r}" + {
                        "api_version": ' (the CRD\'s group/version, e.g. "veritas.hearthlink.ai/v1")',
                        "kind": ' (e.g. "VeritasCanary")', "phase": ' (a path such as "{.status.phase}")',
                        "phases": f" (a [crds.{name}.phases] table mapping each phase to {_one_of(HEALTHS)})"}[key])
            av = t["api_version"]
            if not isinstance(av, str) or not re.fullmatch(r"[a-z0-9.-]+/v[0-9a-z]+", av):
                raise _Bad(kp + ("api_version",), f"expected GROUP/VERSION such as \"veritas.hearthlink.ai/v1\", "
                                                  f"got {_show(av)}")
            group, version = av.rsplit("/", 1)
            kind = t["kind"]
            if not isinstance(kind, str) or not re.fullmatch(r"[A-Z][A-Za-z0-9]*", kind):
                raise _Bad(kp + ("kind",), f"expected a kind such as \"VeritasCanary\", got {_show(kind)}")
            plural = t.get("resource", guess_plural(kind))
            if not isinstance(plural, str) or not _DNS1123.match(plural):
                raise _Bad(kp + ("resource",), f"expected the CRD's plural resource name such as "
                                               f"\"veritascanaries\", got {_show(plural)}")
            strategy = t.get("strategy", "canary")
            if strategy not in ("canary", "bluegreen"):
                raise _Bad(kp + ("strategy",), f"expected \"canary\" or \"bluegreen\", got {_show(strategy)}")
            controller = _text()(kp + ("controller",), t["controller"]) if "controller" in t else ""
            step_base = t.get("step_base", 0)
            if step_base not in (0, 1) or isinstance(step_base, bool):
                raise _Bad(kp + ("step_base",), f"expected 0 (the step is an index) or 1 (counted from 1), "
                                                f"got {_show(step_base)}")
            must_hold = t.get("must_hold", [])
            if not isinstance(must_hold, list) or not all(
                    isinstance(x, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,62}", x) for x in must_hold):
                raise _Bad(kp + ("must_hold",), f"expected a list of condition types such as [\"TargetHealthy\"], "
                                                f"got {_show(must_hold)}")
            if must_hold and "conditions" not in t:
                raise _Bad(kp + ("must_hold",), "must_hold names condition types: it needs the `conditions` path")
            paths = {}
            for key in PATH_KEYS:
                if key in t:
                    try:
                        paths[key] = JsonPathTemplate.parse(t[key])
                    except PathError as e:
                        raise _Bad(kp + (key,), str(e)) from None
            selector = None
            if "selector" in t:
                try:
                    selector = JsonPathTemplate.parse(t["selector"]) if "{" in str(t["selector"]) else None
                except PathError as e:
                    raise _Bad(kp + ("selector",), str(e)) from None
                if selector is None:
                    from tui.kube.selectors import SelectorError, parse_selector

                    try:
                        parse_selector(_text()(kp + ("selector",), t["selector"]))
                    except SelectorError as e:
                        raise _Bad(kp + ("selector",), f"expected a label selector, such as \"app={{.metadata.name}}\""
                                                       f": {e}") from None
                    selector = JsonPathTemplate(t["selector"], (("text", t["selector"]),))
            phases = {}
            pt = _expect_table(kp + ("phases",), t["phases"], f"mapping phase words to {_one_of(HEALTHS)}")
            if not pt:
                raise _Bad(kp + ("phases",), f"expected at least one `Phase = \"health\"` line, health one of "
                                             f"{_one_of(HEALTHS)}")
            for word, health in pt.items():
                if health not in HEALTHS:
                    raise _Bad(kp + ("phases", word), f"expected {_one_of(HEALTHS)}, got {_show(health)}")
                phases[word] = health
            tracks = []
            if "tracks" in t:
                tt = _expect_table(kp + ("tracks",), t["tracks"], 'mapping tracks to labels, e.g. canary = "deployment=canary"')
                for track, sel in tt.items():
                    tkp = kp + ("tracks", track)
                    if track not in TRACKS:
                        raise _Bad(tkp, f"expected a track: {_one_of(TRACKS)}; got {_show(track)}")
                    if not isinstance(sel, str) or sel.count("=") != 1:
                        raise _Bad(tkp, f"expected one label as KEY=VALUE, such as \"deployment=canary\", got {_show(sel)}")
                    k, v = (x.strip() for x in sel.split("="))
                    _label_key(tkp, k)
                    if not _LABEL_VALUE.match(v) or not v:
                        raise _Bad(tkp, f"expected a label value after '=', got {_show(v)}")
                    tracks.append((track, k, v))
            if (group, kind) in seen:
                raise _Bad(kp + ("kind",), f"{kind} of {group} is mapped twice: here and in [crds.{seen[(group, kind)]}]")
            seen[(group, kind)] = name
            kinds.append(CustomKind(name, group, version, kind, plural, strategy, controller, paths, phases,
                                    tuple(tracks), selector, step_base, must_hold=tuple(must_hold)))
        except _Bad as e:
            bads.append(e)
    return kinds, bads


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
    def message(e: _Bad) -> str:
        line = locate(text, e.keypath)
        where = f"{shown}:{line}" if line else shown
        return f"{where}: {_dotted(e.keypath)}: {e.message}"

    try:
        settings = _build(data)
    except _Bad as e:
        raise ConfigError(message(e)) from None
    crds, bads = _build_crds(data)
    warnings = tuple(f"{message(e)}; this mapping is skipped" for e in bads)
    return dataclasses.replace(settings, crds=tuple(crds), warnings=warnings, path=str(p))
