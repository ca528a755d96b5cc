"""API shapes of screens, content items, playlists and what a screen shows now."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from plaza.o2o.screens.models import ContentKind
from plaza.o2o.stores.schemas import LocalTime, Weekday, minutes
from plaza.schemas import Strict

MediaUrl = Annotated[
    str, StringConstraints(pattern=r"^https?://[^\s<>\"']+$", min_length=8, max_length=2000)
]


class ScreenIn(Strict):
    zone_id: uuid.UUID = Field(description="A zone of one of the merchant's stores.")
    name: str = Field(min_length=1, max_length=100)
    is_active: bool = True


class ScreenPatch(Strict):
    zone_id: uuid.UUID | None = None
    name: str | None = Field(None, min_length=1, max_length=100)
    is_active: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ScreenPatch:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ScreenOut(BaseModel):
    id: uuid.UUID
    store_id: uuid.UUID
    zone_id: uuid.UUID
    name: str
    is_active: bool
    last_polled_at: dt.datetime | None
    created_at: dt.datetime


class ScreenWithToken(ScreenOut):
    token: str = Field(
        description="The screen's secret, shown once: send it as `X-Screen-Token` (the "
        "player page takes it in the URL fragment, `#token=…`)."
    )
    player_url: str


class ContentIn(Strict):
    kind: ContentKind
    title: str = Field(min_length=1, max_length=100)
    url: MediaUrl | None = Field(None, description="For `image` and `video`: http(s) URL.")
    product_id: uuid.UUID | None = Field(None, description="For `product` cards.")
    offer_id: uuid.UUID | None = Field(None, description="For `offer`: a proximity offer.")
    duration_seconds: int = Field(10, ge=1, le=3600)
    persona_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=20,
        description="Strategic personas this item is for: preferred while members are present.",
    )

    @model_validator(mode="after")
    def _shape(self) -> ContentIn:
        need = {
            ContentKind.IMAGE: "url",
            ContentKind.VIDEO: "url",
            ContentKind.PRODUCT: "product_id",
            ContentKind.OFFER: "offer_id",
        }[self.kind]
        for field in ("url", "product_id", "offer_id"):
            given = getattr(self, field) is not None
            if field == need and not given:
                raise ValueError(f"a {self.kind.value} item needs {field}")
            if field != need and given:
                raise ValueError(f"a {self.kind.value} item takes no {field}")
        if len(set(self.persona_ids)) != len(self.persona_ids):
            raise ValueError("persona_ids are listed once each")
        return self


class ContentOut(BaseModel):
    id: uuid.UUID
    kind: ContentKind
    title: str
    url: str | None
    product_id: uuid.UUID | None
    offer_id: uuid.UUID | None
    duration_seconds: int
    persona_ids: list[uuid.UUID]
    created_at: dt.datetime


class PlaylistIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    priority: int = Field(0, ge=0, le=1000, description="Higher wins when several apply.")
    days: list[Weekday] = Field(
        default_factory=list, max_length=7, description="Weekdays (`mon`…`sun`); empty: every day."
    )
    daily_from: LocalTime | None = Field(None, description="Local store time, `HH:MM`.")
    daily_to: LocalTime | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    screen_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=100, description="Empty: every screen of the merchant."
    )
    items: list[uuid.UUID] = Field(
        min_length=1, max_length=100, description="Content ids, in order."
    )
    is_active: bool = True

    @model_validator(mode="after")
    def _check(self) -> PlaylistIn:
        if (self.daily_from is None) != (self.daily_to is None):
            raise ValueError("daily_from and daily_to are given together")
        if (
            self.daily_from is not None
            and self.daily_to is not None
            and minutes(self.daily_to) <= minutes(self.daily_from)
        ):
            raise ValueError("daily_to must be after daily_from")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if len(set(self.days)) != len(self.days):
            raise ValueError("days are listed once each")
        if len(set(self.screen_ids)) != len(self.screen_ids):
            raise ValueError("screen_ids are listed once each")
        return self


class PlaylistOut(BaseModel):
    id: uuid.UUID
    name: str
    priority: int
    days: list[str]
    daily_from: str | None
    daily_to: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    screen_ids: list[uuid.UUID]
    items: list[uuid.UUID]
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class ProductCard(BaseModel):
    id: uuid.UUID
    title: str
    brand: str
    price: int | None = Field(description="Lowest price in minor units, in `currency`.")
    currency: str


class OfferCard(BaseModel):
    id: uuid.UUID
    title: str
    message: str


class NowItem(BaseModel):
    content_id: uuid.UUID
    kind: ContentKind
    title: str
    duration_seconds: int
    url: str | None = None
    product: ProductCard | None = None
    offer: OfferCard | None = None
    for_audience: bool = Field(description="Chosen first for the personas present now.")


class Audience(BaseModel):
    """Counts only, never who."""

    present: int = Field(description="Customers in the screen's zone now (beacon visits).")
    matched: int = Field(
        description="Of those who allow personalisation, how many are in a persona that "
        "an item served first (`for_audience`) is tagged for."
    )


class NowOut(BaseModel):
    screen_id: uuid.UUID
    playlist_id: uuid.UUID | None = Field(description="Null: nothing scheduled now.")
    playlist_name: str | None
    generated_at: dt.datetime
    refresh_seconds: int = Field(description="Ask again after this many seconds.")
    audience: Audience
    items: list[NowItem]
