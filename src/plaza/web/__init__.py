"""Web pages: the mobile storefront (``/shop``), store staff pages (``/staff/{merchant}``)
and the back-office (``/back-office/{merchant}``), server-rendered with Jinja2 and enhanced
with htmx. Pages call the same services as the JSON API; each route declares one access
rule like every API route. See docs/web.md."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from plaza.web.pagecache import PageCacheMiddleware
from plaza.web.render import problem_page

STATIC_MAX_AGE = 365 * 24 * 3600  # asset URLs carry their content hash (render.static_url)


class _Static(StaticFiles):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Any) -> None:
            if message["type"] == "http.response.start" and message.get("status") == 200:
                headers = list(message.get("headers", []))
                headers.append(
                    (b"cache-control", f"public, max-age={STATIC_MAX_AGE}, immutable".encode())
                )
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_cached)


def routers() -> list[Any]:
    from plaza.web import account, backoffice, shop, staff

    return [account.router, shop.router, staff.router, backoffice.router]


def install_web(app: FastAPI) -> None:
    app.state.problem_page = problem_page
    app.add_middleware(
        PageCacheMiddleware,
        db=app.state.db,
        session_cookie=app.state.settings.session_cookie_name,
    )
    app.mount("/static", _Static(packages=[("plaza.web", "static")]), name="static")
    for router in routers():
        app.include_router(router)
