"""Identity's part of data rights: the account, its staff roles, the API keys it issued and
the single sign-on identities linked to it.

Erasure keeps the ``users`` row as an empty tombstone (random ``erased-…@invalid`` email,
no name, no password, deactivated, so every token stops working at once): its random id
is the pseudonymous reference that append-only records (the audit log) keep.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plaza.errors import ProblemError
from plaza.events import emit
from plaza.identity import oidc_service
from plaza.identity import sessions as web_sessions
from plaza.identity.models import (
    ApiKey,
    Membership,
    Merchant,
    MerchantRole,
    User,
    WebSession,
)
from plaza.identity.service import LAST_ADMIN, MEMBER_CHANGED
from plaza.privacy import registry
from plaza.privacy.registry import Subject


def export_identity(s: Session, subject: Subject) -> dict[str, Any]:
    user = s.get(User, subject.user_id)
    assert user is not None
    memberships = s.execute(
        select(Membership, Merchant.name)
        .join(Merchant, Merchant.id == Membership.merchant_id)
        .where(Membership.user_id == subject.user_id)
        .order_by(Membership.created_at)
    ).all()
    keys = s.scalars(
        select(ApiKey).where(ApiKey.created_by == subject.user_id).order_by(ApiKey.created_at)
    )
    return {
        "account": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "created_at": user.created_at,
            "is_platform_admin": user.is_platform_admin,
            "has_password": user.password_hash is not None,
        },
        "memberships": [
            {
                "merchant_id": m.merchant_id,
                "merchant_name": name,
                "role": m.role.value,
                "since": m.created_at,
            }
            for m, name in memberships
        ],
        "api_keys_issued": [
            {
                "id": k.id,
                "merchant_id": k.merchant_id,
                "name": k.name,
                "prefix": k.prefix,
                "created_at": k.created_at,
                "revoked_at": k.revoked_at,
            }
            for k in keys
        ],
        "sso_identities": oidc_service.identities_for(s, subject.user_id),
        "web_sessions": [
            {"created_at": w.created_at, "expires_at": w.expires_at, "user_agent": w.user_agent}
            for w in s.scalars(
                select(WebSession)
                .where(WebSession.user_id == subject.user_id)
                .order_by(WebSession.created_at)
            )
        ],
    }


def erase_identity(s: Session, subject: Subject) -> dict[str, int]:
    """Leave every merchant (refused if the account is a merchant's last admin: someone
    must hand over first), detach the API keys it issued (they are the merchant's and keep
    working), then blank the account row."""
    memberships = list(
        s.scalars(
            select(Membership)
            .where(Membership.user_id == subject.user_id)
            .order_by(Membership.merchant_id)
        )
    )
    blocked = []
    for member in memberships:
        # Lock each merchant (in id order) so a concurrent demotion cannot leave it admin-less.
        s.get(Merchant, member.merchant_id, with_for_update=True, populate_existing=True)
        if member.role != MerchantRole.ADMIN:
            continue
        admins = s.scalars(
            select(Membership.user_id).where(
                Membership.merchant_id == member.merchant_id,
                Membership.role == MerchantRole.ADMIN,
            )
        ).all()
        if len(admins) <= 1:
            blocked.append(str(member.merchant_id))
    if blocked:
        raise ProblemError(
            LAST_ADMIN,
            "the account is the last admin of a merchant: make someone else admin first",
            merchant_ids=blocked,
        )
    for member in memberships:
        s.delete(member)
        emit(
            s,
            MEMBER_CHANGED,
            aggregate_type="merchant",
            aggregate_id=member.merchant_id,
            merchant_id=member.merchant_id,
            payload={"user_id": None, "role": None, "reason": "account erased"},
        )
    for identity in oidc_service.identities_for(s, subject.user_id):
        subject.remember(str(identity.get("subject") or ""))
        subject.remember_email(identity.get("email"))
    identities = oidc_service.delete_identities(s, subject.user_id)
    keys = s.execute(
        update(ApiKey).where(ApiKey.created_by == subject.user_id).values(created_by=None)
    )
    sessions = web_sessions.close_all(s, subject.user_id)
    user = s.get(User, subject.user_id)
    assert user is not None
    user.email = subject.pseudonymous_email
    user.name = ""
    user.password_hash = None
    user.is_active = False
    user.is_platform_admin = False
    s.flush()
    return {
        "account_pseudonymised": 1,
        "memberships_deleted": len(memberships),
        "sso_identities_deleted": identities,
        "api_keys_detached": int(getattr(keys, "rowcount", 0) or 0),
        "web_sessions_deleted": sessions,
    }


registry.register(
    "identity",
    export=export_identity,
    erase=erase_identity,
    tables=["users", "memberships", "api_keys", "sso_identities", "web_sessions"],
    not_personal={
        "merchants": "businesses; their names are published on purpose",
        "sso_providers": "the identity providers the platform trusts: configuration",
    },
    order=10,
)
