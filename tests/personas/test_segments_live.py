"""Live membership: customers join and leave as their activity, profile, personas and
consent change (the subscribers), erased accounts leave silently, windows drift and the
daily re-evaluation catches it, and ``plaza personas rebuild`` recomputes everything."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from plaza import cli
from plaza.config import get_settings
from plaza.db import Database, get_database, utcnow
from plaza.events import Event, OutboxEvent, _to_event, subscribers_for
from plaza.personas import activity
from plaza.personas.customer import service as customers
from plaza.personas.customer.schemas import PersonaIn as CustomerPersonaIn
from plaza.personas.customer.schemas import ProfileIn
from plaza.personas.models import PersonaMembership, StrategicPersona
from plaza.personas.segments import service
from plaza.personas.segments import subscribers as live
from plaza.privacy import service as privacy
from plaza.subscribers import HOUSEKEEPING
from tests.factories import Factory, unique
from tests.personas.test_segments_api import act, city_rule, member_ids, new_persona, shopper

MINE = {
    "customer.activity_recorded": "personas.segments.on_activity",
    "customer.profile_changed": "personas.segments.on_profile",
    "customer.persona_changed": "personas.segments.on_customer_persona",
    "consent.changed": "personas.segments.on_consent",
    "user.erased": "personas.segments.on_erased",
}


def deliver(db: Database, user_id: uuid.UUID, since: uuid.UUID | None = None) -> int:
    """Hand this customer's pending events to the segments subscribers, as the dispatcher
    would (each in its own transaction), twice: redelivery must change nothing."""
    with db.reading() as s:
        q = select(OutboxEvent).where(OutboxEvent.type.in_(list(MINE)))
        if since is not None:
            q = q.where(OutboxEvent.id > since)
        events = [
            _to_event(e)
            for e in s.scalars(q.order_by(OutboxEvent.id))
            if str(user_id) in (e.aggregate_id, str(e.payload.get("user_id")))
        ]
    for _ in range(2):
        for event in events:
            handler = subscribers_for(event.type)[MINE[event.type]]
            with db.transaction() as s:
                handler(s, event)
    return len(events)


def last_event_id(db: Database) -> uuid.UUID | None:
    with db.reading() as s:
        return s.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1))


def events_about(db: Database, persona_id: str, type_: str) -> list[dict[str, Any]]:
    with db.reading() as s:
        return [
            dict(p)
            for p in s.scalars(
                select(OutboxEvent.payload)
                .where(OutboxEvent.type == type_, OutboxEvent.aggregate_id == persona_id)
                .order_by(OutboxEvent.id)
            )
        ]


def test_the_subscribers_and_the_job_are_registered():
    for type_, name in MINE.items():
        assert name in subscribers_for(type_), type_
    assert live.refresh_stale_job in HOUSEKEEPING


def test_activity_makes_a_customer_join(client: TestClient, db: Database, factory: Factory):
    shop = factory.merchant()
    rule = {
        "type": "event_count",
        "event": "purchase",
        "within_days": 30,
        "filter": {"tag": "recycled"},
        "operator": "gte",
        "value": 2,
    }
    persona = new_persona(client, shop, rule)
    who = shopper(db, factory, rows=[act(shop.id, tags=("recycled",))])
    mark = last_event_id(db)
    deliver(db, who.id)
    assert member_ids(client, shop, persona["id"]) == set()
    with db.transaction() as s:  # a second recycled purchase: now a member
        activity.record(s, [{**act(shop.id, tags=("Recycled",)), "user_id": who.id}])
    deliver(db, who.id, since=mark)
    assert member_ids(client, shop, persona["id"]) == {str(who.id)}
    got = client.get(
        f"/merchants/{shop.id}/personas/{persona['id']}", headers=shop.admin.headers
    ).json()
    assert got["member_count"] == 1
    # Exactly one join, although every event was delivered twice.
    assert events_about(db, persona["id"], "persona.member_joined") == [
        {"persona_id": persona["id"], "merchant_id": str(shop.id), "user_id": str(who.id)}
    ]


def test_another_merchants_activity_never_counts(
    client: TestClient, db: Database, factory: Factory
):
    shop, other = factory.merchant(), factory.merchant()
    persona = new_persona(client, shop, {"type": "past_event", "event": "purchase"})
    who = shopper(db, factory, rows=[act(other.id)])
    deliver(db, who.id)
    assert member_ids(client, shop, persona["id"]) == set()
    r = client.post(
        f"/merchants/{shop.id}/personas/preview",
        json={
            "rule": {
                "type": "all",
                "conditions": [
                    {"type": "past_event", "event": "purchase"},
                    {
                        "type": "property",
                        "property": "customer.orders_count",
                        "operator": "gte",
                        "value": 1,
                    },
                ],
            }
        },
        headers=shop.admin.headers,
    )
    assert r.json()["audience_size"] == 0


def test_profile_and_persona_changes_move_members(
    client: TestClient, db: Database, factory: Factory
):
    shop = factory.merchant()
    city = unique("Stad")
    rule = {
        "type": "all",
        "conditions": [
            city_rule(city),
            {
                "type": "property",
                "property": "persona.sizes",
                "operator": "contains_any",
                "value": ["XS", "104"],
            },
        ],
    }
    persona = new_persona(client, shop, rule)
    who = shopper(db, factory, profile={"city": city})
    deliver(db, who.id)
    assert member_ids(client, shop, persona["id"]) == set()
    mark = last_event_id(db)
    with db.transaction() as s:
        customers.create_persona(
            s, who.id, CustomerPersonaIn(name="my son", relation="child", sizes=["104"])
        )
    deliver(db, who.id, since=mark)
    assert member_ids(client, shop, persona["id"]) == {str(who.id)}
    mark = last_event_id(db)
    with db.transaction() as s:  # moved away
        customers.put_profile(s, who.id, ProfileIn(city="Elsewhere"))
    deliver(db, who.id, since=mark)
    assert member_ids(client, shop, persona["id"]) == set()
    assert len(events_about(db, persona["id"], "persona.member_left")) == 1


def test_consent_decides_membership(client: TestClient, db: Database, factory: Factory):
    shop = factory.merchant()
    city = unique("Stad")
    persona = new_persona(client, shop, city_rule(city))
    who = shopper(db, factory, consent=False, profile={"city": city})
    deliver(db, who.id)
    assert member_ids(client, shop, persona["id"]) == set()
    mark = last_event_id(db)
    with db.transaction() as s:
        privacy.grant(s, who.id, "personalisation")
        privacy.grant(s, who.id, "marketing")  # other purposes are not ours
    deliver(db, who.id, since=mark)
    assert member_ids(client, shop, persona["id"]) == {str(who.id)}
    mark = last_event_id(db)
    with db.transaction() as s:
        privacy.withdraw(s, who.id, "personalisation")
    deliver(db, who.id, since=mark)
    assert member_ids(client, shop, persona["id"]) == set()
    # A rebuild agrees: without consent, never a member.
    r = client.post(
        f"/merchants/{shop.id}/personas/{persona['id']}/rebuild", headers=shop.admin.headers
    )
    assert r.json()["member_count"] == 0


def test_an_archived_persona_takes_no_members(client: TestClient, db: Database, factory: Factory):
    shop = factory.merchant()
    city = unique("Stad")
    persona = new_persona(client, shop, city_rule(city))
    client.delete(f"/merchants/{shop.id}/personas/{persona['id']}", headers=shop.admin.headers)
    who = shopper(db, factory, profile={"city": city})
    deliver(db, who.id)
    assert member_ids(client, shop, persona["id"]) == set()


def test_erasure_removes_memberships_silently(client: TestClient, db: Database, factory: Factory):
    shop = factory.merchant()
    city = unique("Stad")
    who = shopper(db, factory, profile={"city": city})
    persona = new_persona(client, shop, city_rule(city))
    assert persona["member_count"] == 1
    mark = last_event_id(db)
    r = client.post("/me/erase", json={"password": "correct horse battery"}, headers=who.headers)
    assert r.status_code == 200, r.text
    event = Event(
        uuid.uuid4(), "user.erased", "user", str(who.id), None, {}, utcnow()
    )  # delivered as the dispatcher would, whatever erasure already did
    with db.transaction() as s:
        live.forget_on_erasure(s, event)
    with db.reading() as s:
        assert (
            s.scalar(select(PersonaMembership).where(PersonaMembership.user_id == who.id)) is None
        )
        count = s.scalar(
            select(StrategicPersona.member_count).where(
                StrategicPersona.id == uuid.UUID(persona["id"])
            )
        )
        assert count == 0
        later = s.scalars(
            select(OutboxEvent.type).where(
                OutboxEvent.id > mark, OutboxEvent.type.like("persona.%")
            )
        ).all()
    assert later == []  # no event names the erased account
    # A late event about the erased account changes nothing and names nobody.
    with db.transaction() as s:
        assert service.refresh_customer(s, who.id) == 0
    # Events scrubbed by erasure carry no id: ignored.
    scrubbed = Event(
        uuid.uuid4(),
        "customer.profile_changed",
        "user",
        "erased",
        None,
        {"user_id": None},
        utcnow(),
    )
    with db.transaction() as s:
        live.refresh_on_customer_change(s, scrubbed)


def test_time_windows_drift_and_the_daily_job_catches_up(
    client: TestClient, db: Database, factory: Factory
):
    shop = factory.merchant()
    persona = new_persona(client, shop, {"type": "past_event", "event": "view", "within_days": 7})
    who = shopper(db, factory, rows=[act(shop.id, "view", days_ago=6)])
    r = client.post(
        f"/merchants/{shop.id}/personas/{persona['id']}/rebuild", headers=shop.admin.headers
    )
    assert r.json()["member_count"] == 1
    pid = uuid.UUID(persona["id"])
    # Nothing is due right after an evaluation.
    with db.reading() as s:
        assert (shop.id, pid) not in service.stale_personas(s, limit=10_000)
    # Two days on, the view is out of the window and the evaluation is over a day old.
    later = utcnow() + dt.timedelta(days=2)
    with db.reading() as s:
        assert (shop.id, pid) in service.stale_personas(s, later, limit=10_000)
    with db.transaction() as s:  # only ours is due (others may be in this database)
        s.execute(
            update(StrategicPersona)
            .where(StrategicPersona.id != pid)
            .values(evaluated_at=later, updated_at=StrategicPersona.updated_at)
        )
    assert live.refresh_stale(db, later) == 1
    assert member_ids(client, shop, persona["id"]) == set()
    assert [e["user_id"] for e in events_about(db, persona["id"], "persona.member_left")] == [
        str(who.id)
    ]
    assert live.refresh_stale(db, later) == 0  # cheap and idle now


def test_the_housekeeping_job_is_throttled(db: Database, monkeypatch: pytest.MonkeyPatch):
    calls: list[object] = []
    monkeypatch.setattr(live, "refresh_stale", lambda db, now=None: calls.append(now))
    monkeypatch.setattr(live, "_last_check", None)
    live.refresh_stale_job(db)
    live.refresh_stale_job(db)
    assert len(calls) == 1


@pytest.fixture
def use_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PLAZA_DATABASE_URL", database_url)
    get_settings.cache_clear()
    get_database.cache_clear()
    yield
    if get_database.cache_info().currsize:
        get_database().dispose()
    get_database.cache_clear()
    get_settings.cache_clear()


def test_cli_rebuild_recomputes_everything(
    client: TestClient, db: Database, factory: Factory, use_database: None
):
    shop = factory.merchant()
    city = unique("Stad")
    persona = new_persona(client, shop, city_rule(city), name="Locals")
    who = shopper(db, factory, profile={"city": city})  # not live yet: no event delivered
    runner = CliRunner()
    r = runner.invoke(cli.app, ["personas", "rebuild", "--merchant", shop.slug, "--no-backfill"])
    assert r.exit_code == 0, r.output
    assert "Locals" in r.output and "1 personas re-evaluated" in r.output
    assert member_ids(client, shop, persona["id"]) == {str(who.id)}
    r = runner.invoke(cli.app, ["personas", "rebuild", "--merchant", shop.slug])  # backfill too
    assert r.exit_code == 0, r.output
    assert "new activity rows" in r.output
    r = runner.invoke(cli.app, ["personas", "rebuild", "--merchant", "no-such-shop"])
    assert r.exit_code == 1 and "no active merchant" in r.output
    r = runner.invoke(cli.app, ["personas", "--help"])
    assert r.exit_code == 0 and "rebuild" in r.output


def test_demo_personas_are_valid_and_seed_once(db: Database, factory: Factory, monkeypatch):
    import random

    from plaza.personas.segments import demo, rules
    from plaza.personas.segments.schemas import PersonaIn

    for specs in demo.PERSONAS.values():
        for spec in specs:
            rules.parse(PersonaIn.model_validate(spec).rule)
    shop = factory.merchant()
    monkeypatch.setattr(demo, "PERSONAS", {shop.slug: demo.PERSONAS["zeep-en-zo"]})
    first = demo.seed(db, random.Random(1))
    assert first["strategic_personas_created"] == 2
    assert demo.seed(db, random.Random(1))["strategic_personas_created"] == 0
    with db.reading() as s:
        names = s.scalars(
            select(StrategicPersona.name).where(StrategicPersona.merchant_id == shop.id)
        ).all()
    assert sorted(names) == ["Organic and vegan", "Refill regulars"]
