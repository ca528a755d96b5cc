"""Flow (a): click & collect, end to end. A shopper on their phone browses, searches, adds
a rain jacket to the cart and checks out for pickup at a store; staff at that store mark
the order ready (the shopper's order page then shows the pickup code and its QR code),
check the code at the counter and hand the order over; the shopper's order shows it
collected."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import (
    ContextFactory,
    Demo,
    Server,
    Shot,
    demo_customers,
    hex_uuid,
    query,
    sign_in,
)

PRODUCT = "Waterproof Rain Jacket"
# A variant of the product in stock (2+) at one of the merchant's click & collect stores.
IN_STORE = """
SELECT v.id, l.id, l.name FROM products p
JOIN variants v ON v.product_id = p.id AND v.status = 'active'
JOIN stock_levels sl ON sl.variant_id = v.id AND sl.on_hand - sl.reserved >= 2
JOIN locations l ON l.id = sl.location_id AND l.kind = 'store' AND l.fulfils_online = 1
WHERE p.merchant_id = ? AND p.title = ? AND p.status = 'active'
ORDER BY l.name, v.sku LIMIT 1
"""


def test_click_and_collect_from_search_to_handover(
    server: Server, demo: Demo, phone: ContextFactory, desktop: ContextFactory, shot: Shot
) -> None:
    merchant_id = demo.noorderlicht
    rows = query(server, IN_STORE, merchant_id.replace("-", ""), PRODUCT)
    assert rows, f"{PRODUCT} is in stock at a Noorderlicht store"
    variant_id, store_id = hex_uuid(rows[0][0]), hex_uuid(rows[0][1])

    shopper = phone().new_page()
    sign_in(shopper, demo_customers(server)[1])

    # Browse: the home page lists products, rendered on the server.
    shopper.goto("/shop")
    expect(shopper.locator("main a[href^='/shop/products/']").first).to_be_visible()
    shot(shopper, "home")
    shopper.get_by_role("link", name="Browse").click()
    expect(shopper.get_by_role("heading", level=1)).to_be_visible()
    shot(shopper, "categories")

    # Search, open the product.
    search = shopper.get_by_label("Search products")
    search.fill(PRODUCT)
    search.press("Enter")
    shopper.wait_for_url(re.compile(r"/shop/search\?"))
    product_link = shopper.get_by_role("link", name=PRODUCT, exact=True).first
    expect(product_link).to_be_visible()
    shot(shopper, "search")
    product_link.click()
    expect(shopper.get_by_role("heading", level=1)).to_have_text(PRODUCT)

    # Choose the variant that the store has, add it to the cart.
    variant = shopper.locator("select#variant_id")
    if variant.count():
        variant.select_option(variant_id)
    shopper.get_by_label("Quantity").fill("1")
    shot(shopper, "product")
    shopper.get_by_role("button", name="Add to cart").click()
    expect(shopper.get_by_text("Added to your cart")).to_be_visible()  # htmx, no reload
    shopper.get_by_role("link", name="View cart").click()
    expect(shopper.get_by_text(PRODUCT).first).to_be_visible()
    shot(shopper, "cart")

    # Checkout: click & collect at that store, pay with the sandbox's test card.
    shopper.get_by_role("link", name="Checkout").click()
    shopper.get_by_role("radio", name="Click & collect").check()
    shopper.get_by_role("combobox", name=re.compile(r"^Store")).select_option(store_id)
    shot(shopper, "checkout")
    shopper.get_by_role("button", name="Place order").click()
    shopper.wait_for_url(re.compile(r"/shop/orders/[0-9a-f-]{36}$"))
    order_url = shopper.url
    heading = shopper.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Order")
    number = heading.inner_text().replace("Order", "").strip()
    expect(shopper.get_by_text("preparing your order")).to_be_visible()

    # Staff at the store mark it ready.
    staff = desktop().new_page()
    sign_in(staff, demo.admins["noorderlicht"], next=f"/staff/{merchant_id}/counter")
    staff.goto(f"/staff/{merchant_id}/counter")
    staff.get_by_role("combobox", name=re.compile(r"^Store")).select_option(store_id)
    staff.get_by_role("button", name="Choose store").click()
    staff.get_by_role("button", name=f"Mark ready order {number}").click()
    expect(staff.get_by_text(f"Order {number} is ready for pickup")).to_be_visible()

    # The shopper's order page now shows the pickup code and its QR code.
    shopper.goto(order_url)
    expect(shopper.get_by_role("heading", name="Pickup code")).to_be_visible()
    qr = shopper.get_by_role("img", name="Pickup QR code")
    expect(qr).to_be_visible()
    assert shopper.evaluate("img => img.naturalWidth > 0", qr.element_handle())
    code = shopper.locator(".pickup-code").inner_text().strip()
    assert code
    shot(shopper, "order-pickup")

    # At the counter: the code finds the order; hand it over.
    staff.get_by_role("textbox", name="Pickup code").fill(code)
    staff.get_by_role("button", name="Find order").click()
    expect(staff.get_by_role("heading", name=f"Order {number}")).to_be_visible()
    shot(staff, "staff-counter")
    staff.get_by_role("button", name="Hand over").click()
    expect(staff.get_by_text(f"Order {number} handed over")).to_be_visible()

    shopper.goto(order_url)
    expect(shopper.get_by_text("Collected").first).to_be_visible()
