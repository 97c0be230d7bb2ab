"""Starting and stopping the demo cluster: state, simulation, HTTPS API server, kubeconfig, persistence."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml
from aiohttp import web

from tui.demo import certs as _certs
from tui.demo.server import ApiServer, normalise_version
from tui.demo.state import ClusterState, StateError, write_snapshot

log = logging.getLogger("lookout.demo")

CONTEXT = "lookout-demo"
STATE_FILE = "state.json"
PORT_FILE = "port"
SAVE_EVERY = 30.0
BASE_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class DemoClusterError(Exception):
    """Why the demo cluster cannot start, in one sentence (a broken manifest names its file and line)."""


# ------------------------------------------------------------------------------------------ manifests

def load_manifest_dir(path: str) -> list[dict]:
    """Every document of every *.yaml/*.yml under `path` (sorted, recursive); errors name file and line."""
    if not os.path.isdir(path):
        raise DemoClusterError(f"manifests directory {path} does not exist")
    files = []
    for root, _dirs, names in os.walk(path):
        for n in names:
            if n.endswith((".yaml", ".yml")):
                files.append(os.path.join(root, n))
    docs: list[dict] = []
    for f in sorted(files):
        docs.extend(load_manifest_file(f))
    return docs


def load_manifest_file(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as e:
        raise DemoClusterError(f"{path}: cannot read: {e}") from None
    out: list[dict] = []
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else 0
            doc = loader.construct_document(node)
            if doc is None:
                continue
            if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
                items = doc["items"]
            else:
                items = [doc]
            for item in items:
                if not isinstance(item, dict):
                    raise DemoClusterError(f"{path}:{line}: a manifest must be a mapping, not {type(item).__name__}")
                if not item.get("apiVersion") or not item.get("kind"):
                    raise DemoClusterError(f"{path}:{line}: a manifest needs apiVersion and kind")
                if not (item.get("metadata") or {}).get("name") and not (item.get("metadata") or {}).get("generateName"):
                    raise DemoClusterError(f"{path}:{line}: {item['kind']} without metadata.name")
                item.setdefault("metadata", {}).setdefault("annotations", {})["lookout.dev/source"] = f"{path}:{line}"
                out.append(item)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise DemoClusterError(f"{where}: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise DemoClusterError(f"{path}: {e}") from None
    finally:
        loader.dispose()
    return out


def servable(state: ClusterState, docs: list[dict]) -> tuple[list[dict], list[dict], list[str]]:
    """(CRDs, the other objects the cluster serves once those CRDs are stored, warnings naming file and
    line of each object of a kind it cannot serve, which is left out). Call before storing the CRDs:
    a kind is servable if a built-in kind, a stored CRD or one of `docs`' CRDs serves it."""
    from tui.demo.state import crd_kinds  # noqa: PLC0415

    crds = [d for d in docs if d.get("apiVersion") == "apiextensions.k8s.io/v1"
            and d.get("kind") == "CustomResourceDefinition"]
    known = {(k.api_version, k.kind) for _key, k in state.served()}
    for crd in crds:
        known |= {(k.api_version, k.kind) for k in crd_kinds(crd, {}).values()}
    rest, warnings = [], []
    for d in docs:
        if any(d is c for c in crds):
            continue
        if (d.get("apiVersion"), d.get("kind")) in known:
            rest.append(d)
        else:
            src = (d.get("metadata") or {}).get("annotations", {}).get("lookout.dev/source", "?")
            warnings.append(f'{src}: skipped {d.get("kind")} {(d.get("metadata") or {}).get("name", "")}: '
                            f'no kind "{d.get("kind")}" in version "{d.get("apiVersion")}" is served '
                            "(apply its CustomResourceDefinition first)")
    return crds, rest, warnings


# ------------------------------------------------------------------------------------------ kubeconfig

def kubeconfig_yaml(url: str, ca_pem: bytes, token: str, namespace: str = "default") -> str:
    import base64
    cfg = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": url,
                                                   "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
    }
    return yaml.safe_dump(cfg, sort_keys=False)


# ------------------------------------------------------------------------------------------- running

@dataclass
class RunningCluster:
    url: str
    port: int
    kubeconfig_path: str
    token: str
    ca_pem: bytes
    state: ClusterState
    sim: Any
    server: ApiServer
    state_dir: str | None = None
    _runner: web.AppRunner | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _temp_kubeconfig: bool = False
    _stopped: bool = False
    _save_lock: threading.Lock = field(default_factory=threading.Lock)
    _saved_rv: int = -1
    dns: Any = None  # tui.demo.dnsserver.DemoDnsServer when the scenario has an external DNS name
    warnings: list[str] = field(default_factory=list)  # manifests left out (file:line and why)

    def save(self) -> None:
        if self.state_dir:
            self.write_saved(self.state.snapshot())

    def write_saved(self, snap: dict) -> None:
        """Write a snapshot unless a newer one is already on disk. Serialised: a periodic save still
        writing on its worker thread when stop() saves cannot land after, and put an older state back."""
        with self._save_lock:
            rv = int(snap.get("resource_version") or 0)
            if rv < self._saved_rv:
                return
            write_snapshot(os.path.join(self.state_dir, STATE_FILE), snap)
            self._saved_rv = rv

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.server.begin_shutdown()  # from now on no new watch or log follow holds the runner up
        if self.dns is not None:
            self.dns.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        if self.sim is not None:
            try:
                await self.sim.stop()
            except Exception:
                log.exception("demo simulation did not stop cleanly")
        # end watches opened while the simulation stopped (refused by now, but one may have been mid-handshake)
        self.server.begin_shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
        self.save()
        if self._temp_kubeconfig:
            try:
                os.unlink(self.kubeconfig_path)
            except OSError:
                pass


def _load_simulation():
    try:
        from tui.demo.sim import Simulation  # the scenario helper's module; absent = state only
    except ImportError as e:
        if getattr(e, "name", "") in ("tui.demo.sim",):
            return None
        raise
    return Simulation


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def start_demo_cluster(*, scenario: str = "healthy-canary", port: int = 0, speed: float = 1.0, seed: int = 1,
                             manifests_dir: str | None = None, state_dir: str | None = None,
                             kubeconfig_path: str | None = None, server_version: str | None = None,
                             pods: int | None = None, background_pods: int = 0, churn: float = 0.0,
                             simulate: bool = True, bookmark_interval: float = 10.0,
                             history: int = 10_000, forbidden: "set[str] | None" = None,
                             without_crds: "list[str] | tuple[str, ...]" = (),
                             clock: "Callable[[], float] | None" = None) -> RunningCluster:
    """Start the demo cluster on 127.0.0.1 and return once it serves and its kubeconfig is written.

    `simulate=False` (or no tui.demo.sim) runs the API server over the bare state: no scenario.
    `forbidden`: resource keys (e.g. {"events"}) the token may not read or write: 403 as RBAC gives it.
    `without_crds`: pre-installed CRD sets to leave out (tui.demo.custom.CRD_SETS: argo, flagger, ...).
    `clock`: the simulation's wall clock (tests pass a tui.demo.sim.ManualClock and move time with `sim.advance`).
    """
    try:
        version = normalise_version(server_version)
    except ValueError as e:
        raise DemoClusterError(str(e)) from None
    from tui.demo.state import KINDS  # noqa: PLC0415
    unknown = sorted(k for k in (forbidden or ()) if k.split("/", 1)[0] not in KINDS)
    if unknown:
        raise DemoClusterError(f"forbidden: unknown resource {', '.join(unknown)} (known: {', '.join(sorted(KINDS))})")
    docs = load_manifest_dir(manifests_dir) if manifests_dir else []
    if state_dir:
        state_dir = os.path.abspath(state_dir)
        os.makedirs(state_dir, exist_ok=True)
    creds = await asyncio.to_thread(_certs.load_or_generate, state_dir)

    restored = False
    state_path = os.path.join(state_dir, STATE_FILE) if state_dir else None
    if state_path and os.path.exists(state_path):
        try:
            state = ClusterState.load(state_path, history=history)
        except (OSError, ValueError) as e:
            raise DemoClusterError(f"{state_path}: cannot load the saved cluster: {e}") from None
        restored = True
    else:
        try:
            state = ClusterState(history=history, without_crds=without_crds or ())
        except ValueError as e:
            raise DemoClusterError(f"--without-crds: {e}") from None
    for ns in BASE_NAMESPACES:
        if state.get("namespaces", None, ns) is None:
            state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                          "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})

    sim = None
    warnings: list[str] = []
    Simulation = _load_simulation() if simulate else None
    if Simulation is not None:
        sim = Simulation(state, scenario=scenario, seed=seed, speed=speed, pods=pods,
                         background_pods=background_pods, churn=churn, **({"clock": clock} if clock else {}))
    try:
        try:
            from tui.demo import openapi as _openapi
            if hasattr(_openapi, "set_server_version"):
                from tui.demo.server import SERVER_VERSIONS
                _openapi.set_server_version(SERVER_VERSIONS[version])
            # No warm-up here: generating the documents takes ~0.8 s of CPU, which at start would slow
            # every first answer (Lookout's first list among them); kubectl's first request pays it instead.
        except ImportError:
            pass
        if sim is not None:
            # Seeding 10,000 pods allocates millions of long-lived, acyclic objects: with the cyclic GC on,
            # its collections cost 3/4 of the time. Off while seeding, then frozen out of later collections.
            gc_was_on = gc.isenabled()
            gc.disable()
            try:
                await sim.start()
            finally:
                if gc_was_on:
                    gc.enable()
                gc.freeze()
            if docs:
                crds, rest, warnings = servable(state, docs)
                try:
                    sim.load_manifests(crds)
                    sim.load_manifests(rest)
                except StateError as e:
                    raise DemoClusterError(f"{manifests_dir}: {e.message}") from None
        else:
            crds, rest, warnings = servable(state, docs)
            for d in crds + rest:
                try:
                    _create_or_replace(state, d)
                except StateError as e:
                    src = d["metadata"].get("annotations", {}).get("lookout.dev/source", manifests_dir)
                    raise DemoClusterError(f"{src}: {e.message}") from None

        server = ApiServer(state, token=creds.token, sim=sim, server_version=version,
                           bookmark_interval=bookmark_interval, forbidden=forbidden or ())
        if not port and state_dir and os.path.exists(os.path.join(state_dir, PORT_FILE)):
            try:
                saved = int(open(os.path.join(state_dir, PORT_FILE)).read().strip())
                if _port_free(saved):
                    port = saved
            except ValueError:
                pass
        runner = web.AppRunner(server.make_app(), handle_signals=False, access_log=None,
                               handler_cancellation=True, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=creds.server_ssl_context(), backlog=1024,
                           reuse_address=True)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise DemoClusterError(f"cannot listen on 127.0.0.1:{port}: {e.strerror or e}") from None
        actual = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    except BaseException:
        if sim is not None:
            try:
                await sim.stop()
            except Exception:
                pass
        raise
    url = f"https://127.0.0.1:{actual}"
    dns_server = None
    if sim is not None and getattr(getattr(sim, "scenario", None), "dns", None):
        from tui.demo.dnsserver import start_dns_server  # noqa: PLC0415
        try:
            dns_server = await start_dns_server(sim, state)
            sim.dns_server = dns_server.address
        except OSError as e:  # the API server still serves; only the external name goes unanswered
            log.warning("demo DNS server did not start: %s", e)

    temp = False
    if not kubeconfig_path:
        if state_dir:
            kubeconfig_path = os.path.join(state_dir, "kubeconfig")
        else:
            fd, kubeconfig_path = tempfile.mkstemp(prefix="lookout-demo-", suffix=".kubeconfig")
            os.close(fd)
            temp = True
    # the context's namespace is the scenario's, so `kubectl get pods` shows the story at once
    namespace = (getattr(sim, "namespace", None) or getattr(getattr(sim, "scenario", None), "namespace", None)
                 or "default")
    _certs.write_private(kubeconfig_path, kubeconfig_yaml(url, creds.ca_pem, creds.token, namespace).encode())
    if state_dir:
        _certs.write_private(os.path.join(state_dir, PORT_FILE), str(actual).encode())

    rc = RunningCluster(url=url, port=actual, kubeconfig_path=os.path.abspath(kubeconfig_path), token=creds.token,
                        ca_pem=creds.ca_pem, state=state, sim=sim, server=server, state_dir=state_dir,
                        _runner=runner, _temp_kubeconfig=temp, dns=dns_server, warnings=warnings)
    if state_dir:
        rc._tasks.append(asyncio.create_task(_save_periodically(rc)))
        rc.save()
    return rc


def _create_or_replace(state: ClusterState, doc: dict) -> None:
    res = state.resource_for(doc)
    meta = doc.get("metadata") or {}
    if state.get(res, meta.get("namespace") or "default", meta.get("name", "")) is not None:
        state.update(doc, res=res)
    else:
        state.create(doc, res=res)


async def _save_periodically(rc: RunningCluster) -> None:
    last = -1
    while True:
        await asyncio.sleep(SAVE_EVERY)
        if rc.state.resource_version != last:
            last = rc.state.resource_version
            try:
                snap = rc.state.snapshot()  # on the loop; encoding and writing on a worker thread
                await asyncio.to_thread(rc.write_saved, snap)
            except Exception:  # noqa: BLE001 - a failed periodic save is retried next time; stop() saves too
                log.exception("demo cluster: saving state failed")


# ------------------------------------------------------------------------------------------------ CLI

def _kwargs_from_namespace(ns: argparse.Namespace) -> dict:
    g = lambda n, d=None: getattr(ns, n, d)  # noqa: E731
    return dict(scenario=g("scenario", "healthy-canary") or "healthy-canary", port=g("port", 0) or 0,
                speed=g("speed", 1.0) or 1.0, seed=g("seed", 1) if g("seed") is not None else 1,
                manifests_dir=g("manifests"), state_dir=g("state_dir"), kubeconfig_path=g("write_kubeconfig"),
                server_version=g("server_version"), pods=g("pods"), background_pods=g("background_pods", 0) or 0,
                churn=g("churn", 0.0) or 0.0, without_crds=g("without_crds") or ())


def run_demo_cluster(ns: argparse.Namespace) -> int:
    """`lookout demo-cluster`: serve until SIGINT/SIGTERM. One line on stdout once ready; exit 0, or 4 with
    one line on stderr when it cannot start."""
    kwargs = _kwargs_from_namespace(ns)

    async def main() -> int:
        t0 = time.monotonic()
        try:
            rc = await start_demo_cluster(**kwargs)
        except DemoClusterError as e:
            print(f"lookout demo-cluster: {e}", file=sys.stderr)
            return 4
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        for w in rc.warnings:
            print(f"lookout demo-cluster: warning: {w}", file=sys.stderr, flush=True)
        n = rc.state.count("pods")
        print(f"demo cluster '{kwargs['scenario']}' listening on {rc.url} ({n} pods, ready in "
              f"{time.monotonic() - t0:.1f}s); try: KUBECONFIG={rc.kubeconfig_path} kubectl get pods", flush=True)
        try:
            await stop.wait()
        finally:
            await rc.stop()
        return 0

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 0


# ------------------------------------------------------------------------------------ background thread

class DemoClusterThread:
    """The demo cluster on its own event loop in a daemon thread, for `lookout demo`.

    `start()` blocks until the cluster serves (or raises why it could not); then `kubeconfig_path`,
    `url`, `token` and `port` are set. `stop()` stops it and joins the thread.
    """

    def __init__(self, **kwargs: Any):
        self.kwargs = kwargs
        self.cluster: RunningCluster | None = None
        self.kubeconfig_path: str | None = None
        self.url: str | None = None
        self.token: str | None = None
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout: float = 120.0) -> "DemoClusterThread":
        self._thread = threading.Thread(target=self._run, name="lookout-demo-cluster", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise DemoClusterError(f"the demo cluster was not ready after {timeout:.0f}s")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            self.cluster = await start_demo_cluster(**self.kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the starting thread
            self._error = e
            self._ready.set()
            return
        c = self.cluster
        self.kubeconfig_path, self.url, self.token, self.port = c.kubeconfig_path, c.url, c.token, c.port
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await c.stop()

    def call(self, fn, *args, timeout: float = 30.0, **kwargs):
        """Run fn(*args, **kwargs) on the cluster's event loop (where the state lives) and return its result;
        a coroutine function's result is awaited there."""
        async def run():
            r = fn(*args, **kwargs)
            if asyncio.iscoroutine(r):
                r = await r
            return r

        assert self._loop is not None, "start() first"
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
