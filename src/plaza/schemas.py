"""The base of every API input shape: unknown fields are refused (a typo is an error, not
a silently ignored field) and surrounding whitespace is trimmed from strings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
