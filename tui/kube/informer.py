"""List-then-watch of one kind in one scope into the Store, with relists, backoff and health."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from typing import Callable

import orjson

from tui.kube.client import ApiError, KubeClient, Unreachable
from tui.kube.config import KubeConfigError
from tui.kube.resources import ResourceRef
from tui.kube.store import Key, SourceHealth, Store, key_of

__all__ = ["Informer", "ResourceRef", "Backoff"]

log = logging.getLogger(__name__)

HEALTH_PUBLISH_INTERVAL = 1.0  # seconds between health notifications that only move last_event


class _Gone(Exception):
    """The resourceVersion we watch from is older than the server keeps: relist."""


class Backoff:
    """Jittered exponential backoff: initial, ×2 each failure, capped; each delay drawn in [½d, d]."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0, rng: random.Random | None = None):
        self.initial, self.cap = initial, cap
        self._rng = rng or random.Random()
        self.failures = 0

    def next(self) -> float:
        d = min(self.cap, self.initial * (2 ** self.failures))
        self.failures += 1
        return d * (0.5 + 0.5 * self._rng.random())

    def reset(self) -> None:
        self.failures = 0


class Informer:
    """One list-then-watch loop: `await run()` until cancelled; writes `store`, reports `store.health`.

    - The initial list is paged (`limit`/`continue`); each page is applied as it arrives, so a pane can
      paint the first 500 pods before the 10,000th arrives. At the end of every (re)list, objects this
      informer had but the list no longer holds are deleted.
    - Then it watches from the list's resourceVersion with bookmarks; a stream that ends is resumed from
      the last resourceVersion seen; 410 Gone relists; a lost connection relists once it is back, so the
      store equals the server afterwards whatever happened meanwhile.
    - Errors back off (jittered, 0.5 s doubling to 30 s, reset after success). 403 (forbidden) and 404
      (kind not installed, e.g. no Argo Rollouts CRDs) are reported in health and retried slowly.
    """

    def __init__(self, client: KubeClient, store: Store, ref: ResourceRef, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 slim: Callable[[dict], dict] | None = None, page_size: int = 500, *,
                 kind: str | None = None, source: str | None = None, watch_timeout: int = 300,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, slow_retry: float = 60.0,
                 rng: random.Random | None = None):
        self.client = client
        self.store = store
        self.ref = ref
        self.namespace = namespace if ref.namespaced else None
        self.label_selector = label_selector or None
        self.field_selector = field_selector or None
        self.slim = slim if slim is not None else ref.slim  # pass tui.kube.slim.keep_all to keep everything
        self.page_size = page_size
        self.kind = kind or ref.key
        self.watch_timeout = watch_timeout
        self.slow_retry = slow_retry
        self._rng = rng or random.Random()
        self._backoff = Backoff(backoff_initial, backoff_max, self._rng)
        self._path = ref.path(self.namespace)
        if source is None:
            source = f"{self.kind}/{self.namespace or '*'}"
            sel = ",".join(s for s in (self.label_selector, self.field_selector) if s)
            if sel:
                source += f"[{sel}]"
        self.health = SourceHealth(source=source, kind=self.kind)
        self.resource_version: str | None = None
        self.relists = 0  # lists after the first (410, reconnects)
        self.synced = asyncio.Event()  # set once the first list has been applied
        self._listed = False
        self._listed_at = 0.0
        self._owned: set[Key] = set()  # keys this informer put in the store: its scope for relists
        self._published = 0.0
        self._api_version = ref.api_version

    # ---- the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        self.store.set_health(self.health)
        while True:
            started = time.monotonic()
            try:
                if self.resource_version is None:
                    if self._listed:
                        self.relists += 1
                    self.resource_version = await self._list()
                    self._listed, self._listed_at = True, time.monotonic()
                    self._backoff.reset()
                frames = await self._watch(self.resource_version)
                # the server ended the stream (timeoutSeconds): resume from the last resourceVersion,
                # unless it keeps ending at once, which would be a hot loop
                if frames == 0 and time.monotonic() - started < 1.0:
                    await asyncio.sleep(self._backoff.next())
                continue
            except _Gone:
                self.resource_version = None
                if time.monotonic() - self._listed_at < 1.0:  # Gone right after a list: do not spin
                    await asyncio.sleep(self._backoff.next())
                continue
            except ApiError as e:
                delay = self._api_error(e, started)
            except Unreachable as e:
                self._fail(str(e), connected=False, started=started)
                self.resource_version = None  # relist on reconnect: the server may have restarted
                delay = self._backoff.next()
            except KubeConfigError as e:  # credentials (exec plugin) failed
                self._fail(str(e), connected=False, started=started)
                delay = self._backoff.next()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug or a malformed answer must not end the loop
                # debug, not error: logging's last-resort handler would write over the TUI
                log.debug("informer %s failed", self.health.source, exc_info=True)
                self._fail(f"{type(e).__name__}: {e}", connected=False, started=started)
                self.resource_version = None
                delay = self._backoff.next()
            self.health.reconnects += 1
            await asyncio.sleep(delay)

    def _api_error(self, e: ApiError, started: float) -> float:
        if e.status == 410:
            self.resource_version = None
            return 0.0
        self.resource_version = None
        if e.status == 403:
            self._fail(f"forbidden: {e.message or e.reason}", connected=True, started=started, forbidden=True)
            return self._slow()
        if e.status == 404:
            details = (e.body or {}).get("details") or {}
            if details.get("kind") == "namespaces":
                self._fail(f"namespace {details.get('name') or self.namespace} not found", connected=True,
                           started=started)
            else:
                self._fail(f"not installed: the cluster does not serve {self.ref.plural} ({self._api_version})",
                           connected=True, started=started, not_installed=True)
            return self._slow()
        self._fail(str(e), connected=True, started=started)
        return self._backoff.next()

    def _slow(self) -> float:
        return self.slow_retry * (1.0 + 0.1 * self._rng.random())

    # ---- list ------------------------------------------------------------------------------
    def _params(self) -> dict:
        p: dict = {}
        if self.label_selector:
            p["labelSelector"] = self.label_selector
        if self.field_selector:
            p["fieldSelector"] = self.field_selector
        return p

    async def _list(self) -> str | None:
        base = self._params()
        if self.page_size:
            base["limit"] = self.page_size
        seen: set[Key] = set()
        cont: str | None = None
        never: Callable[[Key], bool] = lambda k: False  # noqa: E731 - pages add and update, never delete
        while True:
            params = dict(base)
            if cont:
                params["continue"] = cont
            try:
                data = await self.client.get_json(self._path, params)
            except ApiError as e:
                if e.status == 410 and cont:  # the continue token expired: start the list again
                    cont = None
                    seen.clear()
                    continue
                raise
            objs = [self._prep(o) for o in data.get("items") or ()]
            if not self.health.connected or self.health.error:
                self.health.connected, self.health.error, self.health.forbidden = True, None, False
                self._publish()
            self.store.replace(self.kind, objs, scope=never)
            for o in objs:
                seen.add(key_of(o))
            # The objects just stored live as long as the store. Left to the cyclic GC, every full
            # collection walks all of them: at 10,000 pods that was 0.3-0.6 s of a frozen UI loop,
            # recurring, and ~1.5 s of the start. Frozen, they are never walked; plain JSON dicts hold
            # no cycles, so reference counting still frees them when they are replaced.
            gc.freeze()
            meta = data.get("metadata") or {}
            cont = meta.get("continue") or None
            if not cont:
                break
        gone = self._owned - seen
        if gone:
            self.store.replace(self.kind, (), scope=gone.__contains__)
        self._owned = seen
        now = time.time()
        h = self.health
        h.synced, h.last_sync, h.last_event, h.error, h.forbidden, h.connected = True, now, now, None, False, True
        self._publish()
        self.synced.set()
        return meta.get("resourceVersion") or None

    def _prep(self, obj: dict) -> dict:
        # list items carry no kind/apiVersion; watch objects do: make both look the same
        if "kind" not in obj:
            obj["kind"] = self.ref.kind
            obj["apiVersion"] = self._api_version
        return self.slim(obj)

    # ---- watch -----------------------------------------------------------------------------
    async def _watch(self, rv: str) -> int:
        timeout = self.watch_timeout + self._rng.randint(0, max(1, self.watch_timeout // 5))
        params = self._params()
        params.update(watch="true", resourceVersion=rv, allowWatchBookmarks="true", timeoutSeconds=timeout)
        frames = 0
        # a silent half-open connection must not hang forever: the server ends the stream after
        # `timeout` seconds anyway, so waiting longer than that means it is gone
        async for batch in self.client.stream_batches(self._path, params, read_timeout=timeout + 30):
            frames += len(batch)
            if frames == len(batch):
                self._backoff.reset()
            self._apply_frames(batch)
            self._touch()
        return frames

    def _apply_frames(self, lines: list[bytes]) -> None:
        """Apply the frames that arrived together, consecutive upserts (or deletes) as one store batch."""
        run_type: str | None = None
        run: list[dict] = []
        rv = self.resource_version
        for line in lines:
            try:
                frame = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise ValueError(f"malformed watch frame: {line[:120]!r}") from None
            typ = frame.get("type")
            obj = frame.get("object") or {}
            if typ == "ERROR":
                self._flush(run_type, run)
                self.resource_version = rv
                code = int(obj.get("code") or 0)
                if code == 410:
                    raise _Gone(obj.get("message") or "")
                raise ApiError(code or 500, obj.get("reason") or "WatchError", obj.get("message") or "", self._path,
                               obj)
            obj_rv = (obj.get("metadata") or {}).get("resourceVersion")
            if typ == "BOOKMARK":
                if obj_rv:
                    rv = obj_rv
                continue
            if typ not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            kind = "DELETED" if typ == "DELETED" else "UPSERT"
            if kind != run_type:
                self._flush(run_type, run)
                run_type, run = kind, []
            run.append(self._prep(obj))
            if obj_rv:
                rv = obj_rv
        self._flush(run_type, run)
        self.resource_version = rv

    def _flush(self, run_type: str | None, run: list[dict]) -> None:
        if not run:
            return
        if run_type == "DELETED":
            self.store.apply(self.kind, "DELETED", run)
            for o in run:
                self._owned.discard(key_of(o))
        else:
            self.store.apply(self.kind, "ADDED", run)  # the store tells ADDED from MODIFIED itself
            for o in run:
                self._owned.add(key_of(o))
        run.clear()

    # ---- health ----------------------------------------------------------------------------
    def _touch(self) -> None:
        h = self.health
        now = time.time()
        h.last_event = now
        changed = not h.connected or h.error is not None
        h.connected, h.error, h.forbidden = True, None, False
        if changed or now - self._published >= HEALTH_PUBLISH_INTERVAL:
            self._publish()

    def _publish(self) -> None:
        self._published = time.time()
        self.store.set_health(self.health)

    def _fail(self, error: str, *, connected: bool, started: float, forbidden: bool = False,
              not_installed: bool = False) -> None:
        if time.monotonic() - started > 10.0:
            self._backoff.reset()  # it had been working for a while: this is a fresh failure
        h = self.health
        h.error, h.connected, h.forbidden, h.not_installed = error, connected, forbidden, not_installed
        self._publish()
