"""Personas' personal data in the data export and erasure: profile, personas, activity and
segment memberships are exported, and erased with the account."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from plaza.db import Base, Database
from plaza.personas.models import (
    CustomerActivity,
    CustomerPersona,
    CustomerProfile,
    PersonaMembership,
    StrategicPersona,
)
from plaza.privacy import registry
from plaza.privacy import service as privacy
from tests.factories import PASSWORD, Factory


def _seed(client, db: Database, factory: Factory):  # type: ignore[no-untyped-def]
    me = factory.user()
    merchant = factory.merchant()
    client.put("/me/profile", json={"city": "Utrecht", "country": "NL"}, headers=me.headers)
    r = client.post("/me/personas", json={"name": "Emma", "relation": "child"}, headers=me.headers)
    assert r.status_code == 201
    with db.transaction() as s:
        segment = StrategicPersona(merchant_id=merchant.id, name="Urban explorers", member_count=1)
        s.add(segment)
        s.flush()
        s.add(PersonaMembership(persona_id=segment.id, user_id=me.id, merchant_id=merchant.id))
        s.add(
            CustomerActivity(
                user_id=me.id,
                kind="view",
                merchant_id=merchant.id,
                product_id=uuid.uuid4(),
                source_ref=f"track:{me.id.hex}:{uuid.uuid4()}",
            )
        )
        segment_id = segment.id
    return me, merchant, segment_id


def test_every_personas_table_is_declared():
    assert registry.unhandled_tables(Base.metadata, registry.handlers()) == []
    personas = next(h for h in registry.handlers() if h.context == "personas")
    assert set(personas.tables) == {
        "customer_profiles",
        "customer_personas",
        "customer_activity",
        "persona_memberships",
    }


def test_export_holds_profile_personas_activity_and_memberships(client, db, factory):
    me, merchant, segment_id = _seed(client, db, factory)
    r = client.get("/me/data-export", headers=me.headers)
    assert r.status_code == 200
    section = r.json()["contexts"]["personas"]
    assert section["profile"]["city"] == "Utrecht"
    assert [p["name"] for p in section["personas"]] == ["Emma"]
    assert [a["kind"] for a in section["activity"]] == ["view"]
    assert section["segment_memberships"] == [
        {
            "persona": "Urban explorers",
            "persona_id": str(segment_id),
            "merchant_id": str(merchant.id),
            "merchant": merchant.slug.title(),
            "since": section["segment_memberships"][0]["since"],
        }
    ]


def test_erasure_deletes_it_all(client, db, factory):
    me, _, segment_id = _seed(client, db, factory)
    other = factory.user()
    client.post("/me/personas", json={"name": "Emma"}, headers=other.headers)
    r = client.post("/me/erase", json={"password": PASSWORD}, headers=me.headers)
    assert r.status_code == 200, r.text
    receipt = r.json()["contexts"]["personas"]
    assert receipt == {
        "memberships_deleted": 1,
        "activity_deleted": 1,
        "personas_deleted": 1,
        "profiles_deleted": 1,
    }
    with db.reading() as s:
        for model in (CustomerProfile, CustomerPersona, CustomerActivity, PersonaMembership):
            count = s.scalar(select(func.count()).select_from(model).where(model.user_id == me.id))
            assert count == 0, model
        segment = s.get(StrategicPersona, segment_id)
        assert segment is not None and segment.member_count == 0  # the segment lives on
        # Someone else's persona of the same name is untouched.
        assert s.scalar(select(CustomerPersona).where(CustomerPersona.user_id == other.id))


def test_export_of_a_customer_with_nothing(db, factory):
    me = factory.user()
    with db.reading() as s:
        section = privacy.export_data(s, me.id)["contexts"]["personas"]
    assert section == {
        "profile": None,
        "personas": [],
        "activity": [],
        "segment_memberships": [],
    }
