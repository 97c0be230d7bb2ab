"""Odd and hostile kubeconfigs: servers that are not URLs, impersonation, SOCKS proxies, insecure+CA, YAML bombs,
names that break Kubernetes' rules, and client keys that must never stay on disk."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import struct
import subprocess
import sys
import time

import pytest
import yaml

from e2e_support import demo_cluster
from test_kube_config import _client_cert, ca, cfg, env, simple, write  # noqa: F401 (fixtures)
from tui.kube import config as kc
from tui.kube.client import KubeClient
from tui.kube.config import KubeConfigError, load_target


def lookout(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def demo_user_config(cluster, **user) -> dict:
    """The demo cluster's own kubeconfig with extra fields on its user."""
    with open(cluster.kubeconfig_path) as f:
        d = yaml.safe_load(f)
    d["users"][0]["user"].update(user)
    return d


# ---- servers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("server,words", [
    (5, "must be a URL"),
    ("not a url", "is not a URL"),
    ("ftp://k.example", "must be https://"),
    ("https://k.example:99999", "is not a URL"),
    ("https://5", "is not a URL"),
    ("https://k.example/x?y=1", "must not carry credentials, a query or a fragment"),
    ("https://k\x1b[2J.example", "is not a URL"),
])
def test_servers_that_are_not_urls_are_configuration_errors(tmp_path, env, server, words):
    d = simple(server=server)
    with pytest.raises(KubeConfigError, match="cluster 'c1'") as e:
        load_target(write(tmp_path / "kc", d))
    assert words in str(e.value) and "\x1b" not in str(e.value)


@pytest.mark.parametrize("server,expected", [
    ("k.example:6443", "https://k.example:6443"),
    ("https://10.0.0.1:6443/", "https://10.0.0.1:6443"),
    ("https://[::1]:6443", "https://[::1]:6443"),
    ("https://api.eks.amazonaws.com/prefix", "https://api.eks.amazonaws.com/prefix"),
])
def test_good_servers(tmp_path, env, server, expected):
    assert load_target(write(tmp_path / "kc", simple(server=server))).server == expected


def test_cli_exits_4_on_a_server_that_is_not_a_url_without_a_lookup(tmp_path, env):
    path = write(tmp_path / "kc", simple(server="not a url"))
    t = time.monotonic()
    for args in (("status",), ()):
        p = lookout(*args, "--kubeconfig", path, env={"HOME": str(tmp_path)})
        assert p.returncode == 4, p.stderr
        assert b"is not a URL" in p.stderr and p.stderr.count(b"\n") == 1
    assert time.monotonic() - t < 30


# ---- TLS -------------------------------------------------------------------------------------------

def test_insecure_skip_tls_verify_with_a_ca_is_refused_as_kubectl_does(tmp_path, env, ca):
    d = simple()
    d["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(ca.ca_pem).decode()
    with pytest.raises(KubeConfigError, match="insecure-skip-tls-verify together with a certificate authority"):
        load_target(write(tmp_path / "kc", d))
    d["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = False
    assert load_target(write(tmp_path / "kc2", d)).ca_pem


# ---- YAML bounds -----------------------------------------------------------------------------------

BOMB = """\
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_under_an_exec_plugin_with_cluster_info_is_refused(tmp_path, env):
    text = BOMB + yaml.safe_dump(simple(exec={"apiVersion": "client.authentication.k8s.io/v1",
                                              "command": "/bin/true", "provideClusterInfo": True}))
    text = text.replace("insecure-skip-tls-verify: true", "insecure-skip-tls-verify: true\n    extensions: [{name: client.authentication.k8s.io/exec, extension: *i}]")
    path = tmp_path / "kc"
    path.write_text(text)
    t = time.monotonic()
    with pytest.raises(KubeConfigError, match=r"expands to more than 1,000,000 values \(YAML aliases\?\)"):
        load_target(str(path))
    assert time.monotonic() - t < 2.0


def test_recursive_alias_and_oversized_files_are_refused(tmp_path, env, monkeypatch):
    (tmp_path / "rec").write_text("a: &a [1, *a]\n")
    with pytest.raises(KubeConfigError, match="refers to itself"):
        load_target(str(tmp_path / "rec"))
    monkeypatch.setattr(kc, "MAX_KUBECONFIG_BYTES", 1024)
    path = write(tmp_path / "big", simple(token="x" * 2000))
    with pytest.raises(KubeConfigError, match="larger than"):
        load_target(path)


# ---- names -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,rule", [
    (("-n", "../../x"), "-n/--namespace '../../x' is not a valid namespace name: it must be an RFC 1123 label"),
    (("-n", "$(id)"), "RFC 1123 label"),
    (("-n", "Shop"), "RFC 1123 label"),
    (("--app", "a b"), "--app 'a b' is neither a valid label value"),
    (("--app", "x" * 64 + "_"), "valid label value"),
    (("--context", "dev\x1b]2;pwned\x07"), "--context name 'dev\\x1b]2;pwned\\x07' contains control or invisible"),
    (("--context", "dev\u202e"), "contains control or invisible characters"),
])
@pytest.mark.parametrize("command", [(), ("status",)])
def test_names_checked_where_they_enter_exit_4_naming_the_rule(tmp_path, command, args, rule):
    p = lookout(*command, *args, env={"KUBECONFIG": str(tmp_path / "none")})
    err = p.stderr.decode()
    assert p.returncode == 4 and rule in err and err.count("\n") == 1, err
    assert "\x1b" not in err and "\u202e" not in err


def test_namespace_of_a_context_is_checked_and_eks_arn_contexts_work(tmp_path, env):
    arn = "arn:aws:eks:eu-west-1:123456789012:cluster/prod"
    d = cfg(contexts=[(arn, {"cluster": "c1", "user": "u1", "namespace": "shop"}),
                      ("bad", {"cluster": "c1", "user": "u1", "namespace": "../etc"})],
            clusters=[("c1", {"server": "https://k.example"})], users=[("u1", {"token": "t"})], current=arn)
    path = write(tmp_path / "kc", d)
    assert load_target(path).context == arn
    with pytest.raises(KubeConfigError, match="namespace of context 'bad' '../etc' is not a valid namespace name"):
        load_target(path, "bad")


def test_in_app_commands_refuse_bad_names_in_place():
    from widgets.command import Command, parse_command

    assert "RFC 1123 label" in parse_command(":ns ../../x")
    assert "RFC 1123 label" in parse_command(":ns $(reboot)")
    assert "control or invisible" in parse_command(":ctx dev\x1b[2J")
    assert "valid label value" in parse_command(":rollout a/b/c")
    assert "is not a kind" in parse_command(":rollout $(x)/b")
    assert parse_command(":rollout veritascanary/pay") == Command("rollout", "veritascanary/pay")  # KIND/NAME
    assert parse_command(":ctx arn:aws:eks:eu-west-1:1:cluster/prod") == Command(
        "ctx", "arn:aws:eks:eu-west-1:1:cluster/prod")
    assert parse_command(":ns shop-2") == Command("ns", "shop-2")


# ---- impersonation ---------------------------------------------------------------------------------

def test_impersonation_fields_need_as(tmp_path, env):
    with pytest.raises(KubeConfigError, match="need `as`"):
        load_target(write(tmp_path / "kc", simple(token="t", **{"as-groups": ["g"]})))
    with pytest.raises(KubeConfigError, match="control characters"):
        load_target(write(tmp_path / "kc2", simple(token="t", **{"as": "eve\r\nX-Evil: 1"})))


async def test_impersonation_headers_reach_the_server_as_kubectl_sends_them(tmp_path, env):
    async with demo_cluster(scenario="healthy-canary") as cluster:
        d = demo_user_config(cluster, **{"as": "jane", "as-uid": "1234", "as-groups": ["devs", "oncall"],
                                         "as-user-extra": {"reason": ["incident 42"], "scopes/x": ["a", "b"]}})
        t = load_target(write(tmp_path / "kc", d))
        async with KubeClient(t) as client:
            await client.get_json("/api/v1/namespaces/demo/pods")
        got = cluster.server.impersonation[-1]
        lower = [(k.lower(), v) for k, v in got]
        assert ("impersonate-user", "jane") in lower and ("impersonate-uid", "1234") in lower
        assert [v for k, v in lower if k == "impersonate-group"] == ["devs", "oncall"]
        assert ("impersonate-extra-reason", "incident 42") in lower
        assert [v for k, v in lower if k == "impersonate-extra-scopes%2fx"] == ["a", "b"]
        # without `as`, nothing is sent
        n = len(cluster.server.impersonation)
        async with KubeClient(load_target(cluster.kubeconfig_path)) as client:
            await client.get_json("/version")
        assert len(cluster.server.impersonation) == n


# ---- proxies ---------------------------------------------------------------------------------------

async def _socks5_proxy(seen: list):
    """A minimal SOCKS5 proxy (no auth, CONNECT only), enough to prove the client goes through it."""

    async def pipe(r, w):
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()

    async def handle(r, w):
        ver, n = await r.readexactly(2)
        await r.readexactly(n)
        w.write(b"\x05\x00")
        _, cmd, _, atyp = await r.readexactly(4)
        if atyp == 1:
            host = ".".join(str(b) for b in await r.readexactly(4))
        elif atyp == 3:
            host = (await r.readexactly((await r.readexactly(1))[0])).decode()
        else:
            host = str(await r.readexactly(16))
        (port,) = struct.unpack("!H", await r.readexactly(2))
        seen.append((host, port))
        ur, uw = await asyncio.open_connection(host, port)
        w.write(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
        await w.drain()
        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_socks5_proxy_url_works(tmp_path, env):
    seen: list = []
    proxy = await _socks5_proxy(seen)
    port = proxy.sockets[0].getsockname()[1]
    try:
        async with demo_cluster(scenario="healthy-canary") as cluster:
            d = demo_user_config(cluster)
            d["clusters"][0]["cluster"]["proxy-url"] = f"socks5://127.0.0.1:{port}"
            t = load_target(write(tmp_path / "kc", d))
            async with KubeClient(t) as client:
                v = await client.get_json("/version")
            assert v["major"] == "1" and seen and seen[0][1] == cluster.port
    finally:
        proxy.close()


def test_socks5_without_socksio_is_one_clear_line(tmp_path, env, monkeypatch):
    monkeypatch.setitem(sys.modules, "socksio", None)
    d = simple()
    d["clusters"][0]["cluster"]["proxy-url"] = "socks5://user:secret@proxy:1080"
    with pytest.raises(KubeConfigError) as e:
        load_target(write(tmp_path / "kc", d))
    msg = str(e.value)
    assert "needs the socksio package" in msg and "secret" not in msg and "\n" not in msg
    d["clusters"][0]["cluster"]["proxy-url"] = "gopher://proxy"
    with pytest.raises(KubeConfigError, match="must be http://, https:// or socks5://"):
        load_target(write(tmp_path / "kc2", d))


# ---- key material ----------------------------------------------------------------------------------

def _files_holding(root: str, needle: bytes) -> list[str]:
    found = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                if os.path.getsize(p) < 1_000_000 and needle in open(p, "rb").read():
                    found.append(p)
            except OSError:
                pass
    return found


async def test_sigkill_while_connected_with_a_client_certificate_leaves_no_key_on_disk(tmp_path, env, ca):
    cert_pem, key_pem = _client_cert(ca)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    async with demo_cluster(scenario="healthy-canary") as cluster:
        d = demo_user_config(cluster, **{"client-certificate-data": base64.b64encode(cert_pem).decode(),
                                         "client-key-data": base64.b64encode(key_pem).decode()})
        path = write(tmp_path / "kc", d)
        proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "status", "--kubeconfig", path, "--wait", "60"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "TMPDIR": str(tmp), "HOME": str(tmp_path)})
        try:
            # connected: the session's watches are open on the demo cluster
            deadline = time.monotonic() + 30
            while cluster.server.active_streams < 2 and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()
                await asyncio.sleep(0.1)
            assert cluster.server.active_streams >= 2
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    marker = key_pem.splitlines()[1]  # a line of the key's base64 body
    assert _files_holding(str(tmp), marker) == []
    assert _files_holding(str(tmp_path), marker) == []
    since = time.time() - 120
    recent = [os.path.join("/tmp", n) for n in os.listdir("/tmp") if n.startswith("lookout-kube-")
              and os.path.getmtime(os.path.join("/tmp", n)) > since]
    assert all(_files_holding(p, marker) == [] for p in recent)
