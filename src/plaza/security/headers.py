"""Security headers on every response: successes, problems, 413s, even Starlette's own 500s.

The middleware is installed *outside* Starlette's ``ServerErrorMiddleware`` (see
``plaza.security.install_security``), so no response leaves the app without them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from http.cookies import SimpleCookie

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The API answers JSON only: nothing may be loaded, framed, or submitted from a response.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The interactive docs (FastAPI's Swagger UI and ReDoc pages) load their bundles from a CDN;
# their own inline scripts are allowed by hash, computed from the page actually served.
DOCS_CSP = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net{hashes}; "
    "style-src https://cdn.jsdelivr.net https://fonts.googleapis.com 'unsafe-inline'; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
STATIC_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where plaza.security.ratelimit leaves the RateLimit-* fields of an allowed request.
RATE_LIMIT_STATE = "plaza.rate_limit_headers"
STATIC_PREFIX = "/static/"  # plaza.web's assets
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def script_hashes(html: bytes) -> list[str]:
    """CSP source expressions for every inline ``<script>`` of ``html``."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def docs_csp(html: bytes) -> str:
    hashes = "".join(" " + h for h in script_hashes(html))
    return DOCS_CSP.format(hashes=hashes)


def session_cookie(headers: Headers, cookie_name: str) -> str | None:
    """The value of the web session cookie, if the request carries one."""
    raw = headers.get("cookie")
    if not raw or cookie_name not in raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header authenticates nothing
        return None
    morsel = jar.get(cookie_name)
    return morsel.value if morsel is not None and morsel.value else None


class SecurityHeadersMiddleware:
    """Adds the static headers, a Content-Security-Policy (strict for the API, the docs
    policy on ``docs_paths``), HSTS when enabled, ``Cache-Control: no-store`` on
    responses to credentialed requests (and, unless set, to unsafe methods: a token
    response must not be cached either), and the rate-limit fields of the request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        docs_paths: Iterable[str] = (),
        hsts_max_age: int | None = None,
        session_cookie: str = "plaza_session",
    ) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        self.hsts = f"max-age={hsts_max_age}; includeSubDomains" if hsts_max_age else None
        self.session_cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        credentialed = any(name in request_headers for name in ("authorization", "x-api-key"))
        credentialed = credentialed or bool(session_cookie(request_headers, self.session_cookie))
        # Static assets are the same for everyone (content-hashed URLs): a browser that is
        # signed in must still keep them, or every page load fetches them again.
        credentialed = credentialed and not scope["path"].startswith(STATIC_PREFIX)
        unsafe = scope["method"] in UNSAFE_METHODS
        # Shared with the request's ``request.state`` (Starlette keeps state in the scope).
        state = scope.setdefault("state", {})
        is_docs = scope["path"] in self.docs_paths

        def decorate(message: Message, csp: str) -> None:
            headers = MutableHeaders(scope=message)
            for name, value in STATIC_HEADERS.items():
                headers[name] = value
            if "content-security-policy" not in headers:  # a page may set a stricter one
                headers["content-security-policy"] = csp
            if self.hsts:
                headers["strict-transport-security"] = self.hsts
            if credentialed or (unsafe and "cache-control" not in headers):
                headers["cache-control"] = "no-store"
            if "ratelimit" not in headers:
                for name, value in state.get(RATE_LIMIT_STATE, ()):
                    headers[name] = value

        if not is_docs:

            async def send_decorated(message: Message) -> None:
                if message["type"] == "http.response.start":
                    decorate(message, API_CSP)
                await send(message)

            await self.app(scope, receive, send_decorated)
            return

        # Docs pages are small HTML: hold the start until the body is known, to hash it.
        start: Message | None = None
        body = bytearray()

        async def send_docs(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                decorate(start, docs_csp(bytes(body)))
                await send(start)
                await send({"type": "http.response.body", "body": bytes(body)})
                start = None
                return
            await send(message)

        await self.app(scope, receive, send_docs)
