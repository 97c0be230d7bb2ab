"""The demo cluster's Argo analysis controller, as Argo's behaves: each test names the Argo source case it follows
(argo-rollouts at 9f8d111, analysis/analysis_test.go, utils/evaluate/evaluate_test.go, rollout/analysis.go).

Conditions go through tui/demo/exprlang.py (expr-lang translated for simpleeval), queries through tui/demo/promql.py
over the traffic model; the Rollout side through the simulated Rollout controller, played with a hand-moved clock,
and Argo's own example manifests through the real kubectl.
"""
from __future__ import annotations

import json
import math
import os
import time

import pytest

from kubectl_support import Kubectl, cluster, versioned_kubectl  # noqa: F401 - cluster: the fixture
from tui.demo.controllers.analysis import assess_metric, failure_inconclusive_or_error, resolve_args
from tui.demo.exprlang import ExprError, eval_condition, evaluate_result
from tui.demo.promql import QueryError, evaluate as promql, format_value
from tui.demo.scenario import parse_scenario
from tui.demo.sim import ManualClock, Simulation
from tui.demo.state import ClusterState

CLUSTER_KWARGS = {"speed": 10.0}
FIX = os.path.join(os.path.dirname(__file__), "fixtures", "argo-rollouts")


# ================================================================ conditions (utils/evaluate/evaluate_test.go)

def test_evaluate_result_success_failure_inconclusive():
    """TestEvaluateResultWithSuccess, TestEvaluateResultWithFailure, TestEvaluateResultInconclusive,
    TestEvaluateResultNoSuccessConditionAndNotFailing, TestEvaluateResultNoFailureConditionAndNotSuccessful,
    TestEvaluateResultNoFailureConditionAndNoSuccessCondition."""
    assert evaluate_result(True, "true", "false") == ("Successful", None)
    assert evaluate_result(True, "true", "true") == ("Failed", None)
    assert evaluate_result(True, "false", "false") == ("Inconclusive", None)
    assert evaluate_result(True, None, "false") == ("Successful", None)
    assert evaluate_result(True, "false", None) == ("Failed", None)
    assert evaluate_result(True, None, None) == ("Successful", None)


def test_evaluate_result_errors_name_the_condition():
    """TestEvaluateResultWithErrorOnSuccessCondition, TestEvaluateResultErrorMessageWithEmptySlice,
    TestEvaluateResultErrorMessageOnFailureCondition: the message names the condition and, for no data, says so."""
    phase, msg = evaluate_result([], "result[0] < 0.05", None)
    assert phase == "Error"
    assert msg == ('could not evaluate successCondition "result[0] < 0.05": metric result is nil or empty: '
                   "no data returned from the metric provider")
    phase, msg = evaluate_result([0.5], None, "result[0] > ")
    assert phase == "Error" and msg.startswith('could not evaluate failureCondition "result[0] > ": ')


def test_condition_shapes_analysis_templates_use():
    """TestEvaluateConditionWithSuccess / WithFailure, TestEvaluateInOperator, TestEvaluateFloat64, TestEvaluateArray's
    `all(..., {# > 1})`, and the shapes of Argo's docs: `len(result) == 0 || ...`, `isNaN`, `&&`, `!`."""
    assert eval_condition(True, "result == true") is True
    assert eval_condition(False, "result == true") is False
    assert eval_condition([2.0, 2.0], "2 in result") is True
    assert eval_condition(5.0, "result > 1") is True
    assert eval_condition([2.0, 2.0], "all(result, {# > 1})") is True
    assert eval_condition([0.2, 0.7], "all(result, {# < 0.5})") is False
    assert eval_condition([0.2, 0.7], "any(result, # < 0.5)") is True
    assert eval_condition([0.01], "result[0] < 0.05") is True
    assert eval_condition([0.96], "result[0] >= 0.95") is True
    assert eval_condition([], "len(result) == 0 || result[0] < 0.05") is True
    assert eval_condition(math.nan, "isNaN(result)") is True
    assert eval_condition([math.nan], "isNaN(result[0]) || result[0] < 0.05") is True
    assert eval_condition([0.3], "!(result[0] > 0.5) && result[0] > 0.1") is True
    assert eval_condition(3.0, "asInt(result) == 3") is True


def test_condition_errors():
    """TestErrorWithNonBoolReturn ("expected bool, but got int"), TestErrorWithInvalidReference
    ("unknown name invalidVariable"); a ternary the demo does not translate is an error, never a guess."""
    with pytest.raises(ExprError, match="^expected bool, but got int$"):
        eval_condition(True, "1")
    with pytest.raises(ExprError, match="^unknown name invalidVariable$"):
        eval_condition(True, "invalidVariable")
    with pytest.raises(ExprError, match="does not support"):
        eval_condition(1.0, "result > 0 ? true : false")
    with pytest.raises(ExprError, match="index out of range"):
        eval_condition([], "result[0] < 1")
    with pytest.raises(ExprError):
        eval_condition([1.0], "__import__('os')")


# ================================================================ limits (analysis/analysis_test.go)

def _result(**kw):
    phase = kw.pop("last", "Failed")
    return {"measurements": [{"phase": phase, "value": "99"}], **kw}


def test_assess_metric_status_failure_limit():
    """TestAssessMetricStatusFailureLimit."""
    metric = {"name": "success-rate", "failureLimit": 2, "interval": "60s"}
    result = _result(failed=3, count=3)
    assert assess_metric(metric, result, False) == "Failed"
    assert assess_metric(metric, result, True) == "Failed"
    metric["failureLimit"] = 3
    assert assess_metric(metric, result, False) == "Running"
    assert assess_metric(metric, result, True) == "Successful"


def test_assess_metric_status_inconclusive_limit():
    """TestAssessMetricStatusInconclusiveLimit."""
    metric = {"name": "success-rate", "inconclusiveLimit": 2, "interval": "60s"}
    result = _result(inconclusive=3, count=3, last="Inconclusive")
    assert assess_metric(metric, result, False) == "Inconclusive"
    assert assess_metric(metric, result, True) == "Inconclusive"
    metric["inconclusiveLimit"] = 3
    assert assess_metric(metric, result, False) == "Running"
    assert assess_metric(metric, result, True) == "Successful"


def test_assess_metric_status_consecutive_errors():
    """TestAssessMetricStatusConsecutiveErrors: the default consecutiveErrorLimit is 4."""
    metric = {"name": "success-rate", "interval": "60s"}
    result = _result(consecutiveError=5, count=5, last="Error")
    assert assess_metric(metric, result, False) == "Error"
    assert assess_metric(metric, result, True) == "Error"
    result["consecutiveError"] = 4
    assert assess_metric(metric, result, True) == "Successful"
    assert assess_metric(metric, result, False) == "Running"


def test_assess_metric_status_count_reached():
    """TestAssessMetricStatusCountReached."""
    metric = {"name": "success-rate", "count": 10}
    result = _result(successful=10, count=10, last="Successful")
    assert assess_metric(metric, result, False) == "Successful"
    result.update(successful=5, inconclusive=5)
    assert assess_metric(metric, result, False) == "Inconclusive"


def test_assess_metric_failure_inconclusive_or_error_messages():
    """TestAssessMetricFailureInconclusiveOrError: Argo's exact words."""
    assert failure_inconclusive_or_error({}, {"failed": 1}) == ("Failed", "failed (1) > failureLimit (0)")
    assert failure_inconclusive_or_error({}, {"inconclusive": 1}) == (
        "Inconclusive", "inconclusive (1) > inconclusiveLimit (0)")
    assert failure_inconclusive_or_error({}, {"consecutiveError": 5}) == (
        "Error", "consecutiveErrors (5) > consecutiveErrorLimit (4)")
    assert failure_inconclusive_or_error({"failureLimit": -1}, {"failed": 9}) == ("", "")


def test_resolve_metric_args():
    """TestResolveMetricArgsUnableToSubstitute: an argument the run does not have is an error naming it."""
    assert resolve_args('{"q": "x{h=\\"{{args.canary-hash}}\\"}"}', [{"name": "canary-hash", "value": "abc"}]) == \
        '{"q": "x{h=\\"abc\\"}"}'
    from tui.demo.controllers.analysis import AnalysisSpecError
    with pytest.raises(AnalysisSpecError, match=r"failed to resolve \{\{args.missing\}\}"):
        resolve_args("{{args.missing}}", [])


# ================================================================ queries over the traffic model

def _pods(window):
    labels = lambda n, h: {"namespace": "demo", "pod": n, "instance": n, "job": "lookout-demo-pods",  # noqa: E731
                           "app": "web", "rollouts_pod_template_hash": h}
    # one request vector each: GET 200, 404, 500, 503 then POST ... (see traffic.request_series), buckets, count
    from tui.demo.traffic import _LEN, BUCKET_INDEX, COUNT_INDEX
    a = [0.0] * _LEN
    a[0], a[2] = 90.0, 10.0     # GET 200 x90, GET 500 x10
    a[BUCKET_INDEX + 4] = 50.0  # le=0.1
    for j in range(5, 10):
        a[BUCKET_INDEX + j] = 100.0
    a[COUNT_INDEX] = 100.0
    b = [0.0] * _LEN
    b[0] = 100.0
    b[COUNT_INDEX] = 100.0
    return [(labels("web-c-1", "canary1"), a), (labels("web-s-1", "stable1"), b)]


def test_promql_error_rate_and_quantile_over_the_model():
    """The query shapes of Argo's analysis docs, evaluated over counter increases (rate = increase / range)."""
    q = ('sum(rate(http_requests_total{code=~"5..",rollouts_pod_template_hash="canary1"}[1m])) / '
         'sum(rate(http_requests_total{rollouts_pod_template_hash="canary1"}[1m]))')
    out = promql(q, _pods)
    assert [v for _, v in out] == [pytest.approx(0.1)]
    p50 = promql('histogram_quantile(0.5, sum(rate('
                 'http_request_duration_seconds_bucket{app="web",pod="web-c-1"}[5m])) by (le))',
                 _pods)
    assert [v for _, v in p50] == [pytest.approx(0.1)]
    assert promql('sum(rate(http_requests_total{rollouts_pod_template_hash="nope"}[1m]))', _pods) == []
    assert promql("scalar(sum(increase(http_requests_total[1m])))", _pods) == pytest.approx(200.0)
    with pytest.raises(QueryError, match='no metric "istio_requests_total"'):
        promql('sum(irate(istio_requests_total{reporter="source"}[5m]))', _pods)
    with pytest.raises(QueryError, match="cannot evaluate function"):
        promql("predict_linear(http_requests_total[5m], 60)", _pods)
    assert format_value(0.1) == "0.1" and format_value(math.nan) == "NaN" and format_value(1e-7) == "0.0000001"


# ================================================================ the Rollout side, on a simulation

SCENARIO = """
name: unit
plays: "000 test"
app: web
namespace: demo
tracks:
  stable: {image: "registry.demo/web:1"}
  canary: {image: "registry.demo/web:2"}
traffic:
  service: web
  rps: 100
  tracks:
    stable: {error_rate: 0.001, p50: 0.02, p99: 0.2}
    canary: {error_rate: CANARY_ERRORS, p50: 0.05, p99: 0.9}
manifests:
  - {apiVersion: v1, kind: Namespace, metadata: {name: demo}}
  - apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: demo}
    spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
  - apiVersion: argoproj.io/v1alpha1
    kind: AnalysisTemplate
    metadata: {name: error-rate, namespace: demo}
    spec:
      args: [{name: canary-hash}]
      metrics:
        - name: error-rate
          interval: 10s
          count: 4
          failureLimit: 1
          successCondition: "len(result) == 0 || isNaN(result[0]) || result[0] < 0.05"
          provider:
            prometheus:
              address: http://prometheus.monitoring.svc:9090
              query: >-
                sum(rate(http_requests_total{code=~"5..",rollouts_pod_template_hash="{{args.canary-hash}}"}[30s]))
                / sum(rate(http_requests_total{rollouts_pod_template_hash="{{args.canary-hash}}"}[30s]))
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: web, namespace: demo}
    spec:
      replicas: 4
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: app, image: "registry.demo/web:1", ports: [{name: http, containerPort: 8080}]}]}
      strategy:
        canary:
          steps:
            - setWeight: 25
            - analysis:
                templates: [{templateName: error-rate}]
                args: [{name: canary-hash, valueFrom: {podTemplateHashValue: Latest}}]
            - setWeight: 50
timeline:
  - {at: 2, set_image: {kind: Rollout, name: web, container: app, image: "registry.demo/web:2"}}
"""


async def _play(canary_errors: float, seconds: float, seed: int = 1):
    state = ClusterState()
    sim = Simulation(state, scenario=parse_scenario(SCENARIO.replace("CANARY_ERRORS", str(canary_errors))),
                     seed=seed, clock=ManualClock())
    await sim.start(background=False)
    sim.advance(seconds)
    return sim, state


def _runs(state):
    return {r["metadata"]["name"]: r for r in state.list("analysisruns", "demo")[0]}


async def test_canary_analysis_step_fails_and_aborts_the_rollout():
    """rollout/analysis.go reconcileStepBasedAnalysisRun + analysis/analysis.go assessRunStatus (TestReconcileAnalysis
    RunInitial, TestAssessRunStatusErrorMessageAnalysisPhaseFail): the step's run is named
    `<rollout>-<hash>-<revision>-<step>`, labelled and owned as Argo does, measured every interval from the canary's
    counters; failed (2) > failureLimit (1) fails it and the Rollout aborts with Argo's message."""
    sim, state = await _play(0.12, 60)
    ro = state.get("rollouts", "demo", "web")
    h = ro["status"]["currentPodHash"]
    runs = _runs(state)
    name = f"web-{h}-2-1"
    assert list(runs) == [name]
    run = runs[name]
    assert run["metadata"]["labels"] == {"rollouts-pod-template-hash": h, "rollout-type": "Step",
                                         "rollouts.argoproj.io/canary-step-index": "1", "app": "web"}
    assert run["metadata"]["annotations"] == {"rollout.argoproj.io/revision": "2"}
    assert run["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    assert run["spec"]["args"] == [{"name": "canary-hash", "value": h}]
    st = run["status"]
    assert st["phase"] == "Failed"
    assert st["message"] == 'Metric "error-rate" assessed Failed due to failed (2) > failureLimit (1)'
    mr = st["metricResults"][0]
    assert mr["phase"] == "Failed" and mr["failed"] == 2 and mr["count"] == mr["successful"] + 2
    assert f'rollouts_pod_template_hash="{h}"' in mr["metadata"]["ResolvedPrometheusQuery"]
    failed = [m for m in mr["measurements"] if m["phase"] == "Failed"]
    assert [float(m["value"].strip("[]")) for m in failed] == [pytest.approx(0.12), pytest.approx(0.12)]
    assert all(m["startedAt"] and m["finishedAt"] for m in mr["measurements"])
    rs = ro["status"]
    assert rs["phase"] == "Degraded" and rs["abort"] is True
    assert rs["message"] == ("RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase "
                             'error/failed: Metric "error-rate" assessed Failed due to failed (2) > failureLimit (1)')
    reasons = [e["reason"] for e in state.list("events", "demo")[0] if e["involvedObject"]["name"] == name]
    assert "MetricFailed" in reasons and "AnalysisRunFailed" in reasons


async def test_canary_analysis_step_passes_and_the_rollout_goes_on():
    """rollout/canary.go completedCurrentCanaryStep: a Successful step run moves the Rollout to the next step."""
    sim, state = await _play(0.01, 60)
    run = next(iter(_runs(state).values()))
    st = run["status"]
    assert st["phase"] == "Successful" and st["metricResults"][0]["count"] == 4
    assert st["runSummary"] == {"count": 1, "successful": 1}
    ro = state.get("rollouts", "demo", "web")
    assert ro["status"]["currentStepIndex"] >= 2


async def test_canary_analysis_same_story_for_the_same_seed():
    """Deterministic: two plays with one seed give the same runs, values and phases."""
    def story(state):
        return [(n, r["status"]["phase"], [m.get("value") for m in r["status"]["metricResults"][0]["measurements"]])
                for n, r in sorted(_runs(state).items())]
    _, a = await _play(0.12, 60, seed=4)
    _, b = await _play(0.12, 60, seed=4)
    assert story(a) == story(b)


async def test_bluegreen_analysis_scenario_fails_its_preview_and_aborts():
    """Scenario argo-bluegreen-analysis: rollout/analysis.go reconcilePrePromotionAnalysisRun (`-pre`, labels
    rollout-type PrePromotion), setPauseOrAbortForBlueGreen's message; the active Service stays on blue."""
    results = []
    for _ in range(2):
        state = ClusterState()
        sim = Simulation(state, scenario="argo-bluegreen-analysis", seed=7, clock=ManualClock())
        await sim.start(background=False)
        sim.advance(45)
        ro = state.get("rollouts", "demo", "checkout")
        h, stable = ro["status"]["currentPodHash"], ro["status"]["stableRS"]
        run = state.get("analysisruns", "demo", f"checkout-{h}-2-pre")
        assert run["metadata"]["labels"]["rollout-type"] == "PrePromotion"
        assert run["status"]["phase"] == "Failed"
        assert ro["status"]["message"] == (
            "RolloutAborted: Rollout aborted update to revision 2: Blue/green pre-promotion analysis phase "
            'error/failed: Metric "preview-error-rate" assessed Failed due to failed (2) > failureLimit (1)')
        assert ro["status"]["blueGreen"]["prePromotionAnalysisRunStatus"]["status"] == "Failed"
        active = state.get("services", "demo", "checkout-active")["spec"]["selector"]
        assert active["rollouts-pod-template-hash"] == stable != h
        results.append(json.dumps([m.get("value") for m in run["status"]["metricResults"][0]["measurements"]]))
    assert results[0] == results[1]
    assert any(v.startswith("[0.0") and float(v.strip("[]")) == pytest.approx(0.09) for v in json.loads(results[0]))


# ================================================================ Argo's examples through the real kubectl

@pytest.mark.kubectl
def test_argo_rollout_analysis_step_example_with_kubectl(cluster, tmp_path_factory):
    """examples/rollout-analysis-step.yaml with examples/analysis-templates.yaml and cluster-analysis-templates.yaml:
    their metrics use the `job` provider, which the demo does not run, so each measurement is an Error with that
    reason, retried every 10 s (DefaultErrorRetryInterval) until consecutiveErrors (5) > consecutiveErrorLimit (4)
    (TestAssessMetricStatusConsecutiveErrors) and the Rollout aborts (reconcileStepBasedAnalysisRun)."""
    ns = "argo-analysis"
    k = Kubectl(versioned_kubectl("1.33"), cluster.kubeconfig_path, str(tmp_path_factory.mktemp("home")),
                namespace=ns)
    k.run("create", "namespace", ns, namespace=None)
    r = k.run("apply", "-f", os.path.join(FIX, "analysis-templates.yaml"),
              "-f", os.path.join(FIX, "cluster-analysis-templates.yaml"),
              "-f", os.path.join(FIX, "rollout-analysis-step.yaml"))
    assert "rollout.argoproj.io/rollout-analysis-step created" in r.out, r

    def healthy():
        return k.run("get", "rollout", "rollout-analysis-step", "-o", "jsonpath={.status.phase}").out == "Healthy"
    _wait(healthy, "the first revision healthy")
    k.run("patch", "rollout", "rollout-analysis-step", "--type", "json", "-p",
          json.dumps([{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                       "value": "argoproj/rollouts-demo:yellow"}]))

    def failed_run():
        out = json.loads(k.run("get", "analysisruns", "-o", "json").out)["items"]
        return out if out and (out[0].get("status") or {}).get("phase") == "Error" else None
    runs = _wait(failed_run, "the step's AnalysisRun in Error", timeout=40)
    run = runs[0]
    h = run["metadata"]["labels"]["rollouts-pod-template-hash"]
    assert run["metadata"]["name"] == f"rollout-analysis-step-{h}-2-1"
    st = run["status"]
    assert st["message"].startswith('Metric "random-fail" assessed Error due to consecutiveErrors (5) > '
                                    'consecutiveErrorLimit (4): "Error Message: provider "job" not simulated')
    for mr in st["metricResults"]:
        assert mr["error"] == 5 and mr["consecutiveError"] == 5 and all(
            m["phase"] == "Error" and m["message"] == 'provider "job" not simulated by the demo cluster'
            for m in mr["measurements"])
    assert sorted(mr["name"] for mr in st["metricResults"]) == ["pass", "random-fail"]

    def aborted():
        ro = json.loads(k.run("get", "rollout", "rollout-analysis-step", "-o", "json").out)
        return ro if ro["status"].get("phase") == "Degraded" else None
    ro = _wait(aborted, "the Rollout aborted")
    assert ro["status"]["message"].startswith(
        "RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed: ")
    r = k.run("get", "analysisruns")
    assert r.out.split()[:2] == ["NAME", "STATUS"] and "Error" in r.out, r


def _wait(fn, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout}s")
        time.sleep(0.2)


# ================================================================ background analysis, inconclusive, retry, dry-run

BACKGROUND = SCENARIO.replace("""            - analysis:
                templates: [{templateName: error-rate}]
                args: [{name: canary-hash, valueFrom: {podTemplateHashValue: Latest}}]
            - setWeight: 50""", """            - pause: {duration: 120s}
            - setWeight: 50
          analysis:
            startingStep: 1
            templates: [{templateName: error-rate}]
            args: [{name: canary-hash, valueFrom: {podTemplateHashValue: Latest}}]""")


async def _play_text(text: str, seconds: float, seed: int = 1):
    state = ClusterState()
    sim = Simulation(state, scenario=parse_scenario(text), seed=seed, clock=ManualClock())
    await sim.start(background=False)
    sim.advance(seconds)
    return sim, state


async def test_background_analysis_runs_from_its_starting_step_and_aborts():
    """rollout/analysis.go reconcileBackgroundAnalysisRun: one run (no step infix, rollout-type Background) from
    startingStep; its failure aborts the Rollout with "Background analysis phase error/failed"."""
    sim, state = await _play_text(BACKGROUND.replace("CANARY_ERRORS", "0.2"), 60)
    ro = state.get("rollouts", "demo", "web")
    h = ro["status"]["currentPodHash"]
    run = state.get("analysisruns", "demo", f"web-{h}-2")
    assert run["metadata"]["labels"]["rollout-type"] == "Background"
    assert "rollouts.argoproj.io/canary-step-index" not in run["metadata"]["labels"]
    assert run["status"]["phase"] == "Failed"
    assert ro["status"]["message"].startswith(
        "RolloutAborted: Rollout aborted update to revision 2: Background analysis phase error/failed: "
        'Metric "error-rate" assessed Failed due to failed (2) > failureLimit (1)')


async def test_background_analysis_is_terminated_when_the_rollout_completes():
    """reconcileAnalysisRuns cancels the current runs once fully promoted (`{"spec":{"terminate":true}}`); a
    terminated run ends Successful with "Run Terminated" (assessRunStatus, TestTerminateAnalysisRun)."""
    text = BACKGROUND.replace("CANARY_ERRORS", "0.001").replace("          count: 4\n", "")  # runs until cancelled
    sim, state = await _play_text(text, 30)
    ro = state.get("rollouts", "demo", "web")
    h = ro["status"]["currentPodHash"]
    assert state.get("analysisruns", "demo", f"web-{h}-2")["status"]["phase"] == "Running"
    sim._rollout_action("promote", {"name": "web", "full": True})
    sim.advance(20)
    run = state.get("analysisruns", "demo", f"web-{h}-2")
    assert run["spec"]["terminate"] is True
    assert run["status"]["phase"] == "Successful" and run["status"]["message"] == "Run Terminated"
    assert state.get("rollouts", "demo", "web")["status"]["phase"] == "Healthy"


INCONCLUSIVE = SCENARIO.replace(
    'successCondition: "len(result) == 0 || isNaN(result[0]) || result[0] < 0.05"',
    'successCondition: "len(result) == 0 || isNaN(result[0]) || result[0] < 0.05"\n'
    '          failureCondition: "len(result) > 0 && result[0] > 0.5"')


async def test_inconclusive_step_analysis_pauses_and_promote_runs_it_again():
    """TestAssessMetricStatusInconclusiveLimit through the Rollout: between the conditions the measurement is
    Inconclusive, the run ends Inconclusive and the Rollout pauses (InconclusiveAnalysisRun); promote (pause
    conditions cleared) makes needsNewAnalysisRun start another run, `.1` after the collision counter."""
    sim, state = await _play_text(INCONCLUSIVE.replace("CANARY_ERRORS", "0.2"), 40)
    ro = state.get("rollouts", "demo", "web")
    h = ro["status"]["currentPodHash"]
    run = state.get("analysisruns", "demo", f"web-{h}-2-1")
    assert run["status"]["phase"] == "Inconclusive"
    assert run["status"]["message"] == 'Metric "error-rate" assessed Inconclusive due to inconclusive (1) > ' \
                                       "inconclusiveLimit (0)"
    assert [p["reason"] for p in ro["status"]["pauseConditions"]] == ["InconclusiveAnalysisRun"]
    assert ro["status"]["phase"] == "Paused" and ro["status"]["message"] == "InconclusiveAnalysisRun"
    assert sim._rollout_action("promote", {"name": "web"})
    sim.advance(1)
    assert state.get("analysisruns", "demo", f"web-{h}-2-1.1") is not None


async def test_retry_after_a_failed_step_analysis_runs_it_again():
    """`kubectl argo rollouts retry` (`{"status":{"abort":false}}`): the steps start over and the analysis step gets
    a new run (CreateWithCollisionCounter names it `.1`)."""
    sim, state = await _play(0.12, 60)
    h = state.get("rollouts", "demo", "web")["status"]["currentPodHash"]
    assert state.get("analysisruns", "demo", f"web-{h}-2-1")["status"]["phase"] == "Failed"
    sim._rollout_action("retry", {"name": "web"})
    sim.advance(15)
    again = state.get("analysisruns", "demo", f"web-{h}-2-1.1")
    assert again is not None and again["metadata"]["labels"]["rollout-type"] == "Step"


DRYRUN = SCENARIO.replace("    spec:\n      args: [{name: canary-hash}]",
                          "    spec:\n      dryRun: [{metricName: error-rate}]\n      args: [{name: canary-hash}]")


async def test_dry_run_metric_failures_do_not_fail_the_run():
    """TestAssessRunStatusErrorMessageAnalysisPhaseFailInDryRunMode: a dry-run metric's failure is recorded on the
    metric ("Metric assessed Failed due to ...") and the dryRunSummary; the run and the Rollout go on."""
    st = ClusterState()
    sim = Simulation(st, scenario=parse_scenario(DRYRUN.replace("CANARY_ERRORS", "0.12")), seed=1, clock=ManualClock())
    await sim.start(background=False)
    sim.advance(60)
    h = st.get("rollouts", "demo", "web")["status"]["currentPodHash"]
    run = st.get("analysisruns", "demo", f"web-{h}-2-1")
    assert run["spec"]["dryRun"] == [{"metricName": "error-rate"}]
    mr = run["status"]["metricResults"][0]
    assert mr["dryRun"] is True and mr["phase"] == "Failed"
    assert mr["message"] == "Metric assessed Failed due to failed (2) > failureLimit (1)"
    assert run["status"]["phase"] == "Successful"
    assert run["status"]["dryRunSummary"] == {"count": 1, "failed": 1}
    assert st.get("rollouts", "demo", "web")["status"]["currentStepIndex"] >= 2


async def test_unknown_query_is_an_error_measurement_until_the_consecutive_error_limit():
    """A query the demo cannot evaluate is an Error measurement with the reason, retried every 10 s
    (DefaultErrorRetryInterval); consecutiveErrors (5) > consecutiveErrorLimit (4) ends the run in Error
    (TestAssessMetricStatusConsecutiveErrors) and the message quotes the reason
    (TestAssessRunStatusErrorMessageFromProvider)."""
    text = SCENARIO.replace("http_requests_total", "istio_requests_total").replace("CANARY_ERRORS", "0.01")
    sim, state = await _play_text(text, 70)
    h = state.get("rollouts", "demo", "web")["status"]["currentPodHash"]
    run = state.get("analysisruns", "demo", f"web-{h}-2-1")
    mr = run["status"]["metricResults"][0]
    assert mr["error"] == 5 and mr["consecutiveError"] == 5 and "count" not in mr
    reason = 'the demo\'s traffic model has no metric "istio_requests_total"'
    assert all(m["phase"] == "Error" and m["message"].startswith(reason) for m in mr["measurements"])
    assert run["status"]["phase"] == "Error"
    assert run["status"]["message"].startswith(
        'Metric "error-rate" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): '
        f'"Error Message: {reason}')


def _bluegreen_post(green_errors: float) -> str:
    from tui.demo.scenario import load_scenario
    text = open(load_scenario("argo-bluegreen-analysis").path).read()
    text = text.replace("prePromotionAnalysis:", "postPromotionAnalysis:").replace(
        "green: {error_rate: 0.09,", f"green: {{error_rate: {green_errors},").replace(
        "name: argo-bluegreen-analysis", "name: unit")
    return text


async def test_bluegreen_post_promotion_analysis_failure_switches_active_back():
    """rollout/analysis.go reconcilePostPromotionAnalysisRun (`-post`, rollout-type PostPromotion) and
    setPauseOrAbortForBlueGreen: after the switch the new ReplicaSet is not stable until the run passes
    ("waiting for analysis to complete"); its failure aborts and the active Service goes back to the stable hash."""
    state = ClusterState()
    sim = Simulation(state, scenario=parse_scenario(_bluegreen_post(0.09)), seed=7, clock=ManualClock())
    await sim.start(background=False)
    sim.advance(15)
    ro = state.get("rollouts", "demo", "checkout")
    h, stable = ro["status"]["currentPodHash"], ro["status"]["stableRS"]
    assert h != stable
    assert ro["status"]["phase"] == "Progressing" and ro["status"]["message"] == "waiting for analysis to complete"
    assert state.get("services", "demo", "checkout-active")["spec"]["selector"]["rollouts-pod-template-hash"] == h
    sim.advance(40)
    ro = state.get("rollouts", "demo", "checkout")
    run = state.get("analysisruns", "demo", f"checkout-{h}-2-post")
    assert run["metadata"]["labels"]["rollout-type"] == "PostPromotion" and run["status"]["phase"] == "Failed"
    assert ro["status"]["stableRS"] == stable
    assert ro["status"]["message"].startswith("RolloutAborted: Rollout aborted update to revision 2: Blue/green "
                                              "post-promotion analysis phase error/failed: ")
    assert state.get("services", "demo", "checkout-active")["spec"]["selector"][
        "rollouts-pod-template-hash"] == stable


async def test_bluegreen_post_promotion_analysis_success_completes():
    """completedPostPromotionAnalysis: a Successful post-promotion run makes the new ReplicaSet stable."""
    state = ClusterState()
    sim = Simulation(state, scenario=parse_scenario(_bluegreen_post(0.001)), seed=7, clock=ManualClock())
    await sim.start(background=False)
    sim.advance(70)
    ro = state.get("rollouts", "demo", "checkout")
    h = ro["status"]["currentPodHash"]
    assert state.get("analysisruns", "demo", f"checkout-{h}-2-post")["status"]["phase"] == "Successful"
    assert ro["status"]["stableRS"] == h and ro["status"]["phase"] == "Healthy"
    assert ro["status"]["blueGreen"]["postPromotionAnalysisRunStatus"]["status"] == "Successful"


# ================================================================ experiments

EXPERIMENT = SCENARIO.replace("""            - analysis:
                templates: [{templateName: error-rate}]
                args: [{name: canary-hash, valueFrom: {podTemplateHashValue: Latest}}]""", """            - experiment:
                duration: 30s
                templates: [{name: canary, specRef: canary, replicas: 2}]
                analyses:
                  - name: error-rate
                    templateName: error-rate
                    args: [{name: canary-hash, valueFrom: {podTemplateHashValue: Latest}}]""")


async def test_experiment_step_runs_its_templates_for_the_duration_and_passes():
    """rollout/experiment.go GetExperimentFromTemplate (`<rollout>-<hash>-<revision>-<step>`, templates from the
    canary ReplicaSet) and experiments/experiment.go: a ReplicaSet per template (`<experiment>-<template>`), an
    AnalysisRun per analysis (`<experiment>-<analysis>`), availableAt, Successful after the duration; the step
    completes and the template ReplicaSet scales to zero."""
    sim, state = await _play_text(EXPERIMENT.replace("CANARY_ERRORS", "0.01"), 20)
    ro = state.get("rollouts", "demo", "web")
    h = ro["status"]["currentPodHash"]
    name = f"web-{h}-2-1"
    ex = state.get("experiments.argoproj.io", "demo", name)
    assert ex["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    assert ex["status"]["phase"] == "Running" and ex["status"]["availableAt"]
    ts = ex["status"]["templateStatuses"][0]
    assert (ts["name"], ts["status"], ts["availableReplicas"]) == ("canary", "Running", 2)
    rs = state.get("replicasets", "demo", f"{name}-canary")
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Experiment" and rs["spec"]["replicas"] == 2
    run = state.get("analysisruns", "demo", f"{name}-error-rate")
    assert run["metadata"]["ownerReferences"][0]["kind"] == "Experiment"
    assert ex["status"]["analysisRuns"][0]["analysisRun"] == f"{name}-error-rate"
    sim.advance(40)
    ex = state.get("experiments.argoproj.io", "demo", name)
    assert ex["status"]["phase"] == "Successful", ex["status"]
    assert state.get("replicasets", "demo", f"{name}-canary")["spec"]["replicas"] == 0
    assert state.get("rollouts", "demo", "web")["status"]["currentStepIndex"] >= 2


async def test_experiment_analysis_failure_aborts_the_rollout():
    """rollout/experiment.go reconcileExperiments: a Failed experiment aborts with "Experiment analysis phase is
    error/failed: ..." (its message is the failed analysis run's)."""
    sim, state = await _play_text(EXPERIMENT.replace("CANARY_ERRORS", "0.2"), 45)
    ro = state.get("rollouts", "demo", "web")
    h = ro["status"]["currentPodHash"]
    ex = state.get("experiments.argoproj.io", "demo", f"web-{h}-2-1")
    assert ex["status"]["phase"] == "Failed"
    assert ex["status"]["message"] == 'Metric "error-rate" assessed Failed due to failed (2) > failureLimit (1)'
    assert ro["status"]["message"] == (
        "RolloutAborted: Rollout aborted update to revision 2: Experiment analysis phase is error/failed: "
        'Metric "error-rate" assessed Failed due to failed (2) > failureLimit (1)')


async def test_rollout_events_and_measurement_retention():
    """emitAnalysisRunStatusChanges (rollout/analysis.go): the Rollout's events "Step Analysis Run '<name>' Status New:
    'Failed' Previous: 'Running'"; measurementRetention (GetMeasurementRetentionMetrics) keeps the last N measurements
    where Argo's default keeps 10."""
    text = SCENARIO.replace("CANARY_ERRORS", "0.01").replace(
        "    spec:\n      args: [{name: canary-hash}]",
        "    spec:\n      measurementRetention: [{metricName: error, limit: 2}]\n      args: [{name: canary-hash}]")
    sim, state = await _play_text(text, 60)
    h = state.get("rollouts", "demo", "web")["status"]["currentPodHash"]
    run = state.get("analysisruns", "demo", f"web-{h}-2-1")
    mr = run["status"]["metricResults"][0]
    assert mr["count"] == 4 and len(mr["measurements"]) == 2
    msgs = [e["message"] for e in state.list("events", "demo")[0] if e["involvedObject"]["kind"] == "Rollout"]
    assert f"Step Analysis Run 'web-{h}-2-1' Status New: 'Running' Previous: 'NoPreviousStatus'" in msgs
    assert f"Step Analysis Run 'web-{h}-2-1' Status New: 'Successful' Previous: 'Running'" in msgs


@pytest.mark.kubectl
def test_argo_experiment_with_analysis_example_with_kubectl(cluster, tmp_path_factory):
    """examples/experiment-with-analysis.yaml (experiments/experiment_test.go TestSuccessAfterDurationPasses' shape):
    a ReplicaSet per template (`<experiment>-<template>`, owned by the Experiment), availableAt once both run, an
    AnalysisRun per analysis (`<experiment>-<analysis>`); the analyses use the `job` provider the demo does not run,
    so they end in Error and the Experiment takes the worst analysis' phase and message (calculateStatus)."""
    ns = "argo-experiment"
    k = Kubectl(versioned_kubectl("1.33"), cluster.kubeconfig_path, str(tmp_path_factory.mktemp("home")),
                namespace=ns)
    k.run("create", "namespace", ns, namespace=None)
    r = k.run("apply", "-f", os.path.join(FIX, "analysis-templates.yaml"),
              "-f", os.path.join(FIX, "experiment-with-analysis.yaml"))
    assert "experiment.argoproj.io/experiment-with-analysis created" in r.out, r

    def done():
        ex = json.loads(k.run("get", "experiment", "experiment-with-analysis", "-o", "json").out)
        return ex if (ex.get("status") or {}).get("phase") in ("Error", "Failed", "Successful") else None
    ex = _wait(done, "the Experiment completed", timeout=40)
    st = ex["status"]
    assert st["availableAt"] and [t["name"] for t in st["templateStatuses"]] == ["purple", "orange"]
    assert st["phase"] == "Error"
    assert st["message"].startswith('Metric "random-fail" assessed Error due to consecutiveErrors (5) > '
                                    "consecutiveErrorLimit (4)")
    assert [a["analysisRun"] for a in st["analysisRuns"]] == ["experiment-with-analysis-random-fail",
                                                             "experiment-with-analysis-pass"]
    rs = json.loads(k.run("get", "rs", "experiment-with-analysis-purple", "-o", "json").out)
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Experiment"
    _wait(lambda: json.loads(k.run("get", "rs", "experiment-with-analysis-purple", "-o", "json").out)["spec"][
        "replicas"] == 0, "the template ReplicaSet scaled down")


def test_traffic_window_stats_for_the_analysis_controllers():
    """tui/demo/traffic.py `TrafficModel.window_stats` (for the Argo and Flagger controllers): requests, 5xx share and a
    latency quantile of some pods over a window, from the same counters /metrics serves; a pod that joined inside the
    window counts from then."""
    from tui.demo.scenario import TrafficProfile
    from tui.demo.traffic import TrafficModel

    tm = TrafficModel(100.0, {"canary": TrafficProfile(error_rate=0.1, p50=0.04, p99=0.2),
                              "stable": TrafficProfile(error_rate=0.0, p50=0.02, p99=0.05)}, now=1000.0)
    tm.add_pod(("demo", "c"), "canary", 1000.0)
    tm.add_pod(("demo", "s"), "stable", 1000.0)
    tm.set_served({("demo", "c"), ("demo", "s")}, 1000.0)
    for t in range(1001, 1061):
        tm.advance(float(t))
    w = tm.window_stats([("demo", "c")], 30.0, 1060.0)
    assert w.requests == pytest.approx(50 * 30)
    assert w.error_rate() == pytest.approx(0.1)
    assert 0.025 <= w.latency_quantile(0.5) <= 0.05
    tm.set_profile("canary", TrafficProfile(error_rate=0.3, p50=0.04, p99=0.2), 1060.0)
    for t in range(1061, 1071):
        tm.advance(float(t))
    # 20 s at 10 % then 10 s at 30 %
    assert tm.window_stats([("demo", "c")], 30.0, 1070.0).error_rate() == pytest.approx((20 * 0.1 + 10 * 0.3) / 30)
    tm.add_pod(("demo", "n"), "canary", 1070.0)
    tm.set_served({("demo", "c"), ("demo", "s"), ("demo", "n")}, 1070.0)
    for t in range(1071, 1076):
        tm.advance(float(t))
    assert tm.window_stats([("demo", "n")], 30.0, 1075.0).requests == pytest.approx(100 / 3 * 5, rel=0.01)
    assert math.isnan(tm.window_stats([], 30.0, 1070.0).error_rate())
