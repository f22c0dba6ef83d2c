"""TLS on the AI API and the HMI: a real TLS client, plain HTTP refused, client certificates for engines."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from otgate.config.loader import LoadedConfig, load_config_file
from otgate.core.config import ListenerTls
from otgate.field.fake import FakeLink
from otgate.host.service import GatewayService
from tests.conftest import PLANT_CONFIGS, REMOTE_PLC
from tests.deploy.certs import Pki, make_pki


@asynccontextmanager
async def tls_service(tmp_path: Path, pki: Pki, *, client_ca: bool) -> AsyncIterator[GatewayService]:
    loaded = load_config_file(PLANT_CONFIGS / "tank.yaml")
    # Relative names: the files are found next to the config file, as in a site's /etc/otgate/.
    tls = ListenerTls(certificate=pki.server_cert.name, private_key=pki.server_key.name)
    api_tls = tls.model_copy(update={"client_ca": pki.ca.name}) if client_ca else tls
    settings = loaded.config.gateway
    gateway = settings.model_copy(
        update={
            "api": settings.api.model_copy(update={"tls": api_tls}),
            "hmi": settings.hmi.model_copy(update={"tls": tls}),
        }
    )
    config = loaded.config.model_copy(update={"gateway": gateway})
    located = LoadedConfig(config, pki.ca.parent / "tank.yaml", loaded.sha256)
    fake = FakeLink(config.tags, REMOTE_PLC)
    service = GatewayService(located, tmp_path / "data", links={"plc1": fake}, api_port=0, hmi_port=0)
    async with service:
        yield service


def trusting(pki: Pki, *, with_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if with_client_cert:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


async def test_tls_listeners_https_answers_and_plain_http_refused(tmp_path: Path):
    pki = make_pki(tmp_path)
    async with tls_service(tmp_path, pki, client_ca=False) as service:
        assert service.api_url.startswith("https://") and service.hmi_url.startswith("https://")
        async with httpx.AsyncClient(verify=trusting(pki)) as client:
            assert (await client.get(f"{service.api_url}/healthz")).status_code == 200
            assert (await client.get(f"{service.hmi_url}/hmi")).status_code in (200, 303, 307)
        plain = service.api_url.replace("https://", "http://")
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.TransportError):
                await client.get(f"{plain}/healthz")


async def test_tls_untrusted_server_certificate_rejected_by_client(tmp_path: Path):
    pki = make_pki(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_pki(tmp_path / "other")
    async with (
        tls_service(tmp_path, pki, client_ca=False) as service,
        httpx.AsyncClient(verify=trusting(other)) as client,
    ):
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{service.api_url}/healthz")


async def test_tls_client_ca_engine_without_certificate_refused_with_one_served(tmp_path: Path):
    pki = make_pki(tmp_path)
    token = {"Authorization": "Bearer demo-tank-engine-token"}
    async with tls_service(tmp_path, pki, client_ca=True) as service:
        async with httpx.AsyncClient(verify=trusting(pki), headers=token) as client:
            with pytest.raises(httpx.TransportError):
                await client.get(f"{service.api_url}/v1/tags")
        async with httpx.AsyncClient(verify=trusting(pki, with_client_cert=True), headers=token) as client:
            response = await client.get(f"{service.api_url}/v1/tags")
            assert response.status_code == 200
            assert "LIC-101.RSP" in response.text
        # The HMI has no client CA configured: a browser without a certificate is still served.
        async with httpx.AsyncClient(verify=trusting(pki)) as client:
            assert (await client.get(f"{service.hmi_url}/hmi")).status_code in (200, 303, 307)
