"""The DNS/endpoints pane: pilot tests over plain views, hostile text, and endpoint churn on the demo cluster."""

from __future__ import annotations

import asyncio

from network_fixtures import NS, canary_pods, netpol, service, slice_for, stable_pods

from textual.app import App, ComposeResult

from tui.network.dns import DnsAnswer
from tui.network.findings import NetworkHistory, network_findings
from tui.network.scope import NetworkScope, scope_from_store
from tui.network.services import pods_selected
from tui.network.view import network_view
from widgets.network import NetworkPane, summary_text

SEL = {"app": "checkout", "tier": "web"}
HOSTILE = ("[/bold]", "[@click=app.quit]x[/]", "\x1b]8;;http://x\x1b\\", "\x1bc")


class PaneApp(App):
    def __init__(self, clock=lambda: 1000.0):
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield NetworkPane(clock=self.clock, id="network")


def _view(pods, services, **kw):
    slices = [slice_for(s, pods_selected(s, pods)) for s in services]
    sc = NetworkScope(NS, pods, services, slices, **kw)
    return network_view(sc, network_findings(sc, 1000.0), dns=[
        DnsAnswer("checkout.example.com", None, ("10.244.1.1",), ttl=30, checked_at=990.0, service="checkout",
                  source="Service/checkout (external-dns)")], dns_server="127.0.0.1:5353")


async def test_pane_shows_services_ports_split_dns_findings_and_rows():
    pods = stable_pods(3) + canary_pods(1, labels={"app": "checkout", "deployment": "canary"})
    view = _view(pods, [service("checkout", SEL)])
    app = PaneApp()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(NetworkPane)
        pane.show(view)
        await pilot.pause()
        plain = summary_text(view, 1000.0).plain
        assert "Service checkout" in plain and "selector app=checkout,tier=web" in plain
        assert "port http: 80 → http → stable 8080" in plain
        assert "replicas" in plain and "stable 75 % / canary 25 %" in plain
        assert "checkout.example.com  A 10.244.1.1, TTL 20 s → stable (1)" in plain
        assert "✗ critical track-not-selected [canary]" in plain
        rows = pane.table.rows
        assert len(rows) == 3 and {r.track for r in rows.values()} == {"stable"}
        assert "3/3 endpoints ready" in str(pane.border_title) and "critical" in str(pane.border_title)
        # keyed updates: a pod going not ready changes one row, keeps the others' identity
        before = dict(rows)
        pods[0]["status"]["conditions"][0]["status"] = "False"
        pane.show(_view(pods, [service("checkout", SEL)]))
        await pilot.pause()
        changed = [k for k in rows if rows[k] != before[k]]
        assert len(changed) == 1 and rows[changed[0]].state == "not ready"
        # the cursor survives a refresh
        pane.table.focus()
        await pilot.press("j", "j")
        key = pane.table.cursor_key
        pane.show(_view(pods, [service("checkout", SEL)]))
        await pilot.pause()
        assert pane.table.cursor_key == key


async def test_pane_at_80x24_and_hidden_pane_catches_up():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(NetworkPane)
        pane.display = False
        pane.show(_view(stable_pods(2), [service("checkout", SEL)]))
        await pilot.pause()
        assert not pane.table.rows  # not drawn while hidden
        pane.display = True
        pane.catch_up()
        await pilot.pause()
        assert len(pane.table.rows) == 2


async def test_hostile_text_is_shown_as_text():
    for evil in HOSTILE:
        labels = {"app": "checkout", "tier": "web", "evil": evil}
        pods = stable_pods(1, labels=labels)
        pods[0]["metadata"]["name"] = "pod-" + evil
        svc = service("checkout", SEL)
        svc["spec"]["selector"]["tier"] = "web" + evil
        deny = netpol("deny" + evil, None, [])
        view = _view(pods, [svc], networkpolicies=[deny])
        app = PaneApp()
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.query_one(NetworkPane)
            pane.show(view)
            await pilot.pause()
            plain = summary_text(view).plain
            assert "\x1b" not in plain
            if evil.startswith("["):
                assert evil in plain  # shown as typed, not interpreted
            assert app.is_running  # [@click=app.quit] did nothing


async def test_pane_rows_follow_endpoint_churn_on_the_demo_cluster():
    """Move the Service selector back and forth; the pane's rows must equal the server's EndpointSlices."""
    from tui.demo.cluster import start_demo_cluster
    from tui.kube.client import KubeClient
    from tui.kube.config import load_target
    from tui.kube.informer import Informer
    from tui.kube.resources import ENDPOINTSLICES, PODS, SERVICES
    from tui.kube.store import Store

    c = await start_demo_cluster(scenario="bluegreen-switch", speed=40, port=0)
    client = KubeClient(load_target(c.kubeconfig_path))
    store = Store()
    tasks = [asyncio.create_task(Informer(client, store, ref, namespace="demo", backoff_initial=0.05).run())
             for ref in (PODS, SERVICES, ENDPOINTSLICES)]
    app = PaneApp(clock=lambda: c.sim.t)
    history = NetworkHistory()
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            pane = app.query_one(NetworkPane)
            loop = asyncio.get_running_loop()

            def server_rows():
                out = set()
                for sl in c.state.list("endpointslices", "demo")[0]:
                    svc = sl["metadata"]["labels"].get("kubernetes.io/service-name")
                    for e in sl.get("endpoints") or ():
                        for a in e["addresses"]:
                            cond = e["conditions"]
                            out.add((svc, sl["metadata"]["name"], a, cond["ready"], cond["terminating"],
                                     e["targetRef"]["name"]))
                return out

            def pane_rows():
                return {(r.service, r.slice, r.address, r.ready, r.terminating, r.pod) for r in pane.table.rows.values()}

            def server_follows(env):
                return env is None or {r[5].split("-")[1] for r in server_rows() if r[0] == "checkout"} == {env}

            async def settle(env=None, timeout=10.0):
                end = loop.time() + timeout
                while True:
                    sc = scope_from_store(store, "demo")
                    pane.show(network_view(sc, network_findings(sc, c.sim.t, history)))
                    await pilot.pause()
                    if server_follows(env) and pane_rows() == server_rows() and pane_rows():
                        return
                    if loop.time() > end:
                        raise AssertionError(f"pane {sorted(pane_rows())} != server {sorted(server_rows())}")
                    await asyncio.sleep(0.03)

            await settle()
            while c.sim.t < 27:  # green pods are ready, and the scenario's own switch (at 25 s) is done
                await asyncio.sleep(0.02)
            for env in ("blue", "green", "blue", "green"):
                def flip(o, env=env):
                    o["spec"]["selector"]["environment"] = env
                c.state.mutate("services", "demo", "checkout", flip)
                await settle(env)
                tracks = {r.track for r in pane.table.rows.values() if r.service == "checkout" and r.ready}
                assert tracks == {env}, tracks
                assert len([r for r in pane.table.rows.values() if r.service == "checkout"]) == 3
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
        await c.stop()
