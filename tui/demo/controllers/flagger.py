"""Flagger's controller: a Canary's primary Deployment and Services, Istio routes, the analysis loop, its events.

Transcribed from fluxcd/flagger (pkg/controller/scheduler.go `advanceCanary` and friends, scheduler_metrics.go,
scheduler_hooks.go, pkg/canary/deployment_controller.go, deployment_ready.go, status.go, pkg/router/istio.go,
kubernetes_default.go), in its order of checks, with its event texts (every event has reason `Synced`, source
`flagger`, the Canary as involved object). What the demo cannot do as Flagger does:

- Metrics are measured from the demo's traffic model (the counters each pod's /metrics serves), not queried from
  Prometheus: `request-success-rate` is the share of non-5xx requests of the target's pods over the metric's
  interval (scenario seconds), `request-duration` their P99 from the latency histogram (histogram_quantile's
  interpolation), in whole milliseconds as Flagger's Istio observer reads it. A window without requests is
  Flagger's "no values found". Custom metrics cannot be evaluated: a `query` fails the check with Flagger's
  "Prometheus query failed for NAME", a `templateRef` with "Metric query failed for NAME".
- Webhooks are not called. Hooks of type pre-rollout, rollout, post-rollout and event answer as Flagger's load
  tester does for a command (200); a URL ending in `/gate/halt` answers 403 "Forbidden" for any type.
  Confirm gates (confirm-rollout, confirm-promotion, confirm-traffic-increase): `/gate/approve` is open,
  `/gate/halt` closed, any other URL (the load tester's `/gate/check` among them) is closed until the Canary carries
  the annotation `demo.lookout.dev/gate: open` (the demo's stand-in for `/gate/open`). A rollback hook signals a
  rollback when the Canary carries `demo.lookout.dev/rollback: "true"`.
- Routing objects are written for the `istio` provider (Flagger's default mesh provider): the VirtualService and
  two DestinationRules; the traffic model splits the apex Service's requests by their weights (under A/B testing
  `AB_MATCH_PERCENT` of the requests match the canary's conditions). `kubernetes` is Flagger's blue/green without
  routing: the canary's pods get no requests from the model (there is no load tester), so built-in metrics find
  no values. Any other provider keeps its weights in memory only (no Ingress, HTTPRoute or TrafficSplit).
- ConfigMaps and Secrets the pod template reads are tracked as Flagger's config tracker does (NAME-primary copies,
  the primary reading them, `status.trackedConfigs`, a changed one starts an analysis). The `autoscalerRef` HPA is
  copied as NAME-primary, but the demo's HPAs do not scale anything.
- Deployment targets only: another targetRef kind is reported with a Warning event and left alone.
"""

from __future__ import annotations

import json
import random

import orjson

from tui.demo.controllers.base import orjson_clone, parse_duration, parse_ts, rfc3339

CANARIES = "canaries.flagger.app"
VIRTUALSERVICES = "virtualservices"
DESTINATIONRULES = "destinationrules.networking.istio.io"
COMPONENT = "flagger"
MESH_PROVIDER = "istio"  # flagger's -mesh-provider default
SELECTOR_LABELS = ("app", "name", "app.kubernetes.io/name")  # flagger's -selector-labels default
TOOLKIT_MARKER = "toolkit.fluxcd.io"
GATE_ANNOTATION = "demo.lookout.dev/gate"  # "open": the demo's stand-in for the load tester's /gate/open
ROLLBACK_ANNOTATION = "demo.lookout.dev/rollback"  # "true": the stand-in for /rollback/open
AB_MATCH_PERCENT = 10  # A/B testing: the share of requests that match the canary's headers/cookies
GATE_TYPES = ("confirm-rollout", "confirm-promotion", "confirm-traffic-increase")
PROGRESS_DEADLINE = 600
ANALYSIS_INTERVAL = 60.0
SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
BUCKET_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)  # tui.demo.traffic.BUCKETS


# ============================================================================================== pure helpers

def compute_hash(spec) -> str:
    """Flagger's ComputeHash shape: FNV-32a of the spec, its decimal digits through SafeEncodeString."""
    h = 0x811C9DC5
    for b in orjson.dumps(spec, option=orjson.OPT_SORT_KEYS):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHANUMS[ord(c) % len(SAFE_ALPHANUMS)] for c in str(h))


def analysis(cd: dict) -> dict:
    spec = cd.get("spec") or {}
    return spec.get("analysis") or spec.get("canaryAnalysis") or {}


def analysis_interval(cd: dict) -> float:
    """GetAnalysisInterval: default 60 s, at least 10 s."""
    v = parse_duration(analysis(cd).get("interval"))
    if v is None:
        return ANALYSIS_INTERVAL
    return max(v, 10.0)


def skip_analysis(cd: dict) -> bool:
    spec = cd.get("spec") or {}
    if spec.get("analysis") is None and spec.get("canaryAnalysis") is None:
        return True
    return bool(spec.get("skipAnalysis"))


def threshold(cd: dict) -> int:
    t = int(analysis(cd).get("threshold") or 0)
    return t if t > 0 else 1


def strategy(cd: dict) -> str:
    """DeploymentStrategy: A/B (match + iterations), blue/green (iterations), canary."""
    a = analysis(cd)
    if a.get("match") and int(a.get("iterations") or 0) > 0:
        return "ab-testing"
    if int(a.get("iterations") or 0) > 0:
        return "blue-green"
    return "canary"


def max_weight(cd: dict) -> int:
    a = analysis(cd)
    sw = a.get("stepWeights") or []
    if sw:
        return min(100, int(sw[-1]))
    if int(a.get("maxWeight") or 0) > 0:
        return int(a["maxWeight"])
    return 100


def next_step_weight(cd: dict, canary_weight: int) -> int:
    """scheduler.go nextStepWeight."""
    a = analysis(cd)
    sw = [int(x) for x in a.get("stepWeights") or []]
    if int(a.get("stepWeight") or 0) > 0 or not sw:
        return int(a.get("stepWeight") or 0)
    max_step = 100 - canary_weight
    if max_step == 0:
        return 1
    if canary_weight == 0:
        return min(max_step, sw[0])
    for i in range(len(sw) - 1):
        if sw[i] == canary_weight:
            return min(max_step, sw[i + 1] - canary_weight)
    return max_step


def service_names(cd: dict) -> tuple[str, str, str]:
    spec = cd.get("spec") or {}
    apex = (spec.get("service") or {}).get("name") or (spec.get("targetRef") or {}).get("name")
    return apex, f"{apex}-primary", f"{apex}-canary"


def go_duration_ms(ms: int) -> str:
    """time.Duration(ms * time.Millisecond).String() for whole milliseconds."""
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    s, rem = divmod(ms, 1000)
    frac = f".{rem:03d}".rstrip("0").rstrip(".") if rem else ""
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    out = f"{s}{frac}s"
    if h:
        return f"{h}h{m}m{out}"
    if m:
        return f"{m}m{out}"
    return out


def fmt_float(v) -> str:
    """Go's %v of a float64 threshold (99 -> "99", 99.5 -> "99.5")."""
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def histogram_quantile(q: float, cumulative: list[float], total: float) -> float | None:
    """Prometheus' histogram_quantile over cumulative bucket counts (upper bounds BUCKET_BOUNDS, then +Inf)."""
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in zip(BUCKET_BOUNDS, cumulative):
        if count >= rank:
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return BUCKET_BOUNDS[-1]  # the +Inf bucket: the highest finite bound, as Prometheus answers


def make_primary_labels(labels: dict | None, value: str, label: str) -> dict:
    out = {k: v for k, v in (labels or {}).items() if TOOLKIT_MARKER not in k and k != label}
    out[label] = value
    return out


def filter_metadata(meta: dict | None) -> dict:
    return {k: v for k, v in (meta or {}).items() if TOOLKIT_MARKER not in k}


SECRET_TYPES = ("Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls")


def config_checksum(data) -> str:
    """config_tracker.go checksum: sha256 of Go's json.Marshal (sorted keys, <>& escaped), first 8 bytes in hex."""
    import hashlib  # noqa: PLC0415
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return hashlib.sha256(text.encode()).digest()[:8].hex()


def config_names(pod_spec: dict) -> tuple[dict[str, bool], dict[str, bool]]:
    """config_tracker.go GetTargetConfigs' walk: ({ConfigMap: required}, {Secret: required}) a pod spec reads."""
    cms: dict[str, bool] = {}
    secs: dict[str, bool] = {}

    def req(ref: dict) -> bool:
        return not ref.get("optional")
    for v in pod_spec.get("volumes") or ():
        if v.get("configMap"):
            cms[v["configMap"].get("name")] = req(v["configMap"])
        if v.get("secret"):
            secs[v["secret"].get("secretName")] = req(v["secret"])
        for src in (v.get("projected") or {}).get("sources") or ():
            if src.get("configMap"):
                cms[src["configMap"].get("name")] = req(src["configMap"])
            if src.get("secret"):
                secs[src["secret"].get("name")] = req(src["secret"])
    for c in list(pod_spec.get("containers") or ()) + list(pod_spec.get("initContainers") or ()):
        for e in c.get("env") or ():
            vf = e.get("valueFrom") or {}
            if vf.get("configMapKeyRef"):
                cms[vf["configMapKeyRef"].get("name")] = req(vf["configMapKeyRef"])
            elif vf.get("secretKeyRef"):
                secs[vf["secretKeyRef"].get("name")] = req(vf["secretKeyRef"])
        for ef in c.get("envFrom") or ():
            if ef.get("configMapRef"):
                cms[ef["configMapRef"].get("name")] = req(ef["configMapRef"])
            elif ef.get("secretRef"):
                secs[ef["secretRef"].get("name")] = req(ef["secretRef"])
    return cms, secs


def apply_primary_configs(pod_spec: dict, refs: dict) -> dict:
    """config_tracker.go ApplyPrimaryConfigs: tracked ConfigMaps and Secrets read as NAME-primary."""
    spec = orjson_clone(pod_spec)

    def ren(ref: dict, key: str, kind: str) -> None:
        if ref and f"{kind}/{ref.get(key)}" in refs:
            ref[key] = f"{ref.get(key)}-primary"
    for v in spec.get("volumes") or ():
        ren(v.get("configMap"), "name", "configmap")
        ren(v.get("secret"), "secretName", "secret")
        for src in (v.get("projected") or {}).get("sources") or ():
            ren(src.get("configMap"), "name", "configmap")
            ren(src.get("secret"), "name", "secret")
    for c in list(spec.get("containers") or ()) + list(spec.get("initContainers") or ()):
        for e in c.get("env") or ():
            vf = e.get("valueFrom") or {}
            ren(vf.get("configMapKeyRef"), "name", "configmap")
            ren(vf.get("secretKeyRef"), "name", "secret")
        for ef in c.get("envFrom") or ():
            ren(ef.get("configMapRef"), "name", "configmap")
            ren(ef.get("secretRef"), "name", "secret")
    return spec


class _NotReady(Exception):
    def __init__(self, message: str, retriable: bool = True):
        super().__init__(message)
        self.message = message
        self.retriable = retriable


# ============================================================================================== the controller

CONTROLLER_OFF = "demo.lookout.dev/controller"  # "off": this Canary is not run by the demo's Flagger


class Flagger:
    """Mixin of Controllers: Flagger's scheduler, one analysis job per Canary ticking every analysis interval."""

    # ---------------------------------------------------------------- jobs (scheduleCanaries, CanaryJob)
    def reconcile_canary(self, cd: dict) -> None:
        """A Canary was added or changed: start its job (runs now, then every interval), or restart it when the
        interval changed, as scheduleCanaries does."""
        meta = cd["metadata"]
        if meta.get("deletionTimestamp"):
            return
        uid = meta["uid"]
        if (meta.get("annotations") or {}).get(CONTROLLER_OFF) == "off":
            # a Canary the demo's Flagger leaves alone (as one whose Flagger is not running): its status is
            # whatever was written to it, e.g. by a test setting a phase with `kubectl patch --subresource=status`
            self.forget_canary(uid)
            return
        interval = analysis_interval(cd)
        job = self.flagger_jobs.get(uid)
        if job is not None and job[1] == interval:
            return
        token = object()
        self.flagger_jobs[uid] = (token, interval)
        self._flagger_tick(meta["namespace"], meta["name"], uid, token)

    def forget_canary(self, uid: str) -> None:
        self.flagger_jobs.pop(uid, None)
        self.flagger_samples.pop(uid, None)
        self.flagger_routes.pop(uid, None)

    def _flagger_tick(self, ns: str, name: str, uid: str, token) -> None:
        job = self.flagger_jobs.get(uid)
        if job is None or job[0] is not token:
            return
        cd = self.state.get(CANARIES, ns, name)
        if cd is None or cd["metadata"].get("uid") != uid:
            self.forget_canary(uid)
            return
        try:
            self.advance_canary(cd)
        except Exception as e:  # noqa: BLE001 - one Canary's bug must not stop the cluster; the job keeps ticking
            self.sim.note_error(f"flagger {ns}/{name}: {getattr(e, 'message', None) or repr(e)}")
        finally:
            self.sim.schedule(job[1], lambda: self._flagger_tick(ns, name, uid, token))

    # ---------------------------------------------------------------- events, status
    def _fl_event(self, cd: dict, message: str, warning: bool = False) -> None:
        self.events.emit(cd, "Synced", message, type="Warning" if warning else "Normal", component=COMPONENT)

    def _fl_get(self, cd: dict) -> dict:
        m = cd["metadata"]
        return self.state.get(CANARIES, m["namespace"], m["name"]) or cd

    def _fl_write_status(self, cd: dict, fn) -> dict:
        m = cd["metadata"]

        def edit(o):
            st = o.setdefault("status", {})
            fn(st, o)
            st["lastTransitionTime"] = rfc3339(self.sim.clock())
        return self.state.mutate(CANARIES, m["namespace"], m["name"], edit) or cd

    def _fl_conditions(self, cd_status: dict, cd: dict, phase: str) -> list | None:
        """status.go MakeStatusConditions: the Promoted condition for a phase (None: unchanged)."""
        kind = ((cd.get("spec") or {}).get("targetRef") or {}).get("kind") or "Deployment"
        status, message = {
            "Initializing": ("Unknown", f"New {kind} detected, starting initialization."),
            "Initialized": ("True", f"{kind} initialization completed."),
            "Waiting": ("Unknown", "Waiting for approval."),
            "WaitingPromotion": ("Unknown", "Waiting for approval."),
            "Progressing": ("Unknown", "New revision detected, progressing canary analysis."),
            "Promoting": ("Unknown", "Canary analysis completed, starting primary rolling update."),
            "Finalising": ("Unknown", "Canary analysis completed, routing all traffic to primary."),
            "Succeeded": ("True", "Canary analysis completed successfully, promotion finished."),
            "Failed": ("False", f"Canary analysis failed, {kind} scaled to zero."),
        }.get(phase, ("Unknown", f"New {kind} detected, starting initialization."))
        cur = next((c for c in cd_status.get("conditions") or () if c.get("type") == "Promoted"), None)
        if cur is not None and cur.get("status") == status and cur.get("reason") == phase:
            return None
        now = rfc3339(self.sim.clock())
        new = {"type": "Promoted", "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
               "reason": phase, "message": message}
        if cur is not None and cur.get("status") == status:
            new["lastTransitionTime"] = cur.get("lastTransitionTime") or now
        return [new]

    def _fl_sync_status(self, cd: dict, phase: str, weight: int = 0, failed: int = 0, iterations: int = 0) -> dict:
        """syncCanaryStatus: phase, counters, lastAppliedSpec = hash of the target's pod template."""
        dep = self._fl_target(cd)
        h = compute_hash(((dep or {}).get("spec") or {}).get("template") or {})
        start = orjson_clone(cd.get("status") or {})
        try:
            tracked = {k: v[2] for k, v in self._fl_target_configs(cd, dep).items()} if dep is not None else {}
        except _NotReady:
            tracked = start.get("trackedConfigs")

        def fn(st, o):
            st.update(phase=phase, canaryWeight=weight, failedChecks=failed, iterations=iterations, lastAppliedSpec=h)
            if tracked is not None:
                st["trackedConfigs"] = tracked
            if phase == "Initialized":
                st["lastPromotedSpec"] = h
            conds = self._fl_conditions(start, o, phase)
            if conds is not None:
                st["conditions"] = conds
        return self._fl_write_status(cd, fn)

    def _fl_set_phase(self, cd: dict, phase: str) -> dict:
        """setStatusPhase: weight and iterations reset outside Progressing/Waiting/Promoting."""
        start = orjson_clone(cd.get("status") or {})
        iters = int(analysis(cd).get("iterations") or 0)

        def fn(st, o):
            st["phase"] = phase
            if phase not in ("Progressing", "Waiting", "Promoting"):
                st["canaryWeight"] = 0
                st["iterations"] = iters - 1 if phase == "WaitingPromotion" else 0
            if phase in ("Initialized", "Succeeded"):
                st["lastPromotedSpec"] = start.get("lastAppliedSpec")
            conds = self._fl_conditions(start, o, phase)
            if conds is not None:
                st["conditions"] = conds
        return self._fl_write_status(cd, fn)

    def _fl_set_field(self, cd: dict, field: str, value: int) -> dict:
        return self._fl_write_status(cd, lambda st, o: st.__setitem__(field, value))

    # ---------------------------------------------------------------- the target and its primary
    def _fl_target(self, cd: dict) -> dict | None:
        ref = (cd.get("spec") or {}).get("targetRef") or {}
        return self.state.get("deployments", cd["metadata"]["namespace"], ref.get("name") or "")

    @staticmethod
    def _fl_selector_label(dep: dict) -> tuple[str, str] | None:
        ml = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        for lbl in SELECTOR_LABELS:
            if lbl in ml:
                return lbl, ml[lbl]
        return None

    def _fl_target_configs(self, cd: dict, dep: dict) -> dict[str, tuple[str, str, str]]:
        """GetTargetConfigs: {"configmap/NAME": (type, name, checksum)}; a required one missing raises _NotReady."""
        ns = cd["metadata"]["namespace"]
        cms, secs = config_names((((dep.get("spec") or {}).get("template") or {}).get("spec") or {}))
        out = {}
        for name, required in cms.items():
            cm = self.state.get("configmaps", ns, name or "")
            if cm is None:
                if required:
                    raise _NotReady(f'configmap {name}.{ns} get query error: configmap {name}.{ns} get query error: '
                                    f'configmaps "{name}" not found')
                continue
            if str((cm["metadata"].get("annotations") or {}).get("flagger.app/config-tracking", "")).startswith(
                    "disable"):
                continue
            out[f"configmap/{name}"] = ("configmap", name, config_checksum(cm.get("data")))
        for name, required in secs.items():
            sec = self.state.get("secrets", ns, name or "")
            if sec is None:
                if required:
                    raise _NotReady(f'secret {name}.{ns} get query error: secret {name}.{ns} get query error: '
                                    f'secrets "{name}" not found')
                continue
            if (sec.get("type") or "Opaque") not in SECRET_TYPES or str(
                    (sec["metadata"].get("annotations") or {}).get("flagger.app/config-tracking", "")).startswith(
                    "disable"):
                continue
            out[f"secret/{name}"] = ("secret", name, config_checksum(sec.get("data")))
        return out

    def _fl_create_primary_configs(self, cd: dict, refs: dict) -> None:
        """CreatePrimaryConfigs: NAME-primary copies of the tracked ConfigMaps and Secrets, owned by the Canary."""
        ns = cd["metadata"]["namespace"]
        for typ, name, _sum in refs.values():
            res = "configmaps" if typ == "configmap" else "secrets"
            src = self.state.get(res, ns, name)
            if src is None:
                continue
            owners = [self._fl_owner(cd)]
            old = self.state.get(res, ns, f"{name}-primary")
            for r in (old or {}).get("metadata", {}).get("ownerReferences") or ():
                if r.get("kind") != "Canary" or r.get("name") != cd["metadata"]["name"]:
                    owners.append(dict(r, controller=False))
            meta = {"name": f"{name}-primary", "namespace": ns, "ownerReferences": owners}
            obj = {"apiVersion": "v1", "kind": "ConfigMap" if typ == "configmap" else "Secret", "metadata": meta}
            if src.get("data") is not None:
                obj["data"] = orjson_clone(src["data"])
            if typ == "secret":
                obj["type"] = src.get("type") or "Opaque"
            if old is None:
                self.state.create(obj)
            else:
                def fn(o, obj=obj):
                    o["metadata"]["ownerReferences"] = obj["metadata"]["ownerReferences"]
                    o["metadata"].pop("labels", None)
                    if "data" in obj:
                        o["data"] = obj["data"]
                    else:
                        o.pop("data", None)
                    if typ == "secret":
                        o["type"] = obj["type"]
                self.state.mutate(res, ns, f"{name}-primary", fn)

    def _fl_flagger_id(self, cd: dict) -> str:
        """makeAnnotations' flagger-id: a random UUID in Flagger; here drawn from the seed (same seed, same ids)."""
        self.flagger_ids += 1
        rng = random.Random(f"{self.sim.seed}/{cd['metadata']['namespace']}/{cd['metadata']['name']}/"
                            f"{self.flagger_ids}")
        b = bytearray(rng.getrandbits(8) for _ in range(16))
        b[8] = b[8] & 0x3F | 0x80
        b[6] = b[6] & 0x0F | 0x40
        x = b.hex()
        return f"{x[0:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:32]}"

    def _fl_pod_annotations(self, cd: dict, ann: dict | None) -> dict:
        out = {k: v for k, v in (ann or {}).items() if TOOLKIT_MARKER not in k and k != "flagger-id"}
        out["flagger-id"] = self._fl_flagger_id(cd)
        return out

    def _fl_create_primary(self, cd: dict, dep: dict, label: str, value: str) -> None:
        """deployment_controller.go createPrimaryDeployment."""
        ns = cd["metadata"]["namespace"]
        primary_name = f"{dep['metadata']['name']}-primary"
        if self.state.get("deployments", ns, primary_name) is not None:
            return
        refs = self._fl_target_configs(cd, dep)
        self._fl_create_primary_configs(cd, refs)
        dspec = dep.get("spec") or {}
        tmpl = dspec.get("template") or {}
        replicas = int(dspec.get("replicas") or 0) or 1
        spec = {"replicas": replicas,
                "selector": {"matchLabels": {label: f"{value}-primary"}},
                "template": {"metadata": {"labels": make_primary_labels((tmpl.get("metadata") or {}).get("labels"),
                                                                        f"{value}-primary", label),
                                          "annotations": self._fl_pod_annotations(
                                              cd, (tmpl.get("metadata") or {}).get("annotations"))},
                             "spec": apply_primary_configs(tmpl.get("spec") or {}, refs)}}
        for k in ("progressDeadlineSeconds", "minReadySeconds", "revisionHistoryLimit", "strategy"):
            if k in dspec:
                spec[k] = orjson_clone(dspec[k])
        meta = {"name": primary_name, "namespace": ns, "labels": make_primary_labels({}, f"{value}-primary", label),
                "ownerReferences": [self._fl_owner(cd)]}
        ann = filter_metadata((dep["metadata"].get("annotations")))
        ann.pop("deployment.kubernetes.io/revision", None)  # the apiserver's own, not the user's
        if ann:
            meta["annotations"] = ann
        self.state.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec})

    @staticmethod
    def _fl_owner(cd: dict) -> dict:
        m = cd["metadata"]
        return {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": m["name"], "uid": m["uid"],
                "controller": True, "blockOwnerDeletion": True}

    def _fl_promote(self, cd: dict, dep: dict, label: str, value: str) -> bool:
        """deployment_controller.go Promote: the target's template (and rollout settings, tracked configs) onto the
        primary. False (with Flagger's Warning) when a required ConfigMap or Secret is missing."""
        ns = cd["metadata"]["namespace"]
        try:
            refs = self._fl_target_configs(cd, dep)
        except _NotReady as e:
            self._fl_event(cd, f"updating deployment {dep['metadata']['name']}-primary.{ns} template spec failed: "
                               f"GetTargetConfigs failed: {e.message}", warning=True)
            return False
        self._fl_create_primary_configs(cd, refs)
        dspec = dep.get("spec") or {}
        tmpl = dspec.get("template") or {}
        pod_ann = self._fl_pod_annotations(cd, (tmpl.get("metadata") or {}).get("annotations"))
        has_hpa = bool((cd.get("spec") or {}).get("autoscalerRef"))

        def fn(o):
            s = o.setdefault("spec", {})
            for k in ("progressDeadlineSeconds", "minReadySeconds", "revisionHistoryLimit", "strategy"):
                if k in dspec:
                    s[k] = orjson_clone(dspec[k])
                else:
                    s.pop(k, None)
            if not has_hpa:
                s["replicas"] = dspec.get("replicas", 1)
            t = s.setdefault("template", {})
            t["spec"] = apply_primary_configs(tmpl.get("spec") or {}, refs)
            t.setdefault("metadata", {})["annotations"] = pod_ann
            t["metadata"]["labels"] = make_primary_labels((tmpl.get("metadata") or {}).get("labels"),
                                                          f"{value}-primary", label)
            o["metadata"]["annotations"] = {}
            o["metadata"]["labels"] = make_primary_labels({}, f"{value}-primary", label)
        self.state.mutate("deployments", ns, f"{dep['metadata']['name']}-primary", fn)
        return True

    def _fl_scale(self, cd: dict, replicas: int) -> None:
        dep = self._fl_target(cd)
        if dep is None:
            return
        if (dep.get("spec") or {}).get("replicas") == replicas:
            return
        m = dep["metadata"]
        self.state.mutate("deployments", m["namespace"], m["name"],
                          lambda o: o.setdefault("spec", {}).__setitem__("replicas", replicas))

    def _fl_scale_from_zero(self, cd: dict) -> None:
        """ScaleFromZero: the target's own replicas, else the primary's (no HPA), else the HPA's minReplicas."""
        dep = self._fl_target(cd)
        if dep is None:
            return
        ns = cd["metadata"]["namespace"]
        replicas = 1
        own = int((dep.get("spec") or {}).get("replicas") or 0)
        auto = (cd.get("spec") or {}).get("autoscalerRef")
        if own > 0:
            replicas = own
        elif not auto:
            primary = self.state.get("deployments", ns, f"{dep['metadata']['name']}-primary")
            pr = int(((primary or {}).get("spec") or {}).get("replicas") or 0)
            if pr > 0:
                replicas = pr
        elif auto.get("kind") == "HorizontalPodAutoscaler":
            hpa = self.state.get("horizontalpodautoscalers", ns, auto.get("name") or "")
            mn = int(((hpa or {}).get("spec") or {}).get("minReplicas") or 0)
            if mn > 1:
                replicas = mn
        self._fl_scale(cd, replicas)

    def _fl_primary_hpa(self, cd: dict, init: bool) -> bool:
        """hpa_reconciler.go reconcilePrimaryHpaV2: the autoscalerRef HPA copied as NAME-primary, aimed at the
        primary Deployment (the demo's HPAs are stored, not acted on). False (with Flagger's Warning) when absent."""
        auto = (cd.get("spec") or {}).get("autoscalerRef") or {}
        if auto.get("kind") != "HorizontalPodAutoscaler":
            return True
        ns = cd["metadata"]["namespace"]
        hpa = self.state.get("horizontalpodautoscalers", ns, auto.get("name") or "")
        if hpa is None:
            self._fl_event(cd, f"HorizontalPodAutoscaler {auto.get('name')}.{ns} get query error: "
                               f'horizontalpodautoscalers.autoscaling "{auto.get("name")}" not found', warning=True)
            return False
        hs = hpa.get("spec") or {}
        ref = hs.get("scaleTargetRef") or {}
        target = ((cd.get("spec") or {}).get("targetRef") or {}).get("name")
        spec = {"scaleTargetRef": {"kind": ref.get("kind"), "name": f"{target}-primary",
                                   "apiVersion": ref.get("apiVersion")},
                "maxReplicas": hs.get("maxReplicas")}
        for k in ("minReplicas", "metrics", "behavior"):
            if hs.get(k) is not None:
                spec[k] = orjson_clone(hs[k])
        psr = auto.get("primaryScalerReplicas") or {}
        if psr.get("minReplicas") is not None:
            spec["minReplicas"] = psr["minReplicas"]
        if psr.get("maxReplicas") is not None:
            spec["maxReplicas"] = psr["maxReplicas"]
        name = f"{auto.get('name')}-primary"
        cur = self.state.get("horizontalpodautoscalers", ns, name)
        labels = filter_metadata(hpa["metadata"].get("labels"))
        if cur is None:
            meta = {"name": name, "namespace": ns, "ownerReferences": [self._fl_owner(cd)]}
            if labels:
                meta["labels"] = labels
            self.state.create({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta,
                               "spec": spec})
            return True
        if not init:
            cs = cur.get("spec") or {}
            if any(cs.get(k) != spec.get(k) for k in ("minReplicas", "maxReplicas", "metrics", "behavior")):
                def fn(o):
                    for k in ("minReplicas", "maxReplicas", "metrics", "behavior"):
                        if spec.get(k) is None:
                            o["spec"].pop(k, None)
                        else:
                            o["spec"][k] = spec[k]
                self.state.mutate("horizontalpodautoscalers", ns, name, fn)
        return True

    def _fl_ready(self, dep: dict, deadline: int, ready_threshold: int) -> None:
        """deployment_ready.go isDeploymentReady; raises _NotReady(message, retriable)."""
        st = dep.get("status") or {}
        meta = dep["metadata"]
        if int(meta.get("generation") or 0) > int(st.get("observedGeneration") or 0):
            raise _NotReady("waiting for rollout to finish: observed deployment generation less than desired "
                            "generation")
        conds = {c.get("type"): c for c in st.get("conditions") or ()}
        progress = conds.get("Progressing")
        retriable = True
        if progress is not None:
            avail = conds.get("Available")
            if avail is not None and avail.get("status") == "False" and avail.get("reason") == \
                    "MinimumReplicasUnavailable":
                frm = parse_ts(avail.get("lastUpdateTime"))
                if frm is not None:
                    retriable = not (frm + deadline < self.sim.clock())
        updated = int(st.get("updatedReplicas") or 0)
        threshold_updated = int(updated * ready_threshold / 100.0)
        replicas = (dep.get("spec") or {}).get("replicas")
        if progress is not None and progress.get("reason") == "ProgressDeadlineExceeded":
            raise _NotReady(f'deployment "{meta["name"]}" exceeded its progress deadline', False)
        if replicas is not None and updated < int(replicas):
            raise _NotReady(f"waiting for rollout to finish: {updated} out of {replicas} new replicas have been "
                            "updated", retriable)
        if int(st.get("replicas") or 0) > updated:
            raise _NotReady(f"waiting for rollout to finish: {int(st.get('replicas') or 0) - updated} old replicas "
                            "are pending termination", retriable)
        if int(st.get("availableReplicas") or 0) < threshold_updated:
            raise _NotReady(f"waiting for rollout to finish: {int(st.get('availableReplicas') or 0)} of "
                            f"{threshold_updated} (readyThreshold {ready_threshold}%) updated replicas are available",
                            retriable)

    # ---------------------------------------------------------------- Services (kubernetes_default.go)
    def _fl_service(self, cd: dict, name: str, selector_label: str, pod_selector: str, custom: dict | None,
                    ports: dict[str, int]) -> None:
        ns = cd["metadata"]["namespace"]
        svc = (cd.get("spec") or {}).get("service") or {}
        port = int(svc.get("port") or 0)
        target = svc.get("targetPort")
        if target in (None, 0, "0", ""):
            target = port
        sp = {"name": svc.get("portName") or "http", "protocol": "TCP", "port": port, "targetPort": target}
        if svc.get("appProtocol"):
            sp["appProtocol"] = svc["appProtocol"]
        want_ports = [sp] + [{"name": n, "protocol": "TCP", "port": p, "targetPort": p}
                             for n, p in sorted(ports.items())]
        labels = dict((custom or {}).get("labels") or {})
        labels[selector_label] = name
        annotations = filter_metadata((custom or {}).get("annotations"))
        cur = self.state.get("services", ns, name)
        if cur is None:
            spec = {"type": "ClusterIP", "selector": {selector_label: pod_selector}, "ports": want_ports}
            if svc.get("headless"):
                spec["clusterIP"] = "None"
            if svc.get("trafficDistribution"):
                spec["trafficDistribution"] = svc["trafficDistribution"]
            meta = {"name": name, "namespace": ns, "labels": labels, "ownerReferences": [self._fl_owner(cd)]}
            if annotations:
                meta["annotations"] = annotations
            self.state.create({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec})
            return

        def key(p):
            return p.get("port") or 0
        have = [{k: p.get(k) for k in ("name", "protocol", "port", "targetPort", "appProtocol") if k in p}
                for p in (cur.get("spec") or {}).get("ports") or ()]
        update_spec = (sorted(have, key=key) != sorted(want_ports, key=key)
                       or (cur.get("spec") or {}).get("selector") != {selector_label: pod_selector})
        ref = next((r for r in cur["metadata"].get("ownerReferences") or () if r.get("controller")), None)
        owned = bool(ref and ref.get("kind") == "Canary" and ref.get("name") == cd["metadata"]["name"])
        update_meta = owned and ((cur["metadata"].get("labels") or {}) != labels
                                 or (cur["metadata"].get("annotations") or {}) != annotations)
        if not update_spec and not update_meta:
            return

        def fn(o):
            if update_spec:
                node_ports = {p.get("name"): p.get("nodePort") for p in (o.get("spec") or {}).get("ports") or ()
                              if p.get("nodePort")}
                new_ports = [dict(p, nodePort=node_ports[p["name"]]) if p["name"] in node_ports else dict(p)
                             for p in want_ports]
                o.setdefault("spec", {})["ports"] = new_ports
                o["spec"]["selector"] = {selector_label: pod_selector}
            if update_meta:
                o["metadata"]["labels"] = labels
                o["metadata"]["annotations"] = annotations
        self.state.mutate("services", ns, name, fn)

    # ---------------------------------------------------------------- routing (istio.go; others in memory)
    def _fl_istio_destination(self, cd: dict, host: str, weight: int) -> dict:
        svc = (cd.get("spec") or {}).get("service") or {}
        gws = svc.get("gateways") or []
        d = {"destination": {"host": host}, "weight": weight}
        if svc.get("portDiscovery") and ((gws and gws[0] != "mesh") or svc.get("delegation")):
            d["destination"]["port"] = {"number": int(svc.get("port") or 0)}
        return d

    def _fl_http_route(self, cd: dict, route: list, match=None) -> dict:
        svc = (cd.get("spec") or {}).get("service") or {}
        r = {}
        m = svc.get("match") if match is None else match
        if m:
            r["match"] = orjson_clone(m)
        if svc.get("rewrite"):
            rw = {k: v for k, v in svc["rewrite"].items() if k in ("uri", "authority", "uriRegexRewrite") and v}
            if rw:
                r["rewrite"] = rw
        for k in ("timeout", "retries", "corsPolicy", "headers"):
            if svc.get(k):
                r[k] = orjson_clone(svc[k])
        r["route"] = route
        return r

    def _fl_merge_match(self, cd: dict) -> list:
        a_match = analysis(cd).get("match") or []
        defaults = ((cd.get("spec") or {}).get("service") or {}).get("match") or []
        if not defaults:
            return orjson_clone(a_match)
        out = []
        for c in a_match:
            for d in defaults:
                m = orjson_clone(d)
                if c.get("headers") is not None:
                    m["headers"] = c["headers"]
                if c.get("sourceLabels") is not None:
                    m["sourceLabels"] = c["sourceLabels"]
                out.append(m)
        return out

    def _fl_vs_http(self, cd: dict, primary_w: int, canary_w: int) -> list:
        _, primary, canary = service_names(cd)
        route = [self._fl_istio_destination(cd, primary, primary_w), self._fl_istio_destination(cd, canary, canary_w)]
        if analysis(cd).get("match"):
            return [self._fl_http_route(cd, route, self._fl_merge_match(cd)),
                    self._fl_http_route(cd, [self._fl_istio_destination(cd, primary, 100)])]
        return [self._fl_http_route(cd, route)]

    def _fl_istio_reconcile(self, cd: dict) -> bool:
        """IstioRouter.Reconcile: DestinationRules NAME-canary and NAME-primary, the VirtualService NAME.
        False (with Flagger's Warning) when Istio's CRDs are not installed (`--without-crds istio`)."""
        ns = cd["metadata"]["namespace"]
        apex, primary, canary = service_names(cd)
        served = set(self.state.routes.values())
        if DESTINATIONRULES not in served or VIRTUALSERVICES not in served:
            self._fl_event(cd, f"reconcileDestinationRule failed: DestinationRule {canary}.{ns} create error: the "
                               "server could not find the requested resource (post destinationrules.networking.istio.io)",
                           warning=True)
            return False
        svc = (cd.get("spec") or {}).get("service") or {}
        for name in (canary, primary):
            spec = {"host": name}
            if svc.get("trafficPolicy"):
                spec["trafficPolicy"] = orjson_clone(svc["trafficPolicy"])
            cur = self.state.get(DESTINATIONRULES, ns, name)
            if cur is None:
                self.state.create({"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
                                   "metadata": {"name": name, "namespace": ns, "ownerReferences": [self._fl_owner(cd)]},
                                   "spec": spec})
            elif cur.get("spec") != spec:
                self.state.mutate(DESTINATIONRULES, ns, name, lambda o, spec=spec: o.__setitem__("spec", spec))
        hosts = list(svc.get("hosts") or [])
        if not any(h in (apex, "*") for h in hosts):
            hosts.append(apex)
        gateways = list(svc.get("gateways") or [])
        if not gateways:
            gateways = ["mesh"]
        if svc.get("delegation"):
            hosts, gateways = [], []
        new_spec = {"hosts": hosts, "gateways": gateways, "http": self._fl_vs_http(cd, 100, 0)}
        apex_meta = svc.get("apex") or {}
        labels = dict(apex_meta.get("labels") or {})
        annotations = filter_metadata(apex_meta.get("annotations"))
        cur = self.state.get(VIRTUALSERVICES, ns, apex)
        if cur is None:
            meta = {"name": apex, "namespace": ns, "ownerReferences": [self._fl_owner(cd)]}
            if labels:
                meta["labels"] = labels
            if annotations:
                meta["annotations"] = annotations
            self.state.create({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
                               "metadata": meta, "spec": new_spec})
            return True

        def no_weights(spec):
            s = orjson_clone(spec or {})
            for r in s.get("http") or ():
                r.pop("mirror", None)
                r.pop("mirrorPercentage", None)
                for d in r.get("route") or ():
                    d.pop("weight", None)
            return s
        if no_weights(cur.get("spec")) != no_weights(new_spec):
            old = cur.get("spec")

            def fn(o):
                o["spec"] = new_spec
                ann = o["metadata"].setdefault("annotations", {})
                if "kubectl.kubernetes.io/last-applied-configuration" not in ann:
                    ann["flagger.kubernetes.io/original-configuration"] = orjson.dumps(old).decode()
            self.state.mutate(VIRTUALSERVICES, ns, apex, fn)
        return True

    def _fl_get_routes(self, cd: dict, provider: str) -> tuple[int, int, bool]:
        """GetRoutes: (primary weight, canary weight, mirrored); raises _NotReady with Flagger's error."""
        if provider == "kubernetes":
            return 0, 0, False
        if provider != "istio":
            return self.flagger_routes.get(cd["metadata"]["uid"], (100, 0, False))
        ns = cd["metadata"]["namespace"]
        apex, primary, canary = service_names(cd)
        vs = self.state.get(VIRTUALSERVICES, ns, apex)
        if vs is None:
            raise _NotReady(f'VirtualService {apex}.{ns} get query error virtualservices.networking.istio.io '
                            f'"{apex}" not found')
        pw = cw = 0
        mirrored = False
        route = next((r for r in (vs.get("spec") or {}).get("http") or ()
                      if any((d.get("destination") or {}).get("host") == canary for d in r.get("route") or ())), {})
        for d in route.get("route") or ():
            host = (d.get("destination") or {}).get("host")
            if host == primary:
                pw = int(d.get("weight") or 0)
            elif host == canary:
                cw = int(d.get("weight") or 0)
        if (route.get("mirror") or {}).get("host"):
            mirrored = True
        if pw == 0 and cw == 0:
            raise _NotReady(f"VirtualService {apex}.{ns} does not contain routes for {apex}-primary and {apex}-canary")
        return pw, cw, mirrored

    def _fl_set_routes(self, cd: dict, provider: str, primary_w: int, canary_w: int, mirrored: bool = False) -> None:
        uid = cd["metadata"]["uid"]
        self.flagger_routes[uid] = (primary_w, canary_w, mirrored)
        ns = cd["metadata"]["namespace"]
        apex, primary, canary = service_names(cd)
        if provider == "istio":
            http = self._fl_vs_http(cd, primary_w, canary_w)
            if mirrored:
                http[0]["mirror"] = {"host": canary}
                mw = int(analysis(cd).get("mirrorWeight") or 0)
                if mw > 0:
                    http[0]["mirrorPercentage"] = {"value": float(mw)}
            self.state.mutate(VIRTUALSERVICES, ns, apex, lambda o: o.setdefault("spec", {}).__setitem__("http", http))
        if provider != "kubernetes":
            # the demo's traffic model sends the apex Service's requests by these weights (Istio's split); under
            # A/B testing only the requests matching `analysis.match` reach the canary: AB_MATCH_PERCENT of them
            if analysis(cd).get("match") and canary_w > 0:
                share = canary_w * AB_MATCH_PERCENT // 100
                self.sim.set_mesh_routes(ns, apex, {primary: 100 - share, canary: share})
            else:
                self.sim.set_mesh_routes(ns, apex, {primary: primary_w, canary: canary_w})

    # ---------------------------------------------------------------- measurements (scheduler_metrics.go)
    def _fl_target_pods(self, cd: dict) -> list[tuple[str, str]]:
        """The pods of the target workload (Istio's destination_workload=TARGET)."""
        dep = self._fl_target(cd)
        if dep is None:
            return []
        ns = dep["metadata"]["namespace"]
        sel = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        out = []
        for p in self.state.list("pods", ns)[0]:
            labels = p["metadata"].get("labels") or {}
            if sel and all(labels.get(k) == v for k, v in sel.items()):
                out.append((ns, p["metadata"]["name"]))
        return out

    def _fl_window(self, cd: dict, interval_s: float) -> list[float] | None:
        """Counter increase summed over the target's pods across the metric interval (scenario seconds, so a
        compressed demo measures the same part of the story): per pod, the latest sample at or before the window's
        start is the base (a pod first seen later starts from zero; a counter that went down restarted)."""
        uid = cd["metadata"]["uid"]
        traffic = self.sim.traffic
        now = self.sim.clock()
        t = self.sim.t
        cur = {}
        for key in self._fl_target_pods(cd):
            c = traffic.counters(key, now)
            if c is not None:
                cur[key] = c
        hist = self.flagger_samples.setdefault(uid, [])
        hist.append((t, cur))
        start = t - interval_s
        base: dict = {}
        for ts, snap in hist:
            if ts <= start + 1e-9:
                base = snap
        # keep one sample at or before the longest window any metric could ask for (an hour)
        while len(hist) > 2 and hist[1][0] <= t - 3600:
            hist.pop(0)
        total = None
        for key, c in cur.items():
            b = base.get(key)
            if b is None or any(x < y - 1e-9 for x, y in zip(c, b)):
                d = c
            else:
                d = [x - y for x, y in zip(c, b)]
            total = d if total is None else [x + y for x, y in zip(total, d)]
        return total

    def _fl_measure(self, cd: dict, metric: str, interval_s: float) -> float | None:
        from tui.demo.traffic import CODES, METHODS, _B0, _COUNT  # noqa: PLC0415 - the traffic model's layout
        d = self._fl_window(cd, interval_s)
        if d is None:
            return None
        total = d[_COUNT]
        if total <= 1e-9:
            return None
        if metric == "request-success-rate":
            bad = 0.0
            i = 0
            for _m in METHODS:
                for code in CODES:
                    if code.startswith("5"):
                        bad += d[i]
                    i += 1
            return (total - bad) / total * 100.0
        q = histogram_quantile(0.99, [d[_B0 + j] for j in range(len(BUCKET_BOUNDS))], total)
        return None if q is None else q * 1000.0

    def _fl_builtin_checks(self, cd: dict, provider: str) -> bool:
        m = cd["metadata"]
        spec = cd.get("spec") or {}
        target = (spec.get("targetRef") or {}).get("name")
        metrics_provider = provider
        if (spec.get("targetRef") or {}).get("kind") == "Service":
            metrics_provider += ":service"
        for metric in analysis(cd).get("metrics") or ():
            name = metric.get("name")
            interval = metric.get("interval") or "1m"
            iv = parse_duration(interval) or 60.0
            if name not in ("request-success-rate", "request-duration"):
                if metric.get("query") and not metric.get("templateRef"):
                    self._fl_event(cd, f"Prometheus query failed for {name}: the demo cluster cannot run PromQL",
                                   warning=True)
                    return False
                continue
            val = self._fl_measure(cd, name, iv)
            if val is None:
                if name == "request-success-rate":
                    self._fl_event(cd, f"Halt advancement no values found for {metrics_provider} metric {name} "
                                       f"probably {target}.{m['namespace']} is not receiving traffic: running query "
                                       "failed: no values found", warning=True)
                else:
                    self._fl_event(cd, f"Halt advancement no values found for {metrics_provider} metric {name} "
                                       f"probably {target}.{m['namespace']} is not receiving traffic", warning=True)
                return False
            self.flagger_last[(m["uid"], name)] = val
            tr = metric.get("thresholdRange")
            who = f"{m['name']}.{m['namespace']}"
            if name == "request-success-rate":
                if tr is not None:
                    if tr.get("min") is not None and val < float(tr["min"]):
                        self._fl_event(cd, f"Halt {who} advancement success rate {val:.2f}% < {fmt_float(tr['min'])}%",
                                       warning=True)
                        return False
                    if tr.get("max") is not None and val > float(tr["max"]):
                        self._fl_event(cd, f"Halt {who} advancement success rate {val:.2f}% > {fmt_float(tr['max'])}%",
                                       warning=True)
                        return False
                elif float(metric.get("threshold") or 0) > val:
                    self._fl_event(cd, f"Halt {who} advancement success rate {val:.2f}% < "
                                       f"{fmt_float(metric.get('threshold') or 0)}%", warning=True)
                    return False
            else:
                ms = int(val)  # time.Duration(int64(value)) * time.Millisecond
                shown = go_duration_ms(ms)
                if tr is not None:
                    if tr.get("min") is not None and ms < int(tr["min"]):
                        self._fl_event(cd, f"Halt {who} advancement request duration {shown} < "
                                           f"{go_duration_ms(int(tr['min']))}", warning=True)
                        return False
                    if tr.get("max") is not None and ms > int(tr["max"]):
                        self._fl_event(cd, f"Halt {who} advancement request duration {shown} > "
                                           f"{go_duration_ms(int(tr['max']))}", warning=True)
                        return False
                elif ms > int(metric.get("threshold") or 0):
                    self._fl_event(cd, f"Halt {who} advancement request duration {shown} > "
                                       f"{go_duration_ms(int(metric.get('threshold') or 0))}", warning=True)
                    return False
        return True

    def _fl_template_checks(self, cd: dict) -> bool:
        """runMetricChecks: a MetricTemplate's provider cannot be queried by the demo."""
        ns = cd["metadata"]["namespace"]
        for metric in analysis(cd).get("metrics") or ():
            ref = metric.get("templateRef")
            name = metric.get("name")
            if ref:
                tns = ref.get("namespace") or ns
                tmpl = self.state.get("metrictemplates.flagger.app", tns, ref.get("name") or "")
                if tmpl is None:
                    self._fl_event(cd, f'Metric template {ref.get("name")}.{tns} error: metrictemplate.flagger.app '
                                       f'"{ref.get("name")}" not found', warning=True)
                    return False
                self._fl_event(cd, f"Metric query failed for {name}: the demo cluster cannot query "
                                   f"{((tmpl.get('spec') or {}).get('provider') or {}).get('type', 'prometheus')}",
                               warning=True)
                return False
            if name not in ("request-success-rate", "request-duration") and not metric.get("query"):
                self._fl_event(cd, "Metric query failed for no usable metrics template and query were configured",
                               warning=True)
                return False
        return True

    # ---------------------------------------------------------------- webhooks (scheduler_hooks.go)
    @staticmethod
    def _fl_hook_ok(cd: dict, hook: dict) -> bool:
        url = str(hook.get("url") or "").split("?", 1)[0].rstrip("/")
        ann = cd["metadata"].get("annotations") or {}
        if url.endswith("/gate/halt"):
            return False
        if hook.get("type") in GATE_TYPES:
            if url.endswith("/gate/approve"):
                return True
            return ann.get(GATE_ANNOTATION) == "open"
        if hook.get("type") == "rollback":
            return ann.get(ROLLBACK_ANNOTATION) == "true"
        return True

    def _fl_hooks(self, cd: dict, kind: str) -> list[dict]:
        return [h for h in analysis(cd).get("webhooks") or () if (h.get("type") or "rollout") == kind]

    def _fl_confirm_rollout(self, cd: dict) -> bool:
        m = cd["metadata"]
        for h in self._fl_hooks(cd, "confirm-rollout"):
            if not self._fl_hook_ok(cd, h):
                if (cd.get("status") or {}).get("phase") != "Waiting":
                    self._fl_set_phase(cd, "Waiting")
                    self._fl_event(cd, f"Halt {m['name']}.{m['namespace']} advancement waiting for approval "
                                       f"{h.get('name')}", warning=True)
                return False
            self._fl_event(cd, f"Confirm-rollout check {h.get('name')} passed")
        return True

    def _fl_confirm_promotion(self, cd: dict) -> bool:
        m = cd["metadata"]
        for h in self._fl_hooks(cd, "confirm-promotion"):
            if not self._fl_hook_ok(cd, h):
                if (cd.get("status") or {}).get("phase") != "WaitingPromotion":
                    self._fl_set_phase(cd, "WaitingPromotion")
                    self._fl_event(cd, f"Halt {m['name']}.{m['namespace']} advancement waiting for promotion "
                                       f"approval {h.get('name')}", warning=True)
                else:
                    self._fl_set_field(cd, "iterations", int(analysis(cd).get("iterations") or 0) - 1)
                return False
            self._fl_event(cd, f"Confirm-promotion check {h.get('name')} passed")
        return True

    def _fl_confirm_traffic_increase(self, cd: dict) -> bool:
        m = cd["metadata"]
        for h in self._fl_hooks(cd, "confirm-traffic-increase"):
            if not self._fl_hook_ok(cd, h):
                self._fl_event(cd, f"Halt {m['name']}.{m['namespace']} advancement waiting for traffic increase "
                                   f"approval {h.get('name')}", warning=True)
                return False
            self._fl_event(cd, f"Confirm-traffic-increase check {h.get('name')} passed")
        return True

    def _fl_pre_rollout(self, cd: dict) -> bool:
        m = cd["metadata"]
        for h in self._fl_hooks(cd, "pre-rollout"):
            if not self._fl_hook_ok(cd, h):
                self._fl_event(cd, f"Halt {m['name']}.{m['namespace']} advancement pre-rollout check {h.get('name')} "
                                   "failed Forbidden", warning=True)
                return False
            self._fl_event(cd, f"Pre-rollout check {h.get('name')} passed")
        return True

    def _fl_post_rollout(self, cd: dict) -> None:
        for h in self._fl_hooks(cd, "post-rollout"):
            if not self._fl_hook_ok(cd, h):
                self._fl_event(cd, f"Post-rollout hook {h.get('name')} failed Forbidden", warning=True)
                return
            self._fl_event(cd, f"Post-rollout check {h.get('name')} passed")

    def _fl_rollback_hooks(self, cd: dict) -> bool:
        for h in self._fl_hooks(cd, "rollback"):
            if self._fl_hook_ok(cd, h):
                self._fl_event(cd, f"Rollback check {h.get('name')} passed", warning=True)
                return True
            self._fl_event(cd, f"Rollback hook {h.get('name')} not signaling a rollback")
        return False

    def _fl_run_analysis(self, cd: dict, provider: str) -> bool:
        m = cd["metadata"]
        for h in self._fl_hooks(cd, "rollout"):
            if not self._fl_hook_ok(cd, h):
                self._fl_event(cd, f"Halt {m['name']}.{m['namespace']} advancement external check {h.get('name')} "
                                   "failed Forbidden", warning=True)
                return False
        if not self._fl_builtin_checks(cd, provider):
            return False
        return self._fl_template_checks(cd)

    # ---------------------------------------------------------------- rollback
    def _fl_rollback(self, cd: dict, provider: str) -> None:
        m = cd["metadata"]
        st = cd.get("status") or {}
        if int(st.get("failedChecks") or 0) >= threshold(cd):
            self._fl_event(cd, f"Rolling back {m['name']}.{m['namespace']} failed checks threshold reached "
                               f"{int(st.get('failedChecks') or 0)}", warning=True)
        self._fl_set_routes(cd, provider, 100, 0)
        self._fl_event(cd, f"Canary failed! Scaling down {m['name']}.{m['namespace']}", warning=True)
        self._fl_scale(cd, 0)
        self._fl_sync_status(self._fl_get(cd), "Failed")
        self._fl_post_rollout(cd)

    def _fl_failed_promotion(self, cd: dict, provider: str, err: str) -> None:
        m = cd["metadata"]
        target = ((cd.get("spec") or {}).get("targetRef") or {}).get("name")
        self._fl_event(cd, f"Promotion of {target}.{m['namespace']} failed, primary not ready: {err}", warning=True)
        self._fl_set_routes(cd, provider, 0, 100)
        self._fl_sync_status(self._fl_get(cd), "Failed", weight=100)
        self._fl_post_rollout(cd)

    # ---------------------------------------------------------------- advanceCanary
    def advance_canary(self, cd: dict) -> None:  # noqa: C901 - one function, as Flagger's, to follow it line by line
        m = cd["metadata"]
        ns, name = m["namespace"], m["name"]
        spec = cd.get("spec") or {}
        if spec.get("suspend"):
            self._fl_event(cd, "skipping canary run as object is suspended")
            return
        if not (cd.get("status") or {}).get("conditions"):  # controller.go syncHandler: setPhaseInitializing
            start = cd.get("status") or {}

            def init(st, o):
                st["phase"] = "Initializing"
                st["conditions"] = self._fl_conditions(start, o, "Initializing") or []
            cd = self._fl_write_status(cd, init)
        provider = spec.get("provider") or MESH_PROVIDER
        ref = spec.get("targetRef") or {}
        target = ref.get("name") or ""
        if ref.get("kind", "Deployment") != "Deployment":
            self._fl_event(cd, f"{ref.get('kind')} targets are not simulated by the demo cluster (Deployment only)",
                           warning=True)
            return
        dep = self._fl_target(cd)
        if dep is None:
            self._fl_event(cd, f'deployment {target}.{ns} get query error: deployments.apps "{target}" not found',
                           warning=True)
            return
        lv = self._fl_selector_label(dep)
        if lv is None:
            self._fl_event(cd, f"deployment {target}.{ns} spec.selector.matchLabels must contain one of "
                               f"[{' '.join(SELECTOR_LABELS)}]", warning=True)
            return
        label, value = lv
        svc = spec.get("service") or {}
        ports: dict[str, int] = {}
        if svc.get("portDiscovery"):
            tp = svc.get("targetPort")
            for c in ((dep.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or ():
                if c.get("name") in ("istio-proxy", "envoy"):
                    continue
                for i, p in enumerate(c.get("ports") or ()):
                    if tp in (None, 0, "0", ""):
                        if p.get("containerPort") == svc.get("port"):
                            continue
                    elif isinstance(tp, int) and p.get("containerPort") == tp:
                        continue
                    elif isinstance(tp, str) and p.get("name") == tp:
                        continue
                    ports[p.get("name") or f"tcp-{c.get('name')}-{i}"] = int(p.get("containerPort") or 0)
        apex, primary_svc, canary_svc = service_names(cd)
        # kubeRouter.Initialize: the canary and primary Services
        self._fl_service(cd, canary_svc, label, value, svc.get("canary"), ports)
        self._fl_service(cd, primary_svc, label, f"{value}-primary", svc.get("primary"), ports)
        phase = (cd.get("status") or {}).get("phase") or ""
        if not skip_analysis(cd) and phase in ("", "Initializing"):
            self._fl_event(cd, "all the metrics providers are available!")
        # canaryController.Initialize: the primary Deployment, ready before anything points at it
        try:
            self._fl_create_primary(cd, dep, label, value)
        except _NotReady as e:
            self._fl_event(cd, f"createPrimaryDeployment failed: GetTargetConfigs failed: {e.message}", warning=True)
            return
        deadline = int(spec.get("progressDeadlineSeconds") or PROGRESS_DEADLINE)
        a = analysis(cd)
        primary_threshold = int(a.get("primaryReadyThreshold")) if a.get("primaryReadyThreshold") is not None else 100
        canary_threshold = int(a.get("canaryReadyThreshold")) if a.get("canaryReadyThreshold") is not None else 100
        primary = self.state.get("deployments", ns, f"{target}-primary")
        if phase in ("", "Initializing") and not skip_analysis(cd):
            try:
                self._fl_ready(primary, deadline, primary_threshold)
            except _NotReady as e:
                self._fl_event(cd, f"{target}-primary.{ns} not ready: {e.message}", warning=True)
                if not e.retriable:
                    self._fl_rollback(cd, provider)
                return
        if not self._fl_primary_hpa(cd, True):  # scalerReconciler.ReconcilePrimaryScaler(cd, true)
            return
        # kubeRouter.Reconcile: the apex Service selects the primary
        self._fl_service(cd, apex, label, f"{value}-primary", svc.get("apex"), ports)
        if phase in ("", "Initializing"):
            self._fl_scale(cd, 0)
        if provider == "istio":
            if not self._fl_istio_reconcile(cd):
                return
            if m["uid"] not in self.flagger_routes:  # a restarted demo: the traffic model learns the weights
                try:
                    pw, cw, mir = self._fl_get_routes(cd, provider)
                    self.flagger_routes[m["uid"]] = (pw, cw, mir)
                    self.sim.set_mesh_routes(ns, apex, {primary_svc: pw, canary_svc: cw})
                except _NotReady:
                    pass
        elif provider != "kubernetes" and m["uid"] not in self.flagger_routes:
            self._fl_set_routes(cd, provider, 100, 0)
        # setPhaseInitialized
        if phase in ("", "Initializing"):
            cd = self._fl_sync_status(self._fl_get(cd), "Initialized")
            phase = "Initialized"
            self._fl_event(cd, f"Initialization done! {name}.{ns}")
        st = cd.get("status") or {}
        # shouldAdvance
        tmpl_hash = compute_hash((dep.get("spec") or {}).get("template") or {})

        def target_changed() -> bool:
            if not st.get("lastAppliedSpec"):
                return True
            if st.get("lastPromotedSpec") == tmpl_hash:
                return False
            return st.get("lastAppliedSpec") != tmpl_hash

        def deps_changed() -> bool:
            """HaveDependenciesChanged (config_tracker.go HasConfigChanged); raises _NotReady."""
            configs = self._fl_target_configs(cd, dep)
            tracked = st.get("trackedConfigs")
            if tracked is None:
                return bool(configs)
            if len(configs) != len(tracked):
                return True
            return any(tracked.get(k) != v[2] for k, v in configs.items())
        if phase in ("Progressing", "Waiting", "WaitingPromotion", "Promoting", "Finalising"):
            should = True
        else:
            if phase == "Failed":
                self._fl_sync_status(cd, "Failed", int(st.get("canaryWeight") or 0), int(st.get("failedChecks") or 0),
                                     int(st.get("iterations") or 0))
            should = target_changed()
            if not should:
                try:
                    should = deps_changed()
                except _NotReady as e:
                    self._fl_event(cd, f"GetTargetConfigs failed: {e.message}", warning=True)
                    return
        if not should:
            return
        mw = max_weight(cd)
        if not skip_analysis(cd):
            try:
                self._fl_ready(self.state.get("deployments", ns, f"{target}-primary") or primary, deadline,
                               primary_threshold)
            except _NotReady as e:
                self._fl_event(cd, f"{target}-primary.{ns} not ready: {e.message}", warning=True)
                if not e.retriable:
                    if phase in ("Promoting", "Finalising"):
                        self._fl_failed_promotion(cd, provider, f"{target}-primary.{ns} not ready: {e.message}")
                    else:
                        self._fl_rollback(cd, provider)
                return
        try:
            primary_w, canary_w, mirrored = self._fl_get_routes(cd, provider)
        except _NotReady as e:
            self._fl_event(cd, e.message, warning=True)
            return
        # checkCanaryStatus
        if phase not in ("Progressing", "WaitingPromotion", "Promoting", "Finalising"):
            cd = self._fl_get(cd)
            if not self._fl_confirm_rollout(cd):
                return
            self._fl_event(cd, f"New revision detected! Scaling up {target}.{ns}")
            self._fl_scale_from_zero(cd)
            self._fl_sync_status(self._fl_get(cd), "Progressing")
            return
        # hasCanaryRevisionChanged
        def revision_changed() -> bool:
            try:
                return target_changed() or deps_changed()
            except _NotReady:
                return target_changed()
        if phase in ("Progressing", "WaitingPromotion") and revision_changed():
            self._fl_event(cd, f"New revision detected! Restarting analysis for {target}.{ns}")
            self._fl_set_routes(cd, provider, 100, 0)
            self._fl_sync_status(cd, "Progressing")
            return
        try:
            self._fl_ready(self._fl_target(cd) or dep, deadline, canary_threshold)
            retriable = True
        except _NotReady as e:
            self._fl_event(cd, f"canary deployment {target}.{ns} not ready: {e.message}", warning=True)
            if not e.retriable:
                self._fl_rollback(cd, provider)
            return
        if skip_analysis(cd):
            self._fl_set_routes(cd, provider, 100, 0)
            self._fl_event(cd, f"Copying {target}.{ns} template spec to {target}-primary.{ns}")
            if not self._fl_promote(cd, self._fl_target(cd) or dep, label, value):
                return
            self._fl_scale(cd, 0)
            self._fl_set_phase(cd, "Succeeded")
            self._fl_post_rollout(cd)
            self._fl_event(cd, f"Promotion completed! Canary analysis was skipped for {target}.{ns}")
            return
        if phase in ("Progressing", "Waiting", "WaitingPromotion") and self._fl_rollback_hooks(cd):
            self._fl_event(cd, f"Rolling back {name}.{ns} manual webhook invoked", warning=True)
            self._fl_rollback(cd, provider)
            return
        if phase == "Promoting":
            if not self._fl_primary_hpa(cd, False):  # ReconcilePrimaryScaler(cd, false)
                return
            # runPromotionTrafficShift
            if provider == "kubernetes":
                self._fl_set_phase(cd, "Finalising")
                return
            step = int(a.get("stepWeightPromotion") or 0)
            if step == 0:
                self._fl_event(cd, "Routing all traffic to primary")
                self._fl_set_routes(cd, provider, 100, 0)
                self._fl_set_phase(cd, "Finalising")
                return
            if canary_w > 0:
                primary_w = min(100, primary_w + step)
                canary_w = max(0, canary_w - step)
                self._fl_set_routes(cd, provider, primary_w, canary_w)
                self._fl_event(cd, f"Advance {name}.{ns} primary weight {primary_w}")
                if primary_w == 100:
                    self._fl_set_phase(cd, "Finalising")
                else:
                    self._fl_set_field(cd, "canaryWeight", canary_w)
            return
        if phase == "Finalising":
            self._fl_scale(cd, 0)
            self._fl_set_phase(cd, "Succeeded")
            self._fl_post_rollout(cd)
            self._fl_event(cd, f"Promotion completed! Scaling down {target}.{ns}")
            return
        if phase in ("Progressing", "WaitingPromotion") and (not retriable
                                                             or int(st.get("failedChecks") or 0) >= threshold(cd)):
            self._fl_rollback(cd, provider)
            return
        if canary_w == 0 and int(st.get("iterations") or 0) == 0 and not (a.get("mirror") and mirrored):
            self._fl_event(cd, f"Starting canary analysis for {target}.{ns}")
            if not self._fl_pre_rollout(cd):
                self._fl_set_field(cd, "failedChecks", int(st.get("failedChecks") or 0) + 1)
                return
        elif not self._fl_run_analysis(cd, provider):
            self._fl_set_field(cd, "failedChecks", int(st.get("failedChecks") or 0) + 1)
            return
        iterations_wanted = int(a.get("iterations") or 0)
        strat = strategy(cd)
        if provider == "kubernetes":
            if a.get("match"):
                self._fl_event(cd, "A/B testing is not supported when using the kubernetes provider", warning=True)
            if iterations_wanted < 1:
                self._fl_event(cd, "Progressive traffic is not supported when using the kubernetes provider",
                               warning=True)
                self._fl_event(cd, "Setting canaryAnalysis.iterations: 10", warning=True)
                iterations_wanted = 10
            strat = "blue-green"
        cd = self._fl_get(cd)
        iters = int(st.get("iterations") or 0)
        if strat == "ab-testing":
            if iterations_wanted > iters:
                self._fl_set_routes(cd, provider, 0, 100)
                self._fl_set_field(cd, "iterations", iters + 1)
                self._fl_event(cd, f"Advance {name}.{ns} canary iteration {iters + 1}/{iterations_wanted}")
                return
            if not self._fl_confirm_promotion(cd):
                return
            if iterations_wanted == iters:
                self._fl_event(cd, f"Copying {target}.{ns} template spec to {target}-primary.{ns}")
                if not self._fl_promote(cd, self._fl_target(cd) or dep, label, value):
                    return
                self._fl_set_phase(self._fl_get(cd), "Promoting")
            return
        if strat == "blue-green":
            if iterations_wanted > iters:
                if provider != "kubernetes" and a.get("mirror") and not mirrored:
                    self._fl_set_routes(cd, provider, 100, 0, True)
                self._fl_set_field(cd, "iterations", iters + 1)
                self._fl_event(cd, f"Advance {name}.{ns} canary iteration {iters + 1}/{iterations_wanted}")
                return
            if not self._fl_confirm_promotion(cd):
                return
            if iterations_wanted == iters:
                if provider != "kubernetes":
                    if a.get("mirror"):
                        self._fl_event(cd, "Stop traffic mirroring and route all traffic to canary")
                    else:
                        self._fl_event(cd, "Routing all traffic to canary")
                    self._fl_set_routes(cd, provider, 0, 100)
                self._fl_set_field(self._fl_get(cd), "iterations", iters + 1)
                return
            if iterations_wanted < iters:
                self._fl_event(cd, f"Copying {target}.{ns} template spec to {target}-primary.{ns}")
                if not self._fl_promote(cd, self._fl_target(cd) or dep, label, value):
                    return
                self._fl_set_phase(self._fl_get(cd), "Promoting")
            return
        # canary: progressive traffic increase
        if next_step_weight(cd, canary_w) <= 0:
            return
        if not mirrored and phase not in ("Promoting", "WaitingPromotion", "Finalising"):
            if not self._fl_confirm_traffic_increase(cd):
                return
        if canary_w < mw:
            step = next_step_weight(cd, canary_w)
            if a.get("mirror") and canary_w == 0:
                if not mirrored:
                    mirrored, primary_w, canary_w = True, 100, 0
                else:
                    mirrored, primary_w, canary_w = False, 100 - step, step
            else:
                primary_w = max(0, primary_w - step)
                canary_w = min(100, canary_w + step)
            self._fl_set_routes(cd, provider, primary_w, canary_w, mirrored)
            self._fl_set_field(cd, "canaryWeight", canary_w)
            self._fl_event(cd, f"Advance {name}.{ns} canary weight {canary_w}")
            return
        if not self._fl_confirm_promotion(cd):
            return
        self._fl_event(cd, f"Copying {target}.{ns} template spec to {target}-primary.{ns}")
        if not self._fl_promote(cd, self._fl_target(cd) or dep, label, value):
            return
        self._fl_set_phase(self._fl_get(cd), "Promoting")
