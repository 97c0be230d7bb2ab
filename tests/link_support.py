"""Broken links for tests: a TCP proxy that stops forwarding, a TLS server that never answers, kubeconfigs for them."""

from __future__ import annotations

import asyncio
import base64

import yaml


class StallingProxy:
    """A TCP proxy to 127.0.0.1:`upstream_port`. `stall()` holds every byte in both directions (open connections
    and new ones: the TCP connection stays up, nothing arrives: a silent link); `forward()` lets them through."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port: int | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> "StallingProxy":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stall(self) -> None:
        self._flowing.clear()

    def forward(self) -> None:
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            t = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            try:
                dst.close()
            except Exception:  # noqa: BLE001
                pass

    async def aclose(self) -> None:
        self._flowing.set()
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        for w in list(self._writers):
            try:
                w.close()
            except Exception:  # noqa: BLE001
                pass
        await asyncio.gather(*self._tasks, return_exceptions=True)


class SilentTlsServer:
    """Accepts connections, completes the TLS handshake with the demo cluster's certificate, and never answers."""

    def __init__(self, ssl_context):
        self.ssl_context = ssl_context
        self.port: int | None = None
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.connections = 0

    async def start(self) -> "SilentTlsServer":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while await reader.read(65536):
                pass  # read the request, say nothing
        except (OSError, asyncio.CancelledError):
            pass

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in self._writers:
            w.close()


def kubeconfig_via(kubeconfig_path: str, port: int, out_path: str) -> str:
    """A copy of the demo cluster's kubeconfig whose server is https://127.0.0.1:`port` (its certificate names
    127.0.0.1, so TLS verifies through a proxy on the same host)."""
    with open(kubeconfig_path) as f:
        cfg = yaml.safe_load(f)
    for c in cfg.get("clusters") or ():
        c["cluster"]["server"] = f"https://127.0.0.1:{port}"
    with open(out_path, "w") as f:
        yaml.safe_dump(cfg, f)
    return out_path


def silent_kubeconfig(ca_pem: bytes, port: int, out_path: str) -> str:
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "silent",
        "clusters": [{"name": "silent", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                      "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "silent", "context": {"cluster": "silent", "user": "u", "namespace": "demo"}}],
    }
    with open(out_path, "w") as f:
        yaml.safe_dump(cfg, f)
    return out_path
