"""DNS: the in-cluster names of a rollout's Services, and live lookups (dnspython, async) of the hostnames that
lead to them: Ingress and route hosts, external-dns annotations, ExternalName targets, names from config."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from typing import Iterable

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from tui.network.scope import NetworkScope
from tui.network.split import _vs_service, ingress_backends, ingress_hosts, route_backend_refs
from tui.network.services import in_cluster_name
from tui.textsafe import clean_line
from tui.kube.objects import dig as _dig, meta as _meta

EXTERNAL_DNS_ANNOTATION = "external-dns.alpha.kubernetes.io/hostname"


class DnsServerError(ValueError):
    """A `--dns-server` value that is not host[:port]; the message is one sentence."""


def parse_server(text: str) -> tuple[str, int]:
    """`10.0.0.10`, `10.0.0.10:5353`, `[::1]:53`, `::1` -> (host, port)."""
    s = (text or "").strip()
    if not s:
        raise DnsServerError("--dns-server needs host[:port], e.g. 127.0.0.1:5353")
    host, port = s, "53"
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise DnsServerError(f"--dns-server {s!r}: missing ']'")
        host, rest = s[1:end], s[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise DnsServerError(f"--dns-server {s!r}: expected :port after ']'")
            port = rest[1:]
    elif s.count(":") == 1:
        host, port = s.split(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise DnsServerError(f"--dns-server {s!r}: the port must be a number from 1 to 65535")
    if not host:
        raise DnsServerError(f"--dns-server {s!r}: the host is empty")
    return host, int(port)


@dataclass(frozen=True)
class DnsName:
    """A hostname worth resolving, where it came from, and the Service it should lead to (None: unknown)."""

    name: str
    source: str  # "Ingress/checkout", "Service/checkout (external-dns)", "Service/db (ExternalName)", "config"
    service: str | None = None


def in_cluster_names(scope: NetworkScope, domain: str = "cluster.local") -> list[tuple[str, str]]:
    """(Service name, `svc.ns.svc.cluster.local`) for each Service of the rollout."""
    return [(_meta(s).get("name", ""), in_cluster_name(s, domain)) for s in scope.related_services]


def configured_names(scope: NetworkScope, extra: Iterable[str] = ()) -> list[DnsName]:
    """Every external name tied to the rollout's Services, then `extra` (names from config), without repeats."""
    related = {_meta(s).get("name", "") for s in scope.related_services}
    out: dict[str, DnsName] = {}

    def add(name: str, source: str, service: str | None) -> None:
        name = (name or "").strip().rstrip(".").lower()
        if not name or "*" in name or name in out:
            return
        out[name] = DnsName(name, source, service)

    for s in scope.related_services:
        n = _meta(s).get("name", "")
        for h in str((_meta(s).get("annotations") or {}).get(EXTERNAL_DNS_ANNOTATION, "")).split(","):
            add(h, f"Service/{n} (external-dns)", n)
        if _dig(s, "spec", "type") == "ExternalName":
            add(_dig(s, "spec", "externalName") or "", f"Service/{n} (ExternalName)", None)
    for ing in scope.ingresses:
        backends = [b for b, _ in ingress_backends(ing) if b in related]
        if backends:
            for h in ingress_hosts(ing):
                add(h, f"Ingress/{_meta(ing).get('name', '')}", backends[0])
    for hr in scope.httproutes:
        names = [b.get("name") for r in _dig(hr, "spec", "rules") or [] for b in route_backend_refs(r)]
        names = [n for n in names if n in related]
        if names:
            for h in _dig(hr, "spec", "hostnames") or []:
                add(h, f"HTTPRoute/{_meta(hr).get('name', '')}", names[0])
    for vs in scope.virtualservices:
        if not _dig(vs, "spec", "gateways"):
            continue  # mesh-only hosts are not looked up in DNS
        names = [_vs_service(_dig(d, "destination", "host") or "", scope.namespace)
                 for r in _dig(vs, "spec", "http") or [] for d in r.get("route") or []]
        names = [n for n in names if n in related]
        if names:
            for h in _dig(vs, "spec", "hosts") or []:
                if "." in h and not h.endswith(".svc.cluster.local"):
                    add(h, f"VirtualService/{_meta(vs).get('name', '')}", names[0])
    for h in extra:
        add(h, "config", None)
    return list(out.values())


@dataclass(frozen=True)
class DnsAnswer:
    """One lookup: what `server` (None: the system's resolvers) said about `name`, and when."""

    name: str
    server: str | None
    addresses: tuple[str, ...] = ()
    cnames: tuple[str, ...] = ()  # the chain followed to get there
    ttl: int | None = None  # as the server returned it (a caching resolver returns what is left)
    checked_at: float = 0.0
    error: str | None = None  # "NXDOMAIN", "no answer", "timeout after 2 s", ...
    source: str = ""
    service: str | None = None
    environments: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # (address, environment)

    def ttl_left(self, now: float) -> int | None:
        if self.ttl is None:
            return None
        return max(0, int(self.ttl - (now - self.checked_at)))

    @property
    def records(self) -> str:
        """`CNAME a.example → A 10.0.0.1, 10.0.0.2` in words."""
        if self.error:
            return self.error
        parts = [f"CNAME {c}" for c in self.cnames]
        v4 = [a for a in self.addresses if ":" not in a]
        v6 = [a for a in self.addresses if ":" in a]
        if v4:
            parts.append("A " + ", ".join(v4))
        if v6:
            parts.append("AAAA " + ", ".join(v6))
        return " → ".join(parts) or "no records"


def make_resolver(server: str | None = None, timeout: float = 2.0) -> dns.asyncresolver.Resolver:
    """A resolver asking `server` (host[:port]) only, or the system's resolvers; no cache: every lookup is live."""
    if server:
        host, port = parse_server(server)
        r = dns.asyncresolver.Resolver(configure=False)
        r.nameservers = [host]
        r.port = port
    else:
        try:
            r = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            r = dns.asyncresolver.Resolver(configure=False)
            r.nameservers = ["127.0.0.53"]
    r.timeout = timeout
    r.lifetime = timeout
    r.cache = None
    return r


async def lookup(name: str, server: str | None = None, *, timeout: float = 2.0, source: str = "",
                 service: str | None = None, resolver: dns.asyncresolver.Resolver | None = None,
                 clock=time.time) -> DnsAnswer:
    """A and AAAA for `name`, live. Failures are in the answer's `error`, never raised."""
    r = resolver or make_resolver(server, timeout)
    base = DnsAnswer(clean_line(name), server, checked_at=clock(), source=source, service=service)
    addrs: list[str] = []
    cnames: list[str] = []
    ttls: list[int] = []
    errors: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            ans = await r.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return replace(base, error="NXDOMAIN (no such name)")
        except dns.resolver.NoNameservers as e:
            errors.append(f"{rdtype}: no server answered ({clean_line(str(e))[:80]})")
            continue
        except dns.exception.Timeout:
            errors.append(f"{rdtype}: timeout after {timeout:g} s")
            continue
        except dns.exception.DNSException as e:
            errors.append(f"{rdtype}: {clean_line(str(e))[:80]}")
            continue
        resp = ans.response
        for rrset in resp.answer:
            if rrset.rdtype == dns.rdatatype.CNAME:
                for rd in rrset:
                    t = rd.target.to_text(omit_final_dot=True)
                    if t not in cnames:
                        cnames.append(t)
            elif rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                ttls.append(rrset.ttl)
                addrs.extend(rd.address for rd in rrset)
    if not addrs:
        return replace(base, cnames=tuple(cnames),
                       error="; ".join(errors) if errors else "no A or AAAA records")
    return replace(base, addresses=tuple(addrs), cnames=tuple(cnames), ttl=min(ttls) if ttls else None)


async def lookup_all(names: Iterable[DnsName], server: str | None = None, *, timeout: float = 2.0,
                     clock=time.time) -> list[DnsAnswer]:
    """Every name at once (each bounded by `timeout`), in the order given."""
    names = list(names)
    if not names:
        return []
    r = make_resolver(server, timeout)
    return list(await asyncio.gather(*(lookup(n.name, server, timeout=timeout, source=n.source, service=n.service,
                                              resolver=r, clock=clock) for n in names)))


def environments(answer: DnsAnswer, scope: NetworkScope) -> DnsAnswer:
    """Which environment (track) each address points at: a pod's IP, a Service's cluster/load-balancer IP, or an
    Ingress's load-balancer IP; "unknown" otherwise."""
    where: dict[str, str] = {}
    for p in scope.pods:
        ip = (p.get("status") or {}).get("podIP")
        if ip:
            where[ip] = scope.track_of(p) or "untracked"
    for s in scope.services:
        t = scope.service_track(s) or f"Service/{_meta(s).get('name', '')}"
        for ip in (_dig(s, "spec", "clusterIPs") or []) + [_dig(s, "spec", "clusterIP")] + \
                [i.get("ip") for i in _dig(s, "status", "loadBalancer", "ingress") or []]:
            if ip and ip != "None":
                where.setdefault(ip, t)
    for ing in scope.ingresses:
        for i in _dig(ing, "status", "loadBalancer", "ingress") or []:
            if i.get("ip"):
                where.setdefault(i["ip"], f"Ingress/{_meta(ing).get('name', '')}")
    envs = tuple((a, where.get(a, "unknown")) for a in answer.addresses)
    return replace(answer, environments=envs)


def environment_summary(answer: DnsAnswer) -> str:
    """`green (3)` or `blue (2), unknown (1)`."""
    counts: dict[str, int] = {}
    for _, env in answer.environments:
        counts[env] = counts.get(env, 0) + 1
    return ", ".join(f"{clean_line(e)} ({n})" for e, n in counts.items()) or "-"
