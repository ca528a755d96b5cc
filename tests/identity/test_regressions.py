"""Defects the schema fuzz (tests/api) found in identity, kept fixed."""

from __future__ import annotations

import pytest

from ..core.helpers import problem


@pytest.mark.parametrize("field", ["name", "description", "default_currency"])
def test_patch_merchant_refuses_null_for_required_fields(client, factory, field):
    """`{"default_currency": null}` used to reach the column and answer 500."""
    m = factory.merchant()
    url = f"/merchants/{m.id}"
    body = problem(
        client.patch(url, json={field: None}, headers=m.admin.headers), 422, "validation-error"
    )
    assert f"{field} cannot be null" in body["errors"][0]["msg"]
    profile = client.get(url).json()
    assert profile["name"] and profile["default_currency"] == "EUR"
