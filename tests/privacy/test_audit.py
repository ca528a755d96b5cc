"""The audit log: every staff and partner write is recorded (generated from the app's
routes, so a new endpoint is covered without touching this file), append-only in the
database itself, and queryable by merchant admins and platform admins."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid

import httpx
import pytest
import uvicorn
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from plaza.app import create_app
from plaza.config import Settings
from plaza.identity.auth import api_routes, route_access
from plaza.identity.models import MerchantRole
from plaza.privacy.audit import CUSTOMER_RULES, resource_of
from plaza.privacy.models import AuditEvent
from tests.core.helpers import problem
from tests.core.test_tenancy_matrix import fill

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def staff_write_routes(app) -> list[tuple[str, str]]:
    found = []
    for ctx in api_routes(app.routes):
        labels = {rule.label for rule in route_access(ctx)}
        if labels - CUSTOMER_RULES:
            for method in sorted(set(ctx.methods or ()) & WRITES):
                found.append((method, ctx.path_format))
    return found


def events(db, **where) -> list[AuditEvent]:
    with db.reading() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        for column, value in where.items():
            q = q.where(getattr(AuditEvent, column) == value)
        return list(s.scalars(q))


def test_every_staff_write_route_is_audited(app, client, db, factory):
    """A platform admin calls every staff/admin write route (with made-up ids and an empty
    body, so most answer 404 or 422): each call leaves exactly one row naming its route."""
    routes = staff_write_routes(app)
    assert len(routes) >= 15
    admin = factory.platform_admin()
    merchant = factory.merchant()
    missing = []
    for method, path in routes:
        r = client.request(method, fill(path, merchant.id), headers=admin.headers, json={})
        rows = events(db, actor=f"user:{admin.id}", action=f"{method} {path}")
        if len(rows) != 1 or rows[0].status_code != r.status_code:
            missing.append(f"{method} {path} -> {r.status_code}, {len(rows)} rows")
    assert missing == []
    assert {e.actor_role for e in events(db, actor=f"user:{admin.id}")} == {"platform_admin"}


def test_a_staff_write_is_recorded_with_who_what_and_which(client, db, factory):
    merchant = factory.merchant()
    h = {**merchant.admin.headers, "X-Request-ID": "req-42"}
    r = client.post(
        f"/merchants/{merchant.id}/api-keys",
        json={"name": "ERP", "scopes": ["orders:read"]},
        headers=h,
    )
    assert r.status_code == 201
    key_id = r.json()["id"]
    client.delete(f"/merchants/{merchant.id}/api-keys/{key_id}", headers=merchant.admin.headers)
    created, revoked = events(db, merchant_id=merchant.id)
    assert created.actor == f"user:{merchant.admin.id}" and created.actor_kind == "user"
    assert created.actor_role == "merchant_admin"
    assert created.action == "POST /merchants/{merchant_id}/api-keys"
    assert (created.resource_type, created.resource_id) == ("api_key", key_id)
    assert (created.status_code, created.outcome, created.problem) == (201, "success", None)
    assert created.request_id == "req-42"
    assert created.route == "/merchants/{merchant_id}/api-keys"
    assert revoked.action == "DELETE /merchants/{merchant_id}/api-keys/{key_id}"
    assert (revoked.resource_type, revoked.resource_id) == ("api_key", key_id)
    assert revoked.path_params == {"merchant_id": str(merchant.id), "key_id": key_id}
    assert len(revoked.request_id) == 32  # none given: one is made up


def test_refused_and_failed_attempts_are_recorded(client, db, factory):
    merchant = factory.merchant()
    staff = factory.staff(merchant, MerchantRole.STAFF)
    outsider = factory.user()
    body = {"name": "x", "scopes": ["orders:read"]}
    url = f"/merchants/{merchant.id}/api-keys"
    problem(client.post(url, json=body, headers=staff.headers), 403, "forbidden")
    problem(client.post(url, json=body, headers=outsider.headers), 403, "forbidden")
    problem(
        client.put(
            f"/merchants/{merchant.id}/members",
            json={"email": merchant.admin.email, "role": "merchant_staff"},
            headers=merchant.admin.headers,
        ),
        409,
        "last-admin",
    )
    assert client.post(url, json=body).status_code == 401  # anonymous: names nobody
    rows = events(db, merchant_id=merchant.id)
    assert [(e.actor, e.actor_role, e.status_code, e.outcome, e.problem) for e in rows] == [
        (f"user:{staff.id}", "merchant_staff", 403, "refused", "forbidden"),
        (f"user:{outsider.id}", "none", 403, "refused", "forbidden"),
        (f"user:{merchant.admin.id}", "merchant_admin", 409, "failed", "last-admin"),
    ]
    # No request body and no error detail is kept: they may quote personal data.
    assert all(merchant.admin.email not in (e.summary + str(e.path_params)) for e in rows)


def test_partner_keys_are_audited_and_customers_are_not(client, db, factory):
    merchant = factory.merchant()
    key = factory.api_key(merchant, ["catalog:write"])
    r = client.post(
        f"/merchants/{merchant.id}/products", json={"title": "x"}, headers={"X-API-Key": key}
    )
    assert r.status_code == 201, r.text
    product_id = r.json()["id"]
    customer = factory.user()
    assert (
        client.put("/me/consents", json={"marketing": True}, headers=customer.headers).status_code
        == 200
    )
    # A partner key is audited even on a public route.
    client.post("/carts", json={"currency": "EUR"}, headers={"X-API-Key": key})
    rows = events(db, merchant_id=merchant.id)
    assert [(e.actor_kind, e.actor_role, e.action, e.resource_id) for e in rows] == [
        ("api_key", "api_key", "POST /merchants/{merchant_id}/products", product_id),
        ("api_key", "api_key", "POST /carts", rows[1].resource_id),
    ]
    assert rows[0].actor.startswith("api_key:") and rows[0].resource_type == "product"
    assert events(db, actor=f"user:{customer.id}") == []


def test_the_log_is_append_only_in_the_database(db, client, factory):
    merchant = factory.merchant()
    client.patch(
        f"/merchants/{merchant.id}", json={"name": "Renamed"}, headers=merchant.admin.headers
    )
    (row,) = events(db, merchant_id=merchant.id)
    for statement in (
        "UPDATE audit_events SET actor = 'user:someone-else' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.transaction() as s:
            s.execute(text(statement), {"id": row.id.hex if db.is_sqlite else row.id})
    assert events(db, merchant_id=merchant.id)[0].actor == row.actor
    if not db.is_sqlite:
        with pytest.raises(DBAPIError, match="append-only"), db.transaction() as s:
            s.execute(text("TRUNCATE audit_events"))


def test_merchant_admins_query_their_own_log(client, db, factory):
    merchant = factory.merchant()
    other = factory.merchant()
    staff = factory.staff(merchant, MerchantRole.STAFF)
    h = merchant.admin.headers
    for name in ("One", "Two", "Three"):
        client.patch(f"/merchants/{merchant.id}", json={"name": name}, headers=h)
    client.patch(f"/merchants/{other.id}", json={"name": "Elsewhere"}, headers=other.admin.headers)
    url = f"/merchants/{merchant.id}/audit-events"
    page = client.get(url, params={"limit": 2}, headers=h).json()
    assert [e["resource_type"] for e in page["items"]] == ["merchant", "merchant"]
    assert all(e["merchant_id"] == str(merchant.id) for e in page["items"])
    rest = client.get(url, params={"cursor": page["next_cursor"]}, headers=h).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [e["id"] for e in page["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    action = "PATCH /merchants/{merchant_id}"
    by_action = client.get(
        url, params={"action": action, "actor": f"user:{merchant.admin.id}"}, headers=h
    )
    assert len(by_action.json()["items"]) == 3
    by_resource = client.get(
        url, params={"resource_type": "merchant", "resource_id": str(merchant.id)}, headers=h
    ).json()
    assert len(by_resource["items"]) == 3
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert client.get(url, params={"since": future}, headers=h).json()["items"] == []
    assert len(client.get(url, params={"until": future}, headers=h).json()["items"]) == 3
    problem(
        client.get(url, params={"since": "2026-01-01T00:00:00"}, headers=h), 422, "validation-error"
    )
    # A cursor only pages the listing it came from.
    problem(
        client.get(url, params={"cursor": page["next_cursor"], "actor": "x"}, headers=h),
        400,
        "invalid-cursor",
    )
    # Staff may not read it; another merchant's admin is refused; API keys never.
    problem(client.get(url, headers=staff.headers), 403, "forbidden")
    problem(client.get(url, headers=other.admin.headers), 403, "forbidden")
    key = factory.api_key(merchant, ["orders:read"])
    problem(client.get(url, headers={"X-API-Key": key}), 403, "forbidden")
    # There is no way to change the log through the API.
    assert client.delete(url, headers=h).status_code == 405


def test_platform_admins_query_everything(client, db, factory):
    merchant = factory.merchant()
    client.patch(f"/merchants/{merchant.id}", json={"name": "Seen"}, headers=merchant.admin.headers)
    admin = factory.platform_admin()
    r = client.get("/audit-events", params={"merchant_id": str(merchant.id)}, headers=admin.headers)
    assert r.status_code == 200
    assert [e["action"] for e in r.json()["items"]] == ["PATCH /merchants/{merchant_id}"]
    problem(client.get("/audit-events", headers=merchant.admin.headers), 403, "forbidden")
    assert client.get("/audit-events").status_code == 401


@pytest.mark.parametrize(
    ("template", "params", "created", "expected"),
    [
        ("/merchants/{merchant_id}", {"merchant_id": "m"}, None, ("merchant", "m")),
        ("/merchants/{merchant_id}/products", {"merchant_id": "m"}, "p", ("product", "p")),
        ("/merchants/{merchant_id}/categories", {"merchant_id": "m"}, "c", ("category", "c")),
        (
            "/merchants/{merchant_id}/orders/{order_id}/fulfil",
            {"merchant_id": "m", "order_id": "o"},
            "o",
            ("order", "o"),
        ),
        (
            "/merchants/{merchant_id}/members/{user_id}",
            {"merchant_id": "m", "user_id": "u"},
            None,
            ("member", "u"),
        ),
        ("/merchants/{merchant_id}/members", {"merchant_id": "m"}, None, ("merchant", "m")),
        ("/merchants", {}, "n", ("merchant", "n")),
        (
            "/stock/{variant_id}/{location_id}",
            {"variant_id": "v", "location_id": "l"},
            None,
            ("location", "l"),
        ),
    ],
)
def test_resource_naming(template, params, created, expected):
    assert resource_of(template, params, created) == expected


def test_unknown_ids_never_leak_into_other_merchants(client, db, factory):
    """Rows carry the merchant of the path: an intruder's refused attempt on merchant A is
    in A's log (A's admins should know), never in the intruder's own merchant's."""
    victim = factory.merchant()
    intruder = factory.merchant()
    client.patch(f"/merchants/{victim.id}", json={"name": "Hijack"}, headers=intruder.admin.headers)
    mine = client.get(f"/merchants/{intruder.id}/audit-events", headers=intruder.admin.headers)
    assert mine.json()["items"] == []
    theirs = client.get(f"/merchants/{victim.id}/audit-events", headers=victim.admin.headers)
    assert [(e["actor"], e["outcome"]) for e in theirs.json()["items"]] == [
        (f"user:{intruder.admin.id}", "refused")
    ]
    assert uuid.UUID(theirs.json()["items"][0]["id"])


def test_time_filters_out_of_the_calendar_are_refused(client, factory):
    merchant = factory.merchant()
    url = f"/merchants/{merchant.id}/audit-events"
    r = client.get(
        url, params={"since": "0001-01-01T00:00:00+14:00"}, headers=merchant.admin.headers
    )
    problem(r, 422, "validation-error")


def test_audited_through_a_real_server(database_url, db, factory):
    """Through uvicorn the row is written just after the response is sent: it appears
    within moments, with the principal and route the request resolved."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    app = create_app(Settings(database_url=database_url, dispatcher="off"), db)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        merchant = factory.merchant()
        r = httpx.patch(
            f"http://127.0.0.1:{port}/merchants/{merchant.id}",
            json={"name": "Live"},
            headers=merchant.admin.headers,
        )
        assert r.status_code == 200
        deadline = time.monotonic() + 5
        while not (rows := events(db, merchant_id=merchant.id)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [(e.actor, e.action, e.status_code) for e in rows] == [
            (f"user:{merchant.admin.id}", "PATCH /merchants/{merchant_id}", 200)
        ]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
