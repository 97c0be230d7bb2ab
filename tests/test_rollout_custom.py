"""In-house rollout CRDs followed through a config mapping (tui.rollout.custom): a made-up CRD created in the demo
cluster with kubectl drives the strip and the assessment with no code of its own; the two Veritas mappings of seed
001 shipped in examples/veritas-crds.toml follow VeritasCanary and VeritasEnvironment as their status is patched
with `kubectl patch --subresource=status`, as their controller would."""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import pytest
import yaml

from kubectl_support import Kubectl, kubectl_binary, start_cluster
from tui.config import load_config
from tui.demo.custom import veritas_crds
from tui.rollout.custom import JsonPathTemplate, PathError, guess_plural
from widgets.progress import RolloutStrip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "veritas-crds.toml")
NS = "ship"

# ---- a made-up CRD: nothing in Lookout knows "Shipment" ---------------------------------------------------

SHIPMENT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "shipments.deploy.example.test"},
    "spec": {"group": "deploy.example.test", "scope": "Namespaced",
             "names": {"kind": "Shipment", "plural": "shipments", "singular": "shipment", "listKind": "ShipmentList"},
             "versions": [{"name": "v2", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                               "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}

SHIPMENT_MAPPING = """
[findings]
raise_after = 0

[crds.shipment]
api_version = "deploy.example.test/v2"
kind = "Shipment"
controller = "Shipper"
selector = "app={.spec.app}"
phase = "{.status.state}"
weight = "{.status.traffic.new}"
desired_weight = "{.spec.targets[?(@.lane==\\"new\\")].percent}"
step = "{.status.stage}"
step_count = "{.status.stages}"
step_base = 1
conditions = "{.status.conditions}"

[crds.shipment.phases]
Rolling = "progressing"
Holding = "paused"
Done = "healthy"
Broken = "degraded"
Reverted = "aborted"

[crds.shipment.tracks]
stable = "lane=old"
canary = "lane=new"
"""


def _pod(name: str, app: str, labels: dict, image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app, **labels}},
            "spec": {"containers": [{"name": "app", "image": image}]}}


def _ready(k: Kubectl, pod: str) -> None:
    k.run("patch", "pod", pod, "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "image": "x",
                                           "imageID": "", "state": {"running": {}}}]}}))


def _status(k: Kubectl, res: str, name: str, status: dict) -> None:
    k.run("patch", res, name, "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}))


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    kubectl_binary()
    c = start_cluster(simulate=False)
    home = tmp_path_factory.mktemp("home")
    k = Kubectl(kubectl_binary(), c.kubeconfig_path, str(home), namespace=NS)
    k.run("create", "namespace", NS, namespace=None)
    try:
        yield c, k, home
    finally:
        c.stop()


def _apply(k: Kubectl, docs: list[dict]) -> None:
    k.run("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def _assess(cluster, config: str, app: str):
    """The session's one assessment after its first lists, as `lookout status` takes it."""
    from tui.kube.config import load_target
    from tui.session import Session, resolve_rollout

    settings = load_config(config)

    async def run():
        target = load_target(cluster.kubeconfig_path, None, NS)
        choice = await resolve_rollout(target, app_name=app, selector=None, all_namespaces=False, crds=settings.crds)
        s = Session(target, choice, settings, read_only=True, debounce=False)
        s.poll_metrics = s.probe_link = False
        await s.start()
        try:
            assert await s.wait_synced(15)
            s.rebuild_resolver()
            return choice, s.assess(), [s.resolver.track_of(p, "pods") for p in s.store.list("pods")]
        finally:
            await s.stop()

    return asyncio.run(run())


# ---- JSONPath templates --------------------------------------------------------------------------------------


def test_kubectl_jsonpath_templates_are_read_as_kubectl_reads_them():
    obj = {"metadata": {"name": "cart"}, "status": {"state": "Rolling", "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "Analysis", "status": "False", "message": "5xx 7%"}]}}
    assert JsonPathTemplate.parse("{.status.state}").text(obj) == "Rolling"
    assert JsonPathTemplate.parse("app={.metadata.name}").text(obj) == "app=cart"
    assert JsonPathTemplate.parse('{.status.conditions[?(@.type=="Analysis")].message}').text(obj) == "5xx 7%"
    assert JsonPathTemplate.parse("{.status.conditions[*].type}").text(obj) == "Ready Analysis"  # space-joined
    assert JsonPathTemplate.parse("{$.status.state}").text(obj) == "Rolling"
    assert JsonPathTemplate.parse("{.status.missing}").text(obj) is None
    for bad, says in (("status.state", "expected a kubectl JSONPath template"),
                      ("{status.state}", "expected a path starting with '.'"),
                      ("{range .items[*]}{.x}{end}", "range/end loops are not supported"),
                      ("{.status[}", "is not a JSONPath expression")):
        with pytest.raises(PathError, match=r"(?s).*" + __import__("re").escape(says)):
            JsonPathTemplate.parse(bad)
    assert [guess_plural(k) for k in ("Shipment", "VeritasCanary", "Gateway", "Ingress")] == \
        ["shipments", "veritascanaries", "gateways", "ingresses"]


def test_a_wrong_mapping_is_skipped_with_file_and_line_and_the_rest_loads(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text('[findings]\nraise_after = 2\n\n[crds.good]\napi_version = "a.example/v1"\nkind = "Good"\n'
                 'phase = "{.status.phase}"\n[crds.good.phases]\nOk = "healthy"\n\n'
                 '[crds.bad]\napi_version = "b.example/v1"\nkind = "Bad"\nphase = "{.status[}"\n'
                 '[crds.bad.phases]\nOk = "healthy"\n\n'
                 '[crds.worse]\napi_version = "c.example/v1"\nkind = "Worse"\nphase = "{.status.phase}"\n'
                 '[crds.worse.phases]\nOk = "fine"\n')
    s = load_config(str(p))
    assert s.findings.raise_after == 2 and [ck.kind for ck in s.crds] == ["Good"]
    assert len(s.warnings) == 2, s.warnings
    assert s.warnings[0].startswith(f"{p}:14: crds.bad.phase: {{.status[}} in '{{.status[}}' is not a JSONPath")
    assert s.warnings[0].endswith("; this mapping is skipped")
    assert s.warnings[1].startswith(f"{p}:23: crds.worse.phases.Ok: expected healthy, progressing, paused, "
                                    f"degraded or aborted, got 'fine'")
    # the shipped examples load clean
    ex = load_config(EXAMPLE)
    assert ex.warnings == () and [ck.kind for ck in ex.crds] == ["VeritasCanary", "VeritasEnvironment"]


def test_a_mapping_missing_its_phase_says_what_it_needs(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text('[crds.x]\napi_version = "x.example/v1"\nkind = "X"\n[crds.x.phases]\nOk = "healthy"\n')
    (w,) = load_config(str(p)).warnings
    assert w.startswith(f"{p}:1: crds.x: [crds.x] needs 'phase' (a path such as \"{{.status.phase}}\")"), w


def test_must_hold_is_a_list_of_condition_types_and_needs_the_conditions_path(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text('[crds.x]\napi_version = "x.example/v1"\nkind = "X"\nphase = "{.status.phase}"\n'
                 'must_hold = "Ready"\n[crds.x.phases]\nOk = "healthy"\n\n'
                 '[crds.y]\napi_version = "y.example/v1"\nkind = "Y"\nphase = "{.status.phase}"\n'
                 'must_hold = ["Ready"]\n[crds.y.phases]\nOk = "healthy"\n')
    s = load_config(str(p))
    assert s.crds == () or list(s.crds) == []
    assert s.warnings[0].startswith(f"{p}:5: crds.x.must_hold: expected a list of condition types"), s.warnings
    assert "crds.y.must_hold: must_hold names condition types: it needs the `conditions` path" in s.warnings[1]


# ---- the made-up CRD on the demo cluster ---------------------------------------------------------------------


def test_made_up_crd_drives_the_strip_and_the_verdict_with_no_code(bare, tmp_path):
    cluster, k, _ = bare
    config = tmp_path / "config.toml"
    config.write_text(SHIPMENT_MAPPING)
    _apply(k, [SHIPMENT_CRD])
    _apply(k, [{"apiVersion": "deploy.example.test/v2", "kind": "Shipment", "metadata": {"name": "cart-release"},
                "spec": {"app": "cart", "targets": [{"lane": "old", "percent": 75}, {"lane": "new", "percent": 25}]}},
               _pod("cart-old-1", "cart", {"lane": "old"}, "shop/cart:1.0"),
               _pod("cart-new-1", "cart", {"lane": "new"}, "shop/cart:1.1")])
    for pod in ("cart-old-1", "cart-new-1"):
        _ready(k, pod)
    _status(k, "shipments", "cart-release", {"state": "Rolling", "stage": 2, "stages": 4, "traffic": {"new": 10},
                                             "conditions": [{"type": "Progressing", "status": "True"}]})

    choice, a, tracks = _assess(cluster, str(config), "shipment/cart-release")
    assert (choice.target.kind, choice.target.selector) == ("Shipment", "app=cart")
    assert sorted(tracks) == ["canary", "stable"]
    p = a.progress
    assert (p.controller, p.phase, p.health, p.symbol) == ("Shipper", "Rolling", "progressing", "…")
    assert (p.step_text, p.actual_weight, p.desired_weight) == ("2/4", 10, 25)
    assert {r.role: r.images for r in p.revisions} == {"canary": ("shop/cart:1.1",), "stable": ("shop/cart:1.0",)}
    assert a.outcome.state == "progressing" and a.cell("rollout").level == "healthy"
    compact = RolloutStrip.render_compact(p).plain
    assert compact.startswith("… Rolling · step 2/4 · weight 10% (desired 25%) · 2/2 pods ready"), compact
    full = RolloutStrip.render_full(p).plain.split("\n")
    assert full[0].startswith("Shipper canary · … Rolling · step 2/4"), full
    assert any(line.startswith("track canary") and "shop/cart:1.1" in line for line in full), full
    assert "condition Progressing=True" in full

    # its controller gives up: "Reverted" is mapped to aborted -> the same rollback as an aborted Argo Rollout
    _status(k, "shipments", "cart-release", {"state": "Reverted", "traffic": {"new": 0}, "conditions": [
        {"type": "Progressing", "status": "False", "reason": "ChecksFailed", "message": "p99 480ms > 300ms"}]})
    _, a, _ = _assess(cluster, str(config), "cart-release")  # the bare name finds it too
    assert a.outcome.state == "aborted" and a.outcome.message == "Progressing=False ChecksFailed: p99 480ms > 300ms"
    assert a.verdict.decision == "rollback" and a.verdict.reasons[0].code == "rollout-aborted"
    assert "the rollout aborted" in a.verdict.reasons[0].text and "shipper: Progressing=False" in a.verdict.reasons[0].text
    assert a.cell("rollout").level == "critical" and a.exit_code == 1
    compact = RolloutStrip.render_compact(a.progress).plain
    # a merge patch keeps the stage: the strip says where it stopped, then why
    assert compact.startswith("✗ Reverted · step 2/4 · weight 0% (desired 25%) · Progressing=False ChecksFailed: "
                              "p99 480ms > 300ms · 2/2 pods ready"), compact

    # a phase the mapping does not know: unknown, and the strip says which table lacks it
    _status(k, "shipments", "cart-release", {"state": "Exploded", "conditions": []})
    _, a, _ = _assess(cluster, str(config), "shipment/cart-release")
    assert a.outcome.state == "unknown" and "phase 'Exploded' is not in [crds.shipment.phases]" in a.outcome.message
    assert a.cell("rollout").level == "unknown"


def test_unknown_kind_in_kind_slash_name_is_one_sentence(bare, tmp_path):
    from tui.launch import LaunchError

    cluster, k, _ = bare
    config = tmp_path / "config.toml"
    config.write_text(SHIPMENT_MAPPING)
    with pytest.raises(LaunchError, match=r"no kind 'parcel' is known: expected rollout/NAME, deployment/NAME or a "
                                          r"kind mapped in the config file's \[crds\] tables"):
        _assess(cluster, str(config), "parcel/cart-release")
    # a mapped kind with no such object: named as what it is, not as a missing label
    with pytest.raises(LaunchError, match=r"^no Shipment named 'nope' in namespace ship$"):
        _assess(cluster, str(config), "shipments/nope")


# ---- the two 001 mappings (examples/veritas-crds.toml) -------------------------------------------------------


def test_veritas_canary_and_environment_follow_their_status(bare):
    cluster, k, _ = bare
    _apply(k, veritas_crds())
    _apply(k, [{"apiVersion": "veritas.hearthlink.ai/v1", "kind": "VeritasCanary",
                "metadata": {"name": "veritas-spark"},
                "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "veritas-spark-canary"},
                         "trafficWeight": 20, "analysis": {"interval": "1m", "threshold": 3}}},
               _pod("veritas-spark-stable-1", "veritas-spark", {"deployment": "stable"}, "hearthlink/spark:0.6.0"),
               _pod("veritas-spark-canary-1", "veritas-spark", {"deployment": "canary"}, "hearthlink/spark:0.6.1"),
               {"apiVersion": "veritas.hearthlink.ai/v1", "kind": "VeritasEnvironment", "metadata": {"name": "gateway"},
                "spec": {"active": "green"}},
               _pod("gateway-blue-1", "gateway", {"environment": "blue"}, "hearthlink/gateway:2.0"),
               _pod("gateway-green-1", "gateway", {"environment": "green"}, "hearthlink/gateway:2.1")])
    for pod in ("veritas-spark-stable-1", "veritas-spark-canary-1", "gateway-blue-1", "gateway-green-1"):
        _ready(k, pod)

    _status(k, "veritascanaries", "veritas-spark", {"phase": "Progressing", "canaryWeight": 20, "conditions": [
        {"type": "AnalysisPassing", "status": "True", "reason": "ChecksPassed"}]})
    choice, a, tracks = _assess(cluster, EXAMPLE, "veritas-spark")
    assert choice.target.kind == "VeritasCanary" and sorted(tracks) == ["canary", "stable"]
    assert (a.progress.controller, a.progress.phase, a.progress.actual_weight) == ("Veritas", "Progressing", 20)
    assert a.outcome.state == "progressing"

    _status(k, "veritascanaries", "veritas-spark", {"phase": "Paused"})
    _, a, _ = _assess(cluster, EXAMPLE, "vcanary/veritas-spark".replace("vcanary", "veritascanary"))
    assert a.outcome.state == "paused" and any(f.code == "rollout-paused" and f.severity == "warning"
                                               for f in a.findings)  # spec.paused: by hand

    _status(k, "veritascanaries", "veritas-spark", {"phase": "RollingBack", "canaryWeight": 0, "conditions": [
        {"type": "AnalysisPassing", "status": "False", "reason": "ThresholdReached",
         "message": "error rate 7.2% > 1% (3 failed checks)"}]})
    _, a, _ = _assess(cluster, EXAMPLE, "veritas-spark")
    assert a.outcome.state == "aborted" and a.verdict.decision == "rollback" and a.exit_code == 1
    assert "error rate 7.2% > 1%" in a.verdict.reasons[0].text

    _status(k, "veritascanaries", "veritas-spark", {"phase": "Failed"})  # Veritas' Failed follows its rollback
    _, a, _ = _assess(cluster, EXAMPLE, "veritas-spark")
    assert a.outcome.state == "aborted" and a.verdict.decision == "rollback"

    _status(k, "veritasenvironments", "gateway", {"phase": "Switching", "switchProgress": 40,
                                                  "activeEnvironment": "blue"})
    choice, a, tracks = _assess(cluster, EXAMPLE, "gateway")
    assert choice.target.kind == "VeritasEnvironment" and sorted(tracks) == ["blue", "green"]
    p = a.progress
    assert (p.strategy, p.phase, p.switch_progress, p.roles) == ("bluegreen", "Switching", 40,
                                                                 "active blue · preview green")
    assert "… Switching · switch 40% · active blue · preview green" in RolloutStrip.render_compact(p).plain

    _status(k, "veritasenvironments", "gateway", {"phase": "Stable", "switchProgress": 100,
                                                  "activeEnvironment": "green"})
    _, a, _ = _assess(cluster, EXAMPLE, "gateway")
    assert a.outcome.state == "healthy" and a.progress.symbol == "✓"


def test_status_json_of_a_mapped_crd(bare, capsys, tmp_path):
    """`lookout status --json --config ... --app veritascanary/NAME` with the shipped mappings and a wrong one after
    them: the wrong one is named on stderr with its file and line, the rest works; the JSON has the health."""
    from tui.status import add_status_arguments, run_status

    cluster, k, _ = bare
    _apply(k, veritas_crds())
    _apply(k, [{"apiVersion": "veritas.hearthlink.ai/v1", "kind": "VeritasCanary", "metadata": {"name": "billing"},
                "spec": {"targetRef": {"name": "billing-canary"}, "trafficWeight": 50}}])
    _status(k, "veritascanaries", "billing", {"phase": "Promoting", "canaryWeight": 50})
    p = argparse.ArgumentParser()
    add_status_arguments(p)
    config = tmp_path / "config.toml"
    text = open(EXAMPLE).read() + '\n[crds.typo]\napi_version = "t.example/v1"\nkind = "Typo"\nphase = ".status.phase"\n'
    config.write_text(text)
    line = text.count("\n")  # the phase line is the last
    run_status(p.parse_args(["--kubeconfig", cluster.kubeconfig_path, "-n", NS, "--app", "veritascanary/billing",
                             "--config", str(config), "--json"]))
    cap = capsys.readouterr()
    assert f"lookout status: {config}:{line}: crds.typo.phase: expected a kubectl JSONPath template" in cap.err
    out = json.loads(cap.out)
    pr = out["progress"]
    assert (pr["controller"], pr["phase"], pr["health"], pr["weight"]) == (
        "Veritas", "Promoting", "progressing", {"desired": 50, "actual": 50})


def test_the_crds_own_events_are_the_rollouts():
    """The events pane keeps a mapped CRD's own events (its controller's "Promoted", "RollingBack"...)."""
    from tui.kube.config import KubeTarget
    from tui.rollout.target import Target
    from tui.session import RolloutChoice, Session

    settings = load_config(EXAMPLE)
    t = Target("VeritasCanary", "veritas-spark", NS, "app=veritas-spark")
    s = Session(KubeTarget(server="https://127.0.0.1:1", context="c", cluster="c", user="u", namespace=NS),
                RolloutChoice(t, NS), settings)
    ev = {"involvedObject": {"kind": "VeritasCanary", "name": "veritas-spark", "namespace": NS}}
    assert s.event_relevant(ev)
    assert not s.event_relevant({"involvedObject": {"kind": "VeritasCanary", "name": "other", "namespace": NS}})
    assert s.custom_kind.kind == "VeritasCanary" and s.resolver.track_of_labels({"deployment": "canary"}) == "canary"


async def test_picker_offers_the_mapped_crd_and_switches_to_it(bare, tmp_path):
    """`lookout -A` with no --app: the picker lists the mapped CRD's object with its phase and health symbol; picking
    it watches it (KIND/NAME, so a Rollout of the same name could not be taken instead) and the strip follows it."""
    from e2e_support import until
    from tui.app import LookoutApp
    from tui.kube.config import load_target
    from tui.session import Session, resolve_rollout
    from widgets.picker import RolloutPicker

    cluster, k, _ = bare
    config = tmp_path / "config.toml"
    config.write_text(SHIPMENT_MAPPING)
    _apply(k, [SHIPMENT_CRD])
    _apply(k, [{"apiVersion": "deploy.example.test/v2", "kind": "Shipment", "metadata": {"name": "till"},
                "spec": {"app": "till", "targets": [{"lane": "new", "percent": 50}]}},
               {"apiVersion": "deploy.example.test/v2", "kind": "Shipment", "metadata": {"name": "till-eu"},
                "spec": {"app": "till-eu"}},
               {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "till-worker"},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "till-worker"}},
                         "template": {"metadata": {"labels": {"app": "till-worker"}},
                                      "spec": {"containers": [{"name": "w", "image": "w:1"}]}}}}])
    await asyncio.to_thread(_status, k, "shipments", "till", {"state": "Holding", "stage": 3, "stages": 5,
                                                              "traffic": {"new": 40}})
    settings = load_config(str(config))
    target = load_target(cluster.kubeconfig_path, None, NS)
    choice = await resolve_rollout(target, app_name=None, selector=None, all_namespaces=True, crds=settings.crds)
    assert choice.target is None
    session = Session(target, choice, settings, read_only=True)
    session.poll_metrics = False
    app = LookoutApp(session, check_tty=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RolloutPicker), what="the picker")
        cands = app.screen.candidates
        i = next(i for i, c in enumerate(cands) if (c.kind, c.name) == ("Shipment", "till"))
        assert (cands[i].phase, cands[i].health, cands[i].symbol, cands[i].step, cands[i].weight) == (
            "Holding", "paused", "‖", "2/5", "40")
        for _ in range(i):
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: (session.target.kind, session.target.rollout) == ("Shipment", "till"),
                    what="the switch")
        strip = app.query_one("#rollout-strip")
        await until(pilot, lambda: strip._last is not None and "Holding" in strip._last.plain, what="the strip")
        assert strip._last.plain.startswith("Shipper canary · ‖ Holding · step 3/5 · paused (Holding) · weight 40% "
                                            "(desired 50%)"), strip._last.plain


def test_a_demo_scenario_with_a_mapped_crd_follows_it():
    """`lookout demo --scenario veritas-switch-stuck --config examples/veritas-crds.toml`: the scenario's
    VeritasEnvironment named like the app is the rollout (tui.launch.scenario_target); without the mapping, its
    Deployments are, as before."""
    from types import SimpleNamespace

    from tui.launch import scenario_target

    def dep(name, env):
        labels = {"app": "veritas-spark", "environment": env}
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "veritas",
                                                                            "labels": labels},
                "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}}}

    sc = SimpleNamespace(app="veritas-spark", namespace="veritas", workload={"kind": "Deployment",
                                                                            "name": "veritas-spark-blue"},
                         manifests=[dep("veritas-spark-blue", "blue"), dep("veritas-spark-green", "green"),
                                    {"apiVersion": "veritas.hearthlink.ai/v1", "kind": "VeritasEnvironment",
                                     "metadata": {"name": "veritas-spark", "namespace": "veritas",
                                                  "labels": {"app": "veritas-spark"}}, "spec": {"active": "blue"}}])
    t = scenario_target(sc, load_config(EXAMPLE).crds)
    assert (t.kind, t.name, t.namespace, t.selector) == ("VeritasEnvironment", "veritas-spark", "veritas",
                                                        "app=veritas-spark")
    assert scenario_target(sc).kind == "Label"


def test_time_in_phase_counts_on_its_own_clock():
    """The strip's "1m20s in phase" for a mapped CRD: the assessment observes the Argo step clock too, with another
    key; sharing one clock reset it on every call and it said "0s in phase" for ever."""
    from tui.kube.config import KubeTarget
    from tui.rollout.target import Target
    from tui.session import RolloutChoice, Session

    now = [1000.0]
    t = Target("VeritasEnvironment", "gateway", NS, "app=gateway")
    s = Session(KubeTarget(server="https://127.0.0.1:1", context="c", cluster="c", user="u", namespace=NS),
                RolloutChoice(t, NS), load_config(EXAMPLE), clock=lambda: now[0])
    s.throttle_derived = False
    env = {"metadata": {"name": "gateway", "namespace": NS}, "spec": {"active": "green"},
           "status": {"phase": "Switching", "switchProgress": 50, "activeEnvironment": "blue"}}
    s.store.replace("veritasenvironments", [env], scope=lambda k: k[0] == NS)
    assert s.assess().progress.step_for_s == 0
    now[0] += 80
    p = s.assess().progress
    assert p.step_for_s == 80 and "1m20s in phase" in RolloutStrip.render_compact(p).plain


def test_approval_and_planned_pause_paths_of_a_made_up_crd(tmp_path):
    """The `approval` and `planned_pause` paths, for any CRD (no code per controller): an approval awaited is
    `awaiting-approval` (info) with the pause kind `approval` (the exit code holds at 2, tui.assessment); a paused
    phase is planned when `planned_pause` says yes (`rollout-paused` info), else by hand (warning); a value that
    reads as no (false, 0, empty, absent) is no."""
    from tui.assessment import progress_findings
    from tui.rollout.custom import custom_progress

    p = tmp_path / "c.toml"
    p.write_text(SHIPMENT_MAPPING.replace('conditions = "{.status.conditions}"',
                                          'conditions = "{.status.conditions}"\n'
                                          'approval = "{.status.gate}"\nplanned_pause = "{.status.holdPlanned}"'))
    s = load_config(str(p))
    assert s.warnings == ()
    ck = s.crds[0]

    def look(status):
        obj = {"metadata": {"name": "cart"}, "spec": {"app": "cart"}, "status": status}
        pr = custom_progress(ck, obj)
        return pr.pause_kind, pr.pause, {(f.code, f.severity) for f in progress_findings(pr)}

    assert look({"state": "Rolling", "gate": "manual-signoff"}) == (
        "approval", "waiting for approval (manual-signoff)", {("awaiting-approval", "info")})
    assert look({"state": "Holding", "gate": "manual-signoff"})[0] == "approval"  # paused for it: not by hand
    obj = {"metadata": {"name": "cart"}, "spec": {"app": "cart"}, "status": {"state": "Rolling", "gate": "signoff"}}
    assert [f.summary for f in progress_findings(custom_progress(ck, obj))] == ["cart is waiting for approval"]
    for no in ("false", "", 0, False):
        assert look({"state": "Rolling", "gate": no}) == ("", "", set()), no
    assert look({"state": "Holding", "holdPlanned": True}) == ("step", "paused (Holding, planned)",
                                                               {("rollout-paused", "info")})
    assert look({"state": "Holding", "holdPlanned": "bake 10m"})[1] == "paused (Holding, planned: bake 10m)"
    assert look({"state": "Holding", "holdPlanned": False}) == ("hand", "paused (Holding)",
                                                                {("rollout-paused", "warning")})
    assert look({"state": "Holding"}) == ("hand", "paused (Holding)", {("rollout-paused", "warning")})
    assert look({"state": "Done", "gate": "manual-signoff"}) == ("", "", set())  # finished: nothing awaited
