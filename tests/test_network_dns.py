"""DNS: names to look up, live lookups over real UDP against the demo's DNS server, and dns-stale with the lag."""

from __future__ import annotations

import asyncio
import socket

import dns.flags
import dns.rcode

import pytest
from network_fixtures import NS, httproute, ingress, pod, service, slice_for

from tui.demo.cluster import start_demo_cluster
from tui.demo.dnsserver import start_dns_server
from tui.network.dns import (DnsServerError, configured_names, environment_summary, environments, in_cluster_names,
                             lookup, lookup_all, parse_server)
from tui.network.findings import network_findings
from tui.network.scope import NetworkScope, scope_from_store


def test_parse_server():
    assert parse_server("10.0.0.10") == ("10.0.0.10", 53)
    assert parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_server("[::1]:5300") == ("::1", 5300)
    assert parse_server("::1") == ("::1", 53)
    for bad in ("", "host:abc", "host:70000", "[::1", ":53"):
        with pytest.raises(DnsServerError):
            parse_server(bad)


def test_configured_and_in_cluster_names():
    pods = [pod("checkout-0", {"app": "checkout"}, "10.244.0.1")]
    svc = service("checkout", {"app": "checkout"},
                  annotations={"external-dns.alpha.kubernetes.io/hostname": "checkout.example.com,www.example.com"})
    ext = service("checkout-db", None, type="ExternalName", externalName="db.prod.example.net.")
    sc = NetworkScope(NS, pods, [svc, ext], [slice_for(svc, pods)],
                      ingresses=[ingress("checkout", [("checkout", {"number": 80})], host="shop.example.com"),
                                 ingress("other", [("other", {"number": 80})], host="other.example.com")],
                      httproutes=[httproute("checkout", [("checkout", 80, None)], hostnames=("api.example.com",))])
    names = {n.name: n for n in configured_names(sc, extra=["status.example.com", "checkout.example.com"])}
    assert set(names) == {"checkout.example.com", "www.example.com", "db.prod.example.net", "shop.example.com",
                          "api.example.com", "status.example.com"}
    assert names["shop.example.com"].service == "checkout" and names["shop.example.com"].source == "Ingress/checkout"
    assert names["db.prod.example.net"].source == "Service/checkout-db (ExternalName)"
    assert names["status.example.com"].source == "config" and names["status.example.com"].service is None
    assert ("checkout", "checkout.shop.svc.cluster.local") in in_cluster_names(sc)


async def test_dns_server_answers_garbage_with_silence_and_refuses_other_classes():
    import dns.message
    import dns.rdataclass

    class Sim:
        def dns_lookup(self, name):
            return ["10.0.0.1"] if name == "a.example" else None

    srv = await start_dns_server(Sim(), None, ttl=5)
    try:
        assert srv.answer(b"not dns") is None
        q = dns.message.make_query("a.example", "A", rdclass=dns.rdataclass.CH)
        assert dns.message.from_wire(srv.answer(q.to_wire())).rcode() == dns.rcode.REFUSED
        r = dns.message.from_wire(srv.answer(dns.message.make_query("a.example", "A").to_wire()))
        assert r.answer[0].ttl == 5 and r.flags & dns.flags.AA
    finally:
        srv.close()


async def test_lookup_errors_are_answers_not_exceptions():
    # a UDP port nobody answers on: a timeout (or refusal), reported in the answer
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    try:
        a = await lookup("checkout.example.com", f"127.0.0.1:{port}", timeout=0.3)
    finally:
        s.close()
    assert a.error and not a.addresses and a.records == a.error


async def _wait_for(cond, timeout=15.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


def _scope(cluster) -> NetworkScope:
    objs = {k: {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in cluster.state.list(k, "demo")[0]}
            for k in ("pods", "services", "endpointslices", "deployments", "replicasets")}
    return scope_from_store(objs, "demo")


async def test_dns_lags_the_switch_then_catches_up_over_udp():
    """bluegreen-switch: the Service switches to green at 25 s, the external name follows only at 50 s."""
    c = await start_demo_cluster(scenario="bluegreen-switch", speed=40, port=0)
    srv = c.dns  # started with the cluster, for a scenario with an external name
    name = c.sim.dns_status()["name"]
    try:
        assert srv is not None and c.sim.status()["dns"]["server"] == srv.address
        names = [n for n in configured_names(_scope(c)) if n.name == name]
        assert names and names[0].service == "checkout"  # from the external-dns annotation

        [before] = await lookup_all(names, srv.address)
        sc = _scope(c)
        assert environment_summary(environments(before, sc)) == "blue (3)" and before.ttl == 30
        assert before.ttl_left(before.checked_at + 10) == 20
        assert srv.queries >= 2  # A and AAAA, over UDP

        # after the switch and the endpoint lag, before the name follows: stale
        await _wait_for(lambda: c.sim.t >= 32 and not c.sim.dns_status()["following"] and all(
            "green" in ((sl.get("endpoints") or [{}])[0].get("targetRef") or {}).get("name", "")
            for sl in c.state.list("endpointslices", "demo")[0]
            if sl["metadata"]["labels"].get("kubernetes.io/service-name") == "checkout"))
        [mid] = await lookup_all(names, srv.address)
        sc = _scope(c)
        assert environment_summary(environments(mid, sc)) == "blue (3)"
        [f] = [f for f in network_findings(sc, c.sim.t, dns=[mid]) if f.code == "dns-stale"]
        assert f.track == "blue" and "now sends to green" in f.summary and "TTL left 30 s" in f.summary

        # the name follows: green, and no longer stale
        await _wait_for(lambda: c.sim.dns_status()["following"])
        [after] = await lookup_all(names, srv.address)
        sc = _scope(c)
        assert environment_summary(environments(after, sc)) == "green (3)"
        assert not [f for f in network_findings(sc, c.sim.t, dns=[after]) if f.code == "dns-stale"]

        # in-cluster names answer too, and unknown names are NXDOMAIN
        svc_name = dict(in_cluster_names(sc))["checkout"]
        a = await lookup(svc_name, srv.address)
        assert a.addresses and not a.error
        nx = await lookup("nope." + name, srv.address)
        assert nx.error.startswith("NXDOMAIN")
    finally:
        await c.stop()
