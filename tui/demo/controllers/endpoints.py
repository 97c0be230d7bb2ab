"""Endpoints and EndpointSlice controller: a Service's selector to addresses, with the real controller's lag."""

from __future__ import annotations

import random
from dataclasses import dataclass
from dataclasses import field
from tui.demo.state import AlreadyExists
from tui.demo.state import NotFound
from tui.demo.controllers.base import ALPHABET, ENDPOINTS_MAX, NODES, SLICE_MAX, ip_key, owner_ref, pod_ready, rfc3339, selector_matches


class Services:
    """Mixin of Controllers: Endpoints and EndpointSlices of every Service."""

    def reconcile_service(self, svc: dict) -> None:
        meta = svc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        key = (ns, name)
        sel = (svc.get("spec") or {}).get("selector") or None
        if key not in self.eff_selector:
            self.eff_selector[key] = sel
        elif self.eff_selector[key] != sel:
            pend = self.pending_selector.get(key)
            if pend is None or pend[0] != sel:
                lag = self.sim.scenario_setting("endpoint_lag", 1.0)
                self.pending_selector[key] = (sel, self.sim.t + lag)
                self.sim.schedule(lag + 0.001, lambda: self.dirty["services"].add(key))
            if self.pending_selector[key][1] <= self.sim.t:
                self.eff_selector[key] = sel
                self.pending_selector.pop(key, None)
        eff = self.eff_selector[key]
        if eff is None:
            self.svc_cache.pop(key, None)
            self.svc_dirty_pods.pop(key, None)
            return  # a Service without a selector: its endpoints are the user's
        ports = (svc.get("spec") or {}).get("ports") or []
        labels = dict(meta.get("labels") or {})
        cache = self.svc_cache.get(key)
        dirty = self.svc_dirty_pods.pop(key, set())
        if cache is None or cache.selector != eff or cache.ports != ports or cache.labels != labels \
                or cache.uid != meta.get("uid"):
            cache = self._full_service_cache(svc, eff, ports, labels)
            dirty = {p["metadata"]["name"] for p in self.state.list("pods", ns)[0]} | set(cache.members)
        get = self.state.get
        for pname in dirty:
            p = get("pods", ns, pname)
            entry = None
            if p is not None and selector_matches(eff, p["metadata"].get("labels")):
                ip = (p.get("status") or {}).get("podIP")
                if ip:
                    rdy = pod_ready(p)
                    term = bool(p["metadata"].get("deletionTimestamp"))
                    entry = (ip, rdy and not term, rdy, term, (p.get("spec") or {}).get("nodeName"),
                             p["metadata"].get("uid"), tuple(self._port_for(p, sp) for sp in ports))
            old = cache.members.get(pname)
            if entry == old:
                continue
            if entry is None:
                del cache.members[pname]
                i = cache.slot.pop(pname)
                cache.slices[i].discard(pname)
                cache.fill = min(cache.fill, i)
                cache.dirty_slices.add(i)
                cache.order = None
                cache.ready.discard((ns, pname))
            else:
                if old is None:
                    i = next((j for j in range(cache.fill, len(cache.slices))
                              if len(cache.slices[j]) < SLICE_MAX), None)
                    if i is None:
                        i = len(cache.slices)
                        cache.slices.append(set())
                        cache.slice_names.append(None)
                    cache.slices[i].add(pname)
                    cache.slot[pname] = i
                    cache.fill = i
                    cache.order = None
                elif old[0] != entry[0]:
                    cache.order = None
                cache.members[pname] = entry
                cache.dirty_slices.add(cache.slot[pname])
                if entry[1]:
                    cache.ready.add((ns, pname))
                else:
                    cache.ready.discard((ns, pname))
            # the Endpoints object holds at most 1,000 addresses: a change elsewhere does not touch it
            if cache.order is None or pname in cache.ep_names or len(cache.members) <= ENDPOINTS_MAX:
                cache.endpoints_dirty = True
        if self.served.get(key) != cache.ready:
            self.served[key] = set(cache.ready)
            self.sim.served_changed(ns, name, cache.ready)
        if cache.endpoints_dirty:
            cache.endpoints_dirty = False
            self._write_endpoints(svc, cache, ports)
        if cache.dirty_slices:
            self._write_slices(svc, cache, ports, labels)

    def _full_service_cache(self, svc, eff, ports, labels) -> "_SvcCache":
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        cache = _SvcCache(selector=eff, ports=ports, labels=labels, uid=svc["metadata"].get("uid"))
        existing = sorted((s for s in self.state.list("endpointslices", ns)[0]
                           if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name
                           and (s["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/managed-by")
                           == "endpointslice-controller.k8s.io"),
                          key=lambda s: s["metadata"]["name"])
        old = self.svc_cache.get((ns, name))
        if old is not None:
            # keep pods in the slices they were in: a selector change rewrites slices, it does not rename them
            cache.slice_names = list(old.slice_names)
            cache.slices = [set() for _ in old.slice_names]
        else:
            cache.slice_names = [s["metadata"]["name"] for s in existing]
            cache.slices = [set() for _ in existing]
        if not cache.slices:
            cache.slices, cache.slice_names = [set()], [None]
        cache.dirty_slices = set(range(len(cache.slices)))
        cache.endpoints_dirty = True
        keep = set(cache.slice_names)
        for s in existing:
            if s["metadata"]["name"] not in keep:
                try:
                    self.state.delete("endpointslices", ns, s["metadata"]["name"])
                except NotFound:
                    pass
        self.svc_cache[(ns, name)] = cache
        return cache

    @staticmethod
    def _port_for(p: dict, sp: dict) -> int | None:
        tp = sp.get("targetPort", sp.get("port"))
        if isinstance(tp, int):
            return tp
        if isinstance(tp, str) and tp.isdigit():
            return int(tp)
        for c in (p.get("spec") or {}).get("containers") or ():
            for cp in c.get("ports") or ():
                if cp.get("name") == tp:
                    return cp.get("containerPort")
        return None

    def _write_endpoints(self, svc, cache: "_SvcCache", ports) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        if cache.order is None:
            cache.order = sorted(cache.members, key=lambda n: ip_key(cache.members[n][0]))
        ready, not_ready = [], []
        port_of = None
        cache.ep_names = set()
        for pname in cache.order:
            ip, ok, _serving, term, node, uid, pports = cache.members[pname]
            if term:
                continue
            if len(ready) + len(not_ready) >= ENDPOINTS_MAX:
                break
            cache.ep_names.add(pname)
            port_of = port_of or pports
            a = {"ip": ip, "nodeName": node, "targetRef": {"kind": "Pod", "namespace": ns, "name": pname, "uid": uid}}
            (ready if ok else not_ready).append(a)
        over = len(cache.members) > ENDPOINTS_MAX
        subset_ports = []
        for sp, num in zip(ports, port_of or ()):
            if num is not None:
                q = {"port": num, "protocol": sp.get("protocol", "TCP")}
                if sp.get("name"):
                    q["name"] = sp["name"]
                subset_ports.append(q)
        subsets = []
        if (ready or not_ready) and subset_ports:
            sub = {}
            if ready:
                sub["addresses"] = ready
            if not_ready:
                sub["notReadyAddresses"] = not_ready
            sub["ports"] = subset_ports
            subsets = [sub]
        labels = dict(cache.labels)
        labels["endpoints.kubernetes.io/managed-by"] = "endpoint-controller"
        ann = {"endpoints.kubernetes.io/last-change-trigger-time": rfc3339(self.sim.clock())}
        if over:
            ann["endpoints.kubernetes.io/over-capacity"] = "truncated"
        cur = self.state.get("endpoints", ns, name)
        body = {"subsets": subsets} if subsets else {}
        if cur is None:
            obj = {"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": ann}} | body
            try:
                self.state.create(obj)
            except AlreadyExists:
                pass
            return
        if (cur.get("subsets") or []) == subsets and (cur["metadata"].get("labels") or {}) == labels and \
                ("endpoints.kubernetes.io/over-capacity" in (cur["metadata"].get("annotations") or {})) == over:
            return

        def fn(o):
            o["metadata"]["labels"] = labels
            a = {k: v for k, v in (o["metadata"].get("annotations") or {}).items()
                 if k != "endpoints.kubernetes.io/over-capacity"}
            a.update(ann)
            o["metadata"]["annotations"] = a
            o.pop("subsets", None)
            o.update(body)
        self.state.mutate("endpoints", ns, name, fn)

    def _write_slices(self, svc, cache: "_SvcCache", ports, svc_labels) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        labels = dict(svc_labels)
        labels["kubernetes.io/service-name"] = name
        labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io"
        zones = {n[0]: n[2] for n in NODES}
        dirty, cache.dirty_slices = sorted(cache.dirty_slices), set()
        for i in dirty:
            members = sorted(cache.slices[i])
            sname = cache.slice_names[i]
            if not members and sname is not None and any(cache.slices[j] for j in range(len(cache.slices)) if j != i):
                # an emptied slice goes away unless it is the Service's only one
                self._own_deletes.add((ns, sname))
                try:
                    self.state.delete("endpointslices", ns, sname)
                except NotFound:
                    pass
                finally:
                    self._own_deletes.discard((ns, sname))
                cache.slice_names[i] = None
                continue
            endpoints = []
            port_of = None
            for pname in members:
                ip, ok, serving, term, node, uid, pports = cache.members[pname]
                port_of = port_of or pports
                e = {"addresses": [ip], "conditions": {"ready": ok, "serving": serving, "terminating": term},
                     "targetRef": {"kind": "Pod", "namespace": ns, "name": pname, "uid": uid}}
                if node:
                    e["nodeName"] = node
                    if node in zones:
                        e["zone"] = zones[node]
                endpoints.append(e)
            sports = []
            for j, sp in enumerate(ports):
                q = {"name": sp.get("name", ""), "protocol": sp.get("protocol", "TCP"),
                     "port": port_of[j] if port_of else None}
                if sp.get("appProtocol"):
                    q["appProtocol"] = sp["appProtocol"]
                sports.append(q)
            body = {"addressType": "IPv4", "endpoints": endpoints, "ports": sports}
            cur = self.state.get("endpointslices", ns, sname) if sname else None
            if cur is not None:
                if all(cur.get(k) == v for k, v in body.items()) and (cur["metadata"].get("labels") or {}) == labels:
                    continue

                def fn(o, body=body):
                    o["metadata"]["labels"] = labels
                    o["metadata"].setdefault("annotations", {})["endpoints.kubernetes.io/last-change-trigger-time"] = \
                        rfc3339(self.sim.clock())
                    o.update(body)
                self.state.mutate("endpointslices", ns, sname, fn)
                continue
            rng = random.Random(f"{self.sim.seed}/slice/{ns}/{name}/{i}/{self.sim.pod_serial(ns, 'slice:' + name)}")
            while True:
                sname = f"{name}-" + "".join(rng.choice(ALPHABET) for _ in range(5))
                if self.state.get("endpointslices", ns, sname) is None:
                    break
            obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"name": sname, "namespace": ns, "generateName": f"{name}-", "labels": labels,
                                "ownerReferences": [owner_ref(svc)],
                                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time":
                                                rfc3339(self.sim.clock())}}} | body
            self.state.create(obj)
            cache.slice_names[i] = sname


@dataclass
class _SvcCache:
    selector: dict
    ports: list
    labels: dict
    uid: str | None
    members: dict = field(default_factory=dict)  # pod name -> (ip, ready, serving, terminating, node, uid, ports)
    slot: dict = field(default_factory=dict)  # pod name -> slice index
    slices: list = field(default_factory=list)  # slice index -> pod names
    slice_names: list = field(default_factory=list)
    dirty_slices: set = field(default_factory=set)
    endpoints_dirty: bool = True
    order: list | None = None  # member names by IP, for the (capped) Endpoints object
    ready: set = field(default_factory=set)
    fill: int = 0  # no slice before this one has room
    ep_names: set = field(default_factory=set)  # pods in the (capped) Endpoints object
