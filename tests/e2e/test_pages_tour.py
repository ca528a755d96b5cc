"""Every section of the three audiences' pages opens in a real browser over the demo world
without console errors (the CSP blocks nothing), with one heading; the docs' screenshots
of these pages are taken here."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import ContextFactory, Demo, Server, Shot, demo_customers, sign_in

BACK_OFFICE = (
    ("", "backoffice-dashboard"),
    ("/orders", "backoffice-orders"),
    ("/returns", "backoffice-returns"),
    ("/products", "backoffice-products"),
    ("/stock", "backoffice-stock"),
    ("/customisation", "backoffice-customisation"),
    ("/personas", "backoffice-personas-list"),
    ("/stores", "backoffice-stores"),
    ("/beacons", "backoffice-beacons"),
    ("/fitting-rooms", "backoffice-fitting-rooms"),
    ("/screens", "backoffice-screens"),
)
STAFF = (("", "staff-home"), ("/counter", None), ("/fitting", None), ("/aisle", "staff-aisle"))
SHOP = (
    ("/shop/categories", "categories"),
    ("/shop/account", "account"),
    ("/shop/orders", "orders"),
    ("/shop/account/personas", "account-personas"),
    ("/shop/fitting", None),
    ("/shop/offline", "offline"),
)


def _open(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)


def test_back_office_sections(demo: Demo, desktop: ContextFactory, shot: Shot) -> None:
    base = f"/back-office/{demo.noorderlicht}"
    page = desktop().new_page()
    sign_in(page, demo.admins["noorderlicht"], next=base)
    failures = []
    for suffix, name in BACK_OFFICE:
        try:
            _open(page, base + suffix)
        except AssertionError as exc:
            failures.append(str(exc))
            continue
        if name:
            shot(page, name)
    # The personas editor: the first persona's page (audience preview).
    page.goto(base + "/personas")
    persona = page.locator(f"main a[href^='{base}/personas/']").filter(
        has_not_text=re.compile("^New")
    )
    if persona.count():
        persona.first.click()
        expect(page.get_by_role("heading", level=1)).to_have_count(1)
        shot(page, "backoffice-personas")
    else:
        failures.append("no persona to open on the personas page")
    # A product's edit page (the first product of the list).
    page.goto(base + "/products")
    product = page.locator(f"main a[href^='{base}/products/']").filter(
        has_not_text=re.compile("^New")
    )
    if product.count():
        product.first.click()
        expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
        shot(page, "backoffice-product-edit")
    else:
        failures.append("no product to open on the products page")
    assert not failures, failures


def test_staff_sections(demo: Demo, phone: ContextFactory, shot: Shot) -> None:
    base = f"/staff/{demo.noorderlicht}"
    page = phone().new_page()
    sign_in(page, demo.admins["noorderlicht"], next=base)
    for suffix, name in STAFF:
        _open(page, base + suffix)
        if name:
            shot(page, name)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "customer"])
def test_storefront_sections(
    server: Server, phone: ContextFactory, shot: Shot, signed_in: bool
) -> None:
    page = phone().new_page()
    if signed_in:
        sign_in(page, demo_customers(server)[2])
        for path, name in SHOP:
            _open(page, path)
            if name:
                shot(page, name)
    else:
        for path in ("/shop", "/shop/categories", "/shop/search?q=socks", "/shop/offline"):
            _open(page, path)
        response = page.goto("/shop/account")  # signed out: the sign-in form, then back
        assert response is not None and "/shop/sign-in" in page.url
        shot(page, "sign-in")
