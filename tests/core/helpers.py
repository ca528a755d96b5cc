"""Assertions shared by the platform and identity tests."""

from __future__ import annotations

from typing import Any

import httpx

from plaza.errors import CATALOGUE, PROBLEM_MEDIA_TYPE


def problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Assert ``r`` is an RFC 9457 problem of the registered type ``slug``; return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = r.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] == CATALOGUE[slug].title
    assert isinstance(body["detail"], str) and body["detail"]
    return body
