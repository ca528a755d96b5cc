"""Form parsing never turns odd input into a 500: amounts, whole numbers, JSON."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from plaza.web.forms import parse_amount, parse_int, parse_json

from ..factories import Factory
from .conftest import sign_in_web

ODD = ["1e999999", "sNaN", "NaN", "Infinity", "-5", "²", "1.2.3", "12,5,0", "0x10", " ", "9" * 5000]


@pytest.mark.parametrize("raw", ODD)
def test_odd_amounts_are_refused_with_a_message(raw: str) -> None:
    if not raw.strip():
        assert parse_amount(raw, "EUR") is None
        return
    with pytest.raises(ValueError):
        parse_amount(raw, "EUR")


def test_amounts_in_minor_units() -> None:
    assert parse_amount("12.50", "EUR") == 1250
    assert parse_amount("12,5", "EUR") == 1250
    assert parse_amount("7", "JPY") == 7
    assert parse_amount("19.990", "EUR") == 1999
    with pytest.raises(ValueError, match="decimal places"):
        parse_amount("1.5", "JPY")
    with pytest.raises(ValueError, match="above zero"):
        parse_amount("0", "EUR", allow_zero=False)


@pytest.mark.parametrize("raw", ["²", "--5", "1e3", "", "9" * 5000, "5.0"])
def test_odd_whole_numbers_are_none(raw: str) -> None:
    assert parse_int(raw) is None


def test_whole_numbers_and_bounds() -> None:
    assert parse_int("-2") == -2 and parse_int("+3") == 3
    assert parse_int("11", lo=0, hi=10) is None


def test_deep_json_is_refused_not_crashed() -> None:
    with pytest.raises(ValueError, match="nested deeper"):
        parse_json("[" * 5000 + "]" * 5000, max_depth=32)
    with pytest.raises(ValueError, match="nested deeper"):
        parse_json("[" * 40 + "]" * 40, max_depth=32)
    assert parse_json('{"a": [1]}', max_depth=32) == {"a": [1]}


def test_public_search_with_odd_prices_answers_not_500(web_client: TestClient) -> None:
    for raw in ("1e999999", "sNaN"):
        r = web_client.get("/shop/search", params={"q": "x", "min_price": raw})
        assert r.status_code == 422, raw


def test_back_office_json_fields_refuse_deep_nesting(
    web_client: TestClient, factory: Factory
) -> None:
    merchant = factory.merchant()
    sign_in_web(web_client, merchant.admin.email)
    form = web_client.get(f"/back-office/{merchant.id}/personas/new")
    assert form.status_code == 200
    from .conftest import csrf_of

    r = web_client.post(
        f"/back-office/{merchant.id}/personas/preview",
        data={"csrf_token": csrf_of(form.text), "rule": "[" * 5000 + "]" * 5000},
    )
    assert r.status_code == 422
