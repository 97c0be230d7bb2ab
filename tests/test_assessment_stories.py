"""The moments that matter, one test per story of issue "One assessment": abort, outage, switch, crash loop.

Each plays the demo cluster's own scenario (the full story on the demo clock, tests/assessment_support.py) or
talks to the demo cluster over HTTPS, and checks what the one assessment says at that moment.
"""

from __future__ import annotations

import json
import time

import pytest

from assessment_support import Player, played
from e2e_support import demo_cluster, open_session
from tui.assessment import assess, cell_of
from tui.rollout.findings import Finding
from test_status import cluster  # noqa: F401 - the fixture: a demo cluster in a thread


def codes(a) -> set[str]:
    return {f.code for f in a.findings}


# ---- 1. an aborted rollout reads ROLLBACK, with the figures that made it and the analysis that failed -------

async def test_bad_canary_after_the_abort_is_rollback_with_its_figures_and_analysis():
    p = await played("bad-canary", 120)
    by_t = dict(p.assessments)
    before = by_t[40.0]  # figures past the rollback criteria, not aborted yet
    assert before.decision == "rollback" and before.outcome.state in ("paused", "progressing")
    assert any(f.severity == "critical" for f in before.findings), "rollback beside 'no findings'"
    after = by_t[120.0]
    assert after.outcome.state == "aborted"
    assert after.decision == "rollback" and after.exit_code == 1
    first = after.verdict.reasons[0]
    assert first.code == "rollout-aborted"
    assert "failed (3) > failureLimit (2)" in first.text  # the AnalysisRun's own message
    assert "p99" in first.text and "canary at" in first.text  # the last candidate figures seen before the abort
    values = dict(first.values)
    assert values["latency_p99_s"] > 0.5 and values["error_ratio"] > 0.05
    assert after.cell("rollout").level == "critical" and after.cell("rollout").word == "aborted"
    assert after.cell("metrics").word == "rollback"
    assert after.title.startswith("ROLLBACK · checkout")
    # every second from the abort on: never promote, never an all-green matrix
    for t, a in p.assessments:
        if t >= 46:
            assert a.decision == "rollback", (t, a.verdict)


@pytest.mark.parametrize("cluster", [("bad-canary", 4.0)], indirect=True)
def test_lookout_status_after_the_abort_says_rollback_and_quotes_the_analysis(cluster, tmp_path, capsys):
    from test_status import fast_config, parse, run_status

    deadline = time.monotonic() + 30
    while not (cluster.call(cluster.cluster.state.get, "rollouts", "demo", "checkout") or {}).get(
            "status", {}).get("abort"):
        assert time.monotonic() < deadline, "the scenario did not abort"
        time.sleep(0.2)
    code = run_status(parse(["--kubeconfig", cluster.kubeconfig_path, "--app", "checkout", "--json",
                             "--config", fast_config(tmp_path)]))
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["exit_code"] == 1
    assert out["verdict"]["decision"] == "rollback", out["verdict"]
    assert out["rollout"]["outcome"] == "aborted"
    first = out["verdict"]["reasons"][0]
    assert first["code"] == "rollout-aborted"
    # this run never saw the canary: it quotes the failed AnalysisRun's measurements instead
    assert first["values"]["analysis_run"] == "checkout-error-rate-2"
    assert "0.128" in first["values"]["measurements"]
    assert {h["cell"]: h["level"] for h in out["health"]}["rollout"] == "critical"


# ---- 2. a Service outage is critical within seconds, and clears within seconds of the fix -----------------

async def test_service_selector_outage_is_critical_at_once_and_clears_after_the_fix():
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        session = await open_session(cluster)
        await session.start()
        try:
            async def until(pred, timeout, what):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    a = session.assess()
                    if pred(a):
                        return a
                    await _sleep(0.25)
                raise AssertionError(f"timed out after {timeout}s waiting for {what}: {session.assess()}")

            await until(lambda a: a.cell("endpoints").level == "healthy" and session.metrics is not None, 20,
                        "healthy endpoints and a metrics reading")

            def typo(svc):
                svc["spec"]["selector"] = {"app": "checkout-typo"}

            cluster.state.mutate("services", "demo", "checkout", typo)
            t0 = time.monotonic()
            a = await until(lambda a: a.cell("endpoints").level == "critical", 15, "a critical endpoints cell")
            assert time.monotonic() - t0 < 15
            assert "service-selects-no-pods" in codes(a)
            assert a.decision != "promote" and a.exit_code == 1

            def fix(svc):
                svc["spec"]["selector"] = {"app": "checkout"}

            cluster.state.mutate("services", "demo", "checkout", fix)
            t1 = time.monotonic()
            a = await until(lambda a: a.cell("endpoints").level != "critical"
                            and "service-selects-no-pods" not in codes(a), 12, "the outage to clear")
            assert time.monotonic() - t1 < 12
        finally:
            await session.stop()


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


# ---- 3. a correct blue/green passes: roles from the traffic, no no-traffic for the standby ---------------

async def test_bluegreen_switch_roles_follow_the_traffic_and_a_good_switch_passes():
    p = await played("bluegreen-switch", 120)
    by_t = dict(p.assessments)
    assert (by_t[20.0].roles.baseline, by_t[20.0].roles.candidate) == ("blue", "green")
    assert by_t[20.0].roles.standby == frozenset({"green"})
    end = by_t[120.0]
    assert (end.roles.baseline, end.roles.candidate) == ("green", "blue")  # the new colour serves now
    assert end.roles.standby == frozenset({"blue"})
    assert end.decision == "promote" and end.exit_code == 0, (end.verdict, end.findings)
    for t, a in p.assessments:
        assert "no-traffic" not in codes(a), t
        assert not any(c.level == "critical" for c in a.cells), (t, a.cells)  # never critical on the way


async def test_a_healthy_finished_canary_exits_0():
    p = await played("healthy-canary", 150)
    end = p.assessments[-1][1]
    assert end.outcome.state == "healthy" and end.decision == "promote" and end.exit_code == 0, end
    assert not any(c.level in ("critical", "degraded") for c in end.cells), end.cells


async def test_config_drift_green_idle_before_the_switch_is_no_fault():
    p = await played("config-drift", 60)
    a = p.assessments[-1][1]
    assert (a.roles.baseline, a.roles.standby) == ("blue", frozenset({"green"}))
    assert "no-traffic" not in codes(a) and a.decision == "promote"
    assert a.verdict.reasons[0].code == "standby-idle"
    # what remains is the scenario's own genuine warnings: its Deployments have no readiness probe, and blue and
    # green differ in configuration (the story itself), named by kind
    assert {f.code for f in a.findings if f.severity != "info"} <= {"readiness-probe-missing", "environments-differ"}
    drift = next(f for f in a.findings if f.code == "environments-differ")
    assert drift.severity == "warning" and "2 env vars, 3 ConfigMap keys, 1 Secret key" in drift.summary
    assert a.cell("rollout").level == "degraded" and "environments-differ" in a.cell("rollout").detail
    assert a.cell("rollout").word == "warning"  # a Healthy Rollout with a drift warning is not "degraded"


def test_a_worker_with_no_port_expects_no_traffic():
    from tui.rollout.roles import traffic_roles

    def pod(name, track, ports):
        return {"metadata": {"name": name, "labels": {"app": "w", "track": track}},
                "spec": {"containers": [{"name": "c", **({"ports": [{"containerPort": 8080}]} if ports else {})}]},
                "status": {"phase": "Running"}}

    pods = [pod("a", "stable", False), pod("b", "canary", False)]
    roles = traffic_roles(pods, lambda p: p["metadata"]["labels"]["track"], [])
    assert roles.no_http == frozenset({"stable", "canary"}) and roles.quiet == roles.no_http
    served = traffic_roles([pod("a", "stable", True)], lambda p: "stable", [])
    assert served.no_http == frozenset()


# ---- 4. a crash-looping candidate rolls back, naming the pod, container, reason and exit code -------------

async def test_crashloop_candidate_is_rollback_with_pod_container_reason_and_exit_code():
    p = await played("crashloop", 60)
    a = p.assessments[-1][1]
    assert a.decision == "rollback" and a.exit_code == 1
    r = next(r for r in a.verdict.reasons if r.code == "candidate-failing")
    v = dict(r.values)
    assert v["track"] == "canary" and v["pod"].startswith("checkout-") and v["container"] == "app"
    assert v["reason"] in ("CrashLoopBackOff", "Error") and v["exit_code"] == 1
    assert "exit code 1" in r.text


# ---- 5. the matrix and the strip read the same findings ---------------------------------------------------

def test_dns_cell_and_strip_come_from_the_same_findings():
    from tui.network.dns import DnsAnswer
    from tui.network.view import NetworkView

    answer = DnsAnswer(name="checkout.demo.lookout.dev", server="127.0.0.1", addresses=("10.96.0.10",))
    view = NetworkView("demo", dns=(answer,))
    stale = Finding("dns-stale", "warning", None, "checkout.demo.lookout.dev still points at blue")
    with_finding = assess(now=0.0, rollout="Label/checkout", kind=None, workload=None, summary=None, pod_rows=(),
                          findings=[stale], compare=None, network_view=view)
    assert with_finding.cell("DNS").level == "degraded" and "dns-stale" in with_finding.cell("DNS").detail
    assert cell_of("dns-stale") == "DNS"
    without = assess(now=0.0, rollout="Label/checkout", kind=None, workload=None, summary=None, pod_rows=(),
                     findings=[], compare=None, network_view=view)
    assert without.cell("DNS").level == "healthy"


async def test_one_player_story_is_deterministic():
    a = await played("bad-canary", 60)
    b = await played("bad-canary", 60)
    assert [(t, x.decision, x.exit_code) for t, x in a.assessments] == \
           [(t, x.decision, x.exit_code) for t, x in b.assessments]
    assert isinstance(Player, type)
