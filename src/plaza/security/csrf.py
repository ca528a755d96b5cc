"""CSRF protection for requests authenticated by the web session cookie.

The API's callers authenticate with ``Authorization`` or ``X-API-Key`` headers, which a
browser never adds to a cross-site request on its own: those requests are immune. Web
pages (server-rendered, htmx) authenticate with a session cookie, which the browser *does*
attach to cross-site requests; for them every unsafe request must prove it came from one
of Plaza's own pages:

- it carries the session's CSRF token in the ``X-CSRF-Token`` header (htmx:
  ``hx-headers``) or in the ``csrf_token`` field of a urlencoded form. The token is an HMAC
  of the session cookie's value under the secret key (a synchroniser token that needs no
  server-side storage): pages embed ``csrf_token(session, secret)``;
- and, when the browser says where it comes from, that is Plaza itself:
  ``Sec-Fetch-Site`` must be ``same-origin`` or ``none`` (typed by the user), and
  ``Origin`` must be this host or one of ``PLAZA_CSRF_TRUSTED_ORIGINS``.

Before there is a session (sign-in, registration, an anonymous cart), form posts (the
content types a cross-site HTML form can send) get the origin check alone: another site
must not sign a visitor into the attacker's account.

Anything else is ``403 csrf-failed``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plaza.errors import ProblemError, problem_type
from plaza.http import ProblemHTTPException, problem_response
from plaza.security.headers import UNSAFE_METHODS, session_cookie

CSRF_FAILED = problem_type(
    "csrf-failed",
    "CSRF check failed",
    403,
    "A state-changing request authenticated by the session cookie must carry the page's "
    "CSRF token (`X-CSRF-Token` header or `csrf_token` form field) and come from Plaza's "
    "own origin.",
)
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_SAME_SITE_FETCH = frozenset({"same-origin", "none"})


def csrf_token(session: str, secret: str) -> str:
    """The CSRF token of a session (the session cookie's value)."""
    mac = hmac.new(secret.encode(), b"plaza-csrf\x1f" + session.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def csrf_token_matches(session: str, token: str, secret: str) -> bool:
    return hmac.compare_digest(csrf_token(session, secret).encode(), token.encode())


def _origin(value: str) -> str:
    parts = urlsplit(value.strip().lower())
    return f"{parts.scheme}://{parts.netloc}"


class CSRFMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        cookie_name: str,
        secret: Callable[[], str],
        trusted_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.cookie_name = cookie_name
        self._secret = secret
        self.trusted = frozenset(_origin(o) for o in trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        session = session_cookie(headers, self.cookie_name)
        # Authenticated by an explicit header (the cookie is then not what authenticates):
        # nothing for a forged request to ride on.
        if "authorization" in headers or "x-api-key" in headers:
            await self.app(scope, receive, send)
            return
        if session is None:
            # No session yet, but a browser form (sign-in, register, add to cart) must still
            # come from Plaza's own pages, or another site could sign a visitor into its
            # account ("login CSRF") or fill their cart.
            problem = self._origin_problem(headers) if self._is_browser_form(headers) else None
            if problem is not None:
                await problem_response(ProblemError(CSRF_FAILED, problem))(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        problem = self._origin_problem(headers)
        token = headers.get(CSRF_HEADER)
        replay = receive
        if problem is None and token is None and self._is_form(headers):
            try:
                body, replay = await _buffer(receive)
            except ProblemHTTPException as exc:  # over the body limit while reading
                await problem_response(exc.problem)(scope, receive, send)
                return
            values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(CSRF_FIELD)
            token = values[0] if values else None
        if problem is None and token is None:
            problem = "the CSRF token is missing"
        elif problem is None and not csrf_token_matches(session, token or "", self._secret()):
            problem = "the CSRF token does not match the session"
        if problem is not None:
            await problem_response(ProblemError(CSRF_FAILED, problem))(scope, replay, send)
            return
        await self.app(scope, replay, send)

    def _origin_problem(self, headers: Headers) -> str | None:
        site = headers.get("sec-fetch-site")
        if site is not None and site.lower() not in _SAME_SITE_FETCH:
            return "the request comes from another site (Sec-Fetch-Site)"
        origin = headers.get("origin")
        if origin is None:
            return None
        host = (headers.get("host") or "").lower()
        if origin.strip().lower() == "null" or (
            urlsplit(origin.strip().lower()).netloc != host and _origin(origin) not in self.trusted
        ):
            return "the request's Origin is not this site"
        return None

    @staticmethod
    def _is_browser_form(headers: Headers) -> bool:
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        return media in (FORM_MEDIA_TYPE, "multipart/form-data", "text/plain")

    @staticmethod
    def _is_form(headers: Headers) -> bool:
        return headers.get("content-type", "").split(";")[0].strip().lower() == FORM_MEDIA_TYPE


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (the body limit middleware outside bounds it) and a ``receive``
    that hands it to the app as if unread."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
