"""Pod rows: what the pods pane shows of one pod, derived from the pod's plain dict."""

from __future__ import annotations

from dataclasses import dataclass

from tui.kube.timestamps import parse_time  # the one timestamp parser; the domain imports it from here too
from tui.textsafe import clean_line

# `state` is the one word that classifies a row; widgets map it to a colour AND a text marker.
#   "ok"      running and ready
#   "pending" not yet running (Pending, ContainerCreating, PodInitializing, Terminating)
#   "warn"    running but not ready, or restarted recently
#   "fail"    CrashLoopBackOff, ImagePullBackOff, ErrImagePull, CreateContainerConfigError,
#             InvalidImageName, OOMKilled, Error, Evicted, Unschedulable, Failed
#   "done"    Succeeded / Completed


@dataclass(frozen=True, slots=True)
class PodRow:
    namespace: str
    name: str
    track: str | None  # "stable" | "canary" | "blue" | "green" | "active" | "preview" | None
    status: str  # what kubectl's STATUS column would say: Running, CrashLoopBackOff, Pending, ...
    ready: int
    total: int
    restarts: int
    created: float | None  # epoch seconds of creationTimestamp; widgets format the age
    node: str
    state: str  # see above
    ip: str = ""
    message: str = ""  # waiting/terminated message of the worst container, control chars stripped


# ---- deriving a row from a pod -------------------------------------------------------------------

FAILING_REASONS = frozenset({
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
    "CreateContainerError", "InvalidImageName", "ErrImageNeverPull", "RunContainerError", "StartError",
    "OOMKilled", "Error", "Evicted", "Unschedulable", "Failed", "ContainerStatusUnknown", "Unknown",
    "NodeLost", "DeadlineExceeded", "PreStopHookError", "PostStartHookError",
})
PENDING_REASONS = frozenset({"Pending", "ContainerCreating", "PodInitializing", "Terminating"})
DONE_REASONS = frozenset({"Completed", "Succeeded"})
RECENT_RESTART_SECONDS = 300.0  # a container that restarted this recently makes a ready pod "warn"
MESSAGE_MAX = 500

def state_of(status: str, ready: int, total: int) -> str:
    """The `state` class of a kubectl-like STATUS word (see the comment at the top of this module)."""
    base = status[5:] if status.startswith("Init:") else status
    if base in FAILING_REASONS or base.startswith("ExitCode:") or base.startswith("Signal:"):
        return "fail"
    if status.startswith("Init:") or status in PENDING_REASONS:
        return "pending"
    if status in DONE_REASONS:
        return "done"
    if status == "Running":
        return "ok" if ready >= total else "warn"
    if status == "NotReady":
        return "warn"
    return "pending"


def _unschedulable(status: dict) -> dict | None:
    for c in status.get("conditions") or ():
        if c.get("type") == "PodScheduled":
            if c.get("status") == "False" and c.get("reason") == "Unschedulable":
                return c
            return None
    return None


def pod_row(pod: dict, track: str | None, now: float) -> PodRow:
    """One pods-pane row, with STATUS computed as kubectl's printer does (pkg/printers, printPod)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    st = pod.get("status") or {}
    phase = st.get("phase") or "Pending"
    pod_reason = st.get("reason")
    reason = pod_reason or phase
    message = st.get("message") or ""
    restarts = 0
    ready = 0
    recent = ""  # why a ready pod is nevertheless "warn": its latest recent restart
    containers = spec.get("containers") or ()
    total = len(containers)

    # Init containers: the first one that has not finished decides, as in kubectl.
    initializing = False
    init_statuses = st.get("initContainerStatuses")
    if init_statuses:
        init_specs = spec.get("initContainers") or ()
        sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
        total += len(sidecars)
        for i, cs in enumerate(init_statuses):
            restarts += cs.get("restartCount", 0)
            state = cs.get("state") or {}
            term = state.get("terminated")
            waiting = state.get("waiting")
            if cs.get("name") in sidecars:
                if cs.get("started"):
                    if cs.get("ready"):
                        ready += 1
                    continue
            if term is not None and term.get("exitCode", 0) == 0 and not initializing:
                continue
            if initializing:
                continue
            if term is not None:
                r = term.get("reason")
                if r:
                    reason = "Init:" + r
                elif term.get("signal"):
                    reason = f"Init:Signal:{term['signal']}"
                else:
                    reason = f"Init:ExitCode:{term.get('exitCode', 0)}"
                message = term.get("message") or message
            elif waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
                reason = "Init:" + waiting["reason"]
                message = waiting.get("message") or message
            else:
                reason = f"Init:{i}/{len(init_specs)}"
            initializing = True

    statuses = st.get("containerStatuses")
    if statuses and (not initializing or _condition_true(st, "Initialized")):
        has_running = False
        # Reverse order so the FIRST container's state wins, as in kubectl.
        for cs in reversed(statuses):
            restarts += cs.get("restartCount", 0)
            state = cs.get("state") or {}
            waiting = state.get("waiting")
            term = state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
                message = waiting.get("message") or ""
            elif term is not None:
                r = term.get("reason")
                if r:
                    reason = r
                elif term.get("signal"):
                    reason = f"Signal:{term['signal']}"
                else:
                    reason = f"ExitCode:{term.get('exitCode', 0)}"
                message = term.get("message") or ""
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
            if cs.get("restartCount"):
                last = (cs.get("lastState") or {}).get("terminated")
                if last:
                    t = parse_time(last.get("finishedAt"))
                    if t is not None and now - t < RECENT_RESTART_SECONDS:
                        # No relative time here: rows are rebuilt on pod changes, not every second.
                        recent = (f"{cs.get('name', '')} restarted: {last.get('reason') or 'exit'} "
                                  f"(exit code {last.get('exitCode', '?')}) at {last.get('finishedAt')}")
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(st, "Ready") else "NotReady"
    elif not statuses and not initializing and phase == "Pending":
        c = _unschedulable(st)
        if c is not None:
            reason = "Unschedulable"
            message = c.get("message") or ""

    if pod_reason == "Evicted":
        # Newer kubelets mark an evicted pod's containers ContainerStatusUnknown; the pod's reason says more.
        reason = "Evicted"
        message = st.get("message") or message

    if meta.get("deletionTimestamp"):
        if pod_reason == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    if reason == "Running":  # the common case, without a call
        state = "ok" if ready >= total else "warn"
    else:
        state = state_of(reason, ready, total)
    if recent and state == "ok":
        state = "warn"
        message = message or recent
    if message:
        message = clean_line(message)
        if len(message) > MESSAGE_MAX:
            message = message[: MESSAGE_MAX - 1] + "…"
    # Positional: measurably cheaper than keywords at 10,000 rows. Order = PodRow's fields.
    return PodRow(meta.get("namespace", ""), meta.get("name", ""), track, reason, ready, total, restarts,
                  parse_time(meta.get("creationTimestamp")), spec.get("nodeName") or "", state,
                  st.get("podIP") or "", message)


def malformed_row(pod: dict, track: str | None, error: BaseException) -> PodRow:
    """The row of a pod too malformed for `pod_row` (a hostile or broken server): named, marked, never a crash."""
    meta = pod.get("metadata") if isinstance(pod, dict) and isinstance(pod.get("metadata"), dict) else {}
    name, ns = meta.get("name"), meta.get("namespace")
    created = meta.get("creationTimestamp")
    return PodRow(ns if isinstance(ns, str) else "", name if isinstance(name, str) else "?", track, "Malformed",
                  0, 0, 0, parse_time(created) if isinstance(created, str) else None, "", "fail", "",
                  clean_line(f"this pod's object is malformed ({type(error).__name__}: {error})")[:MESSAGE_MAX])


def _condition_true(status: dict, type_: str) -> bool:
    for c in status.get("conditions") or ():
        if c.get("type") == type_:
            return c.get("status") == "True"
    return False
