"""OPC UA application certificates, shared by the southbound link and the northbound server."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from otgate.field.opcua_certificate import application_uri, der_of, first_certificate, load_der, thumbprint


def certificate(uri: str | None) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "otgate test")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if uri is not None:
        san = x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri), x509.DNSName("plc")])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(key, hashes.SHA256())


def test_application_uri_from_object_or_der_is_first_uri_san():
    cert = certificate("urn:otgate:gateway")
    assert application_uri(cert, "x") == application_uri(der_of(cert), "x") == "urn:otgate:gateway"


def test_application_uri_missing_names_whose_certificate():
    with pytest.raises(ValueError, match=r"^the northbound server certificate has no URI subjectAltName"):
        application_uri(certificate(None), "the northbound server certificate")


def test_load_der_pem_and_der_files_give_the_same_bytes(tmp_path: Path):
    cert = certificate("urn:a")
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    (tmp_path / "c.der").write_bytes(cert.public_bytes(Encoding.DER))
    assert load_der(tmp_path / "c.pem") == load_der(tmp_path / "c.der") == cert.public_bytes(Encoding.DER)


def test_der_of_anything_else_is_empty():
    assert der_of(None) == b"" and der_of("not a certificate") == b""


def test_first_certificate_short_der_and_empty_unchanged():
    der = der_of(certificate("urn:a"))  # an EC certificate is shorter than the two-byte-length case
    assert first_certificate(der) == der and first_certificate(None) == b"" and first_certificate(b"") == b""


def test_first_certificate_of_a_chain_is_the_leading_one():
    leading = b"\x30\x82\x00\x03abc"
    assert first_certificate(leading + b"\x30\x82\x00\x01z") == leading


def test_thumbprint_is_sha1_as_openssl_prints_it():
    assert thumbprint(b"abc") == "sha1:A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D"
