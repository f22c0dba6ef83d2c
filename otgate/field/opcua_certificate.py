"""OPC UA application certificates, for both sides: the southbound link to a PLC and the northbound server.

An OPC UA application is known by its X.509 certificate: its ApplicationUri is the certificate's URI
subjectAltName (servers check that a client's matches), a peer is pinned byte for byte (DER), and people
compare certificates by fingerprint. Only `cryptography` here; neither protocol library.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


def load_der(path: Path) -> bytes:
    """A certificate file (DER or PEM) as DER bytes."""
    data = path.read_bytes()
    certificate = (
        x509.load_pem_x509_certificate(data)
        if data.lstrip().startswith(b"-----")
        else (x509.load_der_x509_certificate(data))
    )
    return certificate.public_bytes(Encoding.DER)


def application_uri(certificate: x509.Certificate | bytes, whose: str) -> str:
    """The certificate's ApplicationUri (its first URI subjectAltName); ValueError naming `whose` without one."""
    if isinstance(certificate, bytes):
        certificate = x509.load_der_x509_certificate(certificate)
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier) if san is not None else []
    if not uris:
        raise ValueError(f"{whose} has no URI subjectAltName (its ApplicationUri)")
    return uris[0]


def der_of(certificate: Any) -> bytes:
    """DER bytes of what a library hands over as a peer's certificate (an x509 object or DER), else b""."""
    if isinstance(certificate, x509.Certificate):
        return certificate.public_bytes(Encoding.DER)
    return certificate if isinstance(certificate, bytes) else b""


def first_certificate(der: bytes | None) -> bytes:
    """The leading certificate of a DER blob that may carry a chain after it."""
    if not der:
        return b""
    if len(der) > 4 and der[1] == 0x82:  # SEQUENCE with a two-byte length: every RSA 2048+ certificate
        return der[: int.from_bytes(der[2:4], "big") + 4]
    return der


def thumbprint(der: bytes) -> str:
    """The SHA-1 fingerprint as `openssl x509 -fingerprint -sha1` and PLC tools print it."""
    return "sha1:" + hashlib.sha1(der, usedforsecurity=False).digest().hex(":").upper()


def fingerprint(der: bytes) -> str:
    """The SHA-256 of the DER bytes, hex: how a pinned client certificate is looked up."""
    return hashlib.sha256(der).hexdigest()
