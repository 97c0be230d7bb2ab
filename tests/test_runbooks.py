"""Runbooks without a screen: the loader's file:line errors, template values checked by their own rule, kubectl verbs
classified by Lookout (not by the file), Secret values refused, the runner's timeout, and real steps run by the real
kubectl against the demo cluster over HTTPS (a read step, an abort whose Rollout changed since it was shown)."""

from __future__ import annotations

import asyncio
import time

import pytest

from realtools import require_tool
from tui.runbooks.model import RunbookError, load_catalog, load_file, parse_runbooks
from tui.runbooks.runner import Where, execute, plan
from tui.runbooks.safety import kubectl_shape, secret_refusal


def one(text: str):
    return parse_runbooks(text, "u.yaml")[0]


def where(**values) -> Where:
    base = {"rollout": "checkout", "kind": "rollout", "app": "checkout", "pod": "checkout-abc-1",
            "service": "checkout"}
    base.update(values)
    return Where(context="lookout-demo", namespace="demo", kubeconfig=None, values=base)


# ---- the built-ins --------------------------------------------------------------------------------------------

def test_builtins_load_and_name_their_seed_section():
    cat = load_catalog(include_user_dir=False)
    assert cat.errors == []
    ids = {r.id for r in cat.runbooks}
    assert ids >= {"canary-no-traffic", "metrics-not-reporting", "unexpected-rollback", "promotion-stuck",
                   "switch-not-completing", "state-not-syncing", "standby-unhealthy", "dns-not-updating",
                   "pods-crashing", "high-error-rate", "high-latency", "memory-growth", "image-pull-failure",
                   "health-check-failed", "rollback-procedure"}
    for r in cat.runbooks:
        assert r.builtin and r.source.split(",")[0].endswith(".txt"), r.id
        assert r.when, f"{r.id} is never suggested"
        for i in range(len(r.steps)):  # every template value of every step is known and fits its rule
            from dataclasses import replace

            p = plan(r, i, replace(where(canary_pod="checkout-abc-2", stable_pod="checkout-abc-3", track="canary",
                                         preview_service="checkout-preview"),
                                   services={"checkout": ({"app": "checkout", "env": "blue"}, "1"),
                                             "checkout-preview": ({"app": "checkout", "env": "green"}, "2")}))
            assert p.refused is None or "read-only" in p.refused, (r.id, i, p.refused)


# ---- `runbooks validate`: each kind of error, with its line ----------------------------------------------------

@pytest.mark.parametrize("text,line,what", [
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n    run: [kubectl, get, pods\n", 7, "not valid YAML"),
    ("id: a\ntitle: A\n", 1, "'steps' is missing"),
    ("id: A_b\ntitle: A\nsteps: []\n", 1, "id: 'A_b' must be lowercase"),
    ("id: a\ntitle: A\nsteps: []\n", 3, "needs at least one step"),
    ("id: a\ntitle: A\ncolour: red\nsteps: []\n", 3, "unknown key 'colour'"),
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    run: [kubectl]\n", 4, "'why' is missing"),
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n", 4, "needs exactly one of run, action"),
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n    run: [kubectl]\n    check: c\n", 4, "has run, check"),
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n    run: [kubectl, logs, '{podd}']\n", 6,
     "unknown template value {podd}"),
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n    run: ['{app}', x]\n", 6, "plain name or an absolute"),
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n    action: explode\n", 6, "'explode' is not one of"),
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n    action: scale\n", 6, "scale needs replicas"),
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n    run: [kubectl]\n    timeout: -1\n", 7, "timeout"),
    ("id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n    run: [kubectl]\n    mutates: maybe\n", 7,
     "expected true or false"),
    ("id: a\ntitle: A\nwhen:\n  - finding: x\n    verdict: rollback\nsteps: []\n", 4, "one condition per list"),
    ("id: a\ntitle: A\nwhen:\n  - weather: rain\nsteps: []\n", 4, "unknown condition 'weather'"),
    ("id: a\ntitle: A\nwhen:\n  - verdict: panic\nsteps: []\n", 4, "'panic' is not one of"),
    ("id: a\ntitle: A\nwhen:\n  - any: []\nsteps: []\n", 4, "needs at least one condition"),
    ("id: a\ntitle: A\nkey: q\nsteps: []\n", 3, "already a Lookout key"),
    ("- id: a\n  title: A\n  steps: [{title: t, why: w, check: c}]\n"
     "- id: a\n  title: B\n  steps: [{title: t, why: w, check: c}]\n", 4, "already used at line 1"),
    ("x: &a [1]\ny: *a\n", 1, "aliases are not allowed"),
    ("id: a\ntitle: A\nsteps:\n  - title: \"t\\x1b[2J\"\n    why: w\n    check: c\n", 4, "control characters"),
])
def test_validate_names_the_line_and_what_is_wrong(tmp_path, text, line, what):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(RunbookError) as e:
        load_file(f, reserved_keys=("q", "r"))
    assert e.value.line == line, str(e.value)
    assert str(e.value).startswith(f"{f}:{line}: ") and what in str(e.value), str(e.value)


def test_user_runbooks_override_builtins_by_id_and_a_broken_file_leaves_the_rest(tmp_path):
    (tmp_path / "mine.yaml").write_text("id: pods-crashing\ntitle: Our crash runbook\nsteps:\n"
                                        "  - {title: page, why: ours, check: page the owner}\n")
    (tmp_path / "broken.yaml").write_text("id: [\n")
    cat = load_catalog([tmp_path], include_user_dir=False)
    assert cat.get("pods-crashing").title == "Our crash runbook" and not cat.get("pods-crashing").builtin
    assert cat.get("high-latency") is not None
    assert len(cat.errors) == 1 and cat.errors[0].startswith(f"{tmp_path / 'broken.yaml'}:")


# ---- template values and safety -------------------------------------------------------------------------------

HOSTILE = ["x; rm -rf /", "$(id)", "../x", "a" * 300, "`id`", "--kubeconfig=/tmp/x", "pod\nname", "Pod", "",
           "checkout\u200b", "a b"]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_template_values_are_refused_before_anything_runs(value, tmp_path):
    marker = tmp_path / "ran"
    rb = one(f"id: a\ntitle: A\nsteps:\n  - title: t\n    why: w\n    run: [touch, '{marker}', '{{pod}}']\n"
             "    mutates: false\n")
    p = plan(rb, 0, where(pod=value))
    assert p.refused and "{pod}" in p.refused, p
    assert ("no value" in p.refused) if value == "" else ("not a valid object name" in p.refused)
    run = asyncio.run(execute(p, confirmed=True))
    assert run.state == "refused" and not marker.exists()


def test_each_value_has_its_own_rule():
    rb = one("id: a\ntitle: A\nsteps:\n  - {title: t, why: w, run: [kubectl, get, svc, '{service}']}\n"
             "  - {title: t, why: w, run: [kubectl, get, pods, -l, 'app={app}']}\n")
    # a Service name is an RFC 1123 label: dots are not allowed, 63 characters at most
    assert "RFC 1123 label" in plan(rb, 0, where(service="a.b")).refused
    assert plan(rb, 1, where(app="Shop_v2.1")).refused is None  # a label value may hold capitals and '_'
    assert "valid label value" in plan(rb, 1, where(app="-x")).refused


def test_kubectl_gets_the_sessions_context_namespace_and_kubeconfig():
    rb = one("id: a\ntitle: A\nsteps:\n  - {title: t, why: w, run: [kubectl, get, pods]}\n"
             "  - {title: t, why: w, run: [kubectl, get, pods, -n, other]}\n"
             "  - {title: t, why: w, run: [kubectl, --context=prod, get, pods]}\n")
    w = Where(context="arn:aws:eks:eu-west-1:1:cluster/x", namespace="demo", kubeconfig="/a:/b", values={})
    p = plan(rb, 0, w)
    assert p.argv[1:] == ("--context=arn:aws:eks:eu-west-1:1:cluster/x", "-n", "demo", "get", "pods")
    assert p.env["KUBECONFIG"] == "/a:/b" and not p.mutates
    assert plan(rb, 1, w).argv[-4:] == ("get", "pods", "-n", "other") and "-n" not in plan(rb, 1, w).argv[:4]
    assert "session's cluster" in plan(rb, 2, w).refused
    argo = one("id: a\ntitle: A\nsteps:\n  - {title: t, why: w, run: [kubectl, argo, rollouts, abort, '{rollout}']}\n")
    p = plan(argo, 0, Where(context="c", namespace="demo", kubeconfig=None, values={"rollout": "checkout"}))
    assert p.argv[1:] == ("argo", "rollouts", "abort", "checkout", "--context=c", "-n", "demo") and p.mutates


@pytest.mark.parametrize("args,verb,mutates", [
    (["get", "pods"], "get", False), (["-n", "x", "describe", "pod", "p"], "describe", False),
    (["logs", "p", "--previous"], "logs", False), (["auth", "can-i", "get", "pods"], "auth can-i", False),
    (["rollout", "status", "deploy/x"], "rollout status", False),
    (["rollout", "restart", "deploy/x"], "rollout restart", True), (["delete", "pod", "p"], "delete", True),
    (["-n", "get", "delete", "pod"], "delete", True),  # -n takes "get" as its value: the verb is delete
    (["exec", "p", "--", "cat", "/etc/passwd"], "exec", True), (["argo", "rollouts", "get", "rollout", "x"],
                                                               "argo rollouts get", False),
    (["argo", "rollouts", "abort", "x"], "argo rollouts abort", True), (["patch", "x"], "patch", True),
])
def test_kubectl_verbs_are_classified(args, verb, mutates):
    shape = kubectl_shape(args)
    assert (shape.verb, shape.mutates) == (verb, mutates)


def test_mutates_false_does_not_make_delete_read_only():
    rb = one("id: a\ntitle: A\nsteps:\n  - {title: t, why: w, run: [kubectl, delete, pod, '{pod}'], mutates: false}\n"
             "  - {title: t, why: w, run: [some-tool, fix], mutates: false}\n"
             "  - {title: t, why: w, run: [some-tool, fix]}\n")
    w = Where(context="c", namespace="demo", kubeconfig=None, values={"pod": "p-1"}, read_only=True)
    p = plan(rb, 0, w)
    assert p.mutates and p.refused.startswith("read-only")
    # other programs: the user's word counts (and an uninstalled one is a manual step)
    assert not plan(rb, 1, w).mutates and plan(rb, 2, w).mutates


@pytest.mark.parametrize("args,refused", [
    (["get", "secret", "db", "-o", "yaml"], True), (["get", "secrets", "-ojson"], True),
    (["get", "secret/db", "--output=jsonpath={.data.password}"], True), (["get", "secret", "db", "-o",
                                                                          "go-template={{.data}}"], True),
    (["get", "--raw", "/api/v1/namespaces/x/secrets/db"], True), (["get", "pods,secrets", "-o", "yaml"], True),
    (["describe", "secret", "db"], False), (["get", "secrets"], False), (["get", "configmap", "x", "-o", "yaml"],
                                                                         False),
])
def test_steps_that_would_print_secret_values_are_refused(args, refused):
    assert bool(secret_refusal(args)) is refused, args


def test_uninstalled_programs_are_manual_steps_with_the_command_to_copy():
    rb = one("id: a\ntitle: A\nsteps:\n  - {title: t, why: w, run: [docker-compose, logs, api], mutates: false}\n"
             "  - {title: t, why: w, check: the team is notified}\n")
    p = plan(rb, 0, where())
    assert p.manual and "not installed" in p.manual and p.command == "docker-compose logs api"
    assert asyncio.run(execute(p)).state == "manual"
    assert plan(rb, 1, where()).manual == "the team is notified"


def test_a_mutating_step_needs_an_explicit_yes(tmp_path):
    marker = tmp_path / "ran"
    rb = one(f"id: a\ntitle: A\nsteps:\n  - {{title: t, why: w, run: [touch, '{marker}']}}\n")
    p = plan(rb, 0, where())
    assert p.mutates and p.refused is None
    run = asyncio.run(execute(p))
    assert run.state == "refused" and "explicit yes" in run.why and not marker.exists()
    assert asyncio.run(execute(p, confirmed=True)).state == "ok" and marker.exists()


def test_timeout_kills_the_process_and_its_children(tmp_path):
    pidfile = tmp_path / "pid"
    script = tmp_path / "slow"
    script.write_text(f"#!/bin/sh\nsleep 30 &\necho $! > {pidfile}\necho started\nwait\n")
    script.chmod(0o755)
    rb = one(f"id: a\ntitle: A\nsteps:\n  - {{title: t, why: w, run: ['{script}'], mutates: false, timeout: 1}}\n")
    lines: list[str] = []
    t0 = time.monotonic()
    run = asyncio.run(execute(plan(rb, 0, where()), on_line=lines.append))
    assert run.state == "timeout" and time.monotonic() - t0 < 5
    assert lines == ["started"]
    child = int(pidfile.read_text())
    time.sleep(0.2)
    try:  # the grandchild went with its group (gone, or a zombie its new parent has not reaped yet)
        state = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z"), state


def test_output_is_sanitised_and_a_cancel_kills(tmp_path):
    script = tmp_path / "noisy"
    script.write_text("#!/bin/sh\nprintf 'a\\033]8;;http://x\\033\\\\b\\033[2Jc\\r\\n[bold]x\\n'\nsleep 30\n")
    script.chmod(0o755)
    rb = one(f"id: a\ntitle: A\nsteps:\n  - {{title: t, why: w, run: ['{script}'], mutates: false}}\n")
    lines: list[str] = []

    async def go():
        task = asyncio.create_task(execute(plan(rb, 0, where()), on_line=lines.append))
        while len(lines) < 2:
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(go(), 10))
    assert lines == ["abc", "[bold]x"]


# ---- real kubectl against the demo cluster -------------------------------------------------------------------

@pytest.mark.kubectl
async def test_real_steps_and_a_stale_abort_refused():
    require_tool("kubectl")
    from e2e_support import demo_cluster

    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        rb = one("id: a\ntitle: A\nsteps:\n"
                 "  - {title: t, why: w, run: [kubectl, get, '{kind}', '{rollout}', -o, 'jsonpath={{.kind}}']}\n"
                 "  - {title: t, why: w, action: abort}\n"
                 "  - {title: t, why: w, run: [kubectl, get, secret, x, -o, yaml]}\n")
        base = dict(context="lookout-demo", namespace="demo", kubeconfig=cluster.kubeconfig_path,
                    values={"kind": "rollout", "rollout": "checkout"})
        got = await execute(plan(rb, 0, Where(**base)))
        assert got.state == "ok" and list(got.lines) == ["Rollout"], got
        rv = cluster.state.get("rollouts", "demo", "checkout")["metadata"]["resourceVersion"]
        shown = plan(rb, 1, Where(**base, resource_version=rv))
        # someone else changes the Rollout after the confirmation was shown
        cluster.state.mutate("rollouts", "demo", "checkout",
                             lambda o: o["metadata"].setdefault("annotations", {}).__setitem__("someone", "else"))
        stale = await execute(shown, confirmed=True)
        assert stale.state == "failed" and not cluster.state.get("rollouts", "demo", "checkout")["status"].get("abort")
        fresh_rv = cluster.state.get("rollouts", "demo", "checkout")["metadata"]["resourceVersion"]
        ok = await execute(plan(rb, 1, Where(**base, resource_version=fresh_rv)), confirmed=True)
        assert ok.state == "ok", list(ok.lines)
        assert cluster.state.get("rollouts", "demo", "checkout")["status"]["abort"] is True
        assert "Secret values" in plan(rb, 2, Where(**base)).refused


@pytest.mark.kubectl
async def test_promote_and_promote_full_move_the_demo_rollout():
    require_tool("kubectl")
    from e2e_support import demo_cluster

    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        rb = one("id: a\ntitle: A\nsteps:\n  - {title: t, why: w, action: promote}\n"
                 "  - {title: t, why: w, action: promote-full}\n")

        def rollout():
            return cluster.state.get("rollouts", "demo", "checkout")

        for _ in range(100):
            if rollout()["status"].get("pauseConditions"):
                break
            await asyncio.sleep(0.2)
        step = rollout()["status"]["currentStepIndex"]
        assert rollout()["status"]["pauseConditions"]

        def where_now() -> Where:
            return Where(context="lookout-demo", namespace="demo", kubeconfig=cluster.kubeconfig_path,
                         values={"kind": "rollout", "rollout": "checkout"},
                         resource_version=rollout()["metadata"]["resourceVersion"])

        assert (await execute(plan(rb, 0, where_now()), confirmed=True)).state == "ok"
        for _ in range(50):
            if rollout()["status"].get("currentStepIndex", 0) > step:
                break
            await asyncio.sleep(0.1)
        assert rollout()["status"]["currentStepIndex"] > step  # the pause ended: the next step
        assert (await execute(plan(rb, 1, where_now()), confirmed=True)).state == "ok"
        for _ in range(50):
            if rollout()["status"].get("currentStepIndex") == 6:
                break
            await asyncio.sleep(0.1)
        assert rollout()["status"]["currentStepIndex"] == 6  # every step done


def test_actions_plan_the_commands_the_plugin_and_kubectl_send():
    rb = one("id: a\ntitle: A\nsteps:\n" + "".join(
        f"  - {{title: t, why: w, action: {a}}}\n" for a in ("restart", "rollback", "undo", "pause"))
        + "  - {title: t, why: w, action: {name: scale, replicas: 3}}\n")
    ro = Where(context="c", namespace="demo", kubeconfig=None, values={"kind": "rollout", "rollout": "checkout"},
               resource_version="7")
    dep = Where(context="c", namespace="demo", kubeconfig=None, values={"kind": "deployment", "rollout": "web"})
    assert '"path":"/spec/restartAt"' in plan(rb, 0, ro).command and '"value":"7"' in plan(rb, 0, ro).command
    assert plan(rb, 0, dep).command.endswith("rollout restart deployment/web")  # no version shown: kubectl's own
    dep_shown = Where(context="c", namespace="demo", kubeconfig=None, values={"kind": "deployment", "rollout": "web"},
                      resource_version="9")
    assert '"resourceVersion":"9"' in plan(rb, 0, dep_shown).command and "--type=merge" in plan(rb, 0, dep_shown).command
    assert plan(rb, 4, dep_shown).command.endswith("--replicas=3 --resource-version=9")
    assert '"path":"/status/abort","value":true' in plan(rb, 1, ro).command
    assert plan(rb, 1, dep).command.endswith("rollout undo deployment/web")
    assert "Deployment action" in plan(rb, 2, ro).refused
    assert '"path":"/spec/paused","value":true' in plan(rb, 3, dep).command
    assert plan(rb, 4, dep).command.endswith("scale deployment/web --replicas=3")
    assert all(plan(rb, i, ro).mutates for i in range(5))


@pytest.mark.kubectl
async def test_restart_replaces_the_demo_rollouts_pods():
    """`restart` of an Argo Rollout sets spec.restartAt (as the plugin); the demo controller replaces older pods."""
    require_tool("kubectl")
    from e2e_support import demo_cluster

    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        rb = one("id: a\ntitle: A\nsteps:\n  - {title: t, why: w, action: restart}\n")

        def pods() -> set[str]:
            items, _ = cluster.state.list("pods", "demo", label_selector="app=checkout")
            return {p["metadata"]["name"] for p in items if not p["metadata"].get("deletionTimestamp")}

        await asyncio.sleep(1.5)  # restartAt has one-second precision: the pods must be older than it
        before = pods()
        rv = cluster.state.get("rollouts", "demo", "checkout")["metadata"]["resourceVersion"]
        w = Where(context="lookout-demo", namespace="demo", kubeconfig=cluster.kubeconfig_path,
                  values={"kind": "rollout", "rollout": "checkout"}, resource_version=rv)
        got = await execute(plan(rb, 0, w), confirmed=True)
        assert got.state == "ok", list(got.lines)
        assert cluster.state.get("rollouts", "demo", "checkout")["spec"]["restartAt"]
        for _ in range(100):
            if pods() and not (pods() & before):
                break
            await asyncio.sleep(0.1)
        assert pods() and not (pods() & before), (before, pods())


@pytest.mark.kubectl
async def test_deployment_restart_and_scale_are_refused_when_the_deployment_changed_since_shown():
    """restart and scale of a Deployment carry the resourceVersion shown at the confirmation (a merge patch naming
    it; kubectl scale --resource-version): a Deployment changed since is left alone, and the refusal is recognised."""
    require_tool("kubectl")
    from e2e_support import demo_cluster
    from tui.runbooks.runner import changed_since_shown

    async with demo_cluster(scenario="bluegreen-switch", speed=1) as cluster:
        rb = one("id: a\ntitle: A\nsteps:\n  - {title: t, why: w, action: restart}\n"
                 "  - {title: t, why: w, action: {name: scale, replicas: 4}}\n")

        def dep():
            return cluster.state.get("deployments", "demo", "checkout-blue")

        def where_at(rv: str) -> Where:
            return Where(context="lookout-demo", namespace="demo", kubeconfig=cluster.kubeconfig_path,
                         values={"kind": "deployment", "rollout": "checkout-blue"}, resource_version=rv)

        for i in (0, 1):
            shown = plan(rb, i, where_at(dep()["metadata"]["resourceVersion"]))
            cluster.state.mutate("deployments", "demo", "checkout-blue",
                                 lambda o: o["metadata"].setdefault("annotations", {}).__setitem__("someone", str(i)))
            before = dep()["spec"]
            stale = await execute(shown, confirmed=True)
            assert stale.state == "failed" and changed_since_shown(shown, stale), list(stale.lines)
            assert dep()["spec"] == before
        restart = await execute(plan(rb, 0, where_at(dep()["metadata"]["resourceVersion"])), confirmed=True)
        assert restart.state == "ok", list(restart.lines)
        assert "kubectl.kubernetes.io/restartedAt" in dep()["spec"]["template"]["metadata"]["annotations"]
        scale = await execute(plan(rb, 1, where_at(dep()["metadata"]["resourceVersion"])), confirmed=True)
        assert scale.state == "ok" and not changed_since_shown(plan(rb, 1, where_at("1")), scale), list(scale.lines)
        assert dep()["spec"]["replicas"] == 4
