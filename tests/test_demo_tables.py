"""Server-side Table printing (tui/demo/tables.py) against what kube-apiserver prints."""
from __future__ import annotations

import pytest

from tui.demo import tables as t

NOW = 1_700_000_000.0


def ts(seconds_ago: float) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(NOW - seconds_ago, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("seconds,expected", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (182, "3m2s"),
    (599, "9m59s"), (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 60 * 5, "3h5m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (51 * 3600, "2d3h"), (8 * 86400, "8d"),
    (400 * 86400, "400d"), (2 * 365 * 86400, "2y"), (2 * 365 * 86400 + 3 * 86400, "2y3d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds, expected):
    assert t.human_duration(seconds) == expected


def test_wants_table():
    assert t.wants_table(t.TABLE_ACCEPT) == "v1"
    assert t.wants_table("application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json") == "v1beta1"
    assert t.wants_table("application/json") is None
    assert t.wants_table("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json") is None
    assert t.wants_table(None) is None


def pod(name="web-1", *, phase="Running", statuses=None, init=None, init_statuses=None, deleting=False, **kw):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": "demo", "creationTimestamp": ts(125), "resourceVersion": "7",
                      "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "app", "image": "web:1"}], "nodeName": "node-1"},
         "status": {"phase": phase, "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
                    "containerStatuses": statuses if statuses is not None else [
                        {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}]}}
    if init is not None:
        p["spec"]["initContainers"] = init
        p["status"]["initContainerStatuses"] = init_statuses or []
    if deleting:
        p["metadata"]["deletionTimestamp"] = ts(1)
    p["status"].update(kw)
    return p


def test_pod_columns_and_row():
    table = t.to_table("pods", [pod()], {"resourceVersion": "9"}, NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "9"}
    cols = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert cols == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1), ("Node", 1),
                    ("Nominated Node", 1), ("Readiness Gates", 1)]
    assert table["columnDefinitions"][0]["format"] == "name"
    row = table["rows"][0]
    assert row["cells"] == ["web-1", "1/1", "Running", "0", "2m5s", "10.0.0.5", "node-1", "<none>", "<none>"]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": pod()["metadata"]}


def test_pod_status_variants():
    crash = pod(statuses=[{"name": "app", "ready": False, "restartCount": 3,
                           "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                           "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ts(12)}}}])
    cells = t.to_table("pods", [crash], {}, NOW)["rows"][0]["cells"]
    assert cells[1:4] == ["0/1", "CrashLoopBackOff", "3 (12s ago)"]

    assert t.pod_status_reason(pod(deleting=True))[0] == "Terminating"
    assert t.pod_status_reason(pod(phase="Succeeded", deleting=True, statuses=[
        {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0,
                                                                                   "reason": "Completed"}}}]))[0] \
        == "Completed"
    assert t.pod_status_reason(pod(phase="Pending", statuses=[
        {"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
    ]))[0] == "ContainerCreating"
    oom = pod(statuses=[{"name": "app", "ready": False, "restartCount": 1,
                         "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}])
    assert t.pod_status_reason(oom)[0] == "OOMKilled"
    sig = pod(statuses=[{"name": "app", "ready": False, "restartCount": 0,
                         "state": {"terminated": {"exitCode": 0, "signal": 9}}}])
    assert t.pod_status_reason(sig)[0] == "Signal:9"
    # init containers: first one done, second running -> Init:1/2
    init = [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]
    p = pod(phase="Pending", init=init, init_statuses=[
        {"name": "a", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
        {"name": "b", "ready": False, "restartCount": 0, "state": {"running": {}}}],
        statuses=[{"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}])
    assert t.pod_status_reason(p)[0] == "Init:1/2"
    p2 = pod(phase="Pending", init=init[:1], init_statuses=[
        {"name": "a", "ready": False, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}])
    assert t.pod_status_reason(p2)[0] == "Init:CrashLoopBackOff"
    p3 = pod(phase="Pending", init=init[:1], init_statuses=[
        {"name": "a", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}])
    assert t.pod_status_reason(p3)[0] == "Init:ExitCode:2"
    # a sidecar (restartable init container) counts in READY
    side = pod(init=[{"name": "proxy", "image": "x", "restartPolicy": "Always"}], init_statuses=[
        {"name": "proxy", "ready": True, "started": True, "restartCount": 0, "state": {"running": {}}}])
    assert t.pod_status_reason(side)[1:3] == (2, 2)
    gated = pod(phase="Pending", statuses=[], conditions=[{"type": "PodScheduled", "status": "False",
                                                           "reason": "SchedulingGated"}])
    assert t.pod_status_reason(gated)[0] == "SchedulingGated"


def test_pod_row_conditions_and_include_object():
    done = pod(phase="Succeeded", statuses=[{"name": "app", "ready": False, "restartCount": 0,
                                             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}])
    row = t.to_table("pods", [done], {}, NOW, include_object="None")["rows"][0]
    assert row["conditions"][0]["type"] == "Completed"
    assert "object" not in row
    row = t.to_table("pods", [done], {}, NOW, include_object="Object")["rows"][0]
    assert row["object"]["kind"] == "Pod"


def test_events_table():
    ev = {"apiVersion": "v1", "kind": "Event",
          "metadata": {"name": "web-1.17a", "namespace": "demo", "creationTimestamp": ts(30)},
          "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
          "reason": "BackOff", "message": "Back-off restarting failed container  ", "type": "Warning",
          "firstTimestamp": ts(300), "lastTimestamp": ts(30), "count": 5,
          "source": {"component": "kubelet", "host": "node-1"}}
    table = t.to_table("events", [ev], {}, NOW)
    names = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert table["rows"][0]["cells"] == ["30s", "Warning", "BackOff", "pod/web-1", "spec.containers{app}",
                                         "kubelet, node-1", "Back-off restarting failed container", "5m", 5,
                                         "web-1.17a"]
    new_style = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"},
                 "eventTime": ts(4), "regarding": {"kind": "Deployment", "name": "web"}, "reason": "ScalingReplicaSet",
                 "note": "Scaled up", "type": "Normal", "reportingController": "deployment-controller"}
    cells = t.to_table("events", [new_style], {}, NOW)["rows"][0]["cells"]
    assert cells[:4] == ["4s", "Normal", "ScalingReplicaSet", "deployment/web"]
    assert cells[5] == "deployment-controller" and cells[8] == 1


def test_services_endpoints_slices():
    svc = {"metadata": {"name": "web", "creationTimestamp": ts(3600)},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                    "ports": [{"port": 80, "protocol": "TCP"}, {"port": 9090, "protocol": "TCP", "nodePort": 30090}],
                    "selector": {"tier": "fe", "app": "web"}}}
    table = t.to_table("services", [svc], {}, NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Cluster-IP", "External-IP",
                                                               "Port(s)", "Age", "Selector"]
    assert table["rows"][0]["cells"] == ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,9090:30090/TCP",
                                         "60m", "app=web,tier=fe"]
    lb = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.11"]}}
    assert t.to_table("services", [lb], {}, NOW)["rows"][0]["cells"][3:5] == ["<pending>", "<none>"]

    ep = {"metadata": {"name": "web", "creationTimestamp": ts(10)},
          "subsets": [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 6)], "ports": [{"port": 8080}]}]}
    assert t.to_table("endpoints", [ep], {}, NOW)["rows"][0]["cells"] == [
        "web", "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 2 more...", "10s"]
    assert t.format_endpoints({"subsets": []}) == "<none>"

    es = {"metadata": {"name": "web-abc", "creationTimestamp": ts(10)}, "addressType": "IPv4",
          "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
          "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]}
    table = t.to_table("endpointslices", [es], {}, NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    assert table["rows"][0]["cells"] == ["web-abc", "IPv4", "8080", "10.0.0.1,10.0.0.2", "10s"]
    empty = dict(es, endpoints=None, ports=None)
    assert t.to_table("endpointslices", [empty], {}, NOW)["rows"][0]["cells"][2:4] == ["<unset>", "<unset>"]


def test_workloads():
    dep = {"metadata": {"name": "web", "creationTimestamp": ts(90)},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                                                "matchExpressions": [{"key": "track", "operator": "In",
                                                                      "values": ["stable", "canary"]}]},
                    "template": {"spec": {"containers": [{"name": "app", "image": "web:2"},
                                                         {"name": "proxy", "image": "envoy:1"}]}}},
           "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    table = t.to_table("deployments", [dep], {}, NOW)
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0), ("Ready", 0), ("Up-to-date", 0), ("Available", 0), ("Age", 0), ("Containers", 1),
        ("Images", 1), ("Selector", 1)]
    assert table["rows"][0]["cells"] == ["web", "2/3", 3, 2, "90s", "app,proxy", "web:2,envoy:1",
                                         "app=web,track in (canary,stable)"]
    rs = {"metadata": {"name": "web-5d8f", "creationTimestamp": ts(90)},
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"spec": {"containers": [{"name": "app", "image": "web:2"}]}}},
          "status": {"replicas": 3, "readyReplicas": 1}}
    table = t.to_table("replicasets", [rs], {}, NOW)
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Desired", "Current", "Ready", "Age"]
    assert table["rows"][0]["cells"] == ["web-5d8f", 3, 3, 1, "90s", "app", "web:2", "app=web"]


def test_config_namespaces_nodes():
    cm = {"metadata": {"name": "cfg", "creationTimestamp": ts(5)}, "data": {"a": "1", "b": "2"},
          "binaryData": {"c": "AA=="}}
    assert t.to_table("configmaps", [cm], {}, NOW)["rows"][0]["cells"] == ["cfg", 3, "5s"]
    sec = {"metadata": {"name": "s", "creationTimestamp": ts(5)}, "type": "Opaque", "data": {"k": "dg=="}}
    table = t.to_table("secrets", [sec], {}, NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert table["rows"][0]["cells"] == ["s", "Opaque", 1, "5s"]
    ns = {"metadata": {"name": "demo", "creationTimestamp": ts(5)}, "status": {"phase": "Active"}}
    assert t.to_table("namespaces", [ns], {}, NOW)["rows"][0]["cells"] == ["demo", "Active", "5s"]
    node = {"metadata": {"name": "node-1", "creationTimestamp": ts(86400 * 3),
                         "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian"}}}
    cells = t.to_table("nodes", [node], {}, NOW)["rows"][0]["cells"]
    assert cells == ["node-1", "Ready,SchedulingDisabled", "control-plane,worker", "3d", "v1.33.1", "172.18.0.2",
                     "<none>", "Debian", "<unknown>", "<unknown>"]


def test_rollouts_and_generic():
    ro = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
          "metadata": {"name": "web", "creationTimestamp": ts(200)},
          "spec": {"replicas": 5}, "status": {"replicas": 6, "updatedReplicas": 1, "availableReplicas": 5}}
    table = t.to_table("rollouts", [ro], {}, NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Desired", "Current", "Up-to-date",
                                                               "Available", "Age"]
    assert table["rows"][0]["cells"] == ["web", 5, 6, 1, 5, "3m20s"]
    fresh = dict(ro, status={})
    assert t.to_table("argoproj.io/rollouts", [fresh], {}, NOW)["rows"][0]["cells"][2:5] == [None, None, None]
    ar = {"metadata": {"name": "web-1-2", "creationTimestamp": ts(20)}, "status": {"phase": "Running"}}
    assert t.to_table("analysisruns", [ar], {}, NOW)["rows"][0]["cells"] == ["web-1-2", "Running", "20s"]
    other = {"metadata": {"name": "x", "creationTimestamp": ts(20)}}
    table = t.to_table("widgets", [other], {}, NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"] == ["x", "20s"]


def test_watch_event_frames():
    first = t.to_table_row_event("pods", "ADDED", pod(), NOW, include_headers=True)
    assert first["type"] == "ADDED"
    assert first["object"]["kind"] == "Table" and len(first["object"]["rows"]) == 1
    assert first["object"]["columnDefinitions"]
    assert first["object"]["metadata"] == {"resourceVersion": "7"}
    later = t.to_table_row_event("pods", "MODIFIED", pod(), NOW)
    assert later["object"]["columnDefinitions"] == []
    assert later["object"]["rows"][0]["cells"][0] == "web-1"
