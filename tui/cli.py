"""Command line: `lookout`, `lookout demo`, `lookout demo-cluster`; one clear line and a stable exit code on error."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tui import __version__

# Exit codes shared by every command (and by `lookout status` when it lands).
EXIT_OK = 0
EXIT_UNREACHABLE = 3  # the API server did not answer
EXIT_USAGE = 4  # bad flags, broken kubeconfig, unknown context, ambiguous rollout, bad config file

SCENARIOS = (
    "healthy-canary",
    "bad-canary",
    "bluegreen-switch",
    "crashloop",
    "config-drift",
    "canary-no-traffic",
    "metrics-missing",
    "network-faults",
    "veritas-promotion-stuck",
    "veritas-switch-stuck",
    "manual-canary-named-app",
    "flagger-podinfo",
    "argo-istio",
    "argo-nginx",
    "argo-bluegreen-analysis",
)

MAIN_EPILOG = """\
commands:
  lookout [options]              watch a rollout on the current cluster (this page)
  lookout demo [options]         start the embedded demo cluster and watch it (no cluster needed)
  lookout demo-cluster [options] run only the demo cluster, for kubectl and other Lookouts to join
  lookout status [options]       print the rollout, its figures, the verdict and the findings; exit
                                 0 promote, 1 rollback/critical, 2 hold/no data/warning (for CI gates)
  lookout runbooks list|show|validate|run
                                 runbooks without the UI (docs/runbooks.md)
  lookout incident report DIR    the incident report (Markdown, or --json) merged from every writer
  lookout diff [options] [A B]   the two environments' configuration diff (blue/green, stable/canary);
                                 exit 0 identical, 1 different; --switch-check: 0 safe to switch, 1 blocked

keys inside the app (? lists them all): tab next pane, / filter, : jump (:pods :events :metrics :dns
:ns :ctx :rollout), f findings, l logs, L track logs, d describe, y YAML, r runbooks, b blue/green diff,
z zoom pane, space freeze, I incident, i note, t timeline, q quit.

exit codes: 0 ok, 3 API server unreachable (or silent for 10 s, or an exec credential plugin hung for
15 s), 4 usage or configuration error (a missing or failing exec credential plugin included).
"""


class UsageError(Exception):
    """A mistake by the user: printed as one line, exit 4."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit 2 with the usage block
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def add_cluster_group(p: argparse.ArgumentParser, of: str = "the rollout"):
    """--kubeconfig, --context and -n, as every command that talks to a cluster takes them."""
    g = p.add_argument_group("cluster")
    g.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    g.add_argument("--context", metavar="NAME", help="kubeconfig context to use (default: current-context)")
    g.add_argument("-n", "--namespace", metavar="NS", help=f"namespace of {of} (default: the context's)")
    return g


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = add_cluster_group(p)
    g.add_argument("-A", "--all-namespaces", action="store_true",
                   help="look for the rollout in every namespace (no --app: pick from every rollout of every "
                        "namespace, one line each)")


def _add_app_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to watch")
    sel = g.add_mutually_exclusive_group()
    sel.add_argument("--app", metavar="NAME",
                     help="a Rollout, mapped in-house CRD ([crds] in the config) or Deployment name, else an app / "
                          "app.kubernetes.io/name label value; KIND/NAME (rollout/checkout, veritascanary/pay) "
                          "names the kind too")
    sel.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector of the rollout's pods")
    o = p.add_argument_group("behaviour")
    o.add_argument("--config", metavar="PATH", help="settings file (default: ~/.config/lookout/config.toml)")
    o.add_argument("--read-only", action="store_true", help="never change anything in the cluster")
    o.add_argument("--runbooks", metavar="PATH", action="append", default=[],
                   help="more runbook files or folders, overriding built-ins by id (also read: "
                        "~/.config/lookout/runbooks/*.yaml)")
    o.add_argument("--prometheus", metavar="URL",
                   help="Prometheus for canary vs stable (default: [prometheus] url in the config, "
                        "else a direct scrape of each pod's /metrics through the API server)")
    _add_incident_options(o)
    o.add_argument("--dns-server", metavar="HOST[:PORT]",
                   help="ask this DNS server about the rollout's external names (default: the system's resolvers)")


def _add_incident_options(o) -> None:
    o.add_argument("--incident", metavar="DIR", nargs="?", const="",
                   help="start or join the incident in DIR (default: ./incident-logs/<UTC time>/): the timeline is "
                        "written as it happens, one file per writer, so two Lookouts can share one incident")
    o.add_argument("--severity", choices=("critical", "high", "medium", "low"), default="medium",
                   help="severity of an incident --incident opens (004's classification; default: %(default)s)")


def _add_demo_cluster_options(p: argparse.ArgumentParser, *, standalone: bool) -> None:
    g = p.add_argument_group("demo cluster")
    g.add_argument("--scenario", default="healthy-canary", choices=SCENARIOS, metavar="NAME",
                   help="rollout story to play: " + ", ".join(SCENARIOS) + " (default: %(default)s)")
    g.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="compress the scenario's timeline X times (timestamps and rates stay wall-clock)")
    g.add_argument("--seed", type=int, default=1, metavar="N", help="random seed: same seed, same story")
    g.add_argument("--pods", type=int, default=None, metavar="N", help="scale the app to N pods (benchmarks)")
    g.add_argument("--background-pods", type=int, default=0, metavar="N",
                   help="N pods of other apps in other namespaces, which a watcher of one app never needs")
    g.add_argument("--churn", type=float, default=0.0, metavar="R", help="R pod status changes per second")
    g.add_argument("--manifests", metavar="DIR", help="load your own YAML manifests from DIR at start")
    g.add_argument("--server-version", metavar="1.NN", default=None,
                   help="Kubernetes version /version reports, 1.27 to 1.33 (default: 1.33)")
    g.add_argument("--without-crds", metavar="SETS", default=None,
                   help="leave these pre-installed CRDs out, comma-separated: argo, flagger, istio, smi, gateway "
                        "(for the 'not installed' path)")
    if standalone:
        g.add_argument("--port", type=int, default=0, metavar="N", help="port on 127.0.0.1 (default: a free one)")
        g.add_argument("--state-dir", metavar="DIR",
                       help="keep CA, token, port and objects here, so a restarted cluster is the same cluster")
        g.add_argument("--write-kubeconfig", metavar="PATH",
                       help="write the kubeconfig here (default: a temporary file)")


def build_parser(command: str) -> argparse.ArgumentParser:
    if command == "demo-cluster":
        p = _Parser(prog="lookout demo-cluster",
                    description="Run the embedded demo Kubernetes API server (HTTPS, bearer token) playing a "
                                "rollout scenario. It prints where it listens and how to point kubectl at it.")
        _add_demo_cluster_options(p, standalone=True)
    elif command == "demo":
        p = _Parser(prog="lookout demo",
                    description="Start the demo cluster in the background and open Lookout on it. "
                                "The help screen (?) shows its kubeconfig, so kubectl can join from another pane.")
        _add_demo_cluster_options(p, standalone=False)
        o = p.add_argument_group("behaviour")
        o.add_argument("--config", metavar="PATH", help="settings file (default: ~/.config/lookout/config.toml)")
        o.add_argument("--read-only", action="store_true", help="never change anything in the cluster")
        o.add_argument("--runbooks", metavar="PATH", action="append", default=[],
                       help="more runbook files or folders, overriding built-ins by id")
        o.add_argument("--with-prometheus", action="store_true",
                       help="also start a real Prometheus (the `prometheus` binary) on 127.0.0.1 scraping the "
                            "demo pods, and read canary vs stable from it (the demo's Argo analysis asks it too)")
        o.add_argument("--prometheus", metavar="URL", help=argparse.SUPPRESS)
        _add_incident_options(o)
        o.add_argument("--dns-server", metavar="HOST[:PORT]",
                       help="ask this DNS server about external names (default: the demo cluster's own)")
    elif command == "incident":
        p = _Parser(prog="lookout incident report",
                    description="Print the incident report of DIR in the shape of the deployment-failure "
                                "runbook: summary, severity, the timeline merged from every Lookout that wrote "
                                "to DIR, root cause, resolution and action items pre-filled from what it saw.")
        p.add_argument("directory", metavar="DIR", help="the incident directory (incident-logs/<id>)")
        p.add_argument("--json", action="store_true", help="the incident and its merged timeline as JSON")
        p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    elif command == "status":
        from tui.status import add_status_arguments

        p = _Parser(prog="lookout status",
                    description="Print the rollout, its tracks with their figures, the verdict with its reasons "
                                "and the findings, then exit. Exit code, worst wins: 0 promote/healthy, 1 rollback "
                                "or a critical finding, 2 hold, no data or a warning, 3 cluster unreachable, "
                                "4 usage or configuration error. --json prints the document described in "
                                "docs/status.md.")
        add_status_arguments(p)
    elif command == "runbooks":
        from tui.runbooks.cli import add_arguments

        p = _Parser(prog="lookout runbooks",
                    description="Runbooks without the UI: list, show, validate a file, or run steps against the "
                                "cluster. Exit 0 every step succeeded, 1 a step failed or timed out, 2 a step was "
                                "refused (needs --yes, or --read-only), 3 cluster unreachable, 4 usage error or a "
                                "broken runbook file. Format: docs/runbooks.md.")
        add_arguments(p)
    elif command == "diff":
        from tui.diff.cli import add_diff_arguments

        p = _Parser(prog="lookout diff",
                    description="Compare the two environments of an app (blue/green, active/preview, stable/canary) "
                                "or two named objects: pod templates container by container, the ConfigMaps they "
                                "read key by key, the Secrets they read by key (same or differs; values are never "
                                "shown). Exit 0 identical, 1 different; --switch-check: 0 safe to switch, 1 "
                                "blocked; 3 cluster unreachable, 4 usage or configuration error.")
        add_diff_arguments(p)
    else:
        p = _Parser(prog="lookout", description="Terminal live monitor for Kubernetes rollouts: pods of every "
                    "track, events, findings, canary vs stable metrics with a verdict, DNS and endpoints with the "
                    "traffic split: one assessment behind every view and `lookout status`.",
                    epilog=MAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_cluster_options(p)
        _add_app_options(p)
    p.add_argument("--version", action="version", version=f"lookout {__version__}")
    return p


def parse(argv: list[str]) -> tuple[str, argparse.Namespace]:
    command = "app"
    if argv and argv[0] in ("demo", "demo-cluster", "status", "diff", "runbooks"):
        command, argv = argv[0], argv[1:]
    elif argv and argv[0] == "incident":
        if len(argv) < 2 or argv[1] != "report":
            raise UsageError("lookout incident: the one subcommand is `report DIR` (see lookout incident report --help)")
        command, argv = "incident", argv[2:]
    ns = build_parser(command).parse_args(argv)
    if command in ("demo", "demo-cluster") and ns.server_version is not None:
        ok = {f"1.{n}" for n in range(27, 34)}
        if ns.server_version.lstrip("v") not in ok:
            raise UsageError(f"--server-version must be one of 1.27 to 1.33, not {ns.server_version!r}")
    if getattr(ns, "dns_server", None):
        from tui.network.dns import DnsServerError, parse_server

        try:
            parse_server(ns.dns_server)
        except DnsServerError as e:
            raise UsageError(f"--dns-server: {e}") from None
    _check_names(ns)
    if command in ("demo", "demo-cluster"):
        if ns.speed <= 0:
            raise UsageError("--speed must be greater than 0")
        if ns.pods is not None and ns.pods < 0 or ns.background_pods < 0 or ns.churn < 0:
            raise UsageError("--pods, --background-pods and --churn cannot be negative")
        if ns.without_crds:
            from tui.demo.custom import CRD_SETS  # noqa: PLC0415

            sets = [x.strip() for x in ns.without_crds.split(",") if x.strip()]
            bad = [x for x in sets if x not in CRD_SETS]
            if bad:
                raise UsageError(f"--without-crds: unknown set {', '.join(bad)} (known: {', '.join(CRD_SETS)})")
            ns.without_crds = sets
    return command, ns


def say(message: str) -> None:
    """One line on stderr: error text can quote a server, an exec plugin or a URL, so it is sanitised."""
    from tui.textsafe import clean_line, mask_url

    print(clean_line(mask_url(message)), file=sys.stderr)


def _check_names(ns: argparse.Namespace) -> None:
    """Names are checked where they enter, against Kubernetes' rules; the error names the flag and the rule."""
    from tui.kube.names import InvalidName, check_app, check_context, check_namespace

    try:
        if getattr(ns, "namespace", None) is not None:
            check_namespace(ns.namespace, "-n/--namespace")
        if getattr(ns, "app", None) is not None:
            check_app(ns.app, "--app")
        if getattr(ns, "context", None) is not None:
            check_context(ns.context, "--context")
    except InvalidName as e:
        raise UsageError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        command, ns = parse(argv)
    except UsageError as e:
        say(str(e))
        return EXIT_USAGE
    if command == "demo-cluster":
        from tui.demo.cluster import run_demo_cluster

        return run_demo_cluster(ns)
    if command == "status":
        from tui.status import run_status

        return run_status(ns)
    if command == "runbooks":
        from tui.runbooks.cli import run_runbooks

        return run_runbooks(ns)
    if command == "incident":
        return run_incident_report(ns)
    if command == "diff":
        from tui.diff.cli import run_diff

        return run_diff(ns)
    from tui.launch import run_app, LaunchError

    try:
        return run_app(command, ns)
    except LaunchError as e:
        say(f"lookout: {e}")
        return e.code
    except KeyboardInterrupt:
        return 130


def run_incident_report(ns: argparse.Namespace) -> int:
    from tui.incident.log import IncidentError, load
    from tui.incident.report import render_json, render_markdown

    try:
        meta, entries, problems = load(ns.directory)
    except IncidentError as e:
        say(f"lookout incident report: {e}")
        return EXIT_USAGE
    for p in problems[:20]:
        say(f"lookout incident report: {p}")
    text = render_json(meta, entries) if ns.json else render_markdown(meta, entries)
    if ns.output:
        try:
            Path(ns.output).write_text(text, encoding="utf-8")
        except OSError as e:
            say(f"lookout incident report: {ns.output}: {e.strerror or e}")
            return EXIT_USAGE
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
