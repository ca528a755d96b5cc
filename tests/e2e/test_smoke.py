"""The harness works: the demo world is served, the home page renders in a phone browser
without console errors (a CSP violation is one), keyboard users reach the skip link first."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import ConsoleWatch, ContextFactory, Shot


def test_home_renders_without_console_errors(
    phone: ContextFactory, console: ConsoleWatch, shot: Shot
) -> None:
    page = phone().new_page()
    response = page.goto("/shop")
    assert response is not None and response.ok, response and response.status
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(page.get_by_role("search").get_by_label("Search products")).to_be_visible()
    page.wait_for_load_state("load")
    shot(page, "home")
    paint = page.evaluate(
        "() => Object.fromEntries(performance.getEntriesByType('paint')"
        ".map(e => [e.name, Math.round(e.startTime)]))"
    )
    print(f"home page paint timings (ms): {paint}")  # reported, not asserted
    assert console.unexpected() == []


def test_keyboard_reaches_skip_link_then_search(phone: ContextFactory) -> None:
    page = phone(has_touch=False, is_mobile=False).new_page()
    page.goto("/shop")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Skip to content"
    page.keyboard.press("Enter")  # the skip link moves focus to <main>
    page.goto("/shop")
    for _ in range(6):  # skip link, brand link, then the search box
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "site-search":
            break
    assert page.evaluate("() => document.activeElement.id") == "site-search"
    expect(page.get_by_label("Search products")).to_be_focused()
