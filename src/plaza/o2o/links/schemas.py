"""API shapes of the GS1 Digital Link resolver and of items' Digital Links."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field


class LinkOut(BaseModel):
    link_type: str = Field(description="GS1 link type, e.g. `gs1:pip`.")
    href: str
    title: str
    type: str = Field(description="Media type of the target.")


class OfferOut(BaseModel):
    merchant_id: uuid.UUID
    product_id: uuid.UUID
    variant_id: uuid.UUID


class ResolvedItemOut(BaseModel):
    """What ``/01/{gtin}`` answers a machine (``Accept: application/json``)."""

    digital_link: str
    gtin: str
    serial: str | None
    merchant_id: uuid.UUID
    product_id: uuid.UUID
    variant_id: uuid.UUID
    title: str
    brand: str
    label: str
    option_values: dict[str, Any]
    image_url: str | None
    links: list[LinkOut]
    linkset: str = Field(description="URL of this item's RFC 9264 linkset.")
    qr_svg: str
    qr_png: str
    offers: list[OfferOut] = Field(description="Every live listing of this GTIN.")


class DigitalLinkOut(BaseModel):
    variant_id: uuid.UUID
    product_id: uuid.UUID
    gtin: str
    label: str
    digital_link: str
    qr_svg: str
    qr_png: str


class ProductDigitalLinksOut(BaseModel):
    product_id: uuid.UUID
    digital_link: str = Field(description="The product's: its first variant with a GTIN.")
    variants: list[DigitalLinkOut]


class ResolverDescriptionOut(BaseModel):
    """The resolver description file (``/.well-known/gs1resolver``)."""

    name: str
    resolverRoot: str  # noqa: N815 - names fixed by the GS1 resolver standard
    supportedPrimaryKeys: list[str]  # noqa: N815
    supportedLinkType: list[dict[str, str]]  # noqa: N815
    linkTypeDefaultCanBeLinkset: bool  # noqa: N815
    supportedContextValuesEnumerated: list[str] = Field(default_factory=list)  # noqa: N815
