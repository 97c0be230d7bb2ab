"""The real kubectl writing to the demo cluster: apply, create, patch (3 kinds), scale, delete, rollout status.

Every write is checked twice: kubectl's own output, then the stored object in the cluster's state.
"""
from __future__ import annotations

import threading
import time

import pytest
import yaml

from kubectl_support import (NS, Kubectl, cluster, deployment, has_simulation, kubectl, on_loop,  # noqa: F401
                             state)

pytestmark = pytest.mark.kubectl
CLUSTER_KWARGS = {"speed": 10.0}   # pods start in ~0.3 s of wall time: rollout status returns quickly


def stored(cluster, res: str, name: str, ns: str = NS) -> dict | None:
    return on_loop(cluster, state(cluster).get, res, ns, name)


def test_create_f_and_already_exists(cluster, kubectl: Kubectl, tmp_path):
    f = tmp_path / "cm.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "created-cm"},
                                 "data": {"k": "v"}}))
    r = kubectl.run("create", "-f", str(f))
    assert r.out.strip() == "configmap/created-cm created"
    assert stored(cluster, "configmaps", "created-cm")["data"] == {"k": "v"}
    r = kubectl.run("create", "-f", str(f), check=False)
    assert r.rc != 0 and 'configmaps "created-cm" already exists' in r.err


def test_create_f_multi_document_and_dry_run(cluster, kubectl: Kubectl, tmp_path):
    f = tmp_path / "multi.yaml"
    f.write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "multi-svc"},
         "spec": {"selector": {"app": "multi"}, "ports": [{"port": 80, "targetPort": "http"}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "multi-secret"},
         "stringData": {"token": "abc"}},
    ]))
    r = kubectl.run("create", "-f", str(f), "--dry-run=server")
    assert "service/multi-svc created (server dry run)" in r.out
    assert stored(cluster, "services", "multi-svc") is None
    r = kubectl.run("create", "-f", str(f))
    assert "service/multi-svc created" in r.out and "secret/multi-secret created" in r.out
    assert stored(cluster, "services", "multi-svc")["spec"]["ports"][0]["targetPort"] == "http"


def test_apply_create_then_configure(cluster, kubectl: Kubectl, tmp_path):
    f = tmp_path / "deploy.yaml"
    doc = deployment("applied", replicas=2, image="shop:1.0")
    doc["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"},
                                                               {"name": "B", "value": "2"}]
    f.write_text(yaml.safe_dump(doc))
    r = kubectl.run("apply", "-f", str(f))
    assert r.out.strip() == "deployment.apps/applied created"
    obj = stored(cluster, "deployments", "applied")
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    r = kubectl.run("apply", "-f", str(f))
    assert r.out.strip() == "deployment.apps/applied unchanged"
    # change the image and drop env B: a strategic merge patch computed from OpenAPI merge keys
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = "shop:1.1"
    doc["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    f.write_text(yaml.safe_dump(doc))
    r = kubectl.run("apply", "-f", str(f))
    assert r.out.strip() == "deployment.apps/applied configured"
    c = stored(cluster, "deployments", "applied")["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "shop:1.1"
    assert c["env"] == [{"name": "A", "value": "1"}]
    assert c["ports"] == [{"containerPort": 8080}] or c["ports"][0]["containerPort"] == 8080
    r = kubectl.run("diff", "-f", str(f), check=False)
    assert r.rc in (0, 1), r   # 0: no differences (1 would mean the simulation changed something kubectl owns)


def test_apply_custom_resource(cluster, kubectl: Kubectl, tmp_path):
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "applied-ro"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "applied-ro"}},
                    "template": {"metadata": {"labels": {"app": "applied-ro"}},
                                 "spec": {"containers": [{"name": "app", "image": "shop:1"}]}},
                    "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {"duration": "30s"}}]}}}}
    f = tmp_path / "ro.yaml"
    f.write_text(yaml.safe_dump(doc))
    assert kubectl.run("apply", "-f", str(f)).out.strip() == "rollout.argoproj.io/applied-ro created"
    doc["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = 25
    f.write_text(yaml.safe_dump(doc))
    assert kubectl.run("apply", "-f", str(f)).out.strip() == "rollout.argoproj.io/applied-ro configured"
    assert stored(cluster, "rollouts", "applied-ro")["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] == 25


def test_apply_rejects_unknown_field(cluster, kubectl: Kubectl, tmp_path):
    """kubectl validates (fieldValidation=Strict, because the OpenAPI v3 PATCH operation declares it):
    a typo in a field name is an error, not silently dropped."""
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typo-cm"}, "data": {"a": "b"},
           "dataa": {"c": "d"}}
    f = tmp_path / "typo.yaml"
    f.write_text(yaml.safe_dump(doc))
    r = kubectl.run("apply", "-f", str(f), check=False)
    assert r.rc != 0, r
    assert 'unknown field "dataa"' in r.err
    assert stored(cluster, "configmaps", "typo-cm") is None


def test_create_fills_defaults_like_kube_apiserver(cluster, kubectl: Kubectl, tmp_path):
    """A Service gets a cluster IP (kept on replace), ports get TCP, a pod its spec defaults."""
    f = tmp_path / "bare.yaml"
    f.write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bare-svc"},
         "spec": {"selector": {"app": "bare"}, "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare-pod", "labels": {"app": "bare"}},
         "spec": {"containers": [{"name": "app", "image": "shop:latest", "ports": [{"containerPort": 8080}]}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bare-deploy"},
         "spec": {"selector": {"matchLabels": {"app": "bare-d"}},
                  "template": {"metadata": {"labels": {"app": "bare-d"}},
                               "spec": {"containers": [{"name": "app", "image": "shop:1.0"}]}}}},
    ]))
    kubectl.run("apply", "-f", str(f))
    row = kubectl.run("get", "svc", "bare-svc", "--no-headers").out.split()
    assert row[1] == "ClusterIP" and row[2].startswith("10.") and row[3:5] == ["<none>", "80/TCP"], row
    svc = stored(cluster, "services", "bare-svc")["spec"]
    ip = svc["clusterIP"]
    assert svc["clusterIPs"] == [ip] and svc["ipFamilies"] == ["IPv4"] and svc["ipFamilyPolicy"] == "SingleStack"
    assert svc["sessionAffinity"] == "None" and svc["internalTrafficPolicy"] == "Cluster"
    assert svc["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert "8080/TCP" in kubectl.run("describe", "pod", "bare-pod").out
    pod = stored(cluster, "pods", "bare-pod")["spec"]
    assert (pod["restartPolicy"], pod["dnsPolicy"], pod["schedulerName"], pod["terminationGracePeriodSeconds"],
            pod["securityContext"]) == ("Always", "ClusterFirst", "default-scheduler", 30, {})
    c = pod["containers"][0]
    assert (c["imagePullPolicy"], c["terminationMessagePath"], c["terminationMessagePolicy"]) == (
        "Always", "/dev/termination-log", "File")
    d = stored(cluster, "deployments", "bare-deploy")["spec"]
    assert d["replicas"] == 1 and d["revisionHistoryLimit"] == 10 and d["progressDeadlineSeconds"] == 600
    assert d["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert d["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    # applying the same manifest again changes nothing; a replace without clusterIP keeps the address
    assert kubectl.run("apply", "-f", str(f)).out.count("unchanged") == 3
    kubectl.run("replace", "-f", str(f))
    assert stored(cluster, "services", "bare-svc")["spec"]["clusterIP"] == ip


def test_patch_merge_strategic_json(cluster, kubectl: Kubectl, tmp_path):
    f = tmp_path / "d.yaml"
    doc = deployment("patched", replicas=1)
    doc["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1"})
    f.write_text(yaml.safe_dump(doc))
    kubectl.run("apply", "-f", str(f))

    r = kubectl.run("patch", "deployment", "patched", "--type=merge",
                    "-p", '{"metadata":{"labels":{"patched-by":"merge"}}}')
    assert r.out.strip() == "deployment.apps/patched patched"
    assert stored(cluster, "deployments", "patched")["metadata"]["labels"]["patched-by"] == "merge"

    # strategic (kubectl's default): containers merge by name, the sidecar stays
    r = kubectl.run("patch", "deployment", "patched",
                    "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"shop:2"}]}}}}')
    assert r.out.strip() == "deployment.apps/patched patched"
    cs = stored(cluster, "deployments", "patched")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in cs] == [("app", "shop:2"), ("sidecar", "envoy:1")]

    r = kubectl.run("patch", "deployment", "patched", "--type=json",
                    "-p", '[{"op":"remove","path":"/spec/template/spec/containers/1"},'
                          '{"op":"replace","path":"/spec/replicas","value":3}]')
    assert r.out.strip() == "deployment.apps/patched patched"
    obj = stored(cluster, "deployments", "patched")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["app"]
    assert obj["spec"]["replicas"] == 3

    r = kubectl.run("patch", "deployment", "patched", "--type=merge", "-p", '{"spec":{"replicas":3}}')
    assert r.out.strip() == "deployment.apps/patched patched (no change)"
    r = kubectl.run("patch", "deployment", "patched", "--type=json",
                    "-p", '[{"op":"test","path":"/spec/replicas","value":99}]', check=False)
    assert r.rc != 0
    r = kubectl.run("patch", "configmap", "shop-config", "--type=merge", "-p", '{"data":{"NEW":"1"}}')
    assert stored(cluster, "configmaps", "shop-config")["data"]["NEW"] == "1"


def test_scale(cluster, kubectl: Kubectl):
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(deployment("scaled", replicas=1)))
    r = kubectl.run("scale", "deployment/scaled", "--replicas=3")
    assert r.out.strip() == "deployment.apps/scaled scaled"
    assert stored(cluster, "deployments", "scaled")["spec"]["replicas"] == 3
    r = kubectl.run("scale", "deployment", "scaled", "--replicas=2", "--current-replicas=3")
    assert stored(cluster, "deployments", "scaled")["spec"]["replicas"] == 2
    r = kubectl.run("scale", "deployment", "scaled", "--replicas=5", "--current-replicas=4", check=False)
    assert r.rc != 0 and "expected" in r.err.lower()
    if has_simulation(cluster):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pods = on_loop(cluster, state(cluster).list, "pods", NS, "app=scaled")[0]
            if len([p for p in pods if not p["metadata"].get("deletionTimestamp")]) == 2:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the simulated controllers did not converge on 2 pods")


def test_delete(cluster, kubectl: Kubectl):
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "doomed"}, "data": {}}))
    r = kubectl.run("delete", "configmap", "doomed")
    assert r.out.strip() == 'configmap "doomed" deleted' or r.out.strip().startswith('configmap "doomed" deleted')
    assert stored(cluster, "configmaps", "doomed") is None
    r = kubectl.run("delete", "configmap", "doomed", check=False)
    assert r.rc != 0 and 'configmaps "doomed" not found' in r.err
    r = kubectl.run("delete", "configmap", "doomed", "--ignore-not-found")
    assert r.rc == 0
    # a label-selected delete of several objects
    for i in range(3):
        kubectl.run("apply", "-f", "-", input=yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"batch-{i}", "labels": {"batch": "x"}}}))
    r = kubectl.run("delete", "cm", "-l", "batch=x")
    assert r.out.count("deleted") == 3
    assert on_loop(cluster, state(cluster).list, "configmaps", NS, "batch=x")[0] == []


def test_delete_pod_is_recreated_by_its_replicaset(cluster, kubectl: Kubectl):
    if not has_simulation(cluster):
        pytest.skip("needs the simulated controllers")
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(deployment("recreated", replicas=1)))
    kubectl.run("rollout", "status", "deployment/recreated", "--timeout=30s")
    pods = on_loop(cluster, state(cluster).list, "pods", NS, "app=recreated")[0]
    victim = pods[0]["metadata"]["name"]
    kubectl.run("delete", "pod", victim, "--wait=false")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        names = {p["metadata"]["name"] for p in on_loop(cluster, state(cluster).list, "pods", NS, "app=recreated")[0]}
        if names - {victim}:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no replacement pod")


def _finish_rollout(cluster, name: str, delay: float) -> threading.Thread:
    """Without the simulation: play the deployment controller's part for `kubectl rollout status`."""
    def run():
        time.sleep(delay)

        def ready(d):
            n = d["spec"].get("replicas", 1)
            d["status"] = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": n,
                           "updatedReplicas": n, "readyReplicas": n, "availableReplicas": n,
                           "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                                          {"type": "Progressing", "status": "True",
                                           "reason": "NewReplicaSetAvailable"}]}
        on_loop(cluster, state(cluster).mutate, "deployments", NS, name, ready)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_rollout_status(cluster, kubectl: Kubectl):
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(deployment("rolled", replicas=2)))
    if not has_simulation(cluster):
        _finish_rollout(cluster, "rolled", 1.0)
    r = kubectl.run("rollout", "status", "deployment/rolled", "--timeout=40s", timeout=60)
    assert 'deployment "rolled" successfully rolled out' in r.out
    # a new template: kubectl waits for the new pods, then says so again
    kubectl.run("set", "image", "deployment/rolled", "app=shop:9.9")
    if not has_simulation(cluster):
        _finish_rollout(cluster, "rolled", 1.0)
    r = kubectl.run("rollout", "status", "deployment/rolled", "--timeout=40s", timeout=60)
    assert 'deployment "rolled" successfully rolled out' in r.out
    r = kubectl.run("rollout", "status", "deployment/no-such", "--timeout=5s", check=False)
    assert r.rc != 0 and "not found" in r.err


def test_rollout_restart(cluster, kubectl: Kubectl):
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(deployment("restarted", replicas=1)))
    r = kubectl.run("rollout", "restart", "deployment/restarted")
    assert r.out.strip() == "deployment.apps/restarted restarted"
    ann = stored(cluster, "deployments", "restarted")["spec"]["template"]["metadata"].get("annotations") or {}
    assert "kubectl.kubernetes.io/restartedAt" in ann
