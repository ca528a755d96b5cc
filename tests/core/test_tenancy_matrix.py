"""Tenancy across every context: a merchant's staff, admins and API keys are refused on
every route of another merchant. Generated from the app's routes, so a merchant endpoint
added later is covered without touching this file."""

from __future__ import annotations

import uuid

import pytest

from plaza.identity.auth import SCOPES, MerchantAccess, api_routes, route_access
from plaza.identity.models import MerchantRole


def merchant_routes(app) -> list[tuple[str, str]]:
    found = []
    for ctx in api_routes(app.routes):
        if any(isinstance(rule, MerchantAccess) for rule in route_access(ctx)):
            for method in sorted(set(ctx.methods or ()) - {"HEAD", "OPTIONS"}):
                found.append((method, ctx.path_format))
    return found


def fill(path: str, merchant_id: uuid.UUID) -> str:
    """Put the target merchant in the path and plausible values in the other params."""
    out = path.replace("{merchant_id}", str(merchant_id))
    out = out.replace("{currency}", "EUR")
    while "{" in out:
        start = out.index("{")
        out = out[:start] + str(uuid.uuid4()) + out[out.index("}") + 1 :]
    return out


def test_there_are_merchant_routes_to_check(app):
    assert len(merchant_routes(app)) >= 20


@pytest.mark.parametrize("who", ["admin", "staff", "api_key"])
def test_other_merchants_are_refused_everywhere(app, client, factory, who):
    victim = factory.merchant()
    intruder = factory.merchant()
    if who == "admin":
        headers = intruder.admin.headers
    elif who == "staff":
        headers = factory.staff(intruder, MerchantRole.STAFF).headers
    else:
        headers = {"X-API-Key": factory.api_key(intruder, sorted(SCOPES))}
    leaks = []
    for method, path in merchant_routes(app):
        url = fill(path, victim.id)
        r = client.request(method, url, headers=headers, json={})
        if r.status_code != 403:
            leaks.append(f"{method} {path} -> {r.status_code}")
    assert leaks == []


def test_anonymous_is_refused_everywhere(app, client, factory):
    victim = factory.merchant()
    wrong = [
        f"{m} {p} -> {r.status_code}"
        for m, p in merchant_routes(app)
        if (r := client.request(m, fill(p, victim.id), json={})).status_code != 401
    ]
    assert wrong == []
