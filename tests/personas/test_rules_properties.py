"""Property-based tests of the rule language (hypothesis): random valid rules round-trip
through parse and dump, the interpreter agrees with a naive oracle written straight
against the JSON, boolean laws hold, and no JSON whatsoever makes the parser raise
anything but ``persona-rule-invalid``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plaza.errors import ProblemError
from plaza.personas.segments import rules
from plaza.personas.segments.rules import EventFact, Facts, PropertyType

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
PRODUCTS = [uuid.UUID(int=i + 1) for i in range(3)]
WORDS = ["amsterdam", "Utrecht", "NL", "be", "m", "XL", "recycled", "Organic", "slim"]
CATEGORIES = ["hiking", "camping", "kitchen", "Outdoor"]
TAGS = ["recycled", "organic", "wool"]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ints = st.integers(-5, 60)
words = st.sampled_from(WORDS)


def _scalar(spec: rules.PropertySpec) -> st.SearchStrategy[Any]:
    if spec.choices:
        return st.sampled_from(spec.choices)
    if spec.type == PropertyType.INT:
        return ints
    if spec.type == PropertyType.BOOL:
        return st.booleans()
    return words


@st.composite
def property_conditions(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(st.sampled_from(list(rules.PROPERTIES.values())))
    op = draw(st.sampled_from(rules.OPERATORS[spec.type]))
    raw: dict[str, Any] = {"type": "property", "property": spec.name, "operator": op}
    if op in rules.NO_VALUE:
        return raw
    if op == "between":
        raw["value"] = sorted(draw(st.lists(ints, min_size=2, max_size=2)))
    elif op in rules.LIST_VALUE:
        raw["value"] = draw(st.lists(_scalar(spec), min_size=1, max_size=4))
    elif op == "starts_with":
        raw["value"] = draw(st.sampled_from(["a", "U", "n", "1013"]))
    else:
        raw["value"] = draw(_scalar(spec))
    return raw


def _one_or_many(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(values), st.lists(st.sampled_from(values), min_size=1, max_size=3)
    )


@st.composite
def event_filters(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["category"] = draw(_one_or_many(CATEGORIES))
    if draw(st.booleans()):
        out["tag"] = draw(_one_or_many(TAGS))
    if draw(st.integers(0, 3)) == 0:
        out["product"] = draw(_one_or_many([str(p) for p in PRODUCTS]))
    if draw(st.integers(0, 3)) == 0:
        out["merchant"] = "self"
    return out


@st.composite
def event_conditions(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["event_count", "past_event"]))
    raw: dict[str, Any] = {"type": kind, "event": draw(st.sampled_from(rules.EVENTS))}
    if draw(st.booleans()):
        raw["within_days"] = draw(st.sampled_from([1, 7, 30, 90, 365, 730]))
    if draw(st.booleans()):
        raw["filter"] = draw(event_filters())
    if kind == "past_event":
        if draw(st.booleans()):
            raw["exists"] = draw(st.booleans())
        return raw
    op = draw(st.sampled_from(rules.COUNT_OPERATORS))
    raw["operator"] = op
    counts = st.integers(0, 4)
    raw["value"] = (
        sorted(draw(st.lists(counts, min_size=2, max_size=2))) if op == "between" else draw(counts)
    )
    return raw


leaves = st.one_of(property_conditions(), event_conditions())


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(
            lambda t, cs: {"type": t, "conditions": cs},
            st.sampled_from(["all", "any"]),
            st.lists(children, min_size=1, max_size=4),
        ),
        st.builds(lambda c: {"type": "not", "condition": c}, children),
    )


def _depth(raw: dict[str, Any]) -> int:
    if raw["type"] in ("all", "any"):
        return 1 + max(_depth(c) for c in raw["conditions"])
    if raw["type"] == "not":
        return 1 + _depth(raw["condition"])
    return 1


valid_rules = st.recursive(leaves, _extend, max_leaves=16).filter(
    lambda r: _depth(r) <= rules.MAX_DEPTH
)


# ------------------------------------------------------------------------------ facts

maybe_word = st.one_of(st.none(), words)


@st.composite
def facts(draw: st.DrawFn) -> Facts:
    props: dict[str, Any] = {}
    for spec in rules.PROPERTIES.values():
        if spec.per_persona or draw(st.integers(0, 4)) == 0:
            continue  # missing
        props[spec.name] = draw(_scalar(spec))
    personas = []
    for _ in range(draw(st.integers(0, 3))):
        persona: dict[str, Any] = {}
        for spec in rules.PROPERTIES.values():
            if not spec.per_persona or draw(st.integers(0, 3)) == 0:
                continue
            if spec.type == PropertyType.LIST:
                persona[spec.name] = draw(st.lists(words, max_size=3))
            else:
                persona[spec.name] = draw(_scalar(spec))
        personas.append(persona)
    events = [
        EventFact(
            kind=draw(st.sampled_from(rules.EVENTS)),
            occurred_at=NOW
            - dt.timedelta(days=draw(st.integers(0, 800)), hours=draw(st.integers(0, 23))),
            category=draw(st.one_of(st.none(), st.sampled_from([c.lower() for c in CATEGORIES]))),
            tags=frozenset(draw(st.lists(st.sampled_from(TAGS), max_size=2))),
            product_id=draw(st.one_of(st.none(), st.sampled_from(PRODUCTS))),
        )
        for _ in range(draw(st.integers(0, 8)))
    ]
    return Facts(uuid.uuid4(), props, personas, events)


# ------------------------------------------------------------------------------ oracle


def _present(v: Any) -> bool:
    return v is not None and v != [] and v != ""


def _low(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _holds(op: str, v: Any, want: Any) -> bool:
    if op == "exists":
        return _present(v)
    if op == "missing":
        return not _present(v)
    if not _present(v):
        return False
    if isinstance(v, list):
        have = [x.lower() for x in v]
        if op == "contains":
            return want.lower() in have
        return any(w.lower() in have for w in want)
    v = _low(v)
    if op == "equals":
        return v == _low(want)
    if op == "not_equals":
        return v != _low(want)
    if op == "in":
        return v in [_low(w) for w in want]
    if op == "not_in":
        return v not in [_low(w) for w in want]
    if op == "starts_with":
        return v.startswith(want.lower())
    if op == "between":
        return want[0] <= v <= want[1]
    return {"gt": v > want, "gte": v >= want, "lt": v < want, "lte": v <= want}[op]


def _as_list(v: Any) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def _counted(raw: dict[str, Any], f: Facts) -> int:
    n = 0
    for e in f.events:
        if e.kind != raw["event"]:
            continue
        if "within_days" in raw and (NOW - e.occurred_at) > dt.timedelta(days=raw["within_days"]):
            continue
        flt = raw.get("filter", {})
        if "category" in flt and (e.category or "") not in [
            c.strip().lower() for c in _as_list(flt["category"])
        ]:
            continue
        if "tag" in flt and not set(e.tags) & {t.lower() for t in _as_list(flt["tag"])}:
            continue
        if "product" in flt and str(e.product_id) not in _as_list(flt["product"]):
            continue
        n += 1
    return n


def oracle(raw: dict[str, Any], f: Facts) -> bool:
    t = raw["type"]
    if t == "all":
        return all(oracle(c, f) for c in raw["conditions"])
    if t == "any":
        return any(oracle(c, f) for c in raw["conditions"])
    if t == "not":
        return not oracle(raw["condition"], f)
    if t == "property":
        name, op = raw["property"], raw["operator"]
        if name.startswith("persona."):
            values = [p.get(name) for p in f.personas]
            if op == "missing":
                return not any(_present(v) for v in values)
            return any(_holds(op, v, raw.get("value")) for v in values)
        return _holds(op, f.properties.get(name), raw.get("value"))
    n = _counted(raw, f)
    if t == "past_event":
        return (n > 0) == raw.get("exists", True)
    return _holds(raw["operator"], n, raw["value"])


# ------------------------------------------------------------------------------ laws


@SETTINGS
@given(valid_rules)
def test_valid_rules_round_trip(raw: dict[str, Any]) -> None:
    tree = rules.parse(raw)
    dumped = rules.dump(tree)
    assert rules.parse(dumped) == tree
    assert rules.dump(rules.parse(dumped)) == dumped


@SETTINGS
@given(valid_rules, facts())
def test_evaluation_agrees_with_the_oracle(raw: dict[str, Any], f: Facts) -> None:
    assert rules.evaluate(rules.parse(raw), f, NOW) == oracle(raw, f)


@SETTINGS
@given(valid_rules, facts())
def test_not_not_is_identity(raw: dict[str, Any], f: Facts) -> None:
    tree = rules.parse(raw)
    assert rules.evaluate(rules.Not(rules.Not(tree)), f, NOW) == rules.evaluate(tree, f, NOW)


@SETTINGS
@given(valid_rules, valid_rules, facts())
def test_de_morgan(a_raw: dict[str, Any], b_raw: dict[str, Any], f: Facts) -> None:
    a, b = rules.parse(a_raw), rules.parse(b_raw)

    def ev(c: rules.Condition) -> bool:
        return rules.evaluate(c, f, NOW)

    assert ev(rules.Not(rules.AllOf((a, b)))) == ev(rules.AnyOf((rules.Not(a), rules.Not(b))))
    assert ev(rules.Not(rules.AnyOf((a, b)))) == ev(rules.AllOf((rules.Not(a), rules.Not(b))))


# ------------------------------------------------------------------------------ garbage

KEYS = [
    "type", "conditions", "condition", "property", "operator", "value", "event",
    "within_days", "filter", "exists", "category", "tag", "product", "merchant",
]  # fmt: skip
STRINGS = [
    "all", "any", "not", "property", "event_count", "past_event", "profile.age",
    "persona.sizes", "customer.total_spent", "equals", "between", "contains", "purchase",
    "self", "exists", "", "\x00", "profile.", str(PRODUCTS[0]),
]  # fmt: skip
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(STRINGS),
    st.text(max_size=20),
)
garbage = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=6
        ),
    ),
    max_leaves=30,
)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid rule with one value somewhere replaced by garbage: near misses."""
    raw = draw(valid_rules)
    node: Any = raw
    while True:
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if draw(st.booleans()) or not isinstance(node[key], dict | list):
                node[key] = draw(garbage)
                return raw
            node = node[key]
        elif isinstance(node, list) and node:
            i = draw(st.integers(0, len(node) - 1))
            if draw(st.booleans()) or not isinstance(node[i], dict | list):
                node[i] = draw(garbage)
                return raw
            node = node[i]
        else:
            return raw


@SETTINGS
@given(st.one_of(garbage, mutated()), facts())
def test_garbage_only_ever_raises_the_rule_problem(raw: Any, f: Facts) -> None:
    try:
        tree = rules.parse(raw)
    except ProblemError as exc:
        assert exc.kind is rules.RULE_INVALID
        assert isinstance(exc.extensions["path"], str)
        assert exc.detail
        return
    # Whatever parses is a real rule: it dumps, re-parses and evaluates.
    assert rules.parse(rules.dump(tree)) == tree
    assert isinstance(rules.evaluate(tree, f, NOW), bool)
