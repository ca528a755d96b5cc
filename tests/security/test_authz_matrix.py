"""The authorisation matrix: every endpoint × every role, generated from the app's routes.

For each route the expected outcome per role is derived from its one access rule; denied
roles must get exactly that 401 or 403, allowed roles must never get 401/403, and nobody
gets a 5xx. A new endpoint is covered without touching this file, and an endpoint whose
rule the matrix does not know fails it until its expectations are added here.

Sits beside ``tests/core/test_access_rules.py`` (each route declares exactly one rule) and
``tests/core/test_tenancy_matrix.py`` (other merchants are refused with every scope);
this file proves that the declared rules are what the server enforces, role by role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from plaza.identity.auth import (
    SCOPES,
    AccessRule,
    CartHolder,
    Customer,
    MerchantAccess,
    PlatformAdmin,
    Principal,
    Public,
    api_routes,
    route_access,
)
from plaza.identity.models import MerchantRole
from tests.core.test_tenancy_matrix import fill
from tests.factories import Factory, MerchantCtx

ALLOW = "allowed"
ROLES = (
    "anonymous",
    "customer",
    "merchant_staff",
    "merchant_admin",
    "other_merchant_admin",
    "api_key_with_scope",
    "api_key_without_scope",
    "platform_admin",  # last: a platform admin's successful write may change the merchant
)
API_KEYS = ("api_key_with_scope", "api_key_without_scope")
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# What the access rules answer. A 403 of another type is a business rule met by an allowed
# caller (``reauthentication-required``, ``consent-required``), not an access decision.
DENIALS = {401: "/problems/unauthenticated", 403: "/problems/forbidden"}


class UnknownRule(AssertionError):
    pass


def _public(rule: AccessRule, role: str) -> str | int:
    return ALLOW  # cart holders are checked against the cart itself (404 for others)


def _customer(rule: AccessRule, role: str) -> str | int:
    return 401 if role == "anonymous" or role in API_KEYS else ALLOW


def _platform_admin(rule: AccessRule, role: str) -> str | int:
    if role == "anonymous":
        return 401
    return ALLOW if role == "platform_admin" else 403


def _merchant(rule: AccessRule, role: str) -> str | int:
    assert isinstance(rule, MerchantAccess)
    outcome: dict[str, str | int] = {
        "anonymous": 401,
        "customer": 403,
        "merchant_staff": ALLOW if rule.role == MerchantRole.STAFF else 403,
        "merchant_admin": ALLOW,
        "other_merchant_admin": 403,
        "api_key_with_scope": ALLOW if rule.scope is not None else 403,
        "api_key_without_scope": 403,
        "platform_admin": ALLOW,
    }
    return outcome[role]


# Exact types: a new rule (or a subclass that behaves differently) needs its own row here.
EXPECTATIONS: dict[type[AccessRule], Callable[[AccessRule, str], str | int]] = {
    Public: _public,
    CartHolder: _public,
    Customer: _customer,
    PlatformAdmin: _platform_admin,
    MerchantAccess: _merchant,
}


def expected(rule: AccessRule, role: str) -> str | int:
    how = EXPECTATIONS.get(type(rule))
    if how is None:
        raise UnknownRule(
            f"access rule {type(rule).__name__} ({rule.label!r}) is unknown to the "
            "authorisation matrix: add its expected outcome per role to EXPECTATIONS"
        )
    return how(rule, role)


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    rule: AccessRule


def plan(app: FastAPI) -> list[Row]:
    rows = []
    for ctx in api_routes(app.routes):
        rules = route_access(ctx)
        path = ctx.path_format or "?"
        if len(rules) != 1:
            raise UnknownRule(f"{path}: needs exactly one access rule, has {len(rules)}")
        for role in ROLES:
            expected(rules[0], role)  # fail early, before any request, on an unknown rule
        for method in sorted(set(ctx.methods or ()) - {"HEAD", "OPTIONS"}):
            rows.append(Row(method, path, rules[0]))
    return rows


@dataclass
class World:
    """The callers: all act on one merchant, except the other merchant's admin."""

    merchant: MerchantCtx
    headers: dict[str, dict[str, str]]
    keys: dict[frozenset[str], str] = field(default_factory=dict)

    @classmethod
    def build(cls, factory: Factory) -> World:
        shop = factory.merchant()
        other = factory.merchant()
        world = cls(
            merchant=shop,
            headers={
                "anonymous": {},
                "customer": factory.user().headers,
                "merchant_staff": factory.staff(shop, MerchantRole.STAFF).headers,
                "merchant_admin": shop.admin.headers,
                "other_merchant_admin": other.admin.headers,
                "platform_admin": factory.platform_admin().headers,
            },
        )
        every = frozenset(SCOPES)
        for scopes in [every, frozenset({"catalog:read"})] + [
            s for scope in SCOPES for s in (frozenset({scope}), every - {scope})
        ]:
            world.keys[scopes] = factory.api_key(shop, sorted(scopes))
        return world

    def headers_for(self, role: str, rule: AccessRule) -> dict[str, str]:
        if role not in API_KEYS:
            return self.headers[role]
        scope = rule.scope if isinstance(rule, MerchantAccess) else None
        every = frozenset(SCOPES)
        if role == "api_key_with_scope":
            held = frozenset({scope}) if scope else every
        else:
            held = every - {scope} if scope else frozenset({"catalog:read"})
        return {"X-API-Key": self.keys[held]}


def test_every_endpoint_for_every_role(app, client: TestClient, factory: Factory):
    rows = plan(app)
    # The walk covers every context and every kind of rule.
    assert len(rows) >= 50
    kinds = {type(r.rule) for r in rows}
    assert kinds >= {Public, CartHolder, Customer, PlatformAdmin, MerchantAccess}
    assert {r.rule.role for r in rows if isinstance(r.rule, MerchantAccess)} == set(MerchantRole)
    world = World.build(factory)
    wrong: list[str] = []
    checked = 0
    for row in rows:
        url = fill(row.path, world.merchant.id)
        changed = False
        for role in ROLES:
            want = expected(row.rule, role)
            r = client.request(
                row.method,
                url,
                headers=world.headers_for(role, row.rule),
                json={} if row.method in BODY_METHODS else None,
                follow_redirects=False,
            )
            checked += 1
            got = r.status_code
            denial = got in DENIALS and _problem_type(r) == DENIALS[got]
            if got >= 500:
                wrong.append(f"{row.method} {row.path} as {role}: {got} (server error)")
            elif want == ALLOW and (denial or got == 401):
                wrong.append(f"{row.method} {row.path} as {role}: {got}, but the rule allows")
            elif want != ALLOW and (got != want or not denial):
                wrong.append(f"{row.method} {row.path} as {role}: {got}, expected {want}")
            changed = changed or (row.method in BODY_METHODS and 200 <= got < 300)
        if changed:  # a write succeeded (an erasure, a removal...): fresh callers next
            world = World.build(factory)
    assert wrong == []
    assert checked == len(rows) * len(ROLES)


def _problem_type(r) -> str | None:  # type: ignore[no-untyped-def]
    try:
        body = r.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


def test_the_expectations_follow_the_rules():
    staff_rule = MerchantAccess(MerchantRole.STAFF, "orders:read")
    admin_rule = MerchantAccess(MerchantRole.ADMIN)
    table = {role: (expected(staff_rule, role), expected(admin_rule, role)) for role in ROLES}
    assert table == {
        "anonymous": (401, 401),
        "customer": (403, 403),
        "merchant_staff": (ALLOW, 403),
        "merchant_admin": (ALLOW, ALLOW),
        "other_merchant_admin": (403, 403),
        "api_key_with_scope": (ALLOW, 403),
        "api_key_without_scope": (403, 403),
        "platform_admin": (ALLOW, ALLOW),
    }
    assert [expected(Customer(), r) for r in ROLES] == [401, *[ALLOW] * 4, 401, 401, ALLOW]
    assert [expected(PlatformAdmin(), r) for r in ROLES] == [401, *[403] * 6, ALLOW]
    assert {expected(Public(), r) for r in ROLES} == {expected(CartHolder(), r) for r in ROLES}


def test_an_endpoint_with_an_unknown_rule_fails_the_matrix():
    class Partner(AccessRule):
        label = "partner"
        description = "A rule the matrix has never heard of."

        def __call__(self) -> Principal:
            return Principal()

    class LaxCustomer(Customer):  # a subclass may behave differently: unknown too
        pass

    for rule in (Partner(), LaxCustomer()):
        toy = FastAPI()

        @toy.get("/partner-only")
        def partner_only(p: Principal = Depends(rule)) -> dict[str, str]:
            return {}

        with pytest.raises(UnknownRule, match=type(rule).__name__):
            plan(toy)
