"""Abusive bodies (huge lists, deep nesting, long strings, NUL, huge numbers) sent to every
write endpoint by a caller every rule admits: the answer is a 4xx problem, never a 5xx (nor
a 2xx). Generated from the OpenAPI schema, so new endpoints are covered."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from plaza.errors import PROBLEM_MEDIA_TYPE
from plaza.security.inputs import has_nul, too_deep
from tests.core.helpers import problem
from tests.core.test_tenancy_matrix import fill
from tests.factories import Factory

WRITE_METHODS = ("post", "put", "patch", "delete")


def deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": [value]}
    return value


def body_fields(schema: dict[str, Any], op: dict[str, Any]) -> list[str] | None:
    """The top-level fields of an operation's JSON body (None: it takes no body)."""
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    body = content["schema"]
    while "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    return sorted(body.get("properties", {})) or ["x"]


ABUSE = {
    "10k-list": ["x"] * 10_000,
    "1k-objects": [{"a": 1}] * 1_000,
    "deep-nesting": deep(400),
    "long-string": "x" * 20_000,
    "nul-string": "a\u0000b",
    "huge-int": 10**400,
    "huge-float": 1e308,
    "negative": -(2**63) - 1,
}


def test_no_abusive_body_gets_a_server_error(app, client: TestClient, factory: Factory):
    schema = app.openapi()
    shop = factory.merchant()
    headers = factory.platform_admin().headers  # every rule admits a platform admin
    failures: list[str] = []
    sent = 0
    for path, item in schema["paths"].items():
        for method in WRITE_METHODS:
            op = item.get(method)
            if op is None or (fields := body_fields(schema, op)) is None:
                continue
            url = fill(path, shop.id)
            # Every field abused at once: field validators all run, whatever the others hold.
            payloads: dict[str, Any] = {"top-level-10k-list": [0] * 10_000}
            for name, value in ABUSE.items():
                payloads[name] = dict.fromkeys(fields, value)
            for name, payload in payloads.items():
                r = client.request(method.upper(), url, json=payload, headers=headers)
                sent += 1
                if r.status_code >= 500 or not 400 <= r.status_code < 500:
                    failures.append(f"{method.upper()} {path} [{name}]: {r.status_code}")
                elif r.headers["content-type"].split(";")[0] != PROBLEM_MEDIA_TYPE:
                    failures.append(f"{method.upper()} {path} [{name}]: not problem+json")
    assert sent > 200
    assert failures == [], "\n".join(failures)


def test_bounded_lists_answer_422_and_deep_json_400(client: TestClient, factory: Factory):
    shop = factory.merchant()
    r = client.post(
        f"/merchants/{shop.id}/api-keys",
        json={"name": "k", "scopes": ["catalog:read"] * 10_000},
        headers=shop.admin.headers,
    )
    body = problem(r, 422, "validation-error")
    assert ["body", "scopes"] in [e["loc"] for e in body["errors"]]
    assert len(r.content) < 2_000  # the input is not echoed back
    # Nesting deeper than the JSON parser's recursion limit is a malformed body, not a 500.
    raw = b'{"email": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    r = client.post("/auth/register", content=raw, headers={"Content-Type": "application/json"})
    problem(r, 400, "malformed-json")


def test_depth_and_nul_are_refused_for_every_body(client: TestClient, factory: Factory):
    shop = factory.merchant()
    url, headers = f"/merchants/{shop.id}", shop.admin.headers
    for payload, kind in (
        ({"name": "a\u0000b"}, "string_nul"),
        ({"description": {"k\u0000": 1}}, "string_nul"),
        ({"name": deep(40)}, "json_too_deep"),
    ):
        body = problem(client.patch(url, json=payload, headers=headers), 422, "validation-error")
        assert [(e["loc"], e["type"]) for e in body["errors"]] == [(["body"], kind)]
    # An escaped backslash followed by "u0000" is text, not NUL.
    r = client.patch(
        url,
        content=rb'{"name": "C:\\u0000dir"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["name"] == "C:\\u0000dir"


def test_the_shape_checks():
    assert has_nul(json.dumps({"a": "x\u0000"}).encode())
    assert has_nul(json.dumps({"k\u0000": 1}).encode())
    assert has_nul(rb'["\\\u0000"]')  # an escaped backslash, then a NUL
    assert not has_nul(rb'["\\u0000"]') and not has_nul(b'{"a": "u0000"}')
    # The limit counts container levels.
    assert not too_deep([[[]]], 3) and too_deep([[[[]]]], 3)
    assert not too_deep({"a": [1, "x", {"b": None}]}, 32) and not too_deep("scalar", 1)
    assert not too_deep(deep(15), 32)  # 15 dicts + 15 lists = 30 levels
    assert too_deep(deep(17), 32)
    # Iterative: a structure far deeper than Python's recursion limit is checked safely.
    assert too_deep(deep(5000), 32)
