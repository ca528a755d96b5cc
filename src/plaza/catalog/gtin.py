"""GS1 GTIN validation: GTIN-8/12/13/14 with the mod-10 check digit, stored as GTIN-14."""

from __future__ import annotations

GTIN_LENGTHS = (8, 12, 13, 14)


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body`` (all digits but the last).

    Weights alternate 3, 1, 3, … from the rightmost body digit, so left-padding with
    zeros (GTIN-8 → GTIN-14) never changes the result.
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_valid_gtin(value: str) -> bool:
    return (
        value.isascii()
        and value.isdigit()
        and len(value) in GTIN_LENGTHS
        and check_digit(value[:-1]) == int(value[-1])
    )


def normalise_gtin(value: str) -> str:
    """Validate and left-pad to 14 digits; raises ``ValueError`` naming the fault."""
    if not (value.isascii() and value.isdigit()):
        raise ValueError("a GTIN has digits only")
    if len(value) not in GTIN_LENGTHS:
        raise ValueError("a GTIN has 8, 12, 13 or 14 digits")
    if check_digit(value[:-1]) != int(value[-1]):
        raise ValueError("the GTIN check digit is wrong")
    return value.zfill(14)
