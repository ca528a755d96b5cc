"""Single sign-on endpoints: sign-in with an OpenID Connect provider, and the platform
admin's provider configuration. Mounted by ``identity.api``; see docs/sso.md."""

from __future__ import annotations

import secrets
import threading
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import IntegrityError

from plaza.config import Settings
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.identity import oidc_service as sso
from plaza.identity.auth import PlatformAdmin, Principal, Public
from plaza.identity.models import SsoProvider
from plaza.identity.oidc import OidcClient
from plaza.identity.schemas import (
    SsoAuthorizeOut,
    SsoProviderIn,
    SsoProviderOut,
    SsoProviderPatch,
    SsoProviderPublic,
    TokenOut,
)
from plaza.identity.service import EMAIL_TAKEN
from plaza.identity.tokens import issue_token
from plaza.pagination import Page, PageParams, cursor_id, encode_cursor
from plaza.security.ratelimit import login_rate_limit

router = APIRouter(tags=["sso"])
platform_admin = PlatformAdmin()

# Binds a web sign-in to the browser that started it (login CSRF defence): the callback
# must come with the same cookie. Path-scoped, HttpOnly, SameSite=Lax so the provider's
# top-level redirect back carries it.
BINDING_COOKIE = "plaza_sso"
ProviderSlug = Annotated[
    str, Path(max_length=64, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
]
_client_lock = threading.Lock()


def oidc_client(request: Request) -> OidcClient:
    """The app's provider client (one per app: its caches are per process)."""
    state = request.app.state
    client: OidcClient | None = getattr(state, "oidc_client", None)
    if client is None:
        with _client_lock:
            client = getattr(state, "oidc_client", None)
            if client is None:
                settings: Settings = state.settings
                client = OidcClient(settings.sso_discovery_ttl_seconds)
                state.oidc_client = client
    return client


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def callback_url(request: Request, slug: str) -> str:
    """Plaza's redirect URI at the provider: from PLAZA_PUBLIC_URL when set (the
    production setting), else from the request's own base URL."""
    base = _settings(request).public_url or str(request.base_url)
    return f"{base.rstrip('/')}/auth/sso/{slug}/callback"


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


def _out(request: Request, provider: SsoProvider) -> SsoProviderOut:
    return SsoProviderOut(
        id=provider.id,
        slug=provider.slug,
        display_name=provider.display_name,
        issuer=provider.issuer,
        client_id=provider.client_id,
        has_client_secret=provider.client_secret_enc is not None,
        token_auth_method=provider.token_auth_method,
        scopes=provider.scopes,
        redirect_uris=provider.redirect_uris,
        trust_email=provider.trust_email,
        enabled=provider.enabled,
        callback_url=callback_url(request, provider.slug),
        created_at=provider.created_at,
        updated_at=provider.updated_at,
    )


# --- signing in -------------------------------------------------------------------------
@router.get("/auth/sso/providers", response_model=Page[SsoProviderPublic])
def public_providers(
    page: PageParams = Depends(), db: Database = Depends(get_db), _: Principal = Depends(Public())
) -> Page[SsoProviderPublic]:
    """The enabled sign-in providers, for a login page's buttons."""
    after = cursor_id("sso-public", page)
    with db.reading() as s:
        rows = sso.list_providers(s, limit=page.limit + 1, after=after, enabled_only=True)
    items = [
        SsoProviderPublic(
            slug=p.slug,
            display_name=p.display_name,
            authorize_path=f"/auth/sso/{p.slug}/authorize",
        )
        for p in rows[: page.limit]
    ]
    more = len(rows) > page.limit
    nxt = encode_cursor("sso-public", [str(rows[page.limit - 1].id)]) if more else None
    return Page(items=items, next_cursor=nxt)


@router.get(
    "/auth/sso/{provider}/authorize",
    response_model=SsoAuthorizeOut,
    responses={302: {"description": "Redirect to the provider's sign-in page."}},
    dependencies=[Depends(login_rate_limit)],  # a sign-in: each call stores an attempt
)
def authorize(
    provider: ProviderSlug,
    request: Request,
    redirect_uri: str | None = Query(
        None,
        max_length=500,
        description="Where to send the person back with the token (in the URL fragment); "
        "must be on the provider's allow-list. Omit to get the token as JSON from the "
        "callback.",
    ),
    state: str | None = Query(
        None, max_length=256, description="Opaque value echoed back to `redirect_uri`."
    ),
    cart_token: str | None = Query(
        None, max_length=128, description="An anonymous cart to merge into the account's cart."
    ),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Any:
    """Start a sign-in: 302 to the provider (browsers), or the URL as JSON when the request
    sends `Accept: application/json` (mobile apps open it in a browser themselves)."""
    settings = _settings(request)
    with db.reading() as s:
        row = sso.provider_by_slug(s, provider)
        config = sso.client_config(row)
    metadata = oidc_client(request).discover(config.issuer)  # network: outside any transaction
    as_json = _wants_json(request)
    # A web sign-in is bound to this browser; reuse its cookie so parallel tabs both work.
    binding = (
        None if as_json else (request.cookies.get(BINDING_COOKIE) or secrets.token_urlsafe(32))
    )
    redirect_to = callback_url(request, provider)
    with db.transaction() as s:
        started = sso.start_login(
            s,
            sso.provider_by_slug(s, provider),
            callback_url=redirect_to,
            redirect_uri=redirect_uri,
            client_state=state,
            cart_token=cart_token,
            browser_binding=binding,
            ttl_seconds=settings.sso_login_ttl_seconds,
        )
    url = oidc_client(request).authorization_url(
        metadata,
        config,
        redirect_uri=redirect_to,
        state=started.state,
        nonce=started.nonce,
        pkce=started.pkce,
    )
    headers = {"Cache-Control": "no-store"}
    if as_json:
        body = SsoAuthorizeOut(authorization_url=url, expires_in=settings.sso_login_ttl_seconds)
        return JSONResponse(body.model_dump(), headers=headers)
    response = RedirectResponse(url, status_code=302, headers=headers)
    if binding is not None:
        response.set_cookie(
            BINDING_COOKIE,
            binding,
            max_age=settings.sso_login_ttl_seconds,
            path="/auth/sso",
            httponly=True,
            samesite="lax",
            secure=redirect_to.startswith("https://"),
        )
    return response


@router.get(
    "/auth/sso/{provider}/callback",
    response_model=TokenOut,
    responses={302: {"description": "Redirect to the client's `redirect_uri` with the token."}},
    dependencies=[Depends(login_rate_limit)],
)
def callback(
    provider: ProviderSlug,
    request: Request,
    code: str | None = Query(None, max_length=2048),
    state: str | None = Query(None, max_length=512),
    error: str | None = Query(None, max_length=128),
    error_description: str | None = Query(None, max_length=1000),
    iss: str | None = Query(None, max_length=500, description="RFC 9207 issuer identifier."),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Any:
    """Where the provider sends the person back. Exchanges the code (with the PKCE
    verifier), validates the ID token, then signs in the linked account, links an account
    with the same verified email, or creates one. Answers the token as JSON (`TokenOut`)
    when the sign-in had no `redirect_uri` or this request sends `Accept:
    application/json`; otherwise 302 to `redirect_uri#access_token=…&token_type=Bearer&
    expires_in=…&state=…`."""
    if not state:
        if error:
            raise _provider_error(error, error_description)
        raise ProblemError(sso.STATE_INVALID, "the callback has no state")
    with db.transaction() as s:  # the state is spent whatever happens next
        row = sso.provider_by_slug(s, provider)
        pending = sso.consume_login(s, row, state, request.cookies.get(BINDING_COOKIE))
        config = sso.client_config(row)
    if error:
        raise _provider_error(error, error_description)
    if not code:
        raise ProblemError(sso.AUTHORIZATION_FAILED, "the provider sent no code", error="no_code")
    client = oidc_client(request)
    metadata = client.discover(config.issuer)
    if iss is not None and iss != metadata["issuer"]:  # RFC 9207: a mix-up attack
        raise ProblemError(
            sso.AUTHORIZATION_FAILED, "the response names another issuer", error="issuer_mismatch"
        )
    tokens = client.exchange_code(
        metadata,
        config,
        code=code,
        redirect_uri=pending.callback_url,
        code_verifier=pending.code_verifier,
    )
    access_token = tokens.get("access_token")
    access_token = access_token if isinstance(access_token, str) else None
    claims = client.validate_id_token(
        metadata, config, tokens["id_token"], nonce=pending.nonce, access_token=access_token
    )
    if access_token and ("email" not in claims or "email_verified" not in claims):
        # OIDC Core §5.4: scope claims may come from the UserInfo endpoint only; its `sub`
        # must be the ID token's, or the answer is not about this person (§5.3.4).
        info = client.userinfo(metadata, access_token)
        if info.get("sub") == claims["sub"]:
            claims = {**info, **claims}
    signed_in = _sign_in(db, pending, claims)
    token, ttl = issue_token(signed_in.user_id)
    out = TokenOut(access_token=token, expires_in=ttl, merged_cart_id=signed_in.merged_cart_id)
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if pending.redirect_uri is None or _wants_json(request):
        response: Response = JSONResponse(out.model_dump(mode="json"), headers=headers)
    else:
        fragment = {"access_token": token, "token_type": "Bearer", "expires_in": str(ttl)}
        if pending.client_state is not None:
            fragment["state"] = pending.client_state
        if signed_in.merged_cart_id is not None:
            fragment["merged_cart_id"] = str(signed_in.merged_cart_id)
        response = RedirectResponse(
            f"{pending.redirect_uri}#{urlencode(fragment)}", status_code=302, headers=headers
        )
    response.delete_cookie(BINDING_COOKIE, path="/auth/sso")
    return response


def _provider_error(error: str, description: str | None) -> ProblemError:
    detail = f"the provider answered `{error}`"
    if description:
        detail += f": {description[:300]}"
    return ProblemError(sso.AUTHORIZATION_FAILED, detail, error=error)


def _sign_in(db: Database, pending: sso.PendingLogin, claims: dict[str, Any]) -> sso.SignedIn:
    # Two first sign-ins of one person racing: the loser hits a unique index (identity or
    # email); a second pass then finds what the winner committed.
    for attempt in range(2):
        try:
            with db.transaction() as s:
                return sso.sign_in_with_claims(s, pending.provider_id, claims, pending.cart_token)
        except (IntegrityError, ProblemError) as exc:
            retriable = isinstance(exc, IntegrityError) or exc.kind is EMAIL_TAKEN
            if attempt or not retriable:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# --- provider configuration (platform admins) ---------------------------------------------
@router.get("/sso/providers", response_model=Page[SsoProviderOut])
def list_providers(
    request: Request,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(platform_admin),
) -> Page[SsoProviderOut]:
    """Every configured provider, enabled or not, oldest first (never the secrets)."""
    after = cursor_id("sso-providers", page)
    with db.reading() as s:
        rows = sso.list_providers(s, limit=page.limit + 1, after=after)
        items = [_out(request, p) for p in rows[: page.limit]]
    nxt = encode_cursor("sso-providers", [str(items[-1].id)]) if len(rows) > page.limit else None
    return Page(items=items, next_cursor=nxt)


@router.post("/sso/providers", status_code=201, response_model=SsoProviderOut)
def create_provider(
    body: SsoProviderIn,
    request: Request,
    db: Database = Depends(get_db),
    _: Principal = Depends(platform_admin),
) -> SsoProviderOut:
    """Register an OpenID Connect provider; then register `callback_url` at the provider."""
    with db.transaction() as s:
        try:
            provider = sso.create_provider(s, **body.model_dump())
        except IntegrityError as exc:  # a concurrent create with the same slug
            raise ProblemError(sso.PROVIDER_EXISTS) from exc
        return _out(request, provider)


@router.get("/sso/providers/{provider_id}", response_model=SsoProviderOut)
def get_provider(
    provider_id: uuid.UUID,
    request: Request,
    db: Database = Depends(get_db),
    _: Principal = Depends(platform_admin),
) -> SsoProviderOut:
    """One provider's configuration (never the secret)."""
    with db.reading() as s:
        return _out(request, sso.get_provider(s, provider_id))


@router.patch("/sso/providers/{provider_id}", response_model=SsoProviderOut)
def patch_provider(
    provider_id: uuid.UUID,
    body: SsoProviderPatch,
    request: Request,
    db: Database = Depends(get_db),
    _: Principal = Depends(platform_admin),
) -> SsoProviderOut:
    """Change a provider (switch it off with `enabled: false`; rotate its secret)."""
    with db.transaction() as s:
        provider = sso.update_provider(s, provider_id, body.model_dump(exclude_unset=True))
        out = _out(request, provider)
    oidc_client(request).forget(out.issuer)  # e.g. re-enabled after fixing the provider
    return out


@router.delete("/sso/providers/{provider_id}", status_code=204)
def delete_provider(
    provider_id: uuid.UUID,
    request: Request,
    db: Database = Depends(get_db),
    _: Principal = Depends(platform_admin),
) -> Response:
    """Remove a provider and its account links (the accounts themselves stay)."""
    with db.transaction() as s:
        issuer = sso.delete_provider(s, provider_id).issuer
    oidc_client(request).forget(issuer)
    return Response(status_code=204)
