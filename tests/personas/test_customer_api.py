"""A customer's profile and personas over HTTP: validation, ownership, limits, defaults,
idempotency and the events they emit."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from plaza.db import Database
from plaza.events import OutboxEvent
from plaza.personas.customer import service
from tests.factories import Actor, Factory


def events(db: Database, type_: str, aggregate_id: object) -> list[dict[str, Any]]:
    with db.reading() as s:
        return [
            e.payload
            for e in s.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.type == type_, OutboxEvent.aggregate_id == str(aggregate_id))
                .order_by(OutboxEvent.id)
            )
        ]


def problem(r: Any, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = dict(r.json())
    assert body["type"] == f"/problems/{slug}"
    return body


# ---------------------------------------------------------------------------- profile


def test_profile_starts_empty_and_is_replaced(client, db, factory: Factory):
    me = factory.user()
    r = client.get("/me/profile", headers=me.headers)
    assert r.status_code == 200 and r.json()["birth_date"] is None
    body = {
        "birth_date": "1990-05-17",
        "gender": "non-binary",
        "country": "nl",
        "city": "Utrecht",
        "postal_code": "3511 AB",
    }
    r = client.put("/me/profile", json=body, headers=me.headers)
    assert r.status_code == 200, r.text
    assert r.json()["country"] == "NL" and r.json()["city"] == "Utrecht"
    assert client.get("/me/profile", headers=me.headers).json()["birth_date"] == "1990-05-17"
    assert events(db, "customer.profile_changed", me.id) == [{"user_id": str(me.id)}]
    # The same PUT again changes nothing and emits nothing.
    client.put("/me/profile", json=body, headers=me.headers)
    assert len(events(db, "customer.profile_changed", me.id)) == 1
    # PUT replaces: what is left out is cleared.
    r = client.put("/me/profile", json={"city": "Leiden"}, headers=me.headers)
    assert r.json()["country"] is None and r.json()["city"] == "Leiden"
    assert len(events(db, "customer.profile_changed", me.id)) == 2


def test_profile_validation(client, factory: Factory):
    me = factory.user()
    today = dt.date.today()
    for bad in (
        {"birth_date": (today + dt.timedelta(days=2)).isoformat()},
        {"birth_date": "1890-01-01"},
        {"country": "ZZ"},
        {"country": "NLD"},
        {"gender": "x" * 31},
        {"postal_code": "<script>"},
        {"city": ""},
        {"nickname": "Ada"},
    ):
        problem(client.put("/me/profile", json=bad, headers=me.headers), 422, "validation-error")


def test_profile_needs_a_person(client, factory: Factory):
    problem(client.get("/me/profile"), 401, "unauthenticated")
    merchant = factory.merchant()
    key = factory.api_key(merchant, ["catalog:read"])
    problem(client.get("/me/profile", headers={"X-API-Key": key}), 401, "unauthenticated")


# ---------------------------------------------------------------------------- personas


SON = {
    "name": "My son",
    "relation": "Child",
    "sizes": ["M", "38", "M"],
    "fit": "relaxed",
    "colours_prefer": ["Olive ", "forest"],
    "colours_avoid": ["pink"],
    "styles": ["Classic"],
    "materials_prefer": ["recycled", "organic cotton"],
    "materials_avoid": ["wool"],
    "sustainability": "prefer",
    "budget": {"amount": 4000, "currency": "EUR"},
}


def create(client: Any, who: Actor, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/me/personas", json=body, headers={**who.headers, **headers})


def test_persona_crud(client, db, factory: Factory):
    me = factory.user()
    r = create(client, me, SON)
    assert r.status_code == 201, r.text
    son = r.json()
    # Stored normalised: lower case, single spaces, duplicates dropped.
    assert son["relation"] == "child" and son["sizes"] == ["M", "38"]
    assert son["colours_prefer"] == ["olive", "forest"] and son["styles"] == ["classic"]
    assert son["budget"] == {"amount": 4000, "currency": "EUR"} and son["is_default"] is False
    assert client.get(f"/me/personas/{son['id']}", headers=me.headers).json() == son

    r = client.patch(
        f"/me/personas/{son['id']}",
        json={"budget": None, "fit": None, "sizes": ["L"]},
        headers=me.headers,
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["budget"] is None and patched["fit"] is None and patched["sizes"] == ["L"]
    assert patched["colours_prefer"] == son["colours_prefer"]  # untouched

    listed = client.get("/me/personas", headers=me.headers).json()
    assert [p["id"] for p in listed] == [son["id"]]
    assert client.delete(f"/me/personas/{son['id']}", headers=me.headers).status_code == 204
    problem(client.get(f"/me/personas/{son['id']}", headers=me.headers), 404, "not-found")
    problem(client.delete(f"/me/personas/{son['id']}", headers=me.headers), 404, "not-found")
    changes = [e["change"] for e in events(db, "customer.persona_changed", son["id"])]
    assert changes == ["created", "updated", "deleted"]
    assert events(db, "customer.persona_changed", son["id"])[0] == {
        "user_id": str(me.id),
        "persona_id": son["id"],
        "change": "created",
    }


def test_another_customers_persona_is_not_found(client, factory: Factory):
    me, other = factory.user(), factory.user()
    mine = create(client, me, {"name": "me"}).json()
    url = f"/me/personas/{mine['id']}"
    problem(client.get(url, headers=other.headers), 404, "not-found")
    problem(client.patch(url, json={"name": "x"}, headers=other.headers), 404, "not-found")
    problem(client.delete(url, headers=other.headers), 404, "not-found")
    assert client.get("/me/personas", headers=other.headers).json() == []
    assert client.get(url, headers=me.headers).status_code == 200
    # And the contract other modules use says the same.
    with client.app.state.db.reading() as s:
        assert service.get_persona(s, me.id, uuid.UUID(mine["id"])).name == "me"
        assert service.chosen_persona(s, other.id, None) is None


def test_names_are_unique_per_customer_ignoring_case(client, factory: Factory):
    me, other = factory.user(), factory.user()
    assert create(client, me, {"name": "Running"}).status_code == 201
    body = problem(create(client, me, {"name": "running"}), 409, "customer-persona-name-taken")
    assert body["name"] == "running"
    assert create(client, other, {"name": "Running"}).status_code == 201  # someone else's
    second = create(client, me, {"name": "Hiking"}).json()
    problem(
        client.patch(f"/me/personas/{second['id']}", json={"name": "RUNNING"}, headers=me.headers),
        409,
        "customer-persona-name-taken",
    )
    # Renaming to its own name (another case) is fine.
    r = client.patch(f"/me/personas/{second['id']}", json={"name": "HIKING"}, headers=me.headers)
    assert r.status_code == 200 and r.json()["name"] == "HIKING"


def test_at_most_ten_personas(client, factory: Factory):
    me = factory.user()
    for i in range(10):
        assert create(client, me, {"name": f"p{i}"}).status_code == 201
    body = problem(create(client, me, {"name": "eleven"}), 409, "customer-persona-limit-reached")
    assert body["limit"] == 10


def test_one_default_at_most(client, db, factory: Factory):
    me = factory.user()
    a = create(client, me, {"name": "a", "is_default": True}).json()
    b = create(client, me, {"name": "b"}).json()
    assert a["is_default"] and not b["is_default"]
    c = create(client, me, {"name": "c", "is_default": True}).json()
    listed = client.get("/me/personas", headers=me.headers).json()
    assert [(p["name"], p["is_default"]) for p in listed] == [
        ("c", True),
        ("a", False),
        ("b", False),
    ]
    client.patch(f"/me/personas/{b['id']}", json={"is_default": True}, headers=me.headers)
    defaults = [p["name"] for p in client.get("/me/personas", headers=me.headers).json()]
    assert defaults[0] == "b"
    with db.reading() as s:
        chosen = service.chosen_persona(s, me.id, None)
        assert chosen is not None and chosen.name == "b"
        named = service.chosen_persona(s, me.id, uuid.UUID(c["id"]))
        assert named is not None and named.name == "c"
    client.delete(f"/me/personas/{b['id']}", headers=me.headers)
    listed = client.get("/me/personas", headers=me.headers).json()
    assert not any(p["is_default"] for p in listed)


def test_persona_validation(client, factory: Factory):
    me = factory.user()
    for bad in (
        {},
        {"name": ""},
        {"name": "x" * 61},
        {"name": "a", "colours_prefer": ["Black"], "colours_avoid": ["black"]},
        {"name": "a", "materials_prefer": ["wool"], "materials_avoid": [" Wool "]},
        {"name": "a", "fit": "baggy"},
        {"name": "a", "sustainability": "always"},
        {"name": "a", "budget": {"amount": 4000}},
        {"name": "a", "budget": {"currency": "EUR"}},
        {"name": "a", "budget": {"amount": 0, "currency": "EUR"}},
        {"name": "a", "budget": {"amount": "40", "currency": "EUR"}},
        {"name": "a", "budget": {"amount": 4000, "currency": "XXX"}},
        {"name": "a", "sizes": ["M"] * 21},
        {"name": "a", "sizes": ["x" * 21]},
        {"name": "a", "styles": [" "]},
        {"name": "a", "styles": ["x" * 41]},
        {"name": "a", "owner": "me"},
        {"name": "a\x00b"},
    ):
        problem(create(client, me, bad), 422, "validation-error")
    p = create(client, me, {"name": "a", "colours_prefer": ["black"]}).json()
    url = f"/me/personas/{p['id']}"
    # A patch that makes a value both preferred and avoided, with what is stored.
    problem(
        client.patch(url, json={"colours_avoid": ["Black"]}, headers=me.headers),
        422,
        "validation-error",
    )
    problem(client.patch(url, json={"name": None}, headers=me.headers), 422, "validation-error")
    problem(client.patch(url, json={"sizes": None}, headers=me.headers), 422, "validation-error")
    assert client.get("/me/personas", headers=me.headers).json()[0]["colours_avoid"] == []


def test_create_is_idempotent_with_a_key(client, factory: Factory):
    me = factory.user()
    key = uuid.uuid4().hex
    first = create(client, me, {"name": "me"}, **{"Idempotency-Key": key})
    again = create(client, me, {"name": "me"}, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(client.get("/me/personas", headers=me.headers).json()) == 1
    problem(
        create(client, me, {"name": "other"}, **{"Idempotency-Key": key}),
        422,
        "idempotency-key-reused",
    )
