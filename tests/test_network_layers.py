"""The traffic split per track for each routing layer, on the demo cluster: Istio DestinationRule subsets named by
an Argo Rollout (trafficRouting.istio.destinationRule canarySubsetName / stableSubsetName, once shown as
"untracked 100 %"), NGINX's canary Ingress as Argo names it (`<rollout>-<ingress>-canary`, the `canary-weight`
annotation), SMI TrafficSplit backends; and `weights-disagree` only when a layer really disagrees with the Rollout.

Static manifests applied with the real kubectl; the demo's Argo controller runs the Rollouts (it does not write
routes, so the routes here are what a test sets). Field names from Argo Rollouts' spec
(pkg/apis/rollouts/v1alpha1/types.go: IstioDestinationRule, NginxTrafficRouting) and its NGINX canary Ingress
name (rollout/trafficrouting/nginx/nginx.go: canaryIngressName = rollout name + "-" + stable ingress + "-canary").
"""

from __future__ import annotations

import asyncio
import json
import time

from e2e_support import demo_cluster
from test_rollout_flagger import _kubectl
from tui.config import Settings
from tui.kube.config import load_target
from tui.session import Session, resolve_rollout


def _rollout(name: str, routing: str, canary_keys: str = "") -> str:
    return f"""---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: {name}, namespace: mesh}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: registry.demo/{name}:1
          ports: [{{name: http, containerPort: 8080}}]
  strategy:
    canary:{canary_keys}
      steps: [{{setWeight: 20}}, {{pause: {{}}}}]
      trafficRouting:
{routing}
"""


def _svc(name: str, app: str) -> str:
    return f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: mesh}}
spec:
  selector: {{app: {app}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""


MESH = "\n".join([
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: mesh}",
    # Istio subset-level splitting: one Service, the DestinationRule's subsets named by the Rollout
    _rollout("reviews", """        istio:
          virtualService: {name: reviews, routes: [primary]}
          destinationRule: {name: reviews, canarySubsetName: canary, stableSubsetName: stable}"""),
    _svc("reviews", "reviews"),
    """---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews, namespace: mesh}
spec:
  host: reviews
  subsets:
    - {name: canary, labels: {app: reviews}}
    - {name: stable, labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: mesh}
spec:
  hosts: [reviews]
  http:
    - name: primary
      route:
        - {destination: {host: reviews, subset: stable}, weight: 100}
        - {destination: {host: reviews, subset: canary}, weight: 0}
""",
    # NGINX: the stable Ingress and the canary Ingress Argo makes from it; and an SMI TrafficSplit
    _rollout("web", """        nginx: {stableIngress: web}""", """
      canaryService: web-canary
      stableService: web-stable"""),
    _svc("web-stable", "web"), _svc("web-canary", "web"),
    """---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: mesh}
spec:
  rules:
    - host: web.demo.example
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: web-stable, port: {number: 80}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web-web-canary
  namespace: mesh
  annotations:
    nginx.ingress.kubernetes.io/canary: "true"
    nginx.ingress.kubernetes.io/canary-weight: "0"
spec:
  rules:
    - host: web.demo.example
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: web-canary, port: {number: 80}}}}]
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: web, namespace: mesh}
spec:
  service: web
  backends:
    - {service: web-stable, weight: 100}
    - {service: web-canary, weight: 0}
""",
])


async def _k(cluster, *args: str, stdin: str | None = None) -> str:
    return await asyncio.to_thread(_kubectl, cluster.kubeconfig_path, *args, stdin=stdin)


async def _until(fn, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def _holding(a, code: str) -> list:
    return [f for f in a.findings if f.code == code and f.holding]


async def _watch(cluster, target, app: str) -> Session:
    choice = await resolve_rollout(target, app_name=app, selector=None, all_namespaces=False)
    assert (choice.target.kind, choice.target.name) == ("Rollout", app)
    session = Session(target, choice, Settings(), demo=True, kubeconfig_path=cluster.kubeconfig_path, debounce=False)
    session.throttle_derived = False
    await session.start()
    return session


def _settled(session: Session, layer: str):
    """The assessment once the Rollout is Healthy, its endpoints ready and the layer in the split."""
    a = session.assess()
    wl = session.workload() or {}
    view = a.network
    if (wl.get("status") or {}).get("phase") != "Healthy" or view is None or not view.endpoints:
        return None
    if not all(r.ready for r in view.endpoints) or not any(l.layer == layer for l in view.split):
        return None
    return a


async def test_traffic_layers_map_routes_to_tracks():
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        await _k(cluster, "apply", "-f", "-", stdin=MESH)
        target = load_target(cluster.kubeconfig_path, "lookout-demo", "mesh")

        session = await _watch(cluster, target, "reviews")
        try:
            a = await _until(lambda: _settled(session, "istio"), "reviews settled")
            [istio] = [l for l in a.network.split if l.layer == "istio"]
            assert istio.source == "VirtualService/reviews (primary)"
            assert istio.weights == (("stable", 100.0), ("canary", 0.0)), istio.weights  # not "untracked 100 %"
            assert istio.text == "stable 100 % / canary 0 %"
            assert not _holding(a, "weights-disagree"), a.findings
            # half the traffic to the canary subset while the Rollout says 0 %: a real disagreement
            await _k(cluster, "-n", "mesh", "patch", "virtualservice", "reviews", "--type=json", "-p", json.dumps([
                {"op": "replace", "path": "/spec/http/0/route/0/weight", "value": 50},
                {"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 50}]))
            a = await _until(lambda: (lambda a: a if _holding(a, "weights-disagree") else None)(session.assess()),
                             "weights-disagree")
            [wd] = _holding(a, "weights-disagree")
            assert wd.track == "canary" and "sends 50 % to the canary" in wd.summary
        finally:
            await session.stop()

        session = await _watch(cluster, target, "web")
        try:
            a = await _until(lambda: _settled(session, "nginx"), "web settled")
            layers = {l.layer: l for l in a.network.split}
            assert layers["nginx"].source == "Ingress/web-web-canary"
            assert layers["nginx"].weights == (("stable", 100.0), ("canary", 0.0))
            assert layers["smi"].weights == (("stable", 100.0), ("canary", 0.0))
            assert not _holding(a, "weights-disagree"), a.findings
            await _k(cluster, "-n", "mesh", "annotate", "--overwrite", "ingress", "web-web-canary",
                     "nginx.ingress.kubernetes.io/canary-weight=30")
            a = await _until(lambda: (lambda a: a if _holding(a, "weights-disagree") else None)(session.assess()),
                             "weights-disagree")
            [wd] = _holding(a, "weights-disagree")
            assert "Ingress/web-web-canary sends 30 % to the canary" in wd.summary
        finally:
            await session.stop()


def test_the_network_pane_shows_the_assessments_findings_not_its_raw_ones():
    """After a blue/green switch the network evaluation sees `dns-stale` at once, while the debounced findings (the
    strip's) do not have it yet: the pane renders the assessment's findings, so both say the same."""
    from tui.assessment import assess
    from tui.network.view import NetworkView
    from tui.rollout.findings import Finding

    stale = Finding("dns-stale", "warning", "blue", "checkout.example.com still points at blue")
    raw_view = NetworkView("demo", findings=(stale,))

    def run(findings):
        return assess(now=1000.0, rollout="Label/x", kind=None, workload=None, summary=None, pod_rows=(),
                      findings=findings, compare=None, network_view=raw_view)

    a = run([])
    assert a.network.findings == () and a.findings == ()
    assert run([]).network is a.network  # unchanged: the same object, the pane does not redraw
    b = run([stale])
    assert b.network.findings == (stale,) and stale in b.findings
    assert b.network is raw_view  # nothing to replace
    # a rollout finding is not the network pane's
    c = run([Finding("track-pods-failing", "critical", "green", "crash loop")])
    assert c.network.findings == ()


async def test_the_app_draws_the_network_pane_from_the_assessment():
    """The app on a fake session whose network evaluation already has `dns-stale` while the debounced findings do
    not: the DNS/endpoints pane says no network findings, as the strip does, until the finding rises."""
    from test_ui_fakes import NOW, FakeSession
    from tui.app import LookoutApp
    from tui.network.view import NetworkView
    from tui.rollout.findings import Finding
    from widgets.network import NetworkPane

    stale = Finding("dns-stale", "warning", "blue", "checkout.example.com still points at blue")
    s = FakeSession(network_view=NetworkView("shop", findings=(stale,)))
    app = LookoutApp(s, clock=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        app._refresh_status()
        await pilot.pause(0.1)
        pane = app.query_one(NetworkPane)
        assert pane.view is not None and pane.view.findings == ()
        assert "dns-stale" not in pane.summary.render().plain
        s.found = [stale]  # the debounced finding has risen
        app._refresh_status()
        await pilot.pause(0.1)
        assert pane.view.findings == (stale,)
        assert "dns-stale" in str(pane.summary.render())


def test_subsets_by_version_labels_and_smi_quantity_weights():
    """Istio bookinfo style: DestinationRule subsets v1/v2 by `version` labels, told apart by the rollout's track
    rules (the older version stable); SMI v1alpha1 weights written as quantities ("900m")."""
    from network_fixtures import NS, pod, service, slice_for
    from tui.network.scope import NetworkScope
    from tui.network.split import istio_layers, smi_layers
    from tui.rollout.tracks import TrackResolver

    pods = [pod(f"reviews-v1-{i}", {"app": "reviews", "version": "v1"}, f"10.0.0.{i}") for i in range(3)] + \
        [pod("reviews-v2-0", {"app": "reviews", "version": "v2"}, "10.0.1.1")]
    svc = service("reviews", {"app": "reviews"}, labels={"app": "reviews"})
    dr = {"metadata": {"name": "reviews", "namespace": NS},
          "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                                  {"name": "v2", "labels": {"version": "v2"}}]}}
    vs = {"metadata": {"name": "reviews", "namespace": NS},
          "spec": {"hosts": ["reviews"], "http": [{"route": [
              {"destination": {"host": "reviews", "subset": "v1"}, "weight": 90},
              {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10}]}]}}
    ts = {"metadata": {"name": "reviews", "namespace": NS},
          "spec": {"service": "reviews", "backends": [{"service": "reviews-v1", "weight": "900m"},
                                                      {"service": "reviews-v2", "weight": "100m"}]}}
    resolver = TrackResolver(versions={"v1": "stable", "v2": "canary"})
    svcs = [svc, service("reviews-v1", {"app": "reviews", "version": "v1"}, labels={"app": "reviews"}),
            service("reviews-v2", {"app": "reviews", "version": "v2"}, labels={"app": "reviews"})]
    sc = NetworkScope(NS, pods, svcs, [slice_for(s, [p for p in pods if all(
        p["metadata"]["labels"].get(k) == v for k, v in s["spec"]["selector"].items())]) for s in svcs],
        virtualservices=[vs], destinationrules=[dr], trafficsplits=[ts], resolver=resolver, app="reviews")
    [istio] = istio_layers(sc)
    assert istio.weights == (("stable", 90.0), ("canary", 10.0))
    [smi] = smi_layers(sc)
    assert [(t, round(w, 3)) for t, w in smi.weights] == [("stable", 90.0), ("canary", 10.0)]
    # without the DestinationRule the subsets name no track: said so, not guessed
    sc2 = NetworkScope(NS, pods, svcs, virtualservices=[vs], resolver=resolver, app="reviews")
    assert istio_layers(sc2)[0].weights == ((None, 100.0),)
