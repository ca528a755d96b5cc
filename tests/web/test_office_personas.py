"""Back-office personas editor: list with member counts, create/edit/archive through the
form, rule errors at their JSON pointer, the audience preview (htmx and plain), members,
and who may do what (staff read and preview, admins write; other merchants refused)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.personas.customer import service as customers
from plaza.personas.customer.schemas import ProfileIn
from plaza.personas.models import PersonaStatus
from plaza.personas.segments import service as segments
from plaza.personas.segments.schemas import PersonaIn
from plaza.privacy import service as privacy
from tests.factories import Actor, Factory, MerchantCtx, unique

from .conftest import csrf_of, sign_in_web


def _city_rule(city: str) -> dict[str, Any]:
    return {"type": "property", "property": "profile.city", "operator": "equals", "value": city}


def _shopper(db: Database, factory: Factory, city: str, *, consent: bool = True) -> Actor:
    who = factory.user()
    with db.transaction() as s:
        if consent:
            privacy.grant(s, who.id, "personalisation")
        customers.put_profile(s, who.id, ProfileIn(city=city))
    return who


def _persona(db: Database, merchant: MerchantCtx, city: str, name: str | None = None) -> uuid.UUID:
    with db.transaction() as s:
        p = segments.create_persona(
            s, merchant.id, PersonaIn(name=name or unique("Persona"), rule=_city_rule(city))
        )
        return p.id


def _signed_in(client: TestClient, who: Actor, merchant: MerchantCtx) -> str:
    """Sign in and return a CSRF token from the personas page."""
    sign_in_web(client, who.email)
    r = client.get(f"/back-office/{merchant.id}/personas")
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


def _form(name: str, rule: Any, **extra: str) -> dict[str, str]:
    return {"name": name, "rule": rule if isinstance(rule, str) else json.dumps(rule), **extra}


def test_list_shows_personas_with_member_counts(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    m = factory.merchant()
    city = unique("City")
    _shopper(db, factory, city)
    _shopper(db, factory, city)
    _persona(db, m, city, name="Local heroes")
    _signed_in(web_client, m.admin, m)
    r = web_client.get(f"/back-office/{m.id}/personas")
    assert r.status_code == 200
    assert "<h1>Personas</h1>" in r.text
    assert "Local heroes" in r.text
    assert '<td class="num">2</td>' in r.text
    assert "New persona" in r.text
    assert 'aria-current="page">Personas' in r.text


def test_create_persona_through_the_form(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    m = factory.merchant()
    city = unique("City")
    _shopper(db, factory, city)
    token = _signed_in(web_client, m.admin, m)
    r = web_client.get(f"/back-office/{m.id}/personas/new")
    assert r.status_code == 200
    assert '<label for="rule">Rule (JSON)' in r.text
    assert "profile.city" in r.text  # known property names are listed as help
    assert 'aria-live="polite"' in r.text
    form = _form(
        "Townies",
        _city_rule(city),
        csrf_token=token,
        description="People of the town",
        goals="Look sharp\nSave time",
        channels="instagram, store",
        age_min="20",
        age_max="40",
    )
    r = web_client.post(f"/back-office/{m.id}/personas", data=form)
    assert r.status_code == 303, r.text
    persona_url = r.headers["location"]
    with db.reading() as s:
        listing = segments.list_personas(s, m.id, _page())
        (p,) = listing.items
    assert p.name == "Townies" and p.member_count == 1
    assert p.ideal_customer.goals == ["Look sharp", "Save time"]
    assert p.ideal_customer.channels == ["instagram", "store"]
    assert p.ideal_customer.age_range is not None and p.ideal_customer.age_range.max == 40
    page = web_client.get(persona_url)
    assert page.status_code == 200
    assert "Persona created: 1 member." in page.text
    assert "Members" in page.text and "1 member" in page.text


def _page() -> Any:
    from plaza.pagination import PageParams

    return PageParams(limit=20, cursor=None)


def test_rule_errors_are_shown_at_their_json_pointer(
    web_client: TestClient, factory: Factory
) -> None:
    m = factory.merchant()
    token = _signed_in(web_client, m.admin, m)
    bad = {
        "type": "all",
        "conditions": [
            {"type": "property", "property": "profile.shoe", "operator": "equals", "value": 1}
        ],
    }
    r = web_client.post(f"/back-office/{m.id}/personas", data=_form("X", bad, csrf_token=token))
    assert r.status_code == 422
    assert 'id="rule-error"' in r.text
    assert "At /conditions/0/property: unknown property" in r.text
    assert 'aria-invalid="true"' in r.text
    # Not JSON at all, and a missing name: both named next to their fields.
    r = web_client.post(f"/back-office/{m.id}/personas", data=_form("", "{nope", csrf_token=token))
    assert r.status_code == 422
    assert "Not valid JSON" in r.text
    assert 'id="name-error"' in r.text
    # The values typed are kept.
    assert "{nope" in r.text


def test_duplicate_name_is_a_field_error(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    m = factory.merchant()
    _persona(db, m, "Utrecht", name="Twins")
    token = _signed_in(web_client, m.admin, m)
    r = web_client.post(
        f"/back-office/{m.id}/personas", data=_form("twins", _city_rule("x"), csrf_token=token)
    )
    assert r.status_code == 422
    assert 'id="name-error"' in r.text


def test_preview_counts_the_crafted_audience(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    m = factory.merchant()
    city = unique("City")
    for _ in range(3):
        _shopper(db, factory, city)
    _shopper(db, factory, city, consent=False)  # not a possible member
    _shopper(db, factory, unique("Elsewhere"))
    staff = factory.staff(m)
    token = _signed_in(web_client, staff, m)  # staff may preview
    url = f"/back-office/{m.id}/personas/preview"
    rule = json.dumps(_city_rule(city))
    r = web_client.post(
        url, data={"rule": rule}, headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert r.status_code == 200, r.text
    assert '<strong class="audience-size">3</strong> customers match' in r.text
    assert "<html" not in r.text  # a fragment for htmx
    with db.reading() as s:
        assert segments.preview(s, m.id, _city_rule(city)).audience_size == 3
    # Without JS: a page of its own.
    r = web_client.post(url, data={"rule": rule, "csrf_token": token})
    assert r.status_code == 200
    assert "<h1>Audience preview</h1>" in r.text and 'class="audience-size">3<' in r.text
    # A bad rule: the error at its pointer, 422.
    bad = json.dumps({"type": "any", "conditions": [{"type": "nope"}]})
    r = web_client.post(
        url, data={"rule": bad}, headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert r.status_code == 422
    assert "At /conditions/0" in r.text


def test_edit_then_archive_and_restore(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    m = factory.merchant()
    city, other = unique("City"), unique("City")
    _shopper(db, factory, other)
    pid = _persona(db, m, city, name="Before")
    token = _signed_in(web_client, m.admin, m)
    url = f"/back-office/{m.id}/personas/{pid}"
    r = web_client.get(url)
    assert r.status_code == 200 and 'value="Before"' in r.text
    r = web_client.post(url, data=_form("After", _city_rule(other), csrf_token=token))
    assert r.status_code == 303, r.text
    with db.reading() as s:
        p = segments.get_persona(s, m.id, pid)
        assert p.name == "After" and p.member_count == 1
    # A stale version is refused with the form again.
    r = web_client.post(
        url, data=_form("Again", _city_rule(other), csrf_token=token, expected_version="1")
    )
    assert r.status_code == 422
    r = web_client.post(f"{url}/archive", data={"csrf_token": token})
    assert r.status_code == 303
    with db.reading() as s:
        p = segments.get_persona(s, m.id, pid)
        assert p.status == PersonaStatus.ARCHIVED and p.member_count == 0
    page = web_client.get(url)
    assert "Restore persona" in page.text
    r = web_client.post(f"{url}/restore", data={"csrf_token": token})
    assert r.status_code == 303
    with db.reading() as s:
        assert segments.get_persona(s, m.id, pid).status == PersonaStatus.ACTIVE


def test_staff_read_but_do_not_write(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    m = factory.merchant()
    pid = _persona(db, m, "Leiden")
    staff = factory.staff(m)
    token = _signed_in(web_client, staff, m)
    page = web_client.get(f"/back-office/{m.id}/personas")
    assert "New persona" not in page.text
    detail = web_client.get(f"/back-office/{m.id}/personas/{pid}")
    assert detail.status_code == 200
    assert "Save persona" not in detail.text and "Archive persona" not in detail.text
    assert web_client.get(f"/back-office/{m.id}/personas/new").status_code == 403
    r = web_client.post(
        f"/back-office/{m.id}/personas", data=_form("Nope", _city_rule("x"), csrf_token=token)
    )
    assert r.status_code == 403
    assert (
        web_client.post(
            f"/back-office/{m.id}/personas/{pid}/archive", data={"csrf_token": token}
        ).status_code
        == 403
    )


def test_other_merchants_personas_are_out_of_reach(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    mine, theirs = factory.merchant(), factory.merchant()
    their_persona = _persona(db, theirs, "Delft")
    _signed_in(web_client, mine.admin, mine)
    assert web_client.get(f"/back-office/{theirs.id}/personas").status_code == 403
    assert web_client.get(f"/back-office/{theirs.id}/personas/{their_persona}").status_code == 403
    # Their persona under my back-office: not found.
    assert web_client.get(f"/back-office/{mine.id}/personas/{their_persona}").status_code == 404


def test_anonymous_is_sent_to_sign_in(web_client: TestClient, factory: Factory) -> None:
    m = factory.merchant()
    r = web_client.get(f"/back-office/{m.id}/personas")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/shop/sign-in?next=")
