"""The persona rule language: parsing (and its precise errors), dumping, evaluation."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from plaza.errors import ProblemError
from plaza.personas.segments import rules
from plaza.personas.segments.rules import EventFact, Facts

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

YOUNG_URBAN_OUTDOOR: dict[str, Any] = {
    "type": "all",
    "conditions": [
        {"type": "property", "property": "profile.age", "operator": "between", "value": [18, 30]},
        {
            "type": "past_event",
            "event": "purchase",
            "within_days": 90,
            "filter": {"category": ["hiking", "camping"], "merchant": "self"},
        },
        {
            "type": "property",
            "property": "persona.materials_prefer",
            "operator": "contains",
            "value": "recycled",
        },
    ],
}


def invalid(raw: Any) -> dict[str, Any]:
    with pytest.raises(ProblemError) as info:
        rules.parse(raw)
    assert info.value.kind is rules.RULE_INVALID
    assert info.value.status == 422
    body = info.value.to_dict()
    assert isinstance(body["path"], str)
    return body


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def test_parse_builds_a_typed_tree_and_dump_is_canonical():
    tree = rules.parse(YOUNG_URBAN_OUTDOOR)
    assert isinstance(tree, rules.AllOf)
    age, bought, _recycled = tree.conditions
    assert age == rules.PropertyCondition("profile.age", "between", (18, 30))
    assert isinstance(bought, rules.PastEvent) and bought.exists is True
    assert bought.filter == rules.EventFilter(categories=("hiking", "camping"), merchant="self")
    assert rules.dump(tree) == {
        **YOUNG_URBAN_OUTDOOR,
        "conditions": [
            YOUNG_URBAN_OUTDOOR["conditions"][0],
            {**YOUNG_URBAN_OUTDOOR["conditions"][1], "exists": True},
            YOUNG_URBAN_OUTDOOR["conditions"][2],
        ],
    }
    assert rules.parse(rules.dump(tree)) == tree


def test_filters_normalise_case_and_single_values():
    tree = rules.parse(
        {
            "type": "event_count",
            "event": "view",
            "filter": {"category": " Outdoor ", "tag": ["Recycled", "organic"]},
            "operator": "gte",
            "value": 2,
        }
    )
    assert isinstance(tree, rules.EventCount)
    assert tree.filter == rules.EventFilter(categories=("outdoor",), tags=("recycled", "organic"))
    assert rules.dump(tree)["filter"] == {"category": "outdoor", "tag": ["recycled", "organic"]}
    # An empty filter is no filter.
    bare = rules.parse({"type": "past_event", "event": "view", "filter": {}})
    assert isinstance(bare, rules.PastEvent) and bare.filter is None


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        ([], "", "a condition is an object"),
        ({}, "/type", "condition type missing"),
        ({"type": "xor"}, "/type", "'xor'"),
        ({"type": "all", "conditions": []}, "/conditions", "non-empty list"),
        ({"type": "all"}, "", "needs `conditions`"),
        ({"type": "not", "condition": 3}, "/condition", "not an integer"),
        (
            {"type": "all", "conditions": [{"type": "property", "property": "profile.shoe"}]},
            "/conditions/0/property",
            "unknown property 'profile.shoe'",
        ),
        (
            {"type": "property", "property": "profile.age", "operator": "contains", "value": 3},
            "/operator",
            "does not apply to profile.age (integer)",
        ),
        (
            {"type": "property", "property": "profile.age", "operator": "gt", "value": "18"},
            "/value",
            "profile.age is an integer, not a string",
        ),
        (
            {"type": "property", "property": "profile.age", "operator": "gt", "value": 18.5},
            "/value",
            "not a number with a fraction",
        ),
        (
            {"type": "property", "property": "profile.age", "operator": "gt", "value": True},
            "/value",
            "not a boolean",
        ),
        (
            {
                "type": "property",
                "property": "profile.age",
                "operator": "between",
                "value": [30, 18],
            },
            "/value",
            "low <= high",
        ),
        (
            {"type": "property", "property": "profile.age", "operator": "between", "value": [1]},
            "/value",
            "[low, high]",
        ),
        (
            {"type": "property", "property": "profile.age", "operator": "exists", "value": 1},
            "/value",
            "takes no value",
        ),
        (
            {"type": "property", "property": "profile.city", "operator": "equals"},
            "",
            "needs a `value`",
        ),
        (
            {"type": "property", "property": "profile.city", "operator": "in", "value": []},
            "/value",
            "list of 1 to 50",
        ),
        (
            {"type": "property", "property": "profile.city", "operator": "in", "value": ["a", 2]},
            "/value/1",
            "expected a string",
        ),
        (
            {"type": "property", "property": "profile.city", "operator": "equals", "value": ""},
            "/value",
            "1 to 100 characters",
        ),
        (
            {
                "type": "property",
                "property": "persona.sustainability",
                "operator": "equals",
                "value": "sometimes",
            },
            "/value",
            "one of any, prefer, only",
        ),
        (
            {
                "type": "property",
                "property": "profile.city",
                "operator": "equals",
                "value": "x",
                "x": 1,
            },
            "/x",
            "unknown field 'x'",
        ),
        ({"type": "past_event", "event": "click"}, "/event", "event is one of"),
        ({"type": "past_event", "event": "view", "within_days": 0}, "/within_days", "1 to 730"),
        ({"type": "past_event", "event": "view", "within_days": 731}, "/within_days", "1 to 730"),
        ({"type": "past_event", "event": "view", "exists": "yes"}, "/exists", "true or false"),
        ({"type": "past_event", "event": "view", "filter": []}, "/filter", "is an object"),
        (
            {"type": "past_event", "event": "view", "filter": {"shop": "x"}},
            "/filter/shop",
            "unknown filter",
        ),
        (
            {"type": "past_event", "event": "view", "filter": {"merchant": "any"}},
            "/filter/merchant",
            'only be "self"',
        ),
        (
            {"type": "past_event", "event": "view", "filter": {"product": ["nope"]}},
            "/filter/product/0",
            "UUID",
        ),
        (
            {"type": "event_count", "event": "view", "operator": "contains", "value": 1},
            "/operator",
            "does not apply to an event count",
        ),
        (
            {"type": "event_count", "event": "view", "operator": "gte", "value": -1},
            "/value",
            "whole number from 0",
        ),
        ({"type": "event_count", "event": "view", "operator": "gte"}, "", "needs `value`"),
    ],
)
def test_errors_point_at_the_offending_node(raw: Any, path: str, words: str):
    body = invalid(raw)
    assert body["path"] == path, body
    assert words in body["detail"], body["detail"]


def test_unknown_property_lists_the_known_ones():
    body = invalid({"type": "property", "property": "profile.shoe_size", "operator": "exists"})
    assert body["known"] == list(rules.PROPERTIES)
    assert "profile.age" in body["detail"] and "customer.total_spent" in body["detail"]
    body = invalid({"type": "property", "property": "persona.sizes", "operator": "gt", "value": 1})
    assert body["known"] == ["contains", "contains_any", "exists", "missing"]


def test_depth_and_size_are_bounded():
    leaf: dict[str, Any] = {
        "type": "property",
        "property": "profile.has_profile",
        "operator": "exists",
    }
    deep = leaf
    for _ in range(rules.MAX_DEPTH - 1):
        deep = {"type": "not", "condition": deep}
    assert rules.parse(deep)  # exactly the maximum depth
    too_deep = {"type": "not", "condition": deep}
    body = invalid(too_deep)
    assert "deeper than 8" in body["detail"]
    assert body["path"] == "/condition" * rules.MAX_DEPTH
    # A hostile depth fails fast, without recursion trouble.
    hostile: dict[str, Any] = leaf
    for _ in range(5000):
        hostile = {"type": "not", "condition": hostile}
    assert "deeper" in invalid(hostile)["detail"]
    wide = {"type": "any", "conditions": [leaf] * (rules.MAX_NODES - 1)}
    assert rules.parse(wide)
    body = invalid({"type": "any", "conditions": [leaf] * rules.MAX_NODES})
    assert "at most 100 conditions" in body["detail"]
    assert body["path"] == f"/conditions/{rules.MAX_NODES - 1}"


def test_pointer_escapes_odd_keys():
    body = invalid({"type": "property", "a/b~c": 1})
    assert body["path"] == "/a~1b~0c"


def _facts(**props: Any) -> Facts:
    return Facts(uuid.uuid4(), properties=props)


def prop(name: str, op: str, value: Any = None) -> rules.Condition:
    raw = {"type": "property", "property": name, "operator": op}
    if value is not None:
        raw["value"] = value
    return rules.parse(raw)


@pytest.mark.parametrize(
    ("op", "value", "age", "expected"),
    [
        ("equals", 30, 30, True),
        ("not_equals", 30, 30, False),
        ("in", [18, 30], 30, True),
        ("not_in", [18, 30], 25, True),
        ("gt", 30, 30, False),
        ("gte", 30, 30, True),
        ("lt", 30, 29, True),
        ("lte", 30, 31, False),
        ("between", [18, 30], 18, True),
        ("between", [18, 30], 31, False),
        ("exists", None, 0, True),
        ("missing", None, 0, False),
        # A missing value satisfies nothing but `missing`, not even `not_equals`.
        ("not_equals", 30, None, False),
        ("not_in", [30], None, False),
        ("lt", 30, None, False),
        ("missing", None, None, True),
    ],
)
def test_integer_operators(op: str, value: Any, age: int | None, expected: bool):
    assert (
        rules.evaluate(prop("profile.age", op, value), _facts(**{"profile.age": age}), NOW)
        is expected
    )


def test_strings_compare_case_insensitively():
    f = _facts(**{"profile.city": "Amsterdam", "profile.postal_code": "1013 EJ"})
    assert rules.evaluate(prop("profile.city", "equals", "amsterdam"), f, NOW)
    assert rules.evaluate(prop("profile.city", "in", ["Utrecht", "AMSTERDAM"]), f, NOW)
    assert rules.evaluate(prop("profile.postal_code", "starts_with", "1013"), f, NOW)
    assert not rules.evaluate(prop("profile.postal_code", "starts_with", "1014"), f, NOW)
    assert not rules.evaluate(prop("profile.gender", "equals", "x"), f, NOW)
    assert rules.evaluate(prop("profile.gender", "missing"), f, NOW)
    assert rules.evaluate(prop("profile.has_profile", "missing"), f, NOW)
    assert rules.evaluate(
        prop("profile.has_profile", "equals", False), _facts(**{"profile.has_profile": False}), NOW
    )


def test_persona_properties_match_if_any_persona_does():
    f = Facts(
        uuid.uuid4(),
        personas=[
            {"persona.sizes": ["M"], "persona.sustainability": "any", "persona.budget": None},
            {
                "persona.sizes": ["XS", "104"],
                "persona.sustainability": "only",
                "persona.budget": 5000,
            },
        ],
    )
    assert rules.evaluate(prop("persona.sizes", "contains", "xs"), f, NOW)
    assert rules.evaluate(prop("persona.sizes", "contains_any", ["L", "104"]), f, NOW)
    assert not rules.evaluate(prop("persona.sizes", "contains", "L"), f, NOW)
    assert rules.evaluate(prop("persona.sustainability", "equals", "only"), f, NOW)
    assert rules.evaluate(prop("persona.budget", "lte", 5000), f, NOW)
    assert rules.evaluate(prop("persona.budget", "exists"), f, NOW)
    assert not rules.evaluate(prop("persona.budget", "missing"), f, NOW)
    assert not rules.evaluate(prop("persona.styles", "exists"), f, NOW)
    assert rules.evaluate(prop("persona.styles", "missing"), f, NOW)
    nobody = Facts(uuid.uuid4())  # no personas at all
    assert rules.evaluate(prop("persona.sizes", "missing"), nobody, NOW)
    assert not rules.evaluate(prop("persona.sizes", "exists"), nobody, NOW)
    assert not rules.evaluate(prop("persona.fit", "not_equals", "slim"), nobody, NOW)


def test_event_conditions_count_in_their_window_and_filter():
    boots = uuid.uuid4()
    f = Facts(
        uuid.uuid4(),
        events=[
            EventFact("purchase", ago(10), "hiking", frozenset({"recycled"}), boots),
            EventFact("purchase", ago(100), "hiking", frozenset(), uuid.uuid4()),
            EventFact("purchase", ago(5), "kitchen", frozenset({"recycled"}), uuid.uuid4()),
            EventFact("view", ago(1), "hiking", frozenset(), boots),
            EventFact("return", ago(2), "hiking", frozenset(), boots),
        ],
    )

    def count(raw: dict[str, Any]) -> bool:
        return rules.evaluate(rules.parse(raw), f, NOW)

    base = {"type": "event_count", "event": "purchase"}
    assert count({**base, "operator": "equals", "value": 3})
    assert count({**base, "within_days": 90, "operator": "equals", "value": 2})
    assert count(
        {
            **base,
            "within_days": 90,
            "filter": {"category": "hiking"},
            "operator": "equals",
            "value": 1,
        }
    )
    assert count({**base, "filter": {"category": "hiking"}, "operator": "between", "value": [2, 2]})
    assert count({**base, "filter": {"tag": "Recycled"}, "operator": "gte", "value": 2})
    assert count({**base, "filter": {"product": str(boots)}, "operator": "equals", "value": 1})
    assert count(
        {
            **base,
            "filter": {"category": "hiking", "tag": "recycled"},
            "operator": "equals",
            "value": 1,
        }
    )
    assert count({**base, "within_days": 1, "operator": "lt", "value": 1})
    assert count({"type": "past_event", "event": "view", "within_days": 7})
    assert count({"type": "past_event", "event": "cart_add", "exists": False})
    assert not count({"type": "past_event", "event": "return", "within_days": 1})


def test_needs_name_only_what_rules_read():
    need = rules.needs(rules.parse(YOUNG_URBAN_OUTDOOR))
    assert need.profile and need.personas and need.activity
    only_signup = rules.needs(prop("customer.days_since_signup", "gt", 3))
    assert not (only_signup.profile or only_signup.personas or only_signup.activity)
    assert rules.needs(prop("customer.orders_count", "gt", 3)).activity


def test_the_catalogue_describes_every_property():
    listed = rules.catalogue()
    assert [p["property"] for p in listed] == list(rules.PROPERTIES)
    sustain = next(p for p in listed if p["property"] == "persona.sustainability")
    assert sustain["values"] == ["any", "prefer", "only"]
    assert all(p["operators"] and p["description"] for p in listed)
