"""Cursor pagination: opaque, signed cursors bound to one listing."""

from __future__ import annotations

import base64

import pytest

from plaza.errors import ProblemError
from plaza.pagination import MAX_PAGE_SIZE, decode_cursor, encode_cursor

from .helpers import problem


def _first_cursor(client, factory) -> str:  # type: ignore[no-untyped-def]
    for _ in range(2):
        factory.merchant()
    r = client.get("/merchants", params={"limit": 1})
    assert r.status_code == 200
    cursor = r.json()["next_cursor"]
    assert cursor
    return cursor


def test_round_trip():
    cursor = encode_cursor("things", ["2026-01-01T00:00:00+00:00", "abc", 3])
    assert decode_cursor("things", cursor) == ["2026-01-01T00:00:00+00:00", "abc", 3]
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor


def test_cursor_from_another_listing_is_refused():
    cursor = encode_cursor("orders", ["x"])
    with pytest.raises(ProblemError) as err:
        decode_cursor("products", cursor)
    assert err.value.kind.slug == "invalid-cursor"


def test_tampered_cursor_is_400(client, factory):
    cursor = _first_cursor(client, factory)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    payload, _, sig = raw.rpartition(b".")
    # Point the key somewhere else but keep the old signature.
    forged_payload = payload.replace(b'"k":["', b'"k":["0')
    assert forged_payload != payload
    forged = base64.urlsafe_b64encode(forged_payload + b"." + sig).decode().rstrip("=")
    flipped = cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")
    for bad in (forged, flipped, "not-a-cursor", "!!!", "é", cursor[:10]):
        problem(client.get("/merchants", params={"cursor": bad}), 400, "invalid-cursor")
    # The genuine cursor still works.
    assert client.get("/merchants", params={"cursor": cursor}).status_code == 200


def test_cursor_from_another_listing_is_400_over_http(client):
    other = encode_cursor("catalog.products", ["00000000-0000-7000-8000-000000000000"])
    problem(client.get("/merchants", params={"cursor": other}), 400, "invalid-cursor")


def test_page_size_is_bounded(client):
    problem(client.get("/merchants", params={"limit": MAX_PAGE_SIZE + 1}), 422, "validation-error")
    assert client.get("/merchants", params={"limit": MAX_PAGE_SIZE}).status_code == 200
    problem(client.get("/merchants", params={"cursor": "x" * 513}), 422, "validation-error")
