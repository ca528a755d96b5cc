"""Strategic personas over HTTP: define, read, change, archive, preview, members, rebuild;
who may do what; tenancy; idempotency; bad input as problem+json."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from plaza.db import Database, utcnow
from plaza.events import OutboxEvent
from plaza.identity.models import MerchantRole
from plaza.personas import activity
from plaza.personas.customer import service as customers
from plaza.personas.customer.schemas import PersonaIn as CustomerPersonaIn
from plaza.personas.customer.schemas import ProfileIn
from plaza.personas.models import ActivityKind
from plaza.privacy import service as privacy
from tests.core.helpers import problem
from tests.factories import Actor, Factory, MerchantCtx, unique

# ------------------------------------------------------------------------- helpers


def years_ago(years: int) -> dt.date:
    today = utcnow().date()
    return today.replace(year=today.year - years, day=min(today.day, 28))


def act(
    merchant_id: uuid.UUID,
    kind: str = "purchase",
    *,
    days_ago: float = 1,
    category: str | None = None,
    tags: tuple[str, ...] = (),
    amount: int = 1000,
    product_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """One activity row (the user is filled in by ``shopper``)."""
    return {
        "kind": ActivityKind(kind),
        "merchant_id": merchant_id,
        "product_id": product_id or uuid.uuid4(),
        "category": category,
        "tags": list(tags),
        "quantity": 1,
        "amount": amount,
        "currency": "EUR",
        "source_ref": f"test:{uuid.uuid4()}",
        "occurred_at": utcnow() - dt.timedelta(days=days_ago),
    }


def shopper(
    db: Database,
    factory: Factory,
    *,
    consent: bool = True,
    profile: dict[str, Any] | None = None,
    personas: list[dict[str, Any]] | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> Actor:
    """A customer made through the services: consent, profile, personas, activity."""
    who = factory.user()
    with db.transaction() as s:
        if consent:
            privacy.grant(s, who.id, "personalisation")
        if profile is not None:
            customers.put_profile(s, who.id, ProfileIn(**profile))
        for i, p in enumerate(personas or []):
            customers.create_persona(s, who.id, CustomerPersonaIn(**{"name": f"p{i}", **p}))
        if rows:
            activity.record(s, [{**r, "user_id": who.id} for r in rows])
    return who


def city_rule(city: str) -> dict[str, Any]:
    return {"type": "property", "property": "profile.city", "operator": "equals", "value": city}


def outdoor_rule() -> dict[str, Any]:
    """The brief's example: young, bought outdoor lately, prefers recycled."""
    return {
        "type": "all",
        "conditions": [
            {
                "type": "property",
                "property": "profile.age",
                "operator": "between",
                "value": [18, 30],
            },
            {
                "type": "past_event",
                "event": "purchase",
                "within_days": 90,
                "filter": {"category": ["hiking", "camping"]},
            },
            {
                "type": "property",
                "property": "persona.materials_prefer",
                "operator": "contains",
                "value": "recycled",
            },
        ],
    }


def new_persona(
    client: TestClient, shop: MerchantCtx, rule: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {"name": unique("persona"), "rule": rule, **fields}
    r = client.post(f"/merchants/{shop.id}/personas", json=body, headers=shop.admin.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def member_ids(client: TestClient, shop: MerchantCtx, persona_id: str) -> set[str]:
    out: set[str] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = client.get(
            f"/merchants/{shop.id}/personas/{persona_id}/members",
            params=params,
            headers=shop.admin.headers,
        )
        assert r.status_code == 200, r.text
        page = r.json()
        out.update(m["user_id"] for m in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return out


# ------------------------------------------------------------------------- tests


def test_create_evaluates_the_rule_at_once(client: TestClient, db: Database, factory: Factory):
    shop = factory.merchant()
    other = factory.merchant()
    young = {"birth_date": str(years_ago(25)), "city": "Amsterdam"}
    recycled = [{"materials_prefer": ["recycled"]}]
    fits = shopper(
        db, factory, profile=young, personas=recycled, rows=[act(shop.id, category="hiking")]
    )
    # Each misses one condition, or bought outdoor from another merchant only.
    old = shopper(
        db,
        factory,
        profile={"birth_date": str(years_ago(45))},
        personas=recycled,
        rows=[act(shop.id, category="camping")],
    )
    stale = shopper(
        db,
        factory,
        profile=young,
        personas=recycled,
        rows=[act(shop.id, category="hiking", days_ago=120)],
    )
    elsewhere = shopper(
        db, factory, profile=young, personas=recycled, rows=[act(other.id, category="hiking")]
    )
    no_consent = shopper(
        db,
        factory,
        consent=False,
        profile=young,
        personas=recycled,
        rows=[act(shop.id, category="hiking")],
    )
    persona = new_persona(
        client,
        shop,
        outdoor_rule(),
        description="Students and young professionals who hike at weekends.",
        ideal_customer={
            "summary": "Cycles to work, hikes in the Ardennes.",
            "goals": ["stay dry", "buy less, buy better"],
            "pains": ["gear that falls apart"],
            "channels": ["instagram", "store"],
            "age_range": {"min": 18, "max": 30},
            "quote": "If it cannot be repaired, I do not want it.",
        },
    )
    assert persona["status"] == "active" and persona["version"] == 1
    assert persona["member_count"] == 1
    assert persona["evaluated_at"] is not None
    assert persona["ideal_customer"]["age_range"] == {"min": 18, "max": 30}
    assert member_ids(client, shop, persona["id"]) == {str(fits.id)}
    for outsider in (old, stale, elsewhere, no_consent):
        assert str(outsider.id) not in member_ids(client, shop, persona["id"])
    with db.reading() as s:
        joined = list(
            s.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.type == "persona.member_joined",
                    OutboxEvent.aggregate_id == persona["id"],
                )
            )
        )
    assert [e.payload for e in joined] == [
        {"persona_id": persona["id"], "merchant_id": str(shop.id), "user_id": str(fits.id)}
    ]
    assert joined[0].merchant_id == shop.id


def test_preview_counts_without_saving(client: TestClient, db: Database, factory: Factory):
    shop = factory.merchant()
    city = unique("Stad")
    for _ in range(3):
        shopper(db, factory, profile={"city": city})
    shopper(db, factory, consent=False, profile={"city": city})
    staff = factory.staff(shop)
    url = f"/merchants/{shop.id}/personas/preview"
    r = client.post(url, json={"rule": city_rule(city)}, headers=staff.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["audience_size"] == 3
    assert body["evaluated_customers"] >= 3
    assert body["sample_size"] is None
    assert set(body) == {"audience_size", "evaluated_customers", "sample_size"}
    listed = client.get(f"/merchants/{shop.id}/personas", headers=staff.headers).json()
    assert listed["items"] == []
    bad = client.post(
        url, json={"rule": {"type": "property", "property": "age"}}, headers=staff.headers
    )
    assert problem(bad, 422, "persona-rule-invalid")["path"] == "/property"


def test_preview_estimates_from_a_sample(db: Database, factory: Factory):
    from plaza.personas.segments import service

    shop = factory.merchant()
    city = unique("Dorp")
    for _ in range(4):
        shopper(db, factory, profile={"city": city})
    with db.reading() as s:
        everyone = service.preview(s, shop.id, city_rule(city))
        sampled = service.preview(s, shop.id, city_rule(city), sample=2)
    assert everyone.audience_size == 4 and everyone.sample_size is None
    assert sampled.sample_size == 2
    assert sampled.evaluated_customers == everyone.evaluated_customers
    assert 0 <= sampled.audience_size <= sampled.evaluated_customers


def test_read_patch_archive_restore(client: TestClient, db: Database, factory: Factory):
    shop = factory.merchant()
    city, town = unique("Stad"), unique("Dorp")
    a = shopper(db, factory, profile={"city": city})
    b = shopper(db, factory, profile={"city": town})
    persona = new_persona(client, shop, city_rule(city))
    url = f"/merchants/{shop.id}/personas/{persona['id']}"
    h = shop.admin.headers

    r = client.get(url, headers=factory.staff(shop).headers)
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    assert r.json()["rule"] == city_rule(city)

    # A rule change re-evaluates at once: a leaves, b joins.
    r = client.patch(url, json={"rule": city_rule(town)}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["member_count"] == 1
    assert r.headers["ETag"] == '"2"'
    assert member_ids(client, shop, persona["id"]) == {str(b.id)}
    # A stale version is refused, either way of saying it.
    problem(
        client.patch(url, json={"name": "x"}, headers={**h, "If-Match": '"1"'}),
        409,
        "persona-version-mismatch",
    )
    body = problem(
        client.patch(url, json={"name": "x", "expected_version": 1}, headers=h),
        409,
        "persona-version-mismatch",
    )
    assert body["current_version"] == 2
    # Changing nothing changes nothing.
    same = client.patch(url, json={"rule": city_rule(town)}, headers=h).json()
    assert same["version"] == 2
    # Renaming keeps the members and does not re-evaluate.
    renamed = client.patch(url, json={"name": "Renamed", "description": "d"}, headers=h).json()
    assert renamed["version"] == 3 and renamed["member_count"] == 1
    assert renamed["evaluated_at"] == r.json()["evaluated_at"]

    # Archive: members leave (with events), definition kept; idempotent.
    r = client.delete(url, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "archived"
    assert r.json()["member_count"] == 0
    assert member_ids(client, shop, persona["id"]) == set()
    assert client.delete(url, headers=h).json()["version"] == r.json()["version"]
    with db.reading() as s:
        left = s.scalars(
            select(OutboxEvent.payload).where(
                OutboxEvent.type == "persona.member_left", OutboxEvent.aggregate_id == persona["id"]
            )
        ).all()
    assert sorted(p["user_id"] for p in left) == sorted([str(a.id), str(b.id)])
    listed = client.get(f"/merchants/{shop.id}/personas", params={"status": "active"}, headers=h)
    assert listed.json()["items"] == []

    # Restore: evaluated again.
    r = client.patch(url, json={"status": "active"}, headers=h)
    assert r.status_code == 200 and r.json()["member_count"] == 1
    assert member_ids(client, shop, persona["id"]) == {str(b.id)}


def test_list_is_newest_first_and_paginated(client: TestClient, factory: Factory):
    shop = factory.merchant()
    made = [new_persona(client, shop, city_rule(unique("c")))["id"] for _ in range(3)]
    h = shop.admin.headers
    first = client.get(f"/merchants/{shop.id}/personas", params={"limit": 2}, headers=h).json()
    assert [p["id"] for p in first["items"]] == made[::-1][:2]
    rest = client.get(
        f"/merchants/{shop.id}/personas",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=h,
    ).json()
    assert [p["id"] for p in rest["items"]] == [made[0]] and rest["next_cursor"] is None
    # A cursor of another listing is refused.
    r = client.get(
        f"/merchants/{shop.id}/personas",
        params={"cursor": first["next_cursor"], "status": "archived"},
        headers=h,
    )
    problem(r, 400, "invalid-cursor")


def test_rebuild_reports_joins_and_leaves(client: TestClient, db: Database, factory: Factory):
    shop = factory.merchant()
    city = unique("Stad")
    persona = new_persona(client, shop, city_rule(city))
    assert persona["member_count"] == 0
    late = shopper(db, factory, profile={"city": city})  # no event delivered: not live yet
    url = f"/merchants/{shop.id}/personas/{persona['id']}/rebuild"
    r = client.post(url, headers=shop.admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["joined"] == 1 and body["left"] == 0 and body["member_count"] == 1
    assert body["evaluated_customers"] >= 1
    assert member_ids(client, shop, persona["id"]) == {str(late.id)}
    again = client.post(url, headers=shop.admin.headers).json()
    assert again["joined"] == again["left"] == 0 and again["member_count"] == 1
    problem(client.post(url, headers=factory.staff(shop).headers), 403, "forbidden")


def test_bad_inputs_are_problems(client: TestClient, factory: Factory):
    shop = factory.merchant()
    h = shop.admin.headers
    url = f"/merchants/{shop.id}/personas"
    body = problem(
        client.post(
            url,
            json={
                "name": "Bad",
                "rule": {
                    "type": "all",
                    "conditions": [
                        {
                            "type": "property",
                            "property": "profile.age",
                            "operator": "gte",
                            "value": 18,
                        },
                        {
                            "type": "property",
                            "property": "profile.age",
                            "operator": "like",
                            "value": 1,
                        },
                    ],
                },
            },
            headers=h,
        ),
        422,
        "persona-rule-invalid",
    )
    assert body["path"] == "/conditions/1/operator"
    assert "gte" in body["known"]
    problem(client.post(url, json={"name": "No rule"}, headers=h), 422, "validation-error")
    problem(
        client.post(url, json={"name": "", "rule": city_rule("x")}, headers=h),
        422,
        "validation-error",
    )
    problem(
        client.post(url, json={"name": "x", "rule": city_rule("x"), "colour": "red"}, headers=h),
        422,
        "validation-error",
    )
    problem(
        client.post(
            url,
            json={
                "name": "x",
                "rule": city_rule("x"),
                "ideal_customer": {"age_range": {"min": 40, "max": 20}},
            },
            headers=h,
        ),
        422,
        "validation-error",
    )
    problem(
        client.post(
            url,
            json={"name": "x", "rule": city_rule("x"), "ideal_customer": {"goals": ["g"] * 11}},
            headers=h,
        ),
        422,
        "validation-error",
    )
    made = new_persona(client, shop, city_rule("x"), name="Taken")
    problem(
        client.post(url, json={"name": "taken", "rule": city_rule("y")}, headers=h),
        409,
        "persona-name-taken",
    )
    other = new_persona(client, shop, city_rule("y"))
    problem(
        client.patch(f"{url}/{other['id']}", json={"name": "Taken"}, headers=h),
        409,
        "persona-name-taken",
    )
    problem(
        client.patch(f"{url}/{made['id']}", json={"rule": None}, headers=h), 422, "validation-error"
    )
    problem(
        client.patch(f"{url}/{made['id']}", json={"rule": {"type": "nope"}}, headers=h),
        422,
        "persona-rule-invalid",
    )
    problem(
        client.patch(f"{url}/{made['id']}", json={"name": "z"}, headers={**h, "If-Match": "soon"}),
        422,
        "validation-error",
    )
    problem(client.get(f"{url}/{uuid.uuid4()}", headers=h), 404, "not-found")
    problem(client.get(f"{url}/{uuid.uuid4()}/members", headers=h), 404, "not-found")
    problem(client.post(f"{url}/{uuid.uuid4()}/rebuild", headers=h), 404, "not-found")
    problem(
        client.get(f"{url}/{made['id']}/members", params={"cursor": "forged"}, headers=h),
        400,
        "invalid-cursor",
    )


def test_active_personas_are_bounded(
    client: TestClient, db: Database, factory: Factory, monkeypatch
):
    from plaza.personas.segments import service

    monkeypatch.setattr(service, "MAX_ACTIVE_PERSONAS", 2)
    shop = factory.merchant()
    h = shop.admin.headers
    first = new_persona(client, shop, city_rule("a"))
    new_persona(client, shop, city_rule("b"))
    url = f"/merchants/{shop.id}/personas"
    problem(
        client.post(url, json={"name": "c", "rule": city_rule("c")}, headers=h),
        409,
        "persona-limit-reached",
    )
    client.delete(f"{url}/{first['id']}", headers=h)
    new_persona(client, shop, city_rule("c"))
    r = client.patch(f"{url}/{first['id']}", json={"status": "active"}, headers=h)
    problem(r, 409, "persona-limit-reached")


def test_create_is_idempotent(client: TestClient, factory: Factory):
    shop = factory.merchant()
    h = {**shop.admin.headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"name": "Weekend hikers", "rule": city_rule("x")}
    url = f"/merchants/{shop.id}/personas"
    first = client.post(url, json=body, headers=h)
    again = client.post(url, json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len(client.get(url, headers=shop.admin.headers).json()["items"]) == 1
    problem(
        client.post(url, json={**body, "name": "Other"}, headers=h), 422, "idempotency-key-reused"
    )


@pytest.mark.parametrize(
    "who", ["staff", "admin", "platform_admin", "customer", "api_key", "anonymous"]
)
def test_who_may_do_what(client: TestClient, factory: Factory, who: str):
    shop = factory.merchant()
    persona = new_persona(client, shop, city_rule("x"))
    headers = {
        "staff": factory.staff(shop, MerchantRole.STAFF).headers,
        "admin": factory.staff(shop, MerchantRole.ADMIN).headers,
        "platform_admin": factory.platform_admin().headers,
        "customer": factory.user().headers,
        "api_key": {"X-API-Key": factory.api_key(shop, ["catalog:read", "orders:read"])},
        "anonymous": {},
    }[who]
    base = f"/merchants/{shop.id}/personas"
    reads = [
        client.get(base, headers=headers),
        client.get(f"{base}/{persona['id']}", headers=headers),
        client.get(f"{base}/{persona['id']}/members", headers=headers),
        client.post(f"{base}/preview", json={"rule": city_rule("x")}, headers=headers),
    ]
    writes = [
        client.post(base, json={"name": unique("n"), "rule": city_rule("x")}, headers=headers),
        client.patch(f"{base}/{persona['id']}", json={"description": who}, headers=headers),
        client.post(f"{base}/{persona['id']}/rebuild", headers=headers),
        client.delete(f"{base}/{persona['id']}", headers=headers),
    ]
    may_read = who in ("staff", "admin", "platform_admin")
    may_write = who in ("admin", "platform_admin")
    denied = 401 if who == "anonymous" else 403
    for r in reads:
        assert (r.status_code < 300) if may_read else r.status_code == denied, r.text
    for r in writes:
        assert (r.status_code < 300) if may_write else r.status_code == denied, r.text


def test_a_merchant_never_sees_another_merchants_personas(client: TestClient, factory: Factory):
    mine, theirs = factory.merchant(), factory.merchant()
    persona = new_persona(client, theirs, city_rule("x"))
    h = mine.admin.headers
    # Their persona under my path does not exist; their path is forbidden.
    for r in (
        client.get(f"/merchants/{mine.id}/personas/{persona['id']}", headers=h),
        client.get(f"/merchants/{mine.id}/personas/{persona['id']}/members", headers=h),
        client.patch(
            f"/merchants/{mine.id}/personas/{persona['id']}", json={"name": "mine"}, headers=h
        ),
        client.delete(f"/merchants/{mine.id}/personas/{persona['id']}", headers=h),
        client.post(f"/merchants/{mine.id}/personas/{persona['id']}/rebuild", headers=h),
    ):
        problem(r, 404, "not-found")
    assert client.get(f"/merchants/{mine.id}/personas", headers=h).json()["items"] == []
    problem(client.get(f"/merchants/{theirs.id}/personas", headers=h), 403, "forbidden")
    # Same name is fine across merchants.
    new_persona(client, mine, city_rule("x"), name=persona["name"])
