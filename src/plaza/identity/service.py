"""Identity logic: accounts, merchants, staff and API keys. Functions take a session first."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Collection

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plaza.db import in_chunks, utcnow
from plaza.errors import CONFLICT, ProblemError, not_found, problem_type
from plaza.events import emit, event_type
from plaza.identity.auth import API_KEY_PREFIX, SCOPES, hash_api_key
from plaza.identity.models import ApiKey, Membership, Merchant, MerchantKind, MerchantRole, User
from plaza.identity.passwords import hash_password, needs_rehash, verify_password

EMAIL_TAKEN = problem_type(
    "email-taken", "Email already registered", 409, "An account with this email exists."
)
BAD_CREDENTIALS = problem_type(
    "invalid-credentials",
    "Invalid email or password",
    401,
    "The email and password do not match an active account.",
)
SLUG_TAKEN = problem_type("slug-taken", "Merchant slug taken", 409, "Choose another slug.")
UNKNOWN_SCOPE = problem_type(
    "unknown-scope", "Unknown API key scope", 422, "Use only the documented scopes."
)
LAST_ADMIN = problem_type(
    "last-admin",
    "A merchant needs an admin",
    409,
    "The merchant's last admin cannot be removed or demoted.",
)

USER_REGISTERED = event_type("user.registered", "A customer account was created.")
MERCHANT_CREATED = event_type("merchant.created", "A merchant joined the platform.")
MERCHANT_UPDATED = event_type("merchant.updated", "A merchant's profile changed.")
MEMBER_CHANGED = event_type("merchant.member_changed", "Staff added, re-roled or removed.")
API_KEY_CREATED = event_type("api_key.created", "A partner API key was issued.")
API_KEY_REVOKED = event_type("api_key.revoked", "A partner API key was revoked.")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(s: Session, email: str) -> User | None:
    return s.scalar(select(User).where(User.email == normalise_email(email)))


def register_user(
    s: Session, email: str, password: str | None, name: str = "", *, platform_admin: bool = False
) -> User:
    email = normalise_email(email)
    if find_user_by_email(s, email) is not None:
        raise ProblemError(EMAIL_TAKEN)
    user = User(
        email=email,
        name=name,
        is_platform_admin=platform_admin,
        password_hash=hash_password(password) if password else None,
    )
    s.add(user)
    try:
        s.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise ProblemError(EMAIL_TAKEN) from exc
    emit(s, USER_REGISTERED, aggregate_type="user", aggregate_id=user.id, payload={})
    return user


def authenticate(s: Session, email: str, password: str) -> User:
    user = find_user_by_email(s, email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise ProblemError(BAD_CREDENTIALS)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def get_merchant(s: Session, merchant_id: uuid.UUID) -> Merchant:
    merchant = s.get(Merchant, merchant_id)
    if merchant is None or not merchant.is_active:
        raise not_found("merchant", merchant_id)
    return merchant


def active_merchants(s: Session, merchant_ids: Collection[uuid.UUID]) -> list[Merchant]:
    """The open merchants among ``merchant_ids``, by name (closed ones are left out)."""
    if not merchant_ids:
        return []
    q = select(Merchant).where(Merchant.id.in_(list(merchant_ids)), Merchant.is_active.is_(True))
    return list(s.scalars(q.order_by(Merchant.name, Merchant.id)))


def list_merchants(s: Session, *, limit: int, after: uuid.UUID | None = None) -> list[Merchant]:
    """Active merchants in id (creation) order, keyset-paginated after ``after``."""
    q = select(Merchant).where(Merchant.is_active).order_by(Merchant.id).limit(limit)
    if after is not None:
        q = q.where(Merchant.id > after)
    return list(s.scalars(q))


def _lock_merchant(s: Session, merchant_id: uuid.UUID) -> Merchant:
    """Lock the merchant row so membership changes serialise per merchant: without it two
    admins demoting each other concurrently on PostgreSQL would both see a second admin."""
    merchant = s.get(Merchant, merchant_id, with_for_update=True, populate_existing=True)
    if merchant is None or not merchant.is_active:
        raise not_found("merchant", merchant_id)
    return merchant


def create_merchant(
    s: Session,
    *,
    slug: str,
    name: str,
    kind: MerchantKind,
    admin: User,
    description: str = "",
    default_currency: str = "EUR",
) -> Merchant:
    if s.scalar(select(Merchant.id).where(Merchant.slug == slug)) is not None:
        raise ProblemError(SLUG_TAKEN)
    merchant = Merchant(
        slug=slug, name=name, kind=kind, description=description, default_currency=default_currency
    )
    s.add(merchant)
    try:
        s.flush()
    except IntegrityError as exc:
        raise ProblemError(SLUG_TAKEN) from exc
    s.add(Membership(user_id=admin.id, merchant_id=merchant.id, role=MerchantRole.ADMIN))
    emit(
        s,
        MERCHANT_CREATED,
        aggregate_type="merchant",
        aggregate_id=merchant.id,
        merchant_id=merchant.id,
        payload={"slug": slug, "kind": kind.value},
    )
    return merchant


def update_merchant(s: Session, merchant_id: uuid.UUID, changes: dict[str, object]) -> Merchant:
    merchant = get_merchant(s, merchant_id)
    for key, value in changes.items():
        setattr(merchant, key, value)
    emit(
        s,
        MERCHANT_UPDATED,
        aggregate_type="merchant",
        aggregate_id=merchant.id,
        merchant_id=merchant.id,
        payload={"fields": sorted(changes)},
    )
    return merchant


def list_members(s: Session, merchant_id: uuid.UUID) -> list[tuple[Membership, User]]:
    rows = s.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.merchant_id == merchant_id)
        .order_by(Membership.created_at)
    )
    return [(m, u) for m, u in rows]


def _admin_count(s: Session, merchant_id: uuid.UUID) -> int:
    return len(
        s.scalars(
            select(Membership.user_id).where(
                Membership.merchant_id == merchant_id, Membership.role == MerchantRole.ADMIN
            )
        ).all()
    )


def set_member(s: Session, merchant_id: uuid.UUID, email: str, role: MerchantRole) -> Membership:
    _lock_merchant(s, merchant_id)
    user = find_user_by_email(s, email)
    if user is None:
        raise not_found("account", email)
    member = s.get(Membership, (user.id, merchant_id))
    if member is None:
        member = Membership(user_id=user.id, merchant_id=merchant_id, role=role)
        s.add(member)
    else:
        if (
            member.role == MerchantRole.ADMIN
            and role != MerchantRole.ADMIN
            and _admin_count(s, merchant_id) <= 1
        ):
            raise ProblemError(LAST_ADMIN)
        member.role = role
    s.flush()
    emit(
        s,
        MEMBER_CHANGED,
        aggregate_type="merchant",
        aggregate_id=merchant_id,
        merchant_id=merchant_id,
        payload={"user_id": str(user.id), "role": role.value},
    )
    return member


def remove_member(s: Session, merchant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    _lock_merchant(s, merchant_id)
    member = s.get(Membership, (user_id, merchant_id))
    if member is None:
        raise not_found("member", user_id)
    if member.role == MerchantRole.ADMIN and _admin_count(s, merchant_id) <= 1:
        raise ProblemError(LAST_ADMIN)
    s.delete(member)
    emit(
        s,
        MEMBER_CHANGED,
        aggregate_type="merchant",
        aggregate_id=merchant_id,
        merchant_id=merchant_id,
        payload={"user_id": str(user_id), "role": None},
    )


def create_api_key(
    s: Session, merchant_id: uuid.UUID, name: str, scopes: list[str], created_by: uuid.UUID | None
) -> tuple[ApiKey, str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ProblemError(
            UNKNOWN_SCOPE, f"unknown scopes: {', '.join(unknown)}", known=sorted(SCOPES)
        )
    get_merchant(s, merchant_id)
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
    row = ApiKey(
        merchant_id=merchant_id,
        name=name,
        prefix=prefix,
        digest=hash_api_key(key),
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    s.add(row)
    s.flush()
    emit(
        s,
        API_KEY_CREATED,
        aggregate_type="api_key",
        aggregate_id=row.id,
        merchant_id=merchant_id,
        payload={"name": name, "scopes": row.scopes},
    )
    return row, key


def list_api_keys(s: Session, merchant_id: uuid.UUID) -> list[ApiKey]:
    return list(
        s.scalars(
            select(ApiKey).where(ApiKey.merchant_id == merchant_id).order_by(ApiKey.created_at)
        )
    )


def revoke_api_key(s: Session, merchant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    row = s.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.merchant_id == merchant_id))
    if row is None:
        raise not_found("api key", key_id)
    if row.revoked_at is not None:
        raise ProblemError(CONFLICT, "API key already revoked")
    row.revoked_at = utcnow()
    emit(
        s,
        API_KEY_REVOKED,
        aggregate_type="api_key",
        aggregate_id=row.id,
        merchant_id=merchant_id,
        payload={},
    )
    return row


# Other contexts react to a sign-in here (ordering merges the anonymous cart); each hook
# gets the session, the user id and the anonymous cart token, and may return a cart id.
SignInHook = Callable[[Session, uuid.UUID, str | None], uuid.UUID | None]
SIGN_IN_HOOKS: list[SignInHook] = []


def sign_in(
    s: Session, email: str, password: str, cart_token: str | None
) -> tuple[User, uuid.UUID | None]:
    user = authenticate(s, email, password)
    merged: uuid.UUID | None = None
    for hook in SIGN_IN_HOOKS:
        merged = hook(s, user.id, cart_token) or merged
    return user, merged


def active_signups(s: Session, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, dt.datetime]:
    """When each of ``user_ids`` signed up, for accounts that are still active (bulk)."""
    q = select(User.id, User.created_at).where(User.is_active.is_(True))
    return dict(in_chunks(s, q, User.id, user_ids))
