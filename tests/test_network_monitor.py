"""NetworkMonitor: the store to a view and findings, DNS in the background over real UDP."""

from __future__ import annotations

import asyncio

from network_fixtures import NS, canary_pods, pod, service, slice_for, stable_pods

from tui.demo.dnsserver import DemoDnsServer
from tui.kube.store import Store
from tui.network.kinds import HTTPROUTES, NETWORK_RESOURCES, VIRTUALSERVICES
from tui.network.monitor import NetworkMonitor
from tui.network.services import pods_selected
from tui.rollout.target import Target
from tui.rollout.tracks import TrackResolver


class FakeSim:
    def __init__(self):
        self.ips = ["10.244.1.1"]

    def dns_lookup(self, name):
        return list(self.ips) if name == "checkout.example.com" else None


def store_with(pods, services):
    st = Store()
    st.apply("pods", "ADDED", pods)
    st.apply("services", "ADDED", services)
    st.apply("endpointslices", "ADDED", [slice_for(s, pods_selected(s, pods)) for s in services])
    return st


def test_resource_refs_for_crds():
    assert HTTPROUTES.path("shop") == "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes"
    assert VIRTUALSERVICES.api_version == "networking.istio.io/v1beta1"
    assert {r.key for r in NETWORK_RESOURCES} >= {"ingresses", "networkpolicies", "httproutes", "virtualservices"}


async def test_monitor_view_findings_and_background_dns():
    pods = stable_pods(2) + canary_pods(1, labels={"app": "checkout", "deployment": "canary"})
    svc = service("checkout", {"app": "checkout", "tier": "web"},
                  annotations={"external-dns.alpha.kubernetes.io/hostname": "checkout.example.com"})
    store = store_with(pods, [svc])
    target = Target("Label", "checkout", NS, "app=checkout")
    sim = FakeSim()
    async with DemoDnsServer(sim, None, ttl=7) as srv:
        mon = NetworkMonitor(dns_server=srv.address, dns_interval=0.05, dns_timeout=1.0, clock=lambda: 500.0)
        view, findings = mon.evaluate(store, target, TrackResolver())
        assert [s.name for s in view.services] == ["checkout"] and len(view.endpoints) == 2
        assert {f.code for f in findings} >= {"track-not-selected"}
        task = asyncio.create_task(mon.run_dns())
        try:
            for _ in range(100):
                if mon.answers:
                    break
                await asyncio.sleep(0.02)
            view, _ = mon.evaluate(store, target, TrackResolver())
            [a] = view.dns
            assert a.addresses == ("10.244.1.1",) and a.ttl == 7 and dict(a.environments)["10.244.1.1"] == "stable"
            sim.ips = ["10.244.9.9"]
            n = mon.lookups
            for _ in range(100):
                if mon.lookups > n + 1:
                    break
                await asyncio.sleep(0.02)
            view, _ = mon.evaluate(store, target, TrackResolver())
            assert view.dns[0].addresses == ("10.244.9.9",) and view.dns[0].environments[0][1] == "unknown"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    mon.reset()
    assert mon.answers == []


def test_app_of_target_and_workload():
    from tui.network.monitor import app_of

    assert app_of(Target("Deployment", "checkout-stable", NS, "app=checkout,deployment=stable")) == ("app", "checkout")
    wl = {"spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "shop"}}}}}
    assert app_of(Target("Rollout", "shop", NS, "tier=web"), wl) == ("app.kubernetes.io/name", "shop")
    assert app_of(Target("Label", "x", NS, "tier=web")) is None


def test_monitor_scope_keeps_to_the_app_across_tracks():
    pods = stable_pods(2) + canary_pods(1)
    other = [pod("payments-0", {"app": "payments"}, "10.244.9.1")]
    store = store_with(other + pods, [service("checkout", {"app": "checkout", "tier": "web"})])
    sc = NetworkMonitor().scope(store, Target("Deployment", "checkout-stable", NS, "app=checkout,deployment=stable"),
                                TrackResolver())
    assert sc.app == "checkout" and len(sc.pods) == 3 and set(sc.pods_by_track) == {"stable", "canary"}
