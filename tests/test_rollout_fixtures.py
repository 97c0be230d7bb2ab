"""Hand-built API objects shaped like what a real API server returns, shared by the tests/test_rollout_* modules."""

from __future__ import annotations

import copy
import datetime as dt

NOW = 1_760_000_000.0  # a fixed "now" (2025-10-09T08:53:20Z)


def ts(seconds_ago: float) -> str:
    return dt.datetime.fromtimestamp(NOW - seconds_ago, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def running_cs(name: str = "app", ready: bool = True, restarts: int = 0, started_ago: float = 600,
               last: dict | None = None) -> dict:
    cs = {
        "name": name, "ready": ready, "restartCount": restarts, "started": True,
        "image": "registry.example.com/checkout:1.4.2", "imageID": "registry.example.com/checkout@sha256:abc",
        "containerID": "containerd://0123", "state": {"running": {"startedAt": ts(started_ago)}},
        "lastState": {},
    }
    if last:
        cs["lastState"] = {"terminated": last}
    return cs


def pod(name: str, *, ns: str = "demo", labels: dict | None = None, phase: str = "Running",
        containers: list[dict] | None = None, ready: bool | None = None, node: str = "node-1", ip: str = "10.1.0.5",
        created_ago: float = 900, conditions: list[dict] | None = None, **status_extra) -> dict:
    containers = containers if containers is not None else [running_cs()]
    if ready is None:
        ready = bool(containers) and all(c.get("ready") for c in containers)
    conds = conditions if conditions is not None else [
        {"type": "Initialized", "status": "True", "lastTransitionTime": ts(created_ago)},
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ts(60),
         **({} if ready else {"reason": "ContainersNotReady",
                              "message": "containers with unready status: [app]"})},
        {"type": "ContainersReady", "status": "True" if ready else "False", "lastTransitionTime": ts(60)},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": ts(created_ago)},
    ]
    status = {"phase": phase, "conditions": conds, "hostIP": "192.168.0.11", "podIP": ip, "startTime": ts(created_ago),
              "containerStatuses": containers, "qosClass": "Burstable"}
    status.update(status_extra)
    return {
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "resourceVersion": "1001",
                     "creationTimestamp": ts(created_ago), "labels": dict(labels or {"app": "checkout"}),
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name.rsplit("-", 1)[0],
                                          "uid": "rs-uid", "controller": True}]},
        "spec": {"nodeName": node, "containers": [{"name": c["name"], "image": c.get("image", "x")} for c in containers]
                 or [{"name": "app", "image": "x"}],
                 "restartPolicy": "Always"},
        "status": status,
    }


def crashloop_cs(name: str = "app", restarts: int = 5) -> dict:
    return {
        "name": name, "ready": False, "restartCount": restarts, "started": False,
        "image": "registry.example.com/checkout:1.5.0", "imageID": "", "containerID": "containerd://4567",
        "state": {"waiting": {"reason": "CrashLoopBackOff",
                              "message": "back-off 2m40s restarting failed container=app pod=checkout-canary-7f9c-x2p4q_demo(uid)"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": ts(75), "finishedAt": ts(70),
                                     "containerID": "containerd://4566"}},
    }


def config_error_cs(name: str = "app") -> dict:
    return {
        "name": name, "ready": False, "restartCount": 0, "started": False, "image": "registry.example.com/checkout:1.5.0",
        "imageID": "", "state": {"waiting": {"reason": "CreateContainerConfigError",
                                             "message": "couldn't find key DATABASE_URL in ConfigMap demo/checkout-config"}},
        "lastState": {},
    }


def image_pull_cs(name: str = "app") -> dict:
    return {
        "name": name, "ready": False, "restartCount": 0, "started": False, "image": "registry.example.com/checkout:1.5.O",
        "imageID": "", "state": {"waiting": {"reason": "ImagePullBackOff",
                                             "message": 'Back-off pulling image "registry.example.com/checkout:1.5.O"'}},
        "lastState": {},
    }


def oom_cs(name: str = "app", restarts: int = 3) -> dict:
    return running_cs(name, ready=True, restarts=restarts, started_ago=30, last={
        "exitCode": 137, "reason": "OOMKilled", "startedAt": ts(200), "finishedAt": ts(31)})


def unschedulable_pod(name: str, **kw) -> dict:
    p = pod(name, phase="Pending", containers=[], conditions=[{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": ts(120),
        "message": "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: "
                   "3 No preemption victims found for incoming pod."}], **kw)
    del p["status"]["containerStatuses"]
    del p["status"]["podIP"]
    p["spec"].pop("nodeName")
    return p


def evicted_pod(name: str, **kw) -> dict:
    p = pod(name, phase="Failed", containers=[{
        "name": "app", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
        "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown", "finishedAt": ts(300)}},
        "lastState": {}}], reason="Evicted",
        message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki.", **kw)
    return p


def canary_rollout(*, stable: str = "6b8f7c9d5", canary: str = "7f9c4d8b6", step: int = 1, weight: int | None = 20,
                   phase: str = "Paused", generation: int = 3, observed: int | str = 3) -> dict:
    status = {
        "phase": phase, "currentStepIndex": step, "stableRS": stable, "currentPodHash": canary,
        "replicas": 5, "updatedReplicas": 1, "readyReplicas": 5, "availableReplicas": 5,
        "observedGeneration": observed, "message": "CanaryPauseStep" if phase == "Paused" else "",
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": ts(30)}] if phase == "Paused" else None,
        "conditions": [{"type": "Progressing", "status": "True", "reason": "RolloutPaused", "message": "Rollout is paused"}],
    }
    if weight is not None:
        status["canary"] = {"weights": {"canary": {"podTemplateHash": canary, "weight": weight, "serviceName": "checkout-canary"},
                                        "stable": {"podTemplateHash": stable, "weight": 100 - weight}}}
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "checkout", "namespace": "demo", "uid": "ro-uid", "generation": generation},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {"metadata": {"labels": {"app": "checkout"}}, "spec": {"containers": [{"name": "app"}]}},
            "strategy": {"canary": {"stableService": "checkout-stable", "canaryService": "checkout-canary",
                                    "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 40}, {"pause": {"duration": "30s"}},
                                              {"setWeight": 60}, {"pause": {"duration": "30s"}}, {"setWeight": 80},
                                              {"pause": {"duration": "30s"}}]}},
        },
        "status": status,
    }


def bluegreen_rollout(*, active: str = "5d4c3b2a1", preview: str = "9e8d7c6b5") -> dict:
    return {
        "kind": "Rollout",
        "metadata": {"name": "payments", "namespace": "demo", "generation": 2},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "payments"}},
                 "strategy": {"blueGreen": {"activeService": "payments-active", "previewService": "payments-preview",
                                            "autoPromotionEnabled": False}}},
        "status": {"phase": "Paused", "observedGeneration": "2", "stableRS": active, "currentPodHash": preview,
                   "blueGreen": {"activeSelector": active, "previewSelector": preview},
                   "pauseConditions": [{"reason": "BlueGreenPause", "startTime": ts(10)}],
                   "replicas": 6, "updatedReplicas": 3, "readyReplicas": 6, "availableReplicas": 6},
    }


def deployment(name: str = "web", *, replicas: int = 3, updated: int = 3, available: int = 3, total: int | None = None,
               generation: int = 1, observed: int = 1, conditions: list | None = None, labels: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "namespace": "demo", "uid": f"dep-{name}", "generation": generation,
                     "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels or {"app": name}},
                 "strategy": {"type": "RollingUpdate"},
                 "template": {"metadata": {"labels": labels or {"app": name}}}},
        "status": {"observedGeneration": observed, "replicas": updated if total is None else total,
                   "updatedReplicas": updated, "readyReplicas": available, "availableReplicas": available,
                   "conditions": conditions or [
                       {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                       {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]},
    }


def event(name: str, *, reason: str, message: str, obj_kind: str = "Pod", obj_name: str = "x", type_: str = "Warning",
          ago: float = 10, count: int = 1, ns: str = "demo") -> dict:
    return {
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": ts(ago + 100)},
        "involvedObject": {"kind": obj_kind, "namespace": ns, "name": obj_name, "apiVersion": "v1"},
        "reason": reason, "message": message, "type": type_, "count": count,
        "firstTimestamp": ts(ago + 100), "lastTimestamp": ts(ago), "source": {"component": "kubelet", "host": "node-1"},
    }


def store_of(**kinds: list[dict]) -> dict:
    """{kind: {(ns, name): obj}} -- what Store.objects holds."""
    return {k: {((o.get("metadata") or {}).get("namespace", ""), o["metadata"]["name"]): copy.deepcopy(o) for o in objs}
            for k, objs in kinds.items()}


def test_fixture_timestamps_are_rfc3339():
    assert ts(0) == "2025-10-09T08:53:20Z"


def test_fixture_pod_is_ready_by_default():
    p = pod("a")
    assert p["status"]["containerStatuses"][0]["ready"] is True
    assert {c["type"]: c["status"] for c in p["status"]["conditions"]}["Ready"] == "True"
