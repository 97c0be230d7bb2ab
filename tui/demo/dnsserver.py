"""The demo cluster's authoritative DNS server on 127.0.0.1 (UDP): the scenario's external name, lagging a switch
as the simulation says, and the in-cluster names `svc.ns.svc.cluster.local`."""

from __future__ import annotations

import asyncio
import logging

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

log = logging.getLogger("lookout.demo.dns")

CLUSTER_DOMAIN = "cluster.local"


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: "DemoDnsServer"):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        wire = self.server.answer(data)
        if wire is not None and self.transport is not None:
            self.transport.sendto(wire, addr)


class DemoDnsServer:
    """Answers from the simulation (`sim.dns_lookup(name)`) and the cluster state; never recursive.

    `ttl` is what the records carry: a resolver in front of this server caches them that long, which is
    the other half of "DNS Not Updating" (seed 001) beside the lag the scenario plays.
    """

    def __init__(self, sim, state=None, *, host: str = "127.0.0.1", port: int = 0, ttl: int = 30,
                 cluster_domain: str = CLUSTER_DOMAIN):
        self.sim = sim
        self.state = state if state is not None else getattr(sim, "state", None)
        self.host = host
        self.port = port
        self.ttl = ttl
        self.cluster_domain = cluster_domain.strip(".").lower()
        self.queries = 0
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, the form `--dns-server` takes."""
        return f"{self.host}:{self.port}"

    async def start(self) -> "DemoDnsServer":
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=(self.host, self.port))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> "DemoDnsServer":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        self.close()

    # ---- answers ---------------------------------------------------------------------------
    def addresses(self, name: str) -> list[str] | None:
        """A records for `name`, or None when this server knows no such name."""
        name = name.rstrip(".").lower()
        lookup = getattr(self.sim, "dns_lookup", None)
        if lookup is not None:
            ips = lookup(name)
            if ips is not None:
                return list(ips)
        suffix = ".svc." + self.cluster_domain
        if self.state is not None and name.endswith(suffix):
            parts = name[: -len(suffix)].split(".")
            if len(parts) == 2:
                return self._service_addresses(parts[1], parts[0])
        return None

    def _service_addresses(self, namespace: str, service: str) -> list[str] | None:
        svc = self.state.get("services", namespace, service)
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if ip and ip != "None":
            return [ip]
        # headless (or a demo Service without a cluster IP): the ready endpoints, as CoreDNS answers headless names
        out = []
        for sl in self.state.list("endpointslices", namespace)[0]:
            if ((sl.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name") != service:
                continue
            for e in sl.get("endpoints") or ():
                if (e.get("conditions") or {}).get("ready") is not False:
                    out.extend(e.get("addresses") or ())
        return sorted(set(out))

    def answer(self, data: bytes) -> bytes | None:
        self.queries += 1
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None  # not DNS: say nothing, as a real server would to garbage
        resp = dns.message.make_response(query)
        resp.flags |= dns.flags.AA
        resp.flags &= ~dns.flags.RA
        try:
            for q in query.question:
                if q.rdclass != dns.rdataclass.IN:
                    resp.set_rcode(dns.rcode.REFUSED)
                    continue
                ips = self.addresses(q.name.to_text())
                if ips is None:
                    resp.set_rcode(dns.rcode.NXDOMAIN)
                    continue
                if q.rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
                    v4 = [ip for ip in ips if ":" not in ip]
                    if v4:
                        resp.answer.append(dns.rrset.from_text_list(q.name, self.ttl, "IN", "A", v4))
                if q.rdtype in (dns.rdatatype.AAAA, dns.rdatatype.ANY):
                    v6 = [ip for ip in ips if ":" in ip]
                    if v6:
                        resp.answer.append(dns.rrset.from_text_list(q.name, self.ttl, "IN", "AAAA", v6))
        except Exception:  # a bug here must not kill the demo: answer SERVFAIL
            log.exception("demo DNS server failed to answer")
            resp = dns.message.make_response(query)
            resp.set_rcode(dns.rcode.SERVFAIL)
        return resp.to_wire()


async def start_dns_server(sim, state=None, *, host: str = "127.0.0.1", port: int = 0, ttl: int = 30) -> DemoDnsServer:
    """Start the demo DNS server on `host:port` (0 = any free port) and return it; `close()` stops it."""
    return await DemoDnsServer(sim, state, host=host, port=port, ttl=ttl).start()
