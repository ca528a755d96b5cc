"""API shapes of beacons, sightings, visits and proximity offers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from plaza.o2o.beacons.models import BeaconKind, OfferAudience
from plaza.o2o.stores.schemas import LocalTime, minutes
from plaza.schemas import Strict

MAX_SIGHTINGS = 50
HexNamespace = Annotated[
    str, StringConstraints(pattern=r"^[0-9A-Fa-f]{20}$", min_length=20, max_length=20)
]
HexInstance = Annotated[
    str, StringConstraints(pattern=r"^[0-9A-Fa-f]{12}$", min_length=12, max_length=12)
]
UInt16 = Annotated[int, Field(ge=0, le=65535)]


class IBeaconId(Strict):
    kind: Literal["ibeacon"]
    uuid: UUID = Field(description="Proximity UUID.")
    major: UInt16
    minor: UInt16

    def identifier(self) -> str:
        return f"ibeacon:{self.uuid}:{self.major}:{self.minor}"


class EddystoneUidId(Strict):
    kind: Literal["eddystone_uid"]
    namespace: HexNamespace = Field(description="10-byte namespace, 20 hex digits.")
    instance: HexInstance = Field(description="6-byte instance, 12 hex digits.")

    def identifier(self) -> str:
        return f"eddystone_uid:{self.namespace.lower()}:{self.instance.lower()}"


BeaconId = Annotated[IBeaconId | EddystoneUidId, Field(discriminator="kind")]


class BeaconIn(Strict):
    beacon: BeaconId
    zone_id: UUID = Field(description="A zone of one of the merchant's stores.")
    label: str = Field("", max_length=100)
    is_active: bool = True


class BeaconPatch(Strict):
    zone_id: UUID | None = None
    label: str | None = Field(None, max_length=100)
    is_active: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> BeaconPatch:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class BeaconOut(BaseModel):
    id: UUID
    kind: BeaconKind
    identifier: str
    beacon: IBeaconId | EddystoneUidId
    store_id: UUID
    zone_id: UUID
    label: str
    is_active: bool
    created_at: dt.datetime


class SightingIn(Strict):
    beacon: BeaconId
    rssi: int = Field(
        ge=-1000,
        le=1000,
        description="Received signal strength, dBm; outside −120..0 the sighting is rejected.",
    )
    tx_power: int | None = Field(None, ge=-127, le=127, description="Calibrated power, dBm.")
    seen_at: AwareDatetime = Field(description="When the phone saw the beacon (RFC 3339).")


class SightingsIn(Strict):
    sightings: list[SightingIn] = Field(min_length=1, max_length=MAX_SIGHTINGS)


class SightingError(BaseModel):
    type: str = Field(description="A problem type URI, e.g. `/problems/sighting-unknown-beacon`.")
    title: str
    detail: str


class SightingResult(BaseModel):
    index: int = Field(description="Position of the sighting in the request.")
    status: Literal["accepted", "duplicate", "rejected"]
    store_id: UUID | None = None
    zone_id: UUID | None = None
    error: SightingError | None = None


class VisitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    store_id: UUID
    zone_id: UUID
    started_at: dt.datetime
    last_seen_at: dt.datetime
    dwelled_at: dt.datetime | None
    ended_at: dt.datetime | None


class DeliveredOffer(BaseModel):
    offer_id: UUID
    store_id: UUID
    zone_id: UUID
    title: str
    message: str
    product_ids: list[UUID]
    ends_at: dt.datetime


class SightingsOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[SightingResult]
    visits: list[VisitOut] = Field(description="Visits this batch opened, moved or ended.")
    offers: list[DeliveredOffer] = Field(description="Offers for zones entered just now.")


class OfferIn(Strict):
    zone_id: UUID
    title: str = Field(min_length=1, max_length=100)
    message: str = Field(min_length=1, max_length=500)
    audience: OfferAudience = OfferAudience.ANY
    persona_ids: list[UUID] = Field(
        default_factory=list, max_length=20, description="With audience `personas`."
    )
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    daily_from: LocalTime | None = Field(None, description="Local time in the store, `HH:MM`.")
    daily_to: LocalTime | None = None
    cap_per_customer: int = Field(1, ge=1, le=100, description="Deliveries per customer, at most.")
    product_ids: list[UUID] = Field(default_factory=list, max_length=20)
    is_active: bool = True

    @model_validator(mode="after")
    def _check(self) -> OfferIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.daily_from is None) != (self.daily_to is None):
            raise ValueError("daily_from and daily_to are given together")
        if (
            self.daily_from is not None
            and self.daily_to is not None
            and minutes(self.daily_to) <= minutes(self.daily_from)
        ):
            raise ValueError("daily_to must be after daily_from")
        if self.audience == OfferAudience.PERSONAS and not self.persona_ids:
            raise ValueError("audience 'personas' needs persona_ids")
        if self.audience == OfferAudience.ANY and self.persona_ids:
            raise ValueError("persona_ids need audience 'personas'")
        if len(set(self.persona_ids)) != len(self.persona_ids):
            raise ValueError("persona_ids are listed once each")
        return self


class OfferOut(BaseModel):
    id: UUID
    zone_id: UUID
    store_id: UUID
    title: str
    message: str
    audience: OfferAudience
    persona_ids: list[UUID]
    starts_at: dt.datetime
    ends_at: dt.datetime
    daily_from: str | None
    daily_to: str | None
    cap_per_customer: int
    product_ids: list[UUID]
    is_active: bool
    deliveries: int = Field(description="How many times it was shown so far.")
    created_at: dt.datetime
    updated_at: dt.datetime
