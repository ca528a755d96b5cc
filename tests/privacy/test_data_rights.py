"""Data rights across every context: plant one person's data everywhere Plaza keeps any,
export it, erase it, then scan every table of the database for what is left.

The scan is generic (``Base.metadata``), so a context added later that keeps a copy of
the planted email, name, address or account id without erasing it fails here.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import Text, cast, or_, select

import plaza.models  # noqa: F401 - every table in Base.metadata
from plaza.config import get_settings
from plaza.db import Base, Database
from plaza.events import OutboxEvent
from plaza.idempotency import IdempotencyRecord
from plaza.identity.models import (
    Membership,
    MerchantRole,
    SsoIdentity,
    SsoProvider,
    SsoTokenAuthMethod,
    User,
)
from plaza.ordering.models import Order
from plaza.privacy import registry
from plaza.privacy.models import ConsentRecord
from tests.core.helpers import problem
from tests.factories import PASSWORD, Factory

from .conftest import Person, address, buy, fulfil, person


@dataclass
class Planted:
    who: Person
    tag: str
    addr: dict[str, str]
    return_reason: str
    cancel_reason: str
    sso_subject: str
    kept_order_id: str
    staff_refund_key: str
    api_key_id: str
    strings: list[str] = field(default_factory=list)


def plant_everything(client, db: Database, factory: Factory, shop) -> Planted:
    """One person, present in every context: account, staff roles at two merchants, an API
    key they issued, a stock count they made, consents, an SSO identity, a paid and then
    fulfilled and partly returned order, a cancelled order, an open cart, outbox events,
    idempotency records (theirs, and a merchant's that quotes their order)."""
    tag = uuid.uuid4().hex[:10]
    who = person(db, tag)
    h = who.headers
    other = factory.merchant()
    with db.transaction() as s:
        for merchant_id in (shop.merchant.id, other.id):
            s.add(Membership(user_id=who.id, merchant_id=merchant_id, role=MerchantRole.ADMIN))
        provider = SsoProvider(
            slug=f"idp-{tag}",
            display_name="Test IdP",
            issuer=f"https://idp-{tag}.example",
            client_id="plaza",
            token_auth_method=SsoTokenAuthMethod.NONE,
            scopes=["openid", "email"],
            redirect_uris=[],
        )
        s.add(provider)
        s.flush()
        s.add(
            SsoIdentity(
                user_id=who.id, provider_id=provider.id, subject=f"sub-{tag}", email=who.email
            )
        )
    # Staff actions: an API key, a stock count (both audited, the count also a movement).
    r = client.post(
        f"/merchants/{shop.merchant.id}/api-keys",
        json={"name": "ERP", "scopes": ["orders:read"]},
        headers=h,
    )
    assert r.status_code == 201, r.text
    api_key_id = r.json()["id"]
    r = client.put(
        f"/merchants/{shop.merchant.id}/stock/{shop.variants[0]}/{shop.location_id}",
        json={"on_hand": 60},
        headers=h,
    )
    assert r.status_code == 200, r.text
    r = client.put("/me/consents", json={"marketing": True, "analytics": True}, headers=h)
    assert r.status_code == 200, r.text

    addr = address(tag)
    kept = buy(client, h, shop, addr, qty=2)
    fulfil(client, shop, kept["id"])
    return_reason = f"Sleeves too long for {tag}"
    r = client.post(
        f"/me/orders/{kept['id']}/returns",
        json={
            "lines": [{"order_line_id": kept["lines"][0]["id"], "quantity": 1}],
            "reason": return_reason,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    staff_refund_key = uuid.uuid4().hex
    r = client.post(
        f"/merchants/{shop.merchant.id}/orders/{kept['id']}/refunds",
        json={"amount": 100, "reason": "goodwill"},
        headers={**shop.merchant.admin.headers, "Idempotency-Key": staff_refund_key},
    )
    assert r.status_code == 200, r.text
    assert r.json()["email"] == who.email  # the merchant's stored response quotes them

    cancelled = buy(client, h, shop, addr)
    cancel_reason = f"Found it cheaper {tag}"
    r = client.post(
        f"/me/orders/{cancelled['id']}/cancel", json={"reason": cancel_reason}, headers=h
    )
    assert r.status_code == 200, r.text
    cart = client.post("/carts", json={"currency": "EUR"}, headers=h).json()
    r = client.post(
        f"/carts/{cart['id']}/lines",
        json={"variant_id": str(shop.variants[0]), "quantity": 1},
        headers=h,
    )
    assert r.status_code == 201
    planted = Planted(
        who=who,
        tag=tag,
        addr=addr,
        return_reason=return_reason,
        cancel_reason=cancel_reason,
        sso_subject=f"sub-{tag}",
        kept_order_id=kept["id"],
        staff_refund_key=staff_refund_key,
        api_key_id=api_key_id,
    )
    planted.strings = [
        who.email,
        who.name,
        addr["line1"],
        addr["line2"],
        addr["city"],
        addr["phone"],
        return_reason,
        cancel_reason,
        planted.sso_subject,
    ]
    return planted


def _text(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return f"{value} {value.hex}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def occurrences(db: Database, needles: list[str]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Every (table, column, needle, row) where a needle appears in any column of any table,
    text, JSON and UUID columns alike (one LIKE query per table, then pinpointed here)."""
    found = []
    with db.reading() as s:
        for table in Base.metadata.sorted_tables:
            cols = list(table.columns)
            where = or_(
                *[cast(c, Text).contains(n, autoescape=True) for c in cols for n in needles]
            )
            for row in s.execute(select(table).where(where)).mappings():
                for c in cols:
                    text = _text(row[c.name]).lower()
                    for n in needles:
                        if n.lower() in text:
                            found.append((table.name, c.name, n, dict(row)))
    return found


def test_export_contains_everything_planted(client, db, factory, shop):
    p = plant_everything(client, db, factory, shop)
    r = client.get("/me/data-export", headers=p.who.headers)
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    doc = r.json()
    assert doc["format"] == "plaza-data-export" and doc["format_version"] == 1
    assert doc["subject"]["user_id"] == str(p.who.id)
    assert set(doc["contexts"]) >= {"identity", "ordering", "inventory", "privacy", "audit"}
    ctx = doc["contexts"]
    assert ctx["catalog"] == {}  # registered explicitly: nothing personal
    account = ctx["identity"]["account"]
    assert (account["email"], account["name"]) == (p.who.email, p.who.name)
    assert {m["merchant_id"] for m in ctx["identity"]["memberships"]} >= {str(shop.merchant.id)}
    assert [k["id"] for k in ctx["identity"]["api_keys_issued"]] == [p.api_key_id]
    assert [i["subject"] for i in ctx["identity"]["sso_identities"]] == [p.sso_subject]
    orders = {o["id"]: o for o in ctx["ordering"]["orders"]}
    kept = orders[p.kept_order_id]
    assert kept["shipping_address"]["line1"] == p.addr["line1"]
    assert kept["history"] and kept["payments"]
    assert "method_token" not in json.dumps(ctx["ordering"])
    assert [x["reason"] for x in ctx["ordering"]["returns"]] == [p.return_reason]
    assert any(c["lines"] for c in ctx["ordering"]["carts"])
    assert ctx["privacy"]["current"]["marketing"]["granted"] is True
    assert ctx["privacy"]["current"]["personalisation"]["granted"] is False
    assert {c["purpose"] for c in ctx["privacy"]["history"]} == {"marketing", "analytics"}
    assert [m["delta_on_hand"] for m in ctx["inventory"]["stock_movements_made"]] == [10]
    actions = [a["action"] for a in ctx["audit"]["actions"]]
    assert "POST /merchants/{merchant_id}/api-keys" in actions
    # Everything planted is in the archive; nobody else's data is.
    text = json.dumps(doc)
    for needle in p.strings:
        assert needle in text, needle
    assert shop.merchant.admin.email not in text


def test_erasure_leaves_no_personal_data_anywhere(client, db, factory, shop):
    p = plant_everything(client, db, factory, shop)
    user_ids = [str(p.who.id), p.who.id.hex]
    before = occurrences(db, p.strings + user_ids)
    planted_in = {t for t, *_ in before}
    # The plant really reached every context holding personal data (a guard on the test).
    assert planted_in >= {
        "users",
        "memberships",
        "api_keys",
        "sso_identities",
        "consent_records",
        "carts",
        "checkouts",
        "orders",
        "order_history",
        "returns",
        "refunds",
        "stock_movements",
        "audit_events",
        "outbox_events",
        "idempotency_records",
    }, planted_in

    r = client.post("/me/erase", json={"password": PASSWORD}, headers=p.who.headers)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["user_id"] == str(p.who.id)
    assert receipt["contexts"]["identity"]["memberships_deleted"] == 2
    assert receipt["contexts"]["ordering"]["orders_pseudonymised"] == 2
    assert receipt["contexts"]["privacy"]["consent_records_deleted"] == 2

    # No planted string survives anywhere.
    assert [(t, c, n) for t, c, n, _ in occurrences(db, p.strings)] == []
    # The account id survives only as the pseudonymous reference the registry declares:
    # the emptied account row itself, append-only records, and the erasure notice.
    keeping = {t for h in registry.handlers() for t in h.keeps_reference}
    left = []
    for table, column, _needle, row in occurrences(db, user_ids):
        if table == "users" and column == "id":
            continue
        if table in keeping:
            continue
        if table == "outbox_events" and row["type"] == "user.erased":
            continue
        left.append((table, column, row.get("type")))
    assert left == []

    with db.reading() as s:
        user = s.get(User, p.who.id)
        assert user is not None and not user.is_active and user.name == ""
        assert user.email.startswith("erased-") and user.email.endswith("@invalid")
        assert user.password_hash is None
        order = s.get(Order, uuid.UUID(p.kept_order_id))
        assert order is not None
        # Legal retention: the sale itself stays, tied to the same random pseudonym.
        assert order.email == user.email and order.customer_id is None
        assert order.total_amount == 2 * 1999 and len(order.lines) == 1
        assert order.shipping_address == {
            "country": "NL",
            "region": "Noord-Holland",
            "postal_code": "1011",
        }
        assert s.scalar(select(ConsentRecord).where(ConsentRecord.user_id == p.who.id)) is None
        assert s.scalar(select(SsoIdentity).where(SsoIdentity.user_id == p.who.id)) is None
        # Their own idempotency records are gone; the merchant's is scrubbed, not deleted.
        assert (
            s.scalar(select(IdempotencyRecord).where(IdempotencyRecord.scope == f"user:{p.who.id}"))
            is None
        )
        erased = s.scalar(
            select(OutboxEvent).where(
                OutboxEvent.type == "user.erased", OutboxEvent.aggregate_id == str(p.who.id)
            )
        )
        assert erased is not None

    # Tokens stop working at once; the password no longer signs in.
    assert client.get("/me", headers=p.who.headers).status_code == 401
    r = client.post("/auth/token", json={"email": p.who.email, "password": PASSWORD})
    assert r.status_code == 401
    # The merchant's retried refund still replays rather than refunding twice.
    r = client.post(
        f"/merchants/{shop.merchant.id}/orders/{p.kept_order_id}/refunds",
        json={"amount": 100, "reason": "goodwill"},
        headers={**shop.merchant.admin.headers, "Idempotency-Key": p.staff_refund_key},
    )
    assert r.status_code == 200 and r.headers.get("Idempotent-Replayed") == "true"
    assert r.json()["email"].startswith("erased-") and r.json()["customer_id"] is None
    # The merchant's API key outlives the person who issued it.
    keys = client.get(
        f"/merchants/{shop.merchant.id}/api-keys", headers=shop.merchant.admin.headers
    ).json()
    assert p.api_key_id in [k["id"] for k in keys]
    # The email is free again: the person may come back as a new account.
    r = client.post(
        "/auth/register", json={"email": p.who.email, "password": PASSWORD, "name": "Back"}
    )
    assert r.status_code == 201 and r.json()["id"] != str(p.who.id)


def test_the_last_admin_must_hand_over_first(client, db, factory):
    merchant = factory.merchant()
    h = merchant.admin.headers
    r = client.post("/me/erase", json={"password": PASSWORD}, headers=h)
    body = problem(r, 409, "last-admin")
    assert body["merchant_ids"] == [str(merchant.id)]
    assert client.get("/me", headers=h).status_code == 200  # nothing happened
    # Once someone else is admin, the former admin can go.
    successor = factory.staff(merchant, MerchantRole.ADMIN)
    assert client.post("/me/erase", json={"password": PASSWORD}, headers=h).status_code == 200
    members = client.get(f"/merchants/{merchant.id}/members", headers=successor.headers).json()
    assert [m["user_id"] for m in members] == [str(successor.id)]


def test_orders_in_progress_block_erasure(client, db, someone, shop):
    order = buy(client, someone.headers, shop, address(uuid.uuid4().hex[:8]))
    r = client.post("/me/erase", json={"password": PASSWORD}, headers=someone.headers)
    assert problem(r, 409, "erasure-orders-in-progress")["order_ids"] == [order["id"]]
    fulfil(client, shop, order["id"])
    r = client.post("/me/erase", json={"password": PASSWORD}, headers=someone.headers)
    assert r.status_code == 200, r.text


def _token(user_id: uuid.UUID, issued_ago: int) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "iss": "plaza",
        "aud": "plaza-api",
        "iat": now - issued_ago,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    key = OctKey.import_key(get_settings().resolved_secret_key())
    return jwt.encode({"alg": "HS256"}, claims, key)


def test_erasure_needs_reauthentication(client, db, someone):
    h = someone.headers
    problem(client.post("/me/erase", json={}, headers=h), 403, "reauthentication-required")
    r = client.post("/me/erase", json={"password": "not the password"}, headers=h)
    problem(r, 403, "reauthentication-required")
    assert client.get("/me", headers=h).status_code == 200
    # An account without a password (single sign-on) confirms with a fresh sign-in.
    with db.transaction() as s:
        user = s.get(User, someone.id)
        assert user is not None
        user.password_hash = None
    stale = {"Authorization": f"Bearer {_token(someone.id, issued_ago=600)}"}
    problem(client.post("/me/erase", json={}, headers=stale), 403, "reauthentication-required")
    fresh = {"Authorization": f"Bearer {_token(someone.id, issued_ago=5)}"}
    assert client.post("/me/erase", json={}, headers=fresh).status_code == 200
    assert client.get("/me", headers=fresh).status_code == 401


def test_erasure_is_all_or_nothing(client, db, factory, someone, monkeypatch):
    """A handler failing half-way leaves every context as it was (one transaction)."""
    merchant = factory.merchant()
    with db.transaction() as s:
        s.add(Membership(user_id=someone.id, merchant_id=merchant.id, role=MerchantRole.STAFF))
    client.put("/me/consents", json={"marketing": True}, headers=someone.headers)

    def boom(s, subject):
        raise RuntimeError("disk on fire")

    handler = next(h for h in registry.handlers() if h.context == "platform")
    monkeypatch.setitem(
        registry._handlers, "platform", registry.Handler(**{**handler.__dict__, "erase": boom})
    )
    r = client.post("/me/erase", json={"password": PASSWORD}, headers=someone.headers)
    assert r.status_code == 500
    with db.reading() as s:
        user = s.get(User, someone.id)
        assert user is not None and user.is_active and user.email == someone.email
        assert s.get(Membership, (someone.id, merchant.id)) is not None
        assert s.scalar(select(ConsentRecord).where(ConsentRecord.user_id == someone.id))
    assert client.get("/me", headers=someone.headers).status_code == 200


def test_export_and_erase_need_a_signed_in_person(client, factory):
    merchant = factory.merchant()
    key = factory.api_key(merchant, ["orders:read"])
    for method, path in (("GET", "/me/data-export"), ("POST", "/me/erase")):
        assert client.request(method, path, json={}).status_code == 401
        assert client.request(method, path, json={}, headers={"X-API-Key": key}).status_code == 401


def test_receipt_time_is_now(client, someone):
    r = client.post("/me/erase", json={"password": PASSWORD}, headers=someone.headers)
    erased_at = dt.datetime.fromisoformat(r.json()["erased_at"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - erased_at).total_seconds()) < 60
