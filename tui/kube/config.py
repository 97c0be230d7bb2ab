"""Kubeconfig → KubeTarget, as kubectl resolves it: file merging, contexts, TLS material and credentials.

The common cases (bearer token, token file, basic auth, CA and client certificates as files or data,
insecure-skip-tls-verify, proxy-url) are read straight from the YAML: importing `kubernetes.config`
drags in the whole `kubernetes` package (about 200 ms, see the closing note of issue 4). The package's
loaders are imported only where they earn it: exec credential plugins, auth-provider (oidc, gcp)
and the in-cluster service account.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import ipaddress
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import yaml

from tui.kube.names import InvalidName, check_namespace
from tui.textsafe import clean_ident, clean_line, mask_url

try:  # the C loader is several times faster on large kubeconfigs
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from tui.kube.timestamps import parse_time

DEFAULT_KUBECONFIG = os.path.join("~", ".kube", "config")
# in-cluster service account files; module attributes so tests can point them elsewhere
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_FILE_TTL = 60.0  # client-go re-reads token files about once a minute; so do we
EXEC_EXPIRY_SKEW = 10.0  # refresh exec credentials this many seconds before they expire
EXEC_TIMEOUT = 15.0  # s: a plugin that cannot ask anyone (no terminal) and has not answered by then never will
# Set by the app's start-up while it still owns a terminal and nothing is drawn: a plugin whose interactiveMode is
# IfAvailable or Always may then talk to the user (device-code logins take minutes), with no time limit.
EXEC_INTERACTIVE = False
# YAML bounds: a kubeconfig is kilobytes; an alias bomb is a few hundred bytes that expand to billions of values
MAX_KUBECONFIG_BYTES = 16 * 1024 * 1024
MAX_KUBECONFIG_VALUES = 1_000_000  # values after alias expansion


class KubeConfigError(Exception):
    """A kubeconfig that cannot be used; str() is one sentence meant for the user."""


class ExecPluginTimeout(KubeConfigError):
    """The exec plugin did not answer in time: like an unreachable server, not a configuration mistake (exit 3)."""


# ---------------------------------------------------------------------------------------------
# credentials


class Credentials:
    """Produces the Authorization header value.

    `header()` may block when `stale()` (exec plugins, file reads): then call it off the event loop.
    """

    refreshable = False  # whether header(force=True) can produce something new (worth a retry after 401)

    def stale(self) -> bool:
        """Cheap: True when header() would have to do work first."""
        return False

    def header(self, force: bool = False) -> str | None:
        return None


class NoCredentials(Credentials):
    pass


class StaticCredentials(Credentials):
    def __init__(self, value: str):
        self._value = value

    def header(self, force: bool = False) -> str | None:
        return self._value


class TokenFileCredentials(Credentials):
    """A bearer token read from a file that something else rotates (projected service account tokens)."""

    refreshable = True

    def __init__(self, path: str, ttl: float = TOKEN_FILE_TTL, *, what: str = "tokenFile"):
        self.path = path
        self._ttl = ttl
        self._what = what
        self._value: str | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def _read(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as f:
                tok = f.read().strip()
        except OSError as e:
            raise KubeConfigError(f"cannot read the {self._what} {self.path}: {e.strerror or e}") from None
        if not tok:
            raise KubeConfigError(f"the {self._what} {self.path} is empty")
        self._value = "Bearer " + tok
        self._read_at = time.monotonic()

    def stale(self) -> bool:
        return self._value is None or time.monotonic() - self._read_at >= self._ttl

    def header(self, force: bool = False) -> str | None:
        with self._lock:
            if force or self.stale():
                self._read()
            return self._value


class ExecCredentials(Credentials):
    """An exec credential plugin (client.authentication.k8s.io), re-run when its credential expires or on 401.

    The `kubernetes` package parses the exec stanza (args, env, provideClusterInfo); we run the command
    ourselves, never interactively: the terminal belongs to the TUI.
    """

    refreshable = True

    def __init__(self, exec_cfg: dict, cluster: dict, cwd: str, user: str):
        self._exec_cfg = exec_cfg
        self._cluster = cluster
        self._cwd = cwd
        self._user = user
        self._value: str | None = None
        self._expiry: float | None = None  # epoch seconds; None = does not expire
        self._lock = threading.Lock()
        self.runs = 0  # how many times the plugin ran (tests, diagnostics)
        self.cert: tuple[InlinePem, InlinePem] | None = None  # when the plugin answers with a client certificate

    @property
    def command(self) -> str:
        return str(self._exec_cfg.get("command") or "")

    def stale(self) -> bool:
        if self.runs == 0:
            return True
        return self._expiry is not None and time.time() >= self._expiry - EXEC_EXPIRY_SKEW

    def header(self, force: bool = False) -> str | None:
        with self._lock:
            if force or self.stale():
                self._run()
            return self._value

    def _run(self) -> None:
        status = _run_exec_plugin(self._exec_cfg, self._cluster, self._cwd, self._user)
        self.runs += 1
        self._value = None
        if status.get("token"):
            self._value = "Bearer " + str(status["token"])
        elif status.get("clientCertificateData") and status.get("clientKeyData"):
            self.cert = (InlinePem(str(status["clientCertificateData"]).encode()),
                         InlinePem(str(status["clientKeyData"]).encode()))
        else:
            raise KubeConfigError(f"exec plugin {self.command} for user {self._user!r} returned neither a token "
                                  "nor a client certificate")
        exp = status.get("expirationTimestamp")
        self._expiry = _parse_time(exp) if exp else None


class AuthProviderCredentials(Credentials):
    """Legacy auth-provider (oidc, gcp) through the `kubernetes` package's KubeConfigLoader."""

    refreshable = True

    def __init__(self, config: dict, context: str, base_path: str, user: str):
        self._config = config
        self._context = context
        self._base_path = base_path
        self._user = user
        self._loader: Any = None
        self._lock = threading.Lock()

    def stale(self) -> bool:
        loader = self._loader
        if loader is None or "token" not in loader.__dict__:
            return True
        expiry = loader.__dict__.get("expiry")
        return expiry is not None and expiry.timestamp() <= time.time() + EXEC_EXPIRY_SKEW

    def header(self, force: bool = False) -> str | None:
        with self._lock:
            if force or self.stale():
                from kubernetes.config.config_exception import ConfigException
                from kubernetes.config.kube_config import KubeConfigLoader

                try:
                    self._loader = KubeConfigLoader(config_dict=self._config, active_context=self._context,
                                                    config_base_path=self._base_path)
                    self._loader._load_authentication()
                except ConfigException as e:
                    raise KubeConfigError(f"auth-provider of user {self._user!r} failed: {e}") from None
                if "token" not in self._loader.__dict__:
                    raise KubeConfigError(f"auth-provider of user {self._user!r} produced no token")
            return self._loader.token


class InClusterCredentials(Credentials):
    """The pod's service account token, re-read as the `kubernetes` package's in-cluster loader does."""

    refreshable = True

    def __init__(self, loader: Any):
        self._loader = loader
        self._lock = threading.Lock()

    def stale(self) -> bool:
        return self._loader.token_expires_at <= _dt.datetime.now()

    def header(self, force: bool = False) -> str | None:
        with self._lock:
            if force or self.stale():
                self._loader._read_token_file()
            return _bearer(self._loader.token)


def _bearer(value: str) -> str:
    # the in-cluster loader writes "bearer <token>"; servers accept either case, tidy it anyway
    scheme, _, tok = value.partition(" ")
    return "Bearer " + tok.strip() if scheme.lower() == "bearer" else value


# ---------------------------------------------------------------------------------------------
# the result


@dataclass
class KubeTarget:
    """Where to connect and how to authenticate: everything KubeClient needs, nothing more."""

    server: str  # https://host:port, no trailing slash
    context: str
    cluster: str
    user: str
    namespace: str  # from -n, else the context's, else "default"
    ca_pem: str | None = None  # the cluster's CA (from certificate-authority or -data); None = system roots
    insecure: bool = False  # insecure-skip-tls-verify
    # (cert, key) of a client certificate: file paths, or InlinePem bytes from *-data (never written to disk)
    cert: "tuple[str | InlinePem, str | InlinePem] | None" = None
    credentials: Credentials = field(default_factory=NoCredentials)
    proxy_url: str | None = None
    tls_server_name: str | None = None
    kubeconfig: tuple[str, ...] = ()  # files the configuration came from; () when in-cluster
    in_cluster: bool = False
    namespace_explicit: bool = False  # -n given, rather than the context's default
    impersonate: tuple[tuple[str, str], ...] = ()  # Impersonate-* headers (as, as-uid, as-groups, as-user-extra)

    def token(self, force: bool = False) -> str | None:
        """The current bearer token, refreshing it first if it expired (may run an exec plugin: blocking)."""
        h = self.credentials.header(force)
        if h and h[:7].lower() == "bearer ":
            return h[7:]
        return None

    def authorization(self, force: bool = False) -> str | None:
        """The Authorization header value (Bearer or Basic); may block, see token()."""
        return self.credentials.header(force)

    def client_cert(self) -> "tuple[str | InlinePem, str | InlinePem] | None":
        if isinstance(self.credentials, ExecCredentials) and self.credentials.cert:
            return self.credentials.cert
        return self.cert

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """An SSLContext trusting the cluster's CA, or False for insecure-skip-tls-verify."""
        if self.insecure:
            return False
        return _ca_context(self.ca_pem) if self.ca_pem else _default_context()

    def ssl_context(self) -> ssl.SSLContext:
        """A new TLS context for the client: CA (or no verification) plus the client certificate, if any."""
        verify = self.verify
        ctx = verify if isinstance(verify, ssl.SSLContext) else _insecure_context()
        cert = self.client_cert()
        if cert:
            try:
                _load_chain(ctx, cert[0], cert[1])
            except (ssl.SSLError, OSError) as e:
                raise KubeConfigError(f"the client certificate of user {self.user!r} cannot be loaded: "
                                      f"{getattr(e, 'reason', None) or e}") from None
        return ctx


# ---------------------------------------------------------------------------------------------
# loading


@dataclass
class _Entry:
    value: dict
    path: str  # the file that defined it: relative paths inside resolve against its folder


@dataclass
class _Merged:
    files: list[str]
    clusters: dict[str, _Entry]
    users: dict[str, _Entry]
    contexts: dict[str, _Entry]
    current_context: str | None
    current_context_file: str | None


def kubeconfig_paths(kubeconfig: str | None = None, environ: dict | None = None) -> tuple[list[str], bool]:
    """The files to merge, and whether they were named explicitly (a missing explicit file is an error)."""
    env = os.environ if environ is None else environ
    if kubeconfig:
        return [os.path.expanduser(kubeconfig)], True
    value = env.get("KUBECONFIG")
    if value:
        paths, seen = [], set()
        for p in value.split(os.pathsep):
            p = os.path.expanduser(p.strip())
            if p and p not in seen:
                seen.add(p)
                paths.append(p)
        if paths:
            return paths, False
    return [os.path.expanduser(DEFAULT_KUBECONFIG)], False


def _read_yaml(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_KUBECONFIG_BYTES + 1)
        if len(raw) > MAX_KUBECONFIG_BYTES:
            raise KubeConfigError(f"kubeconfig {path} is larger than {MAX_KUBECONFIG_BYTES // (1024 * 1024)} MiB; "
                                  "refusing to load it")
        data = yaml.load(raw, Loader=_Loader)
    except FileNotFoundError:
        raise KubeConfigError(f"kubeconfig file {path} does not exist") from None
    except IsADirectoryError:
        raise KubeConfigError(f"kubeconfig {path} is a directory, not a file") from None
    except OSError as e:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise KubeConfigError(f"kubeconfig {path} is not valid YAML{where}: {clean_line(str(problem))}") from None
    except RecursionError:
        raise KubeConfigError(f"kubeconfig {path} is nested too deeply to be a kubeconfig") from None
    if data is None:
        return {}
    _check_expanded_size(data, path)
    if not isinstance(data, dict):
        raise KubeConfigError(f"kubeconfig {path} is not a kubeconfig: expected a mapping at the top level")
    return data


def _check_expanded_size(data: Any, path: str) -> None:
    """Refuse YAML whose aliases expand beyond MAX_KUBECONFIG_VALUES values, or refer to themselves.

    PyYAML builds an alias as a shared reference, so loading a "billion laughs" is cheap; what is not is the
    first walk over it (a copy, a JSON dump for an exec plugin's KUBERNETES_EXEC_INFO). Sizes are memoised
    per shared object, so this costs one visit per distinct value.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(v: Any, depth: int) -> int:
        if not isinstance(v, (dict, list)):
            return 1
        key = id(v)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in active:
            raise KubeConfigError(f"kubeconfig {path} contains a YAML alias that refers to itself")
        if depth > 200:
            raise KubeConfigError(f"kubeconfig {path} is nested too deeply to be a kubeconfig")
        active.add(key)
        n = 1
        for item in (v.values() if isinstance(v, dict) else v):
            n += size(item, depth + 1)
            if n > MAX_KUBECONFIG_VALUES:
                raise KubeConfigError(f"kubeconfig {path} expands to more than {MAX_KUBECONFIG_VALUES:,} values "
                                      "(YAML aliases?); refusing to load it")
        active.discard(key)
        sizes[key] = n
        return n

    size(data, 0)


def _named(data: dict, section: str, inner: str, path: str) -> list[tuple[str, dict]]:
    items = data.get(section) or []
    if not isinstance(items, list):
        raise KubeConfigError(f"kubeconfig {path}: {section} must be a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise KubeConfigError(f"kubeconfig {path}: entry {i + 1} of {section} has no name")
        value = item.get(inner)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise KubeConfigError(f"kubeconfig {path}: {section} entry {item['name']!r} must have a mapping "
                                  f"under {inner}")
        out.append((item["name"], value))
    return out


def _merge(paths: list[str], explicit: bool) -> _Merged:
    """kubectl's rules: for every name and for current-context, the first file that sets it wins."""
    m = _Merged([], {}, {}, {}, None, None)
    for path in paths:
        if not explicit and not os.path.exists(path):
            continue  # kubectl skips missing files listed in KUBECONFIG
        data = _read_yaml(path)
        m.files.append(path)
        for section, inner, bucket in (("clusters", "cluster", m.clusters), ("users", "user", m.users),
                                       ("contexts", "context", m.contexts)):
            for name, value in _named(data, section, inner, path):
                bucket.setdefault(name, _Entry(value, path))
        cc = data.get("current-context")
        if cc and m.current_context is None:
            m.current_context, m.current_context_file = str(cc), path
    return m


def _where(m: _Merged) -> str:
    if len(m.files) == 1:
        return f"kubeconfig {m.files[0]}"
    return "kubeconfig files " + os.pathsep.join(m.files)


def list_contexts(kubeconfig: str | None = None) -> list[str]:
    """Context names in merge order (the first file's first); [] when there is no kubeconfig."""
    paths, explicit = kubeconfig_paths(kubeconfig)
    return list(_merge(paths, explicit).contexts)


def current_context(kubeconfig: str | None = None) -> str | None:
    paths, explicit = kubeconfig_paths(kubeconfig)
    return _merge(paths, explicit).current_context


def load_target(kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None,
                *, environ: dict | None = None) -> KubeTarget:
    """Resolve what kubectl would use for `--kubeconfig`, `--context` and `-n`; raises KubeConfigError."""
    env = os.environ if environ is None else environ
    paths, explicit = kubeconfig_paths(kubeconfig, env)
    m = _merge(paths, explicit)
    if not m.files or not (m.contexts or m.clusters or m.current_context):
        if not explicit and env.get("KUBERNETES_SERVICE_HOST") and not context:
            return _load_in_cluster(namespace, env)
        if not m.files:
            where = paths[0] if len(paths) == 1 else os.pathsep.join(paths)
            raise KubeConfigError(f"no kubeconfig found: {where} does not exist and this is not a pod in a "
                                  "cluster (KUBERNETES_SERVICE_HOST is not set)")
        raise KubeConfigError(f"{_where(m)} defines no contexts")

    name = context or m.current_context
    if not name:
        avail = ", ".join(m.contexts) or "none"
        raise KubeConfigError(f"{_where(m)} sets no current-context; choose one with --context "
                              f"(available: {avail})")
    ctx_entry = m.contexts.get(name)
    if ctx_entry is None:
        avail = ", ".join(m.contexts) or "none"
        how = "--context" if context else "current-context"
        raise KubeConfigError(f"context {name!r} ({how}) is not defined in {_where(m)}; available contexts: {avail}")
    ctx = ctx_entry.value
    cluster_name = ctx.get("cluster")
    if not cluster_name:
        raise KubeConfigError(f"context {name!r} in {ctx_entry.path} names no cluster")
    cl_entry = m.clusters.get(cluster_name)
    if cl_entry is None:
        raise KubeConfigError(f"context {name!r} refers to cluster {cluster_name!r}, which is not defined in "
                              f"{_where(m)}")
    user_name = ctx.get("user") or ""
    us_entry = m.users.get(user_name) if user_name else _Entry({}, ctx_entry.path)
    if us_entry is None:
        raise KubeConfigError(f"context {name!r} refers to user {user_name!r}, which is not defined in {_where(m)}")
    cluster, user = cl_entry.value, us_entry.value

    server = _server_url(cluster.get("server"), cluster_name, cl_entry.path)

    cl_dir = os.path.dirname(os.path.abspath(cl_entry.path))
    us_dir = os.path.dirname(os.path.abspath(us_entry.path))
    insecure = bool(cluster.get("insecure-skip-tls-verify"))
    if insecure and (cluster.get("certificate-authority") or cluster.get("certificate-authority-data")):
        # kubectl: "specifying a root certificates file with the insecure flag is not allowed"
        raise KubeConfigError(f"cluster {cluster_name!r} in {cl_entry.path} sets insecure-skip-tls-verify together "
                              "with a certificate authority; kubectl refuses this too: remove one of them")
    ca_pem = _ca_pem(cluster, cl_dir, cluster_name)
    cert = _client_cert(user, us_dir, user_name)
    creds = _credentials(user, us_dir, user_name, cluster, name, m)
    impersonate = _impersonation(user, user_name, us_entry.path)
    proxy_url = _proxy_url(cluster.get("proxy-url"), cluster_name, cl_entry.path)

    ns = namespace or ctx.get("namespace") or "default"
    try:
        check_namespace(str(ns), "namespace" if namespace else f"namespace of context {name!r}")
    except InvalidName as e:
        raise KubeConfigError(str(e)) from None
    return KubeTarget(server=server, context=name, cluster=cluster_name, user=user_name, namespace=str(ns),
                      ca_pem=ca_pem, insecure=insecure, cert=cert, credentials=creds, proxy_url=proxy_url,
                      tls_server_name=cluster.get("tls-server-name") or None, kubeconfig=tuple(m.files),
                      namespace_explicit=bool(namespace), impersonate=impersonate)


_HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?")


def _server_url(raw: Any, cluster: str, path: str) -> str:
    """The cluster's server as https://host[:port][/path]; anything that is not a URL is a configuration error
    (exit 4), never a DNS lookup of `not a url` or a connection to https://5."""
    where = f"cluster {cluster!r} in {path}"
    if raw is None or raw == "":
        raise KubeConfigError(f"{where} has no server")
    if not isinstance(raw, str):
        raise KubeConfigError(f"{where}: server must be a URL such as https://host:6443, not {raw!r}")
    server = raw.strip().rstrip("/")
    bad = f"{where}: server {clean_ident(server)!r} is not a URL (https://host[:port])"
    if not server or any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in server):
        raise KubeConfigError(bad)
    if "://" not in server:
        server = "https://" + server
    try:
        u = urllib.parse.urlsplit(server)
        u.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise KubeConfigError(bad) from None
    if u.scheme not in ("https", "http"):
        raise KubeConfigError(f"{where}: server {clean_ident(server)!r} must be https:// (or http://)")
    host = u.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        if (not host or len(host) > 253 or not all(len(x) <= 63 and _HOST_LABEL.fullmatch(x) for x in labels)
                or labels[-1].isdigit()):
            raise KubeConfigError(bad) from None
    if u.query or u.fragment or u.username or u.password:
        raise KubeConfigError(f"{where}: server {clean_ident(server.split('@')[-1])!r} must not carry credentials, "
                              "a query or a fragment")
    return server


def _proxy_url(raw: Any, cluster: str, path: str) -> str | None:
    if not raw:
        return None
    where = f"cluster {cluster!r} in {path}"
    value = str(raw).strip()
    try:
        scheme = urllib.parse.urlsplit(value).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https", "socks5", "socks5h"):
        raise KubeConfigError(f"{where}: proxy-url {clean_ident(mask_url(value))!r} must be http://, https:// or "
                              "socks5://")
    if scheme.startswith("socks"):
        try:
            import socksio  # noqa: F401
        except ImportError:
            raise KubeConfigError(f"{where}: proxy-url {clean_ident(mask_url(value))!r} is a SOCKS proxy, which "
                                  "needs the socksio package (pip install 'httpx[socks]')") from None
    return value


# client-go's legal header-name bytes; everything else in an Impersonate-Extra- key is percent-encoded
_HEADER_KEY_SAFE = frozenset(b"!#$&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~")


def _impersonation(user: dict, name: str, path: str) -> tuple[tuple[str, str], ...]:
    """Impersonate-* headers for `as`, `as-uid`, `as-groups`, `as-user-extra`, as kubectl sends them."""
    where = f"user {name!r} in {path}"
    out: list[tuple[str, str]] = []

    def value(v: Any, what: str) -> str:
        v = str(v)
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in v):
            raise KubeConfigError(f"{where}: {what} contains control characters")
        return v

    as_user = user.get("as")
    groups = user.get("as-groups") or []
    uid = user.get("as-uid")
    extra = user.get("as-user-extra") or {}
    if not isinstance(groups, list):
        raise KubeConfigError(f"{where}: as-groups must be a list")
    if not isinstance(extra, dict) or not all(isinstance(v, list) for v in extra.values()):
        raise KubeConfigError(f"{where}: as-user-extra must map each key to a list of values")
    if not as_user and (groups or uid or extra):
        # client-go: "requesting uid, groups or user-extra for test without impersonating a user"
        raise KubeConfigError(f"{where}: as-groups, as-uid and as-user-extra need `as` (the user to impersonate)")
    if as_user:
        out.append(("Impersonate-User", value(as_user, "as")))
        if uid:
            out.append(("Impersonate-Uid", value(uid, "as-uid")))
        out += [("Impersonate-Group", value(g, "as-groups")) for g in groups]
        for k, vs in extra.items():
            key = "".join(chr(b) if b in _HEADER_KEY_SAFE else f"%{b:02X}" for b in str(k).encode())
            out += [(f"Impersonate-Extra-{key}", value(v, f"as-user-extra {k!r}")) for v in vs]
    return tuple(out)


def _resolve(p: str, base: str) -> str:
    p = os.path.expanduser(str(p))
    return p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))


def _b64(data: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(data).strip(), validate=False)
    except (binascii.Error, ValueError):
        raise KubeConfigError(f"{what} is not valid base64") from None


def _ca_pem(cluster: dict, base: str, name: str) -> str | None:
    if cluster.get("certificate-authority-data"):
        pem = _b64(cluster["certificate-authority-data"], f"certificate-authority-data of cluster {name!r}")
        what = f"the certificate-authority-data of cluster {name!r}"
        text = pem.decode("ascii", "replace")
    elif cluster.get("certificate-authority"):
        path = _resolve(cluster["certificate-authority"], base)
        what = f"the certificate-authority file {path} of cluster {name!r}"
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            raise KubeConfigError(f"{what} does not exist") from None
        except OSError as e:
            raise KubeConfigError(f"cannot read {what}: {e.strerror or e}") from None
    else:
        return None
    try:
        _ca_context(text)
    except ssl.SSLError as e:
        raise KubeConfigError(f"{what} is not a valid PEM certificate ({e.reason or e})") from None
    return text


def _ca_context(pem: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.load_verify_locations(cadata=pem)
    return ctx


def _default_context() -> ssl.SSLContext:
    # the system's roots plus certifi's, as httpx does by default
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        import certifi

        ctx.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):  # pragma: no cover
        pass
    return ctx


def _insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _client_cert(user: dict, base: str, name: str) -> "tuple[str | InlinePem, str | InlinePem] | None":
    def one(file_key: str, what: str) -> "str | InlinePem | None":
        if user.get(file_key + "-data"):
            return InlinePem(_b64(user[file_key + "-data"], f"{file_key}-data of user {name!r}"))
        if user.get(file_key):
            path = _resolve(user[file_key], base)
            if not os.path.isfile(path):
                raise KubeConfigError(f"{what} file {path} of user {name!r} does not exist")
            return path
        return None

    cert = one("client-certificate", "client-certificate")
    key = one("client-key", "client-key")
    if bool(cert) != bool(key):
        missing = "client-key" if cert else "client-certificate"
        raise KubeConfigError(f"user {name!r} has a client certificate without its {missing}"
                              if cert else f"user {name!r} has a client key without its client-certificate")
    return (cert, key) if cert and key else None


def _credentials(user: dict, base: str, user_name: str, cluster: dict, context: str, m: _Merged) -> Credentials:
    if isinstance(user.get("exec"), dict):
        ex = user["exec"]
        if not ex.get("command"):
            raise KubeConfigError(f"the exec plugin of user {user_name!r} has no command")
        return ExecCredentials(ex, cluster, base, user_name)
    if isinstance(user.get("auth-provider"), dict):
        config = {
            "current-context": context,
            "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
        }
        return AuthProviderCredentials(config, context, base, user_name)
    if user.get("token"):
        return StaticCredentials("Bearer " + str(user["token"]).strip())
    if user.get("tokenFile"):
        path = _resolve(user["tokenFile"], base)
        if not os.path.isfile(path):
            raise KubeConfigError(f"tokenFile {path} of user {user_name!r} does not exist")
        return TokenFileCredentials(path)
    if user.get("username") and user.get("password") is not None:
        raw = f"{user['username']}:{user['password']}".encode()
        return StaticCredentials("Basic " + base64.b64encode(raw).decode("ascii"))
    return NoCredentials()


def _load_in_cluster(namespace: str | None, env: dict) -> KubeTarget:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import InClusterConfigLoader

    token_file = os.path.join(SERVICE_ACCOUNT_DIR, "token")
    ca_file = os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt")
    loader = InClusterConfigLoader(token_filename=token_file, cert_filename=ca_file, environ=env)
    try:
        loader._load_config()
    except ConfigException as e:
        raise KubeConfigError(f"no kubeconfig found and the in-cluster service account is unusable: {e}") from None
    ns = namespace
    if not ns:
        try:
            with open(os.path.join(SERVICE_ACCOUNT_DIR, "namespace"), encoding="utf-8") as f:
                ns = f.read().strip()
        except OSError:
            ns = None
    ca_pem = _ca_pem({"certificate-authority": loader.ssl_ca_cert}, "/", "in-cluster")
    return KubeTarget(server=loader.host, context="in-cluster", cluster="in-cluster", user="serviceaccount",
                      namespace=ns or "default", ca_pem=ca_pem, credentials=InClusterCredentials(loader),
                      in_cluster=True, namespace_explicit=bool(namespace))


# ---------------------------------------------------------------------------------------------
# exec plugins


def _run_exec_plugin(exec_cfg: dict, cluster: dict, cwd: str, user: str) -> dict:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.exec_provider import ExecProvider
    from kubernetes.config.kube_config import ConfigNode

    import json

    try:
        provider = ExecProvider(ConfigNode("exec", exec_cfg), cwd, ConfigNode("cluster", dict(cluster)))
    except ConfigException as e:
        raise KubeConfigError(f"the exec plugin of user {user!r} is misconfigured: {e}") from None
    info: dict = {"apiVersion": provider.api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    if provider.cluster is not None:
        c = dict(provider.cluster.value)
        for ext in c.get("extensions") or []:
            if isinstance(ext, dict) and ext.get("name") == "client.authentication.k8s.io/exec":
                c["config"] = ext.get("extension")
        info["spec"]["cluster"] = c
    mode = str(exec_cfg.get("interactiveMode") or "IfAvailable")
    interactive = EXEC_INTERACTIVE and mode in ("IfAvailable", "Always")
    if mode == "Always" and not interactive:
        raise KubeConfigError(f"the exec plugin of user {user!r} needs a terminal (interactiveMode Always); "
                              "run `lookout` in one, or log in first")
    info["spec"]["interactive"] = interactive
    env = dict(provider.env)
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    cmd = provider.args[0]
    exe = cmd if os.path.isabs(cmd) or os.sep in cmd else (shutil.which(cmd, path=env.get("PATH")) or cmd)
    try:
        if interactive:  # the user sees its prompts (stderr) and answers them (stdin); stdout is the credential
            proc = subprocess.run([exe, *provider.args[1:]], cwd=provider.cwd, env=env, stdout=subprocess.PIPE,
                                  text=True)
        else:
            proc = subprocess.run([exe, *provider.args[1:]], cwd=provider.cwd, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=EXEC_TIMEOUT)
    except FileNotFoundError:
        hint = exec_cfg.get("installHint")
        raise KubeConfigError(f"exec plugin {cmd} of user {user!r} is not installed"
                              + (f": {str(hint).strip().splitlines()[0]}" if hint else "")) from None
    except subprocess.TimeoutExpired:
        raise ExecPluginTimeout(f"exec plugin {cmd} of user {user!r} did not answer within "
                                f"{EXEC_TIMEOUT:g} seconds (stopped)") from None
    except OSError as e:
        raise KubeConfigError(f"exec plugin {cmd} of user {user!r} cannot run: {e.strerror or e}") from None
    if proc.returncode != 0:
        err = [ln for ln in (clean_line(x).strip() for x in (proc.stderr or "").splitlines()) if ln]
        raise KubeConfigError(f"exec plugin {cmd} of user {user!r} failed with exit code {proc.returncode}"
                              + (f": {err[-1][:500]}" if err else ""))
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise KubeConfigError(f"exec plugin {cmd} of user {user!r} printed something that is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("status"), dict):
        raise KubeConfigError(f"exec plugin {cmd} of user {user!r} printed an ExecCredential without status")
    if data.get("apiVersion") != provider.api_version:
        raise KubeConfigError(f"exec plugin {cmd} of user {user!r} answered with apiVersion "
                              f"{data.get('apiVersion')!r}, expected {provider.api_version!r}")
    return data["status"]


def _parse_time(s: str) -> float:
    t = parse_time(s if isinstance(s, str) else None)
    if t is None:
        raise KubeConfigError(f"exec plugin returned an unreadable expirationTimestamp {s!r}")
    return t


# ---------------------------------------------------------------------------------------------
# key material from *-data fields and exec plugins: kept in memory, never on disk


class InlinePem(bytes):
    """PEM bytes from a `*-data` field or an exec plugin. Never written to a file that outlives its load:
    OpenSSL reads it from a memfd (Linux) or, elsewhere, from a private file unlinked as soon as it is read."""

    def __repr__(self) -> str:  # never print key material by accident
        return f"<InlinePem {len(self)} bytes>"


def _load_chain(ctx: ssl.SSLContext, cert: "str | InlinePem", key: "str | InlinePem") -> None:
    with _pem_path(cert) as cert_path, _pem_path(key) as key_path:
        ctx.load_cert_chain(cert_path, key_path)


class _pem_path:
    """A path OpenSSL can open for `value` while the `with` lasts: the file itself, or a memfd's /proc path."""

    def __init__(self, value: "str | InlinePem"):
        self._value = value
        self._fd: int | None = None
        self._tmp: str | None = None

    def __enter__(self) -> str:
        v = self._value
        if not isinstance(v, bytes):
            return v
        memfd = getattr(os, "memfd_create", None)
        if memfd is not None and os.path.isdir("/proc/self/fd"):
            try:
                self._fd = memfd("lookout-kube-pem", getattr(os, "MFD_CLOEXEC", 1))
                _write_all(self._fd, v)
                return f"/proc/self/fd/{self._fd}"
            except OSError:
                self._close()
        fd, self._tmp = tempfile.mkstemp(prefix="lookout-kube-", suffix=".pem")  # mode 0600
        self._fd = fd
        _write_all(fd, v)
        return self._tmp

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> None:
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
