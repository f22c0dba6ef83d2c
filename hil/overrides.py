"""Scenario-level changes to the plant config (`overrides:`), validated by the gateway's own schema.

The scenario's `overrides` mapping is merged into `plant_configs/<plant>.yaml` before the gateway starts:

    mappings merge key by key, recursively     overrides: {tags: {TIC-101.RSP: {setpoint: {limits: {hi: 332}}}}}
    any other value replaces the one there     lists included (an engine's `writes`)
    null deletes the key                       overrides: {interlocks: {TAH-101: null}}

The result goes through `PlantConfig.model_validate` with every cross-section check, exactly as a config
file does, so a scenario cannot run a gateway on a config `otgate check-config` would refuse. The one
convenience: an engine may give its bearer `token` in clear; it is replaced by the `token_sha256` the schema
wants (scenario files are test fixtures, and the scripted engine needs the clear token anyway).

Only the gateway's config changes. The simulated PLC keeps the plant's register map and its own logic, as a
real PLC does when an engineer edits the gateway's file.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML

from otgate.core.config import PlantConfig
from otgate_simulator.simulation import CONFIG_DIR


class OverrideError(ValueError):
    """The merged config does not validate; the message names each problem."""


@cache
def _base_tree(plant: str) -> dict[str, Any]:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    tree = yaml.load((CONFIG_DIR / f"{plant}.yaml").read_text(encoding="utf-8"))
    if not isinstance(tree, dict):
        raise OverrideError(f"plant config {plant!r} is not a mapping")
    return tree


def merged(base: Any, change: Any) -> Any:
    """`change` merged into `base` (neither is modified)."""
    if not isinstance(base, dict) or not isinstance(change, dict):
        return change
    out = dict(base)
    for key, value in change.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merged(base.get(key), value)
    return out


def _hash_clear_tokens(tree: dict[str, Any]) -> dict[str, Any]:
    engines = tree.get("engines")
    if not isinstance(engines, dict):
        return tree
    hashed = {}
    for name, engine in engines.items():
        if isinstance(engine, dict) and isinstance(engine.get("token"), str):
            engine = {k: v for k, v in engine.items() if k != "token"}
            engine["token_sha256"] = "sha256:" + hashlib.sha256(engines[name]["token"].encode()).hexdigest()
        hashed[name] = engine
    return {**tree, "engines": hashed}


def overridden_config(plant: str, overrides: dict[str, Any]) -> PlantConfig:
    """The plant's config with `overrides` merged in; raises OverrideError naming every problem."""
    tree = _hash_clear_tokens(merged(_base_tree(plant), overrides))
    try:
        return PlantConfig.model_validate(tree)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<config>'}: {e['msg']}" for e in error.errors()
        )
        raise OverrideError(problems) from None
