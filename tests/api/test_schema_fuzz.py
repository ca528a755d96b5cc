"""Schemathesis over the whole OpenAPI schema, in-process (ASGI).

Every operation the app publishes is fuzzed with schema-valid and schema-invalid input and
must answer with no 5xx, a status code, content type, headers and body its schema declares
(errors are ``application/problem+json`` of the ``Problem`` schema); secured operations
must refuse a call without credentials, and other methods on a path must be 405.

Requests carry the credentials the operation's ``x-plaza-access`` rule asks for, and path,
query and body ids are drawn mostly from a seeded world (a merchant with products, stock,
orders, a return, a cart), so they reach the handlers instead of stopping at 401/403/404.
A new endpoint is fuzzed without touching this file; ``test_every_operation_was_fuzzed``
proves none was skipped.

Deterministic (fixed seed, derandomized) and bounded (``MAX_EXAMPLES`` per operation and
phase) so CI is stable.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig

from plaza.db import Database
from plaza.identity.models import MerchantRole
from tests.factories import Actor, Factory, unique

MAX_EXAMPLES = 10
SEED = 20261125
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "missing_required_header",  # a required header left out is a 4xx
    "unsupported_method",  # other methods on a path are 405 with Allow
    "ignored_auth",  # a secured operation called without credentials is refused
]
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Share of generated values replaced by a real id of the seeded world; the rest stay
# random, so "not found" paths are fuzzed too.
REAL_ID_PROBABILITY = 0.85
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Market Street",
    "city": "Amsterdam",
    "postal_code": "1011",
    "country": "NL",
}


@dataclass
class World:
    platform_admin: Actor
    merchant_admin: Actor
    customer: Actor
    # parameter name -> plausible values, bound wherever a parameter of that name appears
    ids: dict[str, list[str]] = field(default_factory=dict)
    turn: Iterator[int] = field(default_factory=itertools.count)

    def headers_for(self, rule: str) -> dict[str, str]:
        """The credentials an operation's access rule asks for; public ones go anonymous.
        Merchant-admin operations (members, keys, profile) run as the platform admin, so
        the merchant admin keeps its seat whatever they do."""
        if rule == "public":
            return {}
        if rule in ("customer", "cart-holder"):
            return self.customer.headers
        if rule == "merchant-staff":
            return self.merchant_admin.headers
        return self.platform_admin.headers


def _ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return dict(r.json())


def _checkout(client: TestClient, who: Actor, items: list[tuple[str, int]]) -> dict[str, Any]:
    cart = _ok(client.post("/carts", json={"currency": "EUR"}, headers=who.headers), 201)
    for variant_id, qty in items:
        _ok(
            client.post(
                f"/carts/{cart['id']}/lines",
                json={"variant_id": variant_id, "quantity": qty},
                headers=who.headers,
            ),
            201,
        )
    body = {"shipping_address": ADDRESS, "payment": {"token": "tok_visa"}}
    return _ok(client.post(f"/carts/{cart['id']}/checkout", json=body, headers=who.headers), 201)


def build_world(db: Database, client: TestClient) -> World:
    """A small, realistic world made through the API itself."""
    factory = Factory(db, client)
    admin = factory.platform_admin()
    merchant = factory.merchant()
    staff = factory.staff(merchant, MerchantRole.STAFF)
    customer = factory.user()
    mh, ah = merchant.admin.headers, admin.headers
    m = f"/merchants/{merchant.id}"

    category = _ok(
        client.post("/categories", json={"slug": unique("cat"), "name": "Coats"}, headers=ah), 201
    )
    key = _ok(
        client.post(f"{m}/api-keys", json={"name": "ERP", "scopes": ["orders:read"]}, headers=mh),
        201,
    )
    location = _ok(
        client.post(
            f"{m}/locations",
            json={
                "code": unique("WH"),
                "name": "Main warehouse",
                "kind": "warehouse",
                "address": {"line1": "1 Dock Road", "city": "Rotterdam", "country": "NL"},
            },
            headers=mh,
        ),
        201,
    )
    product = _ok(
        client.post(
            f"{m}/products",
            json={
                "title": "Rain jacket",
                "status": "active",
                "category_id": category["id"],
                "options": [{"name": "size", "values": ["S", "M"]}],
                "variants": [
                    {
                        "sku": unique("SKU"),
                        "options": {"size": size},
                        "prices": [{"currency": "EUR", "amount": 4999}],
                    }
                    for size in ("S", "M")
                ],
            },
            headers=mh,
        ),
        201,
    )
    variants = [v["id"] for v in product["variants"]]
    for vid in variants:
        _ok(client.put(f"{m}/stock/{vid}/{location['id']}", json={"on_hand": 500}, headers=mh))

    # Orders in several states: paid ones to cancel, refund or fulfil; a fulfilled one with
    # a return request; the customer's open cart with a line; an anonymous cart.
    paid = [_checkout(client, customer, [(variants[i % 2], 1)]) for i in range(3)]
    order_ids = [c["orders"][0]["id"] for c in paid]
    fulfilled = order_ids[-1]
    _ok(client.post(f"{m}/orders/{fulfilled}/fulfil", json={"carrier": "DHL"}, headers=mh))
    detail = _ok(client.get(f"/me/orders/{fulfilled}", headers=customer.headers))
    ret = _ok(
        client.post(
            f"/me/orders/{fulfilled}/returns",
            json={
                "lines": [{"order_line_id": detail["lines"][0]["id"], "quantity": 1}],
                "reason": "too big",
            },
            headers=customer.headers,
        ),
        201,
    )
    cart = _ok(client.post("/carts", json={"currency": "EUR"}, headers=customer.headers), 201)
    cart = _ok(
        client.post(
            f"/carts/{cart['id']}/lines",
            json={"variant_id": variants[0], "quantity": 2},
            headers=customer.headers,
        ),
        201,
    )

    world = World(platform_admin=admin, merchant_admin=merchant.admin, customer=customer)
    world.ids = {
        "merchant_id": [str(merchant.id)],
        # Not the admin: with a second admin (PUT members) the fuzz could remove it.
        "user_id": [str(staff.id)],
        "key_id": [key["id"]],
        "category_id": [category["id"]],
        "parent_id": [category["id"]],
        "product_id": [product["id"]],
        "variant_id": variants,
        "location_id": [location["id"]],
        "currency": ["EUR", "USD"],
        "cart_id": [cart["id"]],
        "line_id": [cart["lines"][0]["id"]],
        "checkout_id": [c["id"] for c in paid],
        "order_id": order_ids,
        "order_line_id": [detail["lines"][0]["id"]],
        "return_id": [ret["id"]],
        "slug": ["not-found", "validation-error", "payment-declined"],
        "token": ["tok_visa", "tok_declined"],
    }
    return world


def _config(world: World) -> SchemathesisConfig:
    dictionaries = {name: {"values": values} for name, values in world.ids.items()}
    parameters: dict[str, Any] = {}
    for name in world.ids:
        bind = {"dictionary": name, "probability": REAL_ID_PROBABILITY}
        for location in ("path", "query"):
            parameters[f"{location}.{name}"] = bind
    for pointer in ("variant_id", "location_id", "category_id", "parent_id"):
        parameters[f"body.{pointer}"] = {"dictionary": pointer, "probability": REAL_ID_PROBABILITY}
    parameters["body.lines[*].order_line_id"] = {"dictionary": "order_line_id", "probability": 0.9}
    parameters["body.payment.token"] = {"dictionary": "token", "probability": 0.9}
    parameters["body.token"] = {"dictionary": "token", "probability": 0.9}
    checks: dict[str, Any] = {"enabled": False}
    checks.update({name: {"enabled": True} for name in CHECKS})
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "dictionaries": dictionaries,
            "parameters": parameters,
            "checks": checks,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "no-shrink": True,
                # Credentials come from the access rule; 401/403 have their own matrix.
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
        }
    )


@pytest.fixture(scope="module")
def world(app, db: Database) -> World:  # type: ignore[no-untyped-def]
    return build_world(db, TestClient(app, raise_server_exceptions=False))


@pytest.fixture(scope="module")
def api_schema(app, world: World):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(world))


@pytest.fixture(scope="module")
def fuzzed() -> set[str]:
    return set()


schema = schemathesis.pytest.from_fixture("api_schema")


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def _use_world_ids(values: Any, world: World) -> None:
    """Swap well-formed ids that are not the world's for the world's (in place, nested);
    malformed ones stay, they exercise validation."""
    items = values.items() if isinstance(values, dict) else enumerate(values or ())
    for name, value in list(items):
        pool = world.ids.get(name) if isinstance(name, str) else None
        if pool and _is_uuid(value) and value not in pool:
            values[name] = pool[next(world.turn) % len(pool)]
        elif isinstance(value, dict | list):
            _use_world_ids(value, world)


def _prepare(case: Any, world: World) -> None:
    # The coverage phase ignores the dictionaries and sends one fixed UUID for every id.
    if case.meta is not None and case.meta.phase.name == "coverage":
        for part in (case.path_parameters, case.query, case.body):
            if isinstance(part, dict):
                _use_world_ids(part, world)
    # A generated Idempotency-Key is mostly malformed (400) or reused with another body
    # (422), so the handler would rarely run: use a fresh key, keeping every fourth one.
    headers = case.headers
    if headers and "Idempotency-Key" in headers and next(world.turn) % 4:
        headers["Idempotency-Key"] = uuid.uuid4().hex


@schema.parametrize()
def test_api_conforms_to_its_schema(case, world: World, fuzzed: set[str]) -> None:  # type: ignore[no-untyped-def]
    fuzzed.add(case.operation.label)
    _prepare(case, world)
    rule = case.operation.definition.raw["x-plaza-access"][0]["rule"]
    case.call_and_validate(headers=world.headers_for(rule))


def test_every_operation_was_fuzzed(app, fuzzed: set[str]) -> None:  # type: ignore[no-untyped-def]
    """Runs after the fuzz (same module, same worker): it covered the whole schema."""
    if not fuzzed:
        pytest.skip(reason="the fuzz did not run in this session (deselected)")
    published = {
        f"{method.upper()} {path}"
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert len(published) >= 60
    assert fuzzed == published, sorted(published ^ fuzzed)
