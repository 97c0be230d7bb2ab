"""Kubeconfig resolution as kubectl does it: merging, contexts, TLS material, credentials, clear errors."""

from __future__ import annotations

import base64
import datetime as dt
import os
import ssl
import stat
import subprocess
import sys
import textwrap

import pytest
import yaml

from tui.kube import config as kc
from tui.kube.config import InlinePem, KubeConfigError, list_contexts, load_target


def write(path, doc) -> str:
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return str(path)


def cfg(contexts=(), clusters=(), users=(), current=None) -> dict:
    d = {"apiVersion": "v1", "kind": "Config",
         "clusters": [{"name": n, "cluster": c} for n, c in clusters],
         "users": [{"name": n, "user": u} for n, u in users],
         "contexts": [{"name": n, "context": c} for n, c in contexts]}
    if current:
        d["current-context"] = current
    return d


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean environment: no KUBECONFIG, a HOME without .kube, not in a cluster."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


@pytest.fixture(scope="module")
def ca():
    from tui.demo import certs
    return certs.generate(days=2)


def simple(server="https://k.example:6443", **user) -> dict:
    return cfg(contexts=[("dev", {"cluster": "c1", "user": "u1", "namespace": "shop"})],
               clusters=[("c1", {"server": server, "insecure-skip-tls-verify": True})],
               users=[("u1", user or {"token": "t0k"})], current="dev")


# ---- files and merging ---------------------------------------------------------------------------

def test_kubeconfig_flag_and_context_namespace(tmp_path, env):
    p = write(tmp_path / "kc", simple())
    t = load_target(p)
    assert (t.server, t.context, t.cluster, t.user, t.namespace) == ("https://k.example:6443", "dev", "c1", "u1", "shop")
    assert t.token() == "t0k" and t.authorization() == "Bearer t0k"
    assert t.verify is False and t.kubeconfig == (p,)
    assert load_target(p, namespace="other").namespace == "other"


def test_default_namespace_and_home_default(tmp_path, env):
    home = tmp_path / "home" / ".kube"
    home.mkdir(parents=True)
    d = simple()
    del d["contexts"][0]["context"]["namespace"]
    write(home / "config", d)
    t = load_target()
    assert t.namespace == "default" and t.context == "dev"


def test_kubeconfig_env_merges_several_files_first_wins(tmp_path, env):
    a = cfg(contexts=[("a", {"cluster": "ca", "user": "ua"}), ("shared", {"cluster": "ca", "user": "ua"})],
            clusters=[("ca", {"server": "https://a:1", "insecure-skip-tls-verify": True})],
            users=[("ua", {"token": "A"})])  # no current-context here
    b = cfg(contexts=[("b", {"cluster": "cb", "user": "ub", "namespace": "nb"}),
                      ("shared", {"cluster": "cb", "user": "ub"})],
            clusters=[("cb", {"server": "https://b:2", "insecure-skip-tls-verify": True}),
                      ("ca", {"server": "https://ignored:9"})],
            users=[("ub", {"token": "B"})], current="b")
    c = cfg(contexts=[], current="a")  # later current-context loses to b's
    pa, pb, pc = write(tmp_path / "a", a), write(tmp_path / "b", b), write(tmp_path / "c", c)
    missing = str(tmp_path / "missing")
    env.setenv("KUBECONFIG", os.pathsep.join([pa, missing, pb, pc]))
    t = load_target()
    assert (t.context, t.server, t.token(), t.namespace) == ("b", "https://b:2", "B", "nb")
    assert t.kubeconfig == (pa, pb, pc)
    assert load_target(context="shared").server == "https://a:1"  # first definition wins
    assert load_target(context="a").server == "https://a:1"  # cluster "ca" from a, not b's
    assert list_contexts() == ["a", "shared", "b"]
    assert kc.current_context() == "b"


def test_relative_paths_resolve_against_the_defining_file(tmp_path, env, ca):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "ca.crt").write_bytes(ca.ca_pem)
    (sub / "tok").write_text("from-file\n")
    d = cfg(contexts=[("x", {"cluster": "c", "user": "u"})],
            clusters=[("c", {"server": "https://127.0.0.1:1", "certificate-authority": "ca.crt"})],
            users=[("u", {"tokenFile": "tok"})], current="x")
    t = load_target(write(sub / "kc", d))
    assert isinstance(t.verify, ssl.SSLContext)
    assert t.token() == "from-file"


# ---- errors: one clear sentence ---------------------------------------------------------------------

def one_sentence(e: BaseException) -> str:
    s = str(e)
    assert "\n" not in s and "Traceback" not in s
    return s


def test_missing_explicit_file(tmp_path, env):
    with pytest.raises(KubeConfigError) as ei:
        load_target(str(tmp_path / "nope.yaml"))
    assert one_sentence(ei.value) == f"kubeconfig file {tmp_path / 'nope.yaml'} does not exist"


def test_no_kubeconfig_anywhere(tmp_path, env):
    with pytest.raises(KubeConfigError) as ei:
        load_target()
    msg = one_sentence(ei.value)
    assert msg.startswith("no kubeconfig found:") and ".kube" in msg and "KUBERNETES_SERVICE_HOST" in msg


def test_broken_yaml_names_file_and_line(tmp_path, env):
    p = write(tmp_path / "broken", textwrap.dedent("""\
        apiVersion: v1
        clusters:
        - name: c
          cluster:
            server: https://x
        contexts: [
          - oops: : :
        """))
    with pytest.raises(KubeConfigError) as ei:
        load_target(p)
    msg = one_sentence(ei.value)
    assert msg.startswith(f"kubeconfig {p} is not valid YAML at line 7")


def test_unknown_context_lists_available(tmp_path, env):
    d = simple()
    d["contexts"].append({"name": "prod", "context": {"cluster": "c1", "user": "u1"}})
    p = write(tmp_path / "kc", d)
    with pytest.raises(KubeConfigError) as ei:
        load_target(p, context="staging")
    assert one_sentence(ei.value) == (f"context 'staging' (--context) is not defined in kubeconfig {p}; "
                                      "available contexts: dev, prod")


def test_no_current_context(tmp_path, env):
    d = simple()
    del d["current-context"]
    p = write(tmp_path / "kc", d)
    with pytest.raises(KubeConfigError) as ei:
        load_target(p)
    assert one_sentence(ei.value) == (f"kubeconfig {p} sets no current-context; choose one with --context "
                                      "(available: dev)")
    assert load_target(p, context="dev").context == "dev"


@pytest.mark.parametrize("what", ["cluster", "user"])
def test_missing_cluster_or_user_entry(tmp_path, env, what):
    d = simple()
    d["contexts"][0]["context"][what] = "ghost"
    p = write(tmp_path / "kc", d)
    with pytest.raises(KubeConfigError) as ei:
        load_target(p)
    assert one_sentence(ei.value) == (f"context 'dev' refers to {what} 'ghost', which is not defined in "
                                      f"kubeconfig {p}")


def test_other_config_errors(tmp_path, env):
    d = simple()
    d["clusters"][0]["cluster"] = {"server": ""}
    with pytest.raises(KubeConfigError, match="cluster 'c1' in .* has no server"):
        load_target(write(tmp_path / "a", d))
    d = simple()
    d["clusters"][0]["cluster"] = {"server": "https://x", "certificate-authority": "/nonexistent/ca.crt"}
    with pytest.raises(KubeConfigError, match="certificate-authority file /nonexistent/ca.crt of cluster 'c1' "
                                              "does not exist"):
        load_target(write(tmp_path / "b", d))
    d["clusters"][0]["cluster"] = {"server": "https://x",
                                   "certificate-authority-data": base64.b64encode(b"not a cert").decode()}
    with pytest.raises(KubeConfigError, match="not a valid PEM certificate"):
        load_target(write(tmp_path / "c", d))
    with pytest.raises(KubeConfigError, match="expected a mapping at the top level"):
        load_target(write(tmp_path / "d", "- just\n- a list\n"))


# ---- TLS material ------------------------------------------------------------------------------------

def test_ca_data_builds_a_verifying_context(tmp_path, env, ca):
    d = simple()
    d["clusters"][0]["cluster"] = {"server": "https://127.0.0.1:6443",
                                   "certificate-authority-data": base64.b64encode(ca.ca_pem).decode(),
                                   "tls-server-name": "kubernetes", "proxy-url": "http://proxy:3128"}
    t = load_target(write(tmp_path / "kc", d))
    ctx = t.ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    subjects = [dict(x[0] for x in c["subject"]) for c in ctx.get_ca_certs()]
    assert {"organizationName": "Lookout demo", "commonName": "lookout-demo-ca"} in subjects
    assert t.tls_server_name == "kubernetes" and t.proxy_url == "http://proxy:3128"


def test_insecure_context(tmp_path, env):
    t = load_target(write(tmp_path / "kc", simple()))
    ctx = t.ssl_context()
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname


def _client_cert(ca):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    ca_key = serialization.load_pem_private_key(ca.ca_key_pem, None)
    ca_cert = x509.load_pem_x509_certificate(ca.ca_pem)
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(ca_key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_client_certificate_data_stays_in_memory(tmp_path, env, ca):
    cert_pem, key_pem = _client_cert(ca)
    d = simple(**{"client-certificate-data": base64.b64encode(cert_pem).decode(),
                  "client-key-data": base64.b64encode(key_pem).decode()})
    t = load_target(write(tmp_path / "kc", d))
    cert, key = t.cert
    assert isinstance(key, InlinePem) and cert == cert_pem and key == key_pem
    assert "PRIVATE" not in repr(key)
    t.ssl_context()  # loads the chain without complaint (from a memfd: nothing on disk)
    assert t.token() is None and t.authorization() is None


def test_client_certificate_files_and_half_pairs(tmp_path, env, ca):
    cert_pem, key_pem = _client_cert(ca)
    (tmp_path / "c.crt").write_bytes(cert_pem)
    (tmp_path / "c.key").write_bytes(key_pem)
    t = load_target(write(tmp_path / "kc", simple(**{"client-certificate": "c.crt", "client-key": "c.key"})))
    assert t.cert == (str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    with pytest.raises(KubeConfigError, match="client certificate without its client-key"):
        load_target(write(tmp_path / "kc2", simple(**{"client-certificate": "c.crt"})))
    with pytest.raises(KubeConfigError, match="client-key file .*gone.key of user 'u1' does not exist"):
        load_target(write(tmp_path / "kc3", simple(**{"client-certificate": "c.crt", "client-key": "gone.key"})))


def test_basic_auth(tmp_path, env):
    t = load_target(write(tmp_path / "kc", simple(username="ann", password="s3")))
    assert t.authorization() == "Basic " + base64.b64encode(b"ann:s3").decode() and t.token() is None


def test_token_file_is_reread_after_its_ttl(tmp_path, env, monkeypatch):
    tok = tmp_path / "tok"
    tok.write_text("one")
    t = load_target(write(tmp_path / "kc", simple(tokenFile=str(tok))))
    assert t.token() == "one" and not t.credentials.stale()
    tok.write_text("two")
    assert t.token() == "one"  # cached
    assert t.token(force=True) == "two"  # a 401 forces a re-read
    tok.write_text("three")
    t.credentials._read_at -= kc.TOKEN_FILE_TTL + 1
    assert t.credentials.stale() and t.token() == "three"


# ---- exec credential plugins ---------------------------------------------------------------------------

PLUGIN = textwrap.dedent("""\
    import datetime, json, os, sys
    counter = sys.argv[1]
    n = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
    open(counter, "w").write(str(n))
    info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
    assert info["spec"]["interactive"] is False
    if os.environ.get("PLUGIN_FAIL"):
        print("token service said no", file=sys.stderr)
        sys.exit(3)
    ttl = float(os.environ.get("PLUGIN_TTL", "3600"))
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl)
    print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                      "status": {"token": f"tok-{n}-{os.environ.get('EXTRA', '')}-{info['spec'].get('cluster', {}).get('server', '')}",
                                 "expirationTimestamp": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
    """)


def exec_user(tmp_path, ttl: float, **extra) -> dict:
    (tmp_path / "plugin.py").write_text(PLUGIN)
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(tmp_path / "plugin.py"), str(tmp_path / "count")],
                     "env": [{"name": "PLUGIN_TTL", "value": str(ttl)}, {"name": "EXTRA", "value": "x"}],
                     "provideClusterInfo": True, "interactiveMode": "Never", **extra}}


def test_exec_plugin_token_and_refresh_on_expiry(tmp_path, env):
    t = load_target(write(tmp_path / "kc", simple(**exec_user(tmp_path, ttl=3600))))
    assert t.credentials.stale()  # nothing ran at load time
    assert t.token() == "tok-1-x-https://k.example:6443"
    assert not t.credentials.stale()
    assert t.token() == "tok-1-x-https://k.example:6443"  # cached until it expires
    assert t.credentials.runs == 1
    assert t.token(force=True).startswith("tok-2-")  # what the client does after a 401


def test_exec_plugin_reinvoked_when_expiration_passes(tmp_path, env):
    # expires within the refresh skew: every use re-runs the plugin
    t = load_target(write(tmp_path / "kc", simple(**exec_user(tmp_path, ttl=kc.EXEC_EXPIRY_SKEW / 2))))
    assert t.token().startswith("tok-1-")
    assert t.credentials.stale()
    assert t.token().startswith("tok-2-")
    assert (tmp_path / "count").read_text() == "2"


def test_exec_plugin_failures_are_one_sentence(tmp_path, env):
    u = exec_user(tmp_path, 60)
    u["exec"]["env"].append({"name": "PLUGIN_FAIL", "value": "1"})
    t = load_target(write(tmp_path / "kc", simple(**u)))
    with pytest.raises(KubeConfigError) as ei:
        t.token()
    assert one_sentence(ei.value) == (f"exec plugin {sys.executable} of user 'u1' failed with exit code 3: "
                                      "token service said no")
    u = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "lookout-no-such-plugin",
                  "installHint": "install it with: brew install no-such-plugin\nmore text"}}
    t = load_target(write(tmp_path / "kc2", simple(**u)))
    with pytest.raises(KubeConfigError) as ei:
        t.token()
    assert one_sentence(ei.value) == ("exec plugin lookout-no-such-plugin of user 'u1' is not installed: "
                                      "install it with: brew install no-such-plugin")


# ---- in-cluster ------------------------------------------------------------------------------------------

def test_in_cluster_service_account(tmp_path, env, ca, monkeypatch):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token")
    (sa / "ca.crt").write_bytes(ca.ca_pem)
    (sa / "namespace").write_text("payments")
    monkeypatch.setattr(kc, "SERVICE_ACCOUNT_DIR", str(sa))
    env.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    env.setenv("KUBERNETES_SERVICE_PORT", "443")
    t = load_target()
    assert (t.server, t.namespace, t.in_cluster, t.token()) == ("https://10.0.0.1:443", "payments", True, "sa-token")
    assert isinstance(t.verify, ssl.SSLContext)
    (sa / "token").write_text("rotated")
    assert t.token(force=True) == "rotated"
    # an explicit --kubeconfig never falls back to the service account
    with pytest.raises(KubeConfigError, match="does not exist"):
        load_target(str(tmp_path / "nope"))


def test_list_contexts_missing_file_is_an_error(tmp_path, env):
    with pytest.raises(KubeConfigError):
        list_contexts(str(tmp_path / "nope"))
    assert list_contexts() == []


def test_import_does_not_pull_in_the_kubernetes_package():
    code = "import sys, tui.kube.config, tui.kube.client, tui.kube.informer; print('kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_exec_plugin_client_certificate(tmp_path, env, ca):
    cert_pem, key_pem = _client_cert(ca)
    import json
    status = {"clientCertificateData": cert_pem.decode(), "clientKeyData": key_pem.decode()}
    (tmp_path / "certplugin.py").write_text(
        "import json, os\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        f"print(json.dumps({{'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': {json.dumps(status)}}}))\n")
    u = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                  "args": [str(tmp_path / "certplugin.py")]}}
    t = load_target(write(tmp_path / "kc", simple(**u)))
    assert t.client_cert() is None
    assert t.authorization() is None  # no token: the certificate is the credential
    cert, key = t.client_cert()
    assert isinstance(key, InlinePem) and key == key_pem and cert == cert_pem
    assert not t.credentials.stale()  # no expiry: not re-run on every request
    t.ssl_context()
