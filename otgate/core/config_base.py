"""What every part of the plant config shares: the frozen, strict model base and the value types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

TAG_NAME = r"^[A-Za-z][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*$"
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
TagName = Annotated[str, Field(pattern=TAG_NAME, max_length=64)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


SHA256_HEX = r"^sha256:[0-9a-f]{64}$"
