"""TLS for the Microsoft 365 simulator: a local CA and a ``localhost`` server certificate.

msal refuses plain-HTTP authorities, so the simulator must speak HTTPS. We mint a private CA once and
keep it on disk under the devstack's state directory, so clients configured with ``verify=ca.pem`` (or a
browser that was told to trust it) keep working across restarts.

Two deliberate safety choices:

* The CA's private key is never written to disk. Once the server certificate is signed it is discarded,
  so nobody can later mint further certificates that a machine trusting ``ca.pem`` would accept. When the
  server certificate eventually needs replacing, a brand-new CA is generated.
* The CA carries a critical name constraint limiting it to ``localhost`` and ``127.0.0.1``: even if
  ``ca.pem`` ends up in a trust store, it can never vouch for any real host name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"

_CA_LIFETIME = dt.timedelta(days=3650)
# 825 days is the longest validity macOS/iOS accept for a TLS server certificate, even from a
# user-trusted root; keeping under it means the same files work in every browser.
_SERVER_LIFETIME = dt.timedelta(days=825)
# Replace the server certificate this long before it expires rather than serving one that is about to.
_RENEW_BEFORE = dt.timedelta(days=30)
_HOSTNAME = "localhost"
_IP = ipaddress.IPv4Address("127.0.0.1")


@dataclass(frozen=True)
class TlsMaterial:
    """Paths of the simulator's CA certificate and server certificate/key (all PEM)."""

    ca_cert_path: Path
    cert_path: Path
    key_path: Path

    @property
    def ca_bundle(self) -> str:
        """The CA certificate path as a string: what ``requests``/msal take as ``verify=``."""
        return str(self.ca_cert_path)

    def server_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` for the server side, presenting ``server.pem`` (TLS 1.2 or later)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certfile=str(self.cert_path), keyfile=str(self.key_path))
        return context

    def client_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` for clients (e.g. ``urllib``) that trusts only the simulator's CA."""
        return ssl.create_default_context(cafile=str(self.ca_cert_path))


def ensure_ca_and_server_cert(directory: Path) -> TlsMaterial:
    """Return the CA and server certificate in ``directory``, generating them if needed.

    Existing files are reused as long as they are present, parse, chain together and the server
    certificate is not within 30 days of expiry; otherwise a new CA and server certificate replace
    them (clients must then be given the new ``ca.pem``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    material = TlsMaterial(
        ca_cert_path=directory / CA_FILE,
        cert_path=directory / SERVER_CERT_FILE,
        key_path=directory / SERVER_KEY_FILE,
    )
    if not _is_usable(material):
        _generate(material)
    return material


def _is_usable(material: TlsMaterial) -> bool:
    """Whether the files on disk can be served as they are."""
    try:
        ca = x509.load_pem_x509_certificate(material.ca_cert_path.read_bytes())
        cert = x509.load_pem_x509_certificate(material.cert_path.read_bytes())
        key = serialization.load_pem_private_key(material.key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc - _RENEW_BEFORE < now or ca.not_valid_after_utc < now:
        return False
    try:
        # The key must belong to the certificate and the certificate to the CA; a half-written or
        # mismatched set (e.g. one file restored from a backup) is regenerated rather than served.
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    cert_public = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return cert_public == key_public


def _generate(material: TlsMaterial) -> None:
    """Create a fresh CA and a server certificate signed by it, and write both (key mode 0600)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Matterline devstack"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Matterline devstack local CA"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.DNSName(_HOSTNAME),
                    x509.IPAddress(ipaddress.IPv4Network("127.0.0.1/32")),
                ],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _HOSTNAME)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _SERVER_LIFETIME)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(_HOSTNAME), x509.IPAddress(_IP)]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    # The key goes first so that a crash between writes leaves a set that fails _is_usable and is
    # regenerated next time, never a certificate whose key is missing.
    write_private_file(
        material.key_path,
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_atomically(material.cert_path, server_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_atomically(material.ca_cert_path, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically write ``data`` (a private key) to ``path``, readable by the owner only."""
    _write_atomically(path, data, 0o600)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file and rename, so readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file 0600, so a private key is never briefly world-readable.
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
