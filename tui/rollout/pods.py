"""Pod rows: what the pods pane shows of one pod, derived from the pod's plain dict."""

from __future__ import annotations

from dataclasses import dataclass

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
