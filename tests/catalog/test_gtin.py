"""GS1 GTIN check digits: property tests on the validator and through the API."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plaza.catalog.gtin import check_digit, is_valid_gtin, normalise_gtin
from tests.core.helpers import problem

from .conftest import counts, product_body

# A few real GTINs (GS1's own examples and retail barcodes).
KNOWN_VALID = ["4006381333931", "036000291452", "96385074", "00012345600012", "5901234123457"]


@st.composite
def gtins(draw: st.DrawFn) -> str:
    length = draw(st.sampled_from([8, 12, 13, 14]))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    return body + str(check_digit(body))


@pytest.mark.parametrize("value", KNOWN_VALID)
def test_known_gtins(value):
    assert is_valid_gtin(value)
    assert normalise_gtin(value) == value.zfill(14)


@given(gtins())
def test_valid_gtins_normalise_to_14_digits(value):
    assert is_valid_gtin(value)
    out = normalise_gtin(value)
    assert len(out) == 14 and out.endswith(value) and set(out[: 14 - len(value)]) <= {"0"}
    assert normalise_gtin(out) == out  # idempotent


@given(gtins(), st.data())
def test_any_single_digit_error_is_caught(value, data):
    i = data.draw(st.integers(0, len(value) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != value[i]]))
    corrupted = value[:i] + wrong + value[i + 1 :]
    assert not is_valid_gtin(corrupted)
    with pytest.raises(ValueError, match="check digit"):
        normalise_gtin(corrupted)


@given(gtins(), st.data())
def test_adjacent_transpositions_are_caught(value, data):
    i = data.draw(st.integers(0, len(value) - 2))
    a, b = value[i], value[i + 1]
    # Mod-10 with weights 3/1 misses only swaps of digits that differ by 5 (GS1 documents it).
    if a == b or abs(int(a) - int(b)) == 5:
        return
    swapped = value[:i] + b + a + value[i + 2 :]
    assert not is_valid_gtin(swapped)


@given(st.text(max_size=20))
def test_arbitrary_text_never_crashes(value):
    valid = is_valid_gtin(value)
    if not valid:
        with pytest.raises(ValueError):
            normalise_gtin(value)


@pytest.mark.parametrize(
    "value", ["1234567", "123456789", "12345678901", "abcdefgh", "4006381333932"]
)
def test_bad_lengths_and_digits(value):
    assert not is_valid_gtin(value)


def test_api_stores_gtin_14_and_refuses_bad_check_digit(client, db, merchant):
    body = product_body()
    body["variants"][0]["gtin"] = "96385074"
    r = client.post(f"/merchants/{merchant.id}/products", json=body, headers=merchant.admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["variants"][0]["gtin"] == "00000096385074"
    pid = r.json()["id"]

    before = counts(db, merchant.id)
    bad = {"sku": "BAD-GTIN", "gtin": "96385075", "options": {"size": "L"}}
    p = problem(
        client.post(
            f"/merchants/{merchant.id}/products/{pid}/variants",
            json=bad,
            headers=merchant.admin.headers,
        ),
        422,
        "invalid-gtin",
    )
    assert "check digit" in p["detail"]
    assert counts(db, merchant.id) == before

    # The same GTIN written as GTIN-14 is the same item: taken.
    dup = {"sku": "DUP-GTIN", "gtin": "00000096385074", "options": {"size": "L"}}
    problem(
        client.post(
            f"/merchants/{merchant.id}/products/{pid}/variants",
            json=dup,
            headers=merchant.admin.headers,
        ),
        409,
        "gtin-taken",
    )
    assert counts(db, merchant.id) == before


def test_gtin_can_be_cleared_and_reused_elsewhere(client, merchant, other):
    body = product_body()
    body["variants"][0]["gtin"] = "4006381333931"
    r = client.post(f"/merchants/{merchant.id}/products", json=body, headers=merchant.admin.headers)
    vid = r.json()["variants"][0]["id"]
    # Another merchant may carry the same item (GTINs are unique per merchant only).
    body2 = product_body()
    body2["variants"][0]["gtin"] = "4006381333931"
    r2 = client.post(f"/merchants/{other.id}/products", json=body2, headers=other.admin.headers)
    assert r2.status_code == 201, r2.text
    r3 = client.patch(
        f"/merchants/{merchant.id}/variants/{vid}",
        json={"gtin": None},
        headers=merchant.admin.headers,
    )
    assert r3.status_code == 200 and r3.json()["gtin"] is None
