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


class ForbiddenTarget(LaunchError):
    """The rollout could not be found because the API server refused to list (403), not because it is absent:
    the app exits 4 (its access must be fixed); `lookout status` exits 2 (it cannot decide)."""


def run_app(command: str, ns: argparse.Namespace) -> int:
    from tui.config import ConfigError, load_config

    try:
        settings = load_config(ns.config)
    except ConfigError as e:
        raise LaunchError(str(e)) from None
    from tui.cli import say

    for w in settings.warnings:  # a wrong [crds.<name>] mapping is skipped; the app says it again once drawn
        say(f"lookout: {w}")

    demo = None
    kubeconfig = getattr(ns, "kubeconfig", None)
    context = getattr(ns, "context", None)
    namespace = getattr(ns, "namespace", None) or settings.defaults.namespace
    all_namespaces = getattr(ns, "all_namespaces", False)
    app_name = getattr(ns, "app", None)
    selector = getattr(ns, "selector", None)
    if command == "demo":
        from tui.demo.scenario import load_scenario

        demo = start_demo_in_background(ns)
        kubeconfig, context = demo.kubeconfig_path, "lookout-demo"
        sc = load_scenario(ns.scenario)
        # the scenario says what it rolls out, so scenarios with a second workload stay unambiguous
        namespace, app_name = sc.namespace, (sc.workload or {}).get("name") or sc.app
        # while the cluster starts on the other core, pay for our own imports
        import tui.app  # noqa: F401
        import tui.kube.client  # noqa: F401
        from tui.demo.process import DemoProcessError

        try:
            demo.wait_ready()
        except DemoProcessError as e:
            demo.stop()
            raise LaunchError(f"the demo cluster did not start: {e}") from None
        demo_target = scenario_target(sc, settings.crds)
    else:
        demo_target = None
    prometheus_url = getattr(ns, "prometheus", None)
    prom = None
    if demo is not None and getattr(ns, "with_prometheus", False):
        from tui.demo.prometheus import PrometheusError, start_for_kubeconfig, tell_demo_cluster

        try:
            prom = start_for_kubeconfig(kubeconfig, namespace)
            try:
                tell_demo_cluster(kubeconfig, prom.url)  # its Argo analysis measures from this Prometheus
            except PrometheusError:
                prom.stop()
                raise
        except PrometheusError as e:
            demo.stop()
            raise LaunchError(f"--with-prometheus: {e}") from None
        prometheus_url = prom.url
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
            known_target=demo_target,
            prometheus_url=prometheus_url,
            dns_server=getattr(ns, "dns_server", None),
        )
        from tui.app import LookoutApp

        incident = open_incident(ns, session)
        from tui.app import main_screen_keys
        from tui.runbooks.model import load_catalog

        d = settings.defaults
        runbooks = load_catalog(getattr(ns, "runbooks", None) or [], reserved_keys=main_screen_keys())
        app = LookoutApp(session, events_buffer=d.event_buffer, refresh_ms=d.refresh_ms,
                         log_buffer_lines=d.log_buffer_lines, incident=incident, runbooks=runbooks)
        app.run()
        return app.return_code or 0
    finally:
        if prom is not None:
            prom.stop()
        if demo is not None:
            demo.stop()


def open_incident(ns: argparse.Namespace, session):
    """--incident [DIR]: start the incident there (or join the one it holds) before the app starts."""
    directory = getattr(ns, "incident", None)
    if directory is None:
        return None
    from tui.incident.log import Incident, IncidentError, new_id

    t = session.target
    try:
        return Incident.open(directory or f"incident-logs/{new_id()}", severity=getattr(ns, "severity", "medium"),
                             environment=t.context or "",
                             service=f"{t.namespace or ''}/{(t.rollout or '').split('/')[-1]}".strip("/"))
    except IncidentError as e:
        raise LaunchError(f"--incident: {e}") from None


def start_demo_in_background(ns: argparse.Namespace):
    """The demo cluster runs as a child process (`lookout demo-cluster`); the app reaches it over HTTPS."""
    from tui.demo.process import DemoClusterProcess

    demo = DemoClusterProcess(
        scenario=ns.scenario,
        speed=ns.speed,
        seed=ns.seed,
        pods=ns.pods,
        background_pods=ns.background_pods,
        churn=ns.churn,
        manifests_dir=ns.manifests,
        server_version=ns.server_version,
        without_crds=getattr(ns, "without_crds", None),
    )
    return demo.start()


def scenario_target(sc, crds=()):
    """The demo scenario's workload as a Target, from its own manifests: no round trip needed. A scenario object of
    an in-house CRD mapped in the config (`crds`, tui.rollout.custom) named like the app is the rollout: `lookout
    demo --scenario veritas-switch-stuck --config examples/veritas-crds.toml` follows its VeritasEnvironment. A
    Flagger Canary over the workload makes the rollout its two Deployments, as `--app NAME` resolves it."""
    from tui.rollout.target import Target, selector_string

    for m in sc.manifests:
        meta = m.get("metadata") or {}
        ck = next((c for c in crds if c.kind == m.get("kind") and m.get("apiVersion") == f"{c.group}/{c.version}"),
                  None)
        if ck is not None and (meta.get("name") == sc.app or (meta.get("labels") or {}).get("app") == sc.app):
            return Target(ck.kind, meta.get("name", ""), meta.get("namespace") or sc.namespace, ck.pod_selector(m))
    wl = sc.workload or {}
    deployments = [m for m in sc.manifests if m.get("kind") == "Deployment"]
    for m in sc.manifests:  # a Flagger Canary over the workload: one rollout, primary and canary (tui.rollout.flagger)
        if m.get("kind") == "Canary" and str(m.get("apiVersion", "")).startswith("flagger.app/"):
            from tui.rollout import flagger

            c = {**m, "metadata": {"namespace": sc.namespace, **(m.get("metadata") or {})}}
            if flagger.target_name(c) == wl.get("name") or (c["metadata"].get("name") == sc.app):
                return Target("Label", c["metadata"].get("name", ""), c["metadata"]["namespace"],
                              flagger.selector(c, [{**d, "metadata": {"namespace": sc.namespace,
                                                                      **(d.get("metadata") or {})}}
                                                   for d in deployments]))
    same_app = [m for m in sc.manifests if m.get("kind") == "Deployment"
                and ((m.get("metadata") or {}).get("labels") or {}).get("app") == sc.app]
    if wl.get("kind") == "Deployment" and len(same_app) > 1:
        # one Deployment per track (stable/canary, blue/green): the rollout is the app, not one of them
        return Target("Label", sc.app, sc.namespace, f"app={sc.app}")
    for m in sc.manifests:
        meta = m.get("metadata") or {}
        if m.get("kind") == wl.get("kind") and meta.get("name") == wl.get("name"):
            sel = selector_string(((m.get("spec") or {}).get("selector")) or {})
            if sel:
                return Target(wl["kind"], wl["name"], meta.get("namespace") or sc.namespace, sel)
    return None


def prepare_session(settings, *, kubeconfig, context, namespace, all_namespaces, app_name, selector,
                    read_only, demo, known_target=None, prometheus_url=None, dns_server=None):
    """Everything that can fail before the screen opens fails here, with one line and an exit code."""
    from tui.kube.config import KubeConfigError, load_target

    try:
        target = load_target(kubeconfig, context, namespace)
    except KubeConfigError as e:
        raise LaunchError(str(e)) from None
    from tui.session import RolloutChoice, Session, resolve_rollout

    if known_target is not None:  # the demo: its scenario says what to watch; the app connects at once
        return Session(target, RolloutChoice(known_target, known_target.namespace), settings,
                       read_only=read_only, demo=demo, kubeconfig_path=kubeconfig, prometheus_url=prometheus_url,
                       dns_server=dns_server)
    from tui.kube import config as kubeconfig_module

    # nothing is drawn yet: the terminal is the user's, so say where we are going (a silent server is given
    # FIRST_ANSWER_TIMEOUT seconds), and let an exec plugin that asks for it talk to the user (a device-code login)
    tty = sys.stdin.isatty() and sys.stderr.isatty()
    if sys.stderr.isatty():
        from tui.textsafe import clean_line, mask_url

        print(clean_line(mask_url(f"lookout: connecting to {target.server} …")), file=sys.stderr, flush=True)
    kubeconfig_module.EXEC_INTERACTIVE = tty
    try:
        choice = asyncio.run(resolve_rollout(target, app_name=app_name, selector=selector,
                                             all_namespaces=all_namespaces, crds=getattr(settings, "crds", ())))
    finally:
        kubeconfig_module.EXEC_INTERACTIVE = False  # from here on the TUI owns the terminal
    return Session(target, choice, settings, read_only=read_only, demo=demo,
                   kubeconfig_path=kubeconfig or os.environ.get("KUBECONFIG"), prometheus_url=prometheus_url,
                   dns_server=dns_server)
