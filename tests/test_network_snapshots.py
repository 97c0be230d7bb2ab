"""The DNS/endpoints pane as SVG, from fixed objects and a fixed clock: a healthy canary and one with findings.

Regenerate with `pytest tests/test_network_snapshots.py --snapshot-update`, then copy the SVGs to screenshots/
(scripts/screenshots does both for every snapshot test file it is given).
"""

from __future__ import annotations

import pytest
from network_fixtures import (NS, argo_pods, canary_rollout, ingress, netpol, service, slice_for, virtualservice)

from textual.app import App, ComposeResult

from tui.network.dns import DnsAnswer
from tui.network.findings import network_findings
from tui.network.scope import NetworkScope
from tui.network.services import pods_selected
from tui.network.view import network_view
from tui.rollout.tracks import TrackResolver
from widgets.network import NetworkPane

NOW = 1_767_225_600.0
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


def _case(name: str):
    routing = {"istio": {"virtualService": {"name": "checkout", "routes": ["primary"]}}}
    ro = canary_rollout(weight=25, traffic_routing=routing)
    stable, canary = argo_pods(3, 1)
    svcs = [service("checkout-stable", {"app": "checkout", "rollouts-pod-template-hash": "aaa"},
                    annotations={"external-dns.alpha.kubernetes.io/hostname": "checkout.example.com"}),
            service("checkout-canary", {"app": "checkout", "rollouts-pod-template-hash": "bbb"})]
    vs = virtualservice("checkout", [("checkout-stable", None, 75), ("checkout-canary", None, 25)])
    extra: dict = {}
    if name == "findings":
        canary[0]["metadata"]["labels"]["rollouts-pod-template-hash"] = "bbb"
        canary[0]["status"]["conditions"][0]["status"] = "False"
        vs = virtualservice("checkout", [("checkout-stable", None, 75), ("checkout-canary", 8080, 25)])
        extra["networkpolicies"] = [netpol("default-deny", None, []),
                                    netpol("allow-web", {"app": "checkout", "rollouts-pod-template-hash": "aaa"},
                                           [{"ports": [{"port": 8080}]}])]
        extra["ingresses"] = [ingress("checkout", [("checkout-v2", {"number": 80})])]
    pods = stable + canary
    slices = [slice_for(s, pods_selected(s, pods)) for s in svcs]
    sc = NetworkScope(NS, pods, svcs, slices, virtualservices=[vs], rollout=ro, resolver=TrackResolver(rollout=ro),
                      **extra)
    dns = [DnsAnswer("checkout.example.com", "127.0.0.1:5353", ("10.244.1.1", "10.244.1.2", "10.244.1.3"), ttl=30,
                     checked_at=NOW - 4, service="checkout-stable", source="Service/checkout-stable (external-dns)")]
    return network_view(sc, network_findings(sc, NOW, dns=dns), dns, dns_server="127.0.0.1:5353")


class PaneApp(App):
    CSS = "NetworkPane { border: round $accent; height: 1fr; }"

    def __init__(self, view):
        super().__init__()
        self.view_ = view

    def compose(self) -> ComposeResult:
        yield NetworkPane(clock=lambda: NOW, id="network")

    def on_mount(self) -> None:
        self.query_one(NetworkPane).show(self.view_)


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("case", ["healthy", "findings"])
def test_network_pane(snap_compare, case, size):
    async def settle(pilot):
        await pilot.pause(0.2)

    assert snap_compare(PaneApp(_case(case)), terminal_size=SIZES[size], run_before=settle)
