"""Argo Rollouts' experiment controller and the Rollout's `experiment` step (experiments/experiment.go,
rollout/experiment.go).

An Experiment runs one ReplicaSet per template (`<experiment>-<template>`, its pods labelled with their own
rollouts-pod-template-hash) for `duration` once every template is available (`availableAt`), and one AnalysisRun per
analysis (`<experiment>-<analysis>`, owned by the Experiment, `{{templates.NAME.podTemplateHash}}` resolved); its
phase is the worst of its templates' and analyses' as Argo's calculateStatus has it. A Rollout's experiment step
creates `<rollout>-<hash>-<revision>-<step>` from the canary or stable ReplicaSet's template, goes on when it is
Successful and aborts when it fails ("Experiment analysis phase is error/failed: ...").
"""

from __future__ import annotations

from tui.demo.controllers.analysis import COMP, COMPLETED, AnalysisSpecError, is_worse
from tui.demo.controllers.base import ARGO_HASH, orjson_clone, owner_ref, parse_duration, rfc3339, template_hash
from tui.demo.state import AlreadyExists, StateError

EXPERIMENTS = "experiments.argoproj.io"
TEMPLATE_ORDER = ("Successful", "Running", "Progressing", "Error", "Failed")  # TemplateIsWorse, best to worst


def _template_worse(cur: str, new: str) -> bool:
    idx = {p: i for i, p in enumerate(TEMPLATE_ORDER)}
    return idx.get(new, 0) > idx.get(cur, 0)


class Experiments:
    """Mixin of Controllers: the Experiment controller and the Rollout's experiment step."""

    def _ex_mem(self) -> dict:
        mem = getattr(self, "_experiment_mem", None)
        if mem is None:
            mem = self._experiment_mem = {"available_t": {}, "current": {}}
        return mem

    def reconcile_experiment(self, ex: dict) -> None:
        meta = ex["metadata"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta.get("namespace") or "", meta["name"]
        spec = ex.get("spec") or {}
        st0 = ex.get("status") or {}
        st = orjson_clone(st0)
        now = rfc3339(self.sim.clock())
        if st.get("phase") in COMPLETED:
            for t in spec.get("templates") or ():
                rs = self.state.get("replicasets", ns, f"{name}-{t.get('name')}")
                if rs is not None:
                    self.scale_rs(ex, rs, 0, component=COMP)
            return
        if not st.get("phase"):
            st["phase"] = "Pending"
        mem = self._ex_mem()
        dur = parse_duration(spec.get("duration")) if spec.get("duration") else None
        avail_t = mem["available_t"].get((ns, name))
        passed = dur is not None and avail_t is not None and self.sim.t - avail_t >= dur
        terminating = bool(spec.get("terminate"))
        statuses = {s.get("name"): s for s in st.get("templateStatuses") or ()}
        hashes = {}
        for t in spec.get("templates") or ():
            tname = t.get("name")
            ts = statuses.get(tname) or {"name": tname}
            prev = ts.get("status")
            rs = self._template_rs(ex, t)
            if rs is None:
                continue
            h = (rs["metadata"].get("labels") or {}).get(ARGO_HASH, "")
            hashes[tname] = (h, rs["metadata"]["name"])
            want = 0 if (passed or terminating or prev in ("Successful", "Failed", "Error")) else int(
                t.get("replicas", 1) if t.get("replicas") is not None else 1)
            self.scale_rs(ex, rs, want, component=COMP)
            rs = self.state.get("replicasets", ns, rs["metadata"]["name"]) or rs
            rst = rs.get("status") or {}
            for k, v in (("replicas", rst.get("replicas", 0)), ("updatedReplicas", rst.get("replicas", 0)),
                         ("readyReplicas", rst.get("readyReplicas", 0)),
                         ("availableReplicas", rst.get("availableReplicas", 0))):
                if ts.get(k, 0) != v:
                    ts["lastTransitionTime"] = now
                ts[k] = v
            ts["podTemplateHash"] = h
            if prev not in ("Successful", "Failed", "Error"):
                if want == ts["availableReplicas"]:
                    ts["status"] = "Successful" if (passed or terminating) else "Running"
                else:
                    ts["status"] = "Successful" if terminating else "Progressing"
            if ts.get("status") != prev:
                self.events.emit(ex, "Template" + ts["status"],
                                 f"Template '{tname}' transitioned from {prev or ''} -> {ts['status']}",
                                 component=COMP)
            statuses[tname] = ts
        st["templateStatuses"] = [statuses[t.get("name")] for t in spec.get("templates") or ()
                                  if t.get("name") in statuses]
        # templates' verdict (assessTemplates)
        tworst, tmsg = "Successful", ""
        for t in spec.get("templates") or ():
            s = statuses.get(t.get("name"), {}).get("status") or "Progressing"
            if _template_worse(tworst, s):
                tworst, tmsg = s, statuses.get(t.get("name"), {}).get("message", "")
        tphase = {"Progressing": "Pending", "Failed": "Failed", "Error": "Error",
                  "Successful": "Successful"}.get(tworst, "Running")
        if tphase == "Running" and not st.get("availableAt"):
            st["availableAt"] = now
            mem["available_t"][(ns, name)] = self.sim.t
            if dur is not None:
                self.sim.schedule(dur + 0.01, lambda: self.dirty["experiments"].add((ns, name)),
                                  dedupe=("experiment", meta.get("uid")))
        elif st.get("availableAt") and (ns, name) not in mem["available_t"]:
            mem["available_t"][(ns, name)] = self.sim.t  # a restored experiment: its duration starts again
        # analyses (reconcileAnalysisRun), once the templates are available
        ars = {a.get("name"): a for a in st.get("analysisRuns") or ()}
        for a in spec.get("analyses") or ():
            aname = a.get("name")
            cur = ars.get(aname) or {"name": aname}
            if not st.get("availableAt"):
                cur.setdefault("phase", "Pending")
                ars[aname] = cur
                continue
            run = self.state.get("analysisruns", ns, cur["analysisRun"]) if cur.get("analysisRun") else None
            if run is None and not cur.get("analysisRun"):
                run, err = self._experiment_run(ex, a, hashes)
                if run is None:
                    cur.update(phase="Error", message=f"Failed to create AnalysisRun for analysis '{aname}': {err}")
                    ars[aname] = cur
                    continue
                cur["analysisRun"] = run["metadata"]["name"]
            if run is not None:
                if (passed or terminating) and (run.get("status") or {}).get("phase") not in COMPLETED:
                    self.terminate_run(run)
                rs_ = run.get("status") or {}
                cur["phase"] = rs_.get("phase") or "Pending"
                if rs_.get("message"):
                    cur["message"] = rs_["message"]
            ars[aname] = cur
        if spec.get("analyses"):
            st["analysisRuns"] = [ars[a.get("name")] for a in spec.get("analyses") or () if a.get("name") in ars]
        # assessAnalysisRuns
        aworst, amsg = "Successful", ""
        required = [a.get("name") for a in spec.get("analyses") or () if a.get("requiredForCompletion")]
        for a in spec.get("analyses") or ():
            s = ars.get(a.get("name"), {})
            if is_worse(aworst, s.get("phase") or "Pending"):
                aworst, amsg = s.get("phase") or "Pending", s.get("message", "")
        required_ok = bool(required) and all(ars.get(n, {}).get("phase") == "Successful" for n in required)
        if required_ok and is_worse(aworst, "Running"):
            aworst, amsg = "Successful", "Required AnalysisRuns completed"
        if aworst == "Pending":
            aworst = "Running"
        # calculateStatus
        if tphase in COMPLETED:
            if tphase == "Successful" and (aworst in COMPLETED or required):
                phase, message = aworst, amsg
            else:
                phase, message = tphase, tmsg
        elif aworst in COMPLETED and aworst != "Successful":
            phase, message = aworst, amsg
        elif required_ok:
            phase, message = aworst, amsg
        else:
            phase, message = tphase, tmsg
        if phase != st.get("phase"):
            st["phase"] = phase
            if phase in COMPLETED:
                self.events.emit(ex, "Experiment" + phase, f"Experiment completed with phase {phase}",
                                 type="Warning" if phase in ("Failed", "Error") else "Normal", component=COMP)
        if message:
            st["message"] = message
        else:
            st.pop("message", None)
        if phase in COMPLETED:
            for t in spec.get("templates") or ():
                rs = self.state.get("replicasets", ns, f"{name}-{t.get('name')}")
                if rs is not None:
                    self.scale_rs(ex, rs, 0, component=COMP)
        owner = next((r for r in meta.get("ownerReferences") or () if r.get("kind") == "Rollout"), None)
        if owner and st.get("phase") != st0.get("phase"):
            self.dirty["rollouts"].add((ns, owner.get("name")))
        if st != st0:
            self.state.mutate(EXPERIMENTS, ns, name, lambda o: o.__setitem__("status", st))

    def _template_rs(self, ex: dict, t: dict) -> dict | None:
        """The template's ReplicaSet, created (at zero replicas) the first time (newReplicaSetFromTemplate)."""
        ns, name = ex["metadata"]["namespace"], ex["metadata"]["name"]
        rs_name = f"{name}-{t.get('name')}"
        rs = self.state.get("replicasets", ns, rs_name)
        if rs is not None:
            return rs
        tmpl = orjson_clone(t.get("template") or {})
        labels = (tmpl.setdefault("metadata", {}).get("labels") or {})
        labels.pop(ARGO_HASH, None)
        h = template_hash(tmpl)
        tmpl["metadata"]["labels"] = labels | {ARGO_HASH: h}
        sel = orjson_clone(t.get("selector") or {"matchLabels": dict(labels)})
        sel.setdefault("matchLabels", {})[ARGO_HASH] = h
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": rs_name, "namespace": ns, "labels": dict(tmpl["metadata"]["labels"]),
                           "annotations": {"experiment.argoproj.io/name": name,
                                           "experiment.argoproj.io/template-name": t.get("name") or ""},
                           "ownerReferences": [owner_ref(ex)]},
              "spec": {"replicas": 0, "selector": sel, "template": tmpl}}
        if t.get("minReadySeconds"):
            rs["spec"]["minReadySeconds"] = t["minReadySeconds"]
        try:
            return self.state.create(rs)
        except AlreadyExists:
            return self.state.get("replicasets", ns, rs_name)
        except StateError as e:
            self.sim.note_error(f"experiment {ns}/{name}: {e.message}")
            return None

    def _experiment_run(self, ex: dict, analysis: dict, hashes: dict) -> tuple[dict | None, str]:
        """newAnalysisRun for an experiment analysis: `<experiment>-<analysis>`, args with the templates' hashes."""
        import re  # noqa: PLC0415

        ns, name = ex["metadata"]["namespace"], ex["metadata"]["name"]
        args = []
        for a in analysis.get("args") or ():
            v = a.get("value")
            if isinstance(v, str):
                def sub(m):
                    key = m.group(1).strip()
                    mm = re.fullmatch(r"templates\.(.+)\.(podTemplateHash|replicaset\.name)", key)
                    if mm and mm.group(1) in hashes:
                        return hashes[mm.group(1)][0 if mm.group(2) == "podTemplateHash" else 1]
                    if key == "experiment.availableAt":
                        return (ex.get("status") or {}).get("availableAt") or ""
                    return m.group(0)
                v = re.sub(r"\{\{(.*?)\}\}", sub, v)
            args.append({"name": a.get("name"), "value": v} if v is not None else dict(a))
        ref = {"templateName": analysis.get("templateName"), "clusterScope": analysis.get("clusterScope", False)}
        meta_extra = (ex.get("spec") or {}).get("analysisRunMetadata") or {}
        try:
            run = self.build_run(ns, {"templates": [ref], "dryRun": (ex.get("spec") or {}).get("dryRun") or [],
                                      "analysisRunMetadata": meta_extra}, args)
        except AnalysisSpecError as e:
            return None, str(e)
        run["metadata"].update(name=f"{name}-{analysis.get('name')}", namespace=ns,
                               ownerReferences=[owner_ref(ex)])
        made = self.create_with_collision(run, ex)
        return made, "" if made is not None else "create failed"

    # ================================================================ the Rollout's experiment step
    def step_experiment(self, ro: dict, st: dict, idx: int, step: dict, h: str, stable_h: str, revision: str,
                        byhash: dict, now: str) -> str:
        """An `experiment` canary step: "next" once its Experiment is Successful, else "wait"."""
        ns, rname = ro["metadata"]["namespace"], ro["metadata"]["name"]
        key = (ro["metadata"].get("uid"), idx, h)
        mem = self._ex_mem()["current"]
        if st.get("pauseConditions") or st.get("abort"):
            return "wait"
        ex = self.state.get(EXPERIMENTS, ns, mem[key]) if key in mem else None
        if ex is None:
            exp = step.get("experiment") or {}
            templates = []
            for t in exp.get("templates") or ():
                src = byhash.get(h if t.get("specRef") == "canary" else stable_h)
                if src is None:
                    return "wait"
                src = self.state.get("replicasets", ns, src["metadata"]["name"]) or src
                tmpl = orjson_clone((src.get("spec") or {}).get("template") or {})
                sel = orjson_clone(t.get("selector") or (src.get("spec") or {}).get("selector") or {})
                md = t.get("metadata") or {}
                if md.get("labels"):
                    tmpl.setdefault("metadata", {}).setdefault("labels", {}).update(md["labels"])
                    sel.setdefault("matchLabels", {}).update(md["labels"])
                if md.get("annotations"):
                    tmpl.setdefault("metadata", {}).setdefault("annotations", {}).update(md["annotations"])
                templates.append({"name": t.get("name"), "replicas": t.get("replicas", 1), "template": tmpl,
                                  "selector": sel})
            analyses = []
            for a in exp.get("analyses") or ():
                args = self._rollout_args(ro, a.get("args") or [], h, stable_h)
                analyses.append({k: v for k, v in {"name": a.get("name"), "templateName": a.get("templateName"),
                                                   "clusterScope": a.get("clusterScope"), "args": args or None,
                                                   "requiredForCompletion": a.get("requiredForCompletion")}.items()
                                 if v is not None})
            spec = {"templates": templates}
            if exp.get("duration"):
                spec["duration"] = exp["duration"]
            if analyses:
                spec["analyses"] = analyses
            labels = dict(ro["metadata"].get("labels") or {}) | {ARGO_HASH: h}
            base = f"{rname}-{h}-{revision}-{idx}"
            obj = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment",
                   "metadata": {"name": base, "namespace": ns, "labels": labels,
                                "annotations": {"rollout.argoproj.io/revision": str(revision)},
                                "ownerReferences": [owner_ref(ro)]},
                   "spec": spec}
            n = 1
            while True:
                try:
                    ex = self.state.create(obj)
                    break
                except AlreadyExists:
                    obj["metadata"]["name"] = f"{base}-{n}"
                    n += 1
                except StateError as e:
                    self.sim.note_error(f"experiment {ns}/{base}: {e.message}")
                    return "wait"
            mem[key] = ex["metadata"]["name"]
            self.dirty["experiments"].add((ns, ex["metadata"]["name"]))
            self.events.emit(ro, "ExperimentCreated", f"Created Experiment '{ex['metadata']['name']}'",
                             component=COMP)
            return "wait"
        phase = (ex.get("status") or {}).get("phase")
        if phase == "Successful":
            return "next"
        if phase == "Inconclusive":
            pcs = st.get("pauseConditions") or []
            pcs.append({"reason": "InconclusiveExperiment", "startTime": now})
            st["pauseConditions"], st["controllerPause"] = pcs, True
        elif phase in ("Error", "Failed"):
            msg = "Experiment analysis phase is error/failed"
            if (ex.get("status") or {}).get("message"):
                msg += ": " + ex["status"]["message"]
            self._abort(ro, st, msg, ex)
        return "wait"

    def end_experiments(self, ro: dict) -> None:
        """Aborted or fully promoted: the Rollout's running Experiments are terminated (cancelExperiments)."""
        uid = ro["metadata"].get("uid")
        ns = ro["metadata"]["namespace"]
        for key, name in list(self._ex_mem()["current"].items()):
            if key[0] != uid:
                continue
            ex = self.state.get(EXPERIMENTS, ns, name)
            if ex is not None and (ex.get("status") or {}).get("phase") not in COMPLETED and \
                    not (ex.get("spec") or {}).get("terminate"):
                self.state.mutate(EXPERIMENTS, ns, name,
                                  lambda o: o.setdefault("spec", {}).__setitem__("terminate", True))
            del self._ex_mem()["current"][key]


__all__ = ["Experiments", "EXPERIMENTS"]
