"""Flows (c) and (d): a merchant admin edits a product's title in the back-office and sees
it on the storefront; and cannot open another merchant's back-office or staff pages."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import ConsoleWatch, ContextFactory, Demo, Server, Shot, hex_uuid, query, sign_in


def test_admin_edits_a_title_and_the_storefront_shows_it(
    server: Server, demo: Demo, desktop: ContextFactory, phone: ContextFactory, shot: Shot
) -> None:
    merchant_id = demo.noorderlicht
    ((product_hex, title),) = query(
        server,
        "SELECT id, title FROM products WHERE merchant_id = ? AND status = 'active' "
        "ORDER BY title LIMIT 1",
        merchant_id.replace("-", ""),
    )
    product_id = hex_uuid(product_hex)
    new_title = f"{title} (E2E edition)"

    office = desktop().new_page()
    sign_in(office, demo.admins["noorderlicht"], next=f"/back-office/{merchant_id}")
    office.goto(f"/back-office/{merchant_id}")
    for chart in ("Sales by channel", "Top products", "Stock alerts"):
        expect(office.get_by_text(chart).first).to_be_visible()
    shot(office, "backoffice-dashboard")

    office.goto(f"/back-office/{merchant_id}/products")
    office.get_by_role("searchbox", name="Search").fill(title)
    office.get_by_role("searchbox", name="Search").press("Enter")
    office.get_by_role("link", name=title, exact=True).first.click()
    office.wait_for_url(re.compile(rf"/products/{product_id}$"))
    title_field = office.get_by_label("Title", exact=False).first
    expect(title_field).to_have_value(title)
    shot(office, "backoffice-product-edit")
    title_field.fill(new_title)
    office.get_by_role("button", name="Save", exact=True).click()
    # The saved page, not the field just typed into: wait for the save to finish.
    expect(office.get_by_role("status").filter(has_text="Product saved.")).to_be_visible()
    expect(office.get_by_label("Title").first).to_have_value(new_title)

    shop = phone().new_page()
    shop.goto(f"/shop/products/{product_id}")
    expect(shop.get_by_role("heading", level=1)).to_have_text(new_title)


def test_admin_cannot_open_another_merchants_pages(
    demo: Demo, desktop: ContextFactory, console: ConsoleWatch, shot: Shot
) -> None:
    console.allow(r"status of 403")  # the browser logs the refused page loads
    own, other = demo.noorderlicht, demo.merchants["merino-moss"]
    page = desktop().new_page()
    sign_in(page, demo.admins["noorderlicht"], next=f"/back-office/{own}")
    for path in (
        f"/back-office/{other}",
        f"/back-office/{other}/products",
        f"/back-office/{other}/orders",
        f"/staff/{other}",
        f"/staff/{other}/counter",
        f"/staff/{other}/fitting",
    ):
        response = page.goto(path)
        assert response is not None and response.status == 403, (path, response and response.status)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert "Merino" not in page.content(), f"{path} shows the other merchant's name"
    shot(page, "forbidden")
    response = page.goto(f"/back-office/{own}")  # their own still opens
    assert response is not None and response.ok
