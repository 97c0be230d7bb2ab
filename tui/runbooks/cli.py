"""`lookout runbooks list|show|validate|run`: runbooks for scripts, without the UI.

Exit codes: 0 every step ran and succeeded (steps to do by hand are printed, not counted), 1 a step failed or timed
out, 2 a step was refused (it changes the cluster and --yes was not given, --read-only, a bad template value),
3 the API server is unreachable, 4 a usage error or a broken runbook file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace

from tui.runbooks.model import Catalog, RunbookError, load_catalog, load_file
from tui.textsafe import clean_line

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 2, 3, 4
SYNC_TIMEOUT = 20.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="runbooks_command", metavar="{list,show,validate,run}")
    sub.required = True
    lst = sub.add_parser("list", help="every runbook: id, title, source, steps and whether each changes the cluster")
    lst.add_argument("--json", action="store_true", help="one JSON document")
    show = sub.add_parser("show", help="one runbook in full")
    show.add_argument("id")
    val = sub.add_parser("validate", help="check a runbook file: file, line and what is wrong (exit 4)")
    val.add_argument("file")
    run = sub.add_parser("run", help="run a runbook's steps against the cluster, printing each step's output")
    run.add_argument("id")
    run.add_argument("--step", type=int, metavar="N", help="run only step N (1-based)")
    run.add_argument("--pod", metavar="NAME", help="{pod} (default: the first pod of the step's track)")
    run.add_argument("--yes", action="store_true", help="confirm the steps that change the cluster")
    run.add_argument("--read-only", action="store_true", help="refuse every step that changes the cluster")
    run.add_argument("--incident", metavar="DIR",
                     help="write each step (its command, target, outcome and output tail), confirmation and refusal to "
                          "the incident in DIR (joined, or opened at --severity), as the app does")
    run.add_argument("--severity", choices=("critical", "high", "medium", "low"), default="medium",
                     help="severity of an incident --incident opens (default: %(default)s)")
    g = run.add_argument_group("cluster")
    g.add_argument("--kubeconfig", metavar="PATH")
    g.add_argument("--context", metavar="NAME")
    g.add_argument("-n", "--namespace", metavar="NS")
    g.add_argument("--app", metavar="NAME", help="the Rollout or Deployment (or app label value)")
    g.add_argument("--config", metavar="PATH", help="settings file")
    for q in (lst, show, run):
        q.add_argument("--runbooks", metavar="PATH", action="append", default=[],
                       help="more runbook files or folders (override built-ins by id)")


def _say(message: str) -> None:
    print(clean_line(message), file=sys.stderr)


def _catalog(ns: argparse.Namespace) -> Catalog:
    from tui.app import main_screen_keys

    cat = load_catalog(getattr(ns, "runbooks", []) or [], reserved_keys=main_screen_keys())
    for e in cat.errors:
        _say(f"lookout runbooks: {e}")
    return cat


def _step_doc(step, mutates: bool) -> dict:
    from tui.runbooks.safety import display

    doc = {"title": step.title, "why": step.why, "kind": step.kind, "mutates": mutates}
    if step.kind == "run":
        doc["run"] = list(step.run)
        doc["command"] = display(step.run)
    elif step.kind == "action":
        doc["action"] = step.action
    else:
        doc[step.kind] = step.argument
    if step.track:
        doc["track"] = step.track
    return doc


def _doc(rb) -> dict:
    from tui.runbooks.safety import step_mutates

    return {"id": rb.id, "title": rb.title, "source": rb.source, "builtin": rb.builtin, "origin": rb.origin,
            "symptoms": list(rb.symptoms), "when": [c.text() for c in rb.when], "key": rb.key,
            "steps": [_step_doc(s, step_mutates(s, None)) for s in rb.steps]}


def run_runbooks(ns: argparse.Namespace) -> int:
    cmd = ns.runbooks_command
    if cmd == "validate":
        try:
            from tui.app import main_screen_keys

            found = load_file(ns.file, reserved_keys=main_screen_keys())
        except RunbookError as e:
            _say(str(e))
            return EXIT_USAGE
        print(f"{clean_line(ns.file)}: {len(found)} runbook(s) OK: " + ", ".join(r.id for r in found))
        return EXIT_OK
    cat = _catalog(ns)
    if cmd == "list":
        docs = [_doc(r) for r in cat.runbooks]
        if ns.json:
            print(json.dumps({"runbooks": docs, "errors": cat.errors}, indent=2))
        else:
            for d in docs:
                n = sum(1 for s in d["steps"] if s["mutates"])
                print(f"{d['id']:<24} {clean_line(d['title'])}  ({len(d['steps'])} steps, {n} change the cluster)"
                      f"  [{clean_line(d['source'] or d['origin'])}]")
        return EXIT_OK
    rb = cat.get(ns.id)
    if rb is None:
        _say(f"lookout runbooks: no runbook with id '{clean_line(ns.id)}' (lookout runbooks list shows them)")
        return EXIT_USAGE
    if cmd == "show":
        d = _doc(rb)
        print(f"{d['id']}: {clean_line(d['title'])}")
        print(f"  source: {clean_line(d['source'] or d['origin'])}")
        for s in d["symptoms"]:
            print(f"  symptom: {clean_line(s)}")
        if d["when"]:
            print(f"  suggested when: {clean_line(' and '.join(d['when']))}")
        for i, s in enumerate(d["steps"], 1):
            what = s.get("command") or s.get("action") or s.get("promql") or s.get("http") or s.get("check")
            print(f"  {i}. {clean_line(s['title'])}{'  [changes the cluster]' if s['mutates'] else ''}")
            print(f"     why: {clean_line(s['why'])}")
            print(f"     {s['kind']}: {clean_line(str(what))}")
        return EXIT_OK
    return _run(ns, rb)


def _run(ns: argparse.Namespace, rb) -> int:
    from tui.config import ConfigError, load_config
    from tui.kube.config import KubeConfigError, load_target
    from tui.kube.names import InvalidName, check_app, check_context, check_namespace, check_object_name
    from tui.launch import LaunchError

    try:
        if ns.namespace:
            check_namespace(ns.namespace, "-n/--namespace")
        if ns.app:
            check_app(ns.app, "--app")
        if ns.context:
            check_context(ns.context, "--context")
        if ns.pod:
            check_object_name(ns.pod, "--pod")
    except InvalidName as e:
        _say(f"lookout runbooks run: {e}")
        return EXIT_USAGE
    if ns.step is not None and not 1 <= ns.step <= len(rb.steps):
        _say(f"lookout runbooks run: --step must be 1 to {len(rb.steps)} for {rb.id}")
        return EXIT_USAGE
    try:
        settings = load_config(ns.config)
        target = load_target(ns.kubeconfig, ns.context, ns.namespace or settings.defaults.namespace)
    except (ConfigError, KubeConfigError) as e:
        _say(f"lookout runbooks run: {e}")
        return EXIT_USAGE
    incident = None
    if ns.incident:
        from tui.incident.log import Incident, IncidentError

        try:
            incident = Incident.open(ns.incident, severity=ns.severity, service=ns.app or "")
        except IncidentError as e:
            _say(f"lookout runbooks run: {e}")
            return EXIT_USAGE
    try:
        return asyncio.run(_run_steps(ns, rb, target, settings, incident))
    except LaunchError as e:
        _say(f"lookout runbooks run: {e}")
        return e.code
    except KeyboardInterrupt:
        return 130
    finally:
        if incident is not None:
            if incident.write_error:
                _say(f"lookout runbooks run: could not write the incident log: {incident.write_error}")
            incident.close()


async def _run_steps(ns, rb, kube_target, settings, incident=None) -> int:
    from tui.launch import EXIT_UNREACHABLE as UNREACHABLE, LaunchError
    from tui.runbooks.context import pod_for_track, where_for
    from tui.runbooks.runner import changed_since_shown, execute, incident_entry, plan

    def record(kind: str, planned, outcome: str, run=None) -> None:
        if incident is not None:
            text, data = incident_entry(planned, outcome, run)
            incident.record(kind, text, data=data)
    from tui.session import Session, resolve_rollout

    choice = await resolve_rollout(kube_target, app_name=ns.app, selector=None, all_namespaces=False)
    if choice.target is None:
        raise LaunchError(f"more than one rollout in namespace {choice.namespace}; say which with --app NAME")
    session = Session(kube_target, choice, settings, read_only=ns.read_only, kubeconfig_path=ns.kubeconfig,
                      debounce=False)
    session.poll_metrics = False
    await session.start()
    try:
        if not await session.wait_synced(SYNC_TIMEOUT):
            raise LaunchError(f"the cluster did not answer within {SYNC_TIMEOUT:g}s", UNREACHABLE)
        session.rebuild_resolver()
        assessment = session.assess()
        code = EXIT_OK
        indexes = [ns.step - 1] if ns.step else range(len(rb.steps))
        for i in indexes:
            step = rb.steps[i]
            pod = ns.pod
            track = None
            if pod is None and step.track:
                pod, track = pod_for_track(session, assessment, step.track)
            where = where_for(session, assessment, selected_pod=pod, selected_track=track)
            if kube_target.context and not where.context:
                where = replace(where, context=kube_target.context)
            t = session.target
            wl = session.store.get("rollouts" if t.kind == "Rollout" else "deployments", t.namespace, t.rollout) \
                if t.rollout and t.kind in ("Rollout", "Deployment") else None
            where = replace(where, resource_version=((wl or {}).get("metadata") or {}).get("resourceVersion"))
            planned = plan(rb, i, where)
            print(f"== step {i + 1}: {clean_line(step.title)}" + ("  [changes the cluster]" if planned.mutates
                                                                   else ""), flush=True)
            if planned.command:
                print(f"$ {clean_line(planned.command)}", flush=True)
            if planned.manual and not planned.refused:
                print(f"by hand: {clean_line(planned.manual)}", flush=True)
                continue
            if planned.mutates and ns.yes and not planned.refused:
                record("confirmed", planned, f"confirmed on {planned.target} (--yes)")
            run = await execute(planned, confirmed=ns.yes, on_line=lambda s: print(s, flush=True))
            if run.state == "refused":
                why = run.why + (" (give --yes to confirm)" if "explicit yes" in run.why else "")
                print(f"[refused: {clean_line(why)}]", flush=True)
                record("refused", planned, f"refused: {run.why}")
                code = max(code, EXIT_REFUSED) if code != EXIT_FAILED else code
            elif changed_since_shown(planned, run):
                from tui.runbooks.runner import CHANGED_SINCE_SHOWN

                print(f"[refused: {CHANGED_SINCE_SHOWN}]", flush=True)
                record("refused", planned, CHANGED_SINCE_SHOWN, run)
                code = max(code, EXIT_REFUSED) if code != EXIT_FAILED else code
            else:
                print(f"[{clean_line(run.summary)}]", flush=True)
                record("step", planned, run.summary, run)
                if run.state != "ok":
                    code = EXIT_FAILED
        return code
    finally:
        await session.stop()
