"""Identity endpoints: registration, tokens, merchants, staff, API keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Response

from plaza.db import Database
from plaza.deps import get_db
from plaza.identity import oidc_api, service
from plaza.identity.auth import SCOPES, Customer, MerchantAccess, PlatformAdmin, Principal, Public
from plaza.identity.models import MerchantRole, User
from plaza.identity.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    MemberIn,
    MemberOut,
    MembershipOut,
    MeOut,
    MerchantIn,
    MerchantOut,
    MerchantPatch,
    RegisterIn,
    TokenIn,
    TokenOut,
    UserOut,
)
from plaza.identity.tokens import issue_token
from plaza.pagination import Page, PageParams, cursor_id, encode_cursor
from plaza.security.ratelimit import login_rate_limit, registration_rate_limit

router = APIRouter(tags=["identity"])
admin_only = MerchantAccess(MerchantRole.ADMIN)


@router.post(
    "/auth/register",
    status_code=201,
    response_model=UserOut,
    dependencies=[Depends(registration_rate_limit)],
)
def register(
    body: RegisterIn, db: Database = Depends(get_db), _: Principal = Depends(Public())
) -> UserOut:
    """Create a customer account."""
    with db.transaction() as s:
        return UserOut.model_validate(
            service.register_user(s, body.email, body.password, body.name)
        )


@router.post("/auth/token", response_model=TokenOut, dependencies=[Depends(login_rate_limit)])
def token(
    body: TokenIn, db: Database = Depends(get_db), _: Principal = Depends(Public())
) -> TokenOut:
    """Exchange email and password for a bearer token; merges an anonymous cart if given."""
    with db.transaction() as s:
        user, merged = service.sign_in(s, body.email, body.password, body.cart_token)
    access, ttl = issue_token(user.id)
    return TokenOut(access_token=access, expires_in=ttl, merged_cart_id=merged)


@router.get("/me", response_model=MeOut)
def me(db: Database = Depends(get_db), p: Principal = Depends(Customer())) -> MeOut:
    """The signed-in account and its merchant roles."""
    with db.reading() as s:
        user = s.get(User, p.user_id)
        assert user is not None
        return MeOut(
            id=user.id,
            email=user.email,
            name=user.name,
            is_platform_admin=user.is_platform_admin,
            created_at=user.created_at,
            memberships=[MembershipOut(merchant_id=m, role=r) for m, r in p.memberships.items()],
        )


@router.get("/merchants", response_model=Page[MerchantOut])
def list_merchants(
    page: PageParams = Depends(), db: Database = Depends(get_db), _: Principal = Depends(Public())
) -> Page[MerchantOut]:
    """Active merchants on the platform, oldest first."""
    after = cursor_id("merchants", page)
    with db.reading() as s:
        rows = service.list_merchants(s, limit=page.limit + 1, after=after)
        items = [MerchantOut.model_validate(m) for m in rows[: page.limit]]
    nxt = encode_cursor("merchants", [str(items[-1].id)]) if len(rows) > page.limit else None
    return Page(items=items, next_cursor=nxt)


@router.post("/merchants", status_code=201, response_model=MerchantOut)
def create_merchant(
    body: MerchantIn, db: Database = Depends(get_db), _: Principal = Depends(PlatformAdmin())
) -> MerchantOut:
    """Onboard a merchant (brand, street shop, mall owner, marketplace) with its first admin."""
    with db.transaction() as s:
        admin = service.find_user_by_email(s, body.admin_email)
        if admin is None:
            from plaza.errors import not_found

            raise not_found("account", body.admin_email)
        merchant = service.create_merchant(
            s,
            slug=body.slug,
            name=body.name,
            kind=body.kind,
            admin=admin,
            description=body.description,
            default_currency=body.default_currency,
        )
        return MerchantOut.model_validate(merchant)


@router.get("/merchants/{merchant_id}", response_model=MerchantOut)
def get_merchant(
    merchant_id: uuid.UUID, db: Database = Depends(get_db), _: Principal = Depends(Public())
) -> MerchantOut:
    """A merchant's public profile."""
    with db.reading() as s:
        return MerchantOut.model_validate(service.get_merchant(s, merchant_id))


@router.patch("/merchants/{merchant_id}", response_model=MerchantOut)
def patch_merchant(
    merchant_id: uuid.UUID,
    body: MerchantPatch,
    db: Database = Depends(get_db),
    _: Principal = Depends(admin_only),
) -> MerchantOut:
    """Change the merchant's profile."""
    with db.transaction() as s:
        merchant = service.update_merchant(s, merchant_id, body.model_dump(exclude_unset=True))
        return MerchantOut.model_validate(merchant)


@router.get("/merchants/{merchant_id}/members", response_model=list[MemberOut])
def list_members(
    merchant_id: uuid.UUID, db: Database = Depends(get_db), _: Principal = Depends(admin_only)
) -> list[MemberOut]:
    """Staff and admins of the merchant (a merchant has few; not paginated)."""
    with db.reading() as s:
        return [
            MemberOut(
                user_id=u.id, email=u.email, name=u.name, role=m.role, created_at=m.created_at
            )
            for m, u in service.list_members(s, merchant_id)
        ]


@router.put("/merchants/{merchant_id}/members", response_model=MemberOut)
def put_member(
    merchant_id: uuid.UUID,
    body: MemberIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(admin_only),
) -> MemberOut:
    """Add an existing account as staff or admin, or change its role (idempotent)."""
    with db.transaction() as s:
        m = service.set_member(s, merchant_id, body.email, body.role)
        u = s.get(User, m.user_id)
        assert u is not None
        return MemberOut(
            user_id=u.id, email=u.email, name=u.name, role=m.role, created_at=m.created_at
        )


@router.delete("/merchants/{merchant_id}/members/{user_id}", status_code=204)
def delete_member(
    merchant_id: uuid.UUID,
    user_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(admin_only),
) -> Response:
    """Remove a member; the last admin cannot be removed."""
    with db.transaction() as s:
        service.remove_member(s, merchant_id, user_id)
    return Response(status_code=204)


@router.get("/api-scopes", response_model=dict[str, str])
def api_scopes(_: Principal = Depends(Public())) -> dict[str, str]:
    """The scopes an API key can hold."""
    return SCOPES


@router.get("/merchants/{merchant_id}/api-keys", response_model=list[ApiKeyOut])
def list_keys(
    merchant_id: uuid.UUID, db: Database = Depends(get_db), _: Principal = Depends(admin_only)
) -> list[ApiKeyOut]:
    """The merchant's API keys (never the secrets)."""
    with db.reading() as s:
        return [ApiKeyOut.model_validate(k) for k in service.list_api_keys(s, merchant_id)]


@router.post("/merchants/{merchant_id}/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_key(
    merchant_id: uuid.UUID,
    body: ApiKeyIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(admin_only),
) -> ApiKeyCreated:
    """Issue a partner API key; the secret is returned once."""
    with db.transaction() as s:
        row, key = service.create_api_key(s, merchant_id, body.name, body.scopes, p.user_id)
        return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=key)


@router.delete("/merchants/{merchant_id}/api-keys/{key_id}", response_model=ApiKeyOut)
def revoke_key(
    merchant_id: uuid.UUID,
    key_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(admin_only),
) -> ApiKeyOut:
    """Revoke an API key at once."""
    with db.transaction() as s:
        return ApiKeyOut.model_validate(service.revoke_api_key(s, merchant_id, key_id))


router.include_router(oidc_api.router)  # single sign-on (docs/sso.md)
