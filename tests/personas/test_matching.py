"""Persona matching: which products a customer persona excludes, the bonus it gives the
rest, and how ``rank_for_persona`` blends that with a base score (pure functions)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plaza.catalog.features import ProductFeatures
from plaza.personas.customer.matching import (
    BONUS_WEIGHT,
    filter_for_persona,
    persona_score,
    rank_for_persona,
    sizes_fit,
)
from plaza.personas.models import CustomerPersona, Sustainability

MERCHANT = uuid.uuid4()


def product(
    title: str = "Classic T-Shirt",
    *,
    tags: tuple[str, ...] = (),
    sizes: tuple[str, ...] | None = None,
    colours: tuple[str, ...] | None = None,
    price: int | None = 2500,
    option_name: str = "colour",
    pid: uuid.UUID | None = None,
) -> ProductFeatures:
    options: dict[str, frozenset[str]] = {}
    if sizes is not None:
        options["size"] = frozenset(sizes)
    if colours is not None:
        options[option_name] = frozenset(colours)
    return ProductFeatures(
        id=pid or uuid.uuid4(),
        merchant_id=MERCHANT,
        title=title,
        description="Wrapped in recycled paper. Made of wool.",  # never read by matching
        brand="Brand",
        category="tops",
        tags=tags,
        options=options,
        min_price=price,
    )


def persona(**fields: Any) -> CustomerPersona:
    return CustomerPersona(user_id=uuid.uuid4(), name="me", **fields)


# ---------------------------------------------------------------------------- exclusions


def test_an_empty_persona_excludes_nothing_and_adds_nothing():
    p = persona()  # a transient row: list columns are still None
    assert persona_score(p, product(sizes=("XS",), colours=("Black",), price=None)) == 0.0


@pytest.mark.parametrize(
    ("wanted", "offered", "fits"),
    [
        (["M"], ["S", "M", "L"], True),
        (["m "], ["S", "M"], True),  # case and spacing do not matter
        (["M"], ["XS", "S"], False),
        (["XL", "42"], ["XXL"], False),
        (["3XL"], ["3xl"], True),
        (["M"], [], True),  # no size option: passes
        (["42"], ["S", "M"], True),  # a shoe size says nothing about a T-shirt
        (["42"], ["39-42", "43-46"], True),  # a number inside a range fits
        (["38"], ["43-46"], False),
        (["42.5"], ["42,5"], True),
        (["W32/L34"], ["W32/L34", "W34/L34"], True),
        (["W30/L32"], ["W32/L34"], False),
        (["M"], ["2-person", "3-person"], True),  # a tent's size is another system
    ],
)
def test_size_rule(wanted: list[str], offered: list[str], fits: bool):
    assert sizes_fit(wanted, offered) is fits
    f = product(sizes=tuple(offered)) if offered else product()
    assert (persona_score(persona(sizes=wanted), f) is not None) is fits


def test_colours_exclude_only_when_every_colour_is_avoided():
    p = persona(colours_avoid=["black", "navy"])
    assert persona_score(p, product(colours=("Black",))) is None
    assert persona_score(p, product(colours=("Black", "Navy"))) is None
    assert persona_score(p, product(colours=("Black", "Olive"))) == 0.0
    assert persona_score(p, product(colours=("BLACK",), option_name="color")) is None
    assert persona_score(p, product()) == 0.0  # no colour option


def test_an_avoided_material_in_tags_or_title_excludes():
    p = persona(materials_avoid=["wool"])
    assert persona_score(p, product("Recycled Wool Beanie")) is None
    assert persona_score(p, product("Beanie", tags=("Wool",))) is None
    assert persona_score(p, product("Woolly Beanie")) == 0.0  # whole words only
    # The description mentions wool, but is never read.
    assert persona_score(p, product("Cotton Beanie")) == 0.0
    two_words = persona(materials_avoid=["organic cotton"])
    assert persona_score(two_words, product("Organic Cotton Tee")) is None
    assert persona_score(two_words, product("Organic Hemp Tee with cotton")) == 0.0


def test_budget_excludes_dearer_and_unpriced_products():
    p = persona(budget_amount=3000, budget_currency="EUR")
    assert persona_score(p, product(price=3000)) == 0.0
    assert persona_score(p, product(price=3001)) is None
    assert persona_score(p, product(price=None)) is None  # not priced in EUR


def test_sustainability_only_and_prefer():
    green = product(tags=("recycled",))
    plain = product()
    only = persona(sustainability=Sustainability.ONLY)
    assert persona_score(only, green) == 0.0
    assert persona_score(only, plain) is None
    prefer = persona(sustainability=Sustainability.PREFER)
    assert persona_score(prefer, green) == 1.5
    assert persona_score(prefer, plain) == 0.0


def test_bonus_adds_up():
    p = persona(
        colours_prefer=["olive"],
        styles=["classic", "relaxed", "boxy"],
        materials_prefer=["organic cotton", "hemp", "linen"],
        fit="relaxed",
        sustainability="prefer",
    )
    f = product(
        "Classic Relaxed Boxy Organic Cotton Tee",
        tags=("organic", "hemp", "linen"),
        colours=("Olive", "Black"),
    )
    # colour 1 + styles capped at 2 + materials capped at 2 + fit 0.5 + sustainable 1.5
    assert persona_score(p, f) == 1 + 2 + 2 + 0.5 + 1.5
    assert persona_score(p, product("Plain Tee", colours=("Black",))) == 0.0


# ---------------------------------------------------------------------------- ranking


def test_rank_drops_excluded_and_lifts_preferred():
    a, b, c, d = (uuid.UUID(int=i + 1) for i in range(4))
    features = {
        a: product("Tee", colours=("Black",), pid=a),
        b: product("Tee", colours=("Olive",), pid=b),
        c: product("Tee", colours=("Navy",), pid=c),
        d: product("Tee", colours=("Olive",), pid=d),
    }
    p = persona(colours_avoid=["navy"], colours_prefer=["olive"])
    scores = {a: 1.0, b: 0.96, c: 5.0, d: 0.0}
    ranked = rank_for_persona(p, features, scores)
    assert [pid for pid, _ in ranked] == [b, a, d]  # c excluded; b lifted over a
    top = ranked[0][1]
    assert top == pytest.approx(0.96 + BONUS_WEIGHT)
    assert rank_for_persona(p, features, {}) == []
    # Products without features and non-finite scores are dropped too.
    assert rank_for_persona(p, {}, scores) == []
    assert [x for x, _ in rank_for_persona(p, features, {a: float("nan"), b: 1.0})] == [b]
    assert filter_for_persona(p, features) == [a, b, d]


COLOURS = ["black", "navy", "olive", "sand"]
TAGS = ["recycled", "organic", "wool", "classic", "linen"]
SIZES = ["S", "M", "L", "40", "42"]


@st.composite
def personas(draw: st.DrawFn) -> CustomerPersona:
    avoid = draw(st.lists(st.sampled_from(COLOURS), max_size=3, unique=True))
    return persona(
        sizes=draw(st.lists(st.sampled_from(SIZES), max_size=2, unique=True)),
        colours_avoid=avoid,
        colours_prefer=draw(st.lists(st.sampled_from([c for c in COLOURS if c not in avoid]))),
        materials_avoid=draw(st.lists(st.sampled_from(["wool", "linen"]), max_size=1)),
        materials_prefer=draw(st.lists(st.sampled_from(["organic", "recycled"]), max_size=2)),
        styles=draw(st.lists(st.sampled_from(["classic"]), max_size=1)),
        sustainability=draw(st.sampled_from(list(Sustainability))),
        budget_amount=draw(st.none() | st.integers(1000, 5000)),
        budget_currency="EUR",
    )


@st.composite
def catalogues(draw: st.DrawFn) -> tuple[dict[uuid.UUID, ProductFeatures], dict[uuid.UUID, float]]:
    n = draw(st.integers(0, 12))
    features: dict[uuid.UUID, ProductFeatures] = {}
    scores: dict[uuid.UUID, float] = {}
    for i in range(n):
        pid = uuid.UUID(int=i + 1)
        features[pid] = product(
            "Item",
            tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True))),
            sizes=draw(st.none() | st.lists(st.sampled_from(SIZES), min_size=1).map(tuple)),
            colours=draw(st.none() | st.lists(st.sampled_from(COLOURS), min_size=1).map(tuple)),
            price=draw(st.none() | st.integers(500, 8000)),
            pid=pid,
        )
        scores[pid] = draw(st.floats(-10, 10, allow_nan=False))
    return features, scores


@settings(max_examples=150, deadline=None)
@given(p=personas(), catalogue=catalogues())
def test_ranking_is_a_sorted_permutation_of_the_allowed(
    p: CustomerPersona, catalogue: tuple[dict[uuid.UUID, ProductFeatures], dict[uuid.UUID, float]]
):
    features, scores = catalogue
    ranked = rank_for_persona(p, features, scores)
    ids = [pid for pid, _ in ranked]
    allowed = {pid for pid, f in features.items() if persona_score(p, f) is not None}
    # An excluded product never appears; every allowed one appears exactly once.
    assert sorted(ids) == sorted(allowed)
    combined = [score for _, score in ranked]
    assert combined == sorted(combined, reverse=True)
    for f in features.values():
        bonus = persona_score(p, f)
        assert bonus is None or bonus >= 0


@settings(max_examples=100, deadline=None)
@given(catalogue=catalogues())
def test_without_preferences_the_base_order_stands(
    catalogue: tuple[dict[uuid.UUID, ProductFeatures], dict[uuid.UUID, float]],
):
    features, scores = catalogue
    ranked = [pid for pid, _ in rank_for_persona(persona(), features, scores)]
    assert ranked == sorted(scores, key=lambda pid: (-scores[pid], str(pid)))
