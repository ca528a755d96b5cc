"""The base of catalog input shapes (shared by ``schemas`` and ``customisation``)."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from plaza.schemas import Strict as BaseStrict


def has_nul(value: Any) -> bool:
    """Whether any string in ``value`` (nested lists and dicts too) holds a NUL character,
    which PostgreSQL text cannot store: refuse it as invalid input, never a 500."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class Strict(BaseStrict):
    """Refuses NUL characters too: PostgreSQL text cannot store them."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if has_nul(data):
            raise ValueError("text cannot contain NUL characters")
        return data
