"""Running a runbook step: planned (rendered, validated, classified, refused or not), then run as an async
subprocess with a timeout, its output streamed line by line with control sequences stripped.

Every run is recorded (`RunLog`) so the incident log can write it down. No shell, ever: the argv list is passed
as is; `kubectl` gets the session's kubeconfig (as KUBECONFIG, which keeps a multi-file list), `--context=VALUE`
and `-n NAMESPACE`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Mapping

from tui.runbooks.model import Runbook, Step
from tui.runbooks.safety import (SESSION_FLAGS, StepRefused, display, kubectl_shape, render, secret_refusal,
                                 step_mutates)
from tui.textsafe import clean, clean_line

MAX_OUTPUT_LINES = 5000  # kept per run (the panel's Log has its own bound)
MAX_LINE_CHARS = 4000
READ_CHUNK = 65536


@dataclass(frozen=True)
class Where:
    """Where steps run: the session's cluster and the template values taken from what Lookout sees."""

    context: str
    namespace: str
    kubeconfig: str | None  # as KUBECONFIG (may be a ':'-separated list); None: kubectl's own default
    values: Mapping[str, str | None]
    missing: Mapping[str, str] = field(default_factory=dict)  # why a value is unknown ("no canary pod")
    read_only: bool = False
    kubectl: str | None = None  # the kubectl binary (default: the one on PATH)
    prometheus: bool = False
    # the workload's resourceVersion when the step was shown: Argo and pause/resume patches carry it as a JSON
    # patch `test`, so a change made since (two people both pressing abort) is refused, not applied twice
    resource_version: str | None = None
    # the namespace's Services as Lookout sees them: name -> (selector, resourceVersion), for the blue/green switch
    services: Mapping[str, tuple[Mapping[str, str], str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedStep:
    runbook: Runbook
    index: int  # 0-based
    step: Step
    argv: tuple[str, ...] = ()  # exactly what runs (program resolved, session flags added)
    command: str = ""  # the same, quoted for copying
    mutates: bool = False
    refused: str | None = None  # will not run: why (a value and its rule, read-only, Secret values ...)
    manual: str | None = None  # shown for the user to do by hand: why (not installed, a checklist item ...)
    target: str = ""  # context, namespace and object, for the confirmation
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    query: str = ""  # a promql step: the query, asked through the session's Prometheus

    @property
    def runnable(self) -> bool:
        return self.refused is None and self.manual is None and bool(self.argv or self.query)


def plan(runbook: Runbook, index: int, where: Where) -> PlannedStep:
    """What step `index` of `runbook` would do here, or why it will not. Nothing runs."""
    step = runbook.steps[index]
    base = dict(runbook=runbook, index=index, step=step, timeout=step.timeout)
    values = dict(where.values)
    values.setdefault("context", where.context)
    values.setdefault("namespace", where.namespace)
    target = f"context {where.context or '(default)'}, namespace {where.namespace}"
    if step.kind == "check":
        return PlannedStep(**base, manual=step.argument, target=target)
    if step.kind == "promql":
        try:
            query = render(step.argument, values, where.missing)
        except StepRefused as e:
            return PlannedStep(**base, refused=str(e), target=target)
        if not where.prometheus:
            return PlannedStep(**base, command=query, target=target,
                               manual="no Prometheus configured (--prometheus or [prometheus] url): copy the query")
        return PlannedStep(**base, command=query, query=query, target=target)
    if step.kind in ("action", "http"):
        # planned as the kubectl equivalent the Argo Rollouts plugin / kubectl would send
        return _plan_builtin(base, step, values, where, target)
    try:
        argv = [render(a, values, where.missing) for a in step.run]
    except StepRefused as e:
        return PlannedStep(**base, refused=str(e), target=target)
    return _finish(base, argv, step, where, target)


def _objects(args: list[str]) -> list[str]:
    """The kubectl command's resource and names (flags and their values left out), for the confirmation."""
    from tui.runbooks.safety import VALUE_FLAGS

    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--":
            break
        if a.startswith("-"):
            skip = "=" not in a and a in VALUE_FLAGS
            continue
        out.append(a)
    return out[1:4] if out and out[0] not in ("rollout", "argo") else out[2:5]


def _finish(base: dict, argv: list[str], step: Step, where: Where, target: str) -> PlannedStep:
    program = argv[0]
    mutates = step_mutates(step, argv)
    is_kubectl = program.rsplit("/", 1)[-1] == "kubectl"
    env = dict(os.environ)
    if is_kubectl:
        args = argv[1:]
        for a in args:
            if a.split("=", 1)[0] in SESSION_FLAGS:
                return PlannedStep(**base, command=display(argv), mutates=mutates, target=target,
                                   refused=f"the step sets {a.split('=', 1)[0]}: steps run on the session's "
                                           "cluster, context and identity only")
        why = secret_refusal(args)
        if why:
            return PlannedStep(**base, command=display(argv), mutates=mutates, target=target, refused=why)
        shape = kubectl_shape(args)
        binary = where.kubectl or shutil.which("kubectl")
        extra = [f"--context={where.context}"] if where.context else []
        if not shape.has_namespace:
            extra += ["-n", where.namespace]
        objects = _objects(args)
        target += f", {' '.join(objects)}" if objects else ""
        # kubectl refuses flags before a plugin's name (`kubectl argo rollouts ...`): they go after its arguments
        plugin = shape.verb.startswith("argo ")
        full = ["kubectl", *args, *extra] if plugin else ["kubectl", *extra, *args]
        if binary is None:
            return PlannedStep(**base, command=display(full), mutates=mutates, target=target,
                               manual="kubectl is not on PATH: run it by hand")
        if where.kubeconfig:
            env["KUBECONFIG"] = where.kubeconfig
        argv = [binary, *full[1:]]
        shown = full
    else:
        binary = program if os.path.isabs(program) and os.access(program, os.X_OK) else shutil.which(program)
        shown = argv
        if binary is None:
            return PlannedStep(**base, command=display(argv), mutates=mutates, target=target,
                               manual=f"{program} is not installed here: the command is ready to copy")
        argv = [binary, *argv[1:]]
    env["NO_COLOR"] = "1"
    if mutates and where.read_only:
        return PlannedStep(**base, argv=tuple(argv), command=display(shown), mutates=True, target=target, env=env,
                           refused="read-only: Lookout was started with --read-only and this step changes the "
                                   "cluster")
    return PlannedStep(**base, argv=tuple(argv), command=display(shown), mutates=mutates, target=target, env=env)


# What the Argo Rollouts plugin and kubectl send, as kubectl commands (status subresource patches for Argo).
_ARGO_STATUS = {
    "abort": '{"status":{"abort":true}}',
    "retry": '{"status":{"abort":false}}',
}


def _plan_builtin(base: dict, step: Step, values: dict, where: Where, target: str) -> PlannedStep:
    kind = values.get("kind")
    try:
        if step.kind == "http":
            path = render(step.argument, values, where.missing)
            pod = render("{pod}", values, where.missing)
            argv = ["kubectl", "get", "--raw", f"/api/v1/namespaces/{where.namespace}/pods/{pod}/proxy{path}"]
            return _finish(base, argv, Step(step.title, step.why, "run", tuple(argv), declared_mutates=False),
                           where, target)
        name = render("{rollout}", values, where.missing)
    except StepRefused as e:
        return PlannedStep(**base, refused=str(e), target=target, mutates=step.kind == "action")
    a = step.action
    if kind == "canary":  # Flagger drives its Canary: Lookout's actions would fight it
        return PlannedStep(**base, mutates=True, target=target,
                           refused=f"{a} acts on Argo Rollouts and Deployments: Flagger drives this Canary (open its "
                                   "gate, or fix the cause and let Flagger retry)")
    if a == "rollback":
        a = "abort" if kind == "rollout" else "undo"
    res = "rollout" if kind == "rollout" else "deployment"
    if a in _ARGO_STATUS or a in ("promote", "promote-full", "pause", "resume"):
        if kind != "rollout" and a not in ("pause", "resume"):
            return PlannedStep(**base, mutates=True, target=target,
                               refused=f"{a} is an Argo Rollouts action: this rollout is a {kind or 'label selection'}")
    rv = where.resource_version
    if a in _ARGO_STATUS:
        argv = _json_patch(res, name, rv, [("add", "/status/abort", a == "abort")], status=True)
    elif a == "promote":  # as the Argo Rollouts plugin: the pause conditions cleared on the status subresource
        argv = _json_patch(res, name, rv, [("add", "/status/pauseConditions", None)], status=True)
    elif a == "promote-full":
        argv = _json_patch(res, name, rv, [("add", "/status/promoteFull", True)], status=True)
    elif a in ("pause", "resume"):
        argv = _json_patch(res, name, rv, [("add", "/spec/paused", a == "pause")])
    elif a == "restart" and kind == "rollout":  # as `kubectl argo rollouts restart`: spec.restartAt
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        argv = _json_patch(res, name, rv, [("add", "/spec/restartAt", now)])
    elif a == "restart" and rv:
        # what `kubectl rollout restart` sends (the restartedAt template annotation), as a merge patch carrying the
        # resourceVersion shown at the confirmation: the API server refuses it if the Deployment changed since
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        argv = _merge_patch(res, name, rv, {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": now}}}}})
    elif a == "restart":
        argv = ["kubectl", "rollout", "restart", f"{res}/{name}"]
    elif a == "undo":
        if kind != "deployment":
            return PlannedStep(**base, mutates=True, target=target,
                               refused="undo is a Deployment action: for an Argo Rollout use abort")
        argv = ["kubectl", "rollout", "undo", f"deployment/{name}"]
    elif a == "scale":
        argv = ["kubectl", "scale", f"{res}/{name}", f"--replicas={step.argument}",
                *([f"--resource-version={rv}"] if rv else [])]  # kubectl's own precondition
    else:  # switch: the active Service's selector becomes the preview's (blue/green), as a promote would make it
        try:
            svc = render("{service}", values, where.missing)
            preview = render("{preview_service}", values, where.missing)
        except StepRefused as e:
            return PlannedStep(**base, refused=str(e), target=target, mutates=True)
        if svc not in where.services or preview not in where.services:
            return PlannedStep(**base, mutates=True, target=f"{target}, service/{svc}",
                               refused=f"service/{svc} or service/{preview} is not (yet) known to Lookout")
        selector, svc_rv = where.services[svc]
        new_selector, _ = where.services[preview]
        if dict(selector) == dict(new_selector):
            return PlannedStep(**base, mutates=True, target=f"{target}, service/{svc}",
                               refused=f"service/{svc} already selects what service/{preview} selects")
        argv = _json_patch("service", svc, svc_rv, [("replace", "/spec/selector", dict(new_selector))])
        return _finish(base, argv, Step(step.title, step.why, "run", tuple(argv)), where,
                       f"{target}, service/{svc} (selector now {_labels(selector)}, after {_labels(new_selector)})")
    return _finish(base, argv, Step(step.title, step.why, "run", tuple(argv)), where, target)


def _labels(selector: Mapping[str, str]) -> str:
    return ",".join(f"{clean_line(str(k))}={clean_line(str(v))}" for k, v in sorted(selector.items()))


def _json_patch(res: str, name: str, rv: str | None, ops: list[tuple[str, str, object]], *,
                status: bool = False) -> list[str]:
    import json

    patch = ([{"op": "test", "path": "/metadata/resourceVersion", "value": rv}] if rv else []) + [
        {"op": op, "path": path, "value": value} for op, path, value in ops]
    return ["kubectl", "patch", res, name, *(["--subresource=status"] if status else []), "--type=json", "-p",
            json.dumps(patch, separators=(",", ":"))]


def _merge_patch(res: str, name: str, rv: str, body: dict) -> list[str]:
    import json

    body = {"metadata": {"resourceVersion": rv}, **body}  # a patch naming a resourceVersion is conditional on it
    return ["kubectl", "patch", res, name, "--type=merge", "-p", json.dumps(body, separators=(",", ":"))]


CHANGED_SINCE_SHOWN = "refused by the API server: the object changed since it was shown (someone else acted?)"
_PRECONDITION_FAILED = re.compile(r"testing value|test operation|test failed|has been modified|resource ?version",
                                  re.I)


def incident_entry(planned: "PlannedStep", outcome: str, run: "StepRun | None" = None) -> tuple[str, dict]:
    """The incident timeline's entry for a step (run, confirmed or refused): its one line and its data, the same
    from the app and from `lookout runbooks run --incident`."""
    step = planned.step
    data = {"runbook": planned.runbook.id, "step": planned.index + 1, "title": step.title,
            "command": planned.command, "target": planned.target, "mutates": planned.mutates}
    if run is not None:
        data.update(state=run.state, exit_code=run.exit_code, duration_s=round(run.duration, 3),
                    output_tail=list(run.lines)[-20:])
    text = f"{planned.runbook.title} · step {planned.index + 1} {step.title}: {outcome}" + (
        f" · $ {planned.command}" if planned.command else "")
    return clean_line(text), data


def changed_since_shown(planned: "PlannedStep", run: "StepRun") -> bool:
    """The step carried the resourceVersion shown at its confirmation (a JSON-patch test, a merge patch naming
    it, kubectl scale's --resource-version) and the API server refused it because the object changed since."""
    argv = planned.argv or ()
    carried = "--type=json" in argv or "--type=merge" in argv or any(a.startswith("--resource-version=") for a in argv)
    return run.state == "failed" and carried and any(_PRECONDITION_FAILED.search(ln) for ln in run.lines)


async def promql_table(source, query: str, now: float) -> list[str]:
    """Ask `query` through a tui.metrics PrometheusSource; a small table: value, then the series' labels."""
    answer = await asyncio.to_thread(source._query, query, now)
    if answer.error:
        raise RuntimeError(f"Prometheus: {answer.error}")
    out = [f"{'VALUE':>14}  SERIES"]
    for labels, value in sorted(answer.samples, key=lambda s: sorted((s[0] or {}).items()))[:200]:
        series = ", ".join(f"{k}={v}" for k, v in sorted((labels or {}).items()) if k != "__name__")
        out.append(f"{value:>14.6g}  {{{series}}}")
    for w in answer.warnings:
        out.append(f"warning: {w}")
    if len(out) == 1:
        out.append("(no series)")
    return out


# ---- running ---------------------------------------------------------------------------------------------


@dataclass
class StepRun:
    """One run of one step: what ran, its output, and how it ended (the incident log records these)."""

    planned: PlannedStep
    started: float = 0.0  # wall clock
    duration: float = 0.0
    state: str = "pending"  # pending | running | ok | failed | timeout | cancelled | refused | manual
    exit_code: int | None = None
    why: str = ""  # refusal or failure reason
    lines: deque = field(default_factory=lambda: deque(maxlen=MAX_OUTPUT_LINES))
    confirmed: bool = False

    @property
    def summary(self) -> str:
        if self.state == "ok" and self.planned.query:
            return f"{len(self.lines) - 1 if self.lines else 0} series in {self.duration:.1f}s"
        if self.state == "ok":
            return f"exit 0 in {self.duration:.1f}s"
        if self.state == "failed":
            return self.why if self.exit_code is None and self.why else f"exit {self.exit_code} in {self.duration:.1f}s"
        if self.state == "timeout":
            return f"timed out after {self.duration:.1f}s (killed)"
        if self.state == "cancelled":
            return f"cancelled after {self.duration:.1f}s (killed)"
        return self.why or self.state


class RunLog:
    """Every step run in this session, in order (bounded)."""

    def __init__(self, limit: int = 500):
        self.runs: deque[StepRun] = deque(maxlen=limit)

    def add(self, run: StepRun) -> StepRun:
        self.runs.append(run)
        return run


async def execute(planned: PlannedStep, *, confirmed: bool = False, on_line: Callable[[str], None] | None = None,
                  log: RunLog | None = None, clock: Callable[[], float] = time.time,
                  promql: Callable[[str], Awaitable[list[str]]] | None = None) -> StepRun:
    """Run a planned step. A mutating step runs only with `confirmed=True`; a refused or manual one not at all.
    Output is sanitised line by line; on timeout or cancellation the process group is killed. `promql` asks a
    query through the session's metrics source and returns the lines of a small table."""
    run = StepRun(planned, started=clock(), confirmed=confirmed)
    if log is not None:
        log.add(run)
    if planned.refused:
        run.state, run.why = "refused", planned.refused
        return run
    if planned.query:
        return await _ask_promql(run, planned, promql, on_line)
    if planned.manual or not planned.argv:
        run.state, run.why = "manual", planned.manual or "nothing to run"
        return run
    if planned.mutates and not confirmed:
        run.state, run.why = "refused", "this step changes the cluster: it needs an explicit yes"
        return run

    def emit(text: str) -> None:
        line = clean_line(clean(text.rstrip("\r")))[:MAX_LINE_CHARS]
        run.lines.append(line)
        if on_line is not None:
            on_line(line)

    t0 = time.monotonic()
    run.state = "running"
    try:
        proc = await asyncio.create_subprocess_exec(
            *planned.argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=dict(planned.env) if planned.env else None,
            start_new_session=True)
    except OSError as e:
        run.state, run.why = "failed", f"could not start {planned.argv[0]}: {e.strerror or e}"
        run.duration = time.monotonic() - t0
        return run
    try:
        async with asyncio.timeout(planned.timeout):
            pending = b""
            assert proc.stdout is not None
            while True:
                chunk = await proc.stdout.read(READ_CHUNK)
                if not chunk:
                    break
                pending += chunk
                *whole, pending = pending.split(b"\n")
                for raw in whole:
                    emit(raw.decode("utf-8", "replace"))
                if len(pending) > MAX_LINE_CHARS * 4:  # a line without end: show it in pieces
                    emit(pending.decode("utf-8", "replace"))
                    pending = b""
            if pending:
                emit(pending.decode("utf-8", "replace"))
            run.exit_code = await proc.wait()
        run.state = "ok" if run.exit_code == 0 else "failed"
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        run.state, run.why = "timeout", f"timed out after {planned.timeout:g}s: killed"
    except asyncio.CancelledError:
        _kill(proc)
        try:
            await asyncio.shield(proc.wait())
        finally:
            run.state, run.why = "cancelled", "cancelled: killed"
            run.duration = time.monotonic() - t0
        raise
    finally:
        if proc.returncode is None:
            _kill(proc)
        run.duration = time.monotonic() - t0
    return run


async def _ask_promql(run: StepRun, planned: PlannedStep, promql, on_line) -> StepRun:
    t0 = time.monotonic()
    if promql is None:
        run.state, run.why = "manual", "no metrics source to ask: copy the query"
        return run
    run.state = "running"
    try:
        async with asyncio.timeout(planned.timeout):
            lines = await promql(planned.query)
        run.state, run.exit_code = "ok", 0
    except TimeoutError:
        lines, run.state, run.why = [], "timeout", f"Prometheus did not answer within {planned.timeout:g}s"
    except Exception as e:  # noqa: BLE001 - the query's error is the step's result
        lines, run.state, run.why = [f"error: {e}"], "failed", clean_line(str(e))
    for line in lines:
        text = clean_line(clean(str(line)))[:MAX_LINE_CHARS]
        run.lines.append(text)
        if on_line is not None:
            on_line(text)
    run.duration = time.monotonic() - t0
    return run


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its children too (kubectl plugins, shells a program starts)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
