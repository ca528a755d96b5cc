"""Single sign-on: provider configuration, login attempts and account resolution.

Functions take a session first and never talk to a provider: the API layer calls
``plaza.identity.oidc`` between the two short transactions of a callback (one consumes the
login attempt, one links or creates the account), so no database lock is held while a
provider answers.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from plaza.config import get_settings
from plaza.db import Database, utcnow
from plaza.errors import UNAUTHENTICATED, VALIDATION, ProblemError, not_found, problem_type
from plaza.events import emit, event_type
from plaza.identity.models import (
    SsoIdentity,
    SsoLoginAttempt,
    SsoProvider,
    SsoTokenAuthMethod,
    User,
)
from plaza.identity.oidc import PROVIDER_MISCONFIGURED, ClientConfig, PkcePair, new_pkce
from plaza.identity.service import SIGN_IN_HOOKS, find_user_by_email, normalise_email, register_user

PROVIDER_UNKNOWN = problem_type(
    "sso-provider-unknown",
    "Unknown sign-in provider",
    404,
    "No single sign-on provider has this slug; `GET /auth/sso/providers` lists them.",
)
PROVIDER_DISABLED = problem_type(
    "sso-provider-disabled",
    "Sign-in provider disabled",
    403,
    "A platform admin has switched this provider off; sign in another way.",
)
PROVIDER_EXISTS = problem_type(
    "sso-provider-exists", "Provider slug taken", 409, "Another provider has this slug."
)
REDIRECT_NOT_ALLOWED = problem_type(
    "sso-redirect-uri-not-allowed",
    "Redirect URI not allowed",
    400,
    "`redirect_uri` must be one of the provider's registered `redirect_uris`, exactly.",
)
STATE_INVALID = problem_type(
    "sso-state-invalid",
    "Unknown, used or expired sign-in",
    400,
    "The callback's `state` matches no sign-in in progress: it was already used, it "
    "expired, it belongs to another provider, or the sign-in began in another browser. "
    "Start again.",
)
AUTHORIZATION_FAILED = problem_type(
    "sso-authorization-failed",
    "The provider did not sign you in",
    400,
    "The provider answered with an error (for example `access_denied` when the person "
    "declined); `error` carries the provider's code.",
)
EMAIL_MISSING = problem_type(
    "sso-email-missing",
    "The provider shared no email address",
    400,
    "Plaza accounts are keyed by email: the provider must release the `email` claim "
    "(ask for the `email` scope).",
)
EMAIL_UNVERIFIED = problem_type(
    "sso-email-unverified",
    "Email not verified by the provider",
    403,
    "The provider does not vouch for this email address (`email_verified` is not true), "
    "so Plaza neither links it to an existing account nor creates one with it. Verify the "
    "address at the provider, or sign in with a password.",
)

SSO_IDENTITY_LINKED = event_type(
    "sso.identity_linked", "A sign-in provider account was linked to a Plaza account."
)
SSO_PROVIDER_CHANGED = event_type(
    "sso.provider_changed", "A platform admin created, changed or removed a sign-in provider."
)

DEFAULT_SCOPES = ("openid", "email", "profile")
PURGE_EVERY = dt.timedelta(minutes=10)


# --- client secrets at rest -------------------------------------------------------------
@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"plaza/sso-client-secret").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _encrypt(secret: str) -> str:
    return _fernet(get_settings().resolved_secret_key()).encrypt(secret.encode()).decode()


def _decrypt(token: str) -> str:
    try:
        return _fernet(get_settings().resolved_secret_key()).decrypt(token.encode()).decode()
    except InvalidToken as exc:  # PLAZA_SECRET_KEY changed since the secret was stored
        raise ProblemError(
            PROVIDER_MISCONFIGURED,
            "the provider's client secret cannot be decrypted; a platform admin must "
            "enter it again",
        ) from exc


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- providers ----------------------------------------------------------------------------
def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(
        VALIDATION,
        message,
        errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )


def _check_auth(provider: SsoProvider) -> None:
    has_secret = provider.client_secret_enc is not None
    if provider.token_auth_method == SsoTokenAuthMethod.NONE and has_secret:
        raise _invalid("client_secret", "a public client (`none`) has no client secret")
    if provider.token_auth_method != SsoTokenAuthMethod.NONE and not has_secret:
        raise _invalid("client_secret", f"`{provider.token_auth_method}` needs a client secret")


def _scopes(scopes: list[str] | None) -> list[str]:
    wanted = list(scopes) if scopes else list(DEFAULT_SCOPES)
    ordered = ["openid", *wanted]  # OIDC needs `openid`; keep it first, drop duplicates
    return list(dict.fromkeys(ordered))


def create_provider(
    s: Session,
    *,
    slug: str,
    display_name: str,
    issuer: str,
    client_id: str,
    client_secret: str | None = None,
    token_auth_method: SsoTokenAuthMethod | None = None,
    scopes: list[str] | None = None,
    redirect_uris: list[str] | None = None,
    trust_email: bool = False,
    enabled: bool = True,
) -> SsoProvider:
    if s.scalar(select(SsoProvider.id).where(SsoProvider.slug == slug)) is not None:
        raise ProblemError(PROVIDER_EXISTS)
    method = token_auth_method or (
        SsoTokenAuthMethod.CLIENT_SECRET_BASIC if client_secret else SsoTokenAuthMethod.NONE
    )
    provider = SsoProvider(
        slug=slug,
        display_name=display_name,
        issuer=issuer,
        client_id=client_id,
        client_secret_enc=_encrypt(client_secret) if client_secret else None,
        token_auth_method=method,
        scopes=_scopes(scopes),
        redirect_uris=list(dict.fromkeys(redirect_uris or [])),
        trust_email=trust_email,
        enabled=enabled,
    )
    _check_auth(provider)
    s.add(provider)
    s.flush()
    _changed(s, provider, "created")
    return provider


def _changed(s: Session, provider: SsoProvider, action: str) -> None:
    emit(
        s,
        SSO_PROVIDER_CHANGED,
        aggregate_type="sso_provider",
        aggregate_id=provider.id,
        payload={"slug": provider.slug, "action": action},
    )


def get_provider(s: Session, provider_id: uuid.UUID) -> SsoProvider:
    provider = s.get(SsoProvider, provider_id)
    if provider is None:
        raise not_found("sso provider", provider_id)
    return provider


def list_providers(
    s: Session, *, limit: int, after: uuid.UUID | None = None, enabled_only: bool = False
) -> list[SsoProvider]:
    """Providers in creation order, keyset-paginated after ``after``."""
    q = select(SsoProvider).order_by(SsoProvider.id).limit(limit)
    if after is not None:
        q = q.where(SsoProvider.id > after)
    if enabled_only:
        q = q.where(SsoProvider.enabled)
    return list(s.scalars(q))


def update_provider(s: Session, provider_id: uuid.UUID, changes: dict[str, Any]) -> SsoProvider:
    """Apply a partial change. ``client_secret`` replaces the stored secret (``None``
    removes it); the issuer and slug never change, since subjects are per issuer."""
    provider = get_provider(s, provider_id)
    for key, value in changes.items():
        if key == "client_secret":
            provider.client_secret_enc = _encrypt(value) if value else None
        elif key == "scopes":
            provider.scopes = _scopes(value)
        elif key == "redirect_uris":
            provider.redirect_uris = list(dict.fromkeys(value))
        else:
            setattr(provider, key, value)
    if (
        "token_auth_method" in changes
        and changes["token_auth_method"] == SsoTokenAuthMethod.NONE
        and "client_secret" not in changes
    ):
        provider.client_secret_enc = None  # becoming a public client drops the secret
    _check_auth(provider)
    _changed(s, provider, "updated")
    return provider


def delete_provider(s: Session, provider_id: uuid.UUID) -> SsoProvider:
    """Remove a provider with its linked identities and pending sign-ins (the accounts
    stay; their owners sign in another way or through a provider added later)."""
    provider = get_provider(s, provider_id)
    _changed(s, provider, "deleted")
    s.execute(delete(SsoIdentity).where(SsoIdentity.provider_id == provider.id))
    s.execute(delete(SsoLoginAttempt).where(SsoLoginAttempt.provider_id == provider.id))
    s.delete(provider)
    return provider


def provider_by_slug(s: Session, slug: str) -> SsoProvider:
    """An enabled provider, or the problem a signing-in person should see."""
    provider = s.scalar(select(SsoProvider).where(SsoProvider.slug == slug))
    if provider is None:
        raise ProblemError(PROVIDER_UNKNOWN, f"no sign-in provider {slug!r}")
    if not provider.enabled:
        raise ProblemError(PROVIDER_DISABLED, f"sign-in with {provider.display_name} is off")
    return provider


def client_config(provider: SsoProvider) -> ClientConfig:
    secret = _decrypt(provider.client_secret_enc) if provider.client_secret_enc else None
    return ClientConfig(
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=secret,
        auth_method=provider.token_auth_method.value,
        scopes=tuple(provider.scopes),
    )


# --- login attempts -----------------------------------------------------------------------
@dataclass(frozen=True)
class StartedLogin:
    state: str
    nonce: str
    pkce: PkcePair
    expires_at: dt.datetime


@dataclass(frozen=True)
class PendingLogin:
    """What the callback needs from a consumed attempt (plain values, no ORM object)."""

    provider_id: uuid.UUID
    nonce: str
    code_verifier: str
    callback_url: str
    redirect_uri: str | None
    client_state: str | None
    cart_token: str | None


def start_login(
    s: Session,
    provider: SsoProvider,
    *,
    callback_url: str,
    redirect_uri: str | None,
    client_state: str | None,
    cart_token: str | None,
    browser_binding: str | None,
    ttl_seconds: int,
) -> StartedLogin:
    """Record a sign-in in progress with a fresh ``state``, ``nonce`` and PKCE verifier."""
    if redirect_uri is not None and redirect_uri not in provider.redirect_uris:
        raise ProblemError(
            REDIRECT_NOT_ALLOWED, "this redirect_uri is not registered for the provider"
        )
    started = StartedLogin(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        pkce=new_pkce(),
        expires_at=utcnow() + dt.timedelta(seconds=ttl_seconds),
    )
    s.add(
        SsoLoginAttempt(
            provider_id=provider.id,
            state_hash=_sha256(started.state),
            nonce=started.nonce,
            code_verifier=started.pkce.verifier,
            callback_url=callback_url,
            redirect_uri=redirect_uri,
            client_state=client_state,
            cart_token=cart_token,
            browser_binding=_sha256(browser_binding) if browser_binding else None,
            expires_at=started.expires_at,
        )
    )
    s.flush()
    return started


def consume_login(
    s: Session, provider: SsoProvider, state: str, browser_binding: str | None
) -> PendingLogin:
    """Take the attempt ``state`` names, at most once: a conditional update marks it used,
    so of two callbacks racing with the same state only one gets it."""
    attempt = s.scalar(select(SsoLoginAttempt).where(SsoLoginAttempt.state_hash == _sha256(state)))
    now = utcnow()
    if attempt is None or attempt.provider_id != provider.id:
        raise ProblemError(STATE_INVALID, "no sign-in in progress has this state")
    if attempt.used_at is not None:
        raise ProblemError(STATE_INVALID, "this sign-in was already completed or abandoned")
    if attempt.expires_at <= now:
        raise ProblemError(STATE_INVALID, "this sign-in expired; start again")
    if attempt.browser_binding is not None and not (
        browser_binding and hmac.compare_digest(attempt.browser_binding, _sha256(browser_binding))
    ):
        raise ProblemError(STATE_INVALID, "this sign-in was started in another browser")
    taken = s.execute(
        update(SsoLoginAttempt)
        .where(SsoLoginAttempt.id == attempt.id, SsoLoginAttempt.used_at.is_(None))
        .values(used_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise ProblemError(STATE_INVALID, "this sign-in was already completed or abandoned")
    return PendingLogin(
        provider_id=provider.id,
        nonce=attempt.nonce,
        code_verifier=attempt.code_verifier,
        callback_url=attempt.callback_url,
        redirect_uri=attempt.redirect_uri,
        client_state=attempt.client_state,
        cart_token=attempt.cart_token,
    )


def purge_expired(s: Session, now: dt.datetime | None = None) -> int:
    result = s.execute(
        delete(SsoLoginAttempt).where(SsoLoginAttempt.expires_at < (now or utcnow()))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


_last_purge: dt.datetime | None = None


def purge_job(db: Database) -> None:
    """Housekeeping: drop expired login attempts, at most every ``PURGE_EVERY``."""
    global _last_purge
    now = utcnow()
    if _last_purge is not None and now - _last_purge < PURGE_EVERY:
        return
    _last_purge = now
    with db.transaction() as s:
        purge_expired(s, now)


# --- accounts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedIn:
    user_id: uuid.UUID
    created: bool  # a new account was made
    linked: bool  # the provider identity was linked just now
    merged_cart_id: uuid.UUID | None


def _email_verified(provider: SsoProvider, claims: dict[str, Any]) -> bool:
    # Some providers send the boolean as a string ("true"); anything else is "no".
    flag = claims.get("email_verified")
    return provider.trust_email or flag is True or flag == "true"


def _display_name(claims: dict[str, Any]) -> str:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    return name.strip()[:200]


def _email(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        raise ProblemError(EMAIL_MISSING)
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise ProblemError(EMAIL_MISSING, "the provider's email claim is not an email address")
    return email


def sign_in_with_claims(
    s: Session, provider_id: uuid.UUID, claims: dict[str, Any], cart_token: str | None = None
) -> SignedIn:
    """Find or make the account for validated ID token ``claims``.

    1. The account already linked to (provider, ``sub``) signs in.
    2. Otherwise, if the provider vouches for the email (``email_verified`` true, or the
       provider is marked ``trust_email``) and an account has that email, it is linked.
    3. Otherwise, with a vouched-for email, a customer account without password is made.
    An email the provider does not vouch for is never linked or used for a new account.
    """
    provider = s.get(SsoProvider, provider_id)
    if provider is None:  # deleted while the person was at the provider
        raise ProblemError(PROVIDER_UNKNOWN, "the provider was removed")
    subject = str(claims["sub"])
    identity = s.scalar(
        select(SsoIdentity).where(
            SsoIdentity.provider_id == provider.id, SsoIdentity.subject == subject
        )
    )
    created = linked = False
    if identity is not None:
        user = s.get(User, identity.user_id)
        assert user is not None  # the foreign key cascades
        identity.last_login_at = utcnow()
    else:
        email = _email(claims)
        if not _email_verified(provider, claims):
            raise ProblemError(EMAIL_UNVERIFIED)
        found = find_user_by_email(s, email)
        if found is None:
            user = register_user(s, email, None, _display_name(claims))
            created = True
        else:
            user = found
        s.add(SsoIdentity(user_id=user.id, provider_id=provider.id, subject=subject, email=email))
        s.flush()
        linked = True
        emit(
            s,
            SSO_IDENTITY_LINKED,
            aggregate_type="user",
            aggregate_id=user.id,
            payload={"provider": provider.slug, "new_account": created},
        )
    if not user.is_active:
        raise ProblemError(UNAUTHENTICATED, "account disabled")
    merged: uuid.UUID | None = None
    for hook in SIGN_IN_HOOKS:  # the same reactions as a password sign-in (cart merge)
        merged = hook(s, user.id, cart_token) or merged
    return SignedIn(user.id, created, linked, merged)


# --- personal data (the privacy context's export and erasure hooks) -------------------------
def identities_for(s: Session, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """The account's linked provider identities, JSON-ready, for a data export."""
    rows = s.execute(
        select(SsoIdentity, SsoProvider.slug, SsoProvider.issuer)
        .join(SsoProvider, SsoProvider.id == SsoIdentity.provider_id)
        .where(SsoIdentity.user_id == user_id)
        .order_by(SsoIdentity.linked_at)
    )
    return [
        {
            "provider": slug,
            "issuer": issuer,
            "subject": identity.subject,
            "email": identity.email,
            "linked_at": identity.linked_at.isoformat(),
            "last_login_at": identity.last_login_at.isoformat(),
        }
        for identity, slug, issuer in rows
    ]


def delete_identities(s: Session, user_id: uuid.UUID) -> int:
    """Erase the account's provider links; returns how many were removed."""
    result = s.execute(delete(SsoIdentity).where(SsoIdentity.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]
