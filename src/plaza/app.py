"""FastAPI application factory: mounts every context's router and the RFC 9457 handlers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from plaza import __version__
from plaza.config import Settings, get_settings
from plaza.db import Database
from plaza.errors import PROBLEM_MEDIA_TYPE
from plaza.http import install_error_handlers
from plaza.identity.auth import api_routes, route_access
from plaza.privacy.audit import AuditMiddleware
from plaza.security import install_security
from plaza.web import install_web

DESCRIPTION = """
Plaza's commerce API. Every operation states who may call it (`x-plaza-access`).
Errors are RFC 9457 `application/problem+json` with a stable `type` (see `/problems`).
Lists are cursor-paginated; retried writes take an `Idempotency-Key`.
"""


def _routers() -> list[Any]:
    from plaza import core_api
    from plaza.catalog import api as catalog
    from plaza.identity import api as identity
    from plaza.inventory import api as inventory
    from plaza.o2o.beacons import api as o2o_beacons
    from plaza.o2o.collect import api as o2o_collect
    from plaza.o2o.fitting import api as o2o_fitting
    from plaza.o2o.links import api as o2o_links
    from plaza.o2o.screens import api as o2o_screens
    from plaza.o2o.stores import api as o2o_stores
    from plaza.ordering import api as ordering
    from plaza.personas.customer import api as customer_personas
    from plaza.personas.recommend import api as recommend
    from plaza.personas.segments import api as segments
    from plaza.privacy import api as privacy

    return [
        core_api.router,
        identity.router,
        catalog.router,
        inventory.router,
        ordering.router,
        customer_personas.router,
        recommend.router,
        segments.router,
        privacy.router,
        o2o_stores.router,
        o2o_beacons.router,
        o2o_screens.router,
        o2o_fitting.router,
        o2o_links.router,
        o2o_collect.router,
    ]


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title="Plaza API", version=__version__, description=DESCRIPTION, routes=app.routes
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    for route in api_routes(app.routes):
        rules = route_access(route)
        for method in route.methods or ():
            op = schema["paths"].get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            op["x-plaza-access"] = [r.describe() for r in rules]
            if any(r.label not in ("public", "cart-holder") for r in rules):
                op["security"] = [{"bearer": []}, {"apiKey": []}]
    _document_problems(schema)
    app.openapi_schema = schema
    return schema


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `type` is stable (see `GET /problems`).",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "`/problems/<slug>`"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path."},
        "errors": {
            "type": "array",
            "description": "`validation-error` only: one entry per invalid field.",
            "items": {"type": "object"},
        },
    },
    "additionalProperties": True,
}


def _document_problems(schema: dict[str, Any]) -> None:
    """Every error is problem+json, whatever FastAPI assumes (its 422 `detail` shape): declare
    it so on each error response and add a `default` one, so clients and schema-based
    fuzzers can rely on the declared shape of any 4xx/5xx."""
    schemas = schema["components"].setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in schema["paths"].values():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            for code, response in responses.items():
                if code == "default" or code[0] in "45":
                    response["content"] = content
            responses.setdefault("default", {"description": "An error.", "content": content})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's, now unreferenced
        others = {k: v for k, v in schemas.items() if k != name}
        if f"#/components/schemas/{name}" not in json.dumps([schema["paths"], others]):
            schemas.pop(name, None)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = db or Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        dispatcher = None
        if settings.dispatcher == "inprocess":
            from plaza.worker import build_dispatcher

            dispatcher = build_dispatcher(database, settings)
            dispatcher.start()
        app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            if dispatcher is not None:
                dispatcher.stop()

    app = FastAPI(
        title="Plaza API", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.db = database
    app.state.settings = settings
    app.state.dispatcher = None
    import plaza.subscribers  # noqa: F401 - every context's subscribers and sign-in hooks

    install_error_handlers(app)
    install_security(app, settings)  # before the routers: it adds an app-wide dependency
    for router in _routers():
        app.include_router(router)
    install_web(app)  # storefront, staff and back-office pages (plaza.web)
    app.add_middleware(AuditMiddleware)  # who did what: staff and partner writes
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
