"""RFC 9457 problem details: every error is problem+json with a stable, dereferenceable type."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from plaza.app import create_app
from plaza.config import Settings
from plaza.db import Database
from plaza.errors import CATALOGUE, PROBLEM_MEDIA_TYPE
from plaza.identity.auth import Principal, Public

from .helpers import problem

LIMIT = 2048


@pytest.fixture(scope="module")
def small_app(database_url: str, db: Database):  # type: ignore[no-untyped-def]
    """The real app with a small body limit and one route that fails unexpectedly."""
    settings = Settings(database_url=database_url, dispatcher="off", max_request_bytes=LIMIT)
    app = create_app(settings, db)

    def boom(_: Principal = Depends(Public())) -> dict[str, str]:
        raise RuntimeError("secret-internal-detail at /srv/plaza/db.py line 42")

    app.add_api_route("/_test/boom", boom, methods=["GET"])
    return app


@pytest.fixture
def small(small_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(small_app, raise_server_exceptions=False) as c:
        yield c


def test_malformed_json_is_400(client):
    for raw in (b"{bad", b'{"email": "a@example.com",', b"\xff\xfe"):
        r = client.post("/auth/register", content=raw, headers={"Content-Type": "application/json"})
        body = problem(r, 400, "malformed-json")
        assert "errors" not in body


def test_wrong_types_are_422_with_each_error(client):
    r = client.post("/auth/register", json={"email": 12, "password": ["x"], "name": {"a": 1}})
    body = problem(r, 422, "validation-error")
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "email") in locs and ("body", "password") in locs and ("body", "name") in locs
    for e in body["errors"]:
        assert set(e) <= {"loc", "msg", "type", "ctx"}
        assert "input" not in e  # input is never echoed back
    r = client.get("/merchants", params={"limit": "many"})
    assert problem(r, 422, "validation-error")["errors"][0]["loc"] == ["query", "limit"]


def test_unknown_route_is_404_problem(client):
    body = problem(client.get("/no/such/route"), 404, "not-found")
    assert body["instance"] == "/no/such/route"


def test_wrong_method_is_405_problem(client):
    r = client.delete("/healthz")
    problem(r, 405, "method-not-allowed")
    assert "GET" in r.headers["allow"]


def test_body_over_the_limit_with_content_length(small):
    big = b'{"email": "a@example.com", "password": "' + b"x" * LIMIT + b'"}'
    r = small.post("/auth/register", content=big, headers={"Content-Type": "application/json"})
    body = problem(r, 413, "payload-too-large")
    assert body["limit"] == LIMIT
    # A body under the limit is still served normally.
    r = small.post("/auth/register", json={"email": "x"})
    problem(r, 422, "validation-error")


def test_body_over_the_limit_chunked(small):
    big = b'{"email": "a@example.com", "password": "' + b"x" * LIMIT + b'"}'

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 256):
            yield big[i : i + 256]

    r = small.post("/auth/register", content=chunks(), headers={"Content-Type": "application/json"})
    problem(r, 413, "payload-too-large")


def test_bad_content_length_is_refused(small):
    r = small.post(
        "/auth/register",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "nonsense"},
    )
    assert r.status_code in (400, 413)
    assert r.headers["content-type"].split(";")[0] == PROBLEM_MEDIA_TYPE


def test_unexpected_exception_is_500_without_leaking(small, caplog):
    with caplog.at_level("ERROR", logger="plaza.http"):
        r = small.get("/_test/boom")
    body = problem(r, 500, "internal-error")
    assert re.fullmatch(r"[0-9a-f]{32}", body["incident"])
    assert body["incident"] in body["detail"]
    for leak in ("secret-internal-detail", "Traceback", "RuntimeError", "/srv/plaza", ".py"):
        assert leak not in r.text
    # The operator's log keeps the trace under the same incident id.
    assert any(body["incident"] in rec.getMessage() for rec in caplog.records)


def test_security_headers_on_success_and_problem(client):
    for r in (client.get("/healthz"), client.get("/no/such/route")):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


def test_problem_catalogue_dereferences_every_type(client):
    listed = client.get("/problems")
    assert listed.status_code == 200
    by_type = {p["type"]: p for p in listed.json()}
    assert set(by_type) == {p.uri for p in CATALOGUE.values()}
    for slug, kind in CATALOGUE.items():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
        assert 400 <= kind.status <= 599 and kind.title and kind.description
        r = client.get(kind.uri)
        assert r.status_code == 200, slug
        assert (
            r.json()
            == by_type[kind.uri]
            == {
                "type": kind.uri,
                "title": kind.title,
                "status": kind.status,
                "description": kind.description,
            }
        )
    problem(client.get("/problems/no-such-problem"), 404, "not-found")


def test_problem_types_register_once():
    from plaza.errors import problem_type

    with pytest.raises(ValueError, match="registered twice"):
        problem_type("not-found", "again", 404, "duplicate")


def test_event_catalogue_is_public(client):
    r = client.get("/event-types")
    assert r.status_code == 200
    types = r.json()
    assert "merchant.created" in types and all(isinstance(v, str) and v for v in types.values())
    assert list(types) == sorted(types)


def test_non_json_bodies_are_415(client):
    raw = b'{"email": "a@example.com", "password": "long enough pw"}'
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/xml"}, {}):
        r = client.post("/auth/register", content=raw, headers=headers)
        problem(r, 415, "unsupported-media-type")
    # JSON media types with parameters or a +json suffix are JSON; a missing body is a 422.
    r = client.post(
        "/auth/register", content=b"[]", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    problem(r, 422, "validation-error")
    r = client.post(
        "/auth/register", content=b"[]", headers={"Content-Type": "application/merge-patch+json"}
    )
    problem(r, 422, "validation-error")
    problem(client.post("/auth/register"), 422, "validation-error")
