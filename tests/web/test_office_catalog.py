"""Back-office catalog pages: product list, new product, edit (optimistic concurrency),
variants and prices, archive; access per merchant."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient

from plaza.catalog import service
from plaza.catalog.schemas import ProductIn, ProductPatch
from plaza.db import Database

from ..factories import Factory, MerchantCtx
from .conftest import csrf_of, sign_in_web


def make_product(db: Database, merchant: MerchantCtx, **fields: Any) -> uuid.UUID:
    data: dict[str, Any] = {
        "title": "Linen shirt",
        "status": "active",
        "options": [{"name": "size", "values": ["S", "M"]}],
        "variants": [
            {
                "sku": f"LS-{uuid.uuid4().hex[:6]}",
                "options": {"size": "S"},
                "prices": [{"currency": "EUR", "amount": 4900}],
            }
        ],
    }
    data.update(fields)
    with db.transaction() as s:
        return service.create_product(s, merchant.id, ProductIn.model_validate(data)).id


def signed_in(web_client: TestClient, email: str, url: str) -> str:
    sign_in_web(web_client, email)
    r = web_client.get(url)
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


def test_product_list_links_each_product_by_title(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant, title="Blue scarf")
    make_product(db, merchant, title="Draft hat", status="draft")
    sign_in_web(web_client, merchant.admin.email)
    r = web_client.get(f"/back-office/{merchant.id}/products")
    assert r.status_code == 200
    assert f'<a href="/back-office/{merchant.id}/products/{pid}">Blue scarf</a>' in r.text
    assert "Draft hat" in r.text
    assert 'aria-current="page">Catalog' in r.text
    r = web_client.get(f"/back-office/{merchant.id}/products", params={"status": "draft"})
    assert "Draft hat" in r.text and "Blue scarf" not in r.text
    r = web_client.get(f"/back-office/{merchant.id}/products", params={"q": "scarf"})
    assert "Blue scarf" in r.text and "Draft hat" not in r.text


def test_product_list_paginates(web_client: TestClient, factory: Factory, db: Database) -> None:
    merchant = factory.merchant()
    for i in range(27):
        make_product(db, merchant, title=f"Item {i:02d}", variants=[], options=[])
    sign_in_web(web_client, merchant.admin.email)
    r = web_client.get(f"/back-office/{merchant.id}/products")
    found = re.search(r'href="([^"]+)" rel="next"', r.text)
    assert found
    r2 = web_client.get(found.group(1).replace("&amp;", "&"))
    assert r2.status_code == 200
    assert r2.text.count("/products/0") + r2.text.count(">Item ") >= 2


def test_create_product_through_the_form(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    base = f"/back-office/{merchant.id}"
    token = signed_in(web_client, merchant.admin.email, f"{base}/products/new")
    r = web_client.post(
        f"{base}/products/new",
        data={
            "csrf_token": token,
            "title": "Wool coat",
            "description": "Warm.",
            "tags": "winter, Wool",
            "status": "active",
            "options": "size: S, M, L",
            "sku": "COAT-1",
            "variant_options": "size=M",
            "price": "129.90",
            "currency": "EUR",
        },
    )
    assert r.status_code == 303, r.text
    pid = uuid.UUID(r.headers["location"].rsplit("/", 1)[1])
    with db.reading() as s:
        p = service.product_view(s, service.get_product(s, merchant.id, pid))
    assert p.title == "Wool coat" and p.tags == ["winter", "wool"]
    assert p.variants[0].sku == "COAT-1" and p.variants[0].options == {"size": "M"}
    assert p.variants[0].prices[0].amount == 12990
    page = web_client.get(r.headers["location"])
    assert "Product “Wool coat” created." in page.text
    assert '<label for="title">Title' in page.text and ">Save</button>" in page.text


def test_create_product_errors_keep_the_input(web_client: TestClient, factory: Factory) -> None:
    merchant = factory.merchant()
    base = f"/back-office/{merchant.id}"
    token = signed_in(web_client, merchant.admin.email, f"{base}/products/new")
    r = web_client.post(
        f"{base}/products/new",
        data={
            "csrf_token": token,
            "title": "",
            "description": "Kept description",
            "options": "size S M",
            "status": "draft",
        },
    )
    assert r.status_code == 422
    assert "Kept description" in r.text
    assert 'aria-invalid="true"' in r.text
    assert "Options:" in r.text
    r = web_client.post(
        f"{base}/products/new",
        data={"csrf_token": token, "title": "Hat", "sku": "H1", "price": "12.345"},
    )
    assert r.status_code == 422
    assert "at most 2 decimal places" in r.text
    assert 'value="Hat"' in r.text


def test_edit_product_saves_and_the_storefront_shows_it(
    web_client: TestClient, client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant)
    assert client.get(f"/products/{pid}").json()["title"] == "Linen shirt"  # cached now
    url = f"/back-office/{merchant.id}/products/{pid}"
    sign_in_web(web_client, merchant.admin.email)
    page = web_client.get(url)
    assert 'name="version" value="1"' in page.text
    r = web_client.post(
        url,
        data={
            "csrf_token": csrf_of(page.text),
            "version": "1",
            "title": "Linen shirt, relaxed",
            "handle": "linen-shirt",
            "description": "New cut.",
            "brand": "",
            "status": "active",
            "category_id": "",
            "tags": "summer",
            "options": "size: S, M",
        },
    )
    assert r.status_code == 303, r.text
    assert client.get(f"/products/{pid}").json()["title"] == "Linen shirt, relaxed"
    assert "Product saved." in web_client.get(url).text


def test_stale_version_shows_a_conflict_and_keeps_the_input(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant)
    url = f"/back-office/{merchant.id}/products/{pid}"
    token = signed_in(web_client, merchant.admin.email, url)
    with db.transaction() as s:  # someone else saves meanwhile
        service.update_product(s, merchant.id, pid, ProductPatch(title="Their title"))
    form = {
        "csrf_token": token,
        "version": "1",
        "title": "My title",
        "handle": "linen-shirt",
        "description": "My words",
        "status": "active",
        "options": "size: S, M",
    }
    r = web_client.post(url, data=form)
    assert r.status_code == 409
    assert "Someone else changed this product" in r.text
    assert 'value="My title"' in r.text and "My words" in r.text
    assert "Their title" in r.text  # the saved value, shown for comparison
    assert 'name="version" value="2"' in r.text
    with db.reading() as s:
        assert service.get_product(s, merchant.id, pid).title == "Their title"
    r = web_client.post(url, data={**form, "version": "2"})  # deliberate second save
    assert r.status_code == 303
    with db.reading() as s:
        assert service.get_product(s, merchant.id, pid).title == "My title"


def test_edit_errors_are_shown_by_the_field(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant)
    make_product(db, merchant, title="Other", handle="taken-handle", variants=[])
    url = f"/back-office/{merchant.id}/products/{pid}"
    token = signed_in(web_client, merchant.admin.email, url)
    base = {"csrf_token": token, "version": "1", "status": "active", "options": "size: S, M"}
    r = web_client.post(url, data={**base, "title": "", "handle": "linen-shirt"})
    assert r.status_code == 422 and 'id="title-error"' in r.text
    r = web_client.post(url, data={**base, "title": "T", "handle": "taken-handle"})
    assert r.status_code == 422 and 'id="handle-error"' in r.text
    r = web_client.post(url, data={**base, "title": "T", "handle": "h", "options": "size: M"})
    assert r.status_code == 422 and 'id="options-error"' in r.text  # S is in use


def test_archive_product(web_client: TestClient, factory: Factory, db: Database) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant)
    url = f"/back-office/{merchant.id}/products/{pid}"
    token = signed_in(web_client, merchant.admin.email, url)
    r = web_client.post(f"{url}/archive", data={"csrf_token": token, "version": "1"})
    assert r.status_code == 303
    with db.reading() as s:
        assert service.get_product(s, merchant.id, pid).status.value == "archived"
    assert "Product archived" in web_client.get(url).text


def test_variants_and_prices(web_client: TestClient, factory: Factory, db: Database) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant)
    base = f"/back-office/{merchant.id}/products/{pid}"
    token = signed_in(web_client, merchant.admin.email, f"{base}/variants/new")
    r = web_client.post(
        f"{base}/variants/new",
        data={"csrf_token": token, "sku": "LS-M", "option.size": "S", "price.EUR": "49"},
    )
    assert r.status_code == 422 and "variant_options-error" in r.text  # S is taken
    assert 'value="LS-M"' in r.text
    r = web_client.post(
        f"{base}/variants/new",
        data={
            "csrf_token": token,
            "sku": "LS-M",
            "gtin": "4006381333931",
            "option.size": "M",
            "price.EUR": "49.00",
            "new_currency": "usd",
            "new_amount": "55",
        },
    )
    assert r.status_code == 303, r.text
    with db.reading() as s:
        p = service.product_view(s, service.get_product(s, merchant.id, pid))
    v = next(v for v in p.variants if v.sku == "LS-M")
    assert {(x.currency, x.amount) for x in v.prices} == {("EUR", 4900), ("USD", 5500)}
    assert v.gtin == "04006381333931"
    vurl = f"{base}/variants/{v.id}"
    page = web_client.get(vurl)
    assert 'name="price.USD"' in page.text
    r = web_client.post(
        vurl,
        data={
            "csrf_token": token,
            "sku": "LS-M2",
            "gtin": "",
            "option.size": "M",
            "status": "active",
            "price.EUR": "45",
            "compare.EUR": "49",
            "price.USD": "",
        },
    )
    assert r.status_code == 303, r.text
    with db.reading() as s:
        v2 = service.variant_view(s, service.get_variant(s, merchant.id, v.id))
    assert v2.sku == "LS-M2" and v2.gtin is None
    assert [(x.currency, x.amount, x.compare_at_amount) for x in v2.prices] == [("EUR", 4500, 4900)]
    r = web_client.post(vurl, data={"csrf_token": token, "sku": "LS-M2", "price.EUR": "x"})
    assert r.status_code == 422 and "enter an amount such as 25 or 19.99" in r.text
    r = web_client.post(f"{vurl}/archive", data={"csrf_token": token})
    assert r.status_code == 303
    with db.reading() as s:
        assert service.get_variant(s, merchant.id, v.id).status.value == "archived"


def test_other_merchants_product_is_not_found(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    mine, theirs = factory.merchant(), factory.merchant()
    pid = make_product(db, theirs)
    token = signed_in(web_client, mine.admin.email, f"/back-office/{mine.id}/products")
    assert web_client.get(f"/back-office/{mine.id}/products/{pid}").status_code == 404
    r = web_client.post(
        f"/back-office/{mine.id}/products/{pid}",
        data={"csrf_token": token, "version": "1", "title": "x", "handle": "x", "status": "draft"},
    )
    assert r.status_code == 404
    assert web_client.get(f"/back-office/{theirs.id}/products").status_code == 403
    with db.reading() as s:
        assert service.get_product(s, theirs.id, pid).title == "Linen shirt"


def test_access_anonymous_staff_and_strangers(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant)
    url = f"/back-office/{merchant.id}/products/{pid}"
    r = web_client.get(url)
    assert r.status_code == 303 and r.headers["location"].startswith("/shop/sign-in?next=")
    # The catalog API lets staff (not only admins) write products: so do the pages.
    staff = factory.staff(merchant)
    token = signed_in(web_client, staff.email, url)
    r = web_client.post(
        url,
        data={
            "csrf_token": token,
            "version": "1",
            "title": "By staff",
            "handle": "linen-shirt",
            "status": "active",
            "options": "size: S, M",
        },
    )
    assert r.status_code == 303
    stranger = TestClient(web_client.app, headers=dict(web_client.headers), follow_redirects=False)
    sign_in_web(stranger, factory.user().email)
    assert stranger.get(url).status_code == 403
