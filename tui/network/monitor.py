"""One session's network watch: the store's objects as a NetworkScope, DNS looked up in the background, the pane's
view and the network findings; remembers selector switches between evaluations."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Iterable

from tui.network.dns import DnsAnswer, DnsName, configured_names, lookup_all, parse_server
from tui.network.findings import NetworkHistory, network_findings
from tui.network.scope import NetworkScope, scope_from_store
from tui.network.split import traffic_split
from tui.network.view import NetworkView, network_view
from tui.rollout.findings import Finding

log = logging.getLogger("lookout.network")

# Store kinds the network pane reads, with the informers they need (tui.kube.resources / tui.network.kinds).
NETWORK_KINDS = ("services", "endpointslices", "ingresses", "networkpolicies", "httproutes", "virtualservices",
                 "destinationrules", "trafficsplits")


def app_of(target, workload: dict | None = None) -> tuple[str, str] | None:
    """(label key, value) of the rollout's app: from the target's selector, else its workload's pod template."""
    from tui.rollout.target import APP_LABELS, parse_selector

    sel = getattr(target, "selector", "") or ""
    try:
        reqs = parse_selector(sel).requirements
    except ValueError:
        reqs = ()
    for key, op, values in reqs:
        if key in APP_LABELS and op in ("=", "in") and len(values) == 1:
            return key, next(iter(values))
        flagger = flagger_pair(values) if op == "in" else None
        if flagger is not None:  # Flagger: `app in (podinfo,podinfo-primary)` is the app podinfo
            return key, flagger
    labels = ((((workload or {}).get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    for key in APP_LABELS:
        if labels.get(key):
            return key, labels[key]
    return None


def flagger_pair(values) -> str | None:
    """NAME when `values` are exactly Flagger's NAME and NAME-primary."""
    vs = sorted(values)
    if len(vs) == 2 and vs[1] == vs[0] + "-primary":
        return vs[0]
    return None


class NetworkMonitor:
    """Give it the store, the target and the resolver on every (coalesced) batch of deltas; `evaluate` is cheap.

    `run_dns()` is a task of its own: it looks up the configured names every `dns_interval` seconds (and at once
    when the set of names changes) and keeps the last answers for the next `evaluate`.
    """

    def __init__(self, *, dns_server: str | None = None, extra_names: Iterable[str] = (), dns_interval: float = 10.0,
                 dns_timeout: float = 2.0, clock: Callable[[], float] = time.time,
                 history: NetworkHistory | None = None):
        if dns_server:
            parse_server(dns_server)  # DnsServerError early, with its one sentence
        self.dns_server = dns_server
        self.extra_names = tuple(extra_names)
        self.dns_interval = dns_interval
        self.dns_timeout = dns_timeout
        self.clock = clock
        self.history = history or NetworkHistory()
        self.answers: list[DnsAnswer] = []
        self._names: list[DnsName] = []
        self._names_changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None  # run_dns's
        self.lookups = 0

    def scope(self, store, target, resolver, workload: dict | None = None) -> NetworkScope:
        """The rollout's network scope: every pod of its app (all tracks: a canary Deployment beside the stable
        one belongs to it), else the pods the target's selector matches."""
        ns = getattr(target, "namespace", "") or ""
        rollout = workload if getattr(target, "kind", None) == "Rollout" else None
        app = app_of(target, workload)
        if app is not None:
            key, value = app
            values = {value, value + "-primary"}  # Flagger's primary carries NAME-primary (scope.is_app)
            flt = lambda p: ((p.get("metadata") or {}).get("labels") or {}).get(key) in values  # noqa: E731
        else:
            sel = target.pod_selector() if hasattr(target, "pod_selector") else None
            flt = (lambda p: sel.matches((p.get("metadata") or {}).get("labels"))) if sel is not None else None
        canary = None
        canaries = (store.objects if hasattr(store, "objects") else store).get("canaries") or {}
        if canaries and getattr(target, "kind", None) == "Label":
            from tui.rollout.flagger import canary_for_selector

            deployments = (store.objects if hasattr(store, "objects") else store).get("deployments") or {}
            canary = canary_for_selector(canaries.values(), deployments.values(), target.pod_selector().matches, ns)
        return scope_from_store(store, ns, resolver, rollout=rollout, pod_filter=flt,
                                app=app[1] if app else None, canary=canary)

    def evaluate(self, store, target, resolver, workload: dict | None = None,
                 now: float | None = None) -> tuple[NetworkView, list[Finding]]:
        """The pane's view and the raw network findings (feed them to the session's FindingTracker with the rest)."""
        now = self.clock() if now is None else now
        sc = self.scope(store, target, resolver, workload)
        names = configured_names(sc, self.extra_names)
        if names != self._names:
            self._names = names
            self._wake_dns()
        layers = traffic_split(sc)
        answers = [a for a in self.answers if any(a.name == n.name for n in names)]
        findings = network_findings(sc, now, self.history, dns=answers, layers=layers)
        return network_view(sc, findings, answers, layers, self.dns_server), findings

    def _wake_dns(self) -> None:
        # evaluate may run in a worker thread (the session moves it off the UI loop at scale); an asyncio.Event
        # is set on its own loop only
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is not loop:
            try:
                loop.call_soon_threadsafe(self._names_changed.set)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass
        else:
            self._names_changed.set()

    async def lookup_now(self) -> list[DnsAnswer]:
        self.answers = await lookup_all(self._names, self.dns_server, timeout=self.dns_timeout, clock=self.clock)
        self.lookups += 1
        return self.answers

    async def run_dns(self) -> None:
        """Forever, until cancelled; a failing lookup is an answer with an error, never an exception."""
        self._loop = asyncio.get_running_loop()
        while True:
            if self._names:
                try:
                    await self.lookup_now()
                except Exception:  # never take the app down for DNS
                    log.exception("DNS lookups failed")
            self._names_changed.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancel that arrives in the tick the
            # event is set, and this loop would then never end (`lookout status` hung in Session.stop)
            try:
                async with asyncio.timeout(self.dns_interval):
                    await self._names_changed.wait()
            except TimeoutError:
                pass

    def reset(self) -> None:
        """The user switched rollout or namespace."""
        self.history.reset()
        self.answers = []
        self._names = []
