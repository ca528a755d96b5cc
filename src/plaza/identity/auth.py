"""Who is calling, and the access rules every endpoint declares.

Each route depends on exactly one ``AccessRule``. The rule both enforces access and
documents it: the OpenAPI operation gets ``x-plaza-access``, and a test walks every
route to prove each one declares a rule (so a new endpoint cannot ship without one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import Depends, Request
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from plaza.db import utcnow
from plaza.deps import get_db_handle
from plaza.errors import FORBIDDEN, UNAUTHENTICATED, ProblemError
from plaza.identity.models import ApiKey, Membership, MerchantRole, User
from plaza.identity.sessions import user_for_session
from plaza.identity.tokens import verify_token

API_KEY_PREFIX = "plz_"
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)
SCOPES = {
    "catalog:read": "Read the merchant's products, including drafts.",
    "catalog:write": "Create and change products, variants and prices.",
    "inventory:read": "Read locations, stock levels and reservations.",
    "inventory:write": "Change locations and stock levels.",
    "orders:read": "Read orders, payments and returns.",
    "orders:write": "Fulfil, cancel and refund orders; handle returns.",
}


@dataclass
class Principal:
    kind: Literal["anonymous", "user", "api_key"] = "anonymous"
    user_id: uuid.UUID | None = None
    email: str | None = None
    is_platform_admin: bool = False
    memberships: dict[uuid.UUID, MerchantRole] = field(default_factory=dict)
    api_key_id: uuid.UUID | None = None
    api_key_merchant_id: uuid.UUID | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def actor(self) -> str:
        if self.kind == "user":
            return f"user:{self.user_id}"
        if self.kind == "api_key":
            return f"api_key:{self.api_key_id}"
        return "anonymous"

    def can_act_for(self, merchant_id: uuid.UUID, role: MerchantRole, scope: str | None) -> bool:
        if self.is_platform_admin:
            return True
        if self.kind == "api_key":
            return self.api_key_merchant_id == merchant_id and (
                scope is None or scope in self.scopes
            )
        held = self.memberships.get(merchant_id)
        if held is None:
            return False
        return role == MerchantRole.STAFF or held == MerchantRole.ADMIN


ANONYMOUS = Principal()


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _from_api_key(request: Request, key: str) -> Principal:
    parts = key.split("_")
    if len(parts) != 3 or not key.startswith(API_KEY_PREFIX):
        raise ProblemError(UNAUTHENTICATED, "malformed API key")
    db = get_db_handle(request)
    with db.reading() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
        if (
            row is None
            or row.revoked_at is not None
            or not hmac.compare_digest(row.digest, hash_api_key(key))
        ):
            raise ProblemError(UNAUTHENTICATED, "unknown or revoked API key")
        principal = Principal(
            kind="api_key",
            api_key_id=row.id,
            api_key_merchant_id=row.merchant_id,
            scopes=frozenset(row.scopes),
        )
        stale = row.last_used_at is None or utcnow() - row.last_used_at > LAST_USED_RESOLUTION
    if stale:  # throttled, so key-authenticated reads do not each take the write lock
        with db.transaction() as s:
            s.execute(
                update(ApiKey)
                .where(ApiKey.id == principal.api_key_id)
                .values(last_used_at=utcnow())
            )
    return principal


def _from_token(request: Request, token: str) -> Principal:
    user_id = verify_token(token)
    if user_id is None:
        raise ProblemError(
            UNAUTHENTICATED,
            "invalid or expired token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    with get_db_handle(request).reading() as s:
        user = s.get(User, user_id)
        if user is None or not user.is_active:
            raise ProblemError(UNAUTHENTICATED, "account disabled or removed")
        return _user_principal(s, user)


def _from_session(request: Request, cookie: str) -> Principal:
    """A signed-in browser; an unknown or expired cookie is simply anonymous (the pages
    then offer to sign in), never an error."""
    with get_db_handle(request).reading() as s:
        user = user_for_session(s, cookie)
        return ANONYMOUS if user is None else _user_principal(s, user)


def _user_principal(s: Session, user: User) -> Principal:
    members = s.execute(
        select(Membership.merchant_id, Membership.role).where(Membership.user_id == user.id)
    )
    return Principal(
        kind="user",
        user_id=user.id,
        email=user.email,
        is_platform_admin=user.is_platform_admin,
        memberships={m: r for m, r in members},
    )


def current_principal(request: Request) -> Principal:
    """Resolve the caller once per request from ``Authorization`` or ``X-API-Key``, else
    from the web session cookie (CSRF middleware guards the unsafe requests it signs)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = ANONYMOUS
    api_key = request.headers.get("x-api-key")
    auth = request.headers.get("authorization")
    if api_key:
        principal = _from_api_key(request, api_key)
    elif auth:
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise ProblemError(UNAUTHENTICATED, "use 'Authorization: Bearer <token>'")
        credential = credential.strip()
        if credential.startswith(API_KEY_PREFIX):
            principal = _from_api_key(request, credential)
        else:
            principal = _from_token(request, credential)
    else:
        cookie = request.cookies.get(request.app.state.settings.session_cookie_name)
        if cookie:
            principal = _from_session(request, cookie)
    request.state.principal = principal
    return principal


class AccessRule:
    """Base of every access rule; ``label`` is what docs and the OpenAPI schema show."""

    label: str = ""
    description: str = ""

    def describe(self) -> dict[str, Any]:
        return {"rule": self.label, "description": self.description}


class Public(AccessRule):
    label = "public"
    description = "Anyone, signed in or not."

    def __call__(self, principal: Principal = Depends(current_principal)) -> Principal:
        return principal


class CartHolder(AccessRule):
    """Anonymous carts are reached by their secret token; signed-in carts by their owner."""

    label = "cart-holder"
    description = "The holder of the cart's token (X-Cart-Token), or the signed-in owner."

    def __call__(self, principal: Principal = Depends(current_principal)) -> Principal:
        return principal


class Customer(AccessRule):
    label = "customer"
    description = "Any signed-in account (customers, staff and admins alike)."

    def __call__(self, principal: Principal = Depends(current_principal)) -> Principal:
        if principal.kind != "user":
            raise ProblemError(UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        return principal


class PlatformAdmin(AccessRule):
    label = "platform-admin"
    description = "Platform administrators only."

    def __call__(self, principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.is_authenticated:
            raise ProblemError(UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        if not principal.is_platform_admin:
            raise ProblemError(FORBIDDEN, "platform administrators only")
        return principal


class MerchantAccess(AccessRule):
    """Staff (or admins) of the merchant in the path, its API keys with ``scope``, or a
    platform admin. Every merchant-scoped route has a ``{merchant_id}`` path parameter."""

    def __init__(self, role: MerchantRole = MerchantRole.STAFF, scope: str | None = None) -> None:
        if scope is not None and scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        self.role = role
        self.scope = scope
        self.label = "merchant-admin" if role == MerchantRole.ADMIN else "merchant-staff"
        who = "admins" if role == MerchantRole.ADMIN else "staff and admins"
        keys = f", or its API keys with scope `{scope}`" if scope else ""
        self.description = f"The merchant's {who}{keys}; platform admins."

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "role": self.role.value, "scope": self.scope}

    def __call__(
        self,
        merchant_id: uuid.UUID,
        principal: Principal = Depends(current_principal),
    ) -> Principal:
        if not principal.is_authenticated:
            raise ProblemError(UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        if principal.kind == "api_key" and self.scope is None:
            raise ProblemError(FORBIDDEN, "API keys cannot call this endpoint")
        if not principal.can_act_for(merchant_id, self.role, self.scope):
            raise ProblemError(FORBIDDEN, "not allowed for this merchant")
        return principal


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[RouteContext]:
    """Every API route as it is served, with router prefixes and include-time dependencies
    applied. FastAPI (0.165+) keeps each included router as one lazy node in
    ``app.routes``, so a plain ``isinstance(route, APIRoute)`` walk would see none."""
    for context in iter_route_contexts(routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def route_access(route: APIRoute | RouteContext) -> list[AccessRule]:
    """Every distinct AccessRule among a route's dependencies (recursively).

    The same rule object reached twice (directly and through a helper dependency) is one
    declaration: FastAPI resolves it once per request.
    """
    found: list[AccessRule] = []
    stack = [route.dependant]
    if stack[0] is None:  # pragma: no cover - every API route context has a dependant
        return found
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, AccessRule) and not any(dep.call is r for r in found):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found
