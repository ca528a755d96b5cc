"""How a customer persona filters and ranks products (user-facing behaviour: keep
``docs/personas.md`` in step with this docstring).

``persona_score(persona, features)`` answers ``None`` when the persona **excludes** the
product, otherwise a **bonus** of 0 or more. A product is excluded when:

- **Size**: the product has a ``size`` option and the persona names sizes, but none of
  the persona's sizes of the same sizing system is offered. Sizes are compared without
  regard to case and spacing; systems are letter sizes (``XS``…``XXL``, ``3XL``), numbers
  and number ranges (``42``, ``39-42``: a number inside a range fits), and anything else
  (``W32/L34``, ``2-person``), compared as written. A persona without a size of the
  product's system (a shoe size, but the product is a T-shirt) is not excluded, because we
  do not know what fits. Products without a ``size`` option always pass.
- **Colour**: every colour the product comes in (its ``colour`` or ``color`` option) is
  one the persona avoids. A product that also comes in another colour stays.
- **Material**: an avoided material is one of the product's tags or is named in its
  title (as whole words: avoiding ``wool`` excludes "Recycled Wool Beanie", not
  "Woolly"). Materials are intrinsic, so one avoided material excludes.
- **Budget**: the persona has a budget and the product's lowest live price in the
  budget's currency is above it, or the product has no price in that currency.
- **Sustainability** ``only``: the product is not sustainable (none of its tags is in
  ``plaza.catalog.features.SUSTAINABLE_TAGS``: recycled, organic, fair-trade, …).

The bonus adds up, for a product that is not excluded:

- ``+1`` when it comes in one of the preferred colours;
- ``+1`` per preferred style found in its tags or title (at most ``+2``);
- ``+1`` per preferred material found in its tags or title (at most ``+2``);
- ``+0.5`` when the persona's ``fit`` (``slim``, ``regular``, ``relaxed``…) is named in its
  tags or title;
- ``+1.5`` when it is sustainable and the persona's sustainability is ``prefer``.

The description is not read: it mentions packaging and care ("wrapped in recycled
paper") that would make false matches.

``rank_for_persona(persona, features, scores)`` drops excluded products (and products
without features or with a non-finite score), then orders the rest by
``normalised base score + 0.1 × bonus``, best first, where the base scores are rescaled
to 0–1 over the candidates (so the blend does not depend on the scale of the
recommender's scores: one bonus point lifts a product by a tenth of the score range).
Ties keep the higher base score first, then the product id, so the order is stable.

The features must be priced in the persona's budget currency for the budget rule to
mean anything: use ``features_for(s, persona, product_ids)``.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy.orm import Session

from plaza.catalog.features import ProductFeatures, product_features
from plaza.personas.models import CustomerPersona, Sustainability

BONUS_WEIGHT = 0.1
COLOUR_BONUS = 1.0
STYLE_BONUS = 1.0
MATERIAL_BONUS = 1.0
MAX_MATCHES = 2
FIT_BONUS = 0.5
SUSTAINABLE_BONUS = 1.5

COLOUR_OPTIONS = ("colour", "color")
SIZE_OPTION = "size"

_WORD = re.compile(r"[0-9a-z]+")
_LETTER_SIZE = re.compile(r"^\d?x{0,4}[sml]$")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")
_RANGE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*[-–]\s*(\d+(?:[.,]\d+)?)$")


def _norm(value: str) -> str:
    return " ".join(value.casefold().split())


def _words(value: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(value.casefold()))


def _contains(haystack: Sequence[tuple[str, ...]], term: str) -> bool:
    """Whether ``term``'s words occur, in order and contiguous, in one of the texts."""
    needle = _words(term)
    if not needle:
        return False
    n = len(needle)
    return any(text[i : i + n] == needle for text in haystack for i in range(len(text) - n + 1))


# ---------------------------------------------------------------------------- sizes


def _number(value: str) -> float:
    return float(value.replace(",", "."))


def _system(size: str) -> str:
    if _LETTER_SIZE.match(size):
        return "letter"
    if _NUMBER.match(size) or _RANGE.match(size):
        return "number"
    return "other"


def _size_fits(wanted: str, offered: str) -> bool:
    if wanted == offered:
        return True
    if _NUMBER.match(wanted):
        m = _RANGE.match(offered)
        if m is not None:
            return _number(m.group(1)) <= _number(wanted) <= _number(m.group(2))
        if _NUMBER.match(offered):
            return _number(wanted) == _number(offered)
    return False


def sizes_fit(persona_sizes: Iterable[str], offered: Iterable[str]) -> bool:
    """The size rule of the module docstring (True: not excluded by size)."""
    offered_n = {_norm(v) for v in offered if v.strip()}
    if not offered_n:
        return True
    systems = {_system(v) for v in offered_n}
    wanted = [w for w in (_norm(v) for v in persona_sizes) if w and _system(w) in systems]
    if not wanted:
        return True
    return any(_size_fits(w, o) for w in wanted for o in offered_n)


# ---------------------------------------------------------------------------- scoring


def _colours(f: ProductFeatures) -> set[str]:
    out: set[str] = set()
    for name in COLOUR_OPTIONS:
        out.update(_norm(v) for v in f.options.get(name, ()))
    return out


def _texts(f: ProductFeatures) -> list[tuple[str, ...]]:
    """The product's tags and title as word tuples (what styles and materials match)."""
    return [_words(t) for t in f.tags] + [_words(f.title)]


def _values(items: Iterable[str] | None) -> list[str]:
    return [v for v in (_norm(i) for i in items or ()) if v]


def persona_score(persona: CustomerPersona, f: ProductFeatures) -> float | None:
    """``None`` if ``persona`` excludes the product, else its bonus (>= 0); see the module
    docstring for the rules."""
    # Exclusions first: they are cheap and most products fail here or not at all.
    sizes = _values(persona.sizes)
    if sizes and not sizes_fit(sizes, f.options.get(SIZE_OPTION, ())):
        return None
    colours = _colours(f)
    avoid_colours = set(_values(persona.colours_avoid))
    if colours and avoid_colours and colours <= avoid_colours:
        return None
    texts = _texts(f)
    if any(_contains(texts, m) for m in _values(persona.materials_avoid)):
        return None
    if persona.budget_amount is not None and (
        f.min_price is None or f.min_price > persona.budget_amount
    ):
        return None
    sustainability = Sustainability(persona.sustainability or Sustainability.ANY)
    if sustainability == Sustainability.ONLY and not f.sustainable:
        return None

    bonus = 0.0
    if colours & set(_values(persona.colours_prefer)):
        bonus += COLOUR_BONUS
    styles = sum(1 for st in set(_values(persona.styles)) if _contains(texts, st))
    bonus += STYLE_BONUS * min(styles, MAX_MATCHES)
    materials = sum(1 for m in set(_values(persona.materials_prefer)) if _contains(texts, m))
    bonus += MATERIAL_BONUS * min(materials, MAX_MATCHES)
    if persona.fit and _contains(texts, persona.fit):
        bonus += FIT_BONUS
    if sustainability == Sustainability.PREFER and f.sustainable:
        bonus += SUSTAINABLE_BONUS
    return bonus


def rank_for_persona(
    persona: CustomerPersona,
    features: Mapping[uuid.UUID, ProductFeatures],
    scores: Mapping[uuid.UUID, float],
) -> list[tuple[uuid.UUID, float]]:
    """``scores``' products the persona allows, best first, with their combined score
    (see the module docstring)."""
    allowed: list[tuple[uuid.UUID, float, float]] = []
    for pid, base in scores.items():
        f = features.get(pid)
        if f is None or not math.isfinite(base):
            continue
        bonus = persona_score(persona, f)
        if bonus is not None:
            allowed.append((pid, float(base), bonus))
    if not allowed:
        return []
    lo = min(b for _, b, _ in allowed)
    hi = max(b for _, b, _ in allowed)
    span = hi - lo
    ranked = [
        (pid, ((base - lo) / span if span > 0 else 1.0) + BONUS_WEIGHT * bonus, base)
        for pid, base, bonus in allowed
    ]
    ranked.sort(key=lambda r: (-r[1], -r[2], str(r[0])))
    return [(pid, combined) for pid, combined, _ in ranked]


def features_for(
    s: Session, persona: CustomerPersona, product_ids: Iterable[uuid.UUID] | None
) -> dict[uuid.UUID, ProductFeatures]:
    """Product facts priced in the persona's budget currency (EUR without a budget)."""
    return product_features(s, product_ids, currency=persona.budget_currency or "EUR")


def filter_for_persona(
    persona: CustomerPersona, features: Mapping[uuid.UUID, ProductFeatures]
) -> list[uuid.UUID]:
    """The products of ``features`` the persona does not exclude, in the given order."""
    return [pid for pid, f in features.items() if persona_score(persona, f) is not None]
