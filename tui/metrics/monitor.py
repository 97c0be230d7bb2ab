"""The metrics loop for one session: poll the source and metrics.k8s.io, analyse, hand a CompareState on.

No Textual here: the app runs `MetricsMonitor.run(on_state)` in a worker and passes each state to the pane.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Callable

from tui.metrics.analysis import Analysis, CompareState, MetricsSettings, Reading
from tui.metrics.pods import grouping_for, is_running, pod_infos, pod_name, usage_from_pod_metrics
from tui.metrics.queries import CONVENTIONS, PLAIN, TrackGrouping
from tui.metrics.scrape import DirectScrape, ReadContext

log = logging.getLogger("lookout.metrics")

# metrics.k8s.io answers with every pod of the rollout (~3 MB at 10,000 pods) and metrics-server itself
# refreshes every 15-60 s (60 s by default): asking it on every poll only re-reads the same figures.
USAGE_INTERVAL = 30.0
PODS_PER_SECOND = 1000.0  # poll interval floor at scale: pods / this, in seconds


def metrics_settings(settings, target=None) -> MetricsSettings:
    """[metrics] of `settings`, with the [metrics.rollouts] override for `target` (a Target) applied:
    "<namespace>/<name>" wins over a bare name."""
    m = getattr(settings, "metrics", None)
    return (m if isinstance(m, MetricsSettings) else MetricsSettings()).for_target(target)


def make_source(session, *, prometheus_url: str | None = None, prometheus_options=None, client=None):
    """Prometheus when a URL is given (flag or config), else direct scrape through the API server."""
    settings = metrics_settings(session.settings, session.choice.target)
    convention = CONVENTIONS.get(settings.convention, PLAIN)
    opts = prometheus_options if prometheus_options is not None else getattr(session.settings, "prometheus", None)
    url = prometheus_url or (getattr(opts, "url", None) if opts is not None else None)
    if url:
        from tui.metrics.prometheus import PrometheusSource

        return PrometheusSource(url, settings=settings, convention=convention, options=opts)
    return DirectScrape(client, settings, convention)


def read_context(session, settings: MetricsSettings, now: float) -> ReadContext:
    """What a source needs for one poll, from the session's store: the rollout's pods and their tracks, the
    namespace's Services and the label that groups the tracks. Pure: no I/O (snapshot tests use it too)."""
    t = session.choice.target
    ns = getattr(t, "namespace", "") or session.choice.namespace
    sel = t.pod_selector() if t is not None and getattr(t, "selector", "") else None
    pods = [p for p in session.store.objects.get("pods", {}).values()
            if (p.get("metadata") or {}).get("namespace") == ns
            and (sel is None or sel.matches((p.get("metadata") or {}).get("labels")))]
    services = [o for o in session.store.objects.get("services", {}).values()
                if (o.get("metadata") or {}).get("namespace") == ns]
    track_of = session.resolver.track_of_pod
    # the resolver's conventions: they hold the rules of this rollout (Flagger's `app=NAME-primary`) too
    conv = getattr(session.resolver, "conventions", None) or session.conventions
    keys = [k for k, _ in conv.labels] + [conv.argo_hash_label, "pod-template-hash"]
    convention = CONVENTIONS.get(settings.convention, PLAIN)
    if convention.group_label and not settings.track_label:
        grouping = TrackGrouping(convention.group_label)  # NGINX: the instrumentation's own label
    else:
        grouping = grouping_for(pods, track_of, keys, settings.track_label)
    roles = session.roles()
    return ReadContext(namespace=ns, pods=pods, track_of=track_of, services=services, grouping=grouping, now=now,
                       quiet=roles.quiet, unmeasured=roles.no_http)


WARMING_UP_POLL_S = 2.0


def next_poll_in(state: CompareState, interval: float, pods: int) -> float:
    """Seconds from one poll to the next. Every poll walks all the rollout's pods on the UI loop (tracks, usage,
    the status tick it triggers): past PODS_PER_SECOND pods, poll less often (10,000 pods: every 10 s). While a
    track is warming up (no running pod at the last poll, or a first scrape that cannot make a rate yet), poll
    again soon: the pane must not say "no running canary pod" for a whole interval beside a Running canary."""
    every = max(interval, pods / PODS_PER_SECOND)
    verdict = getattr(state, "verdict", None)
    # no-tracks: the first poll can run before the pod informer has listed (the pane said "no pods of the rollout
    # to measure" beside Running pods for a whole interval)
    if verdict is not None and any(r.code in ("warming-up", "no-tracks") for r in verdict.reasons):
        return min(every, WARMING_UP_POLL_S)
    return every


class MetricsMonitor:
    """Polls one source for one session's rollout; `state` is the newest CompareState."""

    def __init__(self, session, source=None, *, prometheus_url: str | None = None, clock: Callable[[], float] = time.time):
        from tui.kube.client import KubeClient

        self.session = session
        self.settings = metrics_settings(session.settings, session.choice.target)
        self.clock = clock
        self._client = KubeClient(session.kube_target)
        self.source = source if source is not None else make_source(session, prometheus_url=prometheus_url,
                                                                   client=self._client)
        if getattr(self.source, "client", "absent") is None:
            self.source.client = self._client
        self.analysis = Analysis(getattr(session.settings, "thresholds", None), self.settings, clock)
        self.usage_error: str | None = None
        self._usage: dict = {}
        self._info_cache: dict = {}  # pod name -> (pod object, track, usage, PodInfo or None)
        self._usage_at: float | None = None  # time.monotonic() of the last metrics.k8s.io answer

    @property
    def state(self) -> CompareState:
        return self.analysis.state

    def context(self) -> ReadContext:
        return read_context(self.session, self.settings, self.clock())

    async def usage(self, ctx: ReadContext) -> dict:
        from tui.kube.client import KubeError

        sel = getattr(self.session.choice.target, "selector", "") or None
        try:
            async with asyncio.timeout(self.settings.timeout):  # not wait_for: it can swallow a cancel
                data = await self._client.get_json(f"/apis/metrics.k8s.io/v1beta1/namespaces/{ctx.namespace}/pods",
                                                   {"labelSelector": sel} if sel else None)
            self.usage_error = None
        except (KubeError, asyncio.TimeoutError) as e:
            self.usage_error = f"metrics.k8s.io: {e or 'no answer'}"
            return {}
        return usage_from_pod_metrics(data.get("items") or [])

    async def _usage_cached(self, ctx: ReadContext) -> dict:
        if (self._usage_at is not None and time.monotonic() - self._usage_at < USAGE_INTERVAL
                and all(pod_name(p) in self._usage for p in ctx.pods if is_running(p))):
            return self._usage  # a pod that started since is asked about at once
        usage = await self.usage(ctx)
        if usage or self.usage_error is None:
            self._usage, self._usage_at = usage, time.monotonic()
        return usage

    async def poll(self) -> CompareState:
        ctx = self.context()
        try:
            reading, usage = await asyncio.gather(self.source.read(ctx), self._usage_cached(ctx))
        except Exception as e:  # noqa: BLE001 - a failing source marks the pane stale; it never stops the loop
            log.exception("metrics poll failed")
            reading, usage = Reading(at=self.clock(), source=getattr(self.source, "label", "?"), ok=False,
                                     error=str(e)), {}
        return self.analysis.update(reading, self._pod_infos(ctx, usage), self.clock(), roles=self.session.roles())

    def _pod_infos(self, ctx: ReadContext, usage: dict) -> list:
        """pod_infos, kept per pod while its object, track and usage are the same: at 10,000 pods building them
        all took ~180 ms of the UI loop on every poll, while a few dozen pods change between polls."""
        cache, fresh, out = self._info_cache, {}, []
        for p in ctx.pods:
            name = pod_name(p)
            track = ctx.track_of(p)
            u = usage.get(name)
            hit = cache.get(name)
            if hit is not None and hit[0] is p and hit[1] == track:
                info = hit[3]
                if hit[2] != u and info is not None:  # new usage figures: only those change
                    cpu, mem = u if u is not None else (None, None)
                    info = dataclasses.replace(info, cpu_cores=cpu, memory_bytes=mem)
            else:
                got = pod_infos((p,), lambda _p, _t=track: _t, usage)
                info = got[0] if got else None
            fresh[name] = (p, track, u, info)
            if info is not None:
                out.append(info)
        self._info_cache = fresh
        return out

    async def run(self, on_state: Callable[[CompareState], None], interval: float | None = None) -> None:
        """Poll forever (until cancelled), calling on_state after each poll."""
        interval = self.settings.interval if interval is None else interval
        try:
            while True:
                started = self.clock()
                state = await self.poll()
                on_state(state)
                pods = len(self.session.store.objects.get("pods", ()))
                await asyncio.sleep(max(0.2, next_poll_in(state, interval, pods) - (self.clock() - started)))
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        close = getattr(self.source, "aclose", None)
        if close is not None:
            await close()
        await self._client.aclose()
