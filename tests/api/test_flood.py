"""A rogue engine's bounded flood changes nothing for a well-behaved engine, and the gateway stays bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.flood import Size, scenario


@pytest.mark.requirement("R-44", "R-45")
async def test_rogue_flood_leaves_the_good_engines_decisions_unchanged(tmp_path: Path):
    size = Size(samples=30, connections=8, flood_requests=2_000, flood_s=30.0)
    alone = await scenario(size, flooded=False, data_dir=tmp_path / "alone")
    flooded = await scenario(size, flooded=True, data_dir=tmp_path / "flooded")
    assert flooded["verdicts"] == alone["verdicts"]
    assert set(alone["verdicts"]) <= {"accepted", "rejected"}
    # The rogue's bucket, not the gateway, absorbed it: at most its burst plus its rate over the simulated
    # seconds of the run got through; everything else was turned away with 429.
    assert sum(flooded["statuses"].values()) == size.flood_requests
    assert flooded["statuses"].get(429, 0) >= size.flood_requests - (40 + 20 * size.samples)
    assert flooded["statuses"].get(500, 0) == 0
    assert flooded["rss_growth_kib"] < 50 * 1024  # A10: less than 50 MB
