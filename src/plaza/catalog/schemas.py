"""API shapes for the catalog: inputs are strict (unknown fields refused), every string and
number is bounded; outputs are what the storefront and the back-office read."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from plaza.catalog.base import Strict
from plaza.catalog.customisation import CustomisationSpec
from plaza.catalog.models import ProductStatus, VariantStatus
from plaza.money import MAX_AMOUNT, Currency

MAX_OPTIONS = 5
MAX_OPTION_VALUES = 100
MAX_VARIANTS = 250
MAX_PRICES = 50
MAX_TAGS = 50
MAX_MEDIA = 50

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")]
CategorySlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
Sku = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$", max_length=64
    ),
]
GtinText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=14)]
OptionName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,29}$")]
OptionValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT, strict=True)]
Weight = Annotated[int, Field(ge=0, le=10_000_000, description="Grams (up to 10 t).")]
Position = Annotated[int, Field(ge=0, le=100_000)]


def _tag(value: str) -> str:
    value = " ".join(value.split()).lower()
    if not value:
        raise ValueError("a tag cannot be blank")
    return value


Tag = Annotated[str, Field(max_length=50), AfterValidator(_tag)]


def _http_url(value: str) -> str:
    if any(c.isspace() for c in value):
        raise ValueError("a URL cannot contain spaces")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("media URLs must be absolute http or https URLs")
    return value


HttpUrlText = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_http_url)]


# ---------------------------------------------------------------------------- inputs


class MediaIn(Strict):
    url: HttpUrlText
    alt: str = Field("", max_length=300)
    kind: Literal["image", "video"] = "image"


class OptionIn(Strict):
    name: OptionName = Field(description="Lower-case identifier, e.g. `size`, `colour`.")
    values: list[OptionValue] = Field(min_length=1, max_length=MAX_OPTION_VALUES)

    @field_validator("values")
    @classmethod
    def _unique_values(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("option values must be unique")
        return values


def _unique_options(options: list[OptionIn] | None) -> list[OptionIn] | None:
    if options is not None and len({o.name for o in options}) != len(options):
        raise ValueError("option names must be unique")
    return options


class PriceIn(Strict):
    currency: Currency
    amount: Amount = Field(description="Minor units (cents), 0 ≤ amount ≤ MAX_AMOUNT.")
    compare_at_amount: Amount | None = Field(
        None, description="The 'was' price shown struck through; must exceed `amount`."
    )

    @model_validator(mode="after")
    def _compare_at(self) -> PriceIn:
        if self.compare_at_amount is not None and self.compare_at_amount <= self.amount:
            raise ValueError("compare_at_amount must be greater than amount")
        return self


class PriceSet(Strict):
    """Body of ``PUT …/prices/{currency}``."""

    amount: Amount
    compare_at_amount: Amount | None = None

    @model_validator(mode="after")
    def _compare_at(self) -> PriceSet:
        if self.compare_at_amount is not None and self.compare_at_amount <= self.amount:
            raise ValueError("compare_at_amount must be greater than amount")
        return self


def _unique_currencies(prices: list[PriceIn]) -> list[PriceIn]:
    if len({p.currency for p in prices}) != len(prices):
        raise ValueError("one price per currency")
    return prices


class VariantIn(Strict):
    sku: Sku
    gtin: GtinText | None = Field(
        None, description="GTIN-8/12/13/14 with a valid check digit; stored as GTIN-14."
    )
    options: dict[OptionName, OptionValue] = Field(
        default_factory=dict,
        max_length=MAX_OPTIONS,
        description="One value for each of the product's options.",
    )
    weight_grams: Weight | None = None
    status: VariantStatus = VariantStatus.ACTIVE
    position: Position | None = Field(None, description="Display order; defaults to last.")
    prices: Annotated[list[PriceIn], AfterValidator(_unique_currencies)] = Field(
        default_factory=list, max_length=MAX_PRICES
    )


class VariantPatch(Strict):
    sku: Sku | None = None
    gtin: GtinText | None = None
    options: dict[OptionName, OptionValue] | None = Field(None, max_length=MAX_OPTIONS)
    weight_grams: Weight | None = None
    status: VariantStatus | None = None
    position: Position | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> VariantPatch:
        # gtin and weight_grams may be cleared with null; the rest are required columns.
        for name in ("sku", "options", "status", "position"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ProductIn(Strict):
    handle: Slug | None = Field(
        None, description="URL slug, unique per merchant; derived from the title when absent."
    )
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    brand: str = Field("", max_length=100)
    status: ProductStatus = ProductStatus.DRAFT
    category_id: uuid.UUID | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    media: list[MediaIn] = Field(default_factory=list, max_length=MAX_MEDIA)
    options: Annotated[list[OptionIn], AfterValidator(_unique_options)] = Field(
        default_factory=list, max_length=MAX_OPTIONS
    )
    variants: list[VariantIn] = Field(default_factory=list, max_length=MAX_VARIANTS)


class ProductPatch(Strict):
    handle: Slug | None = None
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    brand: str | None = Field(None, max_length=100)
    status: ProductStatus | None = None
    category_id: uuid.UUID | None = None
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)
    media: list[MediaIn] | None = Field(None, max_length=MAX_MEDIA)
    options: Annotated[list[OptionIn] | None, AfterValidator(_unique_options)] = Field(
        None,
        max_length=MAX_OPTIONS,
        description="Replaces the definition. Live variants lose removed options and get "
        "the first value of added ones; a value still in use cannot be removed.",
    )
    expected_version: int | None = Field(
        None, ge=1, le=2**31, description="Refuse the change (409) unless this is the version."
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> ProductPatch:
        # Only category_id may be cleared with null; the rest are non-nullable columns.
        for name in ("handle", "title", "description", "brand", "status", "tags", "media"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if "options" in self.model_fields_set and self.options is None:
            raise ValueError("options cannot be null; send [] to remove all")
        return self


class CategoryIn(Strict):
    slug: CategorySlug
    name: str = Field(min_length=1, max_length=200)
    parent_id: uuid.UUID | None = None
    position: Position = 0


class CategoryPatch(Strict):
    slug: CategorySlug | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    parent_id: uuid.UUID | None = None
    position: Position | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> CategoryPatch:
        for name in ("slug", "name", "position"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


# --------------------------------------------------------------------------- outputs


class SortOrder(enum.StrEnum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    TITLE = "title"


class MediaOut(BaseModel):
    url: str
    alt: str
    kind: str


class OptionOut(BaseModel):
    name: str
    values: list[str]


class PriceOut(BaseModel):
    currency: str
    amount: int
    compare_at_amount: int | None = None


class VariantOut(BaseModel):
    id: uuid.UUID
    product_id: uuid.UUID
    merchant_id: uuid.UUID
    sku: str
    gtin: str | None
    options: dict[str, str]
    weight_grams: int | None
    status: VariantStatus
    position: int
    prices: list[PriceOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class ProductOut(BaseModel):
    """The back-office view: every variant (archived too) with all its prices."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    handle: str
    title: str
    description: str
    brand: str
    status: ProductStatus
    category_id: uuid.UUID | None
    tags: list[str]
    media: list[MediaOut]
    options: list[OptionOut]
    version: int
    variants: list[VariantOut]
    customisation: CustomisationSpec | None = Field(
        None, description="Mass customisation spec; null for a plain product."
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class PriceRange(BaseModel):
    currency: str
    min_amount: int
    max_amount: int
    compare_at_max: int | None = Field(
        None, description="Highest 'was' price among the variants, when any is on sale."
    )


class StorefrontVariant(BaseModel):
    id: uuid.UUID
    sku: str
    gtin: str | None
    options: dict[str, str]
    weight_grams: int | None
    price: PriceOut | None = Field(description="In the requested currency; null if unpriced.")


class StorefrontProductSummary(BaseModel):
    """A listing item: active variants priced in the requested currency."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    handle: str
    title: str
    brand: str
    category_id: uuid.UUID | None
    tags: list[str]
    media: list[MediaOut]
    options: list[OptionOut]
    price: PriceRange | None = Field(
        description="Lowest and highest variant price in the currency; null if none."
    )
    variants: list[StorefrontVariant]
    created_at: dt.datetime


class StorefrontProduct(StorefrontProductSummary):
    description: str
    customisation: CustomisationSpec | None = Field(
        None,
        description="What a shopper may configure (see docs/customisation.md); null for a "
        "plain product. Price a configuration with `POST …/configurations/quote`.",
    )


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    slug: str
    name: str
    parent_id: uuid.UUID | None
    position: int


class CategoryNode(CategoryOut):
    children: list[CategoryNode] = Field(
        default_factory=list, description="Sub-categories (empty in the flat shape)."
    )
