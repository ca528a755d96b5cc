"""The OpenAPI schema documents access and page sizes for every operation."""

from __future__ import annotations

from fastapi.routing import RouteContext

from plaza.identity.auth import api_routes, route_access
from plaza.pagination import MAX_PAGE_SIZE, Page

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _operations(schema: dict) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    return [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


def _returns_page(route: RouteContext) -> bool:
    model = route.response_model
    return isinstance(model, type) and issubclass(model, Page)


def test_every_operation_declares_its_access(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    ops = _operations(schema)
    assert ops
    for path, method, op in ops:
        access = op.get("x-plaza-access")
        assert isinstance(access, list) and len(access) == 1, f"{method} {path}"
        rule = access[0]
        assert rule["rule"] and rule["description"], f"{method} {path}"
        if rule["rule"] in ("merchant-admin", "merchant-staff"):
            assert "{merchant_id}" in path
            assert "role" in rule and "scope" in rule
        if rule["rule"] not in ("public", "cart-holder"):
            assert op.get("security"), f"{method} {path} needs a security requirement"
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey"}


def test_schema_access_matches_the_enforced_rule(app):
    schema = app.openapi()
    for route in api_routes(app.routes):
        (rule,) = route_access(route)
        for method in route.methods or ():
            op = schema["paths"].get(route.path_format, {}).get(method.lower())
            if op is not None:
                assert op["x-plaza-access"] == [rule.describe()]


def test_every_paginated_list_states_its_maximum(app):
    schema = app.openapi()
    paged = [r for r in api_routes(app.routes) if _returns_page(r)]
    assert paged, "expected at least one paginated listing (GET /merchants)"
    for route in paged:
        for method in route.methods or ():
            op = schema["paths"][route.path_format][method.lower()]
            params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
            assert "limit" in params, f"{method} {route.path_format} has no limit"
            assert params["limit"]["schema"].get("maximum") == MAX_PAGE_SIZE == 100
            assert params["limit"]["schema"].get("minimum") == 1
            assert "cursor" in params, f"{method} {route.path_format} has no cursor"


def test_schema_is_generated_once_and_cached(app):
    assert app.openapi() is app.openapi()
