"""`otgate engine run` and `otgate mcp` refuse clearly before doing anything when they cannot work."""

from __future__ import annotations

import pytest

from otgate.cli import main


def test_engine_run_without_token_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv("OTGATE_ENGINE_TOKEN", raising=False)
    assert (
        main(["engine", "run", "otgate.client.demo_engine:DemoEngine", "--gateway", "http://127.0.0.1:9"])
        == 2
    )
    assert "OTGATE_ENGINE_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["nope", "no.such.module:Engine", "otgate.client.demo_engine:Nothing"])
def test_engine_run_bad_engine_refused(
    spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("OTGATE_ENGINE_TOKEN", "t")
    assert main(["engine", "run", spec, "--gateway", "http://127.0.0.1:9"]) == 2
    assert "otgate engine run:" in capsys.readouterr().err


def test_mcp_without_token_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.delenv("OTGATE_ENGINE_TOKEN", raising=False)
    assert main(["mcp", "--gateway", "http://127.0.0.1:9"]) == 2
    assert "OTGATE_ENGINE_TOKEN" in capsys.readouterr().err


def test_mcp_unreachable_gateway_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("OTGATE_ENGINE_TOKEN", "t")
    assert main(["mcp", "--gateway", "http://127.0.0.1:9"]) == 1  # port 9 (discard): nothing listens
    assert "cannot read the engine's tags" in capsys.readouterr().err
