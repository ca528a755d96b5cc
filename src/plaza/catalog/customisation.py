"""Mass customisation: configurable products, their validation and pricing.

A merchant attaches a *spec* to a product (``Product.customisation``): ordered option
groups (one choice, several choices, or a short text such as an engraving), constraints
between options (``requires`` / ``excludes``), per-option price deltas per currency, a lead
time and a made-to-order flag. A shopper's *configuration* (``{"selections": {...}}``) is
validated against the spec and priced server-side by the same code wherever it is used:
the public quote endpoint, the cart, and checkout (which re-validates, because the spec
may change between cart and checkout).

Text inputs are checked character by character against a small set of character classes
(no regular expressions at all), so a spec can never make validation slow. See
docs/customisation.md.
"""

from __future__ import annotations

import enum
import hashlib
import json
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.catalog.base import Strict
from plaza.catalog.models import Product, ProductStatus
from plaza.errors import ProblemError, not_found, problem_type
from plaza.money import MAX_AMOUNT, Currency

if TYPE_CHECKING:
    from plaza.catalog.service import SellableVariant

# ``catalog.schemas`` shows specs on products, and ``catalog.service`` (imported inside
# the functions that need it) uses those schemas: this module imports neither at the top.

MAX_GROUPS = 20
MAX_GROUP_OPTIONS = 50
MAX_CONSTRAINTS = 100
MAX_TEXT_LENGTH = 200
MAX_LEAD_TIME_DAYS = 365
MAX_PRICES = 50
# Punctuation a text group may allow with the ``punctuation`` class: what engravers and
# embroiderers commonly offer, nothing that reads as markup.
PUNCTUATION = ".,'&-!?#+/():"

# ------------------------------------------------------------------- problem types

SPEC_INVALID = problem_type(
    "customisation-spec-invalid",
    "Invalid customisation spec",
    422,
    "The customisation spec is well-formed but inconsistent: repeated codes, constraints "
    "naming unknown groups or options, self-references, contradictory constraints, "
    "impossible selection bounds. `errors` lists each fault with its `path` in the spec.",
)
CONFIGURATION_INVALID = problem_type(
    "configuration-invalid",
    "Invalid configuration",
    422,
    "The configuration does not satisfy the product's customisation spec. `violations` "
    "lists each fault: `group`, optionally `option` and `constraint` "
    "(`{kind, if, then}`), and a `message`.",
)
NOT_CUSTOMISABLE = problem_type(
    "product-not-customisable",
    "Product is not customisable",
    422,
    "A configuration was sent for a product without a customisation spec (or whose spec "
    "was removed); add the item without `configuration`.",
)
CONFIGURATION_PRICE_UNAVAILABLE = problem_type(
    "configuration-price-unavailable",
    "Option not priced in this currency",
    422,
    "A chosen option has price deltas, but none in the requested currency (`currency`, "
    "`options` lists `{group, option}`).",
)

# --------------------------------------------------------------------------- spec

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,29}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reference = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,29}(\.[a-z][a-z0-9_]{0,29})?$"),
]
Delta = Annotated[int, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, strict=True)]
PriceDelta = Annotated[
    dict[Currency, Delta],
    Field(
        max_length=MAX_PRICES,
        description="Minor units per ISO 4217 currency; may be negative. Empty: free in "
        "every currency. Otherwise the option can only be bought in these currencies.",
    ),
]


class GroupKind(enum.StrEnum):
    CHOICE = "choice"  # exactly one option
    MULTI = "multi"  # several options, between min_selections and max_selections
    TEXT = "text"  # a short text (engraving, monogram)


class Charset(enum.StrEnum):
    LETTERS = "letters"  # any Unicode letter (é, ß, ø, …)
    ASCII_LETTERS = "ascii_letters"  # A–Z and a–z only
    DIGITS = "digits"  # 0–9
    SPACE = "space"  # a single space between words
    PUNCTUATION = "punctuation"  # the characters of PUNCTUATION


class ConstraintKind(enum.StrEnum):
    REQUIRES = "requires"
    EXCLUDES = "excludes"


class OptionSpec(Strict):
    code: Code
    label: Label
    price_delta: PriceDelta = Field(default_factory=dict)
    available: bool = Field(True, description="False: shown, but cannot be chosen now.")


class GroupSpec(Strict):
    code: Code
    label: Label
    kind: GroupKind
    required: bool = False
    options: list[OptionSpec] = Field(
        default_factory=list, max_length=MAX_GROUP_OPTIONS, description="choice and multi."
    )
    min_selections: int | None = Field(
        None, ge=0, le=MAX_GROUP_OPTIONS, description="multi: fewest options when any."
    )
    max_selections: int | None = Field(
        None, ge=1, le=MAX_GROUP_OPTIONS, description="multi: most options."
    )
    min_length: int | None = Field(None, ge=1, le=MAX_TEXT_LENGTH, description="text.")
    max_length: int | None = Field(None, ge=1, le=MAX_TEXT_LENGTH, description="text.")
    charset: list[Charset] | None = Field(
        None,
        min_length=1,
        max_length=len(Charset),
        description="text: allowed character classes (default letters, digits, space).",
    )
    extra_characters: str | None = Field(
        None, max_length=20, description="text: further allowed characters, e.g. `♥`."
    )
    case: Literal["as_typed", "upper", "lower"] | None = Field(
        None, description="text: how the text is normalised before it is stored."
    )
    price_delta: PriceDelta | None = Field(None, description="text: charged when given.")


class ConstraintSpec(Strict):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    kind: ConstraintKind
    if_: Reference = Field(
        alias="if", description="`group.option`, or `group` for any choice in the group."
    )
    then: Reference

    def describe(self) -> dict[str, str]:
        return {"kind": self.kind.value, "if": self.if_, "then": self.then}


class CustomisationSpec(Strict):
    """A product's customisation: what a shopper may choose, what it costs, how long it
    takes. Saved with ``PUT …/products/{product_id}/customisation``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, serialize_by_alias=True)

    groups: list[GroupSpec] = Field(min_length=1, max_length=MAX_GROUPS)
    constraints: list[ConstraintSpec] = Field(default_factory=list, max_length=MAX_CONSTRAINTS)
    lead_time_days: int = Field(0, ge=0, le=MAX_LEAD_TIME_DAYS)
    made_to_order: bool = Field(
        False, description="Produced after the order: no stock is reserved for it."
    )


class ConfigurationIn(Strict):
    """A shopper's choices: group code → option code (choice), list of option codes
    (multi) or text (text)."""

    selections: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64)],
        Annotated[str, StringConstraints(max_length=MAX_TEXT_LENGTH)]
        | Annotated[
            list[Annotated[str, StringConstraints(max_length=64)]],
            Field(max_length=MAX_GROUP_OPTIONS),
        ],
    ] = Field(default_factory=dict, max_length=MAX_GROUPS)


# ------------------------------------------------------------------ spec checking


@dataclass(frozen=True)
class _Fault:
    path: str
    msg: str


def _normalise(spec: CustomisationSpec) -> CustomisationSpec:
    """Fill the defaults a group kind implies, so stored specs are explicit."""
    groups = []
    for g in spec.groups:
        if g.kind == GroupKind.MULTI:
            g = g.model_copy(
                update={
                    "min_selections": g.min_selections or 0,
                    "max_selections": g.max_selections or len(g.options),
                }
            )
        elif g.kind == GroupKind.TEXT:
            g = g.model_copy(
                update={
                    "charset": list(
                        dict.fromkeys(g.charset or [Charset.LETTERS, Charset.DIGITS, Charset.SPACE])
                    ),
                    "case": g.case or "as_typed",
                    "extra_characters": g.extra_characters or "",
                    "price_delta": g.price_delta or {},
                }
            )
        groups.append(g)
    return spec.model_copy(update={"groups": groups})


def _group_faults(i: int, g: GroupSpec) -> list[_Fault]:
    at = f"groups[{i}]"
    faults: list[_Fault] = []
    text_fields = ("min_length", "max_length", "charset", "extra_characters", "case")
    if g.kind == GroupKind.TEXT:
        if g.options:
            faults.append(_Fault(f"{at}.options", "a text group has no options"))
        for name in ("min_selections", "max_selections"):
            if getattr(g, name) is not None:
                faults.append(_Fault(f"{at}.{name}", "only multi groups have selection bounds"))
        if g.max_length is None:
            faults.append(_Fault(f"{at}.max_length", "a text group needs max_length"))
        elif g.min_length is not None and g.min_length > g.max_length:
            faults.append(_Fault(f"{at}.min_length", "min_length exceeds max_length"))
        extra = g.extra_characters or ""
        if any(not c.isprintable() or c.isspace() for c in extra):
            faults.append(_Fault(f"{at}.extra_characters", "only visible characters may be added"))
        if len(set(extra)) != len(extra):
            faults.append(_Fault(f"{at}.extra_characters", "characters repeat"))
        return faults
    for name in (*text_fields, "price_delta"):
        if getattr(g, name) is not None:
            faults.append(
                _Fault(f"{at}.{name}", f"only text groups have {name} (options carry prices)")
            )
    if not g.options:
        faults.append(_Fault(f"{at}.options", f"a {g.kind} group needs at least one option"))
    seen: set[str] = set()
    for j, o in enumerate(g.options):
        if o.code in seen:
            faults.append(_Fault(f"{at}.options[{j}].code", f"option code {o.code!r} repeats"))
        seen.add(o.code)
    if g.kind == GroupKind.CHOICE:
        for name in ("min_selections", "max_selections"):
            if getattr(g, name) is not None:
                faults.append(_Fault(f"{at}.{name}", "only multi groups have selection bounds"))
    else:
        lo, hi = g.min_selections or 0, g.max_selections or len(g.options)
        if hi > len(g.options):
            faults.append(_Fault(f"{at}.max_selections", "exceeds the number of options"))
        if lo > hi:
            faults.append(_Fault(f"{at}.min_selections", "exceeds max_selections"))
    return faults


class _Atoms:
    """Constraint references resolved against a spec: ``g.o`` (option o of group g is
    chosen) and ``g`` (anything in group g is chosen, or its text given)."""

    def __init__(self, spec: CustomisationSpec) -> None:
        self.groups = {g.code: g for g in spec.groups}
        self.options = {g.code: {o.code for o in g.options} for g in spec.groups}

    def error(self, ref: str) -> str | None:
        group, _, option = ref.partition(".")
        if group not in self.groups:
            return f"{ref!r} names no group"
        if option and self.groups[group].kind == GroupKind.TEXT:
            return f"{ref!r}: a text group has no options; name the group alone"
        if option and option not in self.options[group]:
            return f"{ref!r} names no option of group {group!r}"
        return None


def _implied(ref: str) -> set[str]:
    """Atoms that hold whenever ``ref`` holds (an option implies its group)."""
    group, _, option = ref.partition(".")
    return {ref, group} if option else {ref}


def _closure(start: str, requires: Mapping[str, set[str]], forced: set[str]) -> set[str]:
    """Atoms every valid configuration holding ``start`` must hold: ``start``, the required
    groups, and whatever their requirements reach, transitively (an option implies its
    group, so a group's requirements apply to its options). Requirements naming a group
    only add the group atom, never a particular option: this under-approximates, so a
    conflict found inside the closure is a real contradiction."""
    out: set[str] = set()
    todo = [start, *forced]
    while todo:
        atom = todo.pop()
        for a in _implied(atom):
            if a not in out:
                out.add(a)
                todo.extend(requires.get(a, ()))
    return out


def _conflict(
    atoms: set[str], excludes: list[tuple[str, str]], groups: Mapping[str, GroupSpec]
) -> str | None:
    """Why no configuration can contain all of ``atoms`` (None when nothing is found)."""
    for a, b in excludes:
        if a in atoms and b in atoms:
            return f"{a} and {b} would both be needed, but they exclude each other"
    chosen: dict[str, list[str]] = {}
    for atom in sorted(atoms):
        group, _, option = atom.partition(".")
        if option:
            chosen.setdefault(group, []).append(option)
    for group, options in chosen.items():
        g = groups[group]
        if g.kind == GroupKind.CHOICE and len(options) > 1:
            return f"options {', '.join(options)} of choice group {group} would all be needed"
        if g.kind == GroupKind.MULTI and len(options) > (g.max_selections or len(g.options)):
            return f"more than max_selections options of group {group} would be needed"
    return None


def check_spec(spec: CustomisationSpec) -> CustomisationSpec:
    """Validate a spec beyond its shape and return it normalised; 422
    ``customisation-spec-invalid`` naming each fault's path otherwise."""
    faults: list[_Fault] = []
    seen: set[str] = set()
    for i, g in enumerate(spec.groups):
        if g.code in seen:
            faults.append(_Fault(f"groups[{i}].code", f"group code {g.code!r} repeats"))
        seen.add(g.code)
        faults += _group_faults(i, g)
    if not faults:  # constraints can only be read against well-formed groups
        faults += _constraint_faults(_normalise(spec))
    if faults:
        raise ProblemError(
            SPEC_INVALID,
            "; ".join(f"{f.path}: {f.msg}" for f in faults[:5]),
            errors=[{"path": f.path, "msg": f.msg} for f in faults[:50]],
        )
    return _normalise(spec)


def _constraint_faults(spec: CustomisationSpec) -> list[_Fault]:
    atoms = _Atoms(spec)
    faults: list[_Fault] = []
    requires: dict[str, set[str]] = {}
    excludes: list[tuple[str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    for i, c in enumerate(spec.constraints):
        at = f"constraints[{i}]"
        bad = [
            (f"{at}.{k}", e) for k, r in (("if", c.if_), ("then", c.then)) if (e := atoms.error(r))
        ]
        if bad:
            faults += [_Fault(p, e) for p, e in bad]
            continue
        if c.if_.partition(".")[0] == c.then.partition(".")[0]:
            faults.append(
                _Fault(
                    at,
                    f"{c.if_} and {c.then} are in the same group: a constraint links "
                    "two different groups",
                )
            )
            continue
        key = (c.kind.value, c.if_, c.then)
        if key in seen:
            faults.append(_Fault(at, "the same constraint is given twice"))
        seen.add(key)
        if c.kind == ConstraintKind.REQUIRES:
            requires.setdefault(c.if_, set()).add(c.then)
        else:
            excludes.append((c.if_, c.then))
    if faults:
        return faults
    # Direct contradictions first: they name the two constraints involved.
    for i, c in enumerate(spec.constraints):
        if c.kind != ConstraintKind.REQUIRES:
            continue
        for j, d in enumerate(spec.constraints):
            if d.kind == ConstraintKind.EXCLUDES and (
                (d.if_ in _implied(c.if_) and d.then in _implied(c.then))
                or (d.then in _implied(c.if_) and d.if_ in _implied(c.then))
            ):
                faults.append(
                    _Fault(
                        f"constraints[{i}]",
                        f"contradicts constraints[{j}]: {c.if_} requires {c.then}, but "
                        f"{d.if_} excludes {d.then}",
                    )
                )
    if faults:
        return faults
    # Then transitive ones: a choice whose requirements can never all hold together.
    forced = {g.code for g in spec.groups if g.required}
    for i, g in enumerate(spec.groups):
        refs = [f"{g.code}.{o.code}" for o in g.options] or [g.code]
        for ref in refs:
            why = _conflict(_closure(ref, requires, forced), excludes, atoms.groups)
            if why is not None:
                faults.append(_Fault(f"groups[{i}]", f"{ref} can never be chosen: {why}"))
    why = _conflict(
        _closure(next(iter(forced)), requires, forced) if forced else set(), excludes, atoms.groups
    )
    if why is not None and not faults:
        faults.append(_Fault("groups", f"the required groups contradict each other: {why}"))
    return faults


# ------------------------------------------------------------ configurations


@dataclass(frozen=True)
class Violation:
    group: str
    message: str
    option: str | None = None
    constraint: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group}
        if self.option is not None:
            out["option"] = self.option
        if self.constraint is not None:
            out["constraint"] = self.constraint
        out["message"] = self.message
        return out


def canonical_text(value: str, group: GroupSpec) -> str:
    """NFC, trimmed, runs of white space made one space, then the group's case."""
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if group.case == "upper":
        text = text.upper()
    elif group.case == "lower":
        text = text.lower()
    return text


def _allowed(ch: str, classes: Iterable[Charset], extra: str) -> bool:
    if ch in extra:
        return True
    for c in classes:
        if c == Charset.LETTERS and ch.isalpha():
            return True
        if c == Charset.ASCII_LETTERS and ch.isascii() and ch.isalpha():
            return True
        if c == Charset.DIGITS and ch in "0123456789":
            return True
        if c == Charset.SPACE and ch == " ":
            return True
        if c == Charset.PUNCTUATION and ch in PUNCTUATION:
            return True
    return False


def _text_violation(text: str, g: GroupSpec) -> str | None:
    """Linear in the text's length: a spec can never make this slow."""
    if g.max_length is not None and len(text) > g.max_length:
        return f"at most {g.max_length} characters (got {len(text)})"
    if g.min_length is not None and len(text) < g.min_length:
        return f"at least {g.min_length} characters (got {len(text)})"
    classes = g.charset or []
    for pos, ch in enumerate(text, 1):
        if not _allowed(ch, classes, g.extra_characters or ""):
            allowed = ", ".join(c.value.replace("_", " ") for c in classes)
            extra = f" and {g.extra_characters}" if g.extra_characters else ""
            return f"character {pos} is not allowed ({allowed}{extra} only)"
    return None


def _holds(ref: str, chosen: Mapping[str, list[str]]) -> bool:
    group, _, option = ref.partition(".")
    return bool(chosen.get(group)) and (not option or option in chosen[group])


def evaluate(
    spec: CustomisationSpec, selections: Mapping[str, Any]
) -> tuple[dict[str, str | list[str]], list[Violation]]:
    """The canonical selections (spec order, empty optional groups dropped) and every
    violation of the spec. Valid exactly when the violation list is empty."""
    violations: list[Violation] = []
    groups = {g.code: g for g in spec.groups}
    chosen: dict[str, list[str]] = {}  # group -> option codes; text groups -> [text]
    for code in selections:
        if code not in groups:
            violations.append(Violation(str(code)[:64], "unknown option group"))
    for g in spec.groups:
        if g.code not in selections:
            continue
        value = selections[g.code]
        options = {o.code: o for o in g.options}
        if g.kind == GroupKind.TEXT:
            if not isinstance(value, str):
                violations.append(Violation(g.code, f"{g.label}: expects text"))
                continue
            text = canonical_text(value, g)
            if text:
                if (why := _text_violation(text, g)) is not None:
                    violations.append(Violation(g.code, f"{g.label}: {why}"))
                chosen[g.code] = [text]
            continue
        if g.kind == GroupKind.CHOICE:
            if not isinstance(value, str):
                violations.append(Violation(g.code, f"{g.label}: choose one option"))
                continue
            picked = [value]
        else:
            if not isinstance(value, list):
                violations.append(Violation(g.code, f"{g.label}: expects a list of options"))
                continue
            picked = list(value)
            if len(set(picked)) != len(picked):
                violations.append(Violation(g.code, f"{g.label}: an option is chosen twice"))
                picked = list(dict.fromkeys(picked))
        good = []
        for code in picked:
            option = options.get(code)
            if option is None:
                violations.append(Violation(g.code, f"{g.label}: no such option", option=code[:64]))
            elif not option.available:
                violations.append(
                    Violation(g.code, f"{g.label}: {option.label} is not available", option=code)
                )
            else:
                good.append(code)
        if g.kind == GroupKind.MULTI and picked:
            lo, hi = max(g.min_selections or 0, 1), g.max_selections or len(g.options)
            if not lo <= len(picked) <= hi:
                bounds = f"{lo} to {hi}" if lo != hi else f"exactly {lo}"
                violations.append(
                    Violation(g.code, f"{g.label}: choose {bounds} options (got {len(picked)})")
                )
        if good:
            order = [o.code for o in g.options]
            chosen[g.code] = sorted(good, key=order.index)
    for g in spec.groups:
        if not g.required or chosen.get(g.code):
            continue
        if any(v.group == g.code for v in violations):
            continue  # already reported (bad option, bad text)
        if g.kind == GroupKind.MULTI and (g.min_selections or 0) > 1:
            msg = f"{g.label}: required, choose at least {g.min_selections}"
        else:
            msg = f"{g.label}: required"
        violations.append(Violation(g.code, msg))
    for c in spec.constraints:
        broken = (
            c.kind == ConstraintKind.REQUIRES
            and _holds(c.if_, chosen)
            and not _holds(c.then, chosen)
        ) or (
            c.kind == ConstraintKind.EXCLUDES and _holds(c.if_, chosen) and _holds(c.then, chosen)
        )
        if broken:
            group, _, if_option = c.if_.partition(".")
            verb = "requires" if c.kind == ConstraintKind.REQUIRES else "cannot be combined with"
            violations.append(
                Violation(
                    group,
                    f"{_describe(c.if_, groups)} {verb} {_describe(c.then, groups)}",
                    option=if_option or None,
                    constraint=c.describe(),
                )
            )
    canonical: dict[str, str | list[str]] = {}
    for g in spec.groups:
        if chosen.get(g.code):
            canonical[g.code] = chosen[g.code] if g.kind == GroupKind.MULTI else chosen[g.code][0]
    return canonical, violations


def _describe(ref: str, groups: Mapping[str, GroupSpec]) -> str:
    group, _, option = ref.partition(".")
    g = groups[group]
    if not option:
        return f"{g.label} (any)" if g.kind != GroupKind.TEXT else g.label
    label = next((o.label for o in g.options if o.code == option), option)
    return f"{g.label}: {label}"


def digest(selections: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical selections: equal configurations, equal digests."""
    blob = json.dumps(
        {"selections": selections}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(blob.encode()).hexdigest()


# -------------------------------------------------------------------- pricing


class BreakdownLine(BaseModel):
    group: str
    label: str
    kind: GroupKind
    value: str | list[str] = Field(description="Option code(s), or the text as stored.")
    display: str = Field(description="For people: option labels, or the quoted text.")
    amount: int = Field(description="Price delta of this group, minor units.")


class ConfigurationOut(BaseModel):
    """A validated, priced configuration: what a quote answers, a cart line shows and an
    order line keeps for production."""

    selections: dict[str, str | list[str]] = Field(description="Canonical form.")
    digest: str = Field(description="SHA-256 of the canonical form.")
    currency: str
    base_amount: int = Field(description="The variant's price.")
    options_amount: int = Field(description="Sum of the breakdown's deltas.")
    unit_amount: int = Field(description="base_amount + options_amount.")
    breakdown: list[BreakdownLine]
    lead_time_days: int
    made_to_order: bool
    summary: str = Field(description="One line for people, e.g. `Sole: Black; Laces: Red`.")
    production_note: str = Field(description="What the workshop needs to make the item.")


class QuoteIn(Strict):
    variant_id: uuid.UUID
    currency: Currency = "EUR"
    configuration: ConfigurationIn = Field(default_factory=ConfigurationIn)


class QuoteOut(ConfigurationOut):
    product_id: uuid.UUID
    variant_id: uuid.UUID
    sku: str
    title: str


def _price(
    spec: CustomisationSpec, selections: Mapping[str, Any], currency: str
) -> list[BreakdownLine]:
    lines: list[BreakdownLine] = []
    unpriced: list[dict[str, str]] = []

    def delta(prices: Mapping[str, int] | None, group: str, option: str | None) -> int:
        if not prices:
            return 0
        if currency not in prices:
            unpriced.append({"group": group, **({"option": option} if option else {})})
            return 0
        return prices[currency]

    for g in spec.groups:
        value = selections.get(g.code)
        if not value:
            continue
        if g.kind == GroupKind.TEXT:
            amount = delta(g.price_delta, g.code, None)
            display = f"“{value}”"
        else:
            codes = [value] if isinstance(value, str) else list(value)
            by_code = {o.code: o for o in g.options}
            amount = sum(delta(by_code[c].price_delta, g.code, c) for c in codes)
            display = ", ".join(by_code[c].label for c in codes)
        lines.append(
            BreakdownLine(
                group=g.code,
                label=g.label,
                kind=g.kind,
                value=value,
                display=display,
                amount=amount,
            )
        )
    if unpriced:
        raise ProblemError(
            CONFIGURATION_PRICE_UNAVAILABLE,
            f"{len(unpriced)} chosen option(s) have no price in {currency}",
            currency=currency,
            options=unpriced,
        )
    return lines


def configure(
    spec: CustomisationSpec,
    selections: Mapping[str, Any],
    *,
    currency: str,
    base_amount: int,
) -> ConfigurationOut:
    """Validate and price a configuration; 422 ``configuration-invalid`` (every
    violation listed) or ``configuration-price-unavailable`` otherwise."""
    canonical, violations = evaluate(spec, selections)
    if violations:
        raise _invalid(violations)
    breakdown = _price(spec, canonical, currency)
    options_amount = sum(b.amount for b in breakdown)
    unit = base_amount + options_amount
    if unit < 0 or unit > MAX_AMOUNT:
        raise _invalid([Violation(breakdown[0].group, "the configured price is out of range")])
    summary = "; ".join(f"{b.label}: {b.display}" for b in breakdown) or "standard"
    lead = f"{spec.lead_time_days} day(s) lead time" if spec.lead_time_days else "no lead time"
    note = f"{'MADE TO ORDER' if spec.made_to_order else 'Customise from stock'}, {lead}. "
    note += "; ".join(f"{b.label} [{b.group}]: {b.display}" for b in breakdown) or "standard"
    return ConfigurationOut(
        selections=canonical,
        digest=digest(canonical),
        currency=currency,
        base_amount=base_amount,
        options_amount=options_amount,
        unit_amount=unit,
        breakdown=breakdown,
        lead_time_days=spec.lead_time_days,
        made_to_order=spec.made_to_order,
        summary=summary[:1000],
        production_note=note[:2000],
    )


def _invalid(violations: list[Violation]) -> ProblemError:
    first = violations[0].message
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return ProblemError(
        CONFIGURATION_INVALID,
        first + more,
        violations=[v.to_dict() for v in violations[:50]],
    )


# ---------------------------------------------------------------- service


def load_spec(raw: Mapping[str, Any] | None) -> CustomisationSpec | None:
    """The stored spec (already checked when saved) as a model; None when not set."""
    if not raw:
        return None
    return CustomisationSpec.model_validate(raw)


def set_customisation(
    s: Session,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    spec: CustomisationSpec,
    *,
    expected_version: int | None = None,
) -> Product:
    """Make a product customisable (or replace its spec): checks the spec, bumps the
    product's version and the merchant's catalog version, emits ``product.updated``."""
    from plaza.catalog import service as catalog

    checked = check_spec(spec)
    product = catalog._lock_product(s, merchant_id, product_id)
    catalog._check_version(product, expected_version)
    stored = checked.model_dump(mode="json", by_alias=True, exclude_none=True)
    if product.customisation == stored:
        return product
    product.customisation = stored
    _changed(s, product)
    return product


def remove_customisation(
    s: Session,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> Product:
    """Make the product plain again (idempotent). Cart lines configured for it fail at
    checkout with ``product-not-customisable``."""
    from plaza.catalog import service as catalog

    product = catalog._lock_product(s, merchant_id, product_id)
    catalog._check_version(product, expected_version)
    if product.customisation is None:
        return product
    product.customisation = None
    _changed(s, product)
    return product


def _changed(s: Session, product: Product) -> None:

    from plaza.catalog import service as catalog

    catalog._touch(s, product)
    catalog._event(
        s,
        catalog.PRODUCT_UPDATED,
        aggregate="product",
        ident=product.id,
        merchant_id=product.merchant_id,
        product_id=str(product.id),
        fields=["customisation"],
        status=product.status.value,
        version=product.version,
    )


def specs_for(
    s: Session, product_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CustomisationSpec | None]:
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    rows = s.execute(select(Product.id, Product.customisation).where(Product.id.in_(ids)))
    return {pid: load_spec(raw) for pid, raw in rows}


def configure_variant(
    spec: CustomisationSpec | None,
    sellable: SellableVariant,
    configuration: Mapping[str, Any] | None,
) -> ConfigurationOut | None:
    """The priced configuration of a line of ``sellable``; None for a plain product
    without configuration. A customisable product always gets one (its empty
    configuration when none is sent, which is valid only without required groups)."""
    if spec is None:
        if configuration is not None:
            raise ProblemError(
                NOT_CUSTOMISABLE,
                f"product {sellable.product_id} is not customisable",
                product_id=str(sellable.product_id),
            )
        return None
    selections = (configuration or {}).get("selections") or {}
    return configure(spec, selections, currency=sellable.currency, base_amount=sellable.unit_amount)


def quote(s: Session, product_id: uuid.UUID, body: QuoteIn) -> QuoteOut:
    """Validate and price a configuration of an active product's variant (public)."""
    from plaza.catalog import service as catalog

    sellable = catalog.get_sellable_variants(s, [body.variant_id], body.currency)[body.variant_id]
    if sellable.product_id != product_id:
        raise not_found("variant", body.variant_id)
    raw = s.scalar(
        select(Product.customisation).where(
            Product.id == product_id, Product.status == ProductStatus.ACTIVE
        )
    )
    spec = load_spec(raw)
    if spec is None:
        raise ProblemError(
            NOT_CUSTOMISABLE,
            f"product {product_id} is not customisable",
            product_id=str(product_id),
        )
    out = configure_variant(spec, sellable, body.configuration.model_dump())
    assert out is not None
    return QuoteOut(
        **out.model_dump(),
        product_id=product_id,
        variant_id=body.variant_id,
        sku=sellable.sku,
        title=sellable.title,
    )


def erase_text(record: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, list[str]]:
    """A stored line configuration with its free texts (engravings, monograms: what the
    customer typed) replaced, and the texts removed (for privacy erasure)."""
    if not record:
        return None, []
    out = json.loads(json.dumps(record))
    texts: list[str] = []
    for line in out.get("breakdown") or []:
        if line.get("kind") == GroupKind.TEXT.value and isinstance(line.get("value"), str):
            texts.append(line["value"])
            line["value"] = line["display"] = "[erased]"
            if isinstance(out.get("selections"), dict) and line.get("group") in out["selections"]:
                out["selections"][line["group"]] = "[erased]"
    for text in texts:
        for key in ("summary", "production_note"):
            if isinstance(out.get(key), str):
                out[key] = out[key].replace(text, "[erased]")
    return out, texts
