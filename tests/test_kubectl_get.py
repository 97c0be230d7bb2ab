"""The real kubectl reading from the demo cluster: get (tables, -o wide, -o yaml, -w), describe, --raw.

Objects come from kubectl_support.seed_objects (namespace "kt"), so the assertions do not depend on
a scenario's timing.
"""
from __future__ import annotations

import re
import time

import pytest
import yaml

from kubectl_support import (NS, Kubectl, cluster, deployment, has_simulation, header_of, kubectl, on_loop, row_named, state,  # noqa: F401
                             table_rows, wait_for_new_watch, watches_started)

pytestmark = pytest.mark.kubectl
# The state alone, no simulation: the simulated kubelet would adopt the seeded pods and move them on.
# (test_kubectl_observe.py watches a scenario as it plays.)
CLUSTER_KWARGS = {"simulate": False}


def test_version_and_discovery(kubectl: Kubectl):
    r = kubectl.run("version", namespace=None)
    assert "Server Version: v1.33" in r.out
    r = kubectl.run("api-resources", "--no-headers", namespace=None)
    names = {row[0] for row in table_rows(r.out)}
    assert {"pods", "services", "deployments", "replicasets", "endpointslices", "rollouts"} <= names


def test_get_pods_wide(kubectl: Kubectl):
    r = kubectl.run("get", "pods", "-o", "wide")
    assert header_of(r.out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
                                "READINESS GATES"]
    a = row_named(r.out, "shop-static-a")
    assert a[1:4] == ["1/1", "Running", "0"]
    assert a[5:] == ["10.244.1.11", "kt-node-1", "<none>", "<none>"]
    b = row_named(r.out, "shop-static-b")
    assert b[1:3] == ["0/1", "CrashLoopBackOff"]
    assert b[3].startswith("4 (") and b[3].endswith(" ago)")    # "4 (15s ago)"
    # without -o wide the priority-1 columns are hidden
    r = kubectl.run("get", "pods")
    assert header_of(r.out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]


def test_get_many_kinds(kubectl: Kubectl):
    r = kubectl.run("get", "events,svc,endpoints,endpointslices,deploy,rs,cm,secrets")
    out = r.out
    blocks = [b for b in out.strip().split("\n\n") if b.strip()]
    headers = {tuple(header_of(b)) for b in blocks}
    assert ("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE") in headers
    assert ("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE") in headers
    assert ("NAME", "ENDPOINTS", "AGE") in headers
    assert ("NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE") in headers
    assert ("NAME", "DATA", "AGE") in headers
    assert ("NAME", "TYPE", "DATA", "AGE") in headers
    ev = [row for row in table_rows(out) if "BackOff" in row]
    assert ev and ev[0][1:4] == ["Warning", "BackOff", "pod/shop-static-b"]
    assert ev[0][4] == "Back-off restarting failed container app in pod shop-static-b"
    assert row_named(out, "service/shop")[1:5] == ["ClusterIP", "10.96.40.10", "<none>", "80/TCP"]
    assert row_named(out, "endpoints/shop")[1] == "10.244.1.11:8080"
    assert row_named(out, "endpointslice.discovery.k8s.io/shop-x7k2p")[1:4] == ["IPv4", "8080",
                                                                                "10.244.1.11,10.244.1.12"]
    assert row_named(out, "configmap/shop-config")[1] == "2"
    assert row_named(out, "secret/shop-secret")[1:3] == ["Opaque", "1"]


def test_get_deployments_and_replicasets(cluster, kubectl: Kubectl):
    # (not `kubectl create deployment`: kubectl >= 1.32 sends that body as protobuf)
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(deployment("lister", image="shop:9")))
    r = kubectl.run("get", "deploy", "lister", "-o", "wide")
    assert header_of(r.out) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                                "SELECTOR"]
    row = row_named(r.out, "lister")
    assert row[1].endswith("/2") and row[5:] == ["app", "shop:9", "app=lister"]
    r = kubectl.run("get", "rs", "-l", "app=lister", "-o", "wide")
    if has_simulation(cluster):   # the simulated deployment controller made its ReplicaSet
        assert header_of(r.out) == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES",
                                    "SELECTOR"]
        rs = [row for row in table_rows(r.out)[1:] if row[0].startswith("lister-")]
        assert rs and rs[0][1] == "2" and rs[0][5:7] == ["app", "shop:9"]
    else:
        assert "No resources found" in r.err


def test_get_namespaces_and_crds(kubectl: Kubectl):
    r = kubectl.run("get", "ns", namespace=None)
    assert header_of(r.out) == ["NAME", "STATUS", "AGE"]
    assert row_named(r.out, "default")[1] == "Active"
    r = kubectl.run("get", "crd", namespace=None)
    assert header_of(r.out) == ["NAME", "CREATED AT"]
    assert row_named(r.out, "rollouts.argoproj.io")


def test_get_rollouts_columns(kubectl: Kubectl):
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "shop-ro"},
           "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "shop-ro"}},
                    "template": {"metadata": {"labels": {"app": "shop-ro"}},
                                 "spec": {"containers": [{"name": "app", "image": "shop:1"}]}},
                    "strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}}}
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(doc))
    r = kubectl.run("get", "rollouts")
    assert header_of(r.out) == ["NAME", "DESIRED", "CURRENT", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row_named(r.out, "shop-ro")[1] == "4"


def test_describe_pod(kubectl: Kubectl):
    r = kubectl.run("describe", "pod", "shop-static-b")
    out = r.out
    # (the top block's column width follows its longest label, "Service Account:" on a defaulted pod)
    assert re.search(r"^Name: +shop-static-b$", out, re.M)
    assert re.search(r"^Namespace: +kt$", out, re.M)
    assert re.search(r"^Service Account: +default$", out, re.M)
    assert re.search(r"^Node: +kt-node-1/172.18.0.9$", out, re.M)
    assert "Reason:       CrashLoopBackOff" in out
    assert "Restart Count:  4" in out
    assert re.search(r"^    Port: +8080/TCP$", out, re.M)
    assert "LOG_LEVEL:  <set to the key 'LOG_LEVEL' of config map 'shop-config'>" in out
    # events are found by involvedObject field selectors
    events = out.split("Events:", 1)[1]
    assert "BackOff" in events and "Back-off restarting failed container" in events, out


def test_get_configmap_yaml(kubectl: Kubectl):
    r = kubectl.run("get", "cm", "shop-config", "-o", "yaml")
    doc = yaml.safe_load(r.out)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "ConfigMap"
    assert doc["data"] == {"LOG_LEVEL": "info", "FEATURE_X": "on"}
    assert doc["metadata"]["name"] == "shop-config" and doc["metadata"]["namespace"] == NS
    assert int(doc["metadata"]["resourceVersion"]) > 0 and doc["metadata"]["uid"]
    r = kubectl.run("get", "cm", "no-such-cm", "-o", "yaml", check=False)
    assert r.rc != 0 and 'configmaps "no-such-cm" not found' in r.err


def test_get_pods_watch(cluster, kubectl: Kubectl):
    """`kubectl get pods -w`: the list first, then one line per change as it happens."""
    st = state(cluster)
    before = watches_started(cluster)
    with kubectl.stream("get", "pods", "-w", "--output-watch-events") as w:
        w.expect(r"^EVENT\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE", timeout=20)
        w.expect(r"^ADDED\s+shop-static-a\s+1/1\s+Running")
        wait_for_new_watch(cluster, before)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "watched", "namespace": NS},
               "spec": {"containers": [{"name": "app", "image": "shop:1"}]},
               "status": {"phase": "Pending", "containerStatuses": [
                   {"name": "app", "ready": False, "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}}}]}}
        on_loop(cluster, st.create, pod)
        w.expect(r"^ADDED\s+watched\s+0/1\s+ContainerCreating\s+0\s")

        def run(p):
            p["status"] = {"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}]}
        on_loop(cluster, st.mutate, "pods", NS, "watched", run)
        w.expect(r"^MODIFIED\s+watched\s+1/1\s+Running\s+0\s")
        on_loop(cluster, lambda: st.delete("pods", NS, "watched"))
        w.expect(r"^(DELETED|MODIFIED)\s+watched\s")
    # without --output-watch-events: the plain table lines kubectl users know
    with kubectl.stream("get", "pods", "-w") as w:
        w.expect(r"^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE", timeout=20)
        w.expect(r"^shop-static-b\s+0/1\s+CrashLoopBackOff")
        pod["metadata"]["name"] = "watched-2"
        on_loop(cluster, st.create, pod)
        w.expect(r"^watched-2\s+0/1\s+ContainerCreating")
        assert sum(1 for line in w.lines if line.startswith("NAME")) == 1   # one header


def test_get_single_pod_watch_sees_changes(cluster, kubectl: Kubectl):
    st = state(cluster)
    before = watches_started(cluster)
    with kubectl.stream("get", "pod", "shop-static-a", "-w") as w:
        w.expect(r"^shop-static-a\s+1/1\s+Running", timeout=20)
        wait_for_new_watch(cluster, before)

        def crash(p):
            p["status"]["containerStatuses"][0].update(
                ready=False, restartCount=1, state={"waiting": {"reason": "CrashLoopBackOff"}},
                lastState={"terminated": {"exitCode": 1, "reason": "Error",
                                          "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}})
        on_loop(cluster, st.mutate, "pods", NS, "shop-static-a", crash)
        line = w.expect(r"^shop-static-a\s+0/1\s+CrashLoopBackOff\s+1 \(\d+s ago\)")
        assert line


def test_get_raw_paths(kubectl: Kubectl):
    r = kubectl.run("get", "--raw", "/api/v1/namespaces/kt/configmaps/shop-config", namespace=None)
    assert '"LOG_LEVEL":"info"' in r.out.replace(" ", "")
    r = kubectl.run("get", "--raw", "/version", namespace=None)
    assert '"gitVersion"' in r.out
