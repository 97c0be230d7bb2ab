"""Container logs of the demo cluster: a bounded ring per container instance, written as things happen.

Startup, crash and shutdown lines are written when the kubelet simulation makes them happen; request
lines are generated lazily when someone reads or follows (at most a few lines a second per container,
errors in proportion to the track's error rate), so 10,000 idle pods cost no log work at all.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as _dt
import random
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable

RING = 2000  # lines kept per container instance
MAX_LINES_PER_SECOND = 2.0
PROBE_PERIOD = 10.0

_ERRORS = (
    'upstream "payments" timed out after 800ms',
    "connection reset by peer (inventory:8080)",
    "pool exhausted: 20/20 connections in use",
    'upstream "payments" returned 503',
)
_PATHS = (("GET", "/api/v1/checkout"), ("GET", "/api/v1/cart"), ("POST", "/api/v1/checkout"),
          ("POST", "/api/v1/cart/items"))


def iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


@dataclass
class TrafficView:
    """What the request-line generator needs to know about a container's traffic right now."""
    rps: float = 0.0
    error_rate: float = 0.0
    p50: float = 0.03
    p99: float = 0.12


@dataclass
class ContainerLog:
    key: tuple[str, str, str]  # namespace, pod, container
    rng: random.Random
    lines: collections.deque = field(default_factory=lambda: collections.deque(maxlen=RING))
    previous: list = field(default_factory=list)  # (ts, line) of the last terminated instance
    running: bool = False
    serves_http: bool = True
    generated_until: float = 0.0
    seq: int = 0  # lines ever written to the current instance
    instance: int = 0
    waiters: list = field(default_factory=list)

    def write(self, ts: float, line: str) -> None:
        self.lines.append((ts, line))
        self.seq += 1
        for w in self.waiters:
            w.set()


class LogBook:
    """All container logs. `traffic(ns, pod)` tells the generator a container's current traffic."""

    def __init__(self, seed: int, clock: Callable[[], float], traffic: Callable[[str, str], TrafficView]):
        self.seed = seed
        self.clock = clock
        self.traffic = traffic
        self.logs: dict[tuple[str, str, str], ContainerLog] = {}

    def _log(self, ns: str, pod: str, container: str) -> ContainerLog:
        key = (ns, pod, container)
        lg = self.logs.get(key)
        if lg is None:
            lg = self.logs[key] = ContainerLog(key, random.Random(f"{self.seed}/{ns}/{pod}/{container}"))
        return lg

    # ------------------------------------------------------------------ written by the kubelet simulation
    def started(self, ns, pod, container, ts: float, image: str, version: str, lines: list[str] = (),
                serves_http: bool = True) -> None:
        lg = self._log(ns, pod, container)
        if lg.running or lg.lines:
            lg.previous = list(lg.lines)
            lg.lines = collections.deque(maxlen=RING)
            lg.instance += 1
        lg.running = True
        lg.serves_http = serves_http
        lg.generated_until = ts
        ver = version or image.rsplit(":", 1)[-1]
        name = pod.rsplit("-", 2)[0] if pod.count("-") >= 2 else pod
        lg.write(ts, f"{iso(ts)} INFO  main  starting {name} version={ver} image={image}")
        lg.write(ts + 0.05, f"{iso(ts + 0.05)} INFO  config  loaded configuration from environment")
        for i, line in enumerate(lines):
            t = ts + 0.1 + i * 0.01
            lg.write(t, f"{iso(t)} {line}")
        if serves_http:
            t = ts + 0.3
            lg.write(t, f"{iso(t)} INFO  http  listening on 0.0.0.0:8080 (metrics on :8080/metrics)")

    def ready(self, ns, pod, container, ts: float) -> None:
        lg = self._log(ns, pod, container)
        self.catch_up(lg, ts)
        lg.write(ts, f"{iso(ts)} INFO  health  readiness check passed: database ok, cache ok")

    def write(self, ns, pod, container, ts: float, line: str, *, raw: bool = False) -> None:
        """One line as the process writes it (raw: exactly this text, no timestamp/level prefix)."""
        lg = self._log(ns, pod, container)
        self.catch_up(lg, ts)
        lg.write(ts, line if raw else f"{iso(ts)} {line}")

    def terminated(self, ns, pod, container, ts: float, lines: list[str] = ()) -> None:
        lg = self._log(ns, pod, container)
        self.catch_up(lg, ts)
        for i, line in enumerate(lines):
            lg.write(ts + i * 0.001, line)
        lg.running = False
        for w in lg.waiters:
            w.set()

    def forget(self, ns, pod) -> None:
        for key in [k for k in self.logs if k[0] == ns and k[1] == pod]:
            lg = self.logs.pop(key)
            lg.running = False
            for w in lg.waiters:
                w.set()

    # ------------------------------------------------------------------ request lines, generated lazily
    def catch_up(self, lg: ContainerLog, now: float) -> None:
        if not lg.running or now <= lg.generated_until:
            return
        start = lg.generated_until
        tv = self.traffic(lg.key[0], lg.key[1]) if lg.serves_http else TrafficView()
        rate = min(tv.rps, MAX_LINES_PER_SECOND)
        rng = lg.rng
        out = []
        if rate > 0:
            n = int((now - start) * rate)
            n = min(n, RING)
            if n <= 0:
                return
            step = (now - start) / n
            for i in range(n):
                ts = start + (i + rng.random()) * step
                out.append((ts, self._request_line(rng, ts, tv)))
            lg.generated_until = start + n * step
        else:
            # kubelet probes are the only traffic of a pod that serves none
            first = (int(start / PROBE_PERIOD) + 1) * PROBE_PERIOD
            t = first
            while t <= now and len(out) < RING:
                out.append((t, f'{iso(t)} INFO  http  method=GET path=/healthz status=200 duration_ms=1 '
                               f'user_agent="kube-probe/1.33"'))
                t += PROBE_PERIOD
            lg.generated_until = now
        for ts, line in out:
            lg.write(ts, line)

    def _request_line(self, rng: random.Random, ts: float, tv: TrafficView) -> str:
        method, path = _PATHS[rng.randrange(len(_PATHS))]
        rid = "%08x" % rng.getrandbits(32)
        if rng.random() < tv.error_rate:
            code = 503 if rng.random() < 0.3 else 500
            dur = int(tv.p99 * 1000 * (0.8 + rng.random() * 0.6))
            err = _ERRORS[rng.randrange(len(_ERRORS))]
            return (f'{iso(ts)} ERROR http  method={method} path={path} status={code} duration_ms={dur} '
                    f'request_id={rid} error="{err}"')
        dur = max(1, int(tv.p50 * 1000 * (0.5 + rng.random())))
        return f"{iso(ts)} INFO  http  method={method} path={path} status=200 duration_ms={dur} request_id={rid}"

    # ------------------------------------------------------------------ reads
    def entries(self, ns, pod, container, *, previous: bool = False, tail: int | None = None,
                since_seconds: float | None = None) -> list[tuple[float, str]] | None:
        lg = self.logs.get((ns, pod, container))
        if lg is None:
            return None
        if previous:
            data = list(lg.previous)
        else:
            self.catch_up(lg, self.clock())
            data = list(lg.lines)
        if since_seconds is not None:
            cut = self.clock() - since_seconds
            data = [e for e in data if e[0] >= cut]
        if tail is not None and tail >= 0:
            data = data[-tail:] if tail else []
        return data

    def has_previous(self, ns, pod, container) -> bool:
        lg = self.logs.get((ns, pod, container))
        return bool(lg and lg.previous)

    async def follow(self, ns, pod, container, poll: float = 0.5) -> AsyncIterator[str]:
        """Lines written after the call, until the container instance ends or the pod goes away."""
        lg = self.logs.get((ns, pod, container))
        if lg is None:
            return
        instance = lg.instance
        seen = lg.seq
        ev = asyncio.Event()
        lg.waiters.append(ev)
        try:
            while True:
                self.catch_up(lg, self.clock())
                new = lg.seq - seen
                if new > 0:
                    items = list(lg.lines)[-min(new, len(lg.lines)):]
                    seen = lg.seq
                    for _, line in items:
                        yield line
                if not lg.running or lg.instance != instance or self.logs.get(lg.key) is not lg:
                    return
                ev.clear()
                try:
                    await asyncio.wait_for(ev.wait(), poll)
                except asyncio.TimeoutError:
                    pass
        finally:
            if ev in lg.waiters:
                lg.waiters.remove(ev)
