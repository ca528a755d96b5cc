"""The Redis backend against a real ``redis-server`` (Debian package ``redis-server``,
installed by .ci/run), started here on a free port: shared, atomic, expiring counters."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from plaza.security.ratelimit import Policy, RateLimiter, RedisBackend
from tests.core.helpers import problem

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
)
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (Debian package redis-server; .ci/run installs it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import redis

    assert REDIS_SERVER is not None
    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        client.close()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_counts_expire_and_are_shared_between_limiters(redis_url):
    policy = Policy("login", 3, 1)
    # Two API processes: two limiters, one Redis.
    a = RateLimiter(RedisBackend(redis_url), [policy], "s" * 40)
    b = RateLimiter(RedisBackend(redis_url), [policy], "s" * 40)
    key = ("ip", f"203.0.113.{time.monotonic_ns() % 250}")
    counts = [a.hit(policy, *key), b.hit(policy, *key), a.hit(policy, *key), b.hit(policy, *key)]
    assert [d.usage.count for d in counts if d] == [1, 2, 3, 4]
    assert [d.allowed for d in counts if d] == [True, True, True, False]
    assert all(d is not None and 0 < d.usage.reset_after <= 1 for d in counts)
    # Every key carries a TTL, so a window always ends.
    assert 0 < a.backend.client.pttl(a.key(policy, *key)) <= 1000  # type: ignore[attr-defined]
    time.sleep(1.1)
    fresh = a.hit(policy, *key)
    assert fresh is not None and fresh.usage.count == 1


def test_concurrent_hits_are_counted_exactly(redis_url):
    policy = Policy("public-write", 1000, 60)
    limiter = RateLimiter(RedisBackend(redis_url), [policy], "s" * 40)
    counts: list[int] = []
    lock = threading.Lock()
    key = ("ip", "race", str(time.monotonic_ns()))

    def worker() -> None:
        mine = []
        for _ in range(40):
            d = limiter.hit(policy, *key)
            assert d is not None
            mine.append(d.usage.count)
        with lock:
            counts.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(counts) == list(range(1, 321))


def test_the_app_limits_through_redis(make_app, redis_url):
    app = make_app(
        rate_limit_enabled=True,
        rate_limit_backend="redis",
        redis_url=redis_url,
        rate_limit_public_write="2/minute",
    )
    assert isinstance(app.state.rate_limiter.backend, RedisBackend)
    ip = f"192.0.2.{time.monotonic_ns() % 250}"
    client = TestClient(app, raise_server_exceptions=False, client=(ip, 50000))
    statuses = [client.post("/carts", json={}).status_code for _ in range(3)]
    assert 429 not in statuses[:2]
    r = client.post("/carts", json={})
    problem(r, 429, "rate-limited")
    assert r.headers["ratelimit-policy"] == '"public-write";q=2;w=60'
