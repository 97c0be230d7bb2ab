"""PromQL templates per metrics convention: one query per figure for all tracks, grouped by the track label.

A template is a format string with these fields:
  {sel}     label matchers selecting the rollout's series (namespace and the track label's values), no braces
  {group}   the label that tells tracks apart in Prometheus (e.g. rollouts_pod_template_hash)
  {window}  the rate window, e.g. 1m
  {status}  the label carrying the HTTP status (code or status)
Literal braces are doubled, as in str.format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The figures that come from request metrics (the others, restarts/CPU/memory, come from Kubernetes).
REQUEST_FIGURES = ("request_rate_rps", "error_ratio", "latency_p50_s", "latency_p95_s", "latency_p99_s")
QUANTILES = {"latency_p50_s": 0.5, "latency_p95_s": 0.95, "latency_p99_s": 0.99}


@dataclass(frozen=True)
class Convention:
    """How one kind of instrumentation names its series."""

    name: str
    request_rate: str
    error_ratio: str
    latency: str  # with {q}: the quantile
    status_label: str = "code"
    latency_unit: float = 1.0  # multiply to get seconds (Istio and Linkerd histograms are in milliseconds)
    # Grouping: None = a pod label mapped into Prometheus (the track resolver's label, sanitised);
    # a name = a label the instrumentation sets itself (NGINX's `canary`).
    group_label: str | None = None
    extra: str = ""  # matchers always added, e.g. reporter="destination"
    notes: str = ""
    requests_metric: str = "http_requests_total"  # what a direct scrape looks for
    histogram: str = "http_request_duration_seconds"

    def render(self, figure: str, sel: str, group: str, window: str, status: str | None = None) -> str:
        fields = {"sel": sel, "group": group, "window": window, "status": status or self.status_label}
        if figure == "request_rate_rps":
            return self.request_rate.format(**fields)
        if figure == "error_ratio":
            return self.error_ratio.format(**fields)
        if figure in QUANTILES:
            return self.latency.format(q=QUANTILES[figure], **fields)
        raise KeyError(figure)


def _rate(metric: str, extra: str = "") -> str:
    return "sum by ({group}) (rate(" + metric + "{{{sel}" + extra + "}}[{window}]))"


def _ratio(metric: str, errors: str, base: str = "") -> str:
    """errors / all, per track. `or all * 0`: a track without a single 5xx has no error series at all, and a
    plain division would drop the track instead of giving 0."""
    num = _rate(metric, base + errors)
    den = _rate(metric, base)
    return "(" + num + "\n  or " + den + " * 0)\n  / " + den


def _quantile(bucket: str, extra: str = "") -> str:
    return "histogram_quantile({q}, sum by ({group}, le) (rate(" + bucket + "{{{sel}" + extra + "}}[{window}])))"


PLAIN = Convention(
    name="plain",
    request_rate=_rate("http_requests_total"),
    error_ratio=_ratio("http_requests_total", ',{status}=~"5.."'),
    latency=_quantile("http_request_duration_seconds_bucket"),
    notes="an app instrumented with http_requests_total{code|status} and http_request_duration_seconds",
)

ISTIO = Convention(
    name="istio",
    request_rate=_rate("istio_requests_total", ',reporter="destination"'),
    error_ratio=_ratio("istio_requests_total", ',response_code=~"5.."', ',reporter="destination"'),
    latency=_quantile("istio_request_duration_milliseconds_bucket", ',reporter="destination"'),
    status_label="response_code",
    latency_unit=0.001,
    requests_metric="istio_requests_total",
    histogram="istio_request_duration_milliseconds",
    notes="Istio sidecar metrics as scraped with pod labels (destination side)",
)

LINKERD = Convention(
    name="linkerd",
    request_rate=_rate("response_total", ',direction="inbound"'),
    error_ratio=_ratio("response_total", ',classification="failure"', ',direction="inbound"'),
    latency=_quantile("response_latency_ms_bucket", ',direction="inbound"'),
    status_label="status_code",
    latency_unit=0.001,
    requests_metric="response_total",
    histogram="response_latency_ms",
    notes="Linkerd proxy metrics (inbound), pod labels mapped by linkerd-viz's Prometheus",
)

# NGINX ingress canary: requests sent to the canary backend carry canary="<canary service>", the others
# canary="". The namespace and ingress are the selection; tracks are the `canary` label's emptiness.
NGINX = Convention(
    name="nginx",
    request_rate=_rate("nginx_ingress_controller_requests"),
    error_ratio=_ratio("nginx_ingress_controller_requests", ',status=~"5.."'),
    latency=_quantile("nginx_ingress_controller_request_duration_seconds_bucket"),
    status_label="status",
    group_label="canary",
    requests_metric="nginx_ingress_controller_requests",
    histogram="nginx_ingress_controller_request_duration_seconds",
    notes="ingress-nginx canary annotations; canary=\"\" is stable, any other value the canary",
)

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (PLAIN, ISTIO, LINKERD, NGINX)}


def sanitize_label(key: str) -> str:
    """A Kubernetes label key as Prometheus' labelmap of __meta_kubernetes_pod_label_* names it."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def regex_alternation(values) -> str:
    return "|".join(re.escape(v).replace("\\-", "-") for v in sorted(set(values)))


@dataclass(frozen=True)
class TrackGrouping:
    """How tracks are told apart in metric series: a label and which of its values is which track."""

    label: str  # Prometheus label name (sanitised)
    values: dict[str, str] = field(default_factory=dict)  # label value -> track
    pod_label: str | None = None  # the Kubernetes label it comes from, when it is a pod label

    def track_of(self, value: str | None) -> str | None:
        if value is None:
            return None
        t = self.values.get(value)
        if t is None and self.label == "canary" and self.pod_label is None:  # NGINX: any non-empty value
            return "canary" if value else "stable"
        return t


@dataclass(frozen=True)
class QuerySet:
    """The PromQL of each figure for one rollout, ready to paste into Prometheus or Grafana."""

    convention: str
    grouping: TrackGrouping
    queries: dict[str, str]  # figure -> PromQL
    up: str | None = None  # which scrape targets exist and answer, per pod


def build_queries(convention: Convention, grouping: TrackGrouping, *, namespace: str | None, window: str = "1m",
                  namespace_label: str = "namespace", pod_label: str = "pod", pods: tuple[str, ...] = (),
                  status_label: str | None = None, overrides: dict[str, str] | None = None) -> QuerySet:
    matchers = []
    if namespace and namespace_label:
        matchers.append(f"{namespace_label}={quote(namespace)}")
    if grouping.values and not (convention.group_label and grouping.pod_label is None):
        matchers.append(f"{grouping.label}=~{quote(regex_alternation(grouping.values))}")
    sel = ",".join(matchers)
    queries = {}
    for fig in REQUEST_FIGURES:
        tmpl = (overrides or {}).get(fig)
        if tmpl:
            queries[fig] = tmpl.format(sel=sel, group=grouping.label, window=window,
                                       status=status_label or convention.status_label)
        else:
            queries[fig] = convention.render(fig, sel, grouping.label, window, status_label)
    queries = {k: v.replace("{,", "{") for k, v in queries.items()}
    up = None
    if pods and pod_label:
        um = ([f"{namespace_label}={quote(namespace)}"] if namespace and namespace_label else [])
        um.append(f"{pod_label}=~{quote(regex_alternation(pods))}")
        up = "up{" + ",".join(um) + "}"
    return QuerySet(convention.name, grouping, queries, up)
