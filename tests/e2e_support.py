"""Helpers for end-to-end tests: a demo cluster on port 0 and the real app on it, in one event loop."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

from tui.config import Settings
from tui.demo.cluster import start_demo_cluster
from tui.kube.config import load_target
from tui.session import Session, resolve_rollout


async def open_session(cluster, app: str | None = None, **kw) -> Session:
    """The same path `lookout --kubeconfig K --context lookout-demo --app NAME` takes, minus the screen."""
    target = load_target(cluster.kubeconfig_path, "lookout-demo", None)
    choice = await resolve_rollout(target, app_name=app, selector=None, all_namespaces=False)
    return Session(target, choice, Settings(), demo=True, kubeconfig_path=cluster.kubeconfig_path, **kw)


@asynccontextmanager
async def demo_cluster(**kw):
    cluster = await start_demo_cluster(**kw)
    try:
        yield cluster
    finally:
        await cluster.stop()


async def until(pilot, predicate, timeout: float = 10.0, what: str = "condition"):
    """Let the app run until `predicate()` is true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def store_keys(store, kind: str) -> set[tuple[str, str]]:
    return set(store.objects.get(kind, {}))


def server_keys(state, res: str, namespace: str, selector: str | None = None) -> set[tuple[str, str]]:
    items, _ = state.list(res, namespace, label_selector=selector)
    return {(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in items}


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)
