"""The HTTP client for one API server: one pooled httpx.AsyncClient, plain dicts out, typed errors."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any, AsyncIterator, Mapping

import httpx
import orjson

from tui import __version__
from tui.kube.config import KubeTarget
from tui.textsafe import clean_ident, clean_line

USER_AGENT = f"lookout/{__version__}"
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 30.0  # read timeout of ordinary requests; streams have none unless asked


class KubeError(Exception):
    """Base of the errors KubeClient raises."""


class ApiError(KubeError):
    """The API server answered with an error status; built from its Status body when there is one."""

    def __init__(self, status: int, reason: str, message: str, path: str, body: dict | None = None):
        self.status = status
        self.reason = reason  # Status.reason ("NotFound", "Forbidden", "Expired", ...) or the HTTP phrase
        self.message = message
        self.path = path
        self.body = body
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason} ({path})")

    @classmethod
    def from_response(cls, status: int, content: bytes, path: str, phrase: str = "") -> "ApiError":
        body = None
        try:
            parsed = orjson.loads(content) if content else None
            if isinstance(parsed, dict):
                body = parsed
        except orjson.JSONDecodeError:
            pass
        if body is not None and body.get("kind") == "Status":
            reason = body.get("reason") or phrase or "Error"
            message = body.get("message") or ""
            code = body.get("code")
            status = code if isinstance(code, int) and 100 <= code <= 599 else status
        else:
            reason = phrase or "Error"
            message = content[:300].decode("utf-8", "replace").strip() if content else ""
        # a hostile or broken server's words: no escape sequence of theirs reaches a terminal through us
        return cls(status, clean_ident(str(reason))[:200], clean_line(str(message))[:2000], path, body)


class Unreachable(KubeError):
    """No HTTP answer from the server: refused, DNS, TLS, timeout, connection dropped mid-stream."""

    def __init__(self, server: str, detail: str):
        self.server = server
        self.detail = detail
        super().__init__(f"cannot reach the API server at {server}: {detail}")


def _detail(e: BaseException) -> str:
    text = str(e).strip()
    if not text and e.__cause__ is not None:
        text = str(e.__cause__).strip()
    if not text:
        text = type(e).__name__
    if isinstance(e, httpx.TimeoutException):
        text = f"timed out ({text})" if "timed out" not in text.lower() else text
    return clean_line(text.splitlines()[0]) if text else type(e).__name__


class KubeClient:
    """Requests to one KubeTarget. Create on the event loop that uses it; `aclose()` when done."""

    def __init__(self, target: KubeTarget, *, max_connections: int = 200, transport: Any = None):
        self.target = target
        self._max_connections = max_connections
        self._transport = transport
        self._cert = target.client_cert()
        self._http = self._build()
        self._old: list[httpx.AsyncClient] = []

    def _build(self) -> httpx.AsyncClient:
        kw: dict[str, Any] = {}
        if self._transport is not None:
            kw["transport"] = self._transport
        elif self.target.proxy_url:
            kw["proxy"] = self.target.proxy_url
        # HTTPS_PROXY and friends apply as kubectl applies them: never to a loopback server (Go's rule)
        kw["trust_env"] = not self.target.proxy_url and not _is_loopback(self.target.server)
        return httpx.AsyncClient(
            base_url=self.target.server,
            verify=self.target.ssl_context(),
            http2=False,
            # each watch and log follow holds a connection for its whole life (HTTP/1.1)
            limits=httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=32,
                                keepalive_expiry=30.0),
            timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
            headers=[("User-Agent", USER_AGENT), ("Accept", "application/json"), *self.target.impersonate],
            follow_redirects=False,
            **kw,
        )

    async def aclose(self) -> None:
        for c in [*self._old, self._http]:
            await c.aclose()
        self._old.clear()

    async def __aenter__(self) -> "KubeClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # ---- auth --------------------------------------------------------------------------
    async def _authorization(self, force: bool = False) -> str | None:
        creds = self.target.credentials
        if force or creds.stale():
            value = await asyncio.to_thread(creds.header, force)  # exec plugins and file reads block
            cert = self.target.client_cert()
            if cert != self._cert:  # an exec plugin handed out a new client certificate
                self._cert = cert
                self._old.append(self._http)
                self._http = self._build()
            return value
        return creds.header()

    async def credentials_ready(self) -> None:
        """Run the exec plugin (or read the token file) now if it has to run, so a caller can bound the first
        request's time apart from a login."""
        if self.target.credentials.stale():
            await self._authorization()

    def _extensions(self) -> dict | None:
        if self.target.tls_server_name:
            return {"sni_hostname": self.target.tls_server_name}
        return None

    # ---- requests ------------------------------------------------------------------------
    async def _send(self, method: str, path: str, *, params: Mapping | None = None, content: bytes | None = None,
                    headers: dict | None = None, stream: bool = False, read_timeout: float | None = None
                    ) -> httpx.Response:
        retried = False
        force = False
        while True:
            auth = await self._authorization(force)
            h = dict(headers or ())
            if auth:
                h["Authorization"] = auth
            timeout = httpx.Timeout(read_timeout if stream else REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT)
            req = self._http.build_request(method, path, params=_params(params), content=content, headers=h,
                                           timeout=timeout, extensions=self._extensions())
            try:
                resp = await self._http.send(req, stream=stream)
            except httpx.TransportError as e:
                raise Unreachable(self.target.server, _detail(e)) from None
            if resp.status_code == 401 and not retried and self.target.credentials.refreshable:
                await resp.aclose()
                retried, force = True, True  # refresh the credential once, as kubectl does
                continue
            if resp.status_code >= 400:
                try:
                    body = await resp.aread()
                except httpx.TransportError:
                    body = b""
                finally:
                    await resp.aclose()
                raise ApiError.from_response(resp.status_code, body, path, resp.reason_phrase)
            return resp

    async def get_json(self, path: str, params: Mapping | None = None) -> dict:
        resp = await self._send("GET", path, params=params)
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise ApiError(resp.status_code, "BadResponse", "the server's answer is not JSON", path) from None

    async def get_text(self, path: str, params: Mapping | None = None) -> str:
        resp = await self._send("GET", path, params=params, headers={"Accept": "*/*"})
        return resp.text

    async def request(self, method: str, path: str, json: Any = None, content_type: str | None = None,
                      params: Mapping | None = None) -> dict:
        """Mutations (PATCH/POST/PUT/DELETE): `json` is encoded with orjson; the answer decoded."""
        content = orjson.dumps(json) if json is not None else None
        headers = {"Content-Type": content_type or "application/json"} if content is not None else None
        resp = await self._send(method.upper(), path, params=params, content=content, headers=headers)
        if not resp.content:
            return {}
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise ApiError(resp.status_code, "BadResponse", "the server's answer is not JSON", path) from None

    async def stream_batches(self, path: str, params: Mapping | None = None, *, read_timeout: float | None = None,
                             keep_empty: bool = False) -> AsyncIterator[list[bytes]]:
        """Complete lines, in batches of what arrived together (a watch's burst is one batch).

        `read_timeout`: give up (Unreachable) when nothing arrives for that long; None waits forever.
        `keep_empty`: keep blank lines (logs); watches skip them.
        """
        resp = await self._send("GET", path, params=params, stream=True, read_timeout=read_timeout,
                                headers={"Accept": "application/json, */*"})
        pending: list[bytes] = []  # pieces of a line that is still arriving
        try:
            async for chunk in resp.aiter_bytes():
                if b"\n" not in chunk:
                    if chunk:
                        pending.append(chunk)
                    continue
                if pending:
                    pending.append(chunk)
                    chunk = b"".join(pending)
                    pending = []
                lines = chunk.split(b"\n")
                tail = lines.pop()
                if tail:
                    pending.append(tail)
                if not keep_empty:
                    lines = [ln for ln in lines if ln and not ln.isspace()]
                if lines:
                    yield lines
            rest = b"".join(pending)
            if rest and not rest.isspace():
                yield [rest]
        except httpx.TransportError as e:
            raise Unreachable(self.target.server, _detail(e)) from None
        finally:
            await resp.aclose()

    async def stream_lines(self, path: str, params: Mapping | None = None, *, read_timeout: float | None = None,
                           keep_empty: bool = False) -> AsyncIterator[bytes]:
        """Raw lines of a watch or a log follow, without their newline."""
        async for batch in self.stream_batches(path, params, read_timeout=read_timeout, keep_empty=keep_empty):
            for line in batch:
                yield line


def _is_loopback(server: str) -> bool:
    host = httpx.URL(server).host
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _params(params: Mapping | None) -> dict | None:
    if not params:
        return None
    out = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else v
    return out
