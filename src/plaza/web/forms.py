"""Parsing what people type into forms: amounts, whole numbers and JSON, each refusing
bad input with a message (never an exception that becomes a 500).

Form fields arrive as text of any shape: "1e999999" overflows ``Decimal`` arithmetic,
"sNaN" is a signalling NaN, "²" passes ``str.isdigit`` but not ``int``, and deeply nested
JSON exhausts the recursion limit. Every page parses through these."""

from __future__ import annotations

import json
import re
from typing import Any

from plaza.money import minor_unit_exponent
from plaza.security.inputs import too_deep

MAX_AMOUNT = 10**12  # minor units; more is a typing mistake
_AMOUNT = re.compile(r"[0-9]{1,13}(?:[.,][0-9]{1,4})?")
_INT = re.compile(r"[+-]?[0-9]{1,12}")


def parse_amount(raw: str | None, currency: str, *, allow_zero: bool = True) -> int | None:
    """``"12.50"`` (or ``"12,50"``) in ``currency`` as minor units; ``None`` when empty.
    ValueError with a message for people when it is not an amount in that currency."""
    text = (raw or "").strip()
    if not text:
        return None
    if not _AMOUNT.fullmatch(text):
        raise ValueError("enter an amount such as 25 or 19.99")
    whole, _, fraction = text.replace(",", ".").partition(".")
    exp = minor_unit_exponent(currency)
    if len(fraction.rstrip("0")) > exp:
        raise ValueError(f"{currency} amounts have at most {exp} decimal places")
    minor = int(whole) * 10**exp + int((fraction + "0" * exp)[:exp] or 0)
    if minor > MAX_AMOUNT:
        raise ValueError("the amount is too large")
    if minor == 0 and not allow_zero:
        raise ValueError("enter an amount above zero")
    return minor


def parse_int(raw: str | None, *, lo: int | None = None, hi: int | None = None) -> int | None:
    """A whole number in ASCII digits within ``lo``..``hi``; ``None`` when empty or not one."""
    text = (raw or "").strip()
    if not _INT.fullmatch(text):
        return None
    value = int(text)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return None
    return value


def parse_json(raw: str, *, max_depth: int) -> Any:
    """JSON typed into a textarea, nested at most ``max_depth`` deep (as the API allows).
    ValueError (``json.JSONDecodeError`` keeps line and column) when it is not."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise ValueError(f"the JSON is nested deeper than {max_depth} levels") from None
    if too_deep(value, max_depth):
        raise ValueError(f"the JSON is nested deeper than {max_depth} levels")
    return value


__all__ = ["MAX_AMOUNT", "parse_amount", "parse_int", "parse_json"]
