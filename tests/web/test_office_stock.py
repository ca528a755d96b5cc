"""Back-office stock pages: levels per variant and location, low stock in words, the
adjust form (delta with a reason, or an absolute count)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from plaza.catalog import service as catalog
from plaza.db import Database
from plaza.inventory import service as inventory
from plaza.inventory.schemas import LocationIn

from ..factories import Factory, MerchantCtx, unique
from .conftest import csrf_of, sign_in_web
from .test_office_catalog import make_product


def make_location(db: Database, merchant: MerchantCtx, name: str, threshold: int = 3) -> uuid.UUID:
    body = LocationIn.model_validate(
        {
            "code": unique("LOC"),
            "name": name,
            "kind": "store",
            "address": {"line1": "1 Main St", "city": "Lyon", "country": "FR"},
            "low_stock_threshold": threshold,
        }
    )
    with db.transaction() as s:
        return inventory.create_location(s, merchant.id, **body.columns()).id


def first_variant(db: Database, merchant: MerchantCtx, product_id: uuid.UUID) -> uuid.UUID:
    with db.reading() as s:
        return (
            catalog.product_view(s, catalog.get_product(s, merchant.id, product_id)).variants[0].id
        )


def test_stock_levels_show_low_stock_in_words(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    vid = first_variant(db, merchant, make_product(db, merchant, title="Canvas bag"))
    shop, depot = make_location(db, merchant, "Lyon shop"), make_location(db, merchant, "Depot")
    with db.transaction() as s:
        inventory.set_stock(s, merchant_id=merchant.id, variant_id=vid, location_id=shop, on_hand=2)
        inventory.set_stock(
            s, merchant_id=merchant.id, variant_id=vid, location_id=depot, on_hand=40
        )
    sign_in_web(web_client, merchant.admin.email)
    r = web_client.get(f"/back-office/{merchant.id}/stock")
    assert r.status_code == 200
    assert "Canvas bag" in r.text and "Lyon shop" in r.text and "Depot" in r.text
    assert "Low stock" in r.text and "In stock" in r.text
    assert '<th scope="col" class="num">Available</th>' in r.text
    r = web_client.get(f"/back-office/{merchant.id}/stock", params={"low": "true"})
    assert "<td>Lyon shop</td>" in r.text and "<td>Depot</td>" not in r.text
    r = web_client.get(f"/back-office/{merchant.id}/stock", params={"location_id": str(depot)})
    assert "<td>Depot</td>" in r.text and "<td>Lyon shop</td>" not in r.text


def test_adjust_stock_by_delta_and_by_count(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    vid = first_variant(db, merchant, make_product(db, merchant))
    loc = make_location(db, merchant, "Main")
    url = f"/back-office/{merchant.id}/stock/adjust"
    sign_in_web(web_client, merchant.admin.email)
    page = web_client.get(url, params={"variant_id": str(vid), "location_id": str(loc)})
    assert page.status_code == 200
    assert '<label for="quantity">Quantity' in page.text
    token = csrf_of(page.text)
    form = {"csrf_token": token, "variant_id": str(vid), "location_id": str(loc)}
    r = web_client.post(url, data={**form, "mode": "delta", "quantity": "10", "reason": "receipt"})
    assert r.status_code == 303, r.text
    assert "Stock updated." in web_client.get(r.headers["location"]).text
    with db.reading() as s:
        level = inventory.get_level(s, merchant.id, vid, loc)
        assert level is not None and level.on_hand == 10
    # A receipt cannot remove units: the schema's rule, shown by the field, input kept.
    r = web_client.post(url, data={**form, "mode": "delta", "quantity": "-3", "reason": "receipt"})
    assert r.status_code == 422 and "delta must be positive" in r.text
    assert 'value="-3"' in r.text
    r = web_client.post(url, data={**form, "mode": "delta", "quantity": "lots"})
    assert r.status_code == 422 and 'id="quantity-error"' in r.text
    r = web_client.post(
        url, data={**form, "mode": "set", "quantity": "7", "expected_on_hand": "10"}
    )
    assert r.status_code == 303, r.text
    # A count made against an outdated number is refused.
    r = web_client.post(
        url, data={**form, "mode": "set", "quantity": "5", "expected_on_hand": "10"}
    )
    assert r.status_code == 422 and "not 10" in r.text
    with db.reading() as s:
        level = inventory.get_level(s, merchant.id, vid, loc)
        assert level is not None and level.on_hand == 7


def test_adjusting_another_merchants_variant_is_refused(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    mine, theirs = factory.merchant(), factory.merchant()
    their_variant = first_variant(db, theirs, make_product(db, theirs))
    loc = make_location(db, mine, "Mine")
    sign_in_web(web_client, mine.admin.email)
    page = web_client.get(f"/back-office/{mine.id}/stock/adjust")
    assert their_variant.hex not in page.text.replace("-", "")
    r = web_client.post(
        f"/back-office/{mine.id}/stock/adjust",
        data={
            "csrf_token": csrf_of(page.text),
            "variant_id": str(their_variant),
            "location_id": str(loc),
            "mode": "delta",
            "quantity": "5",
        },
    )
    assert r.status_code == 422 and 'id="variant_id-error"' in r.text
    with db.reading() as s:
        assert inventory.get_level(s, theirs.id, their_variant, loc) is None
    assert web_client.get(f"/back-office/{theirs.id}/stock").status_code == 403


def test_staff_may_adjust_and_anonymous_is_sent_to_sign_in(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    r = web_client.get(f"/back-office/{merchant.id}/stock")
    assert r.status_code == 303 and "/shop/sign-in" in r.headers["location"]
    staff = factory.staff(merchant)
    sign_in_web(web_client, staff.email)
    assert web_client.get(f"/back-office/{merchant.id}/stock/adjust").status_code == 200
