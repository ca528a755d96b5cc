"""Parsing what people type into forms: amounts, whole numbers and JSON, each refusing
bad input with a message (never an exception that becomes a 500).

Form fields arrive as text of any shape: "1e999999" overflows ``Decimal`` arithmetic,
"sNaN" is a signalling NaN, "²" passes ``str.isdigit`` but not ``int``, and deeply nested
JSON exhausts the recursion limit. Every page parses through these."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from plaza.errors import ProblemError
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


# --- reading posted forms ----------------------------------------------------------------------


async def form_data(request: Request) -> FormData:
    """The posted form (urlencoded or multipart), repeated fields included; empty for other
    bodies. Sync handlers depend on this to read the form."""
    return await request.form()


async def short_form_data(request: Request) -> FormData:
    """The posted form with at most 500 fields (the storefront's forms)."""
    return await request.form(max_fields=500)


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's single-valued fields (the CSRF token left out)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def text(
    form: Mapping[str, Any], name: str, limit: int | None = None, *, strip: bool = True
) -> str:
    """One text field: trimmed (unless ``strip`` is false), then cut to ``limit``
    characters; ``""`` when missing or not text (an uploaded file)."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    value = value.strip() if strip else value
    return value if limit is None else value[:limit]


# --- errors shown next to the fields -----------------------------------------------------------

FieldOf = Callable[[tuple[Any, ...]], str]


def first_part(loc: tuple[Any, ...]) -> str:
    """The form field of an error location: its first part (``_form`` for none)."""
    return str(loc[0]) if loc else "_form"


def renamed(names: Mapping[str, str]) -> FieldOf:
    """A ``field_of`` for :func:`field_errors`: the location's first part, renamed by
    ``names`` where the form calls it otherwise."""

    def field_of(loc: tuple[Any, ...]) -> str:
        return names.get(str(loc[0]), str(loc[0])) if loc else "_form"

    return field_of


def _no_label(field: str) -> str | None:
    return None


def labels(
    names: Mapping[str, str], case: Callable[[str], str] = str.capitalize
) -> Callable[[str], str]:
    """A ``label_of`` for :func:`field_errors`: the field's label in ``names``, else its
    name with spaces for underscores, cased by ``case`` (``str.capitalize``, ``str.title``)."""
    return lambda field: names.get(field, case(field.replace("_", " ")))


def clean_message(err: Mapping[str, Any]) -> str:
    """A pydantic error's message without pydantic's "Value error, " prefix."""
    return str(err["msg"]).removeprefix("Value error, ")


def field_errors(
    exc: ValidationError,
    field_of: FieldOf = first_part,
    label_of: Callable[[str], str | None] = _no_label,
    message_of: Callable[[str, Mapping[str, Any]], str] | None = None,
) -> dict[str, str]:
    """A schema's errors as ``{form field: message}``, the first per field (``_form`` for
    the whole form): ``field_of`` maps an error location to its field, ``label_of`` gives
    the label put before the message (none when it answers ``None`` or ``""``) and
    ``message_of`` may reword a message."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        field = field_of(tuple(err["loc"]))
        message = message_of(field, err) if message_of else clean_message(err)
        label = label_of(field)
        errors.setdefault(field, f"{label}: {message}" if label else message)
    return errors


def problem_errors(exc: ProblemError, default: str = "_form") -> dict[str, str]:
    """A service's refusal as form errors: ``errors[].loc`` of a validation problem names
    the field, anything else belongs to ``default`` (the whole form)."""
    out: dict[str, str] = {}
    for err in exc.extensions.get("errors") or []:
        loc = [p for p in err.get("loc", []) if p != "body"]
        out.setdefault(str(loc[0]) if loc else default, str(err.get("msg", exc.detail)))
    return out or {default: exc.detail}


def problem_field(exc: ProblemError, fields: Mapping[str, str], default: str = "_form") -> str:
    """The form field a problem belongs to, by its kind's slug (``fields``: slug → field)."""
    return fields.get(exc.kind.uri.rsplit("/", 1)[-1], default)


def problem_text(exc: ProblemError) -> str:
    """What a refused action says on the page: the problem's title and detail."""
    title = exc.kind.title
    return title if exc.detail in ("", title) else f"{title}: {exc.detail}."


__all__ = [
    "MAX_AMOUNT",
    "clean_message",
    "field_errors",
    "first_part",
    "form_data",
    "form_fields",
    "labels",
    "parse_amount",
    "parse_int",
    "parse_json",
    "problem_errors",
    "problem_field",
    "problem_text",
    "renamed",
    "short_form_data",
    "text",
]
