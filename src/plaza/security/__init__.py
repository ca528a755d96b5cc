"""Platform hardening: rate limits, security headers, CSRF, body limits (docs/security.md).

``install_security`` wires all of it into the app; ``create_app`` calls it before the
routers are included, because FastAPI applies app-wide dependencies at include time.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from plaza.config import Settings
from plaza.http import BodyLimitMiddleware, HeaderLimitMiddleware
from plaza.security.csrf import CSRFMiddleware
from plaza.security.headers import SecurityHeadersMiddleware
from plaza.security.inputs import guard_json_body
from plaza.security.ratelimit import RateLimiter, limit_public_writes


def install_security(app: FastAPI, settings: Settings) -> None:
    app.state.rate_limiter = (
        RateLimiter.from_settings(settings) if settings.rate_limit_enabled else None
    )
    # App-wide dependencies run before each route's own, after FastAPI has read the body.
    app.router.dependencies.append(Depends(limit_public_writes))
    app.router.dependencies.append(Depends(guard_json_body))
    # The last added runs first: the body limit bounds what CSRF may buffer for a form token.
    app.add_middleware(
        CSRFMiddleware,
        cookie_name=settings.session_cookie_name,
        secret=settings.resolved_secret_key,
        trusted_origins=settings.csrf_trusted_origins,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(HeaderLimitMiddleware, max_bytes=settings.max_header_bytes)
    docs = [app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url]
    build_stack = app.build_middleware_stack

    def build_with_headers() -> Any:
        # Around Starlette's ServerErrorMiddleware too, so even a 500 gets the headers.
        return SecurityHeadersMiddleware(
            build_stack(),
            docs_paths=[p for p in docs if p],
            hsts_max_age=settings.hsts_max_age_seconds if settings.hsts else None,
            session_cookie=settings.session_cookie_name,
        )

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
