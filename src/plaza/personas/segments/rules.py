"""The membership rule language of strategic personas.

A rule is JSON, in the spirit of Apache Unomi's conditions: boolean conditions (``all``,
``any``, ``not``) over leaf conditions on a customer's properties (``property``) and
behaviour (``event_count``, ``past_event``). ``parse`` turns the JSON into a typed tree of
frozen dataclasses and refuses anything outside the language with ``422
persona-rule-invalid`` naming the offending node by a JSON pointer (``path``); ``dump``
turns a tree back into its canonical JSON; ``evaluate`` is a small interpreter over one
customer's ``Facts``. Nothing is ever ``eval``-ed: a rule can only compare values the
facts hold, with the operators below.

docs/personas.md is the reference for marketers and developers; keep it in step.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from plaza.errors import ProblemError, problem_type

MAX_DEPTH = 8  # conditions on the longest path from the root, the root included
MAX_NODES = 100  # conditions in the whole rule
MAX_LIST = 50  # values of `in`, `not_in`, `contains_any`, and of each event filter
MAX_TEXT = 100  # characters of a string value
MAX_INT = 10**12  # magnitude of an integer value (amounts are minor units)
MAX_WINDOW_DAYS = 730  # `within_days`: two years
MAX_EVENT_COUNT = 1_000_000

RULE_INVALID = problem_type(
    "persona-rule-invalid",
    "Invalid persona rule",
    422,
    "The persona's membership rule is not valid in the condition language (docs/personas.md). "
    '`path` is a JSON pointer to the offending part of the rule (`""` is the rule itself), '
    "`detail` says what is wrong; an unknown property or operator comes with `known`, the "
    "accepted names.",
)


class PropertyType(enum.StrEnum):
    INT = "integer"
    STR = "string"
    BOOL = "boolean"
    LIST = "list"  # a list of strings


# Which operators each type accepts.
OPERATORS: dict[PropertyType, tuple[str, ...]] = {
    PropertyType.INT: (
        "equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "between",
        "exists", "missing",
    ),
    PropertyType.STR: (
        "equals", "not_equals", "in", "not_in", "starts_with", "exists", "missing",
    ),
    PropertyType.BOOL: ("equals", "not_equals", "exists", "missing"),
    PropertyType.LIST: ("contains", "contains_any", "exists", "missing"),
}  # fmt: skip
ALL_OPERATORS = tuple(dict.fromkeys(op for ops in OPERATORS.values() for op in ops))
NO_VALUE = frozenset({"exists", "missing"})
LIST_VALUE = frozenset({"in", "not_in", "contains_any"})


@dataclass(frozen=True)
class PropertySpec:
    name: str
    type: PropertyType
    description: str
    choices: tuple[str, ...] | None = None  # the only values a string property takes

    @property
    def per_persona(self) -> bool:
        """``persona.*`` properties hold one value per customer persona; a condition on
        them holds when it holds for any of the customer's personas."""
        return self.name.startswith("persona.")


_SUSTAINABILITY = ("any", "prefer", "only")
PROPERTIES: dict[str, PropertySpec] = {
    p.name: p
    for p in (
        PropertySpec("profile.has_profile", PropertyType.BOOL,
                     "Whether the customer has filled in a profile at all."),
        PropertySpec("profile.age", PropertyType.INT,
                     "Age in whole years today, from the profile's birth date."),
        PropertySpec("profile.gender", PropertyType.STR, "As the customer wrote it."),
        PropertySpec("profile.country", PropertyType.STR, "ISO 3166-1 alpha-2, e.g. NL."),
        PropertySpec("profile.city", PropertyType.STR, "City of the profile."),
        PropertySpec("profile.postal_code", PropertyType.STR,
                     "Postal code of the profile (`starts_with` picks an area)."),
        PropertySpec("persona.relation", PropertyType.STR,
                     "Who a persona shops for: self, child, partner, ..."),
        PropertySpec("persona.sizes", PropertyType.LIST, "Sizes of a persona, e.g. M, 42."),
        PropertySpec("persona.fit", PropertyType.STR, "slim, regular or relaxed."),
        PropertySpec("persona.styles", PropertyType.LIST, "Styles a persona likes."),
        PropertySpec("persona.colours_prefer", PropertyType.LIST, "Preferred colours."),
        PropertySpec("persona.colours_avoid", PropertyType.LIST, "Colours to avoid."),
        PropertySpec("persona.materials_prefer", PropertyType.LIST,
                     "Preferred materials, e.g. recycled, merino."),
        PropertySpec("persona.materials_avoid", PropertyType.LIST, "Materials to avoid."),
        PropertySpec("persona.sustainability", PropertyType.STR,
                     "Sustainability preference: any, prefer or only.", _SUSTAINABILITY),
        PropertySpec("persona.budget", PropertyType.INT,
                     "A persona's budget in minor units of the merchant's default currency "
                     "(budgets in other currencies are missing)."),
        PropertySpec("customer.days_since_signup", PropertyType.INT,
                     "Whole days since the account was created."),
        PropertySpec("customer.orders_count", PropertyType.INT,
                     "Paid orders at this merchant."),
        PropertySpec("customer.total_spent", PropertyType.INT,
                     "Sum of paid order lines at this merchant, in minor units of its "
                     "default currency (returns not deducted)."),
        PropertySpec("customer.days_since_last_purchase", PropertyType.INT,
                     "Whole days since the last paid order at this merchant (missing if none)."),
    )
}  # fmt: skip
EVENTS = ("purchase", "return", "view", "cart_add")
COUNT_OPERATORS = ("equals", "not_equals", "gt", "gte", "lt", "lte", "between")
CONDITION_TYPES = ("all", "any", "not", "property", "event_count", "past_event")


# ------------------------------------------------------------------------ the tree


Scalar: TypeAlias = int | str | bool
Value: TypeAlias = Scalar | tuple[Scalar, ...] | None


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    condition: Condition


@dataclass(frozen=True)
class PropertyCondition:
    property: str
    operator: str
    value: Value = None


@dataclass(frozen=True)
class EventFilter:
    """Which activity rows an event condition counts; each set field narrows it (AND),
    the values of one field are alternatives (OR). Always this merchant's rows only."""

    categories: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    products: tuple[uuid.UUID, ...] | None = None
    merchant: Literal["self"] | None = None  # accepted for explicitness; the only scope

    @property
    def is_empty(self) -> bool:
        return not (self.categories or self.tags or self.products or self.merchant)


@dataclass(frozen=True)
class EventCount:
    event: str
    operator: str
    value: int | tuple[int, int]
    within_days: int | None = None
    filter: EventFilter | None = None


@dataclass(frozen=True)
class PastEvent:
    event: str
    exists: bool = True
    within_days: int | None = None
    filter: EventFilter | None = None


Condition: TypeAlias = AllOf | AnyOf | Not | PropertyCondition | EventCount | PastEvent


# ------------------------------------------------------------------------ parsing


def _pointer(path: tuple[str | int, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _invalid(path: tuple[str | int, ...], message: str, **extra: Any) -> ProblemError:
    pointer = _pointer(path)
    where = f"at {pointer}" if pointer else "at the rule's root"
    return ProblemError(RULE_INVALID, f"{where}: {message}", path=pointer, **extra)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Parser:
    def __init__(self) -> None:
        self.nodes = 0

    def node(self, raw: Any, path: tuple[str | int, ...], depth: int) -> Condition:
        if depth > MAX_DEPTH:
            raise _invalid(path, f"conditions nest deeper than {MAX_DEPTH} levels")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _invalid(path, f"a rule has at most {MAX_NODES} conditions")
        if not isinstance(raw, dict):
            raise _invalid(path, f"a condition is an object, not {_describe(raw)}")
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in CONDITION_TYPES:
            what = "missing" if kind is None else f"{kind!r}" if isinstance(kind, str) else "bad"
            raise _invalid(
                (*path, "type"),
                f"condition type {what}; use one of {', '.join(CONDITION_TYPES)}",
                known=list(CONDITION_TYPES),
            )
        if kind in ("all", "any"):
            self._keys(raw, path, {"type", "conditions"}, {"conditions"})
            items = raw["conditions"]
            if not isinstance(items, list) or not items:
                raise _invalid(
                    (*path, "conditions"), "`conditions` is a non-empty list of conditions"
                )
            children = tuple(
                self.node(item, (*path, "conditions", i), depth + 1) for i, item in enumerate(items)
            )
            return AllOf(children) if kind == "all" else AnyOf(children)
        if kind == "not":
            self._keys(raw, path, {"type", "condition"}, {"condition"})
            return Not(self.node(raw["condition"], (*path, "condition"), depth + 1))
        if kind == "property":
            return self._property(raw, path)
        return self._event(raw, path, kind)

    @staticmethod
    def _keys(
        raw: dict[str, Any], path: tuple[str | int, ...], allowed: set[str], required: set[str]
    ) -> None:
        for key in raw:
            if key not in allowed:
                raise _invalid(
                    (*path, str(key)),
                    f"unknown field {str(key)[:50]!r} in a {raw['type']} condition; "
                    f"its fields are {', '.join(sorted(allowed))}",
                )
        for key in sorted(required):
            if key not in raw:
                raise _invalid(path, f"a {raw['type']} condition needs `{key}`")

    def _property(self, raw: dict[str, Any], path: tuple[str | int, ...]) -> PropertyCondition:
        # The property first: an unknown one is the more useful error.
        self._keys(raw, path, {"type", "property", "operator", "value"}, {"property"})
        name = raw["property"]
        spec = PROPERTIES.get(name) if isinstance(name, str) else None
        if spec is None:
            shown = f"{name[:60]!r}" if isinstance(name, str) else _describe(name)
            raise _invalid(
                (*path, "property"),
                f"unknown property {shown}; known properties: {', '.join(PROPERTIES)}",
                known=list(PROPERTIES),
            )
        self._keys(raw, path, {"type", "property", "operator", "value"}, {"operator"})
        op = raw["operator"]
        allowed = OPERATORS[spec.type]
        if not isinstance(op, str) or op not in allowed:
            shown = f"{op[:30]!r}" if isinstance(op, str) else _describe(op)
            raise _invalid(
                (*path, "operator"),
                f"operator {shown} does not apply to {spec.name} ({spec.type.value}); "
                f"use one of {', '.join(allowed)}",
                known=list(allowed),
            )
        value_path = (*path, "value")
        if op in NO_VALUE:
            if raw.get("value") is not None:
                raise _invalid(value_path, f"`{op}` takes no value")
            return PropertyCondition(spec.name, op)
        if "value" not in raw:
            raise _invalid(path, f"`{op}` needs a `value`")
        return PropertyCondition(spec.name, op, _value(spec, op, raw["value"], value_path))

    def _event(
        self, raw: dict[str, Any], path: tuple[str | int, ...], kind: str
    ) -> EventCount | PastEvent:
        common = {"type", "event", "within_days", "filter"}
        if kind == "event_count":
            self._keys(raw, path, common | {"operator", "value"}, {"event", "operator", "value"})
        else:
            self._keys(raw, path, common | {"exists"}, {"event"})
        event = raw["event"]
        if not isinstance(event, str) or event not in EVENTS:
            raise _invalid(
                (*path, "event"),
                f"event is one of {', '.join(EVENTS)}",
                known=list(EVENTS),
            )
        within = raw.get("within_days")
        if within is not None and not (_is_int(within) and 1 <= within <= MAX_WINDOW_DAYS):
            raise _invalid(
                (*path, "within_days"),
                f"`within_days` is a whole number of days from 1 to {MAX_WINDOW_DAYS} "
                "(leave it out for all time)",
            )
        filter_ = _filter(raw.get("filter"), (*path, "filter"))
        if kind == "past_event":
            exists = raw.get("exists", True)
            if not isinstance(exists, bool):
                raise _invalid((*path, "exists"), "`exists` is true or false")
            return PastEvent(event, exists, within, filter_)
        op = raw["operator"]
        if not isinstance(op, str) or op not in COUNT_OPERATORS:
            shown = f"{op[:30]!r}" if isinstance(op, str) else _describe(op)
            raise _invalid(
                (*path, "operator"),
                f"operator {shown} does not apply to an event count; "
                f"use one of {', '.join(COUNT_OPERATORS)}",
                known=list(COUNT_OPERATORS),
            )
        value = raw["value"]
        value_path = (*path, "value")
        if op == "between":
            lo, hi = _pair(value, value_path, 0, MAX_EVENT_COUNT)
            return EventCount(event, op, (lo, hi), within, filter_)
        if not (_is_int(value) and 0 <= value <= MAX_EVENT_COUNT):
            raise _invalid(
                value_path,
                f"an event count is compared with a whole number from 0 to {MAX_EVENT_COUNT}, "
                f"not {_describe(value)}",
            )
        return EventCount(event, op, value, within, filter_)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pair(value: Any, path: tuple[str | int, ...], lo_: int, hi_: int) -> tuple[int, int]:
    if not (isinstance(value, list | tuple) and len(value) == 2):
        raise _invalid(path, f"`between` takes [low, high], not {_describe(value)}")
    for i, v in enumerate(value):
        if not (_is_int(v) and lo_ <= v <= hi_):
            raise _invalid((*path, i), f"a whole number from {lo_} to {hi_}, not {_describe(v)}")
    lo, hi = int(value[0]), int(value[1])
    if lo > hi:
        raise _invalid(path, f"`between` needs low <= high, got [{lo}, {hi}]")
    return lo, hi


def _text(value: Any, path: tuple[str | int, ...]) -> str:
    if not isinstance(value, str):
        raise _invalid(path, f"expected a string, not {_describe(value)}")
    if not value.strip() or len(value) > MAX_TEXT or "\x00" in value:
        raise _invalid(path, f"a string value has 1 to {MAX_TEXT} characters (no NUL)")
    return value


def _scalar(spec: PropertySpec, value: Any, path: tuple[str | int, ...]) -> Scalar:
    kind = PropertyType.STR if spec.type == PropertyType.LIST else spec.type
    if kind == PropertyType.INT:
        if not _is_int(value):
            raise _invalid(path, f"{spec.name} is an integer, not {_describe(value)}")
        if abs(value) > MAX_INT:
            raise _invalid(path, f"integers are at most {MAX_INT} in magnitude")
        return int(value)
    if kind == PropertyType.BOOL:
        if not isinstance(value, bool):
            raise _invalid(path, f"{spec.name} is true or false, not {_describe(value)}")
        return value
    text = _text(value, path)
    if spec.choices is not None and text.casefold() not in spec.choices:
        raise _invalid(
            path,
            f"{spec.name} is one of {', '.join(spec.choices)}",
            known=list(spec.choices),
        )
    return text


def _value(spec: PropertySpec, op: str, value: Any, path: tuple[str | int, ...]) -> Value:
    if op == "between":
        return _pair(value, path, -MAX_INT, MAX_INT)
    if op in LIST_VALUE:
        if not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_LIST:
            raise _invalid(path, f"`{op}` takes a list of 1 to {MAX_LIST} values")
        return tuple(_scalar(spec, v, (*path, i)) for i, v in enumerate(value))
    if op == "starts_with":
        return _text(value, path)
    return _scalar(spec, value, path)


def _filter(raw: Any, path: tuple[str | int, ...]) -> EventFilter | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid(path, f"`filter` is an object, not {_describe(raw)}")
    allowed = ("category", "tag", "product", "merchant")
    for key in raw:
        if key not in allowed:
            raise _invalid(
                (*path, str(key)),
                f"unknown filter {str(key)[:50]!r}; filters are {', '.join(allowed)}",
                known=list(allowed),
            )
    merchant = raw.get("merchant")
    if merchant is not None and merchant != "self":
        raise _invalid(
            (*path, "merchant"),
            '`merchant` can only be "self": a persona counts its own merchant\'s activity',
        )
    products = _texts(raw.get("product"), (*path, "product"))
    product_ids: tuple[uuid.UUID, ...] | None = None
    if products is not None:
        ids = []
        for i, p in enumerate(products):
            try:
                ids.append(uuid.UUID(p))
            except ValueError:
                raise _invalid((*path, "product", i), "a product id is a UUID") from None
        product_ids = tuple(ids)
    out = EventFilter(
        categories=_texts(raw.get("category"), (*path, "category"), lower=True),
        tags=_texts(raw.get("tag"), (*path, "tag"), lower=True),
        products=product_ids,
        merchant="self" if merchant == "self" else None,
    )
    return None if out.is_empty else out


def _texts(raw: Any, path: tuple[str | int, ...], *, lower: bool = False) -> tuple[str, ...] | None:
    """A filter value: one string or a list of 1 to ``MAX_LIST`` (any of them matches)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        items: list[Any] = [raw]
        paths: list[tuple[str | int, ...]] = [path]
    elif isinstance(raw, list) and 1 <= len(raw) <= MAX_LIST:
        items = raw
        paths = [(*path, i) for i in range(len(raw))]
    else:
        raise _invalid(path, f"a string or a list of 1 to {MAX_LIST} strings")
    out = tuple(_text(v, p) for v, p in zip(items, paths, strict=True))
    # Slugs and tags are stored lower-case; compare them so.
    return tuple(v.strip().lower() for v in out) if lower else out


def parse(raw: Any) -> Condition:
    """The typed tree of a JSON rule; ``422 persona-rule-invalid`` if it is not one."""
    return _Parser().node(raw, (), 1)


# ------------------------------------------------------------------------ dumping


def _json_value(value: Value) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _dump_filter(f: EventFilter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, values in (("category", f.categories), ("tag", f.tags)):
        if values:
            out[key] = values[0] if len(values) == 1 else list(values)
    if f.products:
        ids = [str(p) for p in f.products]
        out["product"] = ids[0] if len(ids) == 1 else ids
    if f.merchant:
        out["merchant"] = f.merchant
    return out


def dump(cond: Condition) -> dict[str, Any]:
    """The canonical JSON of a tree: ``parse(dump(t)) == t``."""
    if isinstance(cond, AllOf | AnyOf):
        kind = "all" if isinstance(cond, AllOf) else "any"
        return {"type": kind, "conditions": [dump(c) for c in cond.conditions]}
    if isinstance(cond, Not):
        return {"type": "not", "condition": dump(cond.condition)}
    if isinstance(cond, PropertyCondition):
        out: dict[str, Any] = {
            "type": "property",
            "property": cond.property,
            "operator": cond.operator,
        }
        if cond.operator not in NO_VALUE:
            out["value"] = _json_value(cond.value)
        return out
    out = {"type": "event_count" if isinstance(cond, EventCount) else "past_event"}
    out["event"] = cond.event
    if cond.within_days is not None:
        out["within_days"] = cond.within_days
    if cond.filter is not None:
        out["filter"] = _dump_filter(cond.filter)
    if isinstance(cond, EventCount):
        out["operator"] = cond.operator
        out["value"] = list(cond.value) if isinstance(cond.value, tuple) else cond.value
    else:
        out["exists"] = cond.exists
    return out


def walk(cond: Condition) -> Iterator[Condition]:
    """Every condition of the tree, depth first."""
    yield cond
    if isinstance(cond, AllOf | AnyOf):
        for child in cond.conditions:
            yield from walk(child)
    elif isinstance(cond, Not):
        yield from walk(cond.condition)


@dataclass(frozen=True)
class Needs:
    """What evaluating some rules reads, so facts are loaded only from the tables needed."""

    properties: frozenset[str] = frozenset()
    events: bool = False

    @property
    def profile(self) -> bool:
        return any(p.startswith("profile.") for p in self.properties)

    @property
    def personas(self) -> bool:
        return any(p.startswith("persona.") for p in self.properties)

    @property
    def activity(self) -> bool:
        return self.events or any(
            p.startswith("customer.") and p != "customer.days_since_signup" for p in self.properties
        )

    def __or__(self, other: Needs) -> Needs:
        return Needs(self.properties | other.properties, self.events or other.events)


def needs(cond: Condition) -> Needs:
    props = frozenset(c.property for c in walk(cond) if isinstance(c, PropertyCondition))
    events = any(isinstance(c, EventCount | PastEvent) for c in walk(cond))
    return Needs(props, events)


EVERYTHING = Needs(frozenset(PROPERTIES), True)


# ------------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class EventFact:
    """One activity row of the merchant, as a condition sees it."""

    kind: str
    occurred_at: dt.datetime
    category: str | None = None
    tags: frozenset[str] = frozenset()  # lower case
    product_id: uuid.UUID | None = None


@dataclass
class Facts:
    """What rules may read about one customer, for one merchant.

    ``properties`` holds the ``profile.*`` and ``customer.*`` values (absent or ``None``:
    missing); ``personas`` one mapping of ``persona.*`` values per customer persona;
    ``events`` the merchant's activity rows of the customer."""

    user_id: uuid.UUID
    properties: dict[str, Any] = field(default_factory=dict)
    personas: list[dict[str, Any]] = field(default_factory=list)
    events: list[EventFact] = field(default_factory=list)


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _present(value: Any) -> bool:
    return value is not None and value != [] and value != () and value != ""


def compare(op: str, actual: Any, expected: Value) -> bool:
    """One property value against a condition. Strings compare case-insensitively; a
    missing value satisfies only ``missing`` (not even ``not_equals``)."""
    if op == "exists":
        return _present(actual)
    if op == "missing":
        return not _present(actual)
    if not _present(actual):
        return False
    if isinstance(actual, list | tuple | frozenset | set):  # list properties
        have = {_fold(v) for v in actual}
        if op == "contains":
            return _fold(expected) in have
        if op == "contains_any":
            assert isinstance(expected, tuple)
            return any(_fold(v) in have for v in expected)
        return False
    a = _fold(actual)
    if op == "equals":
        return bool(a == _fold(expected))
    if op == "not_equals":
        return bool(a != _fold(expected))
    if op in ("in", "not_in"):
        assert isinstance(expected, tuple)
        found = a in {_fold(v) for v in expected}
        return found if op == "in" else not found
    if op == "starts_with":
        return isinstance(a, str) and isinstance(expected, str) and a.startswith(_fold(expected))
    if isinstance(a, bool) or not isinstance(a, int):
        return False  # the ordering operators are for integers only
    if op == "between":
        assert isinstance(expected, tuple)
        lo, hi = (int(v) for v in expected)
        return lo <= a <= hi
    assert isinstance(expected, int)
    return {
        "gt": a > expected,
        "gte": a >= expected,
        "lt": a < expected,
        "lte": a <= expected,
    }.get(op, False)


def _matches(e: EventFact, f: EventFilter | None) -> bool:
    if f is None:
        return True
    if f.categories and (e.category or "").lower() not in f.categories:
        return False
    if f.tags and not e.tags.intersection(f.tags):
        return False
    return not (f.products and e.product_id not in f.products)


def count_events(
    facts: Facts, event: str, within_days: int | None, f: EventFilter | None, now: dt.datetime
) -> int:
    since = now - dt.timedelta(days=within_days) if within_days is not None else None
    return sum(
        1
        for e in facts.events
        if e.kind == event and (since is None or e.occurred_at >= since) and _matches(e, f)
    )


def evaluate(cond: Condition, facts: Facts, now: dt.datetime) -> bool:
    """Whether the customer described by ``facts`` satisfies ``cond`` at ``now``."""
    if isinstance(cond, AllOf):
        return all(evaluate(c, facts, now) for c in cond.conditions)
    if isinstance(cond, AnyOf):
        return any(evaluate(c, facts, now) for c in cond.conditions)
    if isinstance(cond, Not):
        return not evaluate(cond.condition, facts, now)
    if isinstance(cond, PropertyCondition):
        if PROPERTIES[cond.property].per_persona:
            values = [p.get(cond.property) for p in facts.personas]
            if cond.operator == "missing":
                return not any(_present(v) for v in values)
            return any(compare(cond.operator, v, cond.value) for v in values)
        return compare(cond.operator, facts.properties.get(cond.property), cond.value)
    n = count_events(facts, cond.event, cond.within_days, cond.filter, now)
    if isinstance(cond, PastEvent):
        return (n > 0) == cond.exists
    if cond.operator == "between":
        assert isinstance(cond.value, tuple)
        return cond.value[0] <= n <= cond.value[1]
    return compare(cond.operator, n, cond.value)


def catalogue() -> list[Mapping[str, Any]]:
    """The property catalogue as data (for docs and tooling)."""
    return [
        {
            "property": p.name,
            "type": p.type.value,
            "operators": list(OPERATORS[p.type]),
            "description": p.description,
            **({"values": list(p.choices)} if p.choices else {}),
        }
        for p in PROPERTIES.values()
    ]
