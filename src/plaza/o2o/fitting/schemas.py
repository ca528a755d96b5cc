"""API shapes of smart fitting rooms."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from plaza.o2o.codes import MAX_CODE_LENGTH
from plaza.o2o.fitting.models import (
    BoughtVia,
    FittingRoom,
    ItemSource,
    RequestStatus,
    SessionStatus,
)
from plaza.o2o.fitting.service import MAX_ITEMS_PER_SESSION
from plaza.schemas import Strict

RoomCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$", max_length=32)
]
Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_CODE_LENGTH, strip_whitespace=True),
]
Codes = Annotated[
    list[Code],
    Field(
        min_length=1,
        max_length=MAX_ITEMS_PER_SESSION,
        description=(
            "What was scanned off each garment: an SGTIN-96 EPC in hex "
            "(`3074257BF7194E4000001A85`), an EPC URI (`urn:epc:id:sgtin:…`), a GS1 Digital "
            "Link (`https://…/01/{gtin}/21/{serial}`) or a GTIN."
        ),
    ),
]


class FittingRoomIn(Strict):
    zone_id: uuid.UUID = Field(description="The store zone the room is in (usually `fitting`).")
    code: RoomCode = Field(description="Unique per store, printed on the door, e.g. `F3`.")
    name: str = Field(min_length=1, max_length=100)
    is_active: bool = True


class FittingRoomPatch(Strict):
    zone_id: uuid.UUID | None = None
    code: RoomCode | None = None
    name: str | None = Field(None, min_length=1, max_length=100)
    is_active: bool | None = None

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}


class FittingRoomOut(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    store_id: uuid.UUID
    zone_id: uuid.UUID | None
    code: str
    name: str
    is_active: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, room: FittingRoom) -> FittingRoomOut:
        return cls(
            id=room.id,
            merchant_id=room.merchant_id,
            store_id=room.location_id,
            zone_id=room.zone_id,
            code=room.code,
            name=room.name,
            is_active=room.is_active,
            created_at=room.created_at,
        )


class SessionOpenIn(Strict):
    room_id: uuid.UUID = Field(description="From the QR code on the fitting-room door.")
    codes: Codes


class ItemsIn(Strict):
    codes: Codes


class SizeRequestIn(Strict):
    variant_id: uuid.UUID = Field(description="The size/colour wanted (see `alternatives`).")
    item_id: uuid.UUID | None = Field(None, description="The item in the room it replaces.")
    note: str = Field("", max_length=500)


class SizeRequestPatch(Strict):
    status: Literal["picking", "delivered", "unavailable", "cancelled"]
    note: str = Field("", max_length=500)


class CloseIn(Strict):
    bought_variant_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_ITEMS_PER_SESSION,
        description="Staff only: tried variants sold at the till that no customer order shows.",
    )


class AlternativeOut(BaseModel):
    variant_id: uuid.UUID
    label: str
    option_values: dict[str, Any]
    differs_in: list[str] = Field(description="Option names that differ from the item's.")
    in_store: int = Field(description="Units available in this store now.")


class FittingItemOut(BaseModel):
    id: uuid.UUID
    variant_id: uuid.UUID
    product_id: uuid.UUID
    title: str
    label: str
    sku: str
    gtin: str | None
    serial: str | None
    option_values: dict[str, Any]
    image_url: str | None
    source: ItemSource
    code_kind: str
    added_at: dt.datetime
    in_store: int
    bought: bool
    bought_via: BoughtVia | None
    alternatives: list[AlternativeOut] = Field(
        description="The product's other sizes and colours, with in-store stock."
    )


class SizeRequestOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    store_id: uuid.UUID
    room_id: uuid.UUID
    room_code: str
    variant_id: uuid.UUID
    title: str
    label: str
    item_id: uuid.UUID | None
    status: RequestStatus
    note: str
    in_store: int
    created_at: dt.datetime
    updated_at: dt.datetime


class FittingSessionOut(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    store_id: uuid.UUID
    room_id: uuid.UUID
    room_code: str
    zone_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    status: SessionStatus
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    items: list[FittingItemOut]
    requests: list[SizeRequestOut]
    tried_count: int
    bought_count: int


class FittingSessionSummary(BaseModel):
    id: uuid.UUID
    store_id: uuid.UUID
    room_id: uuid.UUID
    customer_id: uuid.UUID | None
    status: SessionStatus
    opened_at: dt.datetime
    closed_at: dt.datetime | None
