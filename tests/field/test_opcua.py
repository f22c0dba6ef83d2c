"""OPC UA adapter specifics: the adapter refuses an unencrypted link the configuration did not ask for."""

from __future__ import annotations

import pytest

from otgate.core.config import OpcUaConnection, OpcUaSecurityPolicy
from otgate.field.opcua import OpcUaLink
from tests.field.harness import tank_config


def test_opcua_link_security_none_without_allow_insecure_refused() -> None:
    plc = tank_config().plcs["plc1"]
    # model_construct skips the config model's own check: the adapter must refuse on its own.
    insecure = OpcUaConnection.model_construct(
        endpoint="opc.tcp://127.0.0.1:4840/x", security_policy=OpcUaSecurityPolicy.NONE, allow_insecure=False
    )
    with pytest.raises(ValueError, match="allow_insecure"):
        OpcUaLink(plc.model_copy(update={"opcua": insecure}), tank_config().tags)


def test_opcua_link_needs_opcua_section() -> None:
    plc = tank_config().plcs["plc1"].model_copy(update={"opcua": None})
    with pytest.raises(ValueError, match="opcua"):
        OpcUaLink(plc, {})
