"""Accounts: registration, sign-in, bearer tokens and /me."""

from __future__ import annotations

import base64
import json
import uuid

from plaza.identity.models import MerchantRole, User
from plaza.identity.tokens import issue_token

from ..core.helpers import problem as _problem
from ..factories import PASSWORD, unique


def _email() -> str:
    return f"{unique('acct')}@example.com"


def test_register_then_sign_in_and_read_me(client):
    email = _email()
    r = client.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "name": "Ada Shopper"}
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == email and user["name"] == "Ada Shopper"
    assert user["is_platform_admin"] is False
    assert "password" not in r.text and "password_hash" not in user

    r = client.post("/auth/token", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    tok = r.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] > 0
    assert tok["merged_cart_id"] is None

    r = client.get("/me", headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["id"] == user["id"] and me["email"] == email and me["memberships"] == []


def test_register_normalises_email_and_refuses_duplicates_case_insensitively(client):
    local = unique("Mixed")
    r = client.post("/auth/register", json={"email": f"{local}@Example.COM", "password": PASSWORD})
    assert r.status_code == 201, r.text
    assert r.json()["email"] == f"{local}@example.com".lower()

    r = client.post(
        "/auth/register", json={"email": f"{local.upper()}@example.com", "password": PASSWORD}
    )
    _problem(r, 409, "email-taken")

    # Sign-in is case-insensitive too.
    r = client.post(
        "/auth/token", json={"email": f"{local.upper()}@EXAMPLE.com", "password": PASSWORD}
    )
    assert r.status_code == 200, r.text


def test_register_rejects_weak_password_bad_email_and_unknown_fields(client):
    cases = [
        {"email": _email(), "password": "short"},
        {"email": "not-an-email", "password": PASSWORD},
        {"email": _email(), "password": "x" * 257},
        {"email": _email(), "password": PASSWORD, "name": "n" * 201},
        {"email": _email(), "password": PASSWORD, "is_platform_admin": True},
        {"password": PASSWORD},
    ]
    for body in cases:
        problem = _problem(client.post("/auth/register", json=body), 422, "validation-error")
        assert problem["errors"], body
    # Nothing about a rejected password is echoed back.
    r = client.post("/auth/register", json={"email": _email(), "password": "hunter2"})
    assert "hunter2" not in r.text


def test_wrong_password_and_unknown_email_get_the_same_answer(client, factory):
    user = factory.user()
    wrong = client.post("/auth/token", json={"email": user.email, "password": "wrong password!"})
    unknown = client.post("/auth/token", json={"email": _email(), "password": PASSWORD})
    a = _problem(wrong, 401, "invalid-credentials")
    b = _problem(unknown, 401, "invalid-credentials")
    assert a == b


def test_disabled_account_cannot_sign_in_or_use_its_token(client, factory, db):
    user = factory.user()
    with db.transaction() as s:
        row = s.get(User, user.id)
        assert row is not None
        row.is_active = False
    r = client.post("/auth/token", json={"email": user.email, "password": PASSWORD})
    _problem(r, 401, "invalid-credentials")
    _problem(client.get("/me", headers=user.headers), 401, "unauthenticated")


def test_me_requires_a_valid_bearer_token(client, factory):
    _problem(client.get("/me"), 401, "unauthenticated")
    _problem(
        client.get("/me", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401, "unauthenticated"
    )
    _problem(client.get("/me", headers={"Authorization": "Bearer"}), 401, "unauthenticated")
    _problem(
        client.get("/me", headers={"Authorization": "Bearer not.a.jwt"}), 401, "unauthenticated"
    )

    user = factory.user()
    expired, _ = issue_token(user.id, ttl=-60)
    r = client.get("/me", headers={"Authorization": f"Bearer {expired}"})
    _problem(r, 401, "unauthenticated")
    assert "invalid_token" in r.headers["www-authenticate"]


def _b64(data: dict) -> str:  # type: ignore[type-arg]
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_tampered_tokens_are_refused(client, factory):
    victim = factory.user()
    attacker = factory.user()
    header, payload, signature = attacker.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    # Swap the subject but keep the attacker's signature.
    forged = ".".join([header, _b64({**claims, "sub": str(victim.id)}), signature])
    # Flip the signature.
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    bad_sig = ".".join([header, payload, flipped])
    # alg=none with no signature.
    unsigned = ".".join([_b64({"alg": "none", "typ": "JWT"}), payload, ""])
    # A well-formed token signed with another key.
    from joserfc import jwt
    from joserfc.jwk import OctKey

    other_key = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key("k" * 48))

    for token in (forged, bad_sig, unsigned, other_key):
        r = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        _problem(r, 401, "unauthenticated")
    # The untouched token still works.
    assert client.get("/me", headers=attacker.headers).status_code == 200


def test_token_for_a_removed_account_is_refused(client):
    token, _ = issue_token(uuid.uuid4())
    _problem(
        client.get("/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated"
    )


def test_me_lists_memberships(client, factory):
    merchant = factory.merchant()
    staff = factory.staff(merchant)
    me = client.get("/me", headers=merchant.admin.headers).json()
    assert me["memberships"] == [
        {"merchant_id": str(merchant.id), "role": MerchantRole.ADMIN.value}
    ]
    me = client.get("/me", headers=staff.headers).json()
    assert me["memberships"] == [
        {"merchant_id": str(merchant.id), "role": MerchantRole.STAFF.value}
    ]
