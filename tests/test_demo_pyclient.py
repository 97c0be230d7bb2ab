"""The `kubernetes` Python client, unmodified, against the demo cluster through the kubeconfig it writes."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes import watch as kwatch
from kubernetes.client.rest import ApiException

from tui.demo.cluster import DemoClusterThread

NS = "demo"


def pod(name, labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "app:1"}]},
            "status": {"phase": "Running"}}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    kc = str(tmp_path_factory.mktemp("pyclient") / "kubeconfig")
    t = DemoClusterThread(simulate=False, kubeconfig_path=kc, bookmark_interval=0.3).start()

    def seed(state):
        state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        for i in range(12):
            state.create(pod(f"web-{i:02d}", {"app": "web", "track": "canary" if i < 3 else "stable"}))
        state.create(pod("db-0", {"app": "db"}))

    t.call(seed, t.cluster.state)
    yield t
    t.stop()


@pytest.fixture(scope="module")
def v1(demo):
    api = kconfig.new_client_from_config(config_file=demo.kubeconfig_path, context="lookout-demo")
    yield kclient.CoreV1Api(api)
    api.close()


def later(demo, delay, fn, *args):
    """Change the cluster from its own loop after `delay` seconds, while the test thread is blocked watching."""
    def run():
        time.sleep(delay)
        demo.call(fn, *args)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def test_list_with_selectors(v1):
    pods = v1.list_namespaced_pod(NS)
    assert len(pods.items) == 13 and int(pods.metadata.resource_version) > 0
    assert pods.items[0].spec.containers[0].image == "app:1"
    canary = v1.list_namespaced_pod(NS, label_selector="app=web,track=canary")
    assert [p.metadata.name for p in canary.items] == ["web-00", "web-01", "web-02"]
    notin = v1.list_pod_for_all_namespaces(label_selector="app notin (web)")
    assert [p.metadata.name for p in notin.items] == ["db-0"]
    one = v1.list_namespaced_pod(NS, field_selector="metadata.name=web-05")
    assert [p.metadata.name for p in one.items] == ["web-05"]
    assert v1.read_namespaced_pod("web-05", NS).metadata.labels["track"] == "stable"
    with pytest.raises(ApiException) as e:
        v1.list_namespaced_pod(NS, label_selector="app in (")
    assert e.value.status == 400
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod("missing", NS)
    assert e.value.status == 404


def test_limit_and_continue_paging(v1):
    names, token, pages = [], None, 0
    while True:
        kw = {"limit": 5} | ({"_continue": token} if token else {})
        page = v1.list_namespaced_pod(NS, **kw)
        pages += 1
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert pages == 3 and len(names) == 13 and len(set(names)) == 13


def test_watch_then_resume_from_resource_version(demo, v1):
    rv = v1.list_namespaced_pod(NS).metadata.resource_version
    th = later(demo, 0.2, lambda: (demo.cluster.state.create(pod("new-1", {"app": "web"})),
                                   demo.cluster.state.mutate("pods", NS, "new-1",
                                                             lambda o: o["status"].update(phase="Failed"))))
    w = kwatch.Watch()
    seen = []
    for ev in w.stream(v1.list_namespaced_pod, NS, resource_version=rv, timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version))
        if len(seen) == 2:
            w.stop()
    th.join()
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "new-1"), ("MODIFIED", "new-1")]
    # resume from the first event's resourceVersion: the second one is replayed
    w = kwatch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, NS, resource_version=seen[0][2], timeout_seconds=5):
        assert (ev["type"], ev["object"].metadata.resource_version) == ("MODIFIED", seen[1][2])
        w.stop()
    demo.call(demo.cluster.state.delete, "pods", NS, "new-1")


def test_watch_with_selector_sees_pods_leave_it(demo, v1):
    rv = v1.list_namespaced_pod(NS, label_selector="track=canary").metadata.resource_version
    th = later(demo, 0.2, demo.cluster.state.mutate, "pods", NS, "web-02",
               lambda o: o["metadata"]["labels"].update(track="stable"))
    w = kwatch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, NS, label_selector="track=canary", resource_version=rv,
                       timeout_seconds=5):
        assert (ev["type"], ev["object"].metadata.name) == ("DELETED", "web-02")
        w.stop()
    th.join()
    demo.call(demo.cluster.state.mutate, "pods", NS, "web-02", lambda o: o["metadata"]["labels"].update(track="canary"))


def test_too_old_resource_version_raises_410(demo, v1):
    old = v1.list_namespaced_pod(NS).metadata.resource_version
    demo.call(lambda: (demo.cluster.state.create(pod("bump", {"app": "x"})), demo.cluster.state.compact()))
    w = kwatch.Watch()
    with pytest.raises(ApiException) as e:
        for _ in w.stream(v1.list_namespaced_pod, NS, resource_version=old, timeout_seconds=5):
            pass
    assert e.value.status == 410
    demo.call(demo.cluster.state.delete, "pods", NS, "bump")


def test_bookmarks_move_the_resume_point(demo, v1):
    rv = v1.list_namespaced_pod(NS).metadata.resource_version
    w = kwatch.Watch()
    t0 = time.monotonic()
    for ev in w.stream(v1.list_namespaced_pod, NS, resource_version=rv, allow_watch_bookmarks=True,
                       timeout_seconds=5):
        assert ev["type"] == "BOOKMARK"
        assert ev["raw_object"]["metadata"]["resourceVersion"] == str(demo.cluster.state.resource_version)
        w.stop()
    assert time.monotonic() - t0 < 3
    assert w.resource_version == str(demo.cluster.state.resource_version)


def test_other_apis_through_the_client(demo):
    api = kconfig.new_client_from_config(config_file=demo.kubeconfig_path)
    try:
        apps = kclient.AppsV1Api(api)
        body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}
        made = apps.create_namespaced_deployment(NS, body)
        assert made.metadata.generation == 1
        patched = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 4}})
        assert patched.spec.replicas == 4
        d = apps.patch_namespaced_deployment("web", NS, {"spec": {"template": {"metadata": {
            "annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}})
        assert d.metadata.generation == 3
        apps.delete_namespaced_deployment("web", NS)
        with pytest.raises(ApiException) as e:
            apps.read_namespaced_deployment("web", NS)
        assert e.value.status == 404
        custom = kclient.CustomObjectsApi(api)
        ro = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "ro"},
              "spec": {"replicas": 1}}
        custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", NS, "rollouts", ro)
        got = custom.list_namespaced_custom_object("argoproj.io", "v1alpha1", NS, "rollouts")
        assert [o["metadata"]["name"] for o in got["items"]] == ["ro"]
        custom.patch_namespaced_custom_object_status("argoproj.io", "v1alpha1", NS, "rollouts", "ro",
                                                     {"status": {"phase": "Healthy"}})
        assert custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", NS, "rollouts", "ro")["status"] == \
            {"phase": "Healthy"}
        names = {c.metadata.name for c in kclient.ApiextensionsV1Api(api).list_custom_resource_definition().items}
        assert {"rollouts.argoproj.io", "analysisruns.argoproj.io"} <= names
        assert kclient.VersionApi(api).get_code().git_version.startswith("v1.33")
    finally:
        api.close()
