"""The installable storefront: the web app manifest, its icons, the service worker and the
offline page.

The service worker (``static/sw.js``, served at ``/shop/sw.js`` with its configuration
prepended) precaches the shell (the offline page, CSS, JS, htmx, the icon: their versioned
URLs from ``render.static_url``), keeps the last product pages viewed for offline reading
(network first), and answers other navigations it cannot reach with the offline page. It
never caches POSTs, the cart, checkout, account or order pages, or the staff and
back-office pages."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Depends, Request, Response

from plaza.errors import not_found
from plaza.identity.auth import ANONYMOUS, Principal, Public
from plaza.web.render import page, static_url

router = APIRouter(prefix="/shop")

THEME_COLOUR = "#0b3d91"  # base.html's theme-color, app.css --brand
BACKGROUND_COLOUR = "#f6f8fa"  # app.css --bg
ICON_SIZES = (192, 512)
SW_SCOPE = "/shop"  # covers /shop itself (the start URL) and everything under it
OFFLINE_URL = "/shop/offline"
RECENT_PRODUCTS = 20
# A worker runs under its own script's policy: the API's "default-src 'none'" would stop
# it fetching anything (the install fails); it only talks to Plaza itself.
SW_CSP = "default-src 'none'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
# Never cached by the worker (private, per-person or live pages).
NEVER_CACHE = (
    "/shop/cart",
    "/shop/checkout",
    "/shop/account",
    "/shop/orders",
    "/shop/sign-in",
    "/shop/sign-out",
    "/shop/register",
    "/shop/fitting",
    "/back-office",
    "/staff",
    "/me",
)


# ---------------------------------------------------------------- icons


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=len(ICON_SIZES))
def icon_png(size: int) -> bytes:
    """A square PNG icon drawn in pure Python: the brand colour with a white shopping bag
    inside the maskable safe zone (the middle 80%)."""
    brand = bytes.fromhex(THEME_COLOUR[1:])
    white = b"\xff\xff\xff"
    bag_left, bag_right = int(size * 0.32), int(size * 0.68)
    bag_top, bag_bottom = int(size * 0.40), int(size * 0.72)
    handle_cx, handle_cy = size / 2, size * 0.40
    r_out, r_in = size * 0.12, size * 0.085
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            in_bag = bag_left <= x < bag_right and bag_top <= y < bag_bottom
            d2 = (x + 0.5 - handle_cx) ** 2 + (y + 0.5 - handle_cy) ** 2
            in_handle = y < handle_cy and r_in**2 <= d2 <= r_out**2
            rows += white if in_bag or in_handle else brand
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


def icon_url(size: int) -> str:
    return f"/shop/icons/icon-{size}.png"


@router.get("/icons/icon-{size}.png")
def icon(size: int, _: Principal = Depends(Public())) -> Response:
    if size not in ICON_SIZES:
        raise not_found("icon", size)
    return Response(
        icon_png(size), media_type="image/png", headers={"Cache-Control": "public, max-age=86400"}
    )


# ---------------------------------------------------------------- manifest


def manifest() -> dict[str, object]:
    """The W3C web app manifest. The scope is ``/shop`` (it covers ``/shop`` itself and
    every page below it), which holds ``start_url``."""
    return {
        "id": "/shop",
        "name": "Plaza",
        "short_name": "Plaza",
        "description": "Shop the street: online, in store and in between.",
        "lang": "en",
        "dir": "ltr",
        "start_url": "/shop",
        "scope": "/shop",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "categories": ["shopping"],
        "icons": [
            {"src": static_url("icon.svg"), "sizes": "any", "type": "image/svg+xml"},
            *(
                {
                    "src": icon_url(size),
                    "sizes": f"{size}x{size}",
                    "type": "image/png",
                    "purpose": "any",
                }
                for size in ICON_SIZES
            ),
            {
                "src": icon_url(512),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }


@router.get("/manifest.webmanifest")
def web_manifest(_: Principal = Depends(Public())) -> Response:
    return Response(
        json.dumps(manifest(), indent=2),
        media_type="application/manifest+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


# ---------------------------------------------------------------- service worker


def _htmx_asset() -> str:
    vendor = resources.files("plaza.web").joinpath("static", "vendor")
    names = sorted(
        p.name for p in vendor.iterdir() if p.name.startswith("htmx-") and p.name.endswith(".js")
    )
    if not names:  # pragma: no cover - the package ships it
        raise RuntimeError("htmx is missing from static/vendor")
    return f"vendor/{names[-1]}"


def precache_urls() -> list[str]:
    """The shell the worker stores on install, with the assets' versioned URLs."""
    return [
        OFFLINE_URL,
        static_url("app.css"),
        static_url("app.js"),
        static_url(_htmx_asset()),
        static_url("icon.svg"),
        icon_url(192),
    ]


@lru_cache(maxsize=1)
def service_worker() -> str:
    source = resources.files("plaza.web").joinpath("static", "sw.js").read_text("utf-8")
    urls = precache_urls()
    version = hashlib.sha256((json.dumps(urls) + source).encode()).hexdigest()[:12]
    config = {
        "version": version,
        "precache": urls,
        "offline": OFFLINE_URL,
        "recentProducts": RECENT_PRODUCTS,
        "productPrefix": "/shop/products/",
        "neverCache": list(NEVER_CACHE),
    }
    return f"const CONFIG = {json.dumps(config, indent=2)};\n\n{source}"


@router.get("/sw.js")
def sw_js(_: Principal = Depends(Public())) -> Response:
    """The service worker; checked for updates on every visit (no-cache)."""
    return Response(
        service_worker(),
        media_type="text/javascript",
        headers={
            "Service-Worker-Allowed": SW_SCOPE,
            "Cache-Control": "no-cache",
            "Content-Security-Policy": SW_CSP,
        },
    )


@router.get("/offline")
def offline(request: Request, _: Principal = Depends(Public())) -> Response:
    """What the worker shows for a page it cannot reach offline. Precached, so it carries
    nothing of the person who installed it (no CSRF token, the signed-out layout)."""
    return page(
        request,
        "shop/offline.html",
        {"principal": ANONYMOUS, "csrf_token": "", "flashes": []},
        headers={"Cache-Control": "no-cache"},
    )
