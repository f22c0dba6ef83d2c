"""The fake's own knobs, beyond what the contract suite drives."""

from __future__ import annotations

import math

import pytest

from otgate.field.fake import FakeLink, FakeWrite
from otgate.field.link import FieldLink, LinkDown
from tests.field.harness import tank_config


@pytest.fixture
def fake() -> FakeLink:
    return FakeLink(tank_config().tags, {"LIT-101": math.nan, "FT-101": 2.5, "LIC-101.RSP": 600.0})


def test_fake_is_a_field_link(fake: FakeLink) -> None:
    assert isinstance(fake, FieldLink)


async def test_fake_non_finite_or_bad_quality_reported_bad(fake: FakeLink) -> None:
    fake.bad.add("FT-101")
    reading = await fake.read(["LIT-101", "FT-101", "LIC-101.RSP"])
    assert reading.values == {"LIC-101.RSP": 600.0}
    assert reading.bad == {"LIT-101", "FT-101"}


async def test_fake_write_log_records_applied_ignored_and_refused(fake: FakeLink) -> None:
    await fake.write("LIC-101.RSP", 610.0)
    fake.ignore_writes.add("LIC-101.RSP")
    assert await fake.write("LIC-101.RSP", 620.0) == 610.0
    assert fake.writes == [FakeWrite("LIC-101.RSP", 610.0, True), FakeWrite("LIC-101.RSP", 620.0, False)]


async def test_fake_down_then_up_reconnects_on_next_read(fake: FakeLink) -> None:
    await fake.connect()
    fake.down = True
    with pytest.raises(LinkDown):
        await fake.connect()
    assert not fake.is_connected
    fake.down = False
    await fake.read(["FT-101"])
    assert fake.is_connected
    assert fake.connects == 2
