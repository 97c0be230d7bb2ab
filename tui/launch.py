"""Start-up: settings, kubeconfig, demo cluster, a reachability check and the rollout to watch, then the app."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

EXIT_UNREACHABLE = 3
EXIT_USAGE = 4


class LaunchError(Exception):
    """Why Lookout cannot start, in one sentence, with the exit code to use."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def run_app(command: str, ns: argparse.Namespace) -> int:
    from tui.config import ConfigError, load_config

    try:
        settings = load_config(ns.config)
    except ConfigError as e:
        raise LaunchError(str(e)) from None

    demo = None
    kubeconfig = getattr(ns, "kubeconfig", None)
    context = getattr(ns, "context", None)
    namespace = getattr(ns, "namespace", None) or settings.defaults.namespace
    all_namespaces = getattr(ns, "all_namespaces", False)
    app_name = getattr(ns, "app", None)
    selector = getattr(ns, "selector", None)
    if command == "demo":
        demo = start_demo_in_background(ns)
        kubeconfig, context = demo.kubeconfig_path, "lookout-demo"
        sc = demo.cluster.sim.scenario if demo.cluster and demo.cluster.sim else None
        if sc is not None:  # the scenario says what it rolls out; scenarios with a second workload stay unambiguous
            namespace, app_name = sc.namespace, (sc.workload or {}).get("name") or sc.app
    try:
        session = prepare_session(
            settings,
            kubeconfig=kubeconfig,
            context=context,
            namespace=namespace,
            all_namespaces=all_namespaces,
            app_name=app_name,
            selector=selector,
            read_only=ns.read_only,
            demo=demo is not None,
        )
        from tui.app import LookoutApp

        app = LookoutApp(session)
        app.run()
        return app.return_code or 0
    finally:
        if demo is not None:
            demo.stop()


def start_demo_in_background(ns: argparse.Namespace):
    """The demo cluster runs on its own event loop in a daemon thread; the app reaches it over HTTPS."""
    from tui.demo.cluster import DemoClusterThread

    demo = DemoClusterThread(
        scenario=ns.scenario,
        speed=ns.speed,
        seed=ns.seed,
        pods=ns.pods,
        background_pods=ns.background_pods,
        churn=ns.churn,
        manifests_dir=ns.manifests,
        server_version=ns.server_version,
    )
    try:
        demo.start()
    except Exception as e:  # a broken manifest directory, a port in use: say which
        raise LaunchError(f"the demo cluster did not start: {e}") from None
    return demo


def prepare_session(settings, *, kubeconfig, context, namespace, all_namespaces, app_name, selector,
                    read_only, demo):
    """Everything that can fail before the screen opens fails here, with one line and an exit code."""
    from tui.kube.config import KubeConfigError, load_target

    try:
        target = load_target(kubeconfig, context, namespace)
    except KubeConfigError as e:
        raise LaunchError(str(e)) from None
    from tui.session import Session, resolve_rollout

    try:
        choice = asyncio.run(resolve_rollout(target, app_name=app_name, selector=selector,
                                             all_namespaces=all_namespaces))
    except LaunchError:
        raise
    return Session(target, choice, settings, read_only=read_only, demo=demo,
                   kubeconfig_path=kubeconfig or os.environ.get("KUBECONFIG"))
