"""API shapes of the ordering context."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from plaza.catalog.customisation import ConfigurationIn, ConfigurationOut
from plaza.money import Currency
from plaza.ordering.carts import MAX_LINE_QUANTITY
from plaza.ordering.models import (
    CartStatus,
    CheckoutStatus,
    FulfilmentMethod,
    OrderStatus,
    PaymentStatus,
    ReturnStatus,
)
from plaza.schemas import Strict

Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class CartIn(Strict):
    currency: Currency = "EUR"


class CartLineIn(Strict):
    variant_id: uuid.UUID
    quantity: int = Field(1, ge=1, le=MAX_LINE_QUANTITY)
    configuration: ConfigurationIn | None = Field(
        None,
        description="For customisable products (see docs/customisation.md): validated and "
        "priced like a quote. One line per variant and configuration.",
    )


class CartLinePatch(Strict):
    quantity: int = Field(ge=0, le=MAX_LINE_QUANTITY, description="0 removes the line.")


class CartLineOut(BaseModel):
    id: uuid.UUID
    variant_id: uuid.UUID
    merchant_id: uuid.UUID
    sku: str | None
    title: str | None
    quantity: int
    unit_amount: int | None = Field(
        description="Current price, option deltas included; null if no longer sellable."
    )
    line_amount: int | None
    available: bool
    configuration: dict[str, str | list[str]] | None = Field(
        None, description="Customised items: the chosen selections (canonical form)."
    )
    configuration_digest: str | None = None
    customisation: ConfigurationOut | None = Field(
        None, description="The configuration priced now; null if it is no longer valid."
    )
    configuration_problem: str | None = Field(
        None, description="Why the configuration can no longer be checked out."
    )


class CartOut(BaseModel):
    id: uuid.UUID
    status: CartStatus
    currency: str
    customer_id: uuid.UUID | None
    lines: list[CartLineOut]
    total_amount: int
    merchants: int = Field(description="How many orders a checkout would create.")
    token: str | None = Field(
        None, description="Anonymous carts only, on creation: send it as `X-Cart-Token`."
    )


class Address(Strict):
    name: Text200
    line1: Text200
    line2: str = Field("", max_length=200)
    city: Text200
    postal_code: str = Field(min_length=1, max_length=20)
    region: str = Field("", max_length=100)
    country: Country
    phone: str = Field("", max_length=40)
    latitude: float | None = Field(
        None, ge=-90, le=90, description="With `longitude`: ships from the nearest location."
    )
    longitude: float | None = Field(None, ge=-180, le=180)

    @model_validator(mode="after")
    def _coordinates_pair(self) -> Address:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude are given together or not at all")
        return self

    def stored(self) -> dict[str, Any]:
        """What the order keeps (coordinates only when given)."""
        return self.model_dump(exclude_none=True)


class PaymentIn(Strict):
    token: str = Field(
        min_length=1,
        max_length=100,
        description="A payment-method token from the provider, e.g. `tok_visa`.",
    )


class FulfilmentIn(Strict):
    """How a merchant's order reaches the customer. `collect` names a store of that
    merchant offering click & collect; the merchant is the store's."""

    method: Literal["delivery", "collect"] = "delivery"
    store_id: uuid.UUID | None = Field(None, description="Collect only: the pickup store.")

    @model_validator(mode="after")
    def _store_for_collect(self) -> FulfilmentIn:
        if (self.method == "collect") != (self.store_id is not None):
            raise ValueError("store_id is given for method collect, and only for it")
        return self


class CheckoutIn(Strict):
    email: EmailStr | None = Field(
        None, description="Required for guests; defaults to the account."
    )
    shipping_address: Address | None = Field(
        None, description="Required unless every order of the cart is collected in a store."
    )
    payment: PaymentIn
    fulfilment: FulfilmentIn | list[FulfilmentIn] | None = Field(
        None,
        description='Click & collect: `{"method": "collect", "store_id": …}`, or a list '
        "of such choices, one per merchant (a store decides its merchant). Orders of other "
        "merchants are delivered (the default).",
    )

    def fulfilment_choices(self) -> list[FulfilmentIn]:
        if self.fulfilment is None:
            return []
        if isinstance(self.fulfilment, FulfilmentIn):
            return [self.fulfilment]
        return list(self.fulfilment)

    @model_validator(mode="after")
    def _few_choices(self) -> CheckoutIn:
        if len(self.fulfilment_choices()) > MAX_FULFILMENT_CHOICES:
            raise ValueError(f"at most {MAX_FULFILMENT_CHOICES} fulfilment choices")
        return self


MAX_FULFILMENT_CHOICES = 20


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    provider: str
    status: PaymentStatus
    amount: int
    currency: str
    captured_amount: int
    refunded_amount: int
    failure_code: str | None
    created_at: dt.datetime


class OrderLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    variant_id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    title: str
    quantity: int
    unit_amount: int
    returned_quantity: int
    configuration: ConfigurationOut | None = Field(
        None, description="Customised items, as priced at checkout, for production."
    )


class HistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    from_status: str | None
    to_status: str
    actor: str
    note: str
    at: dt.datetime


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    number: str
    merchant_id: uuid.UUID
    checkout_id: uuid.UUID
    customer_id: uuid.UUID | None
    email: str
    status: OrderStatus
    channel: str
    currency: str
    subtotal_amount: int
    shipping_amount: int
    total_amount: int
    refunded_amount: int
    shipping_address: dict[str, str | float]
    tracking: dict[str, str]
    fulfilment: FulfilmentMethod = FulfilmentMethod.DELIVERY
    pickup_store_id: uuid.UUID | None = Field(None, description="Click & collect: the store.")
    placed_in_store: uuid.UUID | None = Field(
        None, description="Endless aisle: the store whose staff placed the order."
    )
    lines: list[OrderLineOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class OrderDetail(OrderOut):
    history: list[HistoryOut]
    payments: list[PaymentOut]


class CheckoutOut(BaseModel):
    id: uuid.UUID
    status: CheckoutStatus
    currency: str
    total_amount: int
    email: str
    orders: list[OrderDetail]


class FulfilIn(Strict):
    carrier: str = Field("", max_length=100)
    tracking_number: str = Field("", max_length=100)
    tracking_url: str = Field("", max_length=500, pattern=r"^(https?://\S+)?$")


class CancelIn(Strict):
    reason: str = Field("", max_length=500)


class RefundIn(Strict):
    amount: int = Field(gt=0, le=10**15)
    reason: str = Field(min_length=1, max_length=200)


class ReturnLineIn(Strict):
    order_line_id: uuid.UUID
    quantity: int = Field(ge=1, le=MAX_LINE_QUANTITY)


class ReturnIn(Strict):
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500)


class ReturnDecisionIn(Strict):
    note: str = Field("", max_length=500)


class ReturnReceiveIn(Strict):
    location_id: uuid.UUID = Field(description="Where the returned goods go back into stock.")


class ReturnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    order_id: uuid.UUID
    merchant_id: uuid.UUID
    status: ReturnStatus
    reason: str
    note: str
    lines: list[dict[str, str | int]]
    refund_amount: int
    created_at: dt.datetime
    updated_at: dt.datetime
