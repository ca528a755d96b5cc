"""Storefront cart and checkout pages: the anonymous cart cookie, adding with bounds and
errors, merging at sign-in, delivery and click & collect checkouts, idempotent submits."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from plaza.db import Database
from plaza.inventory.models import LocationKind
from plaza.o2o.collect import service as collect
from plaza.ordering.models import Order, OrderStatus
from plaza.web.render import CART_COOKIE

from ..catalog_helpers import create_product
from ..factories import Factory
from ..o2o.collect_helpers import CollectWorld, add_location, collect_world, set_stock
from .conftest import csrf_of, sign_in_web

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Market Street",
    "city": "Amsterdam",
    "postal_code": "1011",
    "country": "nl",
}


@pytest.fixture
def world(db: Database, factory: Factory) -> CollectWorld:
    return collect_world(db, factory)


def add(client: TestClient, variant: uuid.UUID | str, quantity: int | str = 1, **extra: str):  # type: ignore[no-untyped-def]
    data = {"variant_id": str(variant), "quantity": str(quantity), **extra}
    page = client.get("/shop/cart")
    if client.cookies.get("plaza_session"):
        data["csrf_token"] = csrf_of(page.text)
    return client.post("/shop/cart/add", data=data)


def checkout_form(client: TestClient) -> dict[str, str]:
    """The hidden fields (and CSRF token) of the checkout page, as a browser would send."""
    r = client.get("/shop/checkout")
    assert r.status_code == 200, r.text
    found = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', r.text))
    assert "idempotency_key" in found and "cart_id" in found
    return found


def orders_of(db: Database, email: str) -> list[Order]:
    with db.reading() as s:
        return list(s.scalars(select(Order).where(Order.email == email)))


# ---------------------------------------------------------------- cart


def test_first_add_creates_the_anonymous_cart_cookie(
    web_client: TestClient, world: CollectWorld
) -> None:
    assert web_client.get("/shop/cart").status_code == 200
    r = add(web_client, world.variants[0], 2)
    assert r.status_code == 303 and r.headers["location"] == "/shop/cart"
    cookie = r.headers["set-cookie"]
    assert f"{CART_COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    token = web_client.cookies[CART_COOKIE]
    # A second add keeps the same cart (no new cookie) and adds to the line.
    r = add(web_client, world.variants[0], 1)
    assert r.status_code == 303 and CART_COOKIE not in r.headers.get("set-cookie", "")
    assert web_client.cookies[CART_COOKIE] == token
    page = web_client.get("/shop/cart")
    assert page.status_code == 200
    assert 'value="3"' in page.text  # the line's quantity
    assert '<a class="button" href="/shop/checkout">Checkout</a>' in page.text
    assert "Added to your cart." in page.text


@pytest.mark.parametrize(
    ("variant", "quantity", "says"),
    [
        ("not-a-uuid", 1, "Choose a size or colour"),
        (None, 0, "Quantity"),
        (None, 1000, "Quantity"),
        (None, "many", "Quantity"),
        ("00000000-0000-4000-8000-000000000000", 1, "cannot be bought"),
    ],
)
def test_bad_adds_are_refused_with_an_error_page(
    web_client: TestClient,
    world: CollectWorld,
    variant: str | None,
    quantity: int | str,
    says: str,
) -> None:
    r = add(web_client, variant or world.variants[0], quantity)
    assert r.status_code == 422
    assert says in r.text and "Could not add to cart" in r.text
    assert CART_COOKIE not in web_client.cookies  # nothing was created


def test_adding_more_than_the_stock_says_so(web_client: TestClient, world: CollectWorld) -> None:
    r = add(web_client, world.variants[1], 6)  # 5 in the warehouse
    assert r.status_code == 409
    assert "Not enough stock" in r.text


def test_options_for_a_plain_product_are_refused(
    web_client: TestClient, world: CollectWorld
) -> None:
    r = add(web_client, world.variants[0], 1, **{"opt.engraving": "ADA"})
    assert r.status_code == 422
    assert "not customisable" in r.text


def test_htmx_add_answers_a_fragment(web_client: TestClient, world: CollectWorld) -> None:
    r = web_client.post(
        "/shop/cart/add",
        data={"variant_id": str(world.variants[0]), "quantity": "1"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert "Added to your cart." in r.text and "<html" not in r.text
    assert web_client.cookies.get(CART_COOKIE)


def test_update_and_remove_lines(web_client: TestClient, world: CollectWorld) -> None:
    add(web_client, world.variants[0], 1)
    page = web_client.get("/shop/cart")
    line_id = re.search(r'action="/shop/cart/lines/([0-9a-f-]{36})"', page.text)
    assert line_id
    url = f"/shop/cart/lines/{line_id.group(1)}"
    r = web_client.post(url, data={"quantity": "1000"})
    assert r.status_code == 422 and "Choose a quantity" in r.text
    r = web_client.post(url, data={"quantity": "99"})  # 15 in stock
    assert r.status_code == 409 and "only" in r.text
    r = web_client.post(url, data={"quantity": "4"})
    assert r.status_code == 303
    assert 'value="4"' in web_client.get("/shop/cart").text
    r = web_client.post(url, data={"quantity": "2"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'id="cart-region"' in r.text and "<html" not in r.text
    r = web_client.post(f"{url}/remove")
    assert r.status_code == 303
    assert "Your cart is empty." in web_client.get("/shop/cart").text


def test_another_browser_cannot_touch_my_lines(
    app, web_client: TestClient, world: CollectWorld
) -> None:  # type: ignore[no-untyped-def]
    add(web_client, world.variants[0], 1)
    line_id = re.search(
        r'action="/shop/cart/lines/([0-9a-f-]{36})"', web_client.get("/shop/cart").text
    )
    assert line_id
    other = TestClient(app, headers=dict(web_client.headers), follow_redirects=False)
    r = other.post(f"/shop/cart/lines/{line_id.group(1)}/remove")
    assert r.status_code == 404


def test_sign_in_merges_the_anonymous_cart(
    web_client: TestClient, world: CollectWorld, factory: Factory
) -> None:
    user = factory.user()
    add(web_client, world.variants[0], 2)
    sign_in_web(web_client, user.email)
    assert not web_client.cookies.get(CART_COOKIE)
    page = web_client.get("/shop/cart")
    assert page.status_code == 200
    assert 'value="2"' in page.text and "Checkout" in page.text
    # Signed in, adds go to the account's cart (CSRF token needed).
    r = add(web_client, world.variants[0], 1)
    assert r.status_code == 303
    assert 'value="3"' in web_client.get("/shop/cart").text


# ---------------------------------------------------------------- checkout


def test_checkout_of_an_empty_cart_goes_back_to_the_cart(web_client: TestClient) -> None:
    r = web_client.get("/shop/checkout")
    assert r.status_code == 303 and r.headers["location"] == "/shop/cart"


def test_guest_delivery_checkout_validates_then_places_the_order(
    web_client: TestClient, world: CollectWorld, db: Database
) -> None:
    add(web_client, world.variants[0], 1)
    page = web_client.get("/shop/checkout")
    assert page.status_code == 200
    for text in ('value="delivery"', 'value="collect"', "Place order", '<label for="email">'):
        assert text in page.text
    assert '<label for="store_id">Store</label>' in page.text
    assert "Amsterdam" in page.text and "Haarlem" not in page.text  # only click & collect
    hidden = checkout_form(web_client)
    r = web_client.post(
        "/shop/checkout",
        data={**hidden, "fulfilment": "delivery", "payment": "tok_visa", "country": "Netherlands"},
    )
    assert r.status_code == 422
    assert 'id="email-error"' in r.text and 'id="line1-error"' in r.text
    assert 'id="city-error"' in r.text and 'id="country-error"' in r.text
    assert 'aria-invalid="true"' in r.text
    email = f"guest-{uuid.uuid4().hex[:8]}@example.com"
    r = web_client.post(
        "/shop/checkout",
        data={**hidden, **ADDRESS, "email": email, "fulfilment": "delivery", "payment": "tok_visa"},
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/shop/checkout/")
    done = web_client.get(r.headers["location"])
    assert done.status_code == 200
    (order,) = orders_of(db, email)
    assert order.status == OrderStatus.PAID and order.shipping_address["country"] == "NL"
    assert order.number in done.text and "Paid" in done.text
    # The cart is closed: the cart page is empty, a new add starts a new cart.
    assert "Your cart is empty." in web_client.get("/shop/cart").text
    old = web_client.cookies[CART_COOKIE]
    assert add(web_client, world.variants[0], 1).status_code == 303
    assert web_client.cookies[CART_COOKIE] != old


def test_double_submit_places_one_order(
    web_client: TestClient, world: CollectWorld, db: Database
) -> None:
    add(web_client, world.variants[0], 1)
    hidden = checkout_form(web_client)
    email = f"twice-{uuid.uuid4().hex[:8]}@example.com"
    form = {**hidden, **ADDRESS, "email": email, "fulfilment": "delivery", "payment": "tok_visa"}
    first = web_client.post("/shop/checkout", data=form)
    second = web_client.post("/shop/checkout", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(orders_of(db, email)) == 1


def test_signed_in_collect_checkout_and_the_pickup_code(
    web_client: TestClient, world: CollectWorld, factory: Factory, db: Database, app
) -> None:  # type: ignore[no-untyped-def]
    user = factory.user()
    sign_in_web(web_client, user.email)
    add(web_client, world.variants[0], 2)
    hidden = checkout_form(web_client)
    assert "email" not in hidden
    r = web_client.post(
        "/shop/checkout", data={**hidden, "fulfilment": "collect", "payment": "tok_visa"}
    )
    assert r.status_code == 422 and 'id="store_id-error"' in r.text
    r = web_client.post(
        "/shop/checkout",
        data={**hidden, "fulfilment": "collect", "store_id": str(world.other_store)},
    )
    assert r.status_code == 422  # that store does not offer click & collect
    r = web_client.post(
        "/shop/checkout",
        data={
            **hidden,
            "fulfilment": "collect",
            "store_id": str(world.store),
            "payment": "tok_visa",
        },
    )
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith("/shop/orders/")
    order_id = uuid.UUID(location.rsplit("/", 1)[1])
    page = web_client.get(location)
    assert page.status_code == 200
    assert "Click &amp; collect at Amsterdam" in page.text and "Pickup code" not in page.text
    assert web_client.get(f"{location}/pickup-code.svg").status_code == 409
    settings = app.state.settings
    with db.transaction() as s:
        collect.mark_ready(
            s,
            world.merchant.id,
            order_id,
            actor="test",
            secret=settings.resolved_secret_key(),
            hold_hours=settings.pickup_hold_hours,
        )
    page = web_client.get(location)
    assert "<h3>Pickup code</h3>" in page.text
    assert 'alt="Pickup QR code"' in page.text
    assert page.headers["cache-control"] == "no-store"
    qr = web_client.get(f"{location}/pickup-code.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.headers["cache-control"] == "no-store"
    listing = web_client.get("/shop/orders")
    assert listing.status_code == 200 and f'href="/shop/orders/{order_id}"' in listing.text
    code = re.search(r'class="pickup-code">([A-Z0-9]+)<', page.text)
    assert code
    with db.transaction() as s:
        collect.collect(
            s,
            world.merchant.id,
            world.store,
            order_id,
            code.group(1),
            actor="test",
            secret=settings.resolved_secret_key(),
        )
    page = web_client.get(location)
    assert "Pickup code" not in page.text
    # Said once (the browser flow finds it by text).
    assert len(re.findall("collected", page.text, re.IGNORECASE)) == 1


def test_declined_payment_can_be_paid_again(
    web_client: TestClient, world: CollectWorld, db: Database
) -> None:
    add(web_client, world.variants[0], 1)
    hidden = checkout_form(web_client)
    email = f"declined-{uuid.uuid4().hex[:8]}@example.com"
    r = web_client.post(
        "/shop/checkout",
        data={**hidden, **ADDRESS, "email": email, "payment": "tok_declined"},
    )
    assert r.status_code == 303
    done = web_client.get(r.headers["location"])
    assert "declined" in done.text and "Pay now" in done.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', done.text)
    assert key
    r = web_client.post(
        f"{r.headers['location']}/pay",
        data={"payment": "tok_visa", "idempotency_key": key.group(1)},
    )
    assert r.status_code == 303
    (order,) = orders_of(db, email)
    assert order.status == OrderStatus.PAID


def test_orders_are_private(
    web_client: TestClient, world: CollectWorld, factory: Factory, db: Database, app
) -> None:  # type: ignore[no-untyped-def]
    assert web_client.get("/shop/orders").status_code == 303  # to sign in
    owner = factory.user()
    sign_in_web(web_client, owner.email)
    add(web_client, world.variants[0], 1)
    hidden = checkout_form(web_client)
    r = web_client.post(
        "/shop/checkout",
        data={**hidden, **ADDRESS, "fulfilment": "delivery", "payment": "tok_visa"},
    )
    assert r.status_code == 303
    location = r.headers["location"]
    assert web_client.get(location).status_code == 200
    other = TestClient(app, headers=dict(web_client.headers), follow_redirects=False)
    sign_in_web(other, factory.user().email)
    assert other.get(location).status_code == 404
    assert other.get(f"{location}/pickup-code.svg").status_code == 404
    assert location not in other.get("/shop/orders").text
    with db.reading() as s:
        n = s.scalar(select(func.count()).select_from(Order).where(Order.email == owner.email))
    assert n == 1


def test_a_shop_selling_in_another_currency_fills_a_cart_in_that_currency(
    web_client: TestClient, db: Database, factory: Factory, world: CollectWorld
) -> None:
    usd = factory.merchant(currency="USD")
    wh = add_location(db, usd.id, LocationKind.WAREHOUSE, None, name="US warehouse")
    _, (variant,) = create_product(db, usd.id, variants=[{"prices": {"USD": 3000}}])
    set_stock(db, usd.id, variant, wh, 4)
    r = add(web_client, variant, 1, currency="USD")
    assert r.status_code == 303, r.text
    cart = web_client.get("/shop/cart")
    assert "30.00 USD" in cart.text
    # A EUR item cannot join a cart priced in USD: said clearly, the cart is kept.
    r = add(web_client, world.variants[0], 1)
    assert r.status_code == 409
    assert "priced in USD" in r.text
    assert "30.00 USD" in web_client.get("/shop/cart").text
