"""Stores: profiles (hours in the store's timezone), zones, staff, the public store finder
and "find in store" — happy paths, bad inputs, tenancy."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from plaza.inventory import service as inventory
from plaza.inventory.models import LocationKind
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.geo import bounding_box, haversine_km
from plaza.o2o.stores.models import StoreProfile
from plaza.o2o.stores.schemas import StoreProfileIn
from tests.catalog_helpers import create_product

from .stores_helpers import ALL_WEEK, AMSTERDAM, LONDON, PARIS, ROTTERDAM, add_store, store_world

VALIDATION = "/problems/validation-error"


def _url(world, store: str = "ams") -> str:  # type: ignore[no-untyped-def]
    return f"/merchants/{world.merchant.id}/stores/{world.stores[store]}"


# --- geometry -----------------------------------------------------------------------------


def test_haversine_matches_known_distances():
    assert haversine_km(*PARIS, *LONDON) == pytest.approx(343.5, abs=1.0)
    # Rosetta Code's haversine task: Nashville BNA to Los Angeles LAX is 2887.26 km on a
    # sphere of radius 6372.8 km; scaled to the mean radius used here.
    bna_lax = haversine_km(36.12, -86.67, 33.94, -118.40)
    assert bna_lax == pytest.approx(2887.26 * 6371.0088 / 6372.8, abs=0.05)
    assert 55 < haversine_km(*AMSTERDAM, *ROTTERDAM) < 60
    # One degree of latitude on the mean sphere, and zero for the same point.
    assert haversine_km(0, 0, 1, 0) == pytest.approx(111.195, abs=0.01)
    assert haversine_km(*PARIS, *PARIS) == 0
    # Antipodes: half the circumference.
    assert haversine_km(0, 0, 0, 180) == pytest.approx(20015.1, abs=0.5)


def test_bounding_box_contains_the_circle():
    box = bounding_box(52.0, 4.0, 10)
    # Points exactly 10 km north and east lie inside it.
    assert box.min_lat < 52.0 - 0.0899 and box.max_lat > 52.0 + 0.0899
    assert box.max_lon > 4.0 + 0.146
    polar = bounding_box(89.99, 0, 50)
    assert (polar.min_lon, polar.max_lon) == (-180.0, 180.0)


# --- profile ------------------------------------------------------------------------------


def test_profile_round_trip_and_open_now(client, db, factory):
    w = store_world(db, factory)
    h = w.merchant.admin.headers
    r = client.get(_url(w), headers=h)
    assert r.status_code == 200 and r.json()["open_now"] is None  # no hours yet
    body = {
        "phone": "+31 20 123 4567",
        "services": ["click_collect", "fitting_rooms"],
        "hours": {
            "mon": [{"open": "13:00", "close": "18:00"}, {"open": "09:00", "close": "12:00"}]
        },
        "exceptions": [{"date": "2026-12-25", "closed": True, "note": "Christmas"}],
    }
    r = client.put(_url(w), json=body, headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["timezone"] == "Europe/Amsterdam"  # the location's
    assert [i["open"] for i in out["hours"]["mon"]] == ["09:00", "13:00"]  # sorted
    assert out["exceptions"][0]["closed"] is True
    assert client.get(_url(w), headers=h).json()["services"] == ["click_collect", "fitting_rooms"]


@pytest.mark.parametrize(
    "body",
    [
        {
            "hours": {
                "mon": [{"open": "09:00", "close": "13:00"}, {"open": "12:00", "close": "18:00"}]
            }
        },
        {"hours": {"tue": [{"open": "18:00", "close": "09:00"}]}},  # close before open
        {"hours": {"tue": [{"open": "09:00", "close": "09:00"}]}},
        {"hours": {"tue": [{"open": "25:00", "close": "26:00"}]}},
        {"hours": {"funday": [{"open": "09:00", "close": "10:00"}]}},
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": "../etc/passwd"},
        {
            "exceptions": [
                {
                    "date": "2026-12-25",
                    "closed": True,
                    "hours": [{"open": "09:00", "close": "10:00"}],
                }
            ]
        },
        {"exceptions": [{"date": "2026-12-25"}]},
        {
            "exceptions": [
                {"date": "2026-12-25", "closed": True},
                {"date": "2026-12-25", "closed": True},
            ]
        },
        {"services": ["teleport"]},
        {"phone": "<script>"},
        {"surprise": 1},
    ],
)
def test_bad_profiles_are_validation_errors(client, db, factory, body):
    w = store_world(db, factory)
    r = client.put(_url(w), json=body, headers=w.merchant.admin.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == VALIDATION


def test_warehouse_is_not_a_store_and_other_merchants_get_404(client, db, factory):
    w = store_world(db, factory)
    wh = add_store(db, w.merchant.id, AMSTERDAM, kind=LocationKind.WAREHOUSE)
    h = w.merchant.admin.headers
    r = client.put(f"/merchants/{w.merchant.id}/stores/{wh}", json={}, headers=h)
    assert r.status_code == 409 and r.json()["type"] == "/problems/not-a-store"
    other = store_world(db, factory)
    # Naming another merchant's store under one's own path: not found.
    r = client.get(f"/merchants/{w.merchant.id}/stores/{other.stores['ams']}", headers=h)
    assert r.status_code == 404
    r = client.get(f"/merchants/{w.merchant.id}/stores/{uuid.uuid4()}/zones", headers=h)
    assert r.status_code == 404


def test_open_now_uses_the_store_timezone(db, factory):
    w = store_world(db, factory)
    ny = add_store(db, w.merchant.id, (40.7128, -74.0060), timezone="America/New_York")
    with db.transaction() as s:
        data = StoreProfileIn.model_validate(
            {
                "hours": {"mon": [{"open": "09:00", "close": "17:00"}]},
                "exceptions": [{"date": "2026-01-19", "closed": True}],
            }
        )
        stores.save_profile(s, w.merchant.id, ny, data)
        store = stores.get_store(s, w.merchant.id, ny)
        # Monday 2026-01-12 14:30 UTC is 09:30 in New York (EST, UTC-5): open.
        assert stores.is_open(store, dt.datetime(2026, 1, 12, 14, 30, tzinfo=dt.UTC)) is True
        # 13:30 UTC is 08:30 there: not yet, though it is 14:30 in Amsterdam.
        assert stores.is_open(store, dt.datetime(2026, 1, 12, 13, 30, tzinfo=dt.UTC)) is False
        # Closing time itself is closed.
        assert stores.is_open(store, dt.datetime(2026, 1, 12, 22, 0, tzinfo=dt.UTC)) is False
        # The exception closes a Monday.
        assert stores.is_open(store, dt.datetime(2026, 1, 19, 15, 0, tzinfo=dt.UTC)) is False
        # Tuesday has no hours: closed. A store without a profile: unknown.
        assert stores.is_open(store, dt.datetime(2026, 1, 13, 15, 0, tzinfo=dt.UTC)) is False
        bare = stores.get_store(s, w.merchant.id, w.stores["ams"])
        assert stores.is_open(bare) is None
        # A profile timezone overrides the location's.
        stores.save_profile(
            s,
            w.merchant.id,
            ny,
            StoreProfileIn.model_validate(
                {"timezone": "Europe/Amsterdam", "hours": data.model_dump()["hours"]}
            ),
        )
        store = stores.get_store(s, w.merchant.id, ny)
        assert stores.is_open(store, dt.datetime(2026, 1, 12, 13, 30, tzinfo=dt.UTC)) is True
        assert isinstance(store.profile, StoreProfile)


# --- zones and staff ------------------------------------------------------------------------


def test_zone_crud_and_code_conflict(client, db, factory):
    w = store_world(db, factory)
    h = w.merchant.admin.headers
    base = f"{_url(w)}/zones"
    r = client.post(
        base, json={"code": "FIT", "name": "Fitting rooms", "kind": "fitting"}, headers=h
    )
    assert r.status_code == 201, r.text
    zone = r.json()
    r = client.post(base, json={"code": "FIT", "name": "Again", "kind": "fitting"}, headers=h)
    assert r.status_code == 409 and r.json()["type"] == "/problems/zone-code-taken"
    r = client.post(base, json={"code": "bad code!", "name": "x", "kind": "fitting"}, headers=h)
    assert r.status_code == 422
    r = client.post(base, json={"code": "X", "name": "x", "kind": "spaceport"}, headers=h)
    assert r.status_code == 422
    r = client.patch(f"{base}/{zone['id']}", json={"name": "Cabins"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "Cabins"
    r = client.patch(f"{base}/{zone['id']}", json={"code": "MENS"}, headers=h)
    assert r.status_code == 409
    r = client.patch(f"{base}/{zone['id']}", json={"name": None}, headers=h)
    assert r.status_code == 422
    codes = [z["code"] for z in client.get(base, headers=h).json()["items"]]
    assert codes == ["ENTRANCE", "FIT", "MENS"]
    assert client.delete(f"{base}/{zone['id']}", headers=h).status_code == 204
    assert client.get(f"{base}/{zone['id']}", headers=h).status_code == 404
    # Another merchant's zone id under this store: not found.
    other = store_world(db, factory)
    r = client.get(f"{base}/{other.zones['entrance']}", headers=h)
    assert r.status_code == 404


def test_store_staff_must_be_merchant_members(client, db, factory):
    w = store_world(db, factory)
    h = w.merchant.admin.headers
    clerk = factory.staff(w.merchant)
    stranger = factory.user()
    r = client.put(f"{_url(w)}/staff/{stranger.id}", json={}, headers=h)
    assert r.status_code == 422 and r.json()["type"] == "/problems/not-a-merchant-member"
    r = client.put(f"{_url(w)}/staff/{clerk.id}", json={"role": "manager"}, headers=h)
    assert r.status_code == 200 and r.json()["role"] == "manager"
    # Staff may read, not assign.
    assert client.get(f"{_url(w)}/staff", headers=clerk.headers).json()["items"][0][
        "user_id"
    ] == str(clerk.id)
    r = client.put(f"{_url(w)}/staff/{clerk.id}", json={}, headers=clerk.headers)
    assert r.status_code == 403
    assert client.delete(f"{_url(w)}/staff/{clerk.id}", headers=h).status_code == 204
    assert client.delete(f"{_url(w)}/staff/{clerk.id}", headers=h).status_code == 404


# --- public finder ------------------------------------------------------------------------------


def test_public_store_finder_orders_by_distance(client, db, factory):
    w = store_world(db, factory)
    h = w.merchant.admin.headers
    # Three stores around a point far from every other test's stores (the Atlantic).
    here = (10.0, -30.0)
    near = add_store(db, w.merchant.id, (10.01, -30.0), name="Near")  # ~1.1 km
    mid = add_store(db, w.merchant.id, (10.05, -30.0), name="Mid")  # ~5.6 km
    add_store(db, w.merchant.id, (10.5, -30.0), name="Far")  # ~55.6 km
    client.put(f"/merchants/{w.merchant.id}/stores/{near}", json={"hours": ALL_WEEK}, headers=h)
    r = client.get("/stores", params={"lat": here[0], "lon": here[1], "radius_km": 10})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [str(near), str(mid)]
    assert items[0]["distance_km"] == pytest.approx(1.112, abs=0.01)
    assert items[0]["open_now"] is True and items[1]["open_now"] is None
    r = client.get(f"/stores/{near}")
    assert r.status_code == 200 and r.json()["zones"] == []
    # A closed merchant's stores disappear from the public views.
    with db.transaction() as s:
        from plaza.identity import service as identity

        identity.update_merchant(s, w.merchant.id, {"is_active": False})
    assert client.get("/stores", params={"lat": 10, "lon": -30, "radius_km": 10}).json() == {
        "items": []
    }
    assert client.get(f"/stores/{near}").status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"lat": 91, "lon": 0},
        {"lat": 0, "lon": -181},
        {"lat": 10},
        {"lat": 0, "lon": 0, "radius_km": 0},
        {"lat": 0, "lon": 0, "radius_km": 501},
        {"lat": "north", "lon": 0},
    ],
)
def test_bad_coordinates_are_rejected(client, params):
    r = client.get("/stores", params=params)
    assert r.status_code == 422 and r.json()["type"] == VALIDATION


# --- find in store -------------------------------------------------------------------------------


def test_find_in_store_by_distance_with_reservations_and_bands(client, db, factory):
    w = store_world(db, factory)
    m = w.merchant.id
    here = (-20.0, 60.0)  # the Indian Ocean: only this test's stores are near
    a = add_store(db, m, (-20.02, 60.0), name="A")  # ~2.2 km
    b = add_store(db, m, (-20.005, 60.0), name="B")  # ~0.6 km
    c = add_store(db, m, (-20.04, 60.0), name="C")  # ~4.4 km
    wh = add_store(db, m, (-20.0, 60.0), kind=LocationKind.WAREHOUSE)
    _, (variant,) = create_product(db, m)
    with db.transaction() as s:
        for loc, qty in ((a, 20), (b, 3), (c, 2), (wh, 100)):
            inventory.set_stock(s, merchant_id=m, variant_id=variant, location_id=loc, on_hand=qty)
        # Both units at C are held by a checkout: C must not be offered.
        inventory.reserve(
            s,
            merchant_id=m,
            variant_id=variant,
            quantity=2,
            reference="order-x",
            ttl_seconds=600,
            location_id=c,
        )
    r = client.get(f"/variants/{variant}/stores", params={"lat": here[0], "lon": here[1]})
    assert r.status_code == 200, r.text
    body = r.json()
    got = [(i["store"]["id"], i["stock"], i["quantity"]) for i in body["items"]]
    assert got == [(str(b), "low", 3), (str(a), "in_stock", None)]  # warehouse never listed
    assert body["quantity_exact_up_to"] == 5
    assert body["items"][0]["store"]["distance_km"] == pytest.approx(0.556, abs=0.01)
    r = client.get(
        f"/variants/{variant}/stores", params={"lat": here[0], "lon": here[1], "limit": 1}
    )
    assert len(r.json()["items"]) == 1
    r = client.get(
        f"/variants/{variant}/stores", params={"lat": here[0], "lon": here[1], "radius_km": 1}
    )
    assert [i["store"]["id"] for i in r.json()["items"]] == [str(b)]


def test_find_in_store_bad_inputs(client):
    r = client.get(f"/variants/{uuid.uuid4()}/stores", params={"lat": 0, "lon": 0})
    assert r.status_code == 404 and r.json()["type"] == "/problems/not-found"
    r = client.get(f"/variants/{uuid.uuid4()}/stores", params={"lat": 0})
    assert r.status_code == 422
    r = client.get(f"/variants/{uuid.uuid4()}/stores", params={"lat": -95, "lon": 0})
    assert r.status_code == 422
