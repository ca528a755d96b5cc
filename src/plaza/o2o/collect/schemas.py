"""API shapes of click & collect and the endless aisle."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, EmailStr, Field, model_validator

from plaza.money import Currency
from plaza.ordering.carts import MAX_LINE_QUANTITY
from plaza.ordering.models import OrderStatus
from plaza.ordering.schemas import Address, OrderLineOut, PaymentIn
from plaza.schemas import Strict

# What a phone or a counter scanner may send: the 6-character code, typed with spaces or
# dashes, or the whole QR payload (``PLAZA-PICKUP:<order id>:<code>``).
CODE_MAX = 80


class CodeIn(Strict):
    code: str = Field(
        min_length=1,
        max_length=CODE_MAX,
        description="The customer's pickup code (`K7M4QX`), or the scanned QR payload.",
    )


class PickupOut(BaseModel):
    """A pickup as the counter sees it: the order to hand over, never the code."""

    order_id: uuid.UUID
    order_number: str
    store_id: uuid.UUID
    state: str = Field(description="awaiting_preparation, ready, collected, expired or cancelled.")
    order_status: OrderStatus
    customer_name: str = Field(description="Name on the order's address, else its email.")
    email: str
    lines: list[OrderLineOut]
    ready_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None


class CustomerPickupOut(BaseModel):
    """What the customer's app shows: the code (only while ready) and where to go."""

    order_id: uuid.UUID
    order_number: str
    store_id: uuid.UUID
    store_name: str
    state: str
    code: str | None = Field(None, description="Show or read out at the counter.")
    qr_payload: str | None = Field(
        None, description="What the QR code encodes (also at `pickup-code.svg|png`)."
    )
    expires_at: dt.datetime | None = None


class AisleLineIn(Strict):
    variant_id: uuid.UUID
    quantity: int = Field(1, ge=1, le=MAX_LINE_QUANTITY)


class EndlessAisleIn(Strict):
    """A sale on the shop floor of an item the store lacks, fulfilled from elsewhere."""

    lines: list[AisleLineIn] = Field(min_length=1, max_length=50)
    email: EmailStr = Field(description="The customer's; order mails go there.")
    customer_id: uuid.UUID | None = Field(
        None, description="The customer's account, if any (its email must match `email`)."
    )
    currency: Currency = "EUR"
    shipping_address: Address | None = Field(None, description="Deliver to this address…")
    collect_in_store: bool = Field(
        False, description="…or send it to this store, for the customer to collect later."
    )
    payment: PaymentIn

    @model_validator(mode="after")
    def _one_destination(self) -> EndlessAisleIn:
        if (self.shipping_address is None) == (not self.collect_in_store):
            raise ValueError("give a shipping_address or collect_in_store: true (one of them)")
        return self
