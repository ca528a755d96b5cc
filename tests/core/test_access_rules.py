"""Every endpoint declares exactly one access rule, and the schema says which.

Written over ``app.routes`` generically, so an endpoint added by any context later is
covered without touching this file: a route without a rule fails here.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from plaza.identity.auth import (
    AccessRule,
    Customer,
    MerchantAccess,
    Principal,
    Public,
    api_routes,
    route_access,
)
from plaza.identity.models import MerchantRole


def _docs_paths(app: FastAPI) -> set[str]:
    return {
        p
        for p in (
            app.openapi_url,
            app.docs_url,
            app.redoc_url,
            app.swagger_ui_oauth2_redirect_url,
        )
        if p
    }


def access_violations(app: FastAPI) -> list[str]:
    """Human-readable reasons why ``app`` breaks the one-rule-per-endpoint contract."""
    problems: list[str] = []
    docs = _docs_paths(app)
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path_format or "?"
        if isinstance(route, APIRoute | APIWebSocketRoute):
            name = f"{sorted(context.methods or ['WS'])} {path}"
            rules = route_access(context)
            if len(rules) != 1:
                labels = [r.label for r in rules]
                problems.append(f"{name}: needs exactly one AccessRule, has {labels}")
                continue
            if isinstance(rules[0], MerchantAccess) and "{merchant_id}" not in path:
                problems.append(f"{name}: MerchantAccess without a {{merchant_id}} path param")
        elif isinstance(route, Route) and path in docs:
            continue  # FastAPI's own schema and docs pages
        elif isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            continue  # static assets carry no data
        else:
            problems.append(f"{type(route).__name__} {path}: cannot declare an access rule")
    return problems


def test_every_route_declares_exactly_one_access_rule(app):
    assert access_violations(app) == []
    # The walk really saw the application's endpoints, through its included routers.
    paths = {r.path_format for r in api_routes(app.routes)}
    assert {"/healthz", "/auth/token", "/merchants/{merchant_id}/api-keys"} <= paths


def test_checker_catches_a_route_without_a_rule():
    toy = FastAPI()
    router = APIRouter()

    @router.get("/open")
    def open_() -> dict[str, str]:
        return {}

    @router.get("/twice")
    def twice(
        a: Principal = Depends(Public()), b: Principal = Depends(Customer())
    ) -> dict[str, str]:
        return {}

    @router.get("/shops/{shop_id}/stock")
    def misplaced(
        shop_id: uuid.UUID, p: Principal = Depends(MerchantAccess(MerchantRole.STAFF))
    ) -> dict[str, str]:
        return {}

    @router.get("/fine")
    def fine(p: Principal = Depends(Public())) -> dict[str, str]:
        return {}

    toy.include_router(router)
    toy.add_route("/raw", lambda request: None)
    found = access_violations(toy)
    assert any(v.startswith("['GET'] /open:") for v in found)
    assert any(v.startswith("['GET'] /twice:") for v in found)
    assert any("/shops/{shop_id}/stock" in v and "merchant_id" in v for v in found)
    assert any("/raw" in v for v in found)
    assert not any("/fine" in v for v in found)
    assert not any("/openapi.json" in v or "/docs" in v for v in found)


def test_a_rule_reached_through_a_sub_dependency_counts(app):
    """A helper dependency that itself depends on a rule still declares that rule."""
    rule = Customer()

    def helper(p: Principal = Depends(rule)) -> Principal:
        return p

    toy = FastAPI()

    @toy.get("/via-helper")
    def via_helper(p: Principal = Depends(helper)) -> dict[str, str]:
        return {}

    @toy.get("/same-rule-twice")
    def same_rule_twice(
        p: Principal = Depends(helper), q: Principal = Depends(rule)
    ) -> dict[str, str]:
        return {}

    assert access_violations(toy) == []
    route = next(r for r in api_routes(toy.routes) if r.path_format == "/via-helper")
    assert [type(r) for r in route_access(route)] == [Customer]


def test_rules_are_access_rules(app):
    for route in api_routes(app.routes):
        for rule in route_access(route):
            assert isinstance(rule, AccessRule)
            assert rule.label and rule.description
