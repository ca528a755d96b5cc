"""Storefront search and browse: full text (keywords, prefixes, phrases, OR, exclusions,
SKUs), filters, every sort order, cursor pagination, hostile input."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plaza.catalog import service
from plaza.catalog.schemas import CategoryIn
from plaza.db import Database
from tests.catalog_helpers import create_product
from tests.core.helpers import problem
from tests.factories import Factory, unique


@dataclass
class World:
    merchant_id: uuid.UUID
    other_id: uuid.UUID
    word: str
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    categories: dict[str, uuid.UUID] = field(default_factory=dict)
    other_item: uuid.UUID | None = None

    def name(self, pid: str) -> str:
        return next(k for k, v in self.ids.items() if str(v) == pid)


@pytest.fixture(scope="module")
def world(db: Database, app) -> World:
    f = Factory(db, TestClient(app))
    m, o = f.merchant(), f.merchant()
    w = World(m.id, o.id, unique("zq").replace("-", ""))
    with db.transaction() as s:
        apparel = service.create_category(s, CategoryIn(slug=unique("apparel"), name="Apparel"))
        shirts = service.create_category(
            s, CategoryIn(slug=unique("shirts"), name="Shirts", parent_id=apparel.id)
        )
        knit = service.create_category(
            s, CategoryIn(slug=unique("knit"), name="Knitwear", parent_id=apparel.id)
        )
        shoes = service.create_category(s, CategoryIn(slug=unique("shoes"), name="Shoes"))
        w.categories = {
            "apparel": apparel.id,
            "shirts": shirts.id,
            "knit": knit.id,
            "shoes": shoes.id,
        }
    c = w.categories

    def add(key: str, title: str, variants, **kw) -> None:
        w.ids[key], _ = create_product(db, m.id, title=f"{title} {w.word}", variants=variants, **kw)

    add(
        "red",
        "Red cotton shirt",
        [
            {"options": {"size": "S", "colour": "red"}, "prices": {"EUR": 1000}},
            {"options": {"size": "M", "colour": "red"}, "prices": {"EUR": 1200, "USD": 1300}},
            {"options": {"size": "L", "colour": "red"}, "prices": {"EUR": 1400}},
        ],
        brand="Acme",
        tags=["summer", "sale"],
        category_id=c["shirts"],
    )
    add(
        "blue",
        "Blue linen shirt",
        [
            {"options": {"size": "S", "colour": "blue"}, "prices": {"EUR": 2000}},
            {"options": {"size": "M", "colour": "blue"}, "prices": {"EUR": 2200}},
        ],
        brand="Acme",
        tags=["summer"],
        category_id=c["shirts"],
    )
    add(
        "sweater",
        "Green wool sweater",
        [
            {"options": {"size": "M", "material": "wool"}, "prices": {"EUR": 5000}},
            {"options": {"size": "L", "material": "wool"}, "prices": {"EUR": 5200}},
        ],
        brand="Northwind",
        tags=["winter"],
        category_id=c["knit"],
    )
    add(
        "boots",
        "Leather boots",
        [
            {"options": {"size": "42"}, "prices": {"EUR": 9000}, "gtin": "4006381333931"},
        ],
        brand="Northwind",
        tags=["winter", "sale"],
        category_id=c["shoes"],
    )
    add(
        "runners",
        "Running shoes",
        [
            {"sku": f"RUN-SHOE-{w.word}", "options": {"size": "42"}, "prices": {"EUR": 7000}},
        ],
        brand="Fleet",
        category_id=c["shoes"],
        description="Lightweight trainers for the road.",
    )
    add("trainers", "Trainers pro", [{"prices": {"EUR": 7000}}], brand="Fleet")
    add("cap", "Dollar cap", [{"prices": {"USD": 900}}], brand="Capco")
    for i in range(8):
        add(f"filler{i}", f"Filler item {i}", [{"prices": {"EUR": 3000 + (i % 3) * 100}}])
    add("draft", "Hidden draft shirt", [{"prices": {"EUR": 100}}], status="draft")
    add("archived", "Old archived shirt", [{"prices": {"EUR": 100}}], status="archived")
    w.other_item, _ = create_product(db, o.id, title=f"Other shop shirt {w.word}")
    return w


LIVE = {"red", "blue", "sweater", "boots", "runners", "trainers", "cap"} | {
    f"filler{i}" for i in range(8)
}


def ids(client, world, **params):
    """Every result of a query (all pages), as fixture names, in order."""
    params = {"merchant_id": str(world.merchant_id), "limit": 100, **params}
    out: list[str] = []
    cursor = None
    for _ in range(50):
        r = client.get("/products", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        out += [world.name(i["id"]) for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("pagination did not end")


def test_listing_shows_only_live_products_of_the_merchant(client, world):
    assert set(ids(client, world)) == LIVE
    r = client.get("/products", params={"merchant_id": str(world.other_id)})
    assert [i["id"] for i in r.json()["items"]] == [str(world.other_item)]


def test_drafts_and_archived_are_invisible(client, world):
    for key in ("draft", "archived"):
        problem(client.get(f"/products/{world.ids[key]}"), 404, "not-found")
    assert not {"draft", "archived"} & set(ids(client, world, q="shirt"))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("shirt", {"red", "blue"}),
        ("SHIRT", {"red", "blue"}),
        ("shir", {"red", "blue"}),  # the last word is a prefix
        ("cotton shirt", {"red"}),
        ('"cotton shirt"', {"red"}),
        ('"shirt cotton"', set()),
        ("shirt -blue", {"red"}),
        ("boots OR sweater", {"boots", "sweater"}),
        ("northwind", {"boots", "sweater"}),  # brand
        ("winter", {"boots", "sweater"}),  # tags
        ("trainers", {"runners", "trainers"}),  # description too
        ("4006381333931", {"boots"}),  # GTIN as given
        ("run-shoe", {"runners"}),  # SKU parts
        ("nothing-like-this", set()),
    ],
)
def test_full_text(client, world, q, expected):
    assert set(ids(client, world, q=q)) == expected


def test_search_by_full_sku(client, world):
    assert ids(client, world, q=f"RUN-SHOE-{world.word}") == ["runners"]


def test_title_matches_rank_first(client, world):
    assert ids(client, world, q="trainers") == ["trainers", "runners"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"brand": "acme"}, {"red", "blue"}),
        ({"brand": ["ACME", "fleet"]}, {"red", "blue", "runners", "trainers"}),
        ({"tag": "summer"}, {"red", "blue"}),
        ({"tag": ["summer", "sale"]}, {"red"}),
        ({"tag": "Winter"}, {"boots", "sweater"}),
        ({"category": "apparel"}, {"red", "blue", "sweater"}),  # descendants included
        ({"category": "shirts"}, {"red", "blue"}),
        ({"category": "shoes"}, {"boots", "runners"}),
        ({"option": "size:M"}, {"red", "blue", "sweater"}),
        ({"option": ["size:M", "colour:red"]}, {"red"}),
        ({"option": ["size:S", "size:L"]}, {"red", "blue", "sweater"}),
        ({"option": "material:wool"}, {"sweater"}),
        ({"option": "colour:purple"}, set()),
        (
            {"min_price": 2000, "max_price": 5000},
            {"blue", "sweater"} | {f"filler{i}" for i in range(8)},
        ),
        # Options and price apply to the same variant: red L costs 1400.
        ({"option": "size:L", "max_price": 1300}, set()),
        ({"option": "size:L", "max_price": 1400}, {"red"}),
        ({"currency": "USD", "max_price": 1000}, {"cap"}),
        ({"q": "shirt", "brand": "acme", "option": "colour:blue"}, {"blue"}),
    ],
)
def test_filters(client, world, params, expected):
    params = dict(params)
    if "category" in params:
        params["category"] = str(world.categories[params["category"]])
    assert set(ids(client, world, **params)) == expected


def test_category_filter_by_slug(client, world, db):
    with db.reading() as s:
        slug = service.get_category(s, world.categories["apparel"]).slug
    assert set(ids(client, world, category=slug)) == {"red", "blue", "sweater"}
    assert ids(client, world, category="no-such-category") == []


def test_prices_in_the_requested_currency(client, world):
    r = client.get(f"/products/{world.ids['red']}", params={"currency": "USD"}).json()
    assert r["price"] == {
        "currency": "USD",
        "min_amount": 1300,
        "max_amount": 1300,
        "compare_at_max": None,
    }
    priced = [v["price"] for v in r["variants"]]
    assert priced[0] is None and priced[1]["amount"] == 1300
    r = client.get(f"/products/{world.ids['red']}").json()
    assert (r["price"]["min_amount"], r["price"]["max_amount"]) == (1000, 1400)
    assert r["description"] == ""
    item = next(
        i
        for i in client.get(
            "/products", params={"merchant_id": str(world.merchant_id), "q": "cap"}
        ).json()["items"]
    )
    assert item["price"] is None  # no EUR price: listed, but unpriced


def _all_pages(client, world, limit, **params):
    seen = []
    cursor = None
    for _ in range(100):
        q = {"merchant_id": str(world.merchant_id), "limit": limit, **params}
        if cursor:
            q["cursor"] = cursor
        body = client.get("/products", params=q).json()
        assert len(body["items"]) <= limit
        seen += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return seen
    raise AssertionError("no end")


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc", "title", "relevance"])
@pytest.mark.parametrize("limit", [1, 4])
def test_pagination_covers_everything_once(client, world, sort, limit):
    items = _all_pages(client, world, limit, sort=sort)
    names = [world.name(i["id"]) for i in items]
    assert len(names) == len(set(names)) and set(names) == LIVE
    full = _all_pages(client, world, 100, sort=sort)
    assert [i["id"] for i in items] == [i["id"] for i in full]  # same order at any page size
    if sort == "title":
        titles = [i["title"].lower() for i in items]
        assert titles == sorted(titles)
    elif sort in ("price_asc", "price_desc"):
        prices = [i["price"]["min_amount"] if i["price"] else None for i in items]
        assert prices[-1] is None and None not in prices[:-1]  # the unpriced cap comes last
        known = prices[:-1]
        assert known == sorted(known, reverse=sort == "price_desc")
        # Ties (fillers share prices) are broken by id.
        for a, b in itertools.pairwise(items):
            if a["price"] and b["price"] and a["price"]["min_amount"] == b["price"]["min_amount"]:
                assert a["id"] < b["id"]
    else:  # newest (relevance falls back to it without q)
        stamps = [i["created_at"] for i in items]
        assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("sort", [None, "relevance", "title", "price_desc", "newest"])
def test_search_pagination(client, world, sort):
    params = {"q": world.word}
    if sort:
        params["sort"] = sort
    items = _all_pages(client, world, 2, **params)
    names = [world.name(i["id"]) for i in items]
    assert len(names) == len(set(names)) and set(names) == LIVE


def test_cursor_belongs_to_its_query(client, world):
    base = {"merchant_id": str(world.merchant_id), "limit": 2}
    cursor = client.get("/products", params={**base, "sort": "title"}).json()["next_cursor"]
    assert cursor
    problem(
        client.get("/products", params={**base, "sort": "newest", "cursor": cursor}),
        400,
        "invalid-cursor",
    )
    problem(
        client.get("/products", params={**base, "sort": "title", "q": "x", "cursor": cursor}),
        400,
        "invalid-cursor",
    )
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    problem(
        client.get("/products", params={**base, "sort": "title", "cursor": tampered}),
        400,
        "invalid-cursor",
    )


HOSTILE = [
    '"',
    '""',
    "'",
    "AND (",
    "OR",
    "NOT",
    "-",
    "--",
    "*",
    "a*",
    "NEAR(a b)",
    "title:shirt",
    "^shirt",
    'shirt"',
    '"unterminated phrase',
    "((((",
    ")))",
    "a OR OR b",
    "- - -",
    "\\",
    "%",
    "_",
    "';--",
    "\x00",
    "🙂",
    "日本語",
    "a:b:c",
    "{}",
    "[]",
    "!shirt",
    "&|!<->",
    "x" * 200,
    "a " * 100,
    "':*",
    "shirt:*",
    "$$",
    "@@",
    "\u202e",
    "ＡＮＤ",
    "0x00",
]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_never_fail(client, world, q):
    r = client.get("/products", params={"q": q, "merchant_id": str(world.merchant_id)})
    assert r.status_code == 200, r.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=st.text(min_size=1, max_size=80))
def test_any_text_is_a_safe_query(client, world, q):
    r = client.get("/products", params={"q": q, "merchant_id": str(world.merchant_id)})
    assert r.status_code == 200, r.text


def test_inactive_merchant_disappears(client, db, factory):
    m = factory.merchant()
    pid, _vids = create_product(db, m.id, title="Closing down sale")
    assert client.get(f"/products/{pid}").status_code == 200
    from plaza.identity.models import Merchant

    with db.transaction() as s:
        s.get(Merchant, m.id).is_active = False
        service.bump_catalog_version(s, m.id)  # what the merchant.updated subscriber does
    assert client.get(f"/products/{pid}").status_code == 404
    assert client.get("/products", params={"merchant_id": str(m.id)}).json()["items"] == []
