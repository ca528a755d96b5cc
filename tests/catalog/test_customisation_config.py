"""Configurations: constraint logic, text rules, pricing, the public quote endpoint, and
a property test that whatever the validator accepts satisfies the whole spec."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from plaza.catalog.customisation import (
    CustomisationSpec,
    GroupKind,
    check_spec,
    configure,
    digest,
    evaluate,
)
from plaza.errors import ProblemError
from tests.catalog.test_customisation_spec import SNEAKER, spec
from tests.catalog_helpers import create_product

CHECKED = check_spec(CustomisationSpec.model_validate(SNEAKER))


def violations(selections: dict[str, Any], s: CustomisationSpec = CHECKED) -> list[dict[str, Any]]:
    return [v.to_dict() for v in evaluate(s, selections)[1]]


def test_a_valid_configuration_is_canonical() -> None:
    canonical, found = evaluate(
        CHECKED, {"engraving": "  anna  b ", "laces": ["red", "white"], "sole": "black"}
    )
    assert found == []
    assert canonical == {"sole": "black", "laces": ["white", "red"], "engraving": "ANNA B"}
    assert list(canonical) == ["sole", "laces", "engraving"]  # spec order


def test_equal_configurations_have_equal_digests() -> None:
    a, _ = evaluate(CHECKED, {"sole": "black", "laces": ["red", "white"], "engraving": "anna"})
    b, _ = evaluate(CHECKED, {"engraving": "ANNA ", "sole": "black", "laces": ["white", "red"]})
    c, _ = evaluate(CHECKED, {"sole": "black", "laces": ["white", "red"], "engraving": "ANNE"})
    assert digest(a) == digest(b) != digest(c)
    assert len(digest(a)) == 64


def test_requires_names_the_violated_constraint() -> None:
    (v,) = violations({"sole": "gum", "laces": ["red"]})
    assert v == {
        "group": "sole",
        "option": "gum",
        "constraint": {"kind": "requires", "if": "sole.gum", "then": "laces.white"},
        "message": "Sole colour: Gum requires Laces: White",
    }


def test_excludes_names_the_violated_constraint() -> None:
    (v,) = violations({"sole": "white", "engraving": "ANNA"})
    assert v["constraint"] == {"kind": "excludes", "if": "engraving", "then": "sole.white"}
    assert v["group"] == "engraving" and "option" not in v
    assert "cannot be combined with" in v["message"]


def test_required_groups() -> None:
    (v,) = violations({"laces": ["white"]})
    assert v == {"group": "sole", "message": "Sole colour: required"}
    required_multi = spec()
    required_multi["groups"][1]["required"] = True
    checked = check_spec(CustomisationSpec.model_validate(required_multi))
    assert [v["group"] for v in violations({"sole": "black", "laces": []}, checked)] == ["laces"]


@pytest.mark.parametrize(
    ("laces", "words"),
    [
        (["white", "red", "glow"], "choose 1 to 2 options (got 3)"),
        (["white", "white"], "chosen twice"),
        (["glow"], "Glow is not available"),
        (["pink"], "no such option"),
        ("red", "expects a list"),
    ],
)
def test_multi_rules(laces: Any, words: str) -> None:
    found = violations({"sole": "black", "laces": laces})
    assert any(words in v["message"] and v["group"] == "laces" for v in found), found


def test_multi_minimum_when_chosen() -> None:
    raw = spec()
    raw["groups"][1].update(min_selections=2, max_selections=3)
    raw["groups"][1]["options"][2]["available"] = True
    checked = check_spec(CustomisationSpec.model_validate(raw))
    assert violations({"sole": "black"}, checked) == []  # optional: none is fine
    (v,) = violations({"sole": "black", "laces": ["red"]}, checked)
    assert "choose 2 to 3 options" in v["message"]


def test_choice_rules() -> None:
    assert violations({"sole": ["black"]})[0]["message"] == "Sole colour: choose one option"
    assert violations({"sole": "pink"})[0] == {
        "group": "sole",
        "option": "pink",
        "message": "Sole colour: no such option",
    }
    assert violations({"sole": "black", "heel": "red"}) == [
        {"group": "heel", "message": "unknown option group"}
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ABCDEFGHIJKLM", "at most 12 characters (got 13)"),
        ("ANNA!", "character 5 is not allowed (letters, digits, space only)"),
        ("AN\tNA\u200b", "character 6 is not allowed"),
        (["ANNA"], "expects text"),
    ],
)
def test_text_rules(text: Any, words: str) -> None:
    (v,) = violations({"sole": "black", "engraving": text})
    assert v["group"] == "engraving" and words in v["message"], v


def test_text_charsets_and_extra_characters() -> None:
    raw = {
        "groups": [
            {
                "code": "name",
                "label": "Name",
                "kind": "text",
                "min_length": 2,
                "max_length": 10,
                "charset": ["ascii_letters", "punctuation"],
                "extra_characters": "♥",
            }
        ]
    }
    checked = check_spec(CustomisationSpec.model_validate(raw))
    assert violations({"name": "Ann-Marie♥"}, checked) == []
    assert "not allowed" in violations({"name": "Zoë"}, checked)[0]["message"]
    assert "at least 2" in violations({"name": "Z"}, checked)[0]["message"]
    unicode = check_spec(
        CustomisationSpec.model_validate(
            {"groups": [{**raw["groups"][0], "charset": ["letters"], "case": "lower"}]}
        )
    )
    canonical, found = evaluate(unicode, {"name": "ZOË"})
    assert found == [] and canonical == {"name": "zoë"}
    assert evaluate(unicode, {"name": "   "}) == ({}, [])  # blank text: not given


def test_pricing_adds_the_deltas_in_the_currency() -> None:
    selections = {"sole": "black", "laces": ["white", "red"], "engraving": "anna"}
    eur = configure(CHECKED, selections, currency="EUR", base_amount=9900)
    assert (eur.base_amount, eur.options_amount, eur.unit_amount) == (9900, 1600, 11500)
    assert [(b.group, b.amount, b.display) for b in eur.breakdown] == [
        ("sole", 500, "Black"),
        ("laces", 200, "White, Red"),
        ("engraving", 900, "“ANNA”"),
    ]
    assert eur.lead_time_days == 10 and eur.made_to_order
    assert eur.production_note.startswith("MADE TO ORDER, 10 day(s) lead time.")
    assert "Heel tab engraving [engraving]: “ANNA”" in eur.production_note
    usd = configure(CHECKED, selections, currency="USD", base_amount=10900)
    assert usd.unit_amount == 10900 + 600 + 250 + 1000


def test_an_option_without_the_currency_is_a_problem() -> None:
    with pytest.raises(ProblemError) as exc:
        configure(CHECKED, {"sole": "gum", "laces": ["white"]}, currency="USD", base_amount=1)
    assert exc.value.kind.slug == "configuration-price-unavailable"
    assert exc.value.extensions == {
        "currency": "USD",
        "options": [{"group": "sole", "option": "gum"}],
    }
    # Options without deltas are free in every currency.
    free = configure(CHECKED, {"sole": "white"}, currency="JPY", base_amount=1000)
    assert free.unit_amount == 1000 and free.summary == "Sole colour: White"


def test_a_negative_total_is_refused() -> None:
    raw = spec()
    raw["groups"][0]["options"][0]["price_delta"] = {"EUR": -5000}
    checked = check_spec(CustomisationSpec.model_validate(raw))
    assert configure(checked, {"sole": "white"}, currency="EUR", base_amount=6000).unit_amount == (
        1000
    )
    with pytest.raises(ProblemError) as exc:
        configure(checked, {"sole": "white"}, currency="EUR", base_amount=4000)
    assert exc.value.kind.slug == "configuration-invalid"


def test_configuration_invalid_lists_every_violation() -> None:
    with pytest.raises(ProblemError) as exc:
        configure(CHECKED, {"laces": ["glow"], "engraving": "!"}, currency="EUR", base_amount=1)
    assert exc.value.kind.slug == "configuration-invalid"
    assert {v["group"] for v in exc.value.extensions["violations"]} == {
        "laces",
        "engraving",
        "sole",
    }
    assert "(and 2 more)" in exc.value.detail


# ------------------------------------------------------------------ quote API


@pytest.fixture
def sneaker(client, factory, db) -> tuple[uuid.UUID, list[uuid.UUID]]:  # type: ignore[no-untyped-def]
    shop = factory.merchant()
    product_id, variant_ids = create_product(
        db,
        shop.id,
        variants=[
            {"options": {"size": "42"}, "prices": {"EUR": 9900, "USD": 10900}},
            {"options": {"size": "43"}, "prices": {"EUR": 9900}},
        ],
    )
    r = client.put(
        f"/merchants/{shop.id}/products/{product_id}/customisation",
        json=SNEAKER,
        headers=shop.admin.headers,
    )
    assert r.status_code == 200, r.text
    return product_id, variant_ids


def _quote(client, product_id, body):  # type: ignore[no-untyped-def]
    return client.post(f"/products/{product_id}/configurations/quote", json=body)


def test_quote(client, sneaker):  # type: ignore[no-untyped-def]
    product_id, (v42, _) = sneaker
    body = {
        "variant_id": str(v42),
        "currency": "USD",
        "configuration": {"selections": {"sole": "black", "laces": ["red"], "engraving": "Anna"}},
    }
    r = _quote(client, product_id, body)
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["unit_amount"] == 10900 + 600 + 250 + 1000 and q["base_amount"] == 10900
    assert q["selections"] == {"sole": "black", "laces": ["red"], "engraving": "ANNA"}
    assert q["digest"] == digest(q["selections"])
    assert q["made_to_order"] is True and q["lead_time_days"] == 10
    assert q["product_id"] == str(product_id) and q["title"].endswith("42")


def test_quote_problems(client, sneaker, factory, db):  # type: ignore[no-untyped-def]
    product_id, (v42, v43) = sneaker
    bad = _quote(
        client,
        product_id,
        {
            "variant_id": str(v42),
            "configuration": {"selections": {"sole": "gum", "laces": ["red"]}},
        },
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["type"] == "/problems/configuration-invalid"
    assert bad.json()["violations"][0]["constraint"]["then"] == "laces.white"
    # The variant is not priced in USD at all: the catalog's own problem.
    unpriced = _quote(
        client,
        product_id,
        {"variant_id": str(v43), "currency": "USD", "configuration": {"selections": {}}},
    )
    assert unpriced.json()["type"] == "/problems/price-unavailable"
    # A variant of another product, an unknown product.
    plain_id, (plain_variant,) = create_product(db, factory.merchant().id)
    assert _quote(client, product_id, {"variant_id": str(plain_variant)}).status_code == 404
    assert _quote(client, uuid.uuid4(), {"variant_id": str(v42)}).status_code == 404
    not_customisable = _quote(client, plain_id, {"variant_id": str(plain_variant)})
    assert not_customisable.json()["type"] == "/problems/product-not-customisable"
    # Shape errors are validation errors.
    for body in (
        {"variant_id": str(v42), "configuration": {"selections": {"sole": 3}}},
        {"variant_id": str(v42), "configuration": {"choices": {}}},
        {"variant_id": str(v42), "currency": "XXX"},
        {"variant_id": str(v42), "configuration": {"selections": {"engraving": "x" * 201}}},
    ):
        r = _quote(client, product_id, body)
        assert r.status_code == 422 and r.json()["type"] == "/problems/validation-error", body


def test_draft_products_cannot_be_quoted(client, factory, db):  # type: ignore[no-untyped-def]
    shop = factory.merchant()
    product_id, (variant_id,) = create_product(db, shop.id, status="draft")
    client.put(
        f"/merchants/{shop.id}/products/{product_id}/customisation",
        json=SNEAKER,
        headers=shop.admin.headers,
    )
    assert _quote(client, product_id, {"variant_id": str(variant_id)}).status_code == 404


# ------------------------------------------------------------- property test

CODES = ["a", "b", "c", "d"]


@st.composite
def specs(draw: st.DrawFn) -> CustomisationSpec:
    groups = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(list(GroupKind)))
        group: dict[str, Any] = {
            "code": f"g{i}",
            "label": f"Group {i}",
            "kind": kind.value,
            "required": draw(st.booleans()),
        }
        if kind == GroupKind.TEXT:
            group["max_length"] = draw(st.integers(1, 6))
            group["charset"] = draw(
                st.lists(
                    st.sampled_from(["ascii_letters", "digits", "space"]), min_size=1, unique=True
                )
            )
        else:
            n = draw(st.integers(1, 4))
            group["options"] = [
                {"code": c, "label": c.upper(), "available": draw(st.booleans() | st.just(True))}
                for c in CODES[:n]
            ]
            if kind == GroupKind.MULTI:
                lo = draw(st.integers(0, n))
                group["min_selections"] = lo
                group["max_selections"] = draw(st.integers(max(lo, 1), n))
        groups.append(group)
    refs = [
        [g["code"], *(f"{g['code']}.{o['code']}" for o in g.get("options", []))] for g in groups
    ]
    constraints = []
    if len(groups) > 1:
        for _ in range(draw(st.integers(0, 5))):
            i, j = draw(
                st.lists(st.integers(0, len(groups) - 1), min_size=2, max_size=2, unique=True)
            )
            constraints.append(
                {
                    "kind": draw(st.sampled_from(["requires", "excludes"])),
                    "if": draw(st.sampled_from(refs[i])),
                    "then": draw(st.sampled_from(refs[j])),
                }
            )
    raw = {"groups": groups, "constraints": constraints}
    try:
        return check_spec(CustomisationSpec.model_validate(raw))
    except ProblemError:
        assume(False)
        raise


RARELY = st.sampled_from([False] * 9 + [True])
CHARS = {"letters": "aé", "ascii_letters": "ab", "digits": "1", "space": " "}


@st.composite
def configurations(draw: st.DrawFn, s: CustomisationSpec) -> dict[str, Any]:
    """Mostly plausible choices (so many pass and the constraints decide), some junk."""
    out: dict[str, Any] = {}
    for g in s.groups:
        if not (draw(st.booleans()) or (g.required and not draw(RARELY))):
            continue
        junk = draw(RARELY)
        available = [o.code for o in g.options if o.available] or CODES
        if g.kind == GroupKind.TEXT:
            chars = "ab1 !" if junk else "".join(CHARS[c] for c in g.charset or [])
            size = (g.max_length or 1) + junk
            out[g.code] = draw(st.text(alphabet=chars, min_size=1, max_size=size))
        elif g.kind == GroupKind.CHOICE:
            out[g.code] = draw(st.sampled_from([*CODES, "zz"] if junk else available))
        elif junk:
            out[g.code] = draw(st.lists(st.sampled_from(CODES), max_size=4))
        else:
            lo, hi = max(g.min_selections or 0, 1), g.max_selections or 1
            out[g.code] = draw(
                st.lists(
                    st.sampled_from(available),
                    min_size=min(lo, len(available)),
                    max_size=min(hi, len(available)),
                    unique=True,
                )
            )
    if draw(RARELY):
        out["stray"] = "x"
    return out


def _holds(ref: str, canonical: dict[str, Any]) -> bool:
    group, _, option = ref.partition(".")
    value = canonical.get(group)
    if not value:
        return False
    return not option or option == value or (isinstance(value, list) and option in value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_accepted_configurations_satisfy_the_whole_spec(data: st.DataObject) -> None:
    s = data.draw(specs())
    selections = data.draw(configurations(s))
    canonical, found = evaluate(s, selections)
    if found:
        return
    groups = {g.code: g for g in s.groups}
    assert set(selections) <= set(groups)
    for c in s.constraints:
        if c.kind.value == "requires" and _holds(c.if_, canonical):
            assert _holds(c.then, canonical), (c, canonical)
        if c.kind.value == "excludes":
            assert not (_holds(c.if_, canonical) and _holds(c.then, canonical)), (c, canonical)
    for g in s.groups:
        value = canonical.get(g.code)
        if g.required:
            assert value, g.code
        if value is None:
            continue
        if g.kind == GroupKind.TEXT:
            assert isinstance(value, str) and 0 < len(value) <= (g.max_length or 0)
            assert value == " ".join(value.split())
            continue
        picked = [value] if isinstance(value, str) else value
        available = {o.code for o in g.options if o.available}
        assert set(picked) <= available
        if g.kind == GroupKind.CHOICE:
            assert isinstance(value, str)
        else:
            assert len(set(picked)) == len(picked)
            assert max(g.min_selections or 0, 1) <= len(picked) <= (g.max_selections or 0)
    # And it prices: no deltas in these specs, so the unit price is the base price.
    assert configure(s, selections, currency="EUR", base_amount=100).unit_amount == 100


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_sneaker_configurations_either_pass_or_name_a_group(data: st.DataObject) -> None:
    selections = data.draw(configurations(CHECKED))
    canonical, found = evaluate(CHECKED, selections)
    for v in found:
        assert v.group in {g.code for g in CHECKED.groups} | set(selections)
        assert v.message
    if not found:
        assert digest(canonical) == digest(evaluate(CHECKED, canonical)[0])
