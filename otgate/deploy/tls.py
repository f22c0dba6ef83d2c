"""TLS for the two HTTP listeners: the config's certificate, key and optional client CA as uvicorn's
settings. Python's `ssl` does the work; this only resolves paths and picks the client-certificate mode."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from otgate.core.config import ListenerTls


def _resolve(path: str, base: Path) -> str:
    candidate = Path(path)
    return str(candidate if candidate.is_absolute() else base / candidate)


def uvicorn_tls_options(tls: ListenerTls | None, base: Path) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.Config`: none for plain HTTP. With a client CA, a client without a
    certificate it signed fails the handshake (CERT_REQUIRED), so no request of it is ever parsed."""
    if tls is None:
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": _resolve(tls.certificate, base),
        "ssl_keyfile": _resolve(tls.private_key, base),
    }
    if tls.client_ca is not None:
        options["ssl_ca_certs"] = _resolve(tls.client_ca, base)
        options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
    return options
