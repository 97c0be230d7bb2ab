"""Argo Rollouts' traffic routers in the demo cluster: the weights a canary's trafficRouting writes.

Ported from argo-rollouts rollout/trafficrouting/{istio,nginx,smi}: Istio VirtualService routes (host-level split
by canaryService/stableService, subset-level split by the DestinationRule's canarySubsetName/stableSubsetName, whose
subsets get the rollouts-pod-template-hash labels), the NGINX `<rollout>-<stableIngress>-canary` Ingress with
`canary: "true"` and `canary-weight`, and the SMI TrafficSplit. Each writes only when something changes and emits
the event Argo's reconciler emits. None of Istio/NGINX/SMI verifies weights in Argo (VerifyWeight returns nil), so
status.canary.weights carries no `verified` for them.
"""

from __future__ import annotations

from tui.demo.controllers.base import ARGO_HASH, orjson_clone, owner_ref
from tui.demo.state import AlreadyExists, StateError

MANAGED_BY = "argo-rollouts.argoproj.io/managed-by-rollouts"
VS = "virtualservices"
DR = "destinationrules.networking.istio.io"
TS = "trafficsplits.split.smi-spec.io"
COMPONENT = "rollouts-controller"


def _canary(ro: dict) -> dict:
    return (((ro.get("spec") or {}).get("strategy") or {}).get("canary")) or {}


def routers(ro: dict) -> list[str]:
    """The traffic routers the Rollout names that the demo plays (istio, nginx, smi)."""
    tr = _canary(ro).get("trafficRouting") or {}
    return [k for k in ("istio", "nginx", "smi") if tr.get(k) is not None]


def _split_ns(name: str, ns: str) -> tuple[str, str]:
    """istioutil.GetVirtualServiceNamespaceName: "name.namespace" names another namespace."""
    if "." in name:
        n, other = name.split(".", 1)
        return other, n
    return ns, name


def _host(dest: dict) -> str:
    """getHost: the short name of a destination host."""
    h = ((dest.get("destination") or {}).get("host")) or ""
    i = h.find(".")
    return h[:i] if i > 0 else (h if i < 0 else "")


class TrafficRouting:
    """The routers of one Rollout, over the controllers' state and event recorder."""

    def __init__(self, ctl, ro: dict):
        self.ctl = ctl
        self.state = ctl.state
        self.ro = ro
        self.ns = ro["metadata"]["namespace"]
        self.name = ro["metadata"]["name"]
        self.cs = _canary(ro)
        self.tr = self.cs.get("trafficRouting") or {}

    def emit(self, reason: str, message: str, type: str = "Normal") -> None:
        self.ctl.events.emit(self.ro, reason, message, type=type, component=COMPONENT)

    # ------------------------------------------------------------------ the reconciler interface
    def update_hash(self, canary_hash: str, stable_hash: str) -> None:
        if self.tr.get("istio") is not None:
            self._istio_update_hash(canary_hash, stable_hash)

    def set_weight(self, weight: int) -> None:
        if self.tr.get("istio") is not None:
            self._istio_set_weight(weight)
        if self.tr.get("nginx") is not None:
            self._nginx_set_weight(weight)
        if self.tr.get("smi") is not None:
            self._smi_set_weight(weight)

    # ------------------------------------------------------------------ Istio
    def _virtual_services(self) -> list[dict]:
        istio = self.tr.get("istio") or {}
        if istio.get("virtualServices"):
            return list(istio["virtualServices"])
        return [istio["virtualService"]] if istio.get("virtualService") else []

    def _istio_set_weight(self, weight: int) -> None:
        istio = self.tr.get("istio") or {}
        dr = istio.get("destinationRule") or {}
        canary_svc, stable_svc = self.cs.get("canaryService") or "", self.cs.get("stableService") or ""
        for vsref in self._virtual_services():
            ns, vname = _split_ns(vsref.get("name") or "", self.ns)
            vs = self.state.get(VS, ns, vname)
            if vs is None:
                self.emit("VirtualServiceNotFound", f"VirtualService `{vname}` not found", type="Warning")
                continue
            http = ((vs.get("spec") or {}).get("http")) or []
            idxs = _route_indexes(vsref.get("routes") or [], http)
            if idxs is None:
                continue
            patches = []
            for ri in idxs:
                for di, d in enumerate(http[ri].get("route") or []):
                    host, subset = _host(d), ((d.get("destination") or {}).get("subset")) or ""
                    if not host:
                        continue
                    if host == canary_svc or (subset and subset == dr.get("canarySubsetName")):
                        want = weight
                    elif host == stable_svc or (subset and subset == dr.get("stableSubsetName")):
                        want = max(0, 100 - weight)
                    else:
                        want = 0
                    if int(d.get("weight") or 0) != want:
                        patches.append((ri, di, want))
            if not patches:
                continue

            def fn(o, patches=patches):
                routes = o["spec"]["http"]
                for ri, di, w in patches:
                    routes[ri]["route"][di]["weight"] = w
            try:
                self.state.mutate(VS, ns, vname, fn)
            except StateError:
                continue
            self.emit("Updated VirtualService", f"VirtualService `{vname}` set to desiredWeight '{weight}'")

    def _istio_update_hash(self, canary_hash: str, stable_hash: str) -> None:
        dr = (self.tr.get("istio") or {}).get("destinationRule")
        if not dr or not dr.get("name"):
            return
        obj = self.state.get(DR, self.ns, dr["name"])
        if obj is None:
            self.emit("DestinationRuleNotFound", f"DestinationRule `{dr['name']}` not found", type="Warning")
            return
        new = orjson_clone(obj)
        new["metadata"].setdefault("annotations", {})[MANAGED_BY] = self.name
        keep = []
        for sub in ((new.get("spec") or {}).get("subsets")) or []:
            for sname, h in ((dr.get("canarySubsetName"), canary_hash), (dr.get("stableSubsetName"), stable_hash)):
                if sub.get("name") == sname:
                    labels = sub.setdefault("labels", {})
                    if h:
                        labels[ARGO_HASH] = h
                    else:
                        labels.pop(ARGO_HASH, None)
                    keep.append(sub)
                    break
        if new.get("spec") is not None:
            new["spec"]["subsets"] = keep  # Argo drops subsets that are neither canary nor stable
        if new == obj:
            return

        def fn(o):
            o["metadata"]["annotations"] = new["metadata"]["annotations"]
            o["spec"] = new.get("spec")
        try:
            self.state.mutate(DR, self.ns, dr["name"], fn)
        except StateError:
            return
        self.emit("UpdatedDestinationRule", f"DestinationRule {dr['name']} subset updated "
                  f"({dr.get('canarySubsetName')}: {canary_hash}, {dr.get('stableSubsetName')}: {stable_hash})")

    # ------------------------------------------------------------------ NGINX
    def _nginx_set_weight(self, weight: int) -> None:
        nginx = self.tr.get("nginx") or {}
        prefix = nginx.get("annotationPrefix") or "nginx.ingress.kubernetes.io"
        stables = nginx.get("stableIngresses") or ([nginx["stableIngress"]] if nginx.get("stableIngress") else [])
        for stable_name in stables:
            stable = self.state.get("ingresses", self.ns, stable_name)
            if stable is None:
                self.emit("TrafficRoutingError", f"error retrieving stableIngress `{stable_name}` from cache: "
                          f'ingresses.networking.k8s.io "{stable_name}" not found', type="Warning")
                continue
            cname = f"{self.name}-{stable_name}"[:253 - len("-canary")] + "-canary"
            desired = self._canary_ingress(stable, cname, weight, prefix, nginx)
            if desired is None:
                continue
            cur = self.state.get("ingresses", self.ns, cname)
            if cur is None:
                try:
                    self.state.create(desired)
                except (AlreadyExists, StateError):
                    continue
                self.emit("CreatingCanaryIngress", f"Creating canary ingress `{cname}` with weight `{weight}`")
                continue
            ref = next((r for r in cur["metadata"].get("ownerReferences") or () if r.get("controller")), None)
            if not ref or ref.get("uid") != self.ro["metadata"].get("uid"):
                self.emit("TrafficRoutingError", f"canary ingress `{cname}` controlled by different object",
                          type="Warning")
                continue
            ann = dict(cur["metadata"].get("annotations") or {})
            ann.update(desired["metadata"]["annotations"])
            if ann == (cur["metadata"].get("annotations") or {}) and cur.get("spec") == desired["spec"]:
                continue

            def fn(o, ann=ann, spec=desired["spec"]):
                o["metadata"]["annotations"] = ann
                o["spec"] = spec
            self.state.mutate("ingresses", self.ns, cname, fn)
            self.emit("PatchingCanaryIngress", f"Updating Ingress `{cname}` to desiredWeight '{weight}'")

    def _canary_ingress(self, stable: dict, cname: str, weight: int, prefix: str, nginx: dict) -> dict | None:
        """buildCanaryIngress: the rules that use the stable Service, pointed at the canary Service."""
        stable_svc, canary_svc = self.cs.get("stableService") or "", self.cs.get("canaryService") or ""
        sspec = stable.get("spec") or {}
        spec: dict = {"rules": []}
        if sspec.get("tls") is not None:
            spec["tls"] = orjson_clone(sspec["tls"])
        if sspec.get("ingressClassName") is not None:
            spec["ingressClassName"] = sspec["ingressClassName"]
        for rule in sspec.get("rules") or []:
            rule = orjson_clone(rule)
            hit = False
            for p in ((rule.get("http") or {}).get("paths")) or []:
                svc = ((p.get("backend") or {}).get("service")) or {}
                if svc.get("name") == stable_svc:
                    hit = True
                    svc["name"] = canary_svc
            if hit:
                spec["rules"].append(rule)
        if not spec["rules"]:
            self.emit("TrafficRoutingError", f"ingress `{stable['metadata']['name']}` has no rules using service "
                      f"{stable_svc} backend", type="Warning")
            return None
        ann = {}
        cls = (stable["metadata"].get("annotations") or {}).get("kubernetes.io/ingress.class")
        if cls is not None:
            ann["kubernetes.io/ingress.class"] = cls
        for k, v in (nginx.get("additionalIngressAnnotations") or {}).items():
            ann[k if k.startswith(prefix) else f"{prefix}/{k}"] = str(v)
        for k, v in (nginx.get("canaryIngressAnnotations") or {}).items():
            ann[k] = str(v)
        ann[f"{prefix}/canary"] = "true"
        ann[f"{prefix}/canary-weight"] = str(weight)
        if self.tr.get("maxTrafficWeight") is not None:
            ann[f"{prefix}/canary-weight-total"] = str(self.tr["maxTrafficWeight"])
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": cname, "namespace": self.ns, "annotations": ann,
                             "ownerReferences": [owner_ref(self.ro)]},
                "spec": spec}

    # ------------------------------------------------------------------ SMI
    def _smi_set_weight(self, weight: int) -> None:
        smi = self.tr.get("smi") or {}
        tsname = smi.get("trafficSplitName") or self.name
        root = smi.get("rootService") or self.cs.get("stableService") or ""
        # Argo's default SMI API version is v1alpha1, whose weights are resource.Quantity (JSON strings)
        backends = [{"service": self.cs.get("canaryService") or "", "weight": str(weight)},
                    {"service": self.cs.get("stableService") or "", "weight": str(100 - weight)}]
        spec = {"service": root, "backends": backends}
        cur = self.state.get(TS, self.ns, tsname)
        if cur is None:
            obj = {"apiVersion": "split.smi-spec.io/v1alpha1", "kind": "TrafficSplit",
                   "metadata": {"name": tsname, "namespace": self.ns, "ownerReferences": [owner_ref(self.ro)]},
                   "spec": spec}
            try:
                self.state.create(obj, res=TS)
            except StateError as e:
                self.emit("TrafficSplitNotCreated", f"TrafficSplit `{tsname}` failed creation: {e}")
                return
            self.emit("TrafficSplitCreated", f"TrafficSplit `{tsname}` created")
            return
        ref = next((r for r in cur["metadata"].get("ownerReferences") or () if r.get("controller")), None)
        if not ref or ref.get("uid") != self.ro["metadata"].get("uid"):
            self.emit("TrafficRoutingError", f"Rollout does not own TrafficSplit `{tsname}`", type="Warning")
            return
        if cur.get("spec") == spec:
            return
        self.state.mutate(TS, self.ns, tsname, lambda o: o.__setitem__("spec", spec))


def _route_indexes(names: list[str], http: list[dict]) -> list[int] | None:
    """getHttpRouteIndexesToPatch: the named routes; unnamed, the only route or the first unnamed one."""
    if not names:
        if len(http) == 1:
            return [0]
        for i, r in enumerate(http):
            if not r.get("name"):
                return [i]
        return []
    out = []
    for n in names:
        i = next((i for i, r in enumerate(http) if r.get("name") == n), -1)
        if i < 0:
            return None  # Argo errors: "HTTP Route '<n>' is not found in the defined Virtual Service."
        out.append(i)
    return out


# ---------------------------------------------------------------------------------------------- the data plane

def _weight(v, default: float) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def routed_groups(state, ns: str, apex: str, endpoints_of) -> list[tuple[str, float, set]] | None:
    """How a mesh or ingress in front of the `apex` Service splits its requests, as the data plane would: the
    first Istio VirtualService route for that host (destination Services, or DestinationRule subsets of it), an
    NGINX canary Ingress beside a primary Ingress for it, or an SMI TrafficSplit of it. (group, weight, ready pod
    keys) in the router's order; None when nothing routes it. `endpoints_of(service)` gives a Service's ready pods."""
    if not apex:
        return None
    for vs in state.list(VS, ns)[0]:
        spec = vs.get("spec") or {}
        if not any((h or "").split(".")[0] == apex for h in spec.get("hosts") or ()):
            continue
        for route in spec.get("http") or ():
            dests = route.get("route") or []
            if not dests:
                continue
            out = []
            for d in dests:
                host = _host(d)
                subset = ((d.get("destination") or {}).get("subset")) or ""
                w = _weight(d.get("weight"), 100.0 if len(dests) == 1 else 0.0)
                pods = set(endpoints_of(host))
                if subset:
                    labels = _subset_labels(state, ns, host, subset)
                    if labels is None:
                        pods = set()
                    else:
                        pods = {k for k in pods if _labels_match(labels, state.get("pods", k[0], k[1]))}
                out.append((f"{host}/{subset}" if subset else host, w, pods))
            return out
    for ts in state.list(TS, ns)[0]:
        spec = ts.get("spec") or {}
        if spec.get("service") != apex:
            continue
        return [(b.get("service") or "", _weight(b.get("weight"), 0.0), set(endpoints_of(b.get("service") or "")))
                for b in spec.get("backends") or ()]
    ings = state.list("ingresses", ns)[0]
    prefix = "nginx.ingress.kubernetes.io/"
    primary = [i for i in ings if str((i["metadata"].get("annotations") or {}).get(prefix + "canary", "")).lower()
               != "true" and apex in _backends(i)]
    if primary:
        hosts = {r.get("host") for i in primary for r in (i.get("spec") or {}).get("rules") or ()}
        for c in ings:
            ann = c["metadata"].get("annotations") or {}
            if str(ann.get(prefix + "canary", "")).lower() != "true":
                continue
            if hosts and not hosts & {r.get("host") for r in (c.get("spec") or {}).get("rules") or ()}:
                continue
            total = _weight(ann.get(prefix + "canary-weight-total"), 100.0) or 100.0
            w = min(total, max(0.0, _weight(ann.get(prefix + "canary-weight"), 0.0))) * 100.0 / total
            canary_svcs = [s for s in _backends(c) if s != apex]
            if not canary_svcs:
                continue
            return [(apex, 100.0 - w, set(endpoints_of(apex))), (canary_svcs[0], w, set(endpoints_of(canary_svcs[0])))]
    return None


def _backends(ing: dict) -> list[str]:
    out = []
    for r in (ing.get("spec") or {}).get("rules") or ():
        for p in ((r.get("http") or {}).get("paths")) or ():
            n = (((p.get("backend") or {}).get("service")) or {}).get("name")
            if n and n not in out:
                out.append(n)
    return out


def _subset_labels(state, ns: str, host: str, subset: str) -> dict | None:
    for dr in state.list(DR, ns)[0]:
        spec = dr.get("spec") or {}
        if (spec.get("host") or "").split(".")[0] != host:
            continue
        for s in spec.get("subsets") or ():
            if s.get("name") == subset:
                return s.get("labels") or {}
    return None


def _labels_match(want: dict, pod: dict | None) -> bool:
    labels = ((pod or {}).get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in want.items())
