"""The demo cluster's Kubernetes API server (aiohttp): discovery, list/get/watch, writes, logs, proxy, control API.

Control API (same bearer token as the Kubernetes API, JSON answers):

    GET  /lookout/v1/status        scenario status (from the simulation), resourceVersion, object and watcher counts
    POST /lookout/v1/pause         pause the scenario timeline
    POST /lookout/v1/resume        resume it
    POST /lookout/v1/step          advance it one step (while paused)
    POST /lookout/v1/speed?x=2     compress the timeline x times (x > 0)
    POST /lookout/v1/prometheus?url=U  the analysis controller asks this Prometheus (empty url: the traffic model)
    GET  /lookout/v1/counters      requests and bytes sent, per client (User-Agent) and per kind of request
                                   (discovery, openapi, list, get, watch, write, log, proxy, metrics, control)

Stored objects' JSON bytes come from the state (serialised once per change), so lists and watch
frames are concatenations, not re-encodes.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
import random
import time
import traceback
from typing import Any, Callable, Iterable
from urllib.parse import unquote

import orjson
import yaml
from aiohttp import web

from tui.demo import state as st
from tui.demo.patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from tui.demo import custom, managed, protobuf
from tui.demo.state import BadRequest, ClusterState, Gone, Kind, NotFound, StateError
from tui.kube.quantities import parse_quantity

log = logging.getLogger("lookout.demo.server")

SERVER_VERSIONS = {f"1.{m}": f"v1.{m}.{p}" for m, p in ((27, 16), (28, 15), (29, 14), (30, 10), (31, 6),
                                                        (32, 2), (33, 1))}
DEFAULT_SERVER_VERSION = "1.33"
# who the demo cluster's token authenticates as (named in 403 messages)
DEFAULT_USER = "system:serviceaccount:demo:lookout"

JSON = "application/json"
# what kind of request this is, for the counters
_KIND: Any = web.RequestKey("kind", str) if hasattr(web, "RequestKey") else "lookout.kind"
_TABLE_MARK = "as=table"


class ApiError(StateError):
    """A Kubernetes Status error raised by the server itself."""

    def __init__(self, code: int, reason: str, message: str, *, details: dict | None = None,
                 headers: dict[str, str] | None = None, **kw):
        super().__init__(message, **kw)
        self.code = code
        self.reason = reason
        self._details = details
        self.headers = headers

    def details(self) -> dict | None:
        return self._details if self._details is not None else super().details()


def _status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
         "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


def _json_response(body: Any, status: int = 200) -> web.Response:
    raw = body if isinstance(body, (bytes, bytearray)) else orjson.dumps(body)
    return web.Response(body=raw, status=status, content_type=JSON)


def normalise_version(v: str | None) -> str:
    v = (v or DEFAULT_SERVER_VERSION).lstrip("v")
    parts = v.split(".")
    mm = ".".join(parts[:2])
    if mm not in SERVER_VERSIONS:
        raise ValueError(f"server version {v!r} is not one of {', '.join(SERVER_VERSIONS)}")
    return mm


def _opt(mod: str, name: str) -> Callable | None:
    """A function from a sibling module that may not exist yet (openapi, tables)."""
    try:
        m = __import__(f"tui.demo.{mod}", fromlist=[name])
    except ImportError:
        return None
    return getattr(m, name, None)


class Counters:
    def __init__(self) -> None:
        self.by_client: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.started = time.time()

    MAX_CLIENTS = 200

    def add(self, client: str, kind: str, requests: int = 0, nbytes: int = 0) -> None:
        client = client[:160]
        if client not in self.by_client and len(self.by_client) >= self.MAX_CLIENTS:
            client = "(other clients)"  # bounded: a client inventing User-Agents cannot grow this forever
        c = self.by_client[client]
        k = self.by_kind[kind]
        c["requests"] += requests
        c["bytes"] += nbytes
        k["requests"] += requests
        k["bytes"] += nbytes

    def as_dict(self) -> dict:
        return {"since": self.started,
                "by_client": {c: dict(v) for c, v in self.by_client.items()},
                "by_kind": {c: dict(v) for c, v in self.by_kind.items()},
                "total": {"requests": sum(v["requests"] for v in self.by_kind.values()),
                          "bytes": sum(v["bytes"] for v in self.by_kind.values())}}


class _Req:
    """One resource request, parsed from the path."""

    __slots__ = ("res", "kind", "store", "namespace", "name", "sub", "rest", "port", "watch_path")

    def __init__(self, res, kind: Kind, namespace, name, sub, rest, port=None, watch_path=False):
        self.res = res
        self.kind = kind
        self.store = kind.store or res  # where the objects live (another version of a CRD, for a view)
        self.namespace = namespace
        self.name = name
        self.sub = sub
        self.rest = rest
        self.port = port
        self.watch_path = watch_path


class ApiServer:
    def __init__(self, state: ClusterState, *, token: str, sim: Any = None, server_version: str | None = None,
                 bookmark_interval: float = 10.0, default_watch_timeout: float = 1800.0,
                 forbidden: Iterable[str] = (), user: str = DEFAULT_USER):
        self.state = state
        # resource keys (KINDS keys, e.g. "events", "events.events.k8s.io", or "pods/log" for a subresource)
        # every request on which gets 403 Forbidden, as RBAC without a rule for it would give
        self.forbidden: set[str] = set(forbidden)
        self.user = user
        self.stopping = False
        self._follows: set[asyncio.Task] = set()  # handlers streaming `logs -f`, ended by begin_shutdown
        self.token = token
        self.sim = sim
        self.version = normalise_version(server_version)
        self.bookmark_interval = bookmark_interval
        self.default_watch_timeout = default_watch_timeout
        self.counters = Counters()
        self.active_streams = 0
        # Impersonate-* headers of the latest requests that carried any, in arrival order (tests check that
        # a client impersonates as kubectl does); bounded
        self.impersonation: collections.deque[list[tuple[str, str]]] = collections.deque(maxlen=100)

    def begin_shutdown(self) -> None:
        """Refuse new watches and log follows (429, as kube-apiserver answers while it shuts down) and end
        the open ones, so the HTTP runner's cleanup does not wait out its shutdown timeout."""
        self.stopping = True
        for watchers in list(self.state._watchers.values()):
            for w in list(watchers):
                w.close()
        for t in list(self._follows):
            t.cancel()

    def _refuse_if_stopping(self) -> None:
        if self.stopping:
            raise ApiError(429, "TooManyRequests", "The apiserver is shutting down, please try again later.",
                           details={"retryAfterSeconds": 1}, headers={"Retry-After": "1", "Connection": "close"})

    # ------------------------------------------------------------------ application
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        ua = request.headers.get("User-Agent", "-")
        request[_KIND] = "other"
        imp = [(k, v) for k, v in request.headers.items() if k.lower().startswith("impersonate-")]
        if imp:
            self.impersonation.append(imp)
        try:
            if not self._authorized(request) and request.path not in (
                    "/healthz", "/livez", "/readyz"):
                resp = _json_response(_status(401, "Unauthorized", "Unauthorized"), 401)
                request[_KIND] = "unauthorized"
            else:
                resp = await handler(request)
        except StateError as e:
            resp = _json_response(e.status(), e.code)
            if getattr(e, "headers", None):
                resp.headers.update(e.headers)
        except web.HTTPException:
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as e:  # never a traceback to the client; a 500 Status and a log line
            log.error("demo api server: %s %s failed:\n%s", request.method, request.path_qs, traceback.format_exc())
            resp = _json_response(_status(500, "InternalError", f"Internal error occurred: {e!r}"), 500)
        n = 0
        if isinstance(resp, web.Response):  # streams count their bytes as they write them
            body = resp.body
            n = len(body) if isinstance(body, (bytes, bytearray)) else (resp.content_length or 0)
        self.counters.add(ua, request[_KIND], 1, n)
        return resp

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, tok = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(tok.strip().encode(), self.token.encode())

    def _count_stream(self, request: web.Request, n: int) -> None:
        self.counters.add(request.headers.get("User-Agent", "-"), request[_KIND], 0, n)

    # ------------------------------------------------------------------ routing
    async def _dispatch(self, request: web.Request):
        path = request.path
        parts = [p for p in path.split("/") if p]
        if not parts:
            request[_KIND] = "discovery"
            return _json_response({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2",
                                             "/openapi/v3", "/readyz", "/version"]})
        head = parts[0]
        if head in ("healthz", "livez", "readyz"):
            request[_KIND] = "discovery"
            return web.Response(text="ok", content_type="text/plain")
        if head == "version" and len(parts) == 1:
            request[_KIND] = "discovery"
            return _json_response(self.version_info())
        if head == "openapi":
            request[_KIND] = "openapi"
            return await self._openapi(request, parts[1:])
        if head == "lookout":
            request[_KIND] = "control"
            return await self._control(request, parts[1:])
        if head in ("api", "apis") and len(parts) == 1:
            agg = _aggregated_version(request.headers.get("Accept", ""))
            if agg is not None:
                request[_KIND] = "discovery"
                return web.Response(body=orjson.dumps(self.aggregated_discovery(core=head == "api", version=agg)),
                                    headers={"Content-Type": f"application/json;g=apidiscovery.k8s.io;v={agg};"
                                                             "as=APIGroupDiscoveryList"})
        if head == "api":
            if len(parts) == 1:
                request[_KIND] = "discovery"
                return _json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{request.url.port or 443}"}]})
            if parts[1] != "v1":
                raise self._not_found()
            group, version, rest = "", "v1", parts[2:]
        elif head == "apis":
            if len(parts) == 1:
                request[_KIND] = "discovery"
                return _json_response(self.group_list())
            if len(parts) == 2:
                request[_KIND] = "discovery"
                g = self.group_info(parts[1])
                if g is None:
                    raise self._not_found()
                return _json_response(dict(g, kind="APIGroup", apiVersion="v1"))
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise self._not_found()
        if not rest:
            request[_KIND] = "discovery"
            rl = self.resource_list(group, version)
            if rl is None:
                raise self._not_found()
            return _json_response(rl)
        req = self._parse_resource_path(group, version, [unquote(p) for p in rest])
        return await self._resource(request, req)

    @staticmethod
    def _not_found(msg: str = "the server could not find the requested resource") -> ApiError:
        return ApiError(404, "NotFound", msg)

    def _parse_resource_path(self, group: str, version: str, rest: list[str]) -> _Req:
        watch_path = False
        if rest[0] == "watch":
            watch_path = True
            rest = rest[1:]
            if not rest:
                raise self._not_found()
        namespace = None
        routes = self.state.routes
        if rest[0] == "namespaces" and len(rest) >= 3 and (group, version, rest[2]) in routes:
            namespace, rest = rest[1], rest[2:]
        plural = rest[0]
        res = routes.get((group, version, plural))
        if res is None:
            raise self._not_found()
        kind = self.state.kinds[res]
        if namespace is not None and not kind.namespaced:
            raise self._not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        tail = "/".join(rest[3:])
        port = None
        if sub == "proxy" and name and ":" in name:
            name, port = name.rsplit(":", 1)
        if sub is not None and sub not in kind.subresources:
            raise self._not_found()
        if sub not in (None, "proxy") and tail:
            raise self._not_found()
        return _Req(res, kind, namespace, name, sub, tail, port, watch_path)

    # ------------------------------------------------------------------ discovery
    def version_info(self) -> dict:
        git = SERVER_VERSIONS[self.version]
        major, minor = self.version.split(".")
        return {"major": major, "minor": minor, "gitVersion": git, "gitCommit": "0" * 40,
                "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4",
                "compiler": "gc", "platform": "linux/amd64", "emulationMajor": major, "emulationMinor": minor,
                "minCompatibilityMajor": major, "minCompatibilityMinor": minor}

    def _groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for _key, k in self.state.served():
            if k.group:
                vs = groups.setdefault(k.group, [])
                if k.version not in vs:
                    vs.append(k.version)
        for g, vs in groups.items():
            vs.sort(key=st.version_priority)  # the first is the preferred version, as kube-apiserver orders them
        return groups

    def group_info(self, group: str) -> dict | None:
        vs = self._groups().get(group)
        if not vs:
            return None
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in vs]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    def group_list(self) -> dict:
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [self.group_info(g) for g in self._groups()]}

    def aggregated_discovery(self, *, core: bool, version: str = "v2") -> dict:
        """/api or /apis as one APIGroupDiscoveryList (apidiscovery.k8s.io v2 or v2beta1), which kubectl asks
        for first: every group, version and resource in one answer."""
        groups = {"": ["v1"]} if core else self._groups()
        items = []
        for g, versions in groups.items():
            vs = []
            for v in versions:
                rl = self.resource_list(g, v)
                if rl is None:
                    continue
                resources, subs = [], {}
                for r in rl["resources"]:
                    if "/" in r["name"]:
                        base, sub = r["name"].split("/", 1)
                        sd = {"subresource": sub, "verbs": r["verbs"]}
                        if sub != "log":
                            sd["responseKind"] = {"group": r.get("group", g), "version": r.get("version", v),
                                                  "kind": r["kind"]}
                        subs.setdefault(base, []).append(sd)
                        continue
                    d = {"resource": r["name"], "responseKind": {"group": g, "version": v, "kind": r["kind"]},
                         "scope": "Namespaced" if r["namespaced"] else "Cluster",
                         "singularResource": r["singularName"], "verbs": r["verbs"]}
                    for f in ("shortNames", "categories"):
                        if r.get(f):
                            d[f] = r[f]
                    resources.append(d)
                for d in resources:
                    if d["resource"] in subs:
                        d["subresources"] = subs[d["resource"]]
                vs.append({"version": v, "resources": resources, "freshness": "Current"})
            if vs:
                items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": vs})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
                "metadata": {}, "items": items}

    def resource_list(self, group: str, version: str) -> dict | None:
        kinds = [k for _key, k in self.state.served() if k.group == group and k.version == version]
        if not kinds:
            return None
        out = []
        for k in kinds:
            r = {"name": k.plural, "singularName": k.singular, "namespaced": k.namespaced, "kind": k.kind,
                 "verbs": list(k.verbs)}
            if k.short_names:
                r["shortNames"] = list(k.short_names)
            if k.categories:
                r["categories"] = list(k.categories)
            out.append(r)
            for sub in k.subresources:
                if sub == "status":
                    out.append({"name": f"{k.plural}/status", "singularName": "", "namespaced": k.namespaced,
                                "kind": k.kind, "verbs": ["get", "patch", "update"]})
                elif sub == "scale":
                    out.append({"name": f"{k.plural}/scale", "singularName": "", "namespaced": k.namespaced,
                                "group": "autoscaling", "version": "v1", "kind": "Scale",
                                "verbs": ["get", "patch", "update"]})
                elif sub == "log":
                    out.append({"name": f"{k.plural}/log", "singularName": "", "namespaced": True,
                                "kind": "Pod", "verbs": ["get"]})
                elif sub == "proxy":
                    out.append({"name": f"{k.plural}/proxy", "singularName": "", "namespaced": k.namespaced,
                                "kind": f"{k.kind}ProxyOptions",
                                "verbs": ["create", "delete", "get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group
                else version, "resources": out}

    async def _openapi(self, request: web.Request, parts: list[str]):
        # generation takes ~1 s the first time (then cached): keep it off the event loop
        if parts == ["v2"]:
            fn = _opt("openapi", "openapi_v2_response")
            if fn is not None:
                body, ctype = await asyncio.to_thread(fn, request.headers.get("Accept"))
                return web.Response(body=body, headers={"Content-Type": ctype})
            fn = _opt("openapi", "openapi_v2_bytes")
            if fn is None:
                raise self._not_found()
            return self._bytes_or_json(await asyncio.to_thread(fn))
        if parts and parts[0] == "v3":
            crd_docs = await self._crd_v3_docs()
            if len(parts) == 1:
                fn = _opt("openapi", "openapi_v3_index")
                if fn is None:
                    raise self._not_found()
                index = await asyncio.to_thread(fn, "/openapi/v3")
                index = {"paths": dict(index.get("paths") or {})}
                for key, (_body, h) in crd_docs.items():
                    index["paths"][key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={h}"}
                return _json_response(index)
            path = "/".join(parts[1:])
            if path in crd_docs:
                body, h = crd_docs[path]
                hashed = bool(request.query.get("hash"))
                return web.Response(body=body, headers={
                    "Content-Type": JSON, "ETag": f'"{h}"',
                    "Cache-Control": "public, immutable" if hashed else "no-cache, private"})
            fn = _opt("openapi", "openapi_v3_response")
            if fn is not None:
                r = await asyncio.to_thread(fn, path)
                if r is None:
                    raise self._not_found()
                body, ctype, etag = r
                hashed = bool(request.query.get("hash"))
                return web.Response(body=body, headers={
                    "Content-Type": ctype, "ETag": etag,
                    "Cache-Control": "public, immutable" if hashed else "no-cache, private"})
            fn = _opt("openapi", "openapi_v3_doc")
            if fn is None:
                raise self._not_found()
            doc = await asyncio.to_thread(fn, path)
            if doc is None:
                raise self._not_found()
            return self._bytes_or_json(doc)
        raise self._not_found()

    async def _crd_v3_docs(self) -> dict[str, tuple[bytes, str]]:
        """{"apis/<group>/<version>": (document, hash)} for every group version custom resources are served
        at, from their CRDs' schemas (replacing the built-in documents of argoproj.io and the routes)."""
        by_gv: dict[str, list[dict]] = {}
        sig: list = [self.state.kinds_generation]
        for _key, k in self.state.served():
            if not k.custom or not k.stored:
                continue
            v = self.state.crd_version(k)
            crd_name = k.crd or f"{k.plural}.{k.group}"
            crd = self.state.get("customresourcedefinitions", None, crd_name)
            sig.append((crd_name, k.version, (crd or {}).get("metadata", {}).get("resourceVersion")))
            by_gv.setdefault(f"apis/{k.group}/{k.version}", []).append({
                "group": k.group, "version": k.version, "kind": k.kind, "plural": k.plural,
                "namespaced": k.namespaced, "subresources": tuple(x for x in k.subresources if x in ("status", "scale")),
                "schema": ((v or {}).get("schema") or {}).get("openAPIV3Schema")})
        key = tuple(sorted(map(str, sig)))
        cached = getattr(self, "_crd_docs_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        git = SERVER_VERSIONS[self.version]

        def build() -> dict[str, tuple[bytes, str]]:
            out = {}
            for gv, resources in sorted(by_gv.items()):
                body = custom.v3_document(sorted(resources, key=lambda r: r["kind"]), git)
                out[gv] = (body, custom.doc_hash(body))
            return out

        docs = await asyncio.to_thread(build)
        self._crd_docs_cache = (key, docs)
        return docs

    @staticmethod
    def _bytes_or_json(doc) -> web.Response:
        if isinstance(doc, str):
            doc = doc.encode()
        return _json_response(doc)

    # ------------------------------------------------------------------ control API
    async def _control(self, request: web.Request, parts: list[str]):
        if parts[:1] != ["v1"] or len(parts) != 2:
            raise self._not_found()
        what, method, sim = parts[1], request.method, self.sim
        if what == "counters" and method == "GET":
            return _json_response(self.counters.as_dict())
        if what == "status" and method == "GET":
            return _json_response({
                "simulation": sim.status() if sim is not None and hasattr(sim, "status") else None,
                "resourceVersion": self.state.resource_version,
                "objects": {r: self.state.count(r) for r in self.state._objs},
                "watchers": self.state.watcher_count(), "streams": self.active_streams,
                "serverVersion": SERVER_VERSIONS[self.version]})
        if method != "POST":
            raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on /lookout/v1/{what}")
        if sim is None:
            raise ApiError(503, "ServiceUnavailable", "no simulation is running")
        if what == "pause":
            sim.pause()
        elif what == "resume":
            sim.resume()
        elif what == "step":
            r = sim.step()
            if asyncio.iscoroutine(r):
                await r
        elif what == "prometheus":
            url = request.query.get("url", "")
            if url and not url.startswith(("http://", "https://")):
                raise BadRequest("prometheus needs ?url=http://HOST:PORT (or an empty url to stop using it)")
            sim.prometheus_url = url or None
        elif what == "speed":
            try:
                x = float(request.query.get("x", ""))
                if not x > 0:
                    raise ValueError
            except ValueError:
                raise BadRequest("speed needs ?x=<number greater than 0>") from None
            sim.set_speed(x)
        else:
            raise self._not_found()
        return _json_response(sim.status() if hasattr(sim, "status") else {"ok": True})

    # ------------------------------------------------------------------ resources
    async def _resource(self, request: web.Request, req: _Req):
        m = request.method
        q = request.query
        if self.forbidden and (req.res in self.forbidden or (req.sub and f"{req.res}/{req.sub}" in self.forbidden)):
            raise self._forbidden(request, req)
        if req.sub == "log":
            request[_KIND] = "log"
            if m != "GET":
                raise self._method(m, req)
            return await self._logs(request, req)
        if req.sub == "proxy":
            request[_KIND] = "proxy"
            return await self._proxy(request, req)
        if req.res == "podmetrics" or req.res == "nodemetrics":
            request[_KIND] = "metrics"
            if m != "GET":
                raise self._method(m, req)
            return self._metrics(request, req)
        if req.name is None:
            if m == "GET":
                if req.watch_path or _truthy(q.get("watch")):
                    request[_KIND] = "watch"
                    return await self._watch(request, req)
                request[_KIND] = "list"
                return self._list(request, req)
            if m == "POST":
                request[_KIND] = "write"
                return await self._create(request, req)
            if m == "DELETE":
                request[_KIND] = "write"
                return await self._delete_collection(request, req)
            raise self._method(m, req)
        if m == "GET":
            if req.watch_path or _truthy(q.get("watch")):
                request[_KIND] = "watch"
                return await self._watch(request, req)
            request[_KIND] = "get"
            return self._get(request, req)
        request[_KIND] = "write"
        if m == "PUT":
            return await self._replace(request, req)
        if m == "PATCH":
            return await self._patch(request, req)
        if m == "DELETE":
            if req.sub:
                raise self._method(m, req)
            return await self._delete(request, req)
        raise self._method(m, req)

    def _forbidden(self, request: web.Request, req: _Req) -> ApiError:
        """403 as kube-apiserver's RBAC authorizer words it."""
        request[_KIND] = "forbidden"
        m, q = request.method, request.query
        if m == "GET":
            verb = ("watch" if req.watch_path or _truthy(q.get("watch")) else
                    "get" if req.name is not None and req.sub != "proxy" else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                    "DELETE": "delete" if req.name is not None else "deletecollection"}.get(m, m.lower())
        kind = req.kind
        resource = kind.plural + (f"/{req.sub}" if req.sub else "")
        qualified = kind.plural + (f".{kind.group}" if kind.group else "")  # "deployments.apps", "pods"
        what = f'{qualified} "{req.name}"' if req.name is not None else qualified
        where = (f'in the namespace "{req.namespace}"' if kind.namespaced and req.namespace
                 else "at the cluster scope")
        msg = (f'{what} is forbidden: User "{self.user}" cannot {verb} resource "{resource}" in API group '
               f'"{kind.group}" {where}')
        details: dict[str, Any] = {}
        if req.name is not None:
            details["name"] = req.name
        if kind.group:
            details["group"] = kind.group
        details["kind"] = kind.plural
        return ApiError(403, "Forbidden", msg, details=details)

    @staticmethod
    def _method(m: str, req: _Req) -> ApiError:
        return ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested "
                                                  f"resource", res=req.res, name=req.name)

    def _ns(self, req: _Req) -> str | None:
        return req.namespace if req.kind.namespaced else None

    def _require(self, req: _Req) -> dict:
        obj = self.state.get(req.store, self._ns(req), req.name)
        if obj is None:
            raise self._missing(req)
        return obj

    def _missing(self, req: _Req) -> NotFound:
        k = req.kind
        return NotFound(f'{k.plural}{"." + k.group if k.group else ""} "{req.name}" not found', res=req.res,
                        name=req.name)

    @staticmethod
    def _wants_table(request: web.Request) -> str | None:
        """The Table version the client asks for ("v1"/"v1beta1"), or None for plain JSON."""
        accept = request.headers.get("Accept", "")
        fn = _opt("tables", "wants_table")
        if fn is not None:
            return fn(accept)
        return "v1" if _TABLE_MARK in accept.lower().replace(" ", "") else None

    def _table_response(self, request: web.Request, req: _Req, objs: list[dict], list_meta: dict,
                        version: str) -> web.Response | None:
        fn = _opt("tables", "to_table")
        if fn is None:
            return None  # no server-side printing yet: plain JSON, kubectl prints NAME and AGE itself
        t = fn(req.res, objs, list_meta, include_object=request.query.get("includeObject") or "Metadata",
               api_version=f"meta.k8s.io/{version}", columns=self._printer(req))
        return web.Response(body=orjson.dumps(t), headers={
            "Content-Type": f"application/json;as=Table;v={version};g=meta.k8s.io"})

    # -- custom resources
    def _view(self, req: _Req, obj: Any) -> Any:
        """A stored object (dict or JSON bytes) as another served version of its CRD shows it (the demo's
        conversion is the None strategy: only apiVersion changes)."""
        if not req.kind.store or obj is None:
            return obj
        want = req.kind.api_version
        if isinstance(obj, (bytes, bytearray)):
            have = self.state.kinds[req.store].api_version if req.store in self.state.kinds else ""
            head = b'{"apiVersion":"' + have.encode() + b'"'
            if have and obj.startswith(head):
                return b'{"apiVersion":"' + want.encode() + b'"' + obj[len(head):]
            o = orjson.loads(obj)
            o["apiVersion"] = want
            return orjson.dumps(o)
        return dict(obj, apiVersion=want)

    def _check_schema(self, req: _Req, obj: dict) -> None:
        """422 Invalid when a custom resource breaks its CRD's openAPIV3Schema (types, enums, bounds, required)."""
        if not req.kind.custom or req.sub == "scale":
            return
        version = self.state.crd_version(req.kind)
        schema = ((version or {}).get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            return
        check = custom.SchemaCheck(schema).run(obj)
        check.prune()  # unknown fields are dropped (fieldValidation=Strict has refused them already)
        if check.errors:
            k = req.kind
            name = (obj.get("metadata") or {}).get("name") or req.name or ""
            msgs = [f"{f}: {m}" for f, m in check.errors]
            detail = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
            raise st.Invalid(f'{k.kind}.{k.group} "{name}" is invalid: {detail}', res=req.store, name=name,
                             causes=[{"reason": "FieldValueInvalid", "message": m, "field": f}
                                     for f, m in check.errors])

    def _printer(self, req: _Req) -> list | None:
        """The additionalPrinterColumns of a CRD-served kind (None: the built-in printers)."""
        if not req.kind.crd:
            return None
        cols = list(req.kind.printer_columns) or [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        return cols

    # -- list / get
    def _selectors(self, request: web.Request, res: str) -> tuple[str | None, str | None]:
        ls = request.query.get("labelSelector")
        fs = request.query.get("fieldSelector")
        if res == "events.events.k8s.io" and fs:
            fs = _events_v1_fields(fs)
        return ls, fs

    def _list(self, request: web.Request, req: _Req) -> web.Response:
        q = request.query
        limit = _int_param(q, "limit")
        ls, fs = self._selectors(request, req.res)
        res = "events" if req.res == "events.events.k8s.io" else req.store
        # validate the field selector against the kind the client asked for
        st.FieldSelector.parse(q.get("fieldSelector"), req.res)
        page = self.state.list_page(res, self._ns(req), ls, fs, limit or None, q.get("continue") or None)
        meta: dict[str, Any] = {"resourceVersion": str(page.resource_version)}
        if page.continue_token:
            meta["continue"] = page.continue_token
            if page.remaining is not None:
                meta["remainingItemCount"] = page.remaining
        raws, objs = page.items_raw, page.items
        if req.res == "events.events.k8s.io":
            objs = [st.event_to_v1(o) for o in objs]
            raws = [orjson.dumps(o) for o in objs]
        elif req.kind.store:
            raws = [self._view(req, r) for r in raws]
            objs = [self._view(req, o) for o in objs]
        tv = self._wants_table(request)
        if tv:
            resp = self._table_response(request, req, objs, meta, tv)
            if resp is not None:
                return resp
        head = orjson.dumps({"kind": req.kind.list_kind, "apiVersion": req.kind.api_version, "metadata": meta})
        body = b"".join((head[:-1], b',"items":[', b",".join(raws), b"]}"))
        return _json_response(body)

    def _get(self, request: web.Request, req: _Req) -> web.Response:
        if req.res == "events.events.k8s.io":
            obj = self.state.get("events", req.namespace, req.name)
            if obj is None:
                raise self._missing(req)
            obj = st.event_to_v1(obj)
            raw = orjson.dumps(obj)
        else:
            obj = self._require(req)
            if req.sub == "scale":
                return _json_response(self._scale_of(req, obj))
            raw = self._view(req, self.state.get_raw(req.store, self._ns(req), req.name))
        tv = self._wants_table(request)
        if tv:
            resp = self._table_response(request, req, [obj], {"resourceVersion":
                                                               obj["metadata"].get("resourceVersion", "")}, tv)
            if resp is not None:
                return resp
        return _json_response(raw)

    # -- watch
    async def _watch(self, request: web.Request, req: _Req):
        q = request.query
        res = "events" if req.res == "events.events.k8s.io" else req.store
        ls, fs = self._selectors(request, req.res)
        st.FieldSelector.parse(q.get("fieldSelector"), req.res)
        if req.name is not None:
            fs = f"metadata.name={req.name}" + (f",{fs}" if fs else "")
        timeout = _int_param(q, "timeoutSeconds")
        if timeout is None or timeout <= 0:
            timeout = self.default_watch_timeout * (1 + random.random())
        bookmarks = _truthy(q.get("allowWatchBookmarks"))
        initial = _truthy(q.get("sendInitialEvents"))
        rv = q.get("resourceVersion")
        since = 0 if initial else rv
        tv = self._wants_table(request)
        table = None
        if tv and _opt("tables", "to_table_row_event") is not None:
            table = {"version": tv, "first": True, "include": q.get("includeObject") or "Metadata"}
        convert = st.event_to_v1 if req.res == "events.events.k8s.io" else None
        if req.kind.store:
            convert = lambda o: self._view(req, o)  # noqa: E731
        self._refuse_if_stopping()
        resp = web.StreamResponse(status=200, headers={"Content-Type": JSON, "Cache-Control": "no-cache, private"})
        try:
            watch = self.state.watch(res, self._ns(req), since, ls, fs)
        except Gone as e:
            await resp.prepare(request)
            frame = orjson.dumps({"type": "ERROR", "object": _status(410, "Expired", e.message)}) + b"\n"
            await resp.write(frame)
            self._count_stream(request, len(frame))
            await resp.write_eof()
            return resp
        self.active_streams += 1
        try:
            await resp.prepare(request)
            await self._pump(request, resp, req, watch, timeout, bookmarks, initial, table, convert)
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # headers are sent: end the stream (the client re-watches) and say why in the log
            log.error("demo api server: watch %s failed:\n%s", request.path_qs, traceback.format_exc())
        finally:
            watch.close()
            self.active_streams -= 1
        return resp

    async def _pump(self, request, resp, req, watch, timeout, bookmarks, initial, table, convert) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_bookmark = loop.time() + self.bookmark_interval
        api_version, kind = req.kind.api_version, req.kind.kind
        if initial:
            # send the synthetic ADDED events, then the bookmark that marks their end
            buf = []
            while watch._pending:
                buf.append(self._frame(watch._pending.popleft(), req, table, convert))
            buf.append(orjson.dumps({"type": "BOOKMARK", "object": {
                "kind": kind, "apiVersion": api_version, "metadata": {
                    "resourceVersion": str(self.state.resource_version),
                    "annotations": {"k8s.io/initial-events-end": "true"}}}}) + b"\n")
            data = b"".join(buf)
            await resp.write(data)
            self._count_stream(request, len(data))
        transport = request.transport
        while True:
            now = loop.time()
            if now >= deadline:
                break
            wait = min(deadline - now, (next_bookmark - now) if bookmarks else 2.0, 2.0)
            try:
                ev = await watch.next_event(max(wait, 0.0))
            except StopAsyncIteration:
                break  # closed: the client was too slow; it resumes from its last resourceVersion
            if ev is None:
                if transport is None or transport.is_closing():
                    break
                if bookmarks and loop.time() >= next_bookmark:
                    frame = orjson.dumps({"type": "BOOKMARK", "object": {
                        "kind": kind, "apiVersion": api_version,
                        "metadata": {"resourceVersion": str(self.state.resource_version)}}}) + b"\n"
                    await resp.write(frame)
                    self._count_stream(request, len(frame))
                    next_bookmark = loop.time() + self.bookmark_interval
                continue
            buf = [self._frame(ev, req, table, convert)]
            size = len(buf[0])
            while size < 256 * 1024 and watch.pending():
                try:
                    nxt = await watch.next_event(0)
                except StopAsyncIteration:
                    break
                if nxt is None:
                    break
                f = self._frame(nxt, req, table, convert)
                buf.append(f)
                size += len(f)
            data = b"".join(buf)
            await resp.write(data)
            self._count_stream(request, len(data))
            if bookmarks:
                next_bookmark = loop.time() + self.bookmark_interval

    def _frame(self, ev: st.WatchEvent, req: _Req, table: dict | None, convert) -> bytes:
        if convert is None and not table:
            return ev.frame()
        obj = ev.obj
        if convert is not None:
            obj = convert(obj)
        if table:
            fn = _opt("tables", "to_table_row_event")
            frame = fn(req.res, ev.type, obj, include_headers=table["first"], include_object=table["include"],
                       api_version=f"meta.k8s.io/{table['version']}", columns=self._printer(req))
            table["first"] = False  # column definitions go with the first event only, as kube-apiserver does
            return orjson.dumps(frame) + b"\n"
        return orjson.dumps({"type": ev.type, "object": obj}) + b"\n"

    # -- writes
    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw.strip():
            raise BadRequest("the body of the request was in an unknown format - accepted media types include: "
                             "application/json, application/yaml")
        ctype = request.headers.get("Content-Type", JSON).split(";")[0].strip().lower()
        if ctype == protobuf.CONTENT_TYPE:
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as e:
                raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: "
                               f"{e}") from None
        try:
            if ctype.endswith("yaml"):
                return yaml.safe_load(raw)
            return orjson.loads(raw)
        except (orjson.JSONDecodeError, yaml.YAMLError) as e:
            try:  # some clients send JSON with a YAML type or the other way round
                return yaml.safe_load(raw)
            except yaml.YAMLError:
                raise BadRequest(f"couldn't get version/kind; json parse error: {e}") from None

    def _check_obj(self, req: _Req, obj: Any, *, for_name: bool) -> dict:
        if not isinstance(obj, dict):
            raise BadRequest("the body of the request must be a JSON object")
        k = req.kind
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if av and av != k.api_version:
            raise BadRequest(f"the API version in the data ({av}) does not match the expected API version "
                             f"({k.api_version})")
        if kind and kind != k.kind:
            raise BadRequest(f"the kind in the data ({kind}) does not match the expected kind ({k.kind})")
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise BadRequest("metadata must be an object")
        if k.namespaced:
            ns = meta.get("namespace")
            if ns and req.namespace and ns != req.namespace:
                raise BadRequest("the namespace of the provided object does not match the namespace sent on "
                                 "the request")
            meta["namespace"] = req.namespace or ns or "default"
        if for_name and req.name is not None:
            if meta.get("name") and meta["name"] != req.name:
                raise BadRequest(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                 f"({req.name})")
            meta["name"] = req.name
        return obj

    def _namespace_exists(self, req: _Req, obj: dict) -> None:
        if req.kind.namespaced:
            ns = obj["metadata"]["namespace"]
            if self.state.get("namespaces", None, ns) is None:
                raise NotFound(f'namespaces "{ns}" not found', res="namespaces", name=ns)

    async def _validate_fields(self, request: web.Request, req: _Req, obj: Any) -> list[str]:
        """fieldValidation=Strict: 400 on fields the kind's schema does not know; Warn: Warning headers."""
        mode = request.query.get("fieldValidation", "")
        if mode not in ("Strict", "Warn") or not isinstance(obj, dict):
            return []
        k = req.kind
        if req.sub == "scale":
            return []
        if k.custom:
            schema = ((self.state.crd_version(k) or {}).get("schema") or {}).get("openAPIV3Schema")
            unknown = custom.SchemaCheck(schema).run(obj).unknown if isinstance(schema, dict) else []
        else:
            fn = _opt("openapi", "unknown_fields")
            if fn is None:
                return []
            unknown = await asyncio.to_thread(fn, _strip_directives(obj), k.group, k.version, k.kind)
        if not unknown:
            return []
        if mode == "Strict":
            fields = ", ".join(f'unknown field "{f}"' for f in unknown)
            raise BadRequest(f'{k.kind} in version "{k.version}" cannot be handled as a {k.kind}: strict decoding '
                             f"error: {fields}")
        return [f'299 - "unknown field \\"{f}\\""' for f in unknown]

    @staticmethod
    def _warn(resp: web.Response, warnings: list[str]) -> web.Response:
        for w in warnings:
            resp.headers.add("Warning", w)
        return resp

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        return "All" in request.query.getall("dryRun", [])

    async def _create(self, request: web.Request, req: _Req) -> web.Response:
        if not req.kind.stored or "create" not in req.kind.verbs:
            raise self._method(request.method, req)
        obj = self._check_obj(req, await self._body(request), for_name=False)
        warnings = await self._validate_fields(request, req, obj)
        self._namespace_exists(req, obj)
        if self._dry_run(request):
            return self._warn(_json_response(self._dry_create(req, obj), 201), warnings)
        self._check_schema(req, obj)
        self._record_manager(request, req, obj, None)
        created = self.state.create(obj, res=req.store, owned=True)
        return self._warn(_json_response(self._view(req, self.state.get_raw(
            req.store, self._ns(req), created["metadata"]["name"]) or created), 201), warnings)

    def _dry_create(self, req: _Req, obj: dict) -> dict:
        meta = obj["metadata"]
        if not meta.get("name"):
            meta["name"] = (meta.get("generateName") or "") + "dryrun"
        st.validate_name(req.res, meta["name"], req.kind)
        self._check_schema(req, obj)
        if self.state.get(req.store, meta.get("namespace"), meta["name"]) is not None:
            raise st.AlreadyExists(f'{req.kind.plural} "{meta["name"]}" already exists', res=req.res,
                                   name=meta["name"])
        obj["apiVersion"], obj["kind"] = req.kind.api_version, req.kind.kind
        meta.setdefault("uid", "00000000-0000-0000-0000-000000000000")
        meta.setdefault("creationTimestamp", st.now_rfc3339())
        st.apply_defaults(req.res, obj, self.state, None)
        st.drop_empty_maps(obj)
        return obj

    def _record_manager(self, request: web.Request, req: _Req, new: dict, cur: dict | None,
                        applied: dict | None = None) -> None:
        """metadata.managedFields for this write: the client's fieldManager (or program name) and operation."""
        managed.record(new, cur, manager=managed.manager_for(request.query.get("fieldManager"),
                                                             request.headers.get("User-Agent")),
                       operation="Apply" if applied is not None else "Update", api_version=req.kind.api_version,
                       now=st.now_rfc3339(), subresource=req.sub if req.sub == "status" else None, applied=applied)

    def _finish_write(self, request: web.Request, req: _Req, cur: dict, new: dict, expect_rv: str | None,
                      status: int = 200, applied: dict | None = None) -> web.Response:
        """Store `new` as the next version of `cur`, respecting the status subresource split."""
        if req.sub == "status":
            merged = st.clone(cur)
            merged["status"] = new.get("status")
            if merged["status"] is None:
                merged.pop("status")
            new = merged
        elif "status" in req.kind.subresources:
            # the main resource ignores status changes, as a real server does for kinds with /status
            if "status" in cur:
                new["status"] = cur["status"]
            else:
                new.pop("status", None)
        self._check_schema(req, new)
        if self._dry_run(request):
            st.apply_defaults(req.res, new, self.state, cur)
            st.drop_empty_maps(new)
            return _json_response(new, status)
        new.setdefault("metadata", {})
        new["metadata"]["name"] = req.name
        if req.kind.namespaced:
            new["metadata"]["namespace"] = req.namespace
        self._record_manager(request, req, new, cur, applied)
        out = self.state.update(new, expect_rv=expect_rv, res=req.store)
        return _json_response(self._view(req, self.state.get_raw(req.store, self._ns(req), req.name) or out),
                              status)

    async def _replace(self, request: web.Request, req: _Req) -> web.Response:
        if not req.kind.stored:
            raise self._method(request.method, req)
        body = await self._body(request)
        if req.sub == "scale":
            return self._write_scale(request, req, body)
        obj = self._check_obj(req, body, for_name=True)
        warnings = await self._validate_fields(request, req, obj)
        cur = self._require(req)
        st.validate_name(req.res, req.name, req.kind)
        return self._warn(self._finish_write(request, req, cur, obj, obj["metadata"].get("resourceVersion")),
                          warnings)

    async def _patch(self, request: web.Request, req: _Req) -> web.Response:
        if not req.kind.stored:
            raise self._method(request.method, req)
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                         "application/json-patch+json", "application/apply-patch+yaml",
                         "application/apply-patch+cbor"):
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                           "accepted media types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml")
        if ctype == "application/strategic-merge-patch+json" and req.kind.custom:
            raise ApiError(415, "UnsupportedMediaType", "strategic merge patch is not supported for custom "
                           "resources; use a JSON merge patch or a JSON patch")
        patch = await self._body(request)
        warnings = []
        if ctype != "application/json-patch+json":
            warnings = await self._validate_fields(request, req, patch)
        if req.sub == "scale":
            cur_obj = self._require(req)
            scale = self._scale_of(req, cur_obj)
            new_scale = self._apply_patch(ctype, scale, patch, req)
            return self._write_scale(request, req, new_scale)
        cur = self.state.get(req.store, self._ns(req), req.name)
        if cur is not None and req.kind.store:
            cur = self._view(req, cur)
        if cur is None:
            if ctype == "application/apply-patch+yaml" and req.sub is None:
                if not request.query.get("fieldManager"):
                    raise BadRequest("PATCH /apply requests require a fieldManager")
                obj = self._check_obj(req, patch, for_name=True)
                self._namespace_exists(req, obj)
                if self._dry_run(request):
                    return _json_response(self._dry_create(req, obj), 201)
                self._check_schema(req, obj)
                self._record_manager(request, req, obj, None, applied=st.clone(obj))
                created = self.state.create(obj, res=req.store, owned=True)  # (obj: parsed from this body)
                return self._warn(_json_response(self._view(req, created), 201), warnings)
            raise self._missing(req)
        if ctype == "application/apply-patch+yaml" and not request.query.get("fieldManager"):
            raise BadRequest("PATCH /apply requests require a fieldManager")
        if isinstance(patch, dict) and ctype != "application/json-patch+json":
            self._check_obj(req, dict(patch, metadata=dict(patch.get("metadata") or {})), for_name=True)
        new = self._apply_patch(ctype, st.clone(cur), patch, req)
        if not isinstance(new, dict):
            raise st.Invalid(f"the patch produced a {type(new).__name__}, not an object", res=req.res,
                             name=req.name)
        if new.get("apiVersion") != cur.get("apiVersion") or new.get("kind") != cur.get("kind"):
            raise st.Invalid("a patch cannot change apiVersion or kind", res=req.res, name=req.name)
        meta = new.get("metadata") or {}
        if meta.get("name") != req.name or (req.kind.namespaced and meta.get("namespace") != req.namespace):
            raise st.Invalid("a patch cannot change metadata.name or metadata.namespace", res=req.res,
                             name=req.name)
        if ctype == "application/json-patch+json":
            warnings = await self._validate_fields(request, req, new)
        expect = meta.get("resourceVersion")
        applied = patch if ctype == "application/apply-patch+yaml" and isinstance(patch, dict) else None
        return self._warn(self._finish_write(request, req, cur, new, expect, applied=applied), warnings)

    def _apply_patch(self, ctype: str, doc: Any, patch: Any, req: _Req) -> Any:
        try:
            if ctype == "application/json-patch+json":
                return json_patch(doc, patch)
            if not isinstance(patch, dict):
                raise BadRequest("the patch must be a JSON object")
            if ctype == "application/merge-patch+json":
                return merge_patch(doc, patch)
            if req.kind.custom:
                return merge_patch(doc, patch)
            return strategic_merge_patch(doc, patch)
        except PatchError as e:
            raise st.Invalid(f'{req.kind.kind} "{req.name}" is invalid: {e}', res=req.res, name=req.name,
                             causes=[{"reason": "FieldValueInvalid", "message": str(e)}]) from None

    # -- scale
    def _scale_of(self, req: _Req, obj: dict) -> dict:
        meta = obj["metadata"]
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        sel = status.get("selector")
        if not isinstance(sel, str):
            ml = ((spec.get("selector") or {}).get("matchLabels") or {})
            sel = ",".join(f"{k}={v}" for k, v in sorted(ml.items()))
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                             "resourceVersion": meta.get("resourceVersion"),
                             "creationTimestamp": meta.get("creationTimestamp")},
                "spec": {"replicas": spec.get("replicas", 1)},
                "status": {"replicas": status.get("replicas", 0), "selector": sel}}

    def _write_scale(self, request: web.Request, req: _Req, scale: Any) -> web.Response:
        if not isinstance(scale, dict) or not isinstance((scale.get("spec") or {}).get("replicas", 0), int):
            raise BadRequest("a Scale object with an integer spec.replicas is required")
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if replicas < 0:
            raise st.Invalid(f'Scale.autoscaling "{req.name}" is invalid: spec.replicas: Invalid value: '
                             f"{replicas}: must be greater than or equal to 0", res=req.res, name=req.name)
        cur = self._require(req)
        expect = (scale.get("metadata") or {}).get("resourceVersion")
        if expect and expect != cur["metadata"].get("resourceVersion"):
            raise st.Conflict(f'Operation cannot be fulfilled on {req.kind.plural}.{req.kind.group} '
                              f'"{req.name}": the object has been modified; please apply your changes to the '
                              "latest version and try again", res=req.res, name=req.name)
        if self._dry_run(request):
            return _json_response(dict(scale, spec={"replicas": replicas}))

        def set_replicas(o):
            o.setdefault("spec", {})["replicas"] = replicas

        new = self.state.mutate(req.store, self._ns(req), req.name, set_replicas)
        return _json_response(self._scale_of(req, new))

    # -- delete
    async def _delete_options(self, request: web.Request) -> dict:
        raw = await request.read()
        opts: dict = {}
        if raw.strip():
            try:
                opts = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise BadRequest(f"invalid DeleteOptions: {e}") from None
            if not isinstance(opts, dict):
                raise BadRequest("invalid DeleteOptions: not an object")
        q = request.query
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if "gracePeriodSeconds" in q:
            opts["gracePeriodSeconds"] = _int_param(q, "gracePeriodSeconds")
        if q.get("orphanDependents") == "true":
            opts["propagationPolicy"] = "Orphan"
        if opts.get("orphanDependents") is True:
            opts["propagationPolicy"] = "Orphan"
        if self._dry_run(request) or "All" in (opts.get("dryRun") or []):
            opts["dryRun"] = True
        return opts

    async def _delete(self, request: web.Request, req: _Req) -> web.Response:
        if not req.kind.stored:
            raise self._method(request.method, req)
        opts = await self._delete_options(request)
        cur = self._require(req)
        if opts.get("dryRun") is True:
            return _json_response(cur)
        pre = opts.get("preconditions") or {}
        gone = self.state.delete(req.store, self._ns(req), req.name,
                                 propagation=opts.get("propagationPolicy") or "Background",
                                 grace_period=opts.get("gracePeriodSeconds"),
                                 expect_rv=pre.get("resourceVersion"), expect_uid=pre.get("uid"))
        return _json_response(self._view(req, gone))

    async def _delete_collection(self, request: web.Request, req: _Req) -> web.Response:
        if not req.kind.stored:
            raise self._method(request.method, req)
        opts = await self._delete_options(request)
        ls, fs = self._selectors(request, req.res)
        objs, _ = self.state.list(req.store, self._ns(req), ls, fs)
        gone = []
        for o in list(objs):
            m = o["metadata"]
            if opts.get("dryRun") is True:
                gone.append(o)
                continue
            try:
                gone.append(self.state.delete(req.store, m.get("namespace"), m["name"],
                                              propagation=opts.get("propagationPolicy") or "Background",
                                              grace_period=opts.get("gracePeriodSeconds")))
            except NotFound:
                pass
        return _json_response({"kind": req.kind.list_kind, "apiVersion": req.kind.api_version,
                               "metadata": {"resourceVersion": str(self.state.resource_version)}, "items": gone})

    # -- logs, proxy, metrics
    async def _logs(self, request: web.Request, req: _Req):
        pod = self._require(req)
        q = request.query
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
        container = q.get("container")
        if not container:
            default = ((pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container"))
            if default:
                container = default
            elif len(containers) == 1:
                container = containers[0]
            else:
                raise BadRequest(f"a container name must be specified for pod {req.name}, choose one of: "
                                 f"[{' '.join(containers)}]" + (f" or one of the init containers: "
                                                               f"[{' '.join(init)}]" if init else ""))
        elif container not in containers and container not in init:
            raise BadRequest(f"container {container} is not valid for pod {req.name}")
        previous = _truthy(q.get("previous"))
        tail = _int_param(q, "tailLines")
        since = _int_param(q, "sinceSeconds")
        follow = _truthy(q.get("follow"))
        timestamps = _truthy(q.get("timestamps"))
        limit_bytes = _int_param(q, "limitBytes")
        sim = self.sim
        lines: list[str] = []
        try:
            if sim is not None and timestamps and hasattr(sim, "pod_log_entries"):
                lines = [f"{_rfc3339nano(ts)} {line}" for ts, line in
                         sim.pod_log_entries(req.namespace, req.name, container, previous, tail, since)]
            elif sim is not None and hasattr(sim, "pod_logs"):
                lines = sim.pod_logs(req.namespace, req.name, container, previous, tail, since) or []
        except ValueError as e:  # the simulation's words for "no such container / not started / no previous"
            raise BadRequest(str(e)) from None

        def fmt(line: str) -> bytes:
            line = line if line.endswith("\n") else line + "\n"
            if timestamps and not _has_timestamp(line):
                line = _rfc3339nano() + " " + line
            return line.encode("utf-8", "replace")

        body = b"".join(fmt(x) for x in lines)
        if limit_bytes is not None and limit_bytes > 0:
            body = body[:limit_bytes]
        if not follow or previous or sim is None or not hasattr(sim, "follow_logs"):
            return web.Response(body=body, content_type="text/plain", charset="utf-8")
        self._refuse_if_stopping()
        resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await resp.prepare(request)
        self.active_streams += 1
        sent = 0
        task = asyncio.current_task()
        if task is not None:
            self._follows.add(task)
        try:
            if body:
                await resp.write(body)
                sent += len(body)
            async for line in sim.follow_logs(req.namespace, req.name, container):
                data = fmt(line)
                await resp.write(data)
                sent += len(data)
                if limit_bytes and sent >= limit_bytes:
                    break
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # headers are sent: end the stream and say why in the log
            log.error("demo api server: log follow %s failed:\n%s", request.path_qs, traceback.format_exc())
        finally:
            self.active_streams -= 1
            self._count_stream(request, sent)
            self._follows.discard(task)
        return resp

    async def _proxy(self, request: web.Request, req: _Req):
        if req.res != "pods" or req.name is None:
            raise self._not_found()
        pod = self._require(req)
        if request.method != "GET":
            raise self._method(request.method, req)
        port = req.port
        if port is None:
            ports = [p.get("containerPort") for c in (pod.get("spec") or {}).get("containers") or []
                     for p in c.get("ports") or []]
            port = ports[0] if ports else 80
        path = req.rest.strip("/")
        text = None
        if path == "metrics" and self.sim is not None and hasattr(self.sim, "pod_metrics_text"):
            p: int | str = port
            if isinstance(p, str) and p.isdigit():
                p = int(p)
            text = self.sim.pod_metrics_text(req.namespace, req.name, p)
        elif path != "metrics":
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        if text is None:
            ip = (pod.get("status") or {}).get("podIP") or "10.0.0.1"
            return _json_response(_status(503, "ServiceUnavailable",
                                          f"error trying to reach service: dial tcp {ip}:{port}: connect: "
                                          "connection refused"), 503)
        return web.Response(text=text, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    def _metrics(self, request: web.Request, req: _Req) -> web.Response:
        sim = self.sim
        usage_fn = getattr(sim, "pod_usage", None) if sim is not None else None
        now = st.now_rfc3339()
        ls = request.query.get("labelSelector")
        if req.res == "podmetrics":
            pods, _ = self.state.list("pods", self._ns(req), ls, request.query.get("fieldSelector"))
            if req.name is not None:
                pods = [p for p in pods if p["metadata"]["name"] == req.name]
            items = []
            for p in pods:
                m = p["metadata"]
                usage = usage_fn(m.get("namespace"), m["name"]) if usage_fn else None
                if not usage:
                    continue
                items.append({"metadata": {"name": m["name"], "namespace": m.get("namespace"),
                                           "creationTimestamp": now, "labels": m.get("labels") or {}},
                              "timestamp": now, "window": "30s",
                              "containers": [{"name": c, "usage": u} for c, u in usage.items()]})
            kind = "PodMetrics"
        else:
            nodes, _ = self.state.list("nodes", None, ls)
            if req.name is not None:
                nodes = [n for n in nodes if n["metadata"]["name"] == req.name]
            pods, _ = self.state.list("pods")
            per_node: dict[str, list[float]] = {}
            for p in pods:
                node = (p.get("spec") or {}).get("nodeName")
                if not node or not usage_fn:
                    continue
                usage = usage_fn(p["metadata"].get("namespace"), p["metadata"]["name"]) or {}
                acc = per_node.setdefault(node, [0.0, 0.0])
                for u in usage.values():
                    acc[0] += parse_quantity(u.get("cpu")) or 0.0
                    acc[1] += parse_quantity(u.get("memory")) or 0.0
            items = []
            for n in nodes:
                cpu, mem = per_node.get(n["metadata"]["name"], [0.0, 0.0])
                items.append({"metadata": {"name": n["metadata"]["name"], "creationTimestamp": now,
                                           "labels": n["metadata"].get("labels") or {}},
                              "timestamp": now, "window": "30s",
                              "usage": {"cpu": f"{int(cpu * 1000) + 50}m",
                                        "memory": f"{int(mem / 1024) + 512 * 1024}Ki"}})
            kind = "NodeMetrics"
        api = "metrics.k8s.io/v1beta1"
        if req.name is not None:
            if not items:
                raise NotFound(f'{"podmetrics" if kind == "PodMetrics" else "nodemetrics"}.metrics.k8s.io '
                               f'"{req.name}" not found', res=req.res, name=req.name)
            return _json_response(dict(items[0], kind=kind, apiVersion=api))
        return _json_response({"kind": kind + "List", "apiVersion": api,
                               "metadata": {"resourceVersion": str(self.state.resource_version)}, "items": items})


# ------------------------------------------------------------------------------------------- helpers

def _aggregated_version(accept: str) -> str | None:
    """The apidiscovery.k8s.io version (v2, v2beta1) an Accept header asks for first, or None (plain)."""
    for part in accept.split(","):
        params = {}
        for p in part.split(";")[1:]:
            k, _, v = p.strip().partition("=")
            params[k] = v
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList" and \
                params.get("v") in ("v2", "v2beta1"):
            return params["v"]
    return None


def _truthy(v: str | None) -> bool:
    return v is not None and v.lower() in ("1", "true", "yes")


def _int_param(q, name: str) -> int | None:
    v = q.get(name)
    if v in (None, ""):
        return None
    try:
        return int(v)
    except ValueError:
        raise BadRequest(f"invalid value for {name}: {v!r} is not an integer") from None


def _strip_directives(obj: Any) -> Any:
    """A strategic merge patch without its `$patch`, `$retainKeys`, `$setElementOrder/...` directives."""
    if isinstance(obj, dict):
        return {k: _strip_directives(v) for k, v in obj.items() if not k.startswith("$")}
    if isinstance(obj, list):
        return [_strip_directives(v) for v in obj]
    return obj


def _events_v1_fields(fs: str) -> str:
    mapped = fs.replace("regarding.", "involvedObject.").replace("reportingController", "reportingComponent")
    return mapped


def _has_timestamp(line: str) -> bool:
    return len(line) > 20 and line[4] == "-" and line[10] == "T"


def _rfc3339nano(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d}Z"


