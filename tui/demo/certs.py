"""The demo cluster's TLS material and bearer token: a private CA, a server certificate for 127.0.0.1/localhost."""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Credentials:
    ca_pem: bytes
    ca_key_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    token: str

    def server_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # load_cert_chain wants files; a private temp dir keeps the key off shared paths
        with tempfile.TemporaryDirectory(prefix="lookout-tls-") as d:
            cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
            with open(cert, "wb") as f:
                f.write(self.cert_pem + self.ca_pem)
            with open(key, "wb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(self.key_pem)
            ctx.load_cert_chain(cert, key)
        return ctx

    def client_ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lookout demo"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def generate(days: int = 3650) -> Credentials:
    """A fresh CA and a server certificate signed by it (EC P-256: fast to make), and a random token."""
    now = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=5)
    until = now + _dt.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder()
               .subject_name(_name("lookout-demo-ca")).issuer_name(_name("lookout-demo-ca"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(until)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name("lookout-demo-apiserver")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(until)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    return Credentials(
        ca_pem=ca_cert.public_bytes(pem), ca_key_pem=ca_key.private_bytes(pem, pkcs8, none),
        cert_pem=cert.public_bytes(pem), key_pem=key.private_bytes(pem, pkcs8, none),
        token="lookout-demo-" + secrets.token_urlsafe(24))


_FILES = {"ca_pem": "ca.crt", "ca_key_pem": "ca.key", "cert_pem": "tls.crt", "key_pem": "tls.key"}


def load_or_generate(state_dir: str | None) -> Credentials:
    """The credentials kept in state_dir (made and saved there the first time), or fresh ones."""
    if not state_dir:
        return generate()
    paths = {attr: os.path.join(state_dir, f) for attr, f in _FILES.items()}
    token_path = os.path.join(state_dir, "token")
    if all(os.path.exists(p) for p in paths.values()) and os.path.exists(token_path):
        vals = {}
        for attr, p in paths.items():
            with open(p, "rb") as f:
                vals[attr] = f.read()
        with open(token_path) as f:
            vals["token"] = f.read().strip()
        return Credentials(**vals)
    creds = generate()
    os.makedirs(state_dir, exist_ok=True)
    for attr, p in paths.items():
        write_private(p, getattr(creds, attr))
    write_private(token_path, creds.token.encode())
    return creds


def write_private(path: str, data: bytes) -> None:
    """Atomic write (temp file in the same folder + rename), readable by the owner only."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
