"""GS1 Digital Link resolver (content negotiation, linkType, linkset), items' Digital Links
and their QR codes."""

from __future__ import annotations

import pytest
import segno

from plaza.config import Settings
from tests.catalog_helpers import create_product
from tests.o2o.fitting_helpers import Store, make_store, new_gtin


@pytest.fixture
def store(db, factory) -> Store:
    return make_store(db, factory)


def _gtin(store: Store, size: str = "M", colour: str = "Blue") -> tuple[str, str]:
    vid = store.variants[(size, colour)]
    return store.gtins[vid], str(vid)


def test_browsers_are_redirected_to_the_product_page(client, store):
    gtin, vid = _gtin(store)
    page = f"/shop/products/{store.product_id}?variant={vid}"
    for accept in ("text/html,application/xhtml+xml,*/*;q=0.8", "*/*", None):
        headers = {"Accept": accept} if accept else {}
        r = client.get(f"/01/{gtin}", headers=headers, follow_redirects=False)
        assert r.status_code == 307, (accept, r.text)
        assert r.headers["location"].endswith(page)
        assert 'rel="linkset"' in r.headers["link"]
    # without a storefront setting, this site's own storefront page, variant preselected
    target = client.get(f"/01/{gtin}", follow_redirects=True)
    assert target.status_code == 200 and target.headers["content-type"].startswith("text/html")
    assert f'<option value="{vid}" selected>' in target.text


def test_storefront_setting_moves_the_product_page(client, store, app):
    gtin, vid = _gtin(store)
    old: Settings = app.state.settings
    app.state.settings = old.model_copy(update={"storefront_url": "https://shop.example/"})
    try:
        r = client.get(f"/01/{gtin}", follow_redirects=False)
        assert r.headers["location"] == (
            f"https://shop.example/shop/products/{store.product_id}?variant={vid}"
        )
    finally:
        app.state.settings = old


def test_machines_get_json_with_links(client, store):
    gtin, vid = _gtin(store, "L", "Black")
    r = client.get(f"/01/{gtin}/21/ABC-1", headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["gtin"], body["serial"], body["variant_id"]) == (gtin, "ABC-1", vid)
    assert body["label"] == "L / Black" and body["title"] == "Linen shirt"
    assert body["digital_link"].endswith(f"/01/{gtin}/21/ABC-1")
    types = {lk["link_type"] for lk in body["links"]}
    assert {"gs1:pip", "gs1:defaultLink", "gs1:masterData", "gs1:hasRetailers"} <= types
    assert body["offers"] == [
        {
            "merchant_id": str(store.merchant.id),
            "product_id": str(store.product_id),
            "variant_id": vid,
        }
    ]
    assert r.headers["vary"] == "Accept"


def test_link_types_and_linkset(client, store):
    gtin, vid = _gtin(store)
    r = client.get(f"/01/{gtin}", params={"linkType": "all"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/linkset+json")
    (ctx,) = r.json()["linkset"]
    assert ctx["anchor"].endswith(f"/01/{gtin}")
    assert ctx["https://gs1.org/voc/pip"][0]["href"].endswith(
        f"/shop/products/{store.product_id}?variant={vid}"
    )
    assert ctx["https://gs1.org/voc/pip"][0]["type"] == "text/html"
    assert ctx["https://gs1.org/voc/hasRetailers"][0]["href"].endswith(f"/variants/{vid}/stores")
    negotiated = client.get(f"/01/{gtin}", headers={"Accept": "application/linkset+json"})
    assert negotiated.json() == r.json()
    for link_type in ("gs1:masterData", "https://gs1.org/voc/masterData"):
        r = client.get(f"/01/{gtin}", params={"linkType": link_type}, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"].endswith(
            f"/products/{store.product_id}"
        )
    r = client.get(f"/01/{gtin}", params={"linkType": "gs1:hasRetailers"}, follow_redirects=False)
    assert r.headers["location"].endswith(f"/variants/{vid}/stores")
    # a link type the item lacks: the default link (GS1 resolver convention)
    r = client.get(f"/01/{gtin}", params={"linkType": "gs1:recipeInfo"}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith(
        f"/shop/products/{store.product_id}?variant={vid}"
    )


def test_bad_and_unknown_gtins(client, db, store):
    gtin, _ = _gtin(store)
    bad = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)
    r = client.get(f"/01/{bad}", headers={"Accept": "application/json"})
    assert r.status_code == 422 and r.json()["type"] == "/problems/digital-link-invalid"
    assert "check digit" in r.json()["detail"]
    r = client.get(f"/01/{new_gtin()}")
    assert r.status_code == 404 and r.json()["type"] == "/problems/not-found"
    assert client.get("/01/12AB").status_code == 422
    # a GTIN-13 is padded: the same item
    assert (
        client.get(f"/01/{gtin[1:]}", headers={"Accept": "application/json"}).json()["gtin"] == gtin
    )


def test_drafts_do_not_resolve(client, db, factory, store):
    gtin = new_gtin()
    _, (vid,) = create_product(db, store.merchant.id, status="draft", variants=[{"gtin": gtin}])
    assert client.get(f"/01/{gtin}").status_code == 404
    assert client.get(f"/variants/{vid}/digital-link").status_code == 404
    assert client.get(f"/variants/{vid}/qr.svg").status_code == 404


def test_variant_and_product_digital_links_and_qr_codes(client, db, store):
    gtin, vid = _gtin(store)
    r = client.get(f"/variants/{vid}/digital-link")
    assert r.status_code == 200
    link = r.json()
    assert link["digital_link"].endswith(f"/01/{gtin}") and link["gtin"] == gtin
    product = client.get(f"/products/{store.product_id}/digital-links").json()
    assert len(product["variants"]) == 6
    assert product["digital_link"] == product["variants"][0]["digital_link"]

    svg = client.get(f"/variants/{vid}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "max-age" in svg.headers["cache-control"] and b"<svg" in svg.content
    png = client.get(f"/variants/{vid}/qr.png", params={"scale": 2})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    # the QR code carries exactly the Digital Link (same encoder, same options)
    expected = segno.make(link["digital_link"], error="m", micro=False)
    assert png.content == _png(expected, 2)
    assert client.get(f"/variants/{vid}/qr.png", params={"scale": 99}).status_code == 422

    _, (plain,) = create_product(db, store.merchant.id, variants=[{}])
    r = client.get(f"/variants/{plain}/digital-link")
    assert r.status_code == 404 and r.json()["type"] == "/problems/digital-link-unavailable"


def _png(code: segno.QRCode, scale: int) -> bytes:
    import io

    buf = io.BytesIO()
    code.save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def test_resolver_description(client):
    r = client.get("/.well-known/gs1resolver")
    assert r.status_code == 200
    body = r.json()
    assert body["supportedPrimaryKeys"] == ["01"]
    assert {t["profile"] for t in body["supportedLinkType"]} >= {"gs1:pip", "gs1:defaultLink"}
