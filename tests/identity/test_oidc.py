"""Single sign-on against a real OpenID Connect provider (Authlib's server, started here).

Every flow goes over HTTP end to end: Plaza's authorize endpoint, the provider's
authorize endpoint (a headless sign-in), Plaza's callback, and from there Plaza's own
calls to the provider's discovery, token, JWKS and UserInfo endpoints.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlalchemy import func, select, update

from plaza.db import Database, utcnow
from plaza.identity import oidc_api, oidc_service
from plaza.identity.models import SsoIdentity, SsoLoginAttempt, User
from plaza.identity.oidc import OidcClient
from plaza.identity.tokens import verify_token

from ..core.helpers import problem
from ..factories import PASSWORD, unique
from .oidc_provider import OidcProvider

JSON = {"Accept": "application/json"}
APP_REDIRECT = "https://shop.example.com/signed-in"


@dataclass
class Idp:
    slug: str
    id: uuid.UUID
    client_id: str


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    idp = OidcProvider().start()
    yield idp
    idp.stop()


@pytest.fixture(autouse=True)
def _well_behaved(provider: OidcProvider) -> Iterator[None]:
    provider.behave()
    yield
    provider.behave()


def register(provider: OidcProvider, db: Database, *, public: bool = False, **kw: Any) -> Idp:
    """A provider row in Plaza plus the matching client registration at the provider."""
    slug = unique("idp")
    client = provider.register_client(
        [f"http://testserver/auth/sso/{slug}/callback"], public=public
    )
    with db.transaction() as s:
        row = oidc_service.create_provider(
            s,
            slug=slug,
            display_name="Test IdP",
            issuer=kw.pop("issuer", provider.issuer),
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uris=[APP_REDIRECT, "com.example.shop:/sso"],
            **kw,
        )
    return Idp(slug, row.id, client.client_id)


@pytest.fixture(scope="module")
def idp(provider: OidcProvider, db: Database) -> Idp:
    return register(provider, db)


def email() -> str:
    return f"{unique('sso')}@example.com"


def start(client: TestClient, idp: Idp, **params: str) -> str:
    r = client.get(f"/auth/sso/{idp.slug}/authorize", params=params, headers=JSON)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return str(r.json()["authorization_url"])


def sign_in(
    client: TestClient,
    provider: OidcProvider,
    idp: Idp,
    *,
    sub: str | None = None,
    mail: str | None = None,
    verified: bool = True,
    **params: str,
) -> httpx.Response:
    url = start(client, idp, **params)
    location = provider.login(
        url, sub=sub or unique("sub"), email=mail or email(), email_verified=verified
    )
    return client.get(location, headers=JSON)


def user_id_of(r: httpx.Response) -> uuid.UUID:
    assert r.status_code == 200, r.text
    uid = verify_token(r.json()["access_token"])
    assert uid is not None
    return uid


def users_with(db: Database, address: str) -> int:
    with db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(User).where(User.email == address)))


def identities(db: Database, idp: Idp, sub: str) -> list[SsoIdentity]:
    with db.reading() as s:
        q = select(SsoIdentity).where(SsoIdentity.provider_id == idp.id, SsoIdentity.subject == sub)
        return list(s.scalars(q))


def attempt_for(db: Database, authorization_url: str) -> SsoLoginAttempt:
    state = parse_qs(urlsplit(authorization_url).query)["state"][0]
    with db.reading() as s:
        row = s.scalar(
            select(SsoLoginAttempt).where(
                SsoLoginAttempt.state_hash == hashlib.sha256(state.encode()).hexdigest()
            )
        )
    assert row is not None
    return row


# --- the happy paths ----------------------------------------------------------------------
def test_first_sign_in_creates_an_account_and_the_next_finds_it(client, provider, idp, db):
    sub, address = unique("sub"), email()
    first = sign_in(client, provider, idp, sub=sub, mail=address)
    uid = user_id_of(first)
    assert first.json()["token_type"] == "Bearer" and first.json()["expires_in"] > 0
    assert first.headers["cache-control"] == "no-store"
    me = client.get("/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == address
    assert me.json()["name"] == "Ada Lovelace"  # from the `profile` scope
    with db.reading() as s:
        user = s.get(User, uid)
        assert user is not None and user.password_hash is None  # no password, SSO only

    # The same person again, even if their email at the provider changed meanwhile.
    again = sign_in(client, provider, idp, sub=sub, mail=email())
    assert user_id_of(again) == uid
    assert users_with(db, address) == 1
    (link,) = identities(db, idp, sub)
    assert link.user_id == uid and link.email == address


def test_authorization_request_carries_pkce_nonce_and_state(client, provider, idp, db):
    url = start(client, idp)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{provider.issuer}/authorize"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q["response_type"] == "code" and q["client_id"] == idp.client_id
    assert q["redirect_uri"] == f"http://testserver/auth/sso/{idp.slug}/callback"
    assert q["scope"].split() == ["openid", "email", "profile"]
    assert q["code_challenge_method"] == "S256"
    assert len(q["state"]) >= 40 and len(q["nonce"]) >= 40
    attempt = attempt_for(db, url)
    digest = hashlib.sha256(attempt.code_verifier.encode()).digest()
    assert q["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert attempt.nonce == q["nonce"] and q["state"] not in attempt.state_hash
    # Finishing sends the stored verifier to the token endpoint.
    r = client.get(provider.login(url, sub=unique("sub"), email=email()), headers=JSON)
    assert r.status_code == 200, r.text
    assert provider.token_requests[-1]["code_verifier"] == attempt.code_verifier


def test_web_flow_redirects_with_the_token_in_the_fragment(client, provider, idp):
    r = client.get(
        f"/auth/sso/{idp.slug}/authorize",
        params={"redirect_uri": APP_REDIRECT, "state": "app-state-42"},
        follow_redirects=False,
    )
    assert r.status_code == 302, r.text
    assert r.headers["location"].startswith(f"{provider.issuer}/authorize?")
    cookie = r.headers["set-cookie"].lower()
    assert "plaza_sso=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/auth/sso" in cookie

    back = provider.login(r.headers["location"], sub=unique("sub"), email=email())
    # Another browser (no binding cookie) cannot finish this sign-in: login CSRF.
    stranger = TestClient(client.app, raise_server_exceptions=False)
    problem(stranger.get(back, follow_redirects=False), 400, "sso-state-invalid")

    done = client.get(back, follow_redirects=False)
    assert done.status_code == 302, done.text
    assert done.headers["cache-control"] == "no-store"
    target, _, fragment = done.headers["location"].partition("#")
    assert target == APP_REDIRECT
    params = {k: v[0] for k, v in parse_qs(fragment).items()}
    assert params["token_type"] == "Bearer" and params["state"] == "app-state-42"
    assert int(params["expires_in"]) > 0 and verify_token(params["access_token"]) is not None


def test_redirect_uri_must_be_on_the_allow_list(client, idp):
    for uri in ("https://evil.example/steal", APP_REDIRECT + "/x", "com.example.shop:/other"):
        r = client.get(f"/auth/sso/{idp.slug}/authorize", params={"redirect_uri": uri})
        problem(r, 400, "sso-redirect-uri-not-allowed")
    # The mobile app's registered scheme is allowed.
    r = client.get(
        f"/auth/sso/{idp.slug}/authorize",
        params={"redirect_uri": "com.example.shop:/sso"},
        headers=JSON,
    )
    assert r.status_code == 200, r.text


def test_a_public_client_signs_in_with_pkce_alone(client, provider, db):
    public = register(provider, db, public=True)
    user_id_of(sign_in(client, provider, public))
    sent = provider.token_requests[-1]
    assert sent["client_id"] == public.client_id and "client_secret" not in sent
    assert sent["code_verifier"]


def test_sign_in_merges_an_anonymous_cart(client, provider, idp):
    cart = client.post("/carts", json={"currency": "EUR"})
    assert cart.status_code == 201, cart.text
    r = sign_in(client, provider, idp, cart_token=cart.json()["token"])
    user_id_of(r)
    assert r.json()["merged_cart_id"] == cart.json()["id"]


def test_claims_only_in_userinfo_are_used(client, provider, idp, db):
    provider.bad.email_in_id_token = False  # OIDC Core §5.4 allows email via UserInfo only
    address = email()
    uid = user_id_of(sign_in(client, provider, idp, mail=address))
    with db.reading() as s:
        user = s.get(User, uid)
        assert user is not None and user.email == address


# --- account linking ----------------------------------------------------------------------
def test_verified_email_links_the_existing_account(client, provider, idp, db, factory):
    existing = factory.user()
    sub = unique("sub")
    r = sign_in(client, provider, idp, sub=sub, mail=existing.email.upper())
    assert user_id_of(r) == existing.id
    assert [i.user_id for i in identities(db, idp, sub)] == [existing.id]
    # The password still works; SSO is one more way in, not a replacement.
    token = client.post("/auth/token", json={"email": existing.email, "password": PASSWORD})
    assert token.status_code == 200
    with db.reading() as s:
        exported = oidc_service.identities_for(s, existing.id)
    assert exported == [
        {
            "provider": idp.slug,
            "issuer": provider.issuer,
            "subject": sub,
            "email": existing.email,
            "linked_at": exported[0]["linked_at"],
            "last_login_at": exported[0]["last_login_at"],
        }
    ]


def test_unverified_email_is_neither_linked_nor_used(client, provider, idp, db, factory):
    existing = factory.user()
    sub = unique("sub")
    r = sign_in(client, provider, idp, sub=sub, mail=existing.email, verified=False)
    problem(r, 403, "sso-email-unverified")
    assert identities(db, idp, sub) == []

    address = email()
    r = sign_in(client, provider, idp, mail=address, verified=False)
    problem(r, 403, "sso-email-unverified")
    assert users_with(db, address) == 0


def test_a_trusted_provider_vouches_for_its_emails(client, provider, db, factory):
    enterprise = register(provider, db, trust_email=True)
    existing = factory.user()
    r = sign_in(client, provider, enterprise, mail=existing.email, verified=False)
    assert user_id_of(r) == existing.id


def test_no_email_no_account(client, provider, idp, db):
    provider.bad.email_in_id_token = False
    url = start(client, idp)
    sub = unique("sub")
    r = client.get(provider.login(url, sub=sub, email=None), headers=JSON)
    problem(r, 400, "sso-email-missing")
    assert identities(db, idp, sub) == []


def test_a_disabled_account_cannot_sign_in(client, provider, idp, db):
    sub = unique("sub")
    uid = user_id_of(sign_in(client, provider, idp, sub=sub))
    with db.transaction() as s:
        s.execute(update(User).where(User.id == uid).values(is_active=False))
    problem(sign_in(client, provider, idp, sub=sub), 401, "unauthenticated")


def test_erasing_identities_unlinks_the_account(client, provider, idp, db):
    sub = unique("sub")
    uid = user_id_of(sign_in(client, provider, idp, sub=sub))
    with db.transaction() as s:
        assert oidc_service.delete_identities(s, uid) == 1
    with db.reading() as s:
        assert oidc_service.identities_for(s, uid) == []
    assert identities(db, idp, sub) == []


def test_racing_first_sign_ins_make_one_account(provider, idp, db):
    address, sub = email(), unique("sub")
    claims = {"sub": sub, "email": address, "email_verified": True}
    pending = oidc_service.PendingLogin(idp.id, "n", "v", "cb", None, None, None)
    barrier = threading.Barrier(2)
    results: list[uuid.UUID] = []

    def go() -> None:
        barrier.wait()
        results.append(oidc_api._sign_in(db, pending, claims).user_id)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 2 and results[0] == results[1]
    assert users_with(db, address) == 1 and len(identities(db, idp, sub)) == 1


# --- what must be refused -------------------------------------------------------------------
def test_state_is_single_use(client, provider, idp):
    back = provider.login(start(client, idp), sub=unique("sub"), email=email())
    user_id_of(client.get(back, headers=JSON))
    problem(client.get(back, headers=JSON), 400, "sso-state-invalid")


def test_unknown_missing_and_expired_state(client, provider, idp, db):
    cb = f"/auth/sso/{idp.slug}/callback"
    problem(client.get(cb, params={"code": "x", "state": "forged"}), 400, "sso-state-invalid")
    problem(client.get(cb, params={"code": "x"}), 400, "sso-state-invalid")
    url = start(client, idp)
    attempt_id = attempt_for(db, url).id
    with db.transaction() as s:
        s.execute(
            update(SsoLoginAttempt)
            .where(SsoLoginAttempt.id == attempt_id)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    back = provider.login(url, sub=unique("sub"), email=email())
    problem(client.get(back, headers=JSON), 400, "sso-state-invalid")
    with db.transaction() as s:  # housekeeping removes it
        assert oidc_service.purge_expired(s) >= 1
        assert s.get(SsoLoginAttempt, attempt_id) is None


def test_state_of_another_provider_is_refused(client, provider, idp, db):
    other = register(provider, db)
    back = provider.login(start(client, other), sub=unique("sub"), email=email())
    wrong = back.replace(f"/auth/sso/{other.slug}/", f"/auth/sso/{idp.slug}/")
    problem(client.get(wrong, headers=JSON), 400, "sso-state-invalid")


def test_tampered_pkce_verifier_is_refused_by_the_provider(client, provider, idp, db):
    url = start(client, idp)
    forged = "f" * 64
    with db.transaction() as s:
        s.execute(
            update(SsoLoginAttempt)
            .where(SsoLoginAttempt.id == attempt_for(db, url).id)
            .values(code_verifier=forged)
        )
    address = email()
    r = client.get(provider.login(url, sub=unique("sub"), email=address), headers=JSON)
    body = problem(r, 400, "sso-code-rejected")
    assert body["error"] == "invalid_grant"
    assert provider.token_requests[-1]["code_verifier"] == forged  # the provider checked it
    assert users_with(db, address) == 0


def test_provider_error_is_a_problem_and_spends_the_state(client, provider, idp):
    back = provider.login(start(client, idp), deny=True)
    assert "error=access_denied" in back
    body = problem(client.get(back, headers=JSON), 400, "sso-authorization-failed")
    assert body["error"] == "access_denied"
    problem(client.get(back, headers=JSON), 400, "sso-state-invalid")


def _same_kid_other_key(provider: OidcProvider, idp: Idp) -> None:
    provider.bad.sign_with = RSAKey.generate_key(
        2048, parameters={"kid": str(provider.signing_key.kid)}, private=True
    )


BAD_TOKENS = {
    "nonce": lambda p, i: setattr(p.bad, "nonce", "not-the-nonce-plaza-sent"),
    "audience": lambda p, i: setattr(p.bad, "aud", ["someone-else"]),
    "azp": lambda p, i: setattr(p.bad, "aud", [i.client_id, "someone-else"]),
    "issuer": lambda p, i: setattr(p.bad, "iss", "http://127.0.0.1:9/impostor"),
    "expired": lambda p, i: setattr(p.bad, "expired", True),
    "signature": _same_kid_other_key,
    "unknown-key": lambda p, i: setattr(
        p.bad, "sign_with", RSAKey.generate_key(2048, private=True)
    ),
}


@pytest.mark.parametrize("reason", sorted(BAD_TOKENS))
def test_invalid_id_tokens_are_refused(client, provider, idp, db, reason):
    BAD_TOKENS[reason](provider, idp)
    address, sub = email(), unique("sub")
    r = sign_in(client, provider, idp, sub=sub, mail=address)
    body = problem(r, 401, "sso-id-token-invalid")
    assert body["reason"] == reason
    assert users_with(db, address) == 0 and identities(db, idp, sub) == []


def test_key_rotation_refetches_the_jwks_once(client, provider, idp, app):
    user_id_of(sign_in(client, provider, idp))  # the current keys are cached now
    oidc: OidcClient = app.state.oidc_client
    jwks_uri = f"{provider.issuer}/jwks"
    before = oidc.fetches[jwks_uri]
    provider.rotate_keys()
    user_id_of(sign_in(client, provider, idp))
    user_id_of(sign_in(client, provider, idp))
    assert oidc.fetches[jwks_uri] == before + 1


def test_token_endpoint_failure_is_a_problem(client, provider, idp, db):
    provider.bad.token_endpoint_status = 500
    address = email()
    problem(sign_in(client, provider, idp, mail=address), 502, "sso-provider-unavailable")
    assert users_with(db, address) == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_or_inconsistent_provider(client, provider, db, app, platform_admin_headers):
    issuer = f"http://127.0.0.1:{_closed_port()}"
    dead = register(provider, db, issuer=issuer)
    r = client.get(f"/auth/sso/{dead.slug}/authorize", headers=JSON)
    problem(r, 502, "sso-provider-unavailable")
    # Within the back-off the next sign-in fails at once, without dialling again.
    oidc: OidcClient = app.state.oidc_client
    url = f"{issuer}/.well-known/openid-configuration"
    tries = oidc.fetches[url]
    r = client.get(f"/auth/sso/{dead.slug}/authorize", headers=JSON)
    problem(r, 502, "sso-provider-unavailable")
    assert oidc.fetches[url] == tries and int(r.headers["retry-after"]) > 0
    # An admin's change to the provider lifts the back-off: the next sign-in dials again.
    r = client.patch(
        f"/sso/providers/{dead.id}", json={"display_name": "Fixed"}, headers=platform_admin_headers
    )
    assert r.status_code == 200, r.text
    problem(
        client.get(f"/auth/sso/{dead.slug}/authorize", headers=JSON),
        502,
        "sso-provider-unavailable",
    )
    assert oidc.fetches[url] == tries + 1
    # A discovery document that names another issuer (OIDC Discovery §4.3).
    liar = register(provider, db, issuer=f"{provider.issuer}/tenant")
    r = client.get(f"/auth/sso/{liar.slug}/authorize", headers=JSON)
    problem(r, 502, "sso-provider-misconfigured")


def test_unknown_and_disabled_providers(client, provider, db, platform_admin_headers):
    problem(client.get("/auth/sso/nobody/authorize"), 404, "sso-provider-unknown")
    problem(client.get("/auth/sso/nobody/callback?state=x"), 404, "sso-provider-unknown")
    off = register(provider, db)
    url = start(client, off)  # a sign-in in flight when the admin switches it off
    r = client.patch(
        f"/sso/providers/{off.id}", json={"enabled": False}, headers=platform_admin_headers
    )
    assert r.status_code == 200, r.text
    problem(client.get(f"/auth/sso/{off.slug}/authorize"), 403, "sso-provider-disabled")
    back = provider.login(url, sub=unique("sub"), email=email())
    problem(client.get(back, headers=JSON), 403, "sso-provider-disabled")
    listed = client.get("/auth/sso/providers", params={"limit": 100}).json()["items"]
    assert off.slug not in {p["slug"] for p in listed}


@pytest.fixture
def platform_admin_headers(factory) -> dict[str, str]:
    return factory.platform_admin().headers
