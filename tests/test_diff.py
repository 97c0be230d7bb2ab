"""tui/diff: normalisation, pairing, the semantic diff and the switch preview, on plain data and on the demo
cluster's own stories (config-drift, bluegreen-switch) played on its state and a hand-moved clock."""

from __future__ import annotations

import copy

import pytest

from tui.diff.compare import Side, compare
from tui.diff.normalise import Pairing, references, template_fields
from tui.diff.render import side_by_side, state_line, text, to_json
from tui.diff.report import diff_rollout, drift_finding
from tui.diff.sides import NoPair, find_pair, resolve_named
from tui.diff.switch import preview
from tui.kube.slim import slim_secret
from tui.kube.store import Store
from tui.rollout.findings import Finding
from tui.rollout.target import Target


def template(env: str, *, image="shop:1.0", extra_env=(), labels=None, annotations=None, cm=None, secret=None,
             **container) -> dict:
    c = {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
         "env": [{"name": "ENVIRONMENT", "value": env}, *extra_env], **container}
    if cm:
        c.setdefault("envFrom", []).append({"configMapRef": {"name": cm}})
    if secret:
        c.setdefault("envFrom", []).append({"secretRef": {"name": secret}})
    return {"metadata": {"labels": {"app": "shop", "environment": env, **(labels or {})},
                         **({"annotations": annotations} if annotations else {})},
            "spec": {"containers": [c]}}


def side(env: str, tpl: dict, kind="Deployment", replicas=3, ready=3) -> Side:
    return Side(env, kind, f"shop-{env}", "demo", tpl, replicas, ready, env)


def store_of(*objs) -> Store:
    s = Store()
    for kind, o in objs:
        o = copy.deepcopy(o)
        o["metadata"].setdefault("namespace", "demo")
        s.apply(kind, "ADDED", [slim_secret(o) if kind == "secrets" else o])
    return s


def cm(name: str, **data) -> tuple[str, dict]:
    return ("configmaps", {"metadata": {"name": name}, "data": data})


def secret(name: str, **data) -> tuple[str, dict]:
    import base64

    return ("secrets", {"metadata": {"name": name}, "type": "Opaque",
                        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})


def keys(result) -> set[tuple[str, str, str]]:
    return {(c.kind, c.name, c.op) for c in result.changes}


# ---- normalisation and pairing ------------------------------------------------------------------------------

def test_server_noise_is_not_a_difference():
    a = template("blue", labels={"pod-template-hash": "5d4c3b2a1", "rollouts-pod-template-hash": "aaa"},
                 annotations={"kubectl.kubernetes.io/last-applied-configuration": "{...}",
                              "deployment.kubernetes.io/revision": "3"})
    a["metadata"].update(uid="u-1", resourceVersion="12", creationTimestamp="2026-01-01T00:00:00Z", generation=4)
    b = template("green", labels={"pod-template-hash": "9e8d7c6b5"})
    r = compare(side("blue", a), side("green", b), Store().get)
    assert r.identical and r.summary() == "blue and green are identical", r.changes


def test_the_environment_name_pairs_the_two_sides_and_nothing_else():
    a = template("blue", extra_env=[{"name": "DB", "value": "db-blue.demo.svc"},
                                    {"name": "THEME", "value": "blueprint"}])
    b = template("green", extra_env=[{"name": "DB", "value": "db-green.demo.svc"},
                                     {"name": "THEME", "value": "greenprint"}])
    r = compare(side("blue", a), side("green", b), Store().get)
    # ENVIRONMENT=blue/green, the environment label and db-blue/db-green pair; `blueprint` is another word
    assert keys(r) == {("env", "env THEME", "~")}
    assert Pairing("blue").neutral({"x": ["checkout-config-blue", "blue", "blueish"]}) == \
        {"x": ["checkout-config-{env}", "{env}", "blueish"]}


def test_replicas_are_state_in_the_summary_line_not_drift():
    a, b = side("blue", template("blue"), replicas=3, ready=3), side("green", template("green"), replicas=0, ready=0)
    r = compare(a, b, Store().get)
    assert r.identical and state_line(r) == "blue 3/3 ready, green scaled to 0"


def test_every_part_of_the_template_is_compared_container_by_container():
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5}
    a = template("blue", command=["serve"], args=["--workers=4"], readinessProbe=probe,
                 resources={"limits": {"cpu": "500m", "memory": "256Mi"}},
                 volumeMounts=[{"name": "cfg", "mountPath": "/etc/shop"}],
                 securityContext={"runAsNonRoot": True},
                 extra_env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok-blue", "key": "t"}}}])
    a["spec"].update(volumes=[{"name": "cfg", "configMap": {"name": "shop-files-blue"}}], serviceAccountName="shop",
                     nodeSelector={"pool": "general"}, tolerations=[{"key": "spot", "operator": "Exists"}])
    b = copy.deepcopy(template("green", command=["serve"], args=["--workers=8"],
                               readinessProbe={**probe, "periodSeconds": 10},
                               resources={"limits": {"cpu": "1", "memory": "256Mi"}},
                               volumeMounts=[{"name": "cfg", "mountPath": "/etc/shop", "readOnly": True}],
                               securityContext={"runAsNonRoot": False},
                               extra_env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok-green",
                                                                                            "key": "t2"}}}]))
    b["spec"].update(volumes=[{"name": "cfg", "configMap": {"name": "shop-files-green"}}],
                     serviceAccountName="shop-v2", nodeSelector={"pool": "spot"}, tolerations=[])
    b["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1.30"})
    r = compare(side("blue", a), side("green", b), Store().get)
    assert keys(r) == {
        ("args", "args", "~"), ("probes", "readinessProbe", "~"), ("resources", "limits.cpu", "~"),
        ("volumeMounts", "mount /etc/shop", "~"), ("securityContext", "securityContext.runAsNonRoot", "~"),
        ("env", "env TOKEN", "~"), ("serviceAccount", "serviceAccountName", "~"),
        ("scheduling", "nodeSelector pool", "~"), ("scheduling", 'toleration {"key": "spot", "operator": "Exists"}', "-"),
        ("containers", "container", "+"), ("image", "image", "+")}  # the sidecar: only on green
    env = next(c for c in r.changes if c.name == "env TOKEN")
    assert env.a == "from Secret tok-blue key t" and env.b == "from Secret tok-green key t2"
    assert references(a) == {"configmaps": ["shop-files-blue"], "secrets": ["tok-blue"]}


def test_configmaps_key_by_key_with_a_line_diff_inside_multi_line_values():
    a = template("blue", cm="shop-config-blue")
    b = template("green", cm="shop-config-green")
    st = store_of(cm("shop-config-blue", LEVEL="info", CONF="a = 1\nb = 2\nc = 3\n", OLD="x"),
                  cm("shop-config-green", LEVEL="debug", CONF="a = 1\nb = 20\nc = 3\n", NEW="y"))
    r = compare(side("blue", a), side("green", b), st.get)
    assert keys(r) == {("configmap", "LEVEL", "~"), ("configmap", "CONF", "~"), ("configmap", "OLD", "-"),
                       ("configmap", "NEW", "+")}
    conf = next(c for c in r.changes if c.name == "CONF")
    assert "-b = 2" in conf.detail and "+b = 20" in conf.detail and " a = 1" in conf.detail
    assert "    -b = 2" in text(r).splitlines()


def test_a_renamed_object_with_the_same_content_reads_renamed():
    st = store_of(cm("shop-settings", LEVEL="info"), cm("shop-config-v2", LEVEL="info"))
    r = compare(side("blue", template("blue", cm="shop-settings")), side("green", template("green", cm="shop-config-v2")),
                st.get)
    renamed = [c for c in r.changes if c.op == "="]
    assert len(renamed) == 1 and renamed[0].name == "renamed, same content"
    assert "shop-settings → shop-config-v2: renamed, same content" in text(r)


def test_secrets_compare_by_key_and_digest_and_never_carry_a_value():
    st = store_of(secret("shop-secrets-blue", PASSWORD="s3cr3t-pw", API_KEY="key-blue-1", ONLY_BLUE="b"),
                  secret("shop-secrets-green", PASSWORD="s3cr3t-pw", API_KEY="key-green-2", ONLY_GREEN="g"))
    r = compare(side("blue", template("blue", secret="shop-secrets-blue")),
                side("green", template("green", secret="shop-secrets-green")), st.get)
    assert keys(r) == {("secret", "API_KEY", "~"), ("secret", "ONLY_BLUE", "-"), ("secret", "ONLY_GREEN", "+")}
    assert all(c.a is None and c.b is None and c.secret for c in r.changes)
    out = text(r) + repr(to_json(r)) + "\n".join(x.text for x in side_by_side(r))
    for value in ("s3cr3t-pw", "key-blue-1", "key-green-2", "czNjcjN0LXB3"):
        assert value not in out
    assert "~ API_KEY: differs" in out and "- ONLY_BLUE: only on blue" in out


def test_a_forbidden_secret_reads_cannot_compare():
    r = compare(side("blue", template("blue", secret="s-blue")), side("green", template("green", secret="s-green")),
                Store().get, forbidden=frozenset({"secrets"}))
    assert r.identical and r.notes == ("Secret s-blue: cannot compare: forbidden",)
    assert "note: Secret s-blue: cannot compare: forbidden" in text(r)


def test_untrusted_text_stays_text():
    hostile = "[/bold][@click=app.quit]x[/]\x1b]8;;http://x\x1b\\\x1bc"
    r = compare(side("blue", template("blue")), side("green", template("green", image=hostile)), Store().get)
    out = text(r)
    assert "\x1b" not in out and "[@click=app.quit]x[/]" in out


# ---- which two --------------------------------------------------------------------------------------------

def deployment(env: str, tpl: dict, replicas=3) -> tuple[str, dict]:
    return ("deployments", {"metadata": {"name": f"shop-{env}", "labels": {"app": "shop"}},
                            "spec": {"replicas": replicas, "template": tpl}, "status": {"readyReplicas": replicas}})


def test_label_convention_pairs_and_orders_baseline_first():
    st = store_of(deployment("green", template("green")), deployment("blue", template("blue")))
    a, b = find_pair(st, Target("Label", "shop", "demo", "app=shop"))
    assert (a.track, b.track, a.token) == ("blue", "green", "blue")
    a, b = find_pair(st, Target("Label", "shop", "demo", "app=shop"), baseline="green")
    assert (a.track, b.track) == ("green", "blue")  # after the switch green is live: it comes first
    assert resolve_named(st, "demo", "deploy/shop-blue").name == "shop-blue"
    with pytest.raises(NoPair, match="no Deployment or ReplicaSet named nope"):
        resolve_named(st, "demo", "nope")
    with pytest.raises(NoPair):
        find_pair(store_of(deployment("blue", template("blue"))), Target("Label", "shop", "demo", "app=shop"))


def test_argo_active_and_preview_replicasets():
    def rs(h: str, image: str):
        tpl = {"metadata": {"labels": {"app": "shop", "rollouts-pod-template-hash": h}},
               "spec": {"containers": [{"name": "app", "image": image}]}}
        return ("replicasets", {"metadata": {"name": f"shop-{h}", "labels": {"rollouts-pod-template-hash": h},
                                             "ownerReferences": [{"kind": "Rollout", "name": "shop", "uid": "r1"}]},
                                "spec": {"replicas": 2, "template": tpl}, "status": {"readyReplicas": 2}})

    ro = ("rollouts", {"metadata": {"name": "shop", "uid": "r1"},
                       "spec": {"strategy": {"blueGreen": {"activeService": "shop", "previewService": "shop-preview"}}},
                       "status": {"blueGreen": {"activeSelector": "aaa", "previewSelector": "bbb"}}})
    st = store_of(ro, rs("aaa", "shop:1.0"), rs("bbb", "shop:1.1"))
    env = diff_rollout(st, Target("Rollout", "shop", "demo", "app=shop"))
    assert (env.result.a.track, env.result.b.track) == ("active", "preview")
    assert keys(env.result) == {("image", "image", "~")}  # the hashes are noise
    assert drift_finding(env.result) is None  # a release changes the image: no drift


# ---- the switch preview -------------------------------------------------------------------------------------

def pod(env: str, i: int, ready: bool) -> tuple[str, dict]:
    return ("pods", {"metadata": {"name": f"shop-{env}-{i}", "labels": {"app": "shop", "environment": env}},
                     "status": {"phase": "Running",
                                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


SERVICE = ("services", {"metadata": {"name": "shop"}, "spec": {"selector": {"app": "shop", "environment": "blue"}}})


def test_switch_preview_ready_target_is_safe_and_names_the_selector_change():
    st = store_of(SERVICE, *(pod("blue", i, True) for i in range(3)), *(pod("green", i, True) for i in range(3)))
    r = compare(side("blue", template("blue")), side("green", template("green")), st.get)
    sw = preview(st, r)
    assert sw.safe and sw.blockers == () and (sw.target_ready, sw.target_pods, sw.live_ready) == (3, 3, 3)
    assert [(c.service, c.key, c.old, c.new) for c in sw.changes] == [("shop", "environment", "blue", "green")]
    assert "  ~ Service shop: environment=blue → environment=green" in sw.lines()


def test_switch_preview_blocks_on_unready_pods_a_missing_secret_key_and_a_critical_finding():
    st = store_of(SERVICE, *(pod("blue", i, True) for i in range(3)), pod("green", 0, True), pod("green", 1, False),
                  secret("s-blue", PASSWORD="x", TOKEN="t"), secret("s-green", PASSWORD="x"))
    r = compare(side("blue", template("blue", secret="s-blue")), side("green", template("green", secret="s-green")),
                st.get)
    crit = Finding("track-pods-failing", "critical", "green", "green crashes")
    other = Finding("track-pods-failing", "critical", "blue", "not the target")
    sw = preview(st, r, [crit, other])
    assert not sw.safe
    assert sw.blockers == ("green is not ready: 1 of 2 pods not ready",
                           "finding track-pods-failing on green: green crashes",
                           "Secret s-blue ↔ s-green: key TOKEN is missing on green")
    assert "switch blue → green: BLOCKED (3 blocking, 0 warnings)" == sw.lines()[0]
    # a target with no pods at all blocks too
    empty = preview(store_of(SERVICE, pod("blue", 0, True)), compare(side("blue", template("blue")),
                                                                      side("green", template("green"), replicas=0),
                                                                      Store().get))
    assert empty.blockers == ("green has no pods (scaled to 0): the switch would leave the Service without endpoints",)


# ---- the demo's own stories -------------------------------------------------------------------------------

async def story(scenario: str, seconds: float):
    from assessment_support import played

    p = await played(scenario, seconds)
    s = p.session
    a = s.assess()
    return s, a, diff_rollout(s.store, s.choice.target, s.resolver, a.roles.baseline, a.findings)


async def test_config_drift_shows_exactly_its_differences():
    s, a, env = await story("config-drift", 20)
    r = env.result
    assert (r.a.ref, r.b.ref) == ("Deployment/checkout-blue", "Deployment/checkout-green")
    assert {(c.kind, c.where, c.name, c.op, c.a, c.b) for c in r.changes} == {
        ("image", "container app", "image", "~", "registry.demo/checkout:1.4.2", "registry.demo/checkout:1.5.0"),
        ("env", "container app", "env WORKERS", "~", "4", "8"),
        ("env", "container app", "env FEATURE_NEW_CART", "+", None, "true"),
        ("configmap", "ConfigMap checkout-config-blue ↔ checkout-config-green", "LOG_LEVEL", "~", "info", "debug"),
        ("configmap", "ConfigMap checkout-config-blue ↔ checkout-config-green", "CACHE_TTL", "-", "300", None),
        ("configmap", "ConfigMap checkout-config-blue ↔ checkout-config-green", "PAYMENTS_TIMEOUT_MS", "+", None,
         "800"),
        ("secret", "Secret checkout-secrets-blue ↔ checkout-secrets-green", "PAYMENTS_API_KEY", "~", None, None),
    }
    assert r.summary() == "image, 2 env vars, 3 ConfigMap keys, 1 Secret key differ"
    assert env.switch.safe and len(env.switch.warnings) >= 3
    f = next(f for f in a.findings if f.code == "environments-differ")
    assert f.track == "blue" and f.summary.startswith("differs from green in configuration: image, 2 env vars, "
                                                      "3 ConfigMap keys, 1 Secret key")


async def test_bluegreen_switch_shows_the_image_difference_only_and_a_switch_to_nothing_blocks():
    s, a, env = await story("bluegreen-switch", 2)  # green not scaled up yet
    assert keys(env.result) == {("image", "image", "~")}
    assert not any(f.code == "environments-differ" for f in a.findings)
    assert not env.switch.safe and env.switch.blockers[0].startswith("green has no pods")
    s, a, env = await story("bluegreen-switch", 20)  # green up and ready, the switch not made yet
    assert keys(env.result) == {("image", "image", "~")} and env.switch.safe


async def test_the_diff_screen_shows_hostile_text_as_text():
    """A ConfigMap value with markup, an OSC 8 link and a terminal reset: shown literally, cleaned, and inert."""
    from snapshot_support import scenario_session
    from tui.app import LookoutApp

    hostile = "[/bold][@click=app.quit]x[/]\x1b]8;;http://x\x1b\\link\x1bc"
    session = await scenario_session("config-drift", 20, app="checkout")
    cmap = copy.deepcopy(session.store.get("configmaps", "demo", "checkout-config-green"))
    cmap["data"]["LOG_LEVEL"] = hostile
    session.store.apply("configmaps", "MODIFIED", [cmap])
    app = LookoutApp(session, clock=session.clock, check_tty=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("b")
        for _ in range(100):
            await pilot.pause(0.05)
            if getattr(app.screen, "env", None) is not None:
                break
        body = str(app.screen.query_one("#diff-body").render())
        line = next(ln for ln in body.splitlines() if ln.startswith("~ LOG_LEVEL"))
        assert line == "~ LOG_LEVEL: info → [/bold][@click=app.quit]x[/]link"
        assert "\x1b" not in body
        await pilot.press("s", "w", "s")
        await pilot.pause(0.1)
        assert app.is_running and "\x1b" not in str(app.screen.query_one("#diff-body").render())
