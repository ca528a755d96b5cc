"""API shapes for identity."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from plaza.identity.models import MerchantKind, MerchantRole
from plaza.money import Currency

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
Password = Annotated[str, Field(min_length=10, max_length=256)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RegisterIn(Strict):
    email: EmailStr
    password: Password
    name: str = Field("", max_length=200)


class TokenIn(Strict):
    email: EmailStr
    password: str = Field(max_length=256)
    cart_token: str | None = Field(
        None, max_length=128, description="An anonymous cart to merge into the account's cart."
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    merged_cart_id: uuid.UUID | None = None


class MembershipOut(BaseModel):
    merchant_id: uuid.UUID
    role: MerchantRole


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    name: str
    is_platform_admin: bool
    created_at: dt.datetime


class MeOut(UserOut):
    memberships: list[MembershipOut]


class MerchantIn(Strict):
    slug: Slug
    name: str = Field(min_length=1, max_length=200)
    kind: MerchantKind
    description: str = Field("", max_length=2000)
    default_currency: Currency = "EUR"
    admin_email: EmailStr = Field(
        description="An existing account that becomes the merchant's admin."
    )


class MerchantPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    default_currency: Currency | None = None


class MerchantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    slug: str
    name: str
    kind: MerchantKind
    description: str
    default_currency: str
    created_at: dt.datetime


class MemberIn(Strict):
    email: EmailStr
    role: MerchantRole


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str
    role: MerchantRole
    created_at: dt.datetime


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=20)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. Shown once; store it now.")
