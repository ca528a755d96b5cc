"""API shapes for inventory: locations, stock levels, adjustments, ledger, reservations."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from plaza.inventory.geo import CountryCode, TimeZoneName
from plaza.inventory.models import (
    DEFAULT_LOW_STOCK_THRESHOLD,
    Location,
    LocationKind,
    MovementReason,
    ReservationStatus,
)
from plaza.inventory.service import MAX_QUANTITY
from plaza.schemas import Strict

LocationCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", max_length=64)
]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Zone = Annotated[TimeZoneName, StringConstraints(max_length=64)]
Threshold = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class AddressIn(Strict):
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field("", max_length=20)
    region: str = Field("", max_length=100)
    country: CountryCode = Field(description="ISO 3166-1 alpha-2, e.g. `FR`.")

    def columns(self) -> dict[str, Any]:
        return {
            "address_line1": self.line1,
            "address_line2": self.line2,
            "city": self.city,
            "postal_code": self.postal_code,
            "region": self.region,
            "country": self.country,
        }


def _coords_pair(lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise ValueError("latitude and longitude are given together or not at all")


class LocationIn(Strict):
    code: LocationCode = Field(description="Unique per merchant, e.g. `WH-PARIS-1`.")
    name: str = Field(min_length=1, max_length=200)
    kind: LocationKind
    address: AddressIn
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    timezone: Zone = Field("UTC", description="IANA time zone, e.g. `Europe/Paris`.")
    is_active: bool = True
    fulfils_online: bool = Field(True, description="May ship online orders.")
    low_stock_threshold: Threshold = Field(
        DEFAULT_LOW_STOCK_THRESHOLD,
        description="`stock.low` fires when available units drop to or below this.",
    )

    @model_validator(mode="after")
    def _pair(self) -> LocationIn:
        _coords_pair(self.latitude, self.longitude)
        return self

    def columns(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"address"})
        return {**data, **self.address.columns()}


class LocationPatch(Strict):
    code: LocationCode | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: LocationKind | None = None
    address: AddressIn | None = Field(None, description="Replaces the whole address.")
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    timezone: Zone | None = None
    is_active: bool | None = None
    fulfils_online: bool | None = None
    low_stock_threshold: Threshold | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> LocationPatch:
        # Only the coordinates may be cleared with null (both at once).
        for name in self.model_fields_set - {"latitude", "longitude"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if {"latitude", "longitude"} & self.model_fields_set:
            _coords_pair(self.latitude, self.longitude)
        return self

    def changes(self) -> dict[str, Any]:
        data = self.model_dump(exclude_unset=True, exclude={"address"})
        if self.address is not None:
            data.update(self.address.columns())
        return data


class AddressOut(BaseModel):
    line1: str
    line2: str
    city: str
    postal_code: str
    region: str
    country: str


class LocationOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: LocationKind
    address: AddressOut
    latitude: float | None
    longitude: float | None
    timezone: str
    is_active: bool
    fulfils_online: bool
    low_stock_threshold: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, loc: Location) -> LocationOut:
        return cls(
            id=loc.id,
            code=loc.code,
            name=loc.name,
            kind=loc.kind,
            address=AddressOut(
                line1=loc.address_line1,
                line2=loc.address_line2,
                city=loc.city,
                postal_code=loc.postal_code,
                region=loc.region,
                country=loc.country,
            ),
            latitude=loc.latitude,
            longitude=loc.longitude,
            timezone=loc.timezone,
            is_active=loc.is_active,
            fulfils_online=loc.fulfils_online,
            low_stock_threshold=loc.low_stock_threshold,
            created_at=loc.created_at,
            updated_at=loc.updated_at,
        )


class StockLevelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID
    on_hand: int
    reserved: int
    available: int
    updated_at: dt.datetime


class StockSetIn(Strict):
    on_hand: int = Field(ge=0, le=MAX_QUANTITY, description="The counted units on hand.")
    expected_on_hand: int | None = Field(
        None,
        ge=0,
        le=MAX_QUANTITY,
        description="Optimistic concurrency: refuse (409) if on_hand is no longer this.",
    )
    reference: Reference | None = Field(None, description="e.g. a stock-take id.")


# Reasons a person may record by hand; reservation reasons belong to the system.
ManualReason = Literal["adjustment", "receipt", "return", "sale"]


class AdjustmentIn(Strict):
    variant_id: uuid.UUID
    location_id: uuid.UUID
    delta: int = Field(
        ge=-MAX_QUANTITY, le=MAX_QUANTITY, description="Units to add (>0) or remove (<0)."
    )
    reason: ManualReason = "adjustment"
    reference: Reference | None = Field(None, description="e.g. a delivery note number.")

    @model_validator(mode="after")
    def _non_zero(self) -> AdjustmentIn:
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        if self.reason in ("receipt", "return") and self.delta < 0:
            raise ValueError(f"a {self.reason} adds units: delta must be positive")
        if self.reason == "sale" and self.delta > 0:
            raise ValueError("a sale removes units: delta must be negative")
        return self


class MovementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID
    delta_on_hand: int
    delta_reserved: int
    reason: MovementReason
    reference: str | None
    actor: str
    at: dt.datetime


class AdjustmentOut(BaseModel):
    stock: StockLevelOut
    movement: MovementOut


class ReservationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID
    quantity: int
    reference: str
    status: ReservationStatus
    expires_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime


class StoreAvailabilityOut(BaseModel):
    location_id: uuid.UUID
    code: str
    name: str
    city: str
    country: str
    latitude: float | None
    longitude: float | None
    available: int


class AvailabilityOut(BaseModel):
    variant_id: uuid.UUID
    available: int = Field(description="Units across all active locations.")
    online_available: int = Field(description="Units that can be shipped to an online order.")
    in_stock_online: bool
    stores: list[StoreAvailabilityOut] = Field(description="Active stores that stock it.")
