"""`lookout status [--json] [--wait S]`: the rollout, its progress (the strip's lines), its tracks' figures, the
verdict and the findings, then exit.

Exit code, worst wins across the verdict and the findings: 1 rollback or a critical finding; 2 hold, no data
or a warning finding (info findings never change it); 0 promote / healthy. 3: the cluster could not be
reached, or no decision within the deadline (`--deadline`, default 60 s plus `--wait`); 4: usage or
configuration error. Made to gate a CI pipeline: it always ends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time

from tui.assessment import cell_of
from tui.textsafe import clean, clean_ident, clean_line, mask_url

EXIT_OK, EXIT_BAD, EXIT_HOLD, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 2, 3, 4
DIRECT_SCRAPE_MIN_WAIT = 5.0  # a rate needs two scrapes a few seconds apart
SYNC_TIMEOUT = 15.0
DEADLINE = 60.0  # s, plus --wait: `lookout status` never runs longer (exit 3)
STOP_GRACE = 3.0  # s: tasks still running at the end are cancelled and given this long, then left behind

FIGURE_KEYS = ("request_rate_rps", "error_ratio", "latency_p50_s", "latency_p95_s", "latency_p99_s", "restarts",
               "cpu_cores", "memory_bytes")


from tui.cli import say  # noqa: E402 - one sanitised line on stderr, for every command


def add_status_arguments(p: argparse.ArgumentParser) -> None:
    """Every flag of `lookout status`, the app's connection flags included."""
    from tui.cli import add_cluster_group

    g = add_cluster_group(p, "the rollout")
    g.add_argument("-A", "--all-namespaces", action="store_true",
                   help="with no --app or -l: list every rollout of every namespace, one line each (strategy, phase, "
                        "health, step, weight, ready), read from the workloads' own status; with --app: look for it "
                        "in every namespace")
    w = p.add_argument_group("what to judge")
    sel = w.add_mutually_exclusive_group()
    sel.add_argument("--app", metavar="NAME",
                     help="a Rollout, mapped in-house CRD ([crds] in the config) or Deployment name, else an app / "
                          "app.kubernetes.io/name label value; KIND/NAME (rollout/checkout, veritascanary/pay) "
                          "names the kind too")
    sel.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector of the rollout's pods")
    m = p.add_argument_group("metrics and output")
    m.add_argument("--prometheus", metavar="URL",
                   help="Prometheus to query (default: [prometheus] url in the config, else direct scrape of the pods)")
    m.add_argument("--json", action="store_true", help="print one JSON document (see docs/status.md) instead of text")
    m.add_argument("--wait", type=float, default=0.0, metavar="S",
                   help="watch S seconds before deciding (direct scrape takes at least "
                        f"{DIRECT_SCRAPE_MIN_WAIT:g} s: two scrapes)")
    m.add_argument("--deadline", type=float, default=None, metavar="S",
                   help=f"give up after S seconds with exit 3 and one line (default: {DEADLINE:g} plus --wait)")
    m.add_argument("--config", metavar="PATH", help="settings file (default: ~/.config/lookout/config.toml)")


def exit_code(decision: str, severities) -> int:
    """Worst wins: 1 (rollback, critical) over 2 (hold, no data, warning) over 0 (tui.assessment.exit_code)."""
    from tui.assessment import exit_code as code

    return code(decision, severities)


def run_status(ns: argparse.Namespace) -> int:
    """`lookout status`: prints to stdout (errors: one line on stderr; with --json also a JSON error document on
    stdout) and returns the exit code."""
    as_json = bool(getattr(ns, "json", False))

    def fail(message: str, code: int) -> int:
        say(f"lookout status: {message}")
        if as_json:
            print(json.dumps(_sanitised({"error": clean_line(mask_url(message)), "exit_code": code}), indent=2))
        return code

    from tui.config import ConfigError, load_config
    from tui.kube.config import KubeConfigError, load_target
    from tui.launch import ForbiddenTarget, LaunchError

    wait = getattr(ns, "wait", 0.0) or 0.0
    if wait < 0 or wait != wait:
        return fail("--wait must be 0 or more seconds", EXIT_USAGE)
    deadline = getattr(ns, "deadline", None)
    if deadline is None:
        deadline = DEADLINE + wait
    if not deadline > 0 or deadline == float("inf"):
        return fail("--deadline must be a number of seconds above 0", EXIT_USAGE)
    prom = getattr(ns, "prometheus", None)
    if prom and not re.match(r"^https?://[^/\s]+", prom):
        return fail(f"--prometheus must be an http:// or https:// URL, not {prom!r}", EXIT_USAGE)
    try:
        settings = load_config(getattr(ns, "config", None))
    except ConfigError as e:
        return fail(str(e), EXIT_USAGE)
    for w in settings.warnings:  # a wrong [crds.<name>] mapping: skipped, said, the rest goes on
        say(f"lookout status: {clean_line(w)}")
    namespace = getattr(ns, "namespace", None) or settings.defaults.namespace
    try:
        target = load_target(getattr(ns, "kubeconfig", None), getattr(ns, "context", None), namespace)
    except KubeConfigError as e:
        return fail(str(e), EXIT_USAGE)
    progress = Progress()
    all_ns = bool(getattr(ns, "all_namespaces", False))
    if all_ns and not getattr(ns, "app", None) and not getattr(ns, "selector", None):
        try:  # the overview: workloads only, no pods (10,000 pods cost a list each; the workloads say enough)
            rows = run_bounded(overview(target, settings), deadline)
        except ForbiddenTarget as e:
            return fail(str(e), EXIT_HOLD)
        except LaunchError as e:
            return fail(str(e), e.code)
        except KubeConfigError as e:
            return fail(str(e), EXIT_USAGE)
        except TimeoutError:
            return fail(f"no answer within the {deadline:g} s deadline (--deadline)", EXIT_UNREACHABLE)
        except KeyboardInterrupt:
            return 130
        print(json.dumps(_sanitised({"rollouts": rows, "exit_code": 0}), indent=2) if as_json
              else render_overview(rows))
        return 0
    try:
        report = run_bounded(collect(target, settings, app=getattr(ns, "app", None),
                                     selector=getattr(ns, "selector", None), prometheus=prom, wait=wait,
                                     kubeconfig=getattr(ns, "kubeconfig", None), progress=progress,
                                     all_namespaces=all_ns), deadline)
    except ForbiddenTarget as e:
        return fail(str(e), EXIT_HOLD)
    except LaunchError as e:
        return fail(str(e), e.code)
    except KubeConfigError as e:  # credentials resolved on first use (an exec plugin) after the first request
        from tui.kube.config import ExecPluginTimeout

        return fail(str(e), EXIT_UNREACHABLE if isinstance(e, ExecPluginTimeout) else EXIT_USAGE)
    except TimeoutError:
        return fail(f"no decision within the {deadline:g} s deadline (--deadline): {progress.step}"
                    + (f"; last error: {progress.error}" if progress.error else ""), EXIT_UNREACHABLE)
    except KeyboardInterrupt:
        return 130
    out = json.dumps(report, indent=2, sort_keys=False) if as_json else render_text(report)
    print(out)
    return report["exit_code"]


class Progress:
    """Where `collect` is, for the one line a deadline prints."""

    def __init__(self) -> None:
        self.step = "connecting to the API server"
        self.error: str | None = None


def run_bounded(coro, deadline: float):
    """Run `coro` on a fresh event loop for at most `deadline` seconds (TimeoutError after), then cancel whatever it
    left running and give that STOP_GRACE seconds: unlike asyncio.run, which waits for ever on a task that
    swallowed its cancellation, this always returns."""
    async def bounded():
        async with asyncio.timeout(deadline):
            return await coro

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(bounded())
    finally:
        try:
            left = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in left:
                t.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=STOP_GRACE))
            closing = loop.create_task(loop.shutdown_asyncgens())  # a generator closing a stalled stream: bounded
            loop.run_until_complete(asyncio.wait({closing}, timeout=STOP_GRACE))
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def overview(kube_target, settings) -> list[dict]:
    """Every rollout of every namespace as the picker lists them (tui.rollout.target.candidates): Argo Rollouts,
    mapped in-house CRDs, manual canaries and blue/green pairs as one line each, then the other Deployments."""
    from tui.session import resolve_rollout

    choice = await resolve_rollout(kube_target, app_name=None, selector=None, all_namespaces=True,
                                   crds=getattr(settings, "crds", ()))
    return [{"namespace": c.namespace, "name": c.name, "kind": c.kind_word,
             "strategy": c.strategy or None, "phase": c.phase or None, "health": c.health or None,
             "step": c.step or None, "weight": int(c.weight) if c.weight else None, "ready": c.ready or None,
             "members": list(c.members)} for c in choice.candidates if c.kind != "Label" or c.members]


def render_overview(rows: list[dict]) -> str:
    """`kubectl argo rollouts list rollouts -A` columns, the health symbol beside the controller's word."""
    from tui.rollout.target import Candidate

    head = ["NAMESPACE", "NAME", "KIND", "STRATEGY", "STATUS", "STEP", "WEIGHT", "READY", "MEMBERS"]
    table = [head]
    for r in rows:
        sym = Candidate("", "", "", "", phase=r["phase"] or "", health=r["health"] or "").symbol
        table.append([clean_ident(r["namespace"]), clean_ident(r["name"]), clean_ident(r["kind"]),
                      r["strategy"] or "-", f"{sym} {clean_line(r['phase'] or 'Unknown')}", r["step"] or "-",
                      f"{r['weight']}%" if r["weight"] is not None else "-", r["ready"] or "-",
                      " + ".join(clean_ident(m) for m in r["members"]) or "-"])
    if len(table) == 1:
        return "no rollouts found in any namespace"
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table)


async def collect(kube_target, settings, *, app: str | None, selector: str | None, prometheus: str | None,
                  wait: float, kubeconfig: str | None = None, clock=time.time, progress: Progress | None = None,
                  all_namespaces: bool = False) -> dict:
    """Watch the rollout for `wait` seconds (at least two scrapes for direct scrape) and build the report from the
    session's one assessment, exactly as the app shows it."""
    from tui.launch import EXIT_UNREACHABLE as UNREACHABLE, LaunchError
    from tui.metrics.monitor import MetricsMonitor
    from tui.session import Session, resolve_rollout

    progress = progress or Progress()
    choice = await resolve_rollout(kube_target, app_name=app, selector=selector, all_namespaces=all_namespaces,
                                   crds=getattr(settings, "crds", ()))
    progress.step = "waiting for the first lists"
    if choice.target is None:
        names = ", ".join(f"{c.kind}/{c.name}" for c in choice.candidates[:8])
        raise LaunchError(f"more than one rollout in namespace {choice.namespace}; say which with --app NAME"
                          + (f" ({names})" if names else ""))
    session = Session(kube_target, choice, settings, read_only=True, kubeconfig_path=kubeconfig, clock=clock,
                      prometheus_url=prometheus, debounce=False)
    session.poll_metrics = False  # polled here, at the pace a decision needs
    await session.start()
    monitor = None
    try:
        def note_error() -> None:
            progress.error = session.connection.error

        if not await session.wait_synced(SYNC_TIMEOUT, note_error):
            conn = session.connection
            raise LaunchError(f"the cluster did not answer within {SYNC_TIMEOUT:g}s"
                              + (f": {conn.error}" if conn.error else ""), UNREACHABLE)
        session.rebuild_resolver()
        progress.step = "reading the metrics"
        monitor = MetricsMonitor(session, prometheus_url=prometheus, clock=clock)
        direct = monitor.source.label == "direct scrape"
        interval = min(monitor.settings.interval, 2.5) if direct else monitor.settings.interval
        total = max(wait, DIRECT_SCRAPE_MIN_WAIT) if direct else wait
        start = time.monotonic()
        session.metrics = await monitor.poll()
        session.findings()
        while time.monotonic() - start < total:
            await asyncio.sleep(min(interval, max(0.0, total - (time.monotonic() - start))))
            session.metrics = await monitor.poll()
            # restart counts and the candidate's figures, as the app sees them over time
            if session.assess().outcome.state in ("aborted", "failed"):
                break  # the controller gave up: no figure can change the decision now
        progress.step = "deciding"
        assessment = session.assess()
        report = build_report(session, assessment, monitor.source.label)
    finally:
        progress.step = "closing the connections"
        try:
            async with asyncio.timeout(STOP_GRACE):
                if monitor is not None:
                    await monitor.aclose()
                await session.stop()
        except TimeoutError:  # the report is made; a connection that will not close must not hold it back
            pass
    return report


def _evidence(label: str, value, namespace: str) -> dict:
    m = re.match(r"^([A-Z][A-Za-z]+)/(\S+)(?:\s+(.*))?$", label)
    if m:
        return {"kind": m.group(1), "namespace": namespace, "name": clean_ident(m.group(2)),
                "field": clean_line(m.group(3) or ""), "value": clean_line(str(value))}
    return {"kind": None, "namespace": None, "name": None, "field": clean_line(label), "value": clean_line(str(value))}


def _num(v):
    if isinstance(v, float):
        return round(v, 6)
    return v


def build_report(session, assessment, source: str) -> dict:
    """The JSON document of docs/status.md, rendered from one Assessment."""
    t = session.choice.target
    ns = getattr(t, "namespace", "") or session.choice.namespace
    a = assessment
    state = a.compare
    summary = a.summary
    tracks = []
    for tr in state.tracks:
        tracks.append({"name": tr.name, "role": tr.role or None, "pods": [clean_ident(p) for p in tr.pods],
                       "figures": {k: _num(getattr(tr, k)) for k in FIGURE_KEYS}})
    reasons = [{"code": r.code, "text": clean_line(r.text), "values": {k: _num(v) for k, v in r.values},
                "promql": r.promql} for r in a.verdict.reasons]
    fs = [{"code": f.code, "severity": f.severity, "track": f.track, "text": clean_line(f.summary),
           "cell": cell_of(f.code), "holding": bool(getattr(f, "holding", True)),
           "evidence": [_evidence(k, v, ns) for k, v in f.evidence]} for f in a.findings]
    return _sanitised({
        "context": clean_ident(session.kube_target.context),
        "namespace": clean_ident(ns),
        # a Flagger rollout is watched through a label selector over its two Deployments; it is the Canary's
        "rollout": {"kind": "Canary" if getattr(getattr(a, "progress", None), "flagger", None) is not None
                    else getattr(t, "kind", None), "name": clean_ident(getattr(t, "name", "") or ""),
                    "controller": a.outcome.controller,
                    # a Flagger Canary's own phase word (Progressing, WaitingPromotion, Failed, ...)
                    "phase": a.progress.phase if getattr(getattr(a, "progress", None), "flagger", None) is not None
                    else getattr(summary, "phase", None),
                    "outcome": a.outcome.state, "message": clean_line(a.outcome.message) or None},
        "tracks": tracks,
        "verdict": {"decision": a.verdict.decision, "reasons": reasons},
        "findings": fs,
        "metrics": {"source": source, "promql": dict(state.promql), "age_s": _num(state.age),
                    "deltas": {k: (None if v is None or v != v or v in (float("inf"), float("-inf")) else _num(v))
                               for k, v in state.deltas.items()}},
        "health": [{"cell": c.name, "level": c.level, "word": c.word, "detail": clean_line(c.detail)}
                   for c in a.cells],
        "roles": {"baseline": a.roles.baseline, "candidate": a.roles.candidate,
                  "standby": sorted(a.roles.standby) or None, "why": a.roles.why or None},
        "sources": [{"source": st.source, "state": st.state,
                     "age_s": None if st.age is None else round(st.age, 1), "detail": clean_line(st.detail) or None}
                    for st in a.staleness],
        "progress": progress_report(getattr(a, "progress", None)),
        "exit_code": a.exit_code,
    })


def progress_report(p) -> dict | None:
    """The controller's progress (tui.rollout.progress.Progress) for `--json`: steps, pause, weights, revisions,
    replicas and each AnalysisRun metric's values against its conditions and limits."""
    from tui.rollout.strip import status_lines

    if p is None:
        return None
    return {
        "controller": p.controller, "strategy": p.strategy, "phase": p.phase,
        "step": {"index": p.step_index, "count": p.step_count, "text": p.step_text} if p.step_count else None,
        "steps": [{"index": s.index, "kind": s.kind, "text": s.text, "state": s.state} for s in p.steps],
        "pause": {"text": p.pause, "kind": p.pause_kind, "left_s": _num(p.pause_left_s)} if p.pause_kind else None,
        "weight": {"desired": p.desired_weight, "actual": p.actual_weight},
        "complete": p.complete,
        "replicas": {"desired": p.desired, "current": p.current, "updated": p.updated, "ready": p.ready,
                     "available": p.available},
        "step_for_s": None if p.step_for_s is None else round(p.step_for_s, 1),
        "roles": p.roles or None,
        "revisions": [{"revision": r.revision, "hash": r.hash, "role": r.role, "replicasets": list(r.replicasets),
                       "images": list(r.images), "desired": r.desired, "ready": r.ready, "available": r.available}
                      for r in p.revisions],
        "analysis_runs": [{"name": run.name, "phase": run.phase, "message": run.message or None,
                           "metrics": [{"name": m.name, "phase": m.phase, "values": list(m.values),
                                        "success_condition": m.success_condition,
                                        "failure_condition": m.failure_condition,
                                        "counts": {"count": m.count, "successful": m.successful, "failed": m.failed,
                                                   "inconclusive": m.inconclusive, "error": m.error,
                                                   "consecutive_error": m.consecutive_error},
                                        "limits": {"failure": m.failure_limit, "inconclusive": m.inconclusive_limit,
                                                   "consecutive_error": m.consecutive_error_limit}}
                                       for m in run.metrics]}
                          for run in p.analyses],
        "flagger": _flagger_report(getattr(p, "flagger", None)),
        # the rollout strip's lines as the app shows them (tui.rollout.strip): the text output prints these
        "text": status_lines(p),
        # an in-house CRD followed through a [crds.<name>] mapping (tui.rollout.custom)
        "health": p.health or None, "switch_progress": p.switch_progress, "conditions": list(p.conditions),
        "message": p.message or None,
    }


def _flagger_report(fs) -> dict | None:
    """A Flagger Canary's status (tui.rollout.flagger.FlaggerStatus): phase, weight, checks against the threshold."""
    if fs is None:
        return None
    return {"phase": fs.phase, "canary_weight": fs.canary_weight, "failed_checks": fs.failed_checks,
            "threshold": fs.threshold, "iterations": fs.iterations, "iterations_total": fs.iterations_total,
            "max_weight": fs.max_weight, "step_weight": fs.step_weight, "gates": list(fs.gates),
            "conditions": [{"type": c[0], "status": c[1], "reason": c[2] or None, "message": c[3] or None}
                           for c in fs.conditions]}


def _sanitised(value):
    """Every string of the report without control sequences, bidi controls escaped, URL passwords masked:
    `--json` piped through `jq -r` must be as safe on a terminal as the text output."""
    if isinstance(value, str):
        return clean(mask_url(value))
    if isinstance(value, dict):
        return {k: _sanitised(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitised(v) for v in value]
    return value


def render_text(report: dict) -> str:
    from tui.metrics.analysis import FIGURE_TITLES, fmt_delta, fmt_figure

    r = report["rollout"]
    lines = [f"rollout   {r['kind']}/{r['name']} in {report['namespace']} (context {report['context']}), "
             f"phase {r['phase'] or 'unknown'}",
             f"outcome   {r['outcome']}" + (f": {r['message']}" if r.get('message') else "")]
    # the controller's progress, the very lines of the app's rollout strip (tui.rollout.strip)
    for i, line in enumerate((report.get("progress") or {}).get("text") or ()):
        lines.append(("progress  " if i == 0 else " " * 10) + line)
    lines += ["health    " + " │ ".join(f"{h['cell']} {h['word']}" for h in report["health"]),
             f"metrics   {report['metrics']['source']}"]
    cols = ["track", "role", "pods"] + [FIGURE_TITLES[k] for k in FIGURE_KEYS]
    rows = [cols]
    for tr in report["tracks"]:
        rows.append([tr["name"], tr["role"] or "", str(len(tr["pods"]))]
                    + [fmt_figure(k, tr["figures"][k]) for k in FIGURE_KEYS])
    deltas = report["metrics"]["deltas"]
    if deltas:
        rows.append(["delta", "", ""] + [fmt_delta(deltas.get(k)) for k in FIGURE_KEYS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
    lines.append("")
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    v = report["verdict"]
    lines += ["", f"verdict   {v['decision'].upper().replace('NO-DATA', 'NO DATA')}"]
    for reason in v["reasons"]:
        lines.append(f"  - {reason['code']}: {reason['text']}")
        if reason.get("promql"):
            lines.append("      PromQL: " + reason["promql"].replace("\n", " "))
    lines.append("")
    if report["findings"]:
        lines.append("findings")
        for f in report["findings"]:
            tr = f" [{f['track']}]" if f["track"] else ""
            gone = "" if f.get("holding", True) else " (cleared)"
            lines.append(f"  {f['severity']:<8} {f['code']}{tr}{gone}: {f['text']}")
            for e in f["evidence"][:4]:
                who = f"{e['kind']}/{e['name']} " if e["kind"] else ""
                lines.append(f"             {who}{e['field']}{': ' if e['field'] else ''}{e['value']}")
    else:
        lines.append("findings  none")
    lines.append(f"exit      {report['exit_code']}")
    return "\n".join(lines)
