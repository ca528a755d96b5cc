"""API shapes of stores: profile (hours, exceptions, services), zones, staff, public views."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from plaza.inventory.geo import TimeZoneName
from plaza.o2o.stores.models import StaffRole, StoreService, ZoneKind
from plaza.schemas import Strict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVALS_PER_DAY = 4
MAX_EXCEPTIONS = 100
# "HH:MM", 00:00–23:59, or 24:00 as the end of a day.
LocalTime = Annotated[
    str, StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", max_length=5)
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ZoneCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$", max_length=32)
]
Phone = Annotated[str, StringConstraints(pattern=r"^[0-9+()./ -]{0,40}$", max_length=40)]


def minutes(value: str) -> int:
    hours, mins = value.split(":")
    return int(hours) * 60 + int(mins)


class Interval(Strict):
    open: LocalTime = Field(description="Local opening time, `HH:MM`.")
    close: LocalTime = Field(description="Local closing time, `HH:MM` (`24:00` = midnight).")

    @model_validator(mode="after")
    def _order(self) -> Interval:
        if minutes(self.close) <= minutes(self.open):
            raise ValueError(
                f"close {self.close} is not after open {self.open} (hours past midnight: "
                "split them over two days)"
            )
        return self


def check_intervals(intervals: list[Interval], where: str) -> None:
    spans = sorted((minutes(i.open), minutes(i.close)) for i in intervals)
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise ValueError(f"overlapping opening hours on {where}")


Intervals = Annotated[list[Interval], Field(max_length=MAX_INTERVALS_PER_DAY)]


class HoursException(Strict):
    date: dt.date
    closed: bool = Field(False, description="Closed all day (then `hours` must be empty).")
    hours: Intervals = Field(default_factory=list, description="Special hours that day.")
    note: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _shape(self) -> HoursException:
        if self.closed and self.hours:
            raise ValueError(f"{self.date}: a closed day has no hours")
        if not self.closed and not self.hours:
            raise ValueError(f"{self.date}: give special hours, or closed: true")
        check_intervals(self.hours, str(self.date))
        return self


class StoreProfileIn(Strict):
    """The whole profile (PUT replaces it)."""

    timezone: TimeZoneName | None = Field(
        None,
        max_length=64,
        description="IANA zone of the hours; default: the location's own timezone.",
    )
    phone: Phone = ""
    services: list[StoreService] = Field(default_factory=list, max_length=len(StoreService))
    hours: dict[Weekday, Intervals] = Field(
        default_factory=dict,
        description="Weekday (`mon`…`sun`) -> opening intervals in local time; a missing "
        "weekday is closed.",
    )
    exceptions: list[HoursException] = Field(default_factory=list, max_length=MAX_EXCEPTIONS)

    @model_validator(mode="after")
    def _check(self) -> StoreProfileIn:
        for day, intervals in self.hours.items():
            check_intervals(intervals, day)
        dates = [e.date for e in self.exceptions]
        if len(dates) != len(set(dates)):
            raise ValueError("one exception per date")
        if len(self.services) != len(set(self.services)):
            raise ValueError("services are listed once each")
        return self


class IntervalOut(BaseModel):
    open: str
    close: str


class HoursExceptionOut(BaseModel):
    date: dt.date
    closed: bool
    hours: list[IntervalOut]
    note: str


class StoreProfileOut(BaseModel):
    location_id: uuid.UUID
    timezone: str = Field(description="The zone the hours are in (profile's or location's).")
    phone: str
    services: list[StoreService]
    hours: dict[str, list[IntervalOut]]
    exceptions: list[HoursExceptionOut]
    open_now: bool | None = Field(description="Null when no hours are set.")
    updated_at: dt.datetime | None


class ZoneIn(Strict):
    code: ZoneCode = Field(description="Unique within the store, e.g. `MENS-1`.")
    name: str = Field(min_length=1, max_length=100)
    kind: ZoneKind


class ZonePatch(Strict):
    code: ZoneCode | None = None
    name: str | None = Field(None, min_length=1, max_length=100)
    kind: ZoneKind | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ZonePatch:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ZoneOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    location_id: uuid.UUID
    code: str
    name: str
    kind: ZoneKind
    created_at: dt.datetime


class ZoneList(BaseModel):
    items: list[ZoneOut]


class StaffIn(Strict):
    role: StaffRole = StaffRole.ASSOCIATE


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    location_id: uuid.UUID
    role: StaffRole
    since: dt.datetime


class StaffList(BaseModel):
    items: list[StaffOut]


class PublicZoneOut(BaseModel):
    code: str
    name: str
    kind: ZoneKind


class PublicStoreOut(BaseModel):
    """What anyone may see of a store."""

    id: uuid.UUID = Field(description="The store's location id.")
    merchant_id: uuid.UUID
    name: str
    address_line1: str
    postal_code: str
    city: str
    country: str
    latitude: float | None
    longitude: float | None
    timezone: str
    phone: str
    services: list[StoreService]
    hours: dict[str, list[IntervalOut]]
    open_now: bool | None = Field(description="Computed in the store's timezone; null: no hours.")
    today: list[IntervalOut] | None = Field(
        description="Today's hours (local), exceptions applied."
    )
    distance_km: float | None = Field(description="From the given point; null without one.")


class StoreDetailOut(PublicStoreOut):
    exceptions: list[HoursExceptionOut]
    zones: list[PublicZoneOut]


class NearbyStores(BaseModel):
    items: list[PublicStoreOut]


class VariantStoreOut(BaseModel):
    store: PublicStoreOut
    stock: Literal["low", "in_stock"] = Field(
        description="`low`: at most `quantity_exact_up_to` units; `in_stock`: more."
    )
    quantity: int | None = Field(
        description="Exact available units when `low`; null when `in_stock` (more than that)."
    )


class VariantStores(BaseModel):
    variant_id: uuid.UUID
    quantity_exact_up_to: int
    items: list[VariantStoreOut]
