"""Argo Rollouts' analysis controller: AnalysisRuns from (Cluster)AnalysisTemplates, measured from the traffic model.

As analysis/analysis.go does: each metric is measured every `interval` until `count` (no interval: once), each
measurement's value and phase recorded (successCondition / failureCondition through tui/demo/exprlang.py), and the
metric and run assessed with failureLimit, inconclusiveLimit and consecutiveErrorLimit (default 4), dryRun metrics
aside, in Argo's words ("Metric \"error-rate\" assessed Failed due to failed (3) > failureLimit (2)").

The demo is not a Prometheus: prometheus-provider queries are answered by tui/demo/promql.py from the same
counters each pod's /metrics serves; a query it cannot evaluate, and any other provider, is an Error measurement
with the reason. Measurement times are scenario time (compressed by --speed, like pause durations); query ranges
are wall time, like the counters.

The Rollout side (rollout/analysis.go): runs named `<rollout>-<hash>-<revision>[-<step>|-pre|-post]`, owned by the
Rollout and labelled as Argo labels them, for canary analysis steps, background analysis and blue/green
pre-promotion analysis; a Failed or Error run aborts the Rollout with Argo's message, an Inconclusive one pauses it
(InconclusiveAnalysisRun).
"""

from __future__ import annotations

import json
import re

from tui.demo.controllers.base import ARGO_HASH, orjson_clone, owner_ref, parse_duration, rfc3339
from tui.demo.exprlang import evaluate_result
from tui.demo.promql import JOB, QueryError, evaluate as promql_evaluate, format_value
from tui.demo.state import AlreadyExists, StateError

COMP = "rollouts-controller"
COMPLETED = ("Successful", "Failed", "Error", "Inconclusive")
ORDER = ("Successful", "Running", "Pending", "Inconclusive", "Error", "Failed")  # best to worst (IsWorse)
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
ERROR_RETRY_INTERVAL = 10.0  # DefaultErrorRetryInterval
MEASUREMENT_HISTORY_LIMIT = 10  # DefaultMeasurementHistoryLimit
RUN_TYPES = {"step": "Step", "background": "Background", "pre": "PrePromotion", "post": "PostPromotion"}
RUN_KINDS = {"step": "currentStepAnalysisRunStatus", "background": "currentBackgroundAnalysisRunStatus",
             "pre": "prePromotionAnalysisRunStatus", "post": "postPromotionAnalysisRunStatus"}


class AnalysisSpecError(Exception):
    pass


def _int(v, default=None):
    if v is None or v == "":
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def effective_count(metric: dict) -> int | None:
    """Metric.EffectiveCount: count, or 1 with neither count nor interval, or None (indefinite)."""
    c = _int(metric.get("count"), 0)
    if not c:
        return None if metric.get("interval") else 1
    return c


def validate_metric(m: dict) -> None:
    """ValidateMetric (utils/analysis/helpers.go), the checks that matter for the demo."""
    count = _int(m.get("count"), 0)
    fl = _int(m.get("failureLimit"), 0)
    csl = _int(m.get("consecutiveSuccessLimit"), 0)
    il = _int(m.get("inconclusiveLimit"), 0)
    if csl < 0:
        raise AnalysisSpecError("consecutiveSuccessLimit must be >= 0")
    if fl < -1:
        raise AnalysisSpecError("failureLimit must be >= 0, or -1 to be disabled")
    if csl == 0 and fl == -1:
        raise AnalysisSpecError("failureLimit and consecutiveSuccessLimit cannot both be disabled")
    if il < 0:
        raise AnalysisSpecError("inconclusiveLimit must be >= 0")
    if m.get("consecutiveErrorLimit") is not None and _int(m.get("consecutiveErrorLimit"), 0) < 0:
        raise AnalysisSpecError("consecutiveErrorLimit must be >= 0")
    if count > 0:
        if csl >= 0 and fl >= 0 and count < fl + csl:
            raise AnalysisSpecError(f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
                                    f"({fl} + {csl}) if both >= 0")
        if count < il:
            raise AnalysisSpecError("count must be >= inconclusiveLimit")
    if count > 1 and not m.get("interval"):
        raise AnalysisSpecError("interval must be specified when count > 1")
    for k, what in (("interval", "interval"), ("initialDelay", "startDelay")):
        if m.get(k) and parse_duration(m[k]) is None:
            raise AnalysisSpecError(f"invalid {what} string: time: invalid duration \"{m[k]}\"")
    n = sum(1 for _ in (m.get("provider") or {}))
    if n == 0:
        raise AnalysisSpecError("no provider specified")
    if n > 1:
        raise AnalysisSpecError("multiple providers specified")


def failure_inconclusive_or_error(metric: dict, result: dict) -> tuple[str, str]:
    """assessMetricFailureInconclusiveOrError: (phase or "", message)."""
    phase, message = "", ""
    fl = _int(metric.get("failureLimit"), 0)
    if fl >= 0 and result.get("failed", 0) > fl:
        phase, message = "Failed", f"failed ({result.get('failed', 0)}) > failureLimit ({fl})"
    il = _int(metric.get("inconclusiveLimit"), 0)
    if result.get("inconclusive", 0) > il:
        phase, message = "Inconclusive", f"inconclusive ({result.get('inconclusive', 0)}) > inconclusiveLimit ({il})"
    cel = _int(metric.get("consecutiveErrorLimit"), DEFAULT_CONSECUTIVE_ERROR_LIMIT)
    if result.get("consecutiveError", 0) > cel:
        n = result.get("consecutiveError", 0)
        phase, message = "Error", f"consecutiveErrors ({n}) > consecutiveErrorLimit ({cel})"
    return phase, message


def assess_metric(metric: dict, result: dict, terminating: bool) -> str:
    """assessMetricStatus (analysis/analysis.go)."""
    if result.get("phase") in COMPLETED:
        return result["phase"]
    ms = result.get("measurements") or []
    if not ms:
        return "Successful" if terminating else "Pending"
    if ms[-1].get("phase") not in COMPLETED:
        return "Running"
    phase, _ = failure_inconclusive_or_error(metric, result)
    if phase:
        return phase
    csl = _int(metric.get("consecutiveSuccessLimit"), 0)
    if csl > 0 and result.get("consecutiveSuccess", 0) >= csl:
        return "Successful"
    ec = effective_count(metric)
    if ec is not None and result.get("count", 0) >= ec:
        fl = metric.get("failureLimit")
        failure_applicable = fl is None or _int(fl, 0) >= 0
        if failure_applicable and csl > 0:
            return "Inconclusive"
        if csl > 0:
            return "Failed"
        return "Successful"
    return "Successful" if terminating else "Running"


def is_worse(current: str, new: str) -> bool:
    idx = {p: i for i, p in enumerate(ORDER)}
    return idx.get(new, 0) > idx.get(current, 0)


def dry_run_metrics(run_spec: dict, metrics: list[dict]) -> set[str]:
    out = set()
    for i, d in enumerate(run_spec.get("dryRun") or ()):
        pat = d.get("metricName") or ""
        hit = [m["name"] for m in metrics if re.search(pat, m.get("name") or "")]
        if not hit:
            raise AnalysisSpecError(f"dryRun[{i}]: Rule didn't match any metric name(s)")
        out.update(hit)
    return out


def retention_limits(run_spec: dict, metrics: list[dict]) -> dict[str, int]:
    """GetMeasurementRetentionMetrics: metric name -> how many measurements to keep (a rule's regex and limit)."""
    out = {}
    for i, d in enumerate(run_spec.get("measurementRetention") or ()):
        pat = d.get("metricName") or ""
        hit = [m["name"] for m in metrics if re.search(pat, m.get("name") or "")]
        if not hit:
            raise AnalysisSpecError(f"measurementRetention[{i}]: Rule didn't match any metric name(s)")
        for n in hit:
            if _int(d.get("limit"), 0) > 0:
                out[n] = _int(d.get("limit"), 0)
    return out


def resolve_args(text: str, args: list[dict]) -> str:
    """templateutil.ResolveQuotedArgs over a JSON-encoded metric: `{{args.NAME}}` (an unknown one is an error)."""
    values = {}
    for a in args:
        if a.get("value") is None:
            if (a.get("valueFrom") or {}).get("secretKeyRef"):
                values[f"args.{a.get('name')}"] = "temp-for-secret"
                continue
            raise AnalysisSpecError(f'argument "{a.get("name")}" was not supplied')
        values[f"args.{a.get('name')}"] = json.dumps(str(a["value"]))[1:-1]
    err = []

    def sub(m):
        tag = m.group(1)
        if tag.strip() in values:
            return values[tag.strip()]
        err.append(f"failed to resolve {{{{{tag}}}}}")
        return ""
    out = re.sub(r"\{\{(.*?)\}\}", sub, text)
    if err:
        raise AnalysisSpecError(err[-1])
    return out


def resolved_metrics(spec: dict) -> list[dict]:
    args = spec.get("args") or []
    return [json.loads(resolve_args(json.dumps(m), args)) for m in spec.get("metrics") or []]


class Analysis:
    """Mixin of Controllers: the AnalysisRun controller and the Rollout's side of analysis."""

    # ================================================================ the AnalysisRun controller
    def _ar_mem(self) -> dict:
        mem = getattr(self, "_analysis_mem", None)
        if mem is None:
            mem = self._analysis_mem = {"last": {}, "started": {}, "abort_message": {}}
        return mem

    def reconcile_analysisrun(self, run: dict) -> None:
        meta = run["metadata"]
        if meta.get("deletionTimestamp"):
            return
        st0 = run.get("status") or {}
        if st0.get("phase") in COMPLETED:
            return
        ns, name = meta.get("namespace") or "", meta["name"]
        spec = run.get("spec") or {}
        st = orjson_clone(st0)
        st.setdefault("metricResults", [])
        mem = self._ar_mem()
        now_w = self.sim.clock()
        now = rfc3339(now_w)
        try:
            metrics = resolved_metrics(spec)
        except AnalysisSpecError as e:
            return self._run_done(run, st, "Error", f"Unable to resolve metric arguments: {e}", now)
        try:
            if not metrics:
                raise AnalysisSpecError("no metrics specified")
            seen = set()
            for i, m in enumerate(metrics):
                if m.get("name") in seen:
                    raise AnalysisSpecError(f"metrics[{i}]: duplicate name '{m.get('name')}'")
                seen.add(m.get("name"))
                try:
                    validate_metric(m)
                except AnalysisSpecError as e:
                    raise AnalysisSpecError(f"metrics[{i}]: {e}") from None
            dry = dry_run_metrics(spec, metrics)
            keep_limits = retention_limits(spec, metrics)
        except AnalysisSpecError as e:
            return self._run_done(run, st, "Error", f"Analysis spec invalid: {e}", now)
        results = {r.get("name"): r for r in st["metricResults"]}
        terminating = bool(spec.get("terminate")) or any(
            r.get("phase") in ("Failed", "Error", "Inconclusive") and not r.get("dryRun") for r in results.values())
        t = self.sim.t
        started = mem["started"].setdefault((ns, name), t)
        if not st.get("startedAt"):
            st["startedAt"] = now
        wake: list[float] = []
        for m in metrics:
            mname = m.get("name")
            res = results.get(mname)
            if res is not None and res.get("phase") in COMPLETED:
                continue
            if terminating:
                continue
            last_t = mem["last"].get((ns, name, mname))
            ms = (res or {}).get("measurements") or []
            if ms and not ms[-1].get("finishedAt") and ms[-1].get("phase") not in COMPLETED:
                # an in-flight measurement (a query to the real Prometheus): complete it when its answer is in
                if not self._resume(ns, name, m, res, ms[-1], now):
                    wake.append(t + 0.2)
                    continue
                mem["last"][(ns, name, mname)] = t
                ec = effective_count(m)
                if not (ec is not None and res.get("count", 0) >= ec):
                    iv = ERROR_RETRY_INTERVAL if ms[-1]["phase"] == "Error" else parse_duration(m.get("interval"))
                    if iv is not None:
                        wake.append(t + iv)
                continue
            if not ms:
                delay = parse_duration(m.get("initialDelay")) or 0.0
                if t - started < delay:
                    wake.append(started + delay)
                    continue
            else:
                ec = effective_count(m)
                if ec is not None and res.get("count", 0) >= ec:
                    continue
                if ms[-1].get("phase") == "Error":
                    interval = ERROR_RETRY_INTERVAL
                elif m.get("interval"):
                    interval = parse_duration(m["interval"]) or 0.0
                else:
                    continue
                if last_t is None:
                    last_t = t  # a restored run: measure again one interval from now
                    mem["last"][(ns, name, mname)] = t
                if t < last_t + interval:
                    wake.append(last_t + interval)
                    continue
            if res is None:
                res = {"name": mname, "phase": "Running"}
                if mname in dry:
                    res["dryRun"] = True
                q = ((m.get("provider") or {}).get("prometheus") or {}).get("query")
                if q:
                    res["metadata"] = {"ResolvedPrometheusQuery": q}
                st["metricResults"].append(res)
                results[mname] = res
            meas = self.measure(ns, m, now, key=(ns, name, mname))
            res.setdefault("measurements", []).append(meas)
            if not meas.get("finishedAt"):
                wake.append(t + 0.2)
                continue
            mem["last"][(ns, name, mname)] = t
            self._count(res, meas)
            limit = keep_limits.get(mname) or MEASUREMENT_HISTORY_LIMIT
            if len(res["measurements"]) > limit:
                res["measurements"] = res["measurements"][-limit:]
            ec = effective_count(m)
            if not (ec is not None and res.get("count", 0) >= ec):
                iv = ERROR_RETRY_INTERVAL if meas["phase"] == "Error" else parse_duration(m.get("interval"))
                if iv is not None:
                    wake.append(t + iv)
        phase, message = self._assess_run(run, st, metrics, dry, terminating, now)
        if phase != st.get("phase"):
            st["phase"] = phase
            st["message"] = message
            if not message:
                st.pop("message", None)
            if phase in COMPLETED:
                self._completed(run, st, now)
        if phase not in COMPLETED and wake:
            delay = max(0.0, min(wake) - t) + 0.001
            self.sim.schedule(delay, lambda: self.dirty["analysisruns"].add((ns, name)),
                              dedupe=("analysisrun", meta.get("uid"), round(min(wake), 3)))
        if st != st0:
            self.state.mutate("analysisruns", ns, name, lambda o: o.__setitem__("status", st))

    @staticmethod
    def _count(res: dict, meas: dict) -> None:
        for k in ("count", "successful", "failed", "inconclusive", "error", "consecutiveError", "consecutiveSuccess"):
            res.setdefault(k, 0)
        p = meas["phase"]
        if p == "Successful":
            res["successful"] += 1
            res["count"] += 1
            res["consecutiveError"] = 0
            res["consecutiveSuccess"] += 1
        elif p == "Failed":
            res["failed"] += 1
            res["count"] += 1
            res["consecutiveError"] = 0
            res["consecutiveSuccess"] = 0
        elif p == "Inconclusive":
            res["inconclusive"] += 1
            res["count"] += 1
            res["consecutiveError"] = 0
            res["consecutiveSuccess"] = 0
        elif p == "Error":
            res["error"] += 1
            res["consecutiveError"] += 1
            res["consecutiveSuccess"] = 0
        for k in ("count", "successful", "failed", "inconclusive", "error", "consecutiveError", "consecutiveSuccess"):
            if not res[k]:
                del res[k]  # omitempty, as Argo's JSON has it

    def _assess_run(self, run, st, metrics, dry, terminating, now) -> tuple[str, str]:
        """assessRunStatus: each metric's phase, then the worst completed phase for the run."""
        worst, worst_msg, done = "", "", True
        summary = {"count": 0, "successful": 0, "failed": 0, "inconclusive": 0, "error": 0}
        dsum = dict(summary)
        if (run.get("spec") or {}).get("terminate"):
            worst_msg = "Run Terminated"
        results = {r.get("name"): r for r in st["metricResults"]}
        for m in metrics:
            mname = m.get("name")
            is_dry = mname in dry
            (dsum if is_dry else summary)["count"] += 1
            res = results.get(mname)
            if res is None:
                done = False
                continue
            for k in ("count", "successful", "failed", "inconclusive", "error", "consecutiveError",
                      "consecutiveSuccess"):
                res.setdefault(k, 0)
            mphase = assess_metric(m, res, terminating)
            if res.get("phase") != mphase:
                if mphase in COMPLETED:
                    self.events.emit(run, "Metric" + mphase, f"Metric '{mname}' Completed. Result: {mphase}",
                                     type="Warning" if mphase in ("Error", "Failed") else "Normal", component=COMP)
                ms = res.get("measurements") or []
                if ms and ms[-1].get("message"):
                    res["message"] = ms[-1]["message"]
                res["phase"] = mphase
            if mphase not in COMPLETED:
                done = False
            else:
                phase, message = failure_inconclusive_or_error(m, res)
                if not is_dry:
                    if worst == "" or is_worse(worst, mphase):
                        worst = mphase
                        if message:
                            worst_msg = f'Metric "{mname}" assessed {mphase} due to {message}'
                            if res.get("message"):
                                worst_msg += f': "Error Message: {res["message"]}"'
                    summary[{"Error": "error", "Failed": "failed", "Inconclusive": "inconclusive"}.get(
                        phase, "successful")] += 1
                else:
                    if worst == "":
                        worst = "Successful"
                    if message:
                        res["message"] = f"Metric assessed {mphase} due to {message}"
                    dsum[{"Error": "error", "Failed": "failed", "Inconclusive": "inconclusive"}.get(
                        phase, "successful")] += 1
            for k in ("count", "successful", "failed", "inconclusive", "error", "consecutiveError",
                      "consecutiveSuccess"):
                if not res.get(k):
                    res.pop(k, None)
        st["runSummary"] = {k: v for k, v in summary.items() if v}
        st["dryRunSummary"] = {k: v for k, v in dsum.items() if v}
        worst_msg = worst_msg.strip()
        if terminating:
            return (worst or "Successful"), worst_msg
        if not done or not worst:
            return "Running", ""
        return worst, worst_msg

    def _completed(self, run, st, now) -> None:
        st["completedAt"] = now
        ph = st["phase"]
        self.events.emit(run, "AnalysisRun" + ph, f"Analysis Completed. Result: {ph}",
                         type="Warning" if ph in ("Error", "Failed") else "Normal", component=COMP)
        ns, name = run["metadata"].get("namespace") or "", run["metadata"]["name"]
        owner = next((r for r in run["metadata"].get("ownerReferences") or () if r.get("kind") == "Rollout"), None)
        if owner:
            self.dirty["rollouts"].add((ns, owner.get("name")))

    def _run_done(self, run, st, phase, message, now) -> None:
        st["phase"], st["message"] = phase, message
        self._completed(run, st, now)
        ns, name = run["metadata"].get("namespace") or "", run["metadata"]["name"]
        self.state.mutate("analysisruns", ns, name, lambda o: o.__setitem__("status", st))

    # ---------------------------------------------------------------- measurements
    def measure(self, ns: str, metric: dict, now: str, key: tuple | None = None) -> dict:
        """One measurement (provider.Run): phase, value, startedAt/finishedAt, message on Error. With the real
        Prometheus (`lookout demo --with-prometheus`) the query runs in a thread and the measurement stays in
        flight (no finishedAt) until `_resume` completes it."""
        meas = {"phase": "Running", "startedAt": now}
        prov = metric.get("provider") or {}
        if "prometheus" in prov:
            q = (prov["prometheus"] or {}).get("query") or ""
            url = getattr(self.sim, "prometheus_url", None)
            if url and key is not None:
                from tui.demo.prometheus import query_pool, query_prometheus  # noqa: PLC0415
                self._ar_mem().setdefault("inflight", {})[key] = query_pool().submit(query_prometheus, url, q)
                return meas
            try:
                if (prov["prometheus"] or {}).get("rangeQuery"):
                    raise QueryError("the demo cannot evaluate rangeQuery")
                value = promql_evaluate(q, lambda window: self._pod_series(ns, window))
            except QueryError as e:
                meas.update(phase="Error", message=str(e), finishedAt=now)
                return meas
            return self._measured(meas, metric, value, now)
        name = next(iter(prov), "none")
        meas.update(phase="Error", message=f'provider "{name}" not simulated by the demo cluster', finishedAt=now)
        return meas

    @staticmethod
    def _measured(meas: dict, metric: dict, value, now: str) -> dict:
        """processResponse: a scalar is its value, a vector the list of its samples ("[v1,v2]")."""
        if isinstance(value, float):
            result, text = value, format_value(value)
        else:
            result = [v for _, v in value]
            text = "[" + ",".join(format_value(v) for v in result) + "]"
        phase, err = evaluate_result(result, metric.get("successCondition"), metric.get("failureCondition"))
        meas["value"] = text
        meas["phase"] = phase
        if err:
            meas["message"] = err
        meas["finishedAt"] = now
        return meas

    def _resume(self, ns: str, name: str, metric: dict, res: dict, meas: dict, now: str) -> bool:
        """Complete an in-flight measurement once its query answered (True), counting it."""
        fut = self._ar_mem().setdefault("inflight", {}).get((ns, name, metric.get("name")))
        if fut is None:  # lost (a restarted cluster): measure again
            new = self.measure(ns, metric, now, key=(ns, name, metric.get("name")))
            meas.clear()
            meas.update(new)
            if not meas.get("finishedAt"):
                return False
        elif not fut.done():
            return False
        else:
            del self._ar_mem()["inflight"][(ns, name, metric.get("name"))]
            try:
                value = fut.result()
            except QueryError as e:
                meas.update(phase="Error", message=str(e), finishedAt=now)
            else:
                self._measured(meas, metric, value, now)
        self._count(res, meas)
        return True

    def _pod_series(self, ns: str, window: float | None):
        """(labels, counters or increase over `window`) of each pod in `ns` whose /metrics answers."""
        tm = self.sim.traffic
        now = self.sim.clock()
        out = []
        for p in self.state.list("pods", ns)[0]:
            pm = p["metadata"]
            key = (ns, pm["name"])
            pt = tm.pods.get(key)
            if pt is None or (p.get("status") or {}).get("phase") != "Running" or pm.get("deletionTimestamp"):
                continue
            if not tm.profile(pt.track).metrics:
                continue
            vec = tm.counters(key, now) if window is None else tm.increase(key, window, now)
            if vec is None:
                continue
            labels = {re.sub(r"[^a-zA-Z0-9_]", "_", k): str(v) for k, v in (pm.get("labels") or {}).items()}
            labels.update(namespace=ns, pod=pm["name"], instance=pm["name"], job=JOB)
            out.append((labels, vec))
        return out

    # ================================================================ the Rollout's side
    def _ar_key(self, ro) -> tuple:
        return (ro["metadata"]["namespace"], ro["metadata"]["name"])

    def _current_run(self, ro: dict, kind: str) -> dict | None:
        """The run the Rollout's status names for this kind (step, background, pre, post)."""
        st = ro.get("status") or {}
        sect = st.get("blueGreen" if kind in ("pre", "post") else "canary") or {}
        ref = sect.get(RUN_KINDS[kind]) or {}
        mem = self._ar_mem().setdefault("current", {})
        name = mem.get((ro["metadata"].get("uid"), kind), ref.get("name"))
        if not name:
            return None
        return self.state.get("analysisruns", ro["metadata"]["namespace"], name)

    def _set_current(self, ro: dict, kind: str, run: dict | None) -> None:
        self._ar_mem().setdefault("current", {})[(ro["metadata"].get("uid"), kind)] = (
            run["metadata"]["name"] if run else None)

    def analysis_status_into(self, ro: dict, st: dict) -> None:
        """Write status.canary/blueGreen.*AnalysisRunStatus for the current runs, as the Rollout reports them."""
        for kind, field in RUN_KINDS.items():
            sect_name = "blueGreen" if kind in ("pre", "post") else "canary"
            key = (ro["metadata"].get("uid"), kind)
            mem = self._ar_mem().setdefault("current", {})
            if key not in mem:
                continue
            sect = st.setdefault(sect_name, {})
            run = self.state.get("analysisruns", ro["metadata"]["namespace"], mem[key]) if mem[key] else None
            if run is None:
                sect.pop(field, None)
                continue
            rs = run.get("status") or {}
            val = {"name": run["metadata"]["name"], "status": rs.get("phase") or ""}
            if rs.get("message"):
                val["message"] = rs["message"]
            prev = ((ro.get("status") or {}).get(sect_name) or {}).get(field)
            if val["status"] and (prev is None or (prev.get("name") == val["name"]
                                                   and prev.get("status") != val["status"])):
                # emitAnalysisRunStatusChanges
                self.events.emit(ro, "AnalysisRun" + val["status"],
                                 f"{RUN_TYPES[kind]} Analysis Run '{val['name']}' Status New: '{val['status']}' "
                                 f"Previous: '{(prev or {}).get('status') or 'NoPreviousStatus'}'",
                                 type="Warning" if val["status"] in ("Failed", "Error") else "Normal", component=COMP)
            sect[field] = val

    def abort_message(self, ro: dict) -> str:
        """Why the controller aborted the Rollout (an analysis run's message), or ""."""
        return self._ar_mem()["abort_message"].get(ro["metadata"].get("uid"), "")

    def _abort(self, ro: dict, st: dict, message: str, run: dict) -> None:
        st["abort"] = True
        self._ar_mem().setdefault("aborted_by", set()).add(run["metadata"]["name"])
        self._ar_mem()["abort_message"][ro["metadata"].get("uid")] = message
        self.dirty["rollouts"].add(self._ar_key(ro))

    def _pause_inconclusive(self, st: dict, now: str) -> None:
        pcs = st.get("pauseConditions") or []
        if not any(p.get("reason") == "InconclusiveAnalysisRun" for p in pcs):
            pcs.append({"reason": "InconclusiveAnalysisRun", "startTime": now})
        st["pauseConditions"] = pcs
        st["controllerPause"] = True

    def _needs_new_run(self, ro: dict, st: dict, current: dict | None) -> bool:
        """needsNewAnalysisRun (rollout/analysis.go)."""
        if current is None:
            return True
        if current["metadata"]["name"] in self._ar_mem().setdefault("aborted_by", set()) and not st.get("abort"):
            return True  # the abort it caused was retried (`{"status":{"abort":false}}`): run it again
        pcs = st.get("pauseConditions") or []
        if st.get("controllerPause") and not any(p.get("reason") in ("CanaryPauseStep", "BlueGreenPause")
                                                 for p in pcs):
            return (current.get("status") or {}).get("phase") == "Inconclusive"
        return bool(st.get("abortedAt"))

    def terminate_run(self, run: dict | None) -> None:
        """cancelAnalysisRuns: `{"spec":{"terminate":true}}` on a run that has not completed."""
        if run is None or (run.get("spec") or {}).get("terminate") or \
                (run.get("status") or {}).get("phase") in COMPLETED:
            return
        m = run["metadata"]
        self.state.mutate("analysisruns", m.get("namespace"), m["name"],
                          lambda o: o.setdefault("spec", {}).__setitem__("terminate", True))

    def step_analysis(self, ro: dict, st: dict, idx: int, step: dict, h: str, stable_h: str, revision: str,
                      now: str) -> str:
        """An `analysis` canary step: "next" once its run is Successful, else "wait" (running, paused or aborting)."""
        current = self._current_run(ro, "step")
        if current is not None and (current["metadata"].get("labels") or {}).get(
                "rollouts-pod-template-hash") != h:
            current = None
        if current is not None and (current["metadata"].get("labels") or {}).get(
                "rollouts.argoproj.io/canary-step-index") != str(idx):
            self.terminate_run(current)  # a run from a previous step (promoted past it)
            current = None
        if st.get("pauseConditions") or st.get("abort"):
            return "wait"
        if self._needs_new_run(ro, st, current):
            labels = {ARGO_HASH: h, "rollout-type": "Step", "rollouts.argoproj.io/canary-step-index": str(idx)}
            current = self.create_run(ro, step.get("analysis") or {}, str(idx), labels, h, stable_h, revision)
            self._set_current(ro, "step", current)
            return "wait"
        self._set_current(ro, "step", current)
        phase = (current.get("status") or {}).get("phase")
        if phase == "Successful":
            return "next"
        if phase == "Inconclusive":
            self._pause_inconclusive(st, now)
        elif phase in ("Error", "Failed"):
            msg = "Step-based analysis phase error/failed"
            if (current.get("status") or {}).get("message"):
                msg += ": " + current["status"]["message"]
            self._abort(ro, st, msg, current)
        return "wait"

    def background_analysis(self, ro: dict, st: dict, idx: int, steps: list, h: str, stable_h: str, revision: str,
                            now: str) -> None:
        """strategy.canary.analysis: one run from startingStep until the rollout completes or aborts."""
        cs = ((ro.get("spec") or {}).get("strategy") or {}).get("canary") or {}
        ana = cs.get("analysis")
        current = self._current_run(ro, "background")
        if current is not None and (current["metadata"].get("labels") or {}).get(ARGO_HASH) != h:
            self.terminate_run(current)
            current = None
        if not ana or not ana.get("templates"):
            self.terminate_run(current)
            self._set_current(ro, "background", None)
            return
        if h == stable_h or st.get("abort") or st.get("promoteFull"):
            self.terminate_run(current)
            return
        start = _int(ana.get("startingStep"))
        if start is not None and idx < min(start, len(steps)):
            return
        if any(p.get("reason") == "InconclusiveAnalysisRun" for p in st.get("pauseConditions") or ()):
            return
        if self._needs_new_run(ro, st, current):
            labels = {ARGO_HASH: h, "rollout-type": "Background"}
            current = self.create_run(ro, ana, "", labels, h, stable_h, revision)
            self._set_current(ro, "background", current)
            return
        self._set_current(ro, "background", current)
        phase = (current.get("status") or {}).get("phase")
        if phase == "Inconclusive":
            self._pause_inconclusive(st, now)
        elif phase in ("Error", "Failed"):
            msg = "Background analysis phase error/failed"
            if (current.get("status") or {}).get("message"):
                msg += ": " + current["status"]["message"]
            self._abort(ro, st, msg, current)

    def end_canary_analysis(self, ro: dict, st: dict) -> None:
        """Fully promoted or aborted: the canary's runs are terminated and no longer current (Argo keeps none)."""
        for kind in ("step", "background"):
            self.terminate_run(self._current_run(ro, kind))
            self._set_current(ro, kind, None)

    def prepromotion_analysis(self, ro: dict, st: dict, h: str, stable_h: str, revision: str, now: str) -> bool:
        """Blue/green prePromotionAnalysis: True once it passed (or there is none); it starts once the preview is
        saturated; Failed/Error aborts, Inconclusive pauses."""
        return self._promotion_analysis(ro, st, h, stable_h, revision, now, "pre")

    def postpromotion_analysis(self, ro: dict, st: dict, h: str, stable_h: str, revision: str, now: str) -> bool:
        """Blue/green postPromotionAnalysis, once the active Service serves the new ReplicaSet: True once it passed;
        Failed/Error aborts (the active Service goes back to stable), Inconclusive pauses."""
        return self._promotion_analysis(ro, st, h, stable_h, revision, now, "post")

    def _promotion_analysis(self, ro: dict, st: dict, h: str, stable_h: str, revision: str, now: str,
                            which: str) -> bool:
        """rollout/analysis.go reconcilePrePromotionAnalysisRun / reconcilePostPromotionAnalysisRun: one run per
        new ReplicaSet hash (a newer hash terminates the old run)."""
        field, rtype, words = {"pre": ("prePromotionAnalysis", "PrePromotion", "pre-promotion"),
                               "post": ("postPromotionAnalysis", "PostPromotion", "post-promotion")}[which]
        bg = ((ro.get("spec") or {}).get("strategy") or {}).get("blueGreen") or {}
        ana = bg.get(field)
        current = self._current_run(ro, which)
        if current is not None and (current["metadata"].get("labels") or {}).get(ARGO_HASH) != h:
            self.terminate_run(current)
            current = None
        if not ana or not ana.get("templates"):
            return True
        if any(p.get("reason") == "InconclusiveAnalysisRun" for p in st.get("pauseConditions") or ()):
            return False
        if self._needs_new_run(ro, st, current):
            labels = {ARGO_HASH: h, "rollout-type": rtype}
            current = self.create_run(ro, ana, which, labels, h, stable_h, revision)
            self._set_current(ro, which, current)
            return False
        self._set_current(ro, which, current)
        phase = (current.get("status") or {}).get("phase")
        if phase == "Successful":
            return True
        if phase == "Inconclusive":
            self._pause_inconclusive(st, now)
        elif phase in ("Error", "Failed"):
            msg = f"Blue/green {words} analysis phase error/failed"
            if (current.get("status") or {}).get("message"):
                msg += ": " + current["status"]["message"]
            self._abort(ro, st, msg, current)
        return False

    # ---------------------------------------------------------------- creating runs
    def _template(self, ns: str, ref: dict) -> tuple[str, dict]:
        name = ref.get("templateName") or ""
        if ref.get("clusterScope"):
            res = "clusteranalysistemplates.argoproj.io"
            try:
                t = self.state.get(res, None, name)
            except (StateError, KeyError):
                t = None
            if t is None:
                raise AnalysisSpecError(f'ClusterAnalysisTemplate "{name}" not found')
            return "cluster", t
        t = self.state.get("analysistemplates", ns, name)
        if t is None:
            raise AnalysisSpecError(f'AnalysisTemplate "{name}" not found')
        return "ns", t

    def _templates(self, ns: str, refs: list, seen: dict) -> None:
        for ref in refs or ():
            scope, t = self._template(ns, ref)
            key = (scope, t["metadata"]["name"])
            if key in seen:
                continue
            seen[key] = t
            self._templates(ns, (t.get("spec") or {}).get("templates") or [], seen)

    def build_run(self, ns: str, analysis: dict, incoming_args: list[dict]) -> dict:
        """NewAnalysisRunFromTemplates: the templates flattened (metrics, args, dryRun, measurementRetention) and the
        incoming args merged (MergeArgs); AnalysisSpecError when a template is missing or an arg unresolved."""
        seen: dict = {}
        self._templates(ns, analysis.get("templates") or [], seen)
        ordered = [t for (s, _), t in seen.items() if s == "ns"] + [t for (s, _), t in seen.items() if s == "cluster"]
        metrics, targs, dry, keep = [], [], [], []
        names = set()
        for t in ordered:
            ts = t.get("spec") or {}
            for m in ts.get("metrics") or ():
                if m.get("name") in names:
                    raise AnalysisSpecError(f"two metrics have the same name '{m.get('name')}'")
                names.add(m.get("name"))
                metrics.append(m)
            for a in ts.get("args") or ():
                prev = next((x for x in targs if x.get("name") == a.get("name")), None)
                if prev is None:
                    targs.append(dict(a))
                elif prev.get("value") is not None and a.get("value") is not None and prev["value"] != a["value"]:
                    raise AnalysisSpecError(f"Argument `{a['name']}` specified multiple times with different "
                                            f"values: '{prev['value']}', '{a['value']}'")
                elif prev.get("value") is None:
                    prev.clear()
                    prev.update(a)
            dry.extend(ts.get("dryRun") or ())
            keep.extend(ts.get("measurementRetention") or ())
        for a in incoming_args:
            x = next((t for t in targs if t.get("name") == a.get("name")), None)
            if x is not None and a.get("value") is not None:
                x["value"] = a["value"]
                x.pop("valueFrom", None)
        for a in targs:
            if a.get("value") is None and a.get("valueFrom") is None:
                raise AnalysisSpecError(f"args.{a.get('name')} was not resolved")
        arm = analysis.get("analysisRunMetadata") or {}
        spec = {"metrics": metrics, "args": targs}
        if dry or analysis.get("dryRun"):
            spec["dryRun"] = list(analysis.get("dryRun") or []) + dry
        if keep or analysis.get("measurementRetention"):
            spec["measurementRetention"] = list(analysis.get("measurementRetention") or []) + keep
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
                "metadata": {"labels": dict(arm.get("labels") or {}),
                             "annotations": dict(arm.get("annotations") or {})},
                "spec": spec}

    def create_with_collision(self, run: dict, owner: dict) -> dict | None:
        """CreateWithCollisionCounter: an existing run that is ours, equal and not completed is reused; otherwise the
        name gets `.1`, `.2`, ..."""
        ns = run["metadata"]["namespace"]
        spec = run["spec"]
        base, n = run["metadata"]["name"], 1
        while True:
            try:
                made = self.state.create(orjson_clone(run))
                break
            except AlreadyExists:
                have = self.state.get("analysisruns", ns, run["metadata"]["name"])
                same = have is not None and json.dumps({k: (have.get("spec") or {}).get(k) for k in spec},
                                                       sort_keys=True) == json.dumps(spec, sort_keys=True)
                mine = have is not None and any(r.get("uid") == owner["metadata"].get("uid")
                                                for r in have["metadata"].get("ownerReferences") or ())
                if have is not None and same and mine and (have.get("status") or {}).get("phase") not in COMPLETED:
                    return have
                run["metadata"]["name"] = f"{base}.{n}"
                n += 1
            except StateError as e:
                self.sim.note_error(f"analysisrun {ns}/{base}: {e.message}")
                return None
        self.dirty["analysisruns"].add((ns, made["metadata"]["name"]))
        return made

    def create_run(self, ro: dict, analysis: dict, infix: str, labels: dict, h: str, stable_h: str,
                   revision: str) -> dict | None:
        """newAnalysisRunFromRollout + CreateWithCollisionCounter; None (and a Warning event) when it cannot."""
        ns, rname = self._ar_key(ro)
        try:
            run = self.build_run(ns, analysis, self._rollout_args(ro, analysis.get("args") or [], h, stable_h))
        except AnalysisSpecError as e:
            self.events.emit(ro, "AnalysisRunError", f"Cannot create the AnalysisRun: {e}", type="Warning",
                             component=COMP)
            return None
        md = run["metadata"]
        md["name"] = "-".join([rname, h, str(revision)] + ([infix] if infix else []))
        md["namespace"] = ns
        md["labels"] = dict(labels) | md["labels"] | (
            ((ro.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
        md["annotations"] = {"rollout.argoproj.io/revision": str(revision)} | md["annotations"]
        md["ownerReferences"] = [owner_ref(ro)]
        return self.create_with_collision(run, ro)

    def _rollout_args(self, ro: dict, args: list, h: str, stable_h: str) -> list[dict]:
        """BuildArgumentsForRolloutAnalysisRun: value, or valueFrom podTemplateHashValue (Stable/Latest) / fieldRef."""
        out = []
        for a in args:
            value = a.get("value")
            vf = a.get("valueFrom") or {}
            if vf.get("podTemplateHashValue") == "Latest":
                value = h
            elif vf.get("podTemplateHashValue") == "Stable":
                value = stable_h
            elif (vf.get("fieldRef") or {}).get("fieldPath"):
                value = _field_path(ro, vf["fieldRef"]["fieldPath"])
            out.append({"name": a.get("name"), "value": "" if value is None else str(value)})
        return out


def _field_path(obj: dict, path: str) -> str:
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if m:
        return str((obj["metadata"].get(m.group(1)) or {}).get(m.group(2), ""))
    cur = obj
    for part in [p for p in re.split(r"[.\[\]]+", path) if p]:
        if isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                return ""
        elif isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return ""
    return "" if cur is None or isinstance(cur, (dict, list)) else str(cur)
