"""API shapes of strategic personas: strict inputs (unknown fields refused, every string
and list bounded) and the views staff read. The rule itself is checked by
``plaza.personas.segments.rules.parse``, which names the offending node precisely."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator

from plaza.catalog.base import Strict  # refuses NUL characters too
from plaza.personas.models import PersonaStatus

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Channel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
RULE_DOC = (
    "The membership rule in Plaza's condition language (docs/personas.md): `all`, `any`, "
    "`not`, `property`, `event_count` and `past_event` conditions. An invalid rule is "
    "`422 persona-rule-invalid` with a JSON pointer (`path`) to the offending node."
)


class AgeRange(Strict):
    min: int = Field(ge=0, le=120)
    max: int = Field(ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min > self.max:
            raise ValueError("min cannot exceed max")
        return self


class IdealCustomer(Strict):
    """The ideal-customer profile, for the people who plan around the persona."""

    summary: str = Field("", max_length=1000, description="Who they are, in a few lines.")
    goals: list[Line] = Field(default_factory=list, max_length=10)
    pains: list[Line] = Field(default_factory=list, max_length=10)
    channels: list[Channel] = Field(
        default_factory=list, max_length=10, description="Where to reach them: instagram, store…"
    )
    age_range: AgeRange | None = None
    quote: str = Field("", max_length=300, description="Something they would say.")


class PersonaIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=5000)
    ideal_customer: IdealCustomer = Field(default_factory=IdealCustomer)
    rule: dict[str, Any] = Field(description=RULE_DOC)


class PersonaPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=5000)
    ideal_customer: IdealCustomer | None = None
    rule: dict[str, Any] | None = Field(None, description=RULE_DOC)
    status: PersonaStatus | None = Field(
        None, description="`archived` empties the persona; `active` restores and re-evaluates it."
    )
    expected_version: int | None = Field(
        None, ge=1, le=2**31, description="Refuse the change (409) unless this is the version."
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> PersonaPatch:
        for name in ("name", "description", "ideal_customer", "rule", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PreviewIn(Strict):
    rule: dict[str, Any] = Field(description=RULE_DOC)


class PreviewOut(BaseModel):
    audience_size: int = Field(description="Customers the rule selects (estimated if sampled).")
    evaluated_customers: int = Field(
        description="Customers who allow personalisation: the only possible members."
    )
    sample_size: int | None = Field(
        None, description="Set when the audience was estimated from a sample of this size."
    )


class PersonaOut(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    description: str
    ideal_customer: IdealCustomer
    rule: dict[str, Any]
    status: PersonaStatus
    member_count: int
    evaluated_at: dt.datetime | None = Field(description="Last full evaluation of the rule.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class MemberOut(BaseModel):
    user_id: uuid.UUID
    since: dt.datetime


class RebuildOut(BaseModel):
    persona_id: uuid.UUID
    joined: int
    left: int
    member_count: int
    evaluated_customers: int
