"""Self-signed OPC UA application certificates for tests, written to a directory at test time.

The profile OPC UA Part 6, 6.2.2 asks of an application instance certificate (and that asyncua's own
validator checks): the application URI as a URI subjectAltName (the peer compares it with the
ApplicationUri of the session), the host as a DNS subjectAltName, key usage digitalSignature,
nonRepudiation, keyEncipherment, dataEncipherment (and keyCertSign: it signs itself), extended key usage
serverAuth and clientAuth. RSA 2048 with SHA-256 is what Basic256Sha256 needs.
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class AppCertificate:
    uri: str
    certificate: Path  # <directory>/certs/<name>.der: DER, the form OPC UA exchanges
    private_key: Path  # <directory>/private/<name>.pem: unencrypted, test material only


def make_app_certificate(
    directory: Path, name: str, uri: str, *, host: str | None = None, days: int = 30
) -> AppCertificate:
    """Key and certificate in separate folders (a trust-list folder must hold certificates only)."""
    (directory / "certs").mkdir(parents=True, exist_ok=True)
    (directory / "private").mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "otgate tests"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(uri), x509.DNSName(host or socket.gethostname())]
            ),
            False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "certs" / f"{name}.der"
    key_path = directory / "private" / f"{name}.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return AppCertificate(uri, cert_path, key_path)
