"""Consent per customer and purpose: opt-in, history, and withdrawal that bites at once."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import select

from plaza.errors import ProblemError
from plaza.events import OutboxEvent
from plaza.privacy import service
from plaza.privacy.models import ConsentState, Purpose
from tests.core.helpers import problem

PURPOSES = {"personalisation", "analytics", "partner_sharing", "marketing"}


def test_every_purpose_is_opt_in(client, someone):
    r = client.get("/me/consents", headers=someone.headers)
    assert r.status_code == 200
    assert {c["purpose"]: c["granted"] for c in r.json()} == dict.fromkeys(PURPOSES, False)
    assert all(c["changed_at"] is None for c in r.json())
    listed = client.get("/privacy/purposes").json()
    assert {p["purpose"] for p in listed} == PURPOSES
    assert {p["default"] for p in listed} == {"withdrawn"}


def test_grant_and_withdraw_with_history(client, db, someone):
    h = someone.headers
    r = client.put("/me/consents", json={"marketing": True, "source": "web"}, headers=h)
    assert r.status_code == 200, r.text
    state = {c["purpose"]: c for c in r.json()}
    assert state["marketing"]["granted"] and state["marketing"]["source"] == "web"
    assert not state["analytics"]["granted"]  # left out: unchanged
    client.put("/me/consents", json={"marketing": True}, headers=h)  # no change: no row
    client.put("/me/consents", json={"marketing": False, "analytics": False}, headers=h)
    history = client.get("/me/consents/history", headers=h).json()["items"]
    # Newest first; one PUT records its purposes in their documented order.
    assert [(e["purpose"], e["state"]) for e in history] == [
        ("marketing", "withdrawn"),
        ("analytics", "withdrawn"),
        ("marketing", "granted"),
    ]
    assert all(e["actor"] == f"user:{someone.id}" for e in history)
    only = client.get(
        "/me/consents/history", params={"purpose": "marketing", "limit": 1}, headers=h
    ).json()
    assert [e["state"] for e in only["items"]] == ["withdrawn"] and only["next_cursor"]
    rest = client.get(
        "/me/consents/history",
        params={"purpose": "marketing", "cursor": only["next_cursor"]},
        headers=h,
    ).json()
    assert [e["state"] for e in rest["items"]] == ["granted"] and rest["next_cursor"] is None
    with db.reading() as s:
        events = s.scalars(
            select(OutboxEvent).where(
                OutboxEvent.type == "consent.changed",
                OutboxEvent.aggregate_id == str(someone.id),
            )
        ).all()
    assert sorted((e.payload["purpose"], e.payload["state"]) for e in events) == [
        ("analytics", "withdrawn"),
        ("marketing", "granted"),
        ("marketing", "withdrawn"),
    ]


def test_withdrawal_takes_effect_at_once(db, someone):
    """What other contexts call: a withdrawal is seen by the very next check, from any
    session (nothing is cached), and require_consent refuses with a problem."""
    with db.transaction() as s:
        service.grant(s, someone.id, Purpose.PERSONALISATION)
    with db.reading() as reader:
        assert service.has_consent(reader, someone.id, "personalisation")
    with db.transaction() as s:
        service.withdraw(s, someone.id, Purpose.PERSONALISATION)
    with db.reading() as reader:
        assert not service.has_consent(reader, someone.id, Purpose.PERSONALISATION)
        with pytest.raises(ProblemError) as err:
            service.require_consent(reader, someone.id, Purpose.PERSONALISATION)
    assert err.value.kind.slug == "consent-required"
    assert err.value.extensions == {"purpose": "personalisation"}
    with db.reading() as reader:
        assert not service.has_consent(reader, None, Purpose.MARKETING)  # anonymous: never


def test_concurrent_changes_leave_the_latest_in_force(db, someone):
    """Toggling from several threads: the state in force is the newest row's, and the
    history has one row per change actually made."""
    errors: list[BaseException] = []

    def toggle(grant: bool) -> None:
        try:
            for _ in range(5):
                with db.transaction() as s:
                    state = ConsentState.GRANTED if grant else ConsentState.WITHDRAWN
                    service.set_consent(s, someone.id, Purpose.ANALYTICS, state)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=toggle, args=(g,)) for g in (True, False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with db.reading() as s:
        rows = service.history(s, someone.id, Purpose.ANALYTICS)
        assert service.has_consent(s, someone.id, "analytics") == (
            rows[0].state == ConsentState.GRANTED
        )
    # Consecutive rows always differ: a no-op change is never recorded.
    states = [r.state for r in rows]
    assert all(a != b for a, b in itertools.pairwise(states))


def test_consent_input_is_strict(client, someone):
    h = someone.headers
    problem(
        client.put("/me/consents", json={"newsletter": True}, headers=h), 422, "validation-error"
    )
    problem(
        client.put("/me/consents", json={"marketing": True, "source": "fax"}, headers=h),
        422,
        "validation-error",
    )
    problem(
        client.get("/me/consents/history", params={"purpose": "spam"}, headers=h),
        422,
        "validation-error",
    )
    assert client.get("/me/consents").status_code == 401
    assert client.put("/me/consents", json={}).status_code == 401
