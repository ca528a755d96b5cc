"""Concurrent writers: optimistic concurrency, unique SKUs and distinct option combinations
hold under races (threads, each with its own client and database sessions)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from fastapi.testclient import TestClient

from .conftest import counts, product_body


def race(app, n: int, call: Callable[[TestClient, int], int]) -> Counter[int]:
    barrier = threading.Barrier(n)
    results: list[int] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        with TestClient(app, raise_server_exceptions=False) as c:
            barrier.wait(timeout=10)
            status = call(c, i)
        with lock:
            results.append(status)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return Counter(results)


def test_one_of_two_conditional_patches_wins(app, client, merchant):
    h = merchant.admin.headers
    p = client.post(f"/merchants/{merchant.id}/products", json=product_body(), headers=h).json()
    url = f"/merchants/{merchant.id}/products/{p['id']}"
    result = race(
        app,
        4,
        lambda c, i: (
            c.patch(url, json={"title": f"T{i}", "expected_version": 1}, headers=h).status_code
        ),
    )
    assert result == Counter({200: 1, 409: 3})
    assert client.get(url, headers=h).json()["version"] == 2


def test_same_sku_created_concurrently(app, db, merchant):
    h = merchant.admin.headers
    body = product_body()

    def create(c: TestClient, i: int) -> int:
        b = product_body()
        b["variants"] = [{**body["variants"][0], "options": {"size": "S"}}]
        return c.post(f"/merchants/{merchant.id}/products", json=b, headers=h).status_code

    result = race(app, 4, create)
    assert result == Counter({201: 1, 409: 3})
    assert counts(db, merchant.id)[1] == 1


def test_same_options_added_concurrently(app, client, db, merchant):
    h = merchant.admin.headers
    p = client.post(f"/merchants/{merchant.id}/products", json=product_body(), headers=h).json()
    url = f"/merchants/{merchant.id}/products/{p['id']}/variants"
    result = race(
        app,
        4,
        lambda c, i: (
            c.post(
                url, json={"sku": f"RACE-L-{i}", "options": {"size": "L"}}, headers=h
            ).status_code
        ),
    )
    assert result == Counter({201: 1, 409: 3})
    assert counts(db, merchant.id)[1] == 3
