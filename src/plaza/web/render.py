"""Rendering pages: one Jinja2 environment, the page context every template gets, the
pages' Content-Security-Policy, flash messages and the problem pages.

Templates live in ``templates/``: ``base.html``, one layout per audience (``shop/``,
``staff/``, ``office/``), macros in ``components/``. A template whose name starts with ``_``
is a fragment (htmx swaps it in; no layout)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from plaza.errors import UNAUTHENTICATED, ProblemError
from plaza.identity.auth import ANONYMOUS, Principal
from plaza.money import format_amount
from plaza.security.csrf import csrf_token

# Pages only load what Plaza serves itself; no inline script or style (htmx is configured
# not to inject its indicator style), no framing, forms post only to Plaza.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{images}; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_PREFIXES = ("/shop", "/staff", "/back-office")
FLASH_COOKIE = "plaza_flash"
PRIVATE_SHOP_PAGES = ("/shop/cart", "/shop/checkout")
CART_COOKIE = "plaza_cart"  # an anonymous cart's secret token (signed-in carts need none)
HTMX_CONFIG = json.dumps(
    {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
        "selfRequestsOnly": True,
        # Swap form re-renders (422) and problem fragments too, not only 2xx.
        "responseHandling": [
            {"code": "204", "swap": False},
            {"code": "[23]..", "swap": True},
            {"code": "422", "swap": True},
            {"code": "[45]..", "swap": True, "error": True},
        ],
    }
)


@lru_cache(maxsize=64)
def _asset_version(path: str) -> str:
    data = resources.files("plaza.web").joinpath("static", path).read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]


def static_url(path: str) -> str:
    """A static asset's URL with its content hash (served with a long cache lifetime)."""
    return f"/static/{path}?v={_asset_version(path)}"


def money(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return ""
    return format_amount(amount, currency)


# Product artwork when a product has no image this site may show: a calm tint and the
# title's initials, stable per product (AA contrast: dark ink on each light tint).
_ARTWORK_TINTS = ("#dbe7fb", "#dcf3e3", "#efe3fb", "#fde7d6", "#f9e0e6", "#e0f1f4", "#f4efd6")


def artwork(seed: str, title: str) -> dict[str, str]:
    """Tint and initials for ``components/artwork.html``."""
    digest = hashlib.sha256(seed.encode()).digest()
    words = [w for w in title.split() if w[:1].isalnum()]
    initials = "".join(w[0] for w in words[:2]).upper() or "?"
    return {"tint": _ARTWORK_TINTS[digest[0] % len(_ARTWORK_TINTS)], "initials": initials}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("plaza.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        static_url=static_url, money=money, htmx_config=HTMX_CONFIG, artwork_of=artwork
    )
    env.filters["money"] = money
    return env


templates = _environment()


@lru_cache(maxsize=8)
def _csp(image_origins: tuple[str, ...]) -> str:
    return PAGE_CSP.format(images="".join(" " + o for o in image_origins))


def page_csp(settings: Any) -> str:
    """The pages' policy; ``PLAZA_IMAGE_ORIGINS`` adds where product images may come from."""
    return _csp(tuple(image_origin(o) for o in settings.image_origins))


def image_origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def principal_of(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal or ANONYMOUS


def session_csrf(request: Request) -> str:
    """The CSRF token for this browser's session ('' when signed out: nothing to forge)."""
    settings = request.app.state.settings
    session = request.cookies.get(settings.session_cookie_name)
    return csrf_token(session, settings.resolved_secret_key()) if session else ""


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def page(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``name`` with the common page context (request, principal, csrf, flash)."""
    flashes = _read_flash(request)
    data = {
        "request": request,
        "principal": principal_of(request),
        "csrf_token": session_csrf(request),
        "flashes": flashes,
        "path": request.url.path,
        **(context or {}),
    }
    html = templates.get_template(name).render(data)
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    response.headers["Content-Security-Policy"] = page_csp(request.app.state.settings)
    response.headers["Vary"] = "HX-Request, Cookie"
    if request.url.path.startswith(PRIVATE_SHOP_PAGES) and "cache-control" not in response.headers:
        # A guest's cart and checkout (email, address) are theirs alone, cookie or not.
        response.headers["Cache-Control"] = "no-store"
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str, *, flash: str | None = None) -> RedirectResponse:
    """303 See Other after a successful form post, with an optional one-time message."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        set_flash(response, flash)
    return response


def set_flash(response: Response, message: str) -> None:
    response.set_cookie(
        FLASH_COOKIE, quote(message[:300]), max_age=60, path="/", httponly=True, samesite="lax"
    )


def _read_flash(request: Request) -> list[str]:
    raw = request.cookies.get(FLASH_COOKIE)
    return [unquote(raw)[:300]] if raw else []


def safe_next(target: str | None, default: str = "/shop") -> str:
    """Only a path on this site (never ``//evil`` or a full URL) may follow a sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def wants_page(request: Request) -> bool:
    path = request.url.path
    on_page = any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)
    return on_page and ("text/html" in request.headers.get("accept", "") or is_htmx(request))


def problem_page(request: Request, exc: ProblemError) -> Response | None:
    """Problems on web pages, for browsers: sign-in for 401, an error page otherwise.
    API clients (and tests asking for JSON) keep getting problem+json."""
    if not wants_page(request):
        return None
    if exc.status == UNAUTHENTICATED.status:
        target = "/shop/sign-in?next=" + quote(
            request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe=""
        )
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    name = "_problem.html" if is_htmx(request) else "problem.html"
    return page(
        request,
        name,
        {"problem": exc.to_dict(request.url.path)},
        status=exc.status,
        headers={k: v for k, v in (exc.headers or {}).items() if k.lower() != "www-authenticate"},
    )


def public_base(request: Request) -> str:
    """This site's address for links that leave the page (QR codes, players, sign-in
    redirects): ``PLAZA_PUBLIC_URL`` when set, else the request's own, without a
    trailing slash."""
    return (request.app.state.settings.public_url or str(request.base_url)).rstrip("/")


def secret_key(request: Request) -> str:
    """The site's resolved secret key (signing pickup codes and links)."""
    return str(request.app.state.settings.resolved_secret_key())


def cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


__all__ = [
    "CART_COOKIE",
    "PAGE_CSP",
    "cookie_secure",
    "is_htmx",
    "money",
    "page",
    "principal_of",
    "problem_page",
    "public_base",
    "redirect",
    "safe_next",
    "secret_key",
    "set_flash",
    "static_url",
]
