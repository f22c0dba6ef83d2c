"""The secrets the shipped example configs publish, so a plant never goes live on them.

The example configs in `plant_configs/` carry tokens and passwords printed in their own comments and in
the docs: anyone who read them can drive the AI API or the HMI. `otgate check-config` warns about them and
`otgate run` refuses them unless told `--allow-demo-secrets` (demos and tests only).

Token checks are exact (SHA-256 of the known demo tokens). Operator password hashes are salted, so the
shell verifies each hash against the known demo passwords (`otgate.deploy.credentials`); this module only
names them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from otgate.core.config import PlantConfig

DEMO_PLANTS = ("tank", "cstr", "ricker")
DEMO_TOKENS = ("demo-metrics-token", *(f"demo-{plant}-engine-token" for plant in DEMO_PLANTS))
DEMO_PASSWORDS = ("demo-operator", "demo-engineer", "demo-viewer")


@dataclass(frozen=True)
class DemoSecret:
    where: str  # the config path of the secret, e.g. `engines.optimizer.token_sha256`
    what: str  # which published secret it is


def token_line(token: str) -> str:
    """The config value for a bearer token: `sha256:` and the hex digest of its UTF-8 bytes."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


_DEMO_TOKEN_LINES = {token_line(token): token for token in DEMO_TOKENS}


def find_demo_tokens(config: PlantConfig) -> list[DemoSecret]:
    """Every engine or metrics token hash in the config that is one of the published demo tokens."""
    found = []
    metrics = config.gateway.metrics_token_sha256
    if metrics in _DEMO_TOKEN_LINES:
        found.append(DemoSecret("gateway.metrics_token_sha256", f'demo token "{_DEMO_TOKEN_LINES[metrics]}"'))
    for name, engine in config.engines.items():
        if engine.token_sha256 in _DEMO_TOKEN_LINES:
            token = _DEMO_TOKEN_LINES[engine.token_sha256]
            found.append(DemoSecret(f"engines.{name}.token_sha256", f'demo token "{token}"'))
    return found
