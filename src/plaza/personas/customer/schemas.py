"""API shapes of a customer's profile, personas and tracked activity: inputs are strict
(unknown fields refused, every string, list and number bounded); outputs mirror them."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from plaza.catalog.schemas import Strict
from plaza.inventory.geo import CountryCode
from plaza.money import MAX_AMOUNT, Currency
from plaza.personas.models import ActivityKind, Sustainability

MAX_AGE_YEARS = 120
MAX_LIST = 20
MAX_PERSONAS = 10


def _words(value: str) -> str:
    """Lower case, single spaces: how preference values are stored and compared."""
    value = " ".join(value.split()).casefold()
    if not value:
        raise ValueError("a value cannot be blank")
    return value


Text30 = Annotated[str, StringConstraints(min_length=1, max_length=30)]
Text100 = Annotated[str, StringConstraints(min_length=1, max_length=100)]
PostalCode = Annotated[
    str, StringConstraints(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$")
]
PersonaName = Annotated[str, StringConstraints(min_length=1, max_length=60)]
Relation = Annotated[str, StringConstraints(min_length=1, max_length=30), AfterValidator(_words)]
Size = Annotated[str, StringConstraints(min_length=1, max_length=20)]
Preference = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_words)]
Budget = Annotated[int, Field(ge=1, le=MAX_AMOUNT, strict=True)]


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


# ---------------------------------------------------------------------------- profile


class ProfileIn(Strict):
    """The whole profile (PUT replaces it): every field is optional; null or absent clears."""

    birth_date: dt.date | None = Field(
        None, description="Not in the future; at most 120 years ago."
    )
    gender: Text30 | None = Field(None, description="In the customer's own words.")
    country: CountryCode | None = Field(None, description="ISO 3166-1 alpha-2, e.g. `NL`.")
    city: Text100 | None = None
    postal_code: PostalCode | None = None

    @field_validator("birth_date")
    @classmethod
    def _plausible(cls, value: dt.date | None) -> dt.date | None:
        if value is None:
            return None
        today = dt.datetime.now(dt.UTC).date()
        if value > today:
            raise ValueError("a birth date cannot be in the future")
        try:
            oldest = today.replace(year=today.year - MAX_AGE_YEARS)
        except ValueError:  # 29 February
            oldest = today.replace(year=today.year - MAX_AGE_YEARS, day=28)
        if value < oldest:
            raise ValueError(f"a birth date more than {MAX_AGE_YEARS} years ago")
        return value


class ProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    birth_date: dt.date | None = None
    gender: str | None = None
    country: str | None = None
    city: str | None = None
    postal_code: str | None = None
    updated_at: dt.datetime | None = None


# ---------------------------------------------------------------------------- personas


class Fit(enum.StrEnum):
    SLIM = "slim"
    REGULAR = "regular"
    RELAXED = "relaxed"
    OVERSIZED = "oversized"


class BudgetIn(Strict):
    amount: Budget = Field(description="The most one item may cost, in minor units.")
    currency: Currency = Field(description="ISO 4217; items not priced in it are left out.")


class BudgetOut(BaseModel):
    amount: int
    currency: str


SizeList = Annotated[list[Size], Field(max_length=MAX_LIST), AfterValidator(_dedupe)]
PreferenceList = Annotated[list[Preference], Field(max_length=MAX_LIST), AfterValidator(_dedupe)]

_PAIRS = (("colours_prefer", "colours_avoid"), ("materials_prefer", "materials_avoid"))


def _no_contradiction(values: dict[str, Any]) -> None:
    for prefer, avoid in _PAIRS:
        both = set(values.get(prefer) or ()) & set(values.get(avoid) or ())
        if both:
            raise ValueError(
                f"{', '.join(sorted(both))}: a value cannot be both in {prefer} and {avoid}"
            )


class PersonaIn(Strict):
    name: PersonaName = Field(description="Unique among the customer's personas, e.g. `me`.")
    relation: Relation = Field("self", description="Who it is: self, child, partner, …")
    is_default: bool = Field(False, description="Use it when no persona is named (one only).")
    sizes: SizeList = Field(
        default_factory=list, description='Sizes as products spell them ("M", "42", "39-42").'
    )
    fit: Fit | None = None
    colours_prefer: PreferenceList = Field(default_factory=list)
    colours_avoid: PreferenceList = Field(default_factory=list)
    styles: PreferenceList = Field(default_factory=list, description="e.g. `classic`, `boxy`.")
    materials_prefer: PreferenceList = Field(default_factory=list)
    materials_avoid: PreferenceList = Field(default_factory=list)
    sustainability: Sustainability = Field(
        Sustainability.ANY, description="`any`, `prefer` (rank first) or `only`."
    )
    budget: BudgetIn | None = Field(None, description="At most this per item; null: none.")

    @model_validator(mode="after")
    def _consistent(self) -> PersonaIn:
        _no_contradiction(self.model_dump())
        return self


class PersonaPatch(Strict):
    """Fields to change; those left out keep their value (null clears fit and budget)."""

    name: PersonaName | None = None
    relation: Relation | None = None
    is_default: bool | None = None
    sizes: SizeList | None = None
    fit: Fit | None = None
    colours_prefer: PreferenceList | None = None
    colours_avoid: PreferenceList | None = None
    styles: PreferenceList | None = None
    materials_prefer: PreferenceList | None = None
    materials_avoid: PreferenceList | None = None
    sustainability: Sustainability | None = None
    budget: BudgetIn | None = None

    @model_validator(mode="after")
    def _not_null(self) -> PersonaPatch:
        nullable = {"fit", "budget"}
        for name in self.model_fields_set - nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PersonaOut(BaseModel):
    id: uuid.UUID
    name: str
    relation: str
    is_default: bool
    sizes: list[str]
    fit: str | None
    colours_prefer: list[str]
    colours_avoid: list[str]
    styles: list[str]
    materials_prefer: list[str]
    materials_avoid: list[str]
    sustainability: Sustainability
    budget: BudgetOut | None
    created_at: dt.datetime
    updated_at: dt.datetime


# ---------------------------------------------------------------------------- activity


class TrackIn(Strict):
    kind: Literal["view", "cart_add"] = Field(description="What the customer did.")
    product_id: uuid.UUID
    event_id: uuid.UUID = Field(
        description="A UUID the client makes per event; a retry with the same one records once."
    )
    occurred_at: AwareDatetime | None = Field(
        None, description="When it happened (with a time zone); default now. At most 30 days ago."
    )


class TrackOut(BaseModel):
    recorded: bool = Field(
        description="False when the customer has not granted `personalisation` consent "
        "(nothing is tracked), or the event was recorded before (a retry)."
    )
    reason: Literal["recorded", "duplicate", "no-consent"]


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    kind: ActivityKind
    product_id: uuid.UUID | None
    merchant_id: uuid.UUID | None
    category: str | None
    quantity: int
    amount: int
    currency: str | None
    occurred_at: dt.datetime
