"""`lookout diff [--app NAME] [A [B]] [--json] [--switch-check]`: the two environments' configuration diff.

Exits like diff(1): 0 identical, 1 different; with --switch-check 0 when the switch is safe, 1 when something
blocks it. 3: the cluster could not be reached; 4: usage or configuration error (also: nothing to compare).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from tui.textsafe import clean, mask_url

EXIT_SAME, EXIT_DIFFERENT, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 3, 4


from tui.cli import say  # noqa: E402 - one sanitised line on stderr, for every command


def add_diff_arguments(p: argparse.ArgumentParser) -> None:
    from tui.cli import add_cluster_group

    add_cluster_group(p, "the environments")
    w = p.add_argument_group("what to compare")
    sel = w.add_mutually_exclusive_group()
    sel.add_argument("--app", metavar="NAME",
                     help="the app whose two environments to compare (a Rollout or Deployment name, else an app "
                          "label value): blue/green, active/preview or stable/canary")
    sel.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector of the app's pods")
    w.add_argument("objects", nargs="*", metavar="A B",
                   help="two objects to compare: deploy/NAME, rs/NAME or a bare name (a Deployment first); "
                        "or one rollout/NAME: its stable and canary (or active and preview)")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print one JSON document of the changes instead of the diff")
    o.add_argument("--switch-check", action="store_true",
                   help="run the switch preview instead: exit 0 when switching to the other environment is safe, "
                        "1 when something blocks it")
    o.add_argument("--config", metavar="PATH", help="settings file (default: ~/.config/lookout/config.toml)")


def run_diff(ns: argparse.Namespace) -> int:
    from tui.config import ConfigError, load_config
    from tui.kube.config import KubeConfigError, load_target
    from tui.launch import LaunchError

    objects = list(getattr(ns, "objects", None) or [])
    if len(objects) > 2:
        say("lookout diff: give two objects to compare (A B), one rollout/NAME, or none with --app")
        return EXIT_USAGE
    if len(objects) == 2 and (ns.app or ns.selector):
        say("lookout diff: --app/-l and two named objects exclude each other")
        return EXIT_USAGE
    if len(objects) == 1:
        kind, _, name = objects[0].rpartition("/")
        if kind.lower() not in ("rollout", "rollouts", "ro", "deploy", "deployment", "deployments", "") or not name:
            say(f"lookout diff: one object alone must be rollout/NAME (or deploy/NAME), not {objects[0]!r}")
            return EXIT_USAGE
        if ns.app or ns.selector:
            say("lookout diff: --app/-l and a named rollout exclude each other")
            return EXIT_USAGE
    try:
        settings = load_config(getattr(ns, "config", None))
    except ConfigError as e:
        say(f"lookout diff: {e}")
        return EXIT_USAGE
    namespace = getattr(ns, "namespace", None) or settings.defaults.namespace
    try:
        target = load_target(getattr(ns, "kubeconfig", None), getattr(ns, "context", None), namespace)
    except KubeConfigError as e:
        say(f"lookout diff: {e}")
        return EXIT_USAGE
    try:
        doc, code = asyncio.run(collect(target, settings, app=ns.app, selector=ns.selector, objects=objects,
                                        switch_check=ns.switch_check))
    except LaunchError as e:
        say(f"lookout diff: {e}")
        return e.code
    except KeyboardInterrupt:
        return 130
    if ns.json:
        print(json.dumps(_sanitised(doc["json"]), indent=2))
    else:
        print(doc["text"])
    return code


async def load_store(client, namespace: str, pod_selector: str | None = None):
    """One list of each kind the diff reads, trimmed as the informers trim them (Secrets: digests only)."""
    from tui.kube.client import ApiError
    from tui.kube.resources import RESOURCES
    from tui.kube.store import SourceHealth, Store
    from tui.launch import LaunchError
    from tui.diff.report import DIFF_KINDS

    store = Store()
    for kind in DIFF_KINDS:
        ref = RESOURCES[kind]
        params: dict = {}
        if kind == "pods" and pod_selector:
            params["labelSelector"] = pod_selector
        try:
            items = (await client.get_json(ref.path(namespace), params or None)).get("items") or []
        except ApiError as e:
            if e.status == 404:  # Argo not installed
                continue
            if e.status == 403 and kind in ("configmaps", "secrets", "rollouts"):
                store.set_health(SourceHealth(source=f"{kind}/{namespace}", kind=kind, connected=False,
                                              synced=False, error=str(e), forbidden=True))
                continue
            raise LaunchError(f"listing {kind} in {namespace} failed: {e}") from None
        for o in items:
            o.setdefault("metadata", {}).setdefault("namespace", namespace)
        store.apply(kind, "ADDED", [ref.slim(o) for o in items])
    return store


async def collect(kube_target, settings, *, app: str | None, selector: str | None, objects: list[str],
                  switch_check: bool) -> tuple[dict, int]:
    from tui.diff.render import text as diff_text, to_json
    from tui.diff.report import diff_rollout, diff_sides, forbidden_kinds
    from tui.diff.sides import NoPair, resolve_named
    from tui.kube.client import ApiError, KubeClient, Unreachable
    from tui.kube.config import KubeConfigError
    from tui.launch import EXIT_UNREACHABLE as UNREACHABLE, EXIT_USAGE as USAGE, LaunchError
    from tui.session import _conventions

    conventions = _conventions(settings)
    ns = kube_target.namespace or "default"
    client = KubeClient(kube_target)
    try:
        try:
            await client.get_json("/version")
        except Unreachable as e:
            raise LaunchError(str(e), UNREACHABLE) from None
        except KubeConfigError as e:
            raise LaunchError(str(e), USAGE) from None
        except ApiError as e:
            if e.status in (401, 403):
                raise LaunchError(f"the API server at {kube_target.server} refused us: {e}") from None
            raise LaunchError(str(e), UNREACHABLE) from None
        store = await load_store(client, ns)
    except Unreachable as e:
        raise LaunchError(str(e), UNREACHABLE) from None
    finally:
        await client.aclose()
    try:
        if len(objects) == 2:
            a = resolve_named(store, ns, objects[0], conventions)
            b = resolve_named(store, ns, objects[1], conventions)
            env = diff_sides(store, a, b)
        else:
            if len(objects) == 1:
                app = objects[0].rpartition("/")[2]
            target, resolver, baseline, findings = _target(store, ns, app, selector, conventions)
            env = diff_rollout(store, target, resolver, baseline, findings, forbidden_kinds(store))
    except NoPair as e:
        raise LaunchError(str(e), USAGE) from None
    if env.result is None:
        raise LaunchError(env.why, USAGE)
    if switch_check:
        sw = env.switch
        doc = {"text": "\n".join(sw.lines()), "json": to_json(env.result, sw)}
        return doc, 0 if sw.safe else 1
    doc = {"text": diff_text(env.result), "json": to_json(env.result)}
    return doc, EXIT_SAME if env.result.identical else EXIT_DIFFERENT


def _target(store, ns: str, app: str | None, selector: str | None, conventions):
    """The rollout as `lookout` resolves it, from the lists already read; several Deployments of one app (one per
    environment) are that app."""
    from tui.launch import LaunchError
    from tui.rollout.findings import evaluate
    from tui.rollout.roles import traffic_roles
    from tui.rollout.target import (AmbiguousTarget, BadSelector, Target, TargetNotFound, resolve_target,
                                    rollout_summary, target_pods)
    from tui.rollout.tracks import TrackResolver

    rollouts, deployments, pods = store.list("rollouts", ns), store.list("deployments", ns), store.list("pods", ns)
    try:
        target = resolve_target(app, selector, rollouts, deployments, pods, ns)
    except AmbiguousTarget as e:
        apps = {c.selector for c in e.candidates if c.kind == "Deployment"}
        if not rollouts and len(apps) >= 1:
            from tui.rollout.target import APP_LABELS

            labels = set()
            for d in deployments:
                tl = (((d.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
                labels |= {(k, tl[k]) for k in APP_LABELS if k in tl}
            if len(labels) == 1:
                k, v = next(iter(labels))
                target = Target("Label", v, ns, f"{k}={v}")
            else:
                raise LaunchError(f"{e}") from None
        else:
            raise LaunchError(f"{e}") from None
    except (TargetNotFound, BadSelector) as e:
        raise LaunchError(str(e)) from None
    workload = None
    if target.kind in ("Rollout", "Deployment"):
        workload = store.get("rollouts" if target.kind == "Rollout" else "deployments", ns, target.name)
    rss = tuple(store.list("replicasets", ns)) if target.kind == "Deployment" else ()
    resolver = TrackResolver(conventions, workload, replicasets=rss, workload_kind=target.kind
                             if target.kind != "Label" else None)
    summary = rollout_summary(target, workload, store.list("replicasets", ns))
    mine = target_pods(target, pods)
    roles = traffic_roles(mine, resolver.track_of_pod, store.list("services", ns),
                          active_service=getattr(summary, "active_service", None),
                          preview_service=getattr(summary, "preview_service", None))
    try:
        findings = evaluate(store, resolver, target, time.time())
    except Exception:  # noqa: BLE001 - the findings only add to the switch check; the diff stands without them
        findings = []
    return target, resolver, roles.baseline, findings


def _sanitised(value):
    if isinstance(value, str):
        return clean(mask_url(value))
    if isinstance(value, dict):
        return {k: _sanitised(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitised(v) for v in value]
    return value
