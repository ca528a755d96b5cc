"""Cache of the storefront's public browse pages for visitors who are not signed in.

Home, categories and search look the same to every anonymous visitor (no session, no CSRF
token, no personal picks), and rendering them costs a few queries and a Jinja2 pass per
request. This ASGI middleware keeps the finished responses in the catalog's in-process
cache (``plaza.catalog.cache``), so they share its freshness rule: any catalog write (a
title, a price, a product published) empties it at once in this process and within a
second in others. What is not catalog data (popular products from recent orders) may lag
by at most ``BUCKET_SECONDS``: the key carries the time bucket.

Never cached: a request with any cookie that changes the page (session, flash message),
anything but ``GET``, anything but a complete ``200`` HTML answer, and answers that set a
cookie. A hit says ``X-Cache: hit``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plaza.catalog.cache import cache_for
from plaza.db import Database
from plaza.web.render import FLASH_COOKIE

BUCKET_SECONDS = 30
CACHED_PATHS = re.compile(r"^/shop(?:/categories(?:/[0-9a-f-]{36})?|/search)?$")
MAX_BODY = 512 * 1024


class PageCacheMiddleware:
    def __init__(self, app: ASGIApp, *, db: Database, session_cookie: str) -> None:
        self.app = app
        self.db = db
        self.personal = (session_cookie, FLASH_COOKIE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = (
            "web-page",
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers.get("hx-request") == "true",  # htmx asks for fragments, not pages
            headers.get("hx-target", ""),
            int(time.time() // BUCKET_SECONDS),
        )
        cache = cache_for(self.db)
        version = cache.fresh_version()
        if version is None:
            version = await run_in_threadpool(cache.version, self.db)
        stored = cache.get(key, version)
        if stored is not None:
            await _replay(stored, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and start is not None:
                    body = b"".join(chunks)
                    if _storable(start, body):
                        cache.put(key, version, _pack(start, body))
            await send(message)

        await self.app(scope, receive, keep)

    def _cacheable(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        if not CACHED_PATHS.match(scope["path"]):
            return False
        cookie = Headers(scope=scope).get("cookie", "")
        return not any(f"{name}=" in cookie for name in self.personal)


def _storable(start: Message, body: bytes) -> bool:
    if start.get("status") != 200 or len(body) > MAX_BODY:
        return False
    names = {name.lower() for name, _ in start.get("headers", [])}
    content_type = dict(start.get("headers", [])).get(b"content-type", b"")
    return b"set-cookie" not in names and content_type.startswith(b"text/html")


def _pack(start: Message, body: bytes) -> bytes:
    """One bytes value (the cache holds bytes): header lines, a blank line, the body."""
    lines = [
        f"{name.decode('latin-1')}: {value.decode('latin-1')}" for name, value in _headers(start)
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _headers(start: Message) -> Iterable[tuple[bytes, bytes]]:
    return [(n, v) for n, v in start.get("headers", []) if n.lower() != b"content-length"]


async def _replay(stored: bytes, send: Send) -> None:
    head, _, body = stored.partition(b"\r\n\r\n")
    headers = [
        tuple(part.encode("latin-1") for part in line.split(": ", 1))
        for line in head.decode("latin-1").split("\r\n")
        if line
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    headers.append((b"x-cache", b"hit"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
