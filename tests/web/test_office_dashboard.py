"""The back-office dashboard: its figures on hand-made orders (reports aggregate in SQL,
per merchant), stock alerts, and the page itself (charts, period, access)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database, utcnow
from plaza.inventory import queries as stock_queries
from plaza.inventory import service as inventory
from plaza.inventory.models import LocationKind
from plaza.ordering import orders, reports
from plaza.ordering.models import (
    Cart,
    CartStatus,
    Checkout,
    FulfilmentMethod,
    Order,
    OrderLine,
    OrderStatus,
)

from ..factories import Factory, MerchantCtx, unique
from .conftest import sign_in_web

DELIVERY, COLLECT = FulfilmentMethod.DELIVERY, FulfilmentMethod.COLLECT
PAID, FULFILLED, RETURNED = OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.RETURNED


@dataclass(frozen=True)
class Made:
    id: uuid.UUID
    total: int
    channel: str
    fulfilment: FulfilmentMethod
    status: OrderStatus
    currency: str
    refunded: int
    age_days: int


def make_order(
    db: Database,
    merchant_id: uuid.UUID,
    lines: list[tuple[uuid.UUID, int, int]],
    *,
    channel: str = "online",
    fulfilment: FulfilmentMethod = DELIVERY,
    status: OrderStatus = PAID,
    currency: str = "EUR",
    refunded: int = 0,
    age_days: int = 1,
) -> Made:
    """An order row written by hand: ``lines`` are (product id, quantity, unit amount)."""
    total = sum(q * u for _, q, u in lines)
    with db.transaction() as s:
        cart = Cart(currency=currency, status=CartStatus.CHECKED_OUT)
        s.add(cart)
        s.flush()
        checkout = Checkout(
            cart_id=cart.id, email="buyer@example.com", currency=currency, total_amount=total
        )
        s.add(checkout)
        s.flush()
        order = Order(
            number=orders.new_order_number(),
            merchant_id=merchant_id,
            checkout_id=checkout.id,
            email="buyer@example.com",
            currency=currency,
            subtotal_amount=total,
            total_amount=total,
            refunded_amount=refunded,
            status=status,
            channel=channel,
            fulfilment=fulfilment,
            created_at=utcnow() - dt.timedelta(days=age_days),
        )
        s.add(order)
        s.flush()
        for product_id, qty, unit in lines:
            s.add(
                OrderLine(
                    order_id=order.id,
                    merchant_id=merchant_id,
                    variant_id=uuid.uuid4(),
                    product_id=product_id,
                    sku=unique("SKU"),
                    title=f"Product {str(product_id)[:8]}",
                    quantity=qty,
                    unit_amount=unit,
                )
            )
        return Made(order.id, total, channel, fulfilment, status, currency, refunded, age_days)


@dataclass
class Books:
    merchant: MerchantCtx
    other: MerchantCtx
    p1: uuid.UUID
    p2: uuid.UUID
    made: list[Made]


@pytest.fixture
def books(db: Database, factory: Factory) -> Books:
    m, other = factory.merchant(), factory.merchant()
    p1, p2 = uuid.uuid4(), uuid.uuid4()
    made = [
        make_order(db, m.id, [(p1, 3, 100)]),  # online 300
        make_order(db, m.id, [(p1, 1, 100), (p2, 1, 1000)], status=FULFILLED),  # online 1100
        make_order(db, m.id, [(p2, 1, 400)], status=RETURNED, refunded=400),  # online 400
        make_order(db, m.id, [(p1, 7, 100)], fulfilment=COLLECT),  # click & collect 700
        make_order(db, m.id, [(p2, 1, 300)], channel="endless_aisle"),  # store 300
        make_order(
            db, m.id, [(p1, 2, 100)], channel="endless_aisle", fulfilment=COLLECT, status=FULFILLED
        ),  # store 200
        make_order(db, m.id, [(p2, 9, 1111)], status=OrderStatus.CANCELLED),  # not a sale
        make_order(db, m.id, [(p2, 8, 1111)], status=OrderStatus.PLACED),  # not paid
        make_order(db, m.id, [(p1, 50, 100)], age_days=60),  # outside 30 days
        make_order(db, m.id, [(p1, 1, 1200)], currency="USD"),  # another currency
        # Another merchant, even with the same product id: never counted for m.
        make_order(db, other.id, [(p1, 99, 999), (p2, 5, 999)]),
    ]
    return Books(m, other, p1, p2, made)


def _sold(made: list[Made], merchant_orders: int, days: int) -> list[Made]:
    return [
        o
        for o in made[:merchant_orders]
        if o.status in reports.SALES_STATUSES and o.age_days <= days
    ]


def test_sales_by_channel_sum_the_orders_totals(db: Database, books: Books) -> None:
    since = reports.period_start(30)
    with db.reading() as s:
        rows = reports.sales_by_channel(s, books.merchant.id, since)
    got = {(r.channel, r.currency): (r.orders, r.revenue, r.refunded) for r in rows}
    assert got == {
        ("online", "EUR"): (3, 1800, 400),
        ("click_collect", "EUR"): (1, 700, 0),
        ("store", "EUR"): (2, 500, 0),
        ("online", "USD"): (1, 1200, 0),
    }
    sold = _sold(books.made, 10, 30)
    for currency in ("EUR", "USD"):
        assert sum(r.revenue for r in rows if r.currency == currency) == sum(
            o.total for o in sold if o.currency == currency
        )
    assert sum(r.orders for r in rows) == len(sold)


def test_sales_period_and_tenancy(db: Database, books: Books) -> None:
    with db.reading() as s:
        all_time = reports.sales_by_channel(s, books.merchant.id)
        week = reports.sales_by_channel(s, books.merchant.id, reports.period_start(7))
        theirs = reports.sales_by_channel(s, books.other.id)
    online = {r.channel: r.revenue for r in all_time if r.currency == "EUR"}["online"]
    assert online == 1800 + 5000  # the 60-day-old order counts without a period
    assert sum(r.revenue for r in week) == 1800 + 700 + 500 + 1200
    assert [(r.channel, r.orders, r.revenue) for r in theirs] == [("online", 1, 99 * 999 + 5 * 999)]


def test_top_products_by_units_and_revenue(db: Database, books: Books) -> None:
    since = reports.period_start(30)
    with db.reading() as s:
        units = reports.top_products(s, books.merchant.id, "EUR", since, by="units")
        revenue = reports.top_products(s, books.merchant.id, "EUR", since, by="revenue")
    # p1: 3 + 1 + 7 + 2 = 13 units, 1300; p2: 1 + 1 + 1 = 3 units, 1000 + 400 + 300 = 1700.
    assert [(p.product_id, p.units, p.revenue) for p in units] == [
        (books.p1, 13, 1300),
        (books.p2, 3, 1700),
    ]
    assert [p.product_id for p in revenue] == [books.p2, books.p1]


def _location(db: Database, merchant_id: uuid.UUID, name: str, threshold: int = 5) -> uuid.UUID:
    with db.transaction() as s:
        return inventory.create_location(
            s,
            merchant_id,
            code=unique("LOC"),
            name=name,
            kind=LocationKind.STORE,
            address_line1="1 Main Street",
            city="Utrecht",
            country="NL",
            low_stock_threshold=threshold,
        ).id


def _stock(db: Database, merchant_id: uuid.UUID, location_id: uuid.UUID, on_hand: int) -> uuid.UUID:
    from tests.catalog_helpers import create_product

    _, (variant_id,) = create_product(db, merchant_id, title=unique("Sock"))
    with db.transaction() as s:
        inventory.set_stock(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            location_id=location_id,
            on_hand=on_hand,
        )
    return variant_id


def test_stock_alerts_use_each_locations_threshold(db: Database, factory: Factory) -> None:
    m, other = factory.merchant(), factory.merchant()
    utrecht = _location(db, m.id, "Utrecht")  # threshold 5
    tight = _location(db, m.id, "Leiden", threshold=1)
    two = _stock(db, m.id, utrecht, 2)
    five = _stock(db, m.id, utrecht, 5)
    _stock(db, m.id, utrecht, 6)  # above
    _stock(db, m.id, tight, 2)  # above Leiden's threshold of 1
    _stock(db, other.id, _location(db, other.id, "Theirs"), 0)
    with db.reading() as s:
        alerts = stock_queries.low_stock_alerts(s, m.id)
        fixed = stock_queries.low_stock_alerts(s, m.id, threshold=2)
    assert [(a.variant_id, a.available, a.threshold, a.location_name) for a in alerts] == [
        (two, 2, 5, "Utrecht"),
        (five, 5, 5, "Utrecht"),
    ]
    assert {a.variant_id for a in fixed} >= {two} and five not in {a.variant_id for a in fixed}
    with db.transaction() as s:
        inventory.update_location(s, m.id, utrecht, {"is_active": False})
    with db.reading() as s:
        assert stock_queries.low_stock_alerts(s, m.id) == []


# --- the page ----------------------------------------------------------------------------


def test_dashboard_shows_figures_charts_and_alerts(
    web_client: TestClient, db: Database, factory: Factory, books: Books
) -> None:
    store = _location(db, books.merchant.id, "Haarlem store")
    _stock(db, books.merchant.id, store, 1)
    staff = factory.staff(books.merchant)
    sign_in_web(web_client, staff.email)
    r = web_client.get(f"/back-office/{books.merchant.id}")
    assert r.status_code == 200, r.text
    html = r.text
    for heading in ("Sales by channel", "Top products", "Stock alerts", "Recent orders"):
        assert f">{heading}</h2>" in html
    assert "<dd>30.00 EUR" in html  # revenue: 1800 + 700 + 500 minor units
    assert "<dd>6</dd>" in html and "<dd>4.00 EUR" in html  # orders, refunded
    assert "Haarlem store" in html
    assert "Online delivery" in html and "Click &amp; collect" in html
    assert "Store (endless aisle)" in html
    assert "<svg" in html and "Show the data" in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)) and html.count("<h1") == 1
    assert "Also 1 order for 12.00 USD" in html
    # 7 days still holds the same orders; 90 days adds the old one (50.00 EUR).
    assert "<dd>80.00 EUR" in web_client.get(f"/back-office/{books.merchant.id}?days=90").text
    assert (
        '<option value="7" selected>'
        in web_client.get(f"/back-office/{books.merchant.id}?days=7").text
    )


def test_empty_dashboard_says_so(web_client: TestClient, factory: Factory) -> None:
    m = factory.merchant()
    sign_in_web(web_client, m.admin.email)
    html = web_client.get(f"/back-office/{m.id}?days=12345").text
    assert "No orders yet." in html and "No stock alerts" in html


def test_dashboard_access(web_client: TestClient, factory: Factory, books: Books) -> None:
    r = web_client.get(f"/back-office/{books.merchant.id}")
    assert r.status_code == 303 and r.headers["location"].startswith("/shop/sign-in")
    sign_in_web(web_client, books.other.admin.email)
    r = web_client.get(f"/back-office/{books.merchant.id}")
    assert r.status_code == 403
    assert "30.00 EUR" not in r.text
