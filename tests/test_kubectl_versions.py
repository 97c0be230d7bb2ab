"""Each kubectl the dispatcher knows (kubectl.1.27 ... kubectl.1.33) against a demo cluster reporting
that version: discovery, OpenAPI v2 (protobuf, which 1.27/1.28 still download to build their
validator) and v3, tables, apply (create then a strategic merge patch) and create -f."""
from __future__ import annotations

import json

import pytest
import yaml

from kubectl_support import (KUBECTL_VERSIONS, Kubectl, deployment, header_of, kubectl_binary, on_loop, row_named,
                             seed, start_cluster, state, versioned_kubectl)

pytestmark = pytest.mark.kubectl


@pytest.fixture(params=KUBECTL_VERSIONS, ids=[f"kubectl-{v}" for v in KUBECTL_VERSIONS])
def versioned(request, tmp_path):
    version = request.param
    binary = versioned_kubectl(version)
    c = start_cluster(server_version=version, simulate=False)
    try:
        seed(c)
        yield version, c, Kubectl(binary, c.kubeconfig_path, str(tmp_path / "home"))
    finally:
        c.stop()


def test_get_and_apply(versioned, tmp_path):
    version, cluster, kc = versioned
    info = json.loads(kc.run("version", "-o", "json", namespace=None).out)
    assert info["serverVersion"]["gitVersion"].startswith(f"v{version}.")
    assert info["clientVersion"]["minor"] == version.split(".")[1]
    # the dispatcher on PATH picks the binary matching the server's /version
    dispatched = Kubectl(kubectl_binary(), kc.kubeconfig, kc.home)
    info = json.loads(dispatched.run("version", "-o", "json", namespace=None).out)
    assert info["clientVersion"]["minor"].rstrip("+") == version.split(".")[1], info
    r = kc.run("get", "pods")
    assert header_of(r.out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row_named(r.out, "shop-static-a")[1:3] == ["1/1", "Running"]

    f = tmp_path / "d.yaml"
    doc = deployment("v" + version.replace(".", "-"), replicas=1, image="shop:1")
    f.write_text(yaml.safe_dump(doc))
    name = doc["metadata"]["name"]
    assert kc.run("apply", "-f", str(f)).out.strip() == f"deployment.apps/{name} created"
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = "shop:2"
    f.write_text(yaml.safe_dump(doc))
    assert kc.run("apply", "-f", str(f)).out.strip() == f"deployment.apps/{name} configured"
    stored = on_loop(cluster, state(cluster).get, "deployments", "kt", name)
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:2"

    cm = tmp_path / "cm.yaml"
    cm.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "versioned"},
                                  "data": {"v": version}}))
    assert kc.run("create", "-f", str(cm)).out.strip() == "configmap/versioned created"
