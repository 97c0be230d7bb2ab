"""Is the API server still answering? An active probe (`/readyz`, else `/version`) on a connection of its own.

A quiet watch is not a dead one: real API servers send bookmarks about once a minute with no promised interval,
and relisting on every quiet minute would be a storm at 10,000 pods. So liveness is asked, not inferred: every
`interval` seconds one small request with a short timeout. When none has been answered for `lost_after` seconds
the link is lost (every source's data is then as old as the last answer); the first answer after that restores it,
and the session restarts the informers whose streams may have stalled meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable

from tui.textsafe import clean_line

PROBE_INTERVAL = 2.0  # s between probes
PROBE_TIMEOUT = 3.0  # s: a probe with no answer by then has failed
LOST_AFTER = 6.0  # s without any answer: the link is lost


@dataclass(frozen=True)
class LinkState:
    ok: bool = True
    last_ok: float = 0.0  # wall time of the last answer (or of the start, before the first one)
    error: str | None = None  # why the last probe failed
    lost_at: float | None = None  # wall time the link was declared lost (None while ok)
    answered: bool = False  # the server has answered at least once


class LinkProbe:
    """`await run()` until cancelled; `state` is the newest LinkState. `on_change(state)` runs on every change of
    `ok`; `on_restore()` when the link comes back after being lost."""

    def __init__(self, kube_target, *, interval: float = PROBE_INTERVAL, timeout: float = PROBE_TIMEOUT,
                 lost_after: float = LOST_AFTER, clock: Callable[[], float] = time.time,
                 on_change: Callable[[LinkState], None] | None = None,
                 on_restore: Callable[[], None] | None = None):
        self.kube_target = kube_target
        self.interval = interval
        self.timeout = timeout
        self.lost_after = lost_after
        self.clock = clock
        self.on_change = on_change
        self.on_restore = on_restore
        self.state = LinkState(True, clock())
        self.path = "/readyz"
        self.probes = 0

    async def run(self) -> None:
        from tui.kube.client import KubeClient

        # its own connection pool: the informers' connections may be the ones that stalled
        client = KubeClient(self.kube_target, max_connections=2)
        try:
            while True:
                await self.probe(client)
                await asyncio.sleep(self.interval)
        finally:
            try:
                async with asyncio.timeout(2.0):
                    await client.aclose()
            except (TimeoutError, Exception):  # noqa: BLE001 - closing a dead connection must not raise here
                pass

    async def probe(self, client) -> bool:
        """One probe; True if the server answered (any HTTP status counts: it is there)."""
        from tui.kube.client import ApiError, KubeError
        from tui.kube.config import KubeConfigError

        self.probes += 1
        error = None
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    await client.get_text(self.path)
                except ApiError as e:
                    if e.status == 404 and self.path == "/readyz":
                        self.path = "/version"  # an API server without /readyz (or a proxy that hides it)
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
        except (KubeError, KubeConfigError) as e:
            error = clean_line(str(e))
        now = self.clock()
        st = self.state
        if error is None:
            self.state = LinkState(True, now, answered=True)
            if not st.ok:
                if self.on_restore is not None:
                    self.on_restore()
                if self.on_change is not None:
                    self.on_change(self.state)
            return True
        lost = not st.ok or now - st.last_ok >= self.lost_after
        self.state = LinkState(not lost, st.last_ok, error, (st.lost_at or now) if lost else None, st.answered)
        if st.ok and lost and self.on_change is not None:
            self.on_change(self.state)
        return False
