"""Storefront browse pages: home, categories, search (modes, filters, persona switcher),
the product page (variants, stock in stores, customiser, live price) and what never shows
(drafts, archived products, other people's personas)."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from plaza.catalog import customisation
from plaza.catalog import service as catalog
from plaza.catalog.customisation import CustomisationSpec
from plaza.catalog.schemas import CategoryIn
from plaza.db import Database
from plaza.personas import activity
from plaza.personas.models import ActivityKind
from tests.catalog_helpers import create_product
from tests.factories import Factory, unique
from tests.o2o.fitting_helpers import make_store
from tests.personas.test_recommend_helpers import COATS, KITCHEN, consent, make_catalog, persona

from .conftest import sign_in_web

HX = {"HX-Request": "true"}


def h1s(html: str) -> list[str]:
    return re.findall(r"<h1[^>]*>(.*?)</h1>", html, re.S)


def unlabelled_inputs(html: str) -> list[str]:
    """Ids of visible inputs/selects/textareas without a <label for=…> (or none at all)."""
    labels = set(re.findall(r'<label[^>]*for="([^"]+)"', html))
    missing = []
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if 'type="hidden"' in tag:
            continue
        found = re.search(r'\bid="([^"]+)"', tag)
        if found is None or found.group(1) not in labels:
            missing.append(tag)
    return missing


def assert_page(r, *, status: int = 200) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text[:2000]
    assert r.headers["content-type"].startswith("text/html")
    assert len(h1s(r.text)) == 1, h1s(r.text)
    assert unlabelled_inputs(r.text) == []
    assert "style=" not in r.text and "<script>" not in r.text
    return str(r.text)


def card_titles(html: str) -> list[str]:
    return [
        t.strip()
        for t in re.findall(
            r'class="product-card-link"[^>]*>.*?<span class="product-card-title">(.*?)</span>',
            html,
            re.S,
        )
    ]


def category(db: Database, name: str, parent: uuid.UUID | None = None) -> uuid.UUID:
    with db.transaction() as s:
        return catalog.create_category(
            s, CategoryIn(slug=unique("cat").lower(), name=name, parent_id=parent)
        ).id


SPEC = {
    "groups": [
        {
            "code": "sole",
            "label": "Sole",
            "kind": "choice",
            "required": True,
            "options": [
                {"code": "white", "label": "White"},
                {"code": "black", "label": "Black", "price_delta": {"EUR": 500}},
                {"code": "gum", "label": "Gum", "available": False},
            ],
        },
        {
            "code": "laces",
            "label": "Laces",
            "kind": "multi",
            "max_selections": 2,
            "options": [
                {"code": "red", "label": "Red", "price_delta": {"EUR": 100}},
                {"code": "blue", "label": "Blue", "price_delta": {"EUR": 100}},
                {"code": "green", "label": "Green"},
            ],
        },
        {
            "code": "engraving",
            "label": "Engraving",
            "kind": "text",
            "max_length": 8,
            "price_delta": {"EUR": 300},
        },
    ]
}


@pytest.fixture
def sneaker(db: Database, factory: Factory):  # type: ignore[no-untyped-def]
    merchant = factory.merchant()
    pid, (vid,) = create_product(
        db, merchant.id, title=unique("Sneaker"), variants=[{"prices": {"EUR": 9900}}]
    )
    with db.transaction() as s:
        customisation.set_customisation(s, merchant.id, pid, CustomisationSpec.model_validate(SPEC))
    return merchant, pid, vid


# ------------------------------------------------------------------------------ home


def test_home_shows_new_products_and_categories(web_client: TestClient, db, factory) -> None:
    merchant = factory.merchant()
    title = unique("Fresh Tee")
    create_product(db, merchant.id, title=title)
    root = category(db, unique("Clothing"))
    html = assert_page(web_client.get("/shop"))
    assert "New in" in html and title in card_titles(html)
    assert f'href="/shop/categories/{root}"' in html or 'href="/shop/categories"' in html
    assert "Picked for you" not in html


def test_home_picks_for_a_customer_who_allows_personalisation(
    web_client: TestClient, db, factory
) -> None:
    user = factory.user()
    sign_in_web(web_client, user.email)
    html = assert_page(web_client.get("/shop"))
    assert "Picked for you" not in html and "Allow personalisation" in html
    consent(db, user.id)
    html = assert_page(web_client.get("/shop"))
    assert "Picked for you" in html


# ------------------------------------------------------------------------ categories


def test_categories_tree_and_a_category_with_its_sub_categories(
    web_client: TestClient, db, factory
) -> None:
    merchant = factory.merchant()
    root = category(db, unique("Shoes"))
    child = category(db, unique("Boots"), parent=root)
    other = category(db, unique("Hats"))
    boot = unique("Rain Boot")
    hat = unique("Sun Hat")
    create_product(db, merchant.id, title=boot, category_id=child)
    create_product(db, merchant.id, title=hat, category_id=other)
    create_product(db, merchant.id, title=unique("Draft Boot"), category_id=child, status="draft")
    tree = assert_page(web_client.get("/shop/categories"))
    assert f'href="/shop/categories/{root}"' in tree and f'href="/shop/categories/{child}"' in tree
    html = assert_page(web_client.get(f"/shop/categories/{root}"))
    titles = card_titles(html)
    assert titles == [boot]  # the sub-category's products, not drafts nor other categories
    assert f'href="/shop/categories/{child}"' in html  # sub-categories are listed


def test_category_pages_have_a_more_link(web_client: TestClient, db, factory) -> None:
    merchant = factory.merchant()
    cat = category(db, unique("Socks"))
    for i in range(21):
        create_product(db, merchant.id, title=f"Sock {i:02d}", category_id=cat)
    first = assert_page(web_client.get(f"/shop/categories/{cat}", params={"sort": "title"}))
    assert len(card_titles(first)) == 20
    more = re.search(
        r'<a class="button button-secondary" href="([^"]+)" rel="next">More</a>', first
    )
    assert more is not None
    second = assert_page(web_client.get(more.group(1).replace("&amp;", "&")))
    assert card_titles(second) == ["Sock 20"]


def test_unknown_category_is_a_404_page(web_client: TestClient) -> None:
    r = web_client.get(f"/shop/categories/{uuid.uuid4()}")
    assert_page(r, status=404)


# ---------------------------------------------------------------------------- search


def test_search_page_without_words_lists_products(web_client: TestClient) -> None:
    html = assert_page(web_client.get("/shop/search"))
    assert 'id="search-results"' in html and 'aria-live="polite"' in html
    assert 'hx-get="/shop/search"' in html and 'hx-push-url="true"' in html
    assert '<label for="q">Search for</label>' in html


def test_keyword_search_and_filters_change_results(web_client: TestClient, db, factory) -> None:
    word = uuid.uuid4().hex[:10]
    mine, theirs = factory.merchant(), factory.merchant()
    cheap, dear = f"Cheap {word} mug", f"Dear {word} mug"
    create_product(db, mine.id, title=cheap, variants=[{"prices": {"EUR": 500}}])
    create_product(db, mine.id, title=dear, variants=[{"prices": {"EUR": 5000}}])
    elsewhere = f"Other {word} mug"
    create_product(db, theirs.id, title=elsewhere, variants=[{"prices": {"EUR": 700}}])
    create_product(db, theirs.id, title=f"Secret {word} mug", status="draft")

    def titles(**params: str) -> list[str]:
        r = web_client.get("/shop/search", params={"q": word, "mode": "keyword", **params})
        return sorted(card_titles(assert_page(r)))

    assert titles() == sorted([cheap, dear, elsewhere])  # never the other shop's draft
    assert titles(max_price="10") == sorted([cheap, elsewhere])
    assert titles(min_price="10.00") == [dear]
    assert titles(merchant=str(mine.id)) == sorted([cheap, dear])
    r = web_client.get("/shop/search", params={"q": word, "mode": "keyword", "sort": "price_desc"})
    assert card_titles(r.text) == [dear, elsewhere, cheap]


def test_bad_filters_are_shown_next_to_their_fields(web_client: TestClient) -> None:
    r = web_client.get("/shop/search", params={"q": "mug", "min_price": "lots", "max_price": "-1"})
    html = assert_page(r, status=422)
    assert 'id="min_price-error"' in html and 'id="max_price-error"' in html
    assert 'aria-invalid="true"' in html


def test_htmx_search_returns_the_results_fragment(web_client: TestClient, db, factory) -> None:
    word = uuid.uuid4().hex[:10]
    merchant = factory.merchant()
    title = f"Teapot {word}"
    create_product(db, merchant.id, title=title)
    r = web_client.get(
        "/shop/search",
        params={"q": word, "mode": "keyword"},
        headers={**HX, "HX-Target": "search-results"},
    )
    assert r.status_code == 200
    assert "<html" not in r.text and "<h1" not in r.text
    assert card_titles(r.text) == [title]


def test_search_modes(web_client: TestClient, db, factory) -> None:
    merchant = factory.merchant()
    make_catalog(db, merchant.id, [COATS, KITCHEN])
    m = str(merchant.id)
    semantic = web_client.get(
        "/shop/search",
        params={"q": "something to cook dinner with", "mode": "semantic", "merchant": m},
    )
    found = card_titles(assert_page(semantic))
    assert found[0] in {t for t, _, _ in KITCHEN}
    assert "Close in meaning" in semantic.text
    keyword = web_client.get(
        "/shop/search", params={"q": "skillet", "mode": "keyword", "merchant": m}
    )
    assert card_titles(assert_page(keyword)) == ["Cast Iron Skillet"]
    hybrid = web_client.get("/shop/search", params={"q": "warm jacket for rain", "merchant": m})
    assert set(card_titles(assert_page(hybrid))[:3]) == {t for t, _, _ in COATS}
    # the same words with exact-word matching find nothing with all four words
    exact = web_client.get(
        "/shop/search", params={"q": "warm jacket for rain", "mode": "keyword", "merchant": m}
    )
    assert card_titles(assert_page(exact)) == []


def test_persona_switcher_is_for_the_owner_only(web_client: TestClient, db, factory) -> None:
    anonymous = assert_page(web_client.get("/shop/search"))
    assert "Shop for" not in anonymous
    owner, stranger = factory.user(), factory.user()
    mine = persona(db, owner.id)
    theirs = persona(db, stranger.id)
    assert web_client.get("/shop/search", params={"persona": str(mine)}).status_code == 404
    sign_in_web(web_client, owner.email)
    html = assert_page(web_client.get("/shop/search"))
    assert '<label for="persona">Shop for</label>' in html and f'value="{mine}"' in html
    assert f'value="{theirs}"' not in html
    ranked = assert_page(web_client.get("/shop/search", params={"persona": str(mine)}))
    assert f'<option value="{mine}" selected>' in ranked
    r = web_client.get("/shop/search", params={"persona": str(theirs)})
    assert r.status_code == 404
    assert web_client.get("/shop/search", params={"persona": "not-an-id"}).status_code == 404


# ---------------------------------------------------------------------- product page


def test_product_page_variants_stock_and_add_to_cart_form(
    web_client: TestClient, db, factory
) -> None:
    store = make_store(db, factory)
    vid = store.variants[("L", "Black")]
    html = assert_page(
        web_client.get(f"/shop/products/{store.product_id}", params={"variant": str(vid)})
    )
    assert h1s(html) == ["Linen shirt"]
    assert '<form id="product-buy"' in html and 'method="post" action="/shop/cart/add"' in html
    assert '<label for="variant_id">Size / colour</label>' in html
    assert f'<option value="{vid}" selected>L / Black' in html
    assert '<label for="quantity">Quantity</label>' in html and ">Add to cart</button>" in html
    assert "Haarlemmerstraat" in html and "only 3 left" in html
    sold_out = store.variants[("M", "Black")]
    fragment = web_client.get(
        f"/shop/products/{store.product_id}/price", params={"variant_id": str(sold_out)}, headers=HX
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="product-stock"' in fragment.text and 'hx-swap-oob="true"' in fragment.text
    assert "Not in stock in any store" in fragment.text


def test_one_variant_products_carry_a_hidden_variant(web_client: TestClient, db, factory) -> None:
    merchant = factory.merchant()
    pid, (vid,) = create_product(db, merchant.id, title=unique("Poster"))
    html = assert_page(web_client.get(f"/shop/products/{pid}"))
    assert f'<input type="hidden" name="variant_id" value="{vid}">' in html
    assert "<select" not in html.split('id="product-buy"')[1].split("</form>")[0]


def test_customiser_groups_live_price_and_errors(web_client: TestClient, sneaker) -> None:
    _, pid, vid = sneaker
    html = assert_page(web_client.get(f"/shop/products/{pid}"))
    assert 'name="opt.sole" value="black"' in html and 'type="radio"' in html
    assert 'type="checkbox" id="opt-laces-red" name="opt.laces" value="red"' in html
    assert '<label for="opt-engraving">Engraving' in html and 'name="opt.engraving"' in html
    assert 'value="gum" disabled' in html
    price = f"/shop/products/{pid}/price"
    good = web_client.get(
        price,
        params=[
            ("variant_id", str(vid)),
            ("opt.sole", "black"),
            ("opt.laces", "red"),
            ("opt.engraving", "ANNA"),
        ],
        headers=HX,
    )
    assert good.status_code == 200, good.text
    assert "108.00 EUR" in good.text  # 99 + 5 + 1 + 3
    bad = web_client.get(price, params=[("variant_id", str(vid)), ("opt.sole", "gum")], headers=HX)
    assert bad.status_code == 422
    error = re.search(
        r'<div id="err-sole" class="group-error" hx-swap-oob="true">(.*?)</div>', bad.text, re.S
    )
    assert error is not None and "not available" in error.group(1)
    # without htmx: the product page with the same choices, errors next to the group
    r = web_client.get(price, params=[("variant_id", str(vid)), ("opt.sole", "gum")])
    assert r.status_code == 303
    page = web_client.get(r.headers["location"])
    html = assert_page(page, status=422)
    assert re.search(
        r'id="err-sole" class="group-error"><p class="field-error">[^<]*not available', html
    )


def test_drafts_and_archived_products_are_404_pages(web_client: TestClient, db, factory) -> None:
    merchant = factory.merchant()
    draft, _ = create_product(db, merchant.id, status="draft")
    archived, _ = create_product(db, merchant.id)
    with db.transaction() as s:
        catalog.archive_product(s, merchant.id, archived)
    for pid in (draft, archived, uuid.uuid4()):
        r = web_client.get(f"/shop/products/{pid}")
        assert_page(r, status=404)
        assert web_client.get(f"/shop/products/{pid}/price", headers=HX).status_code == 404


def test_a_signed_in_customer_view_is_recorded_only_with_consent(
    web_client: TestClient, db, factory
) -> None:
    merchant = factory.merchant()
    pid, _ = create_product(db, merchant.id)
    user = factory.user()
    sign_in_web(web_client, user.email)
    assert web_client.get(f"/shop/products/{pid}").status_code == 200
    with db.reading() as s:
        assert [a for a in activity.activity_of(s, user.id) if a.kind == ActivityKind.VIEW] == []
    consent(db, user.id)
    assert web_client.get(f"/shop/products/{pid}").status_code == 200
    assert web_client.get(f"/shop/products/{pid}").status_code == 200  # a reload: still one
    with db.reading() as s:
        views = [a for a in activity.activity_of(s, user.id) if a.kind == ActivityKind.VIEW]
    assert [v.product_id for v in views] == [pid]
