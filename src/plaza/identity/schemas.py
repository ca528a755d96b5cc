"""API shapes for identity (accounts, merchants, staff, API keys, single sign-on)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from plaza.identity.models import MerchantKind, MerchantRole, SsoTokenAuthMethod
from plaza.money import Currency
from plaza.schemas import Strict

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
Password = Annotated[str, Field(min_length=10, max_length=256)]


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

    @model_validator(mode="after")
    def _no_nulls(self) -> MerchantPatch:
        # Omit a field to leave it unchanged; every one of them is a required column.
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


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


# --- single sign-on (docs/sso.md) --------------------------------------------------------
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
_BLOCKED_SCHEMES = {"javascript", "data", "file", "vbscript", "blob", "about"}


def _is_loopback(host: str | None) -> bool:
    host = (host or "").lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def _issuer(value: str) -> str:
    """OIDC issuers are https URLs without query or fragment; plain http is accepted only
    on the loopback interface (a provider on the same machine, development, tests)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("the issuer must be an https URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError("the issuer must use https (http only on the loopback interface)")
    if parts.query or parts.fragment or "#" in value:
        raise ValueError("the issuer has no query or fragment")
    return value


def _redirect_uri(value: str) -> str:
    """Where Plaza may send a person back with a token: https, http on loopback (RFC 8252
    §7.3), or an app's private-use scheme in reverse-domain form (RFC 8252 §7.1).
    No fragment, since Plaza puts the token there."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if not scheme or scheme in _BLOCKED_SCHEMES:
        raise ValueError("an absolute https URL or an app's reverse-domain scheme is needed")
    if "#" in value:
        raise ValueError("a redirect URI has no fragment")
    if scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError("plain http only on the loopback interface; use https")
    if scheme in ("http", "https") and not parts.hostname:
        raise ValueError("the URL has no host")
    if scheme not in ("http", "https") and "." not in scheme:
        raise ValueError("an app's private-use scheme is in reverse-domain form (com.example.app)")
    return value


IssuerUrl = Annotated[str, Field(min_length=8, max_length=500), AfterValidator(_issuer)]
RedirectUri = Annotated[str, Field(min_length=4, max_length=500), AfterValidator(_redirect_uri)]
# RFC 6749 §3.3 scope-token characters.
ScopeToken = Annotated[str, StringConstraints(pattern=r"^[\x21\x23-\x5b\x5d-\x7e]{1,64}$")]
ClientSecret = Annotated[str, Field(min_length=1, max_length=1024)]


class SsoProviderIn(Strict):
    slug: Slug = Field(description="Used in the sign-in URLs: `/auth/sso/{slug}/authorize`.")
    display_name: str = Field(min_length=1, max_length=100)
    issuer: IssuerUrl = Field(
        description="The provider's issuer; discovery reads "
        "`{issuer}/.well-known/openid-configuration`. Cannot be changed later."
    )
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: ClientSecret | None = Field(
        None, description="Stored encrypted and never returned. Omit for a public client."
    )
    token_auth_method: SsoTokenAuthMethod | None = Field(
        None,
        description="Defaults to `client_secret_basic` with a secret, `none` without.",
    )
    scopes: list[ScopeToken] = Field(
        default_factory=lambda: ["openid", "email", "profile"],
        min_length=1,
        max_length=20,
        description="`openid` is always included.",
    )
    redirect_uris: list[RedirectUri] = Field(
        default_factory=list,
        max_length=20,
        description="Allow-list of the client `redirect_uri`s Plaza may send a token to.",
    )
    trust_email: bool = Field(
        False,
        description="Treat this provider's emails as verified even without "
        "`email_verified` (only for an IdP that owns its users' mailboxes).",
    )
    enabled: bool = True


_NOT_NULL = (
    "display_name",
    "client_id",
    "token_auth_method",
    "scopes",
    "redirect_uris",
    "trust_email",
    "enabled",
)


class SsoProviderPatch(Strict):
    display_name: str | None = Field(None, min_length=1, max_length=100)
    client_id: str | None = Field(None, min_length=1, max_length=255)
    client_secret: ClientSecret | None = Field(
        None, description="A new secret; `null` removes it (with `token_auth_method: none`)."
    )
    token_auth_method: SsoTokenAuthMethod | None = None
    scopes: list[ScopeToken] | None = Field(None, min_length=1, max_length=20)
    redirect_uris: list[RedirectUri] | None = Field(None, max_length=20)
    trust_email: bool | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> SsoProviderPatch:
        for name in _NOT_NULL:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class SsoProviderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    slug: str
    display_name: str
    issuer: str
    client_id: str
    has_client_secret: bool
    token_auth_method: SsoTokenAuthMethod
    scopes: list[str]
    redirect_uris: list[str]
    trust_email: bool
    enabled: bool
    callback_url: str = Field(description="Register this redirect URI at the provider.")
    created_at: dt.datetime
    updated_at: dt.datetime


class SsoProviderPublic(BaseModel):
    slug: str
    display_name: str
    authorize_path: str = Field(description="Start a sign-in here (GET).")


class SsoAuthorizeOut(BaseModel):
    authorization_url: str = Field(description="Open this URL in a browser to sign in.")
    expires_in: int = Field(description="Seconds left to complete the sign-in.")
