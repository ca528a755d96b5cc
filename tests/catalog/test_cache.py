"""The in-process cache of public catalog responses: hits, invalidation on every write (in
this process at once, from other processes within the version TTL), LRU bounds."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from plaza.catalog import service
from plaza.catalog.cache import CatalogCache, cache_for
from plaza.catalog.schemas import ProductPatch
from tests.catalog_helpers import create_product

from .conftest import product_body


def _get(client, merchant_id, **params):
    r = client.get("/products", params={"merchant_id": str(merchant_id), **params})
    assert r.status_code == 200
    return r


def test_hit_then_invalidated_by_an_api_write(client, merchant):
    h = merchant.admin.headers
    p = client.post(f"/merchants/{merchant.id}/products", json=product_body(), headers=h).json()
    assert _get(client, merchant.id).headers["x-cache"] == "miss"
    r = _get(client, merchant.id)
    assert r.headers["x-cache"] == "hit" and r.json()["items"][0]["title"] == p["title"]
    client.patch(f"/merchants/{merchant.id}/products/{p['id']}", json={"title": "Fresh"}, headers=h)
    r = _get(client, merchant.id)
    assert r.headers["x-cache"] == "miss" and r.json()["items"][0]["title"] == "Fresh"
    # Product pages too: a price change shows at once.
    vid = p["variants"][0]["id"]
    assert client.get(f"/products/{p['id']}").json()["variants"][0]["price"]["amount"] == 1999
    assert client.get(f"/products/{p['id']}").headers["x-cache"] == "hit"
    client.put(
        f"/merchants/{merchant.id}/variants/{vid}/prices/EUR", json={"amount": 1499}, headers=h
    )
    assert client.get(f"/products/{p['id']}").json()["variants"][0]["price"]["amount"] == 1499


def test_invalidated_by_a_service_write(client, db, merchant):
    pid, _ = create_product(db, merchant.id, title="Before")
    assert _get(client, merchant.id).json()["items"][0]["title"] == "Before"
    assert _get(client, merchant.id).headers["x-cache"] == "hit"
    with db.transaction() as s:
        service.update_product(s, merchant.id, pid, ProductPatch(title="After"))
    assert _get(client, merchant.id).json()["items"][0]["title"] == "After"


def test_archiving_removes_from_cached_listing(client, db, merchant):
    pid, _ = create_product(db, merchant.id)
    assert len(_get(client, merchant.id).json()["items"]) == 1
    with db.transaction() as s:
        service.archive_product(s, merchant.id, pid)
    assert _get(client, merchant.id).json()["items"] == []


def test_rolled_back_write_keeps_cache_valid(client, db, merchant):
    pid, _ = create_product(db, merchant.id, title="Stable")
    _get(client, merchant.id)
    try:
        with db.transaction() as s:
            service.update_product(s, merchant.id, pid, ProductPatch(title="Never"))
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    r = _get(client, merchant.id)
    assert r.json()["items"][0]["title"] == "Stable"


def test_another_process_write_shows_within_the_ttl(client, db, merchant):
    """A write this process did not make (no local signal) is seen once the TTL expires."""
    _pid, _ = create_product(db, merchant.id, title="Old title")
    cache = cache_for(db)
    saved = cache.ttl
    cache.ttl = 0.3
    try:
        assert _get(client, merchant.id).json()["items"][0]["title"] == "Old title"
        time.sleep(0.35)  # start a fresh TTL window, then write "from elsewhere"
        _get(client, merchant.id)
        with db.engine.begin() as conn:  # a bare connection: like another API process
            conn.execute(
                text("UPDATE products SET title = 'New title' WHERE merchant_id = :m"),
                {"m": merchant.id.hex if db.is_sqlite else merchant.id},
            )
            conn.execute(
                text("UPDATE catalog_versions SET version = version + 1 WHERE merchant_id = :m"),
                {"m": merchant.id.hex if db.is_sqlite else merchant.id},
            )
        stale = _get(client, merchant.id).json()["items"][0]["title"]
        assert stale == "Old title"  # still inside the TTL window: served from cache
        time.sleep(0.35)
        assert _get(client, merchant.id).json()["items"][0]["title"] == "New title"
    finally:
        cache.ttl = saved


def test_lru_bound_and_stale_puts(db):
    cache = CatalogCache(maxsize=2)
    v = cache.version(db)
    cache.put("a", v, b"A")
    cache.put("b", v, b"B")
    assert cache.get("a", v) == b"A"  # now most recent
    cache.put("c", v, b"C")
    assert cache.get("b", v) is None and cache.get("a", v) == b"A" and len(cache) == 2
    cache.put("d", v - 1, b"D")  # computed under an older version: dropped
    assert cache.get("d", v) is None
    assert cache.get("a", v + 1) is None  # asked for a version the cache does not hold
    off = CatalogCache(maxsize=0)
    w = off.version(db)
    off.put("a", w, b"A")
    assert off.get("a", w) is None


def test_thread_safety(db):
    cache = CatalogCache(maxsize=16)
    v = cache.version(db)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(2000):
                key = (n * 7 + i) % 40
                if cache.get(key, v) is None:
                    cache.put(key, v, str(key).encode())
                assert len(cache) <= 16
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(cache) <= 16
    for key in range(40):
        body = cache.get(key, v)
        assert body is None or body == str(key).encode()
