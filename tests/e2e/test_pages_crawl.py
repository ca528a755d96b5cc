"""The accessibility audit of tests/web/test_accessibility.py over the demo world's detail
pages: starting from each audience's home, follow the links (one page per route shape,
so an order, a return, a store, a persona, a category… each get checked with real data)
and audit the HTML the server sends. The fast walker in tests/web reaches only the pages
without ids in their path."""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urlsplit

from ..web.test_accessibility import audit
from .conftest import ContextFactory, Demo, Server, demo_customers, sign_in

MAX_PAGES = 150
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SKIP = re.compile(r"/sign-out|/sw\.js|manifest|\.svg$|\.png$|/offline$")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _shape(path: str) -> str:
    return UUID.sub("{id}", re.sub(r"/\d+(?=/|$)", "/{n}", path))


def crawl(page_request, starts: list[str], prefixes: tuple[str, ...]) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    seen: set[str] = set()
    queue = deque(starts)
    failures: dict[str, list[str]] = {}
    visited = 0
    while queue and visited < MAX_PAGES:
        url = queue.popleft()
        parts = urlsplit(url)
        shape = _shape(parts.path)
        if shape in seen or SKIP.search(parts.path):
            continue
        seen.add(shape)
        response = page_request.get(url, headers={"Accept": "text/html"})
        visited += 1
        if response.status >= 500:
            failures[url] = [f"HTTP {response.status}"]
            continue
        if response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        html = response.text()
        if problems := audit(html):
            failures[url] = problems
        links = _Links()
        links.feed(html)
        for href in links.hrefs:
            target = urlsplit(href)
            if target.netloc or not target.path.startswith(prefixes):
                continue
            queue.append(target.path + (f"?{target.query}" if target.query else ""))
    print(f"audited {visited} pages:", *sorted(seen), sep="\n  ")
    assert visited > 10, f"the crawl reached only {visited} pages"
    return failures


def _report(failures: dict[str, list[str]]) -> str:
    return "\n".join(
        f"{url}:\n" + "\n".join(f"    {p}" for p in problems[:10])
        for url, problems in failures.items()
    )


def test_merchant_pages_with_demo_data_pass_the_audit(demo: Demo, desktop: ContextFactory) -> None:
    m = demo.noorderlicht
    page = desktop().new_page()
    sign_in(page, demo.admins["noorderlicht"], next=f"/back-office/{m}")
    failures = crawl(
        page.request,
        [f"/back-office/{m}", f"/staff/{m}"],
        (f"/back-office/{m}", f"/staff/{m}"),
    )
    assert not failures, _report(failures)


def test_shopper_pages_with_demo_data_pass_the_audit(server: Server, phone: ContextFactory) -> None:
    page = phone().new_page()
    sign_in(page, demo_customers(server)[3])
    failures = crawl(
        page.request,
        ["/shop", "/shop/categories", "/shop/orders", "/shop/account", "/shop/search?q=socks"],
        ("/shop",),
    )
    assert not failures, _report(failures)
