"""Accessibility of every page, without a browser: each GET page route is rendered (as an
anonymous visitor and as a signed-in merchant admin) and its HTML parsed (html.parser):
``<html lang>``, one ``<h1>``, one ``<main>``, every form control labelled, images with alt,
buttons and links with accessible names, no inline script/style/event handlers (the CSP
forbids them), unique ids. Colour contrast of the design tokens in ``static/app.css``
(WCAG AA, 4.5:1 for text). The browser checks (keyboard, paint timing) are in tests/e2e."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.identity.auth import api_routes

from ..catalog_helpers import create_product
from ..factories import Factory
from .conftest import sign_in_web

LABELLED_INPUT_TYPES_EXEMPT = {"hidden", "submit", "button", "image", "reset"}
NON_SCRIPT_TYPES = {"application/json", "application/ld+json", "text/template"}
VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)  # accessible text gathered inside
    line: int = 0


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.html_lang: str | None = None
        self.has_html = False
        self.h1 = 0
        self.main = 0
        self.ids: dict[str, int] = {}
        self.label_for: set[str] = set()
        self.controls: list[tuple[_Node, bool]] = []  # (control, inside a <label>)
        self.named: list[_Node] = []  # buttons and links, closed with their text
        self.open: list[_Node] = []
        self.label_depth = 0
        self.in_script: _Node | None = None
        self.hidden_depth = 0  # inside aria-hidden / <template>: no names needed

    # -- helpers
    def _where(self, node: _Node) -> str:
        attrs = " ".join(f'{k}="{v}"' for k, v in list(node.attrs.items())[:4])
        return f"line {node.line}: <{node.tag} {attrs}>"

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: (v or "") for k, v in attrs_list}
        node = _Node(tag, attrs, line=self.getpos()[0])
        if "style" in attrs:
            self.problems.append(f"inline style attribute (CSP): {self._where(node)}")
        for name in attrs:
            if name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"inline event handler {name} (CSP): {self._where(node)}")
        if "id" in attrs:
            self.ids[attrs["id"]] = self.ids.get(attrs["id"], 0) + 1
        if tag == "html":
            self.has_html = True
            self.html_lang = attrs.get("lang", "")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "main":
            self.main += 1
        elif tag == "style":
            self.problems.append(f"<style> element (CSP): {self._where(node)}")
        elif tag == "script":
            kind = attrs.get("type", "").lower()
            if "src" not in attrs and kind not in NON_SCRIPT_TYPES:
                self.problems.append(f"inline <script> (CSP): {self._where(node)}")
            self.in_script = node
        elif tag == "label":
            self.label_depth += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        elif tag == "img":
            src = attrs.get("src", "")
            if (
                src
                and not (src.startswith("/") and not src.startswith("//"))
                and not (src.startswith("data:"))
            ):
                self.problems.append(f"image from another site (CSP img-src): {self._where(node)}")
            if "alt" not in attrs:
                self.problems.append(f"image without alt: {self._where(node)}")
            elif attrs["alt"].strip():
                for parent in self.open:
                    parent.text.append(attrs["alt"])
        elif tag in ("input", "select", "textarea"):
            kind = attrs.get("type", "text").lower() if tag == "input" else tag
            if kind not in LABELLED_INPUT_TYPES_EXEMPT:
                self.controls.append((node, self.label_depth > 0))
            elif kind in ("submit", "button", "reset", "image"):
                name = attrs.get("value") or attrs.get("aria-label") or attrs.get("alt")
                if not (name or "").strip() and kind != "reset":
                    self.problems.append(f"button without a name: {self._where(node)}")
        if tag == "template" or attrs.get("aria-hidden") == "true":
            self.hidden_depth += 1
            node.attrs["__hidden"] = "1"
        if tag == "svg" and (attrs.get("aria-label") or attrs.get("role") == "img"):
            for parent in self.open:
                parent.text.append(attrs.get("aria-label", "img"))
        if tag not in VOID:
            self.open.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = None
        if tag == "label":
            self.label_depth = max(0, self.label_depth - 1)
        # close up to the matching tag (tolerates unclosed <p>, <li>, ...)
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i].tag == tag:
                closing = self.open[i:]
                del self.open[i:]
                for node in reversed(closing):
                    self._close(node)
                break

    def _close(self, node: _Node) -> None:
        if node.attrs.get("__hidden"):
            self.hidden_depth = max(0, self.hidden_depth - 1)
        if node.tag == "title":
            for parent in self.open:
                if node.text:
                    parent.text.append("".join(node.text))
        is_control = node.tag == "button" or (node.tag == "a" and "href" in node.attrs)
        if is_control and self.hidden_depth == 0:
            self.named.append(node)

    def handle_data(self, data: str) -> None:
        if self.in_script is not None:
            return
        if data.strip():
            for node in self.open:
                node.text.append(data.strip())

    def close_all(self) -> None:
        while self.open:
            self._close(self.open.pop())


def _has_name(node: _Node) -> bool:
    a = node.attrs
    return bool(
        "".join(node.text).strip()
        or a.get("aria-label", "").strip()
        or a.get("aria-labelledby", "").strip()
        or a.get("title", "").strip()
    )


def audit(html: str) -> list[str]:
    """Problems found in one page (an empty list when it passes). A fragment (no ``<html>``)
    gets the element checks only."""
    c = _Collector()
    c.feed(html)
    c.close()
    c.close_all()
    problems = list(c.problems)
    if c.has_html:
        if not c.html_lang:
            problems.append("<html> without lang")
        if c.h1 != 1:
            problems.append(f"{c.h1} <h1> elements (want exactly one)")
        if c.main != 1:
            problems.append(f"{c.main} <main> elements (want exactly one)")
    for ident, count in c.ids.items():
        if count > 1:
            problems.append(f'id "{ident}" used {count} times')
    for node, wrapped in c.controls:
        a = node.attrs
        if not (
            wrapped
            or (a.get("id") and a["id"] in c.label_for)
            or a.get("aria-label", "").strip()
            or a.get("aria-labelledby", "").strip()
        ):
            problems.append(f"form control without a label: {c._where(node)}")
    for node in c.named:
        if not _has_name(node):
            problems.append(f"{node.tag} without an accessible name: {c._where(node)}")
    return problems


# ---------------------------------------------------------------- colour contrast (WCAG 2.x)


def _channel(value: int) -> float:
    s = value / 255
    return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4


def parse_hex(colour: str) -> tuple[int, int, int]:
    colour = colour.strip().lstrip("#")
    if len(colour) == 3:
        colour = "".join(ch * 2 for ch in colour)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", colour):
        raise ValueError(f"not a hex colour: #{colour}")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


NAMED = {"#fff": "#ffffff", "white": "#ffffff", "black": "#000000"}


def luminance(colour: str) -> float:
    r, g, b = parse_hex(NAMED.get(colour.lower(), colour))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(foreground: str, background: str) -> float:
    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def css_tokens(css: str) -> dict[str, str]:
    """The custom properties of the first ``:root`` block."""
    block = re.search(r":root\s*\{(.*?)\}", css, re.S)
    assert block, "app.css has no :root block"
    return {
        name: value.strip()
        for name, value in re.findall(r"--([\w-]+)\s*:\s*([^;]+);", block.group(1))
    }


def css_rule(css: str, selector: str) -> dict[str, str]:
    """The declarations of the first rule whose selector list is exactly ``selector``."""
    pattern = re.compile(r"(?:^|\})\s*" + re.escape(selector) + r"\s*\{([^}]*)\}", re.M)
    found = pattern.search(css)
    assert found, f"app.css has no rule for {selector}"
    return {
        k.strip(): v.strip()
        for k, v in (d.split(":", 1) for d in found.group(1).split(";") if ":" in d)
    }


# ---------------------------------------------------------------- the route walker

PAGE_PREFIXES = ("/shop", "/staff", "/back-office")
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def page_routes(app: Any) -> list[str]:
    """Path templates of every GET page route (HTML pages live under the page prefixes)."""
    paths: list[str] = []
    for context in api_routes(app.routes):
        path = context.path_format or ""
        if "GET" not in (context.methods or ()):
            continue
        on_page = any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)
        if on_page and path not in paths:
            paths.append(path)
    return paths


def fill(path: str, values: dict[str, str]) -> str | None:
    """The path with its parameters filled, or None when one has no value."""
    names = PARAM.findall(path)
    if any(n not in values for n in names):
        return None
    return PARAM.sub(lambda m: values[m.group(1)], path)


@pytest.fixture
def walk_values(factory: Factory, db: Database) -> dict[str, Any]:
    merchant = factory.merchant()
    product_id, variant_ids = create_product(
        db,
        merchant.id,
        title="Accessible Linen Shirt",
        variants=[{"options": {"size": "M"}}, {"options": {"size": "L"}}],
    )
    return {
        "merchant": merchant,
        "params": {
            "merchant_id": str(merchant.id),
            "product_id": str(product_id),
            "variant_id": str(variant_ids[0]),
        },
    }


def _audit_all(client: TestClient, paths: list[str], params: dict[str, str]) -> dict[str, Any]:
    audited: list[str] = []
    failures: dict[str, list[str]] = {}
    errors: dict[str, int] = {}
    for template in paths:
        url = fill(template, params)
        if url is None:
            continue
        r = client.get(url)
        if r.status_code >= 500:
            errors[url] = r.status_code
            continue
        if r.status_code != 200 or not r.headers.get("content-type", "").startswith("text/html"):
            continue
        audited.append(url)
        if problems := audit(r.text):
            failures[url] = problems
    return {"audited": audited, "failures": failures, "errors": errors}


def _report(result: dict[str, Any]) -> str:
    lines = []
    for url, status in result["errors"].items():
        lines.append(f"{url}: HTTP {status}")
    for url, problems in result["failures"].items():
        lines.append(f"{url}:")
        lines.extend(f"    {p}" for p in problems[:15])
    return "\n".join(lines)


def test_every_public_page_passes_the_audit(
    app: Any, web_client: TestClient, walk_values: dict[str, Any]
) -> None:
    result = _audit_all(web_client, page_routes(app), walk_values["params"])
    assert "/shop" in result["audited"] and "/shop/sign-in" in result["audited"]
    assert not result["failures"] and not result["errors"], _report(result)


def test_every_signed_in_page_passes_the_audit(
    app: Any, web_client: TestClient, walk_values: dict[str, Any]
) -> None:
    merchant = walk_values["merchant"]
    sign_in_web(web_client, merchant.admin.email)
    result = _audit_all(web_client, page_routes(app), walk_values["params"])
    office = f"/back-office/{merchant.id}"
    assert office in result["audited"], result["audited"]
    assert f"/staff/{merchant.id}" in result["audited"]
    assert not result["failures"] and not result["errors"], _report(result)


# ---------------------------------------------------------------- the checker itself


def test_the_audit_finds_what_it_should() -> None:
    bad = """<!doctype html><html><head><title>x</title></head><body>
    <h1>a</h1><h1>b</h1>
    <input id="q" name="q"><input type="hidden" name="t">
    <label for="n">Name</label><input id="n" name="n">
    <label>Wrapped <select name="s"></select></label>
    <img src="/x.png"><img src="https://cdn.example/p.jpg" alt="P">
    <a href="/y"></a><button></button><button aria-label="Close"></button>
    <a href="/z"><img src="/z.png" alt="Zed"></a>
    <p style="color:red" onclick="x()">x</p><script>alert(1)</script>
    <script type="application/ld+json">{}</script><div id="n"></div></body></html>"""
    problems = "\n".join(audit(bad))
    for expected in (
        "<html> without lang",
        "2 <h1>",
        "0 <main>",
        'form control without a label: line 3: <input id="q"',
        "image without alt",
        "image from another site",
        "a without an accessible name",
        "button without an accessible name",
        "inline style attribute",
        "inline event handler onclick",
        "inline <script>",
        'id "n" used 2 times',
    ):
        assert expected in problems, problems
    assert "Wrapped" not in problems and 'name="s"' not in problems
    assert problems.count("without an accessible name") == 2
    assert problems.count("inline <script>") == 1


def test_a_fragment_gets_the_element_checks_only() -> None:
    assert audit('<div aria-live="polite"><p>Added.</p></div>') == []
    assert audit('<form><input name="q"></form>')


# ---------------------------------------------------------------- colour contrast

APP_CSS = resources.files("plaza.web").joinpath("static", "app.css").read_text()

# (foreground token or colour, background token or colour, where it is used)
TEXT_PAIRS = [
    ("ink", "bg", "body text"),
    ("ink", "card", "text on cards"),
    ("muted", "bg", "secondary text"),
    ("muted", "card", "secondary text on cards, tab bar"),
    ("brand", "card", "links, secondary buttons"),
    ("brand", "bg", "links on the page background"),
    ("brand-ink", "brand", "top bar, primary buttons"),
    ("accent", "card", "field errors"),
    ("accent", "bg", "field errors on the page background"),
    ("#fff", "accent", "danger buttons"),
    ("ok", "card", "success text"),
    ("warn", "card", "warning text"),
    ("#fff", "ink", "skip link"),
]


def _resolve(tokens: dict[str, str], value: str) -> str:
    value = value.strip()
    if value.startswith("var("):
        value = value[4:-1].strip().lstrip("-")
    if value.startswith("#") or value in NAMED:
        return value
    resolved = tokens[value]
    return _resolve(tokens, resolved) if not resolved.startswith("#") else resolved


@pytest.mark.parametrize(("fg", "bg", "use"), TEXT_PAIRS, ids=[u for _, _, u in TEXT_PAIRS])
def test_text_colours_meet_wcag_aa(fg: str, bg: str, use: str) -> None:
    tokens = css_tokens(APP_CSS)
    ratio = contrast(_resolve(tokens, fg), _resolve(tokens, bg))
    assert ratio >= 4.5, f"{use}: {fg} on {bg} is {ratio:.2f}:1 (needs 4.5:1)"


@pytest.mark.parametrize("selector", [".alert-ok", ".alert-error"])
def test_alerts_meet_wcag_aa(selector: str) -> None:
    rule = css_rule(APP_CSS, selector)
    ratio = contrast(rule["color"], rule["background"])
    assert ratio >= 4.5, f"{selector}: {ratio:.2f}:1"


def test_contrast_maths() -> None:
    assert round(contrast("#000", "#fff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


def test_uuid_placeholder_is_not_a_real_page() -> None:
    # A route whose parameters cannot be filled is skipped, never requested with junk.
    assert fill("/shop/orders/{order_id}", {"merchant_id": str(uuid.uuid4())}) is None
    assert fill("/back-office/{merchant_id}", {"merchant_id": "m"}) == "/back-office/m"
