"""tui/network over realistic dicts: Service selection, ports, EndpointSlices, the split, and each finding both ways."""

from __future__ import annotations

from network_fixtures import (NS, T1, argo_pods, canary_pods, canary_rollout, clone, container, deployment, httproute,
                              ingress, netpol, pod, service, slice_for, stable_pods, virtualservice)

from tui.network.endpoints import counts_by_track, endpoint_rows
from tui.network.findings import NetworkHistory, network_findings
from tui.network.scope import NetworkScope
from tui.network.services import pods_selected, resolve_target_port, service_ports
from tui.network.split import traffic_split
from tui.rollout.tracks import TrackResolver

SHARED_SEL = {"app": "checkout", "tier": "web"}


def scope(pods, services, slices=None, **kw):
    if slices is None:
        slices = [slice_for(s, pods_selected(s, pods)) for s in services if (s["spec"].get("selector"))]
    return NetworkScope(NS, pods, services, slices, **kw)


def codes(sc, **kw):
    return {(f.code, f.track): f for f in network_findings(sc, now=1000.0, **kw)}


def by_code(sc, code, **kw):
    return [f for f in network_findings(sc, now=1000.0, **kw) if f.code == code]


def healthy():
    pods = stable_pods(4) + canary_pods(1)
    return pods, [service("checkout", SHARED_SEL)]


def argo(weight=25, routing=None, pods=None):
    ro = canary_rollout(weight=weight, traffic_routing=routing)
    s, c = pods or argo_pods()
    svcs = [service("checkout-stable", {"app": "checkout", "rollouts-pod-template-hash": "aaa"}),
            service("checkout-canary", {"app": "checkout", "rollouts-pod-template-hash": "bbb"})]
    return ro, s + c, svcs


def argo_scope(ro, pods, svcs, slices=None, **kw):
    return scope(pods, svcs, slices, rollout=ro, resolver=TrackResolver(rollout=ro), **kw)


# ---- services, ports, endpoints -------------------------------------------------------------------


def test_pods_selected_and_ports_per_track_by_name_and_number():
    pods, svcs = healthy()
    pods[-1]["spec"]["containers"] = [container(port_name="web", port=9090)]
    sc = scope(pods, svcs)
    assert len(pods_selected(svcs[0], pods)) == 5
    [pm] = service_ports(svcs[0], pods, sc.track_of)
    assert pm.text == "80 → http"
    assert pm.landing("stable").container_port == 8080 and pm.landing("stable").missing == ()
    assert pm.landing("canary").container_port is None and pm.landing("canary").missing == ("checkout-canary-0",)
    assert resolve_target_port(pods[0]["spec"], 8080).declared
    assert resolve_target_port(pods[0]["spec"], 9999).port == 9999 and not resolve_target_port(pods[0]["spec"], 9999).declared


def test_endpoint_rows_states_tracks_and_counts():
    pods, svcs = healthy()
    pods[1]["status"]["conditions"][0]["status"] = "False"
    pods[2]["metadata"]["deletionTimestamp"] = T1
    sc = scope(pods, svcs)
    rows = endpoint_rows(svcs[0], sc.endpointslices, pods, sc.track_of)
    assert {r.pod: r.state for r in rows}["checkout-stable-1"] == "not ready"
    assert {r.pod: r.state for r in rows}["checkout-stable-2"] == "terminating, serving"
    counts = counts_by_track(rows)
    assert (counts["stable"].total, counts["stable"].ready, counts["stable"].terminating) == (4, 2, 1)
    assert counts["canary"].text == "1/1 ready"


def test_healthy_shared_service_has_no_findings_but_informational_ones():
    pods, svcs = healthy()
    found = codes(scope(pods, svcs))
    assert not [f for f in found.values() if f.severity != "info"], found


# ---- each finding, produced and not produced ---------------------------------------------------


def test_service_selects_no_pods():
    pods, _ = healthy()
    bad = service("checkout", {"app": "checkout", "tier": "frontend"})
    [f] = by_code(scope(pods, [bad]), "service-selects-no-pods")
    assert f.severity == "critical" and "tier=frontend" in f.summary
    assert not by_code(scope(*healthy()), "service-selects-no-pods")


def test_no_ready_endpoints_from_slice_conditions():
    pods, svcs = healthy()
    slices = [slice_for(svcs[0], pods, ready=False)]
    [f] = by_code(scope(pods, svcs, slices), "no-ready-endpoints")
    assert f.severity == "critical" and "5 addresses" in f.summary
    assert not by_code(scope(pods, svcs), "no-ready-endpoints")


def test_single_endpoint_info_for_canary_warning_for_stable():
    ro, pods, svcs = argo(weight=0)
    found = codes(argo_scope(ro, pods, svcs))
    assert found[("single-endpoint", "canary")].severity == "info"
    assert ("single-endpoint", "stable") not in found
    s, c = argo_pods(n_stable=1, n_canary=2)
    found = codes(argo_scope(ro, s + c, svcs))
    assert found[("single-endpoint", "stable")].severity == "warning"
    assert ("single-endpoint", "canary") not in found


def test_track_not_selected_only_canary_wrong_stable_listed_first():
    """The stable pods come first and are right; only the canary pods miss the selector: still found."""
    pods = stable_pods(4) + canary_pods(2, labels={"app": "checkout", "deployment": "canary", "tier": "frontend"})
    svcs = [service("checkout", SHARED_SEL)]
    [f] = by_code(scope(pods, svcs), "track-not-selected")
    assert f.track == "canary" and f.severity == "critical"
    ev = dict(f.evidence)
    assert ev["label"] == "tier" and ev["Service selector wants"] == "web" and ev["canary pods have"] == "frontend"
    assert "stable pods have tier=web" in f.summary and "2 of 2 canary pods" in f.summary
    assert not by_code(scope(*healthy()), "track-not-selected")


def test_track_not_selected_one_pod_of_many_and_absent_label():
    pods = stable_pods(3) + canary_pods(3)
    del pods[-1]["metadata"]["labels"]["tier"]
    [f] = by_code(scope(pods, [service("checkout", SHARED_SEL)]), "track-not-selected")
    assert f.severity == "warning" and "1 of 3 canary pods" in f.summary and "no tier label" in f.summary
    assert f.objects[-1] == "Pod/checkout-canary-2"


def test_track_not_selected_from_template_before_pods_exist():
    pods = stable_pods(2)
    dep = deployment("checkout-canary", {"app": "checkout", "deployment": "canary"}, replicas=0)
    sc = scope(pods, [service("checkout", SHARED_SEL)], workloads=[dep])
    [f] = by_code(sc, "track-not-selected")
    assert f.track == "canary" and "pod template of Deployment/checkout-canary" in f.summary
    dep["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
    assert not by_code(scope(pods, [service("checkout", SHARED_SEL)], workloads=[dep]), "track-not-selected")


def test_target_port_not_exposed_per_track_on_every_pod():
    pods = stable_pods(3) + canary_pods(2)
    pods[-1]["spec"]["containers"] = [container(port_name="web", port=8080)]  # the last canary pod renamed its port
    [f] = by_code(scope(pods, [service("checkout", SHARED_SEL)]), "target-port-not-exposed")
    assert f.track == "canary" and f.severity == "critical" and "1 of 2 canary pods" in f.summary
    assert "Pod/checkout-canary-1" in f.objects
    numeric = service("checkout", SHARED_SEL, target=9090)
    fs = by_code(scope(stable_pods(2), [numeric]), "target-port-not-exposed")
    assert fs and fs[0].severity == "warning"
    assert not by_code(scope(*healthy()), "target-port-not-exposed")


def test_readiness_probe_missing_only_on_selected_pods():
    pods = stable_pods(2) + canary_pods(1, containers=[container(readiness=None)])
    [f] = by_code(scope(pods, [service("checkout", SHARED_SEL)]), "readiness-probe-missing")
    assert f.track == "canary" and f.objects == ("Pod/checkout-canary-0",)
    unselected = stable_pods(2) + canary_pods(1, labels={"app": "checkout", "deployment": "canary"},
                                             containers=[container(readiness=None)])
    assert not by_code(scope(unselected, [service("checkout", SHARED_SEL)]), "readiness-probe-missing")


def test_probe_port_not_exposed_named_and_numeric():
    bad = container(readiness={"httpGet": {"path": "/ready", "port": "health"}})
    pods = stable_pods(2) + canary_pods(1, containers=[bad])
    [f] = by_code(scope(pods, [service("checkout", SHARED_SEL)]), "probe-port-not-exposed")
    assert f.track == "canary" and f.severity == "critical" and "health" in f.summary
    num = container(liveness={"tcpSocket": {"port": 9000}})
    [g] = by_code(scope(stable_pods(1, containers=[num]), []), "probe-port-not-exposed")
    assert g.severity == "warning" and "livenessProbe" in g.summary
    assert not by_code(scope(*healthy()), "probe-port-not-exposed")


def test_probes_identical():
    same = {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5}
    pods = stable_pods(2, containers=[container(readiness=same, liveness=dict(same))])
    [f] = by_code(scope(pods, []), "probes-identical")
    assert f.severity == "info" and f.track == "stable" and "same timings too" in f.summary
    differ = container(readiness=same, liveness={"httpGet": {"path": "/livez", "port": "http"}})
    assert not by_code(scope(stable_pods(2, containers=[differ]), []), "probes-identical")


def test_route_backend_missing_ingress_httproute_virtualservice():
    pods, svcs = healthy()
    ok = [ingress("checkout", [("checkout", {"number": 80})]), ]
    assert not by_code(scope(pods, svcs, ingresses=ok), "route-backend-missing")
    ing = [ingress("checkout", [("checkout-v2", {"number": 80})])]
    [f] = by_code(scope(pods, svcs, ingresses=ing), "route-backend-missing")
    assert "checkout-v2" in f.summary and "does not exist" in f.summary
    hr = [httproute("checkout", [("checkout", 8080, None)])]
    [g] = by_code(scope(pods, svcs, httproutes=hr), "route-backend-missing")
    assert "port 8080" in g.summary
    vs = [virtualservice("checkout", [("checkout.shop.svc.cluster.local", 80, 100)])]
    assert not by_code(scope(pods, svcs, virtualservices=vs), "route-backend-missing")


def test_route_backend_missing_when_argo_route_lacks_canary_service():
    routing = {"istio": {"virtualService": {"name": "checkout", "routes": ["primary"]}}}
    ro, pods, svcs = argo(routing=routing)
    vs_ok = virtualservice("checkout", [("checkout-stable", None, 75), ("checkout-canary", None, 25)])
    assert not by_code(argo_scope(ro, pods, svcs, virtualservices=[vs_ok]), "route-backend-missing")
    vs_bad = virtualservice("checkout", [("checkout-stable", None, 100)])
    fs = by_code(argo_scope(ro, pods, svcs, virtualservices=[vs_bad]), "route-backend-missing")
    assert [f.track for f in fs] == ["canary"] and "no route to the canary Service" in fs[0].summary
    fs = by_code(argo_scope(ro, pods, svcs), "route-backend-missing")
    assert fs and "does not exist" in fs[0].summary


def test_networkpolicy_excludes_track():
    pods, svcs = healthy()
    deny = netpol("default-deny", None, [])
    allow = netpol("allow-checkout", {"app": "checkout", "deployment": "stable"},
                   [{"from": [{"namespaceSelector": {"matchLabels": {"name": "ingress"}}}],
                     "ports": [{"port": 8080}]}])
    [f] = by_code(scope(pods, svcs, networkpolicies=[deny, allow]), "networkpolicy-excludes-track")
    assert f.track == "canary" and f.severity == "critical"
    assert "allow-checkout" in f.summary and "deployment=stable" in f.summary and "deployment=canary" in f.summary
    fixed = netpol("allow-checkout", {"app": "checkout"}, allow["spec"]["ingress"])
    assert not by_code(scope(pods, svcs, networkpolicies=[deny, fixed]), "networkpolicy-excludes-track")
    assert not by_code(scope(pods, svcs), "networkpolicy-excludes-track")


def test_networkpolicy_that_selects_no_pods():
    pods, svcs = healthy()
    typo = netpol("checkout-allow", {"app": "checkout", "tier": "fronted"}, [{}])
    [f] = by_code(scope(pods, svcs, networkpolicies=[typo]), "networkpolicy-excludes-track")
    assert f.track is None and "selects no pods" in f.summary


def test_endpoints_lag_times_a_selector_switch():
    blue = [pod(f"blue-{i}", {"app": "checkout", "environment": "blue"}, f"10.244.1.{i}") for i in range(3)]
    green = [pod(f"green-{i}", {"app": "checkout", "environment": "green"}, f"10.244.2.{i}", created=T1)
             for i in range(3)]
    before = service("checkout", {"app": "checkout", "environment": "blue"})
    after = service("checkout", {"app": "checkout", "environment": "green"})
    old_slice = slice_for(before, blue)
    h = NetworkHistory(grace=1.0)
    assert not [f for f in network_findings(scope(blue + green, [before], [old_slice]), 100.0, h)
                if f.code == "endpoints-lag"]
    lagging = scope(blue + green, [after], [old_slice])
    assert not [f for f in network_findings(lagging, 100.5, h) if f.code == "endpoints-lag"]  # within grace
    [f] = [f for f in network_findings(lagging, 104.0, h) if f.code == "endpoints-lag"]
    assert f.severity == "warning" and f.track == "green" and "changed 3.5 s ago" in f.summary
    assert "3 blue pods it no longer selects" in f.summary
    [g] = [f for f in network_findings(scope(blue + green, [after], [slice_for(after, green)]), 105.0, h)
           if f.code == "endpoints-lag"]
    assert g.severity == "info" and "after 4.5 s" in g.summary
    assert not [f for f in network_findings(scope(blue + green, [after], [slice_for(after, green)]), 400.0, h)
                if f.code == "endpoints-lag"]


def test_preview_points_at_active():
    blue = [pod(f"blue-{i}", {"app": "checkout", "environment": "blue"}, f"10.244.1.{i}") for i in range(2)]
    green = [pod(f"green-{i}", {"app": "checkout", "environment": "green"}, f"10.244.2.{i}", created=T1)
             for i in range(2)]
    active = service("checkout", {"app": "checkout", "environment": "blue"}, labels={"app": "checkout", "role": "active"})
    preview = service("checkout-preview", {"app": "checkout", "environment": "blue"},
                      labels={"app": "checkout", "role": "preview"})
    [f] = by_code(scope(blue + green, [active, preview]), "preview-points-at-active")
    assert f.track == "green" and "previewed by nobody" in f.summary
    preview["spec"]["selector"]["environment"] = "green"
    assert not by_code(scope(blue + green, [active, preview]), "preview-points-at-active")


def test_weights_disagree_weight_set_but_canary_has_no_ready_endpoints():
    ro, pods, svcs = argo(weight=25)
    slices = [slice_for(svcs[0], pods[:3]), slice_for(svcs[1], pods[3:], ready=False)]
    fs = by_code(argo_scope(ro, pods, svcs, slices), "weights-disagree")
    assert any(f.severity == "critical" and "Weight 25 % set" in f.summary and "0 ready endpoints" in f.summary
               for f in fs)
    assert not by_code(argo_scope(ro, pods, svcs), "weights-disagree")


def test_weights_disagree_between_layers_and_replicas_vs_endpoints():
    routing = {"istio": {"virtualService": {"name": "checkout"}}}
    ro, pods, svcs = argo(weight=25, routing=routing)
    vs = virtualservice("checkout", [("checkout-stable", None, 90), ("checkout-canary", None, 10)])
    sc = argo_scope(ro, pods, svcs, virtualservices=[vs])
    layers = {l.layer: l for l in traffic_split(sc)}
    assert layers["argo"].weight("canary") == 25 and layers["istio"].weight("canary") == 10
    [f] = by_code(sc, "weights-disagree")
    assert "canary 25 %" in f.summary and "10 %" in f.summary
    # a shared Service: 1 of 5 ready pods is canary, but no canary endpoint
    pods, svcs = healthy()
    slices = [slice_for(svcs[0], pods[:4])]
    [g] = by_code(scope(pods, svcs, slices), "weights-disagree")
    assert g.track == "canary" and "20 %" in g.summary and "0 %" in g.summary


def test_split_layers_nginx_gateway():
    ro, pods, svcs = argo(weight=30)
    ing = [ingress("checkout", [("checkout-stable", {"number": 80})]),
           ingress("checkout-canary", [("checkout-canary", {"number": 80})],
                   annotations={"nginx.ingress.kubernetes.io/canary": "true",
                                "nginx.ingress.kubernetes.io/canary-weight": "30"})]
    hr = [httproute("checkout", [("checkout-stable", 80, 70), ("checkout-canary", 80, 30)])]
    layers = {l.layer: l for l in traffic_split(argo_scope(ro, pods, svcs, ingresses=ing, httproutes=hr))}
    assert layers["nginx"].weight("canary") == 30 and layers["gateway"].weight("canary") == 30
    assert layers["argo"].weight("stable") == 70
    assert not by_code(argo_scope(ro, pods, svcs, ingresses=ing, httproutes=hr), "weights-disagree")


def test_dns_stale_points_at_old_environment():
    from tui.network.dns import DnsAnswer

    blue = [pod(f"blue-{i}", {"app": "checkout", "environment": "blue"}, f"10.244.1.{i}") for i in range(2)]
    green = [pod(f"green-{i}", {"app": "checkout", "environment": "green"}, f"10.244.2.{i}", created=T1)
             for i in range(2)]
    svc = service("checkout", {"app": "checkout", "environment": "green"})
    sc = scope(blue + green, [svc])
    old = DnsAnswer("checkout.example.com", "127.0.0.1:5353", ("10.244.1.0", "10.244.1.1"), ttl=30, checked_at=1.0,
                    service="checkout")
    [f] = [f for f in network_findings(sc, 1000.0, dns=[old]) if f.code == "dns-stale"]
    assert f.track == "blue" and "still points at blue" in f.summary and "TTL left 30 s" in f.summary
    new = DnsAnswer("checkout.example.com", None, ("10.244.2.0", "10.244.2.1"), ttl=30, service="checkout")
    assert not [f for f in network_findings(sc, 1000.0, dns=[new]) if f.code == "dns-stale"]


def test_every_pod_checked_at_scale_stays_quick():
    import time

    pods = stable_pods(3000) + canary_pods(500)
    for p in pods[3000:3250]:
        p["metadata"]["labels"]["tier"] = "frontend"
    sc = scope(pods, [service("checkout", SHARED_SEL)])
    t = time.perf_counter()
    fs = network_findings(sc, 1000.0)
    assert time.perf_counter() - t < 2.0
    [f] = [f for f in fs if f.code == "track-not-selected"]
    assert "250 of 500 canary pods" in f.summary


def test_untrusted_text_is_cleaned():
    pods, _ = healthy()
    evil = service("checkout", {"app": "checkout", "tier": "\x1b]8;;http://x\x1b\\web[/bold]"})
    fs = network_findings(scope(pods, [evil]), 1000.0)
    for f in fs:
        assert "\x1b" not in f.summary and all("\x1b" not in v for _, v in f.evidence)


def test_clone_fixture_is_deep():
    a = stable_pods(1)[0]
    b = clone(a)
    b["metadata"]["labels"]["x"] = "y"
    assert "x" not in a["metadata"]["labels"]
