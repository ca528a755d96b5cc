"""Rate limits: every anonymous-allowed write is limited (found from the routes' access
rules, so a new one is covered without touching this file), login per IP and per email,
registration per IP; 429 problems carry Retry-After and the IETF RateLimit fields."""

from __future__ import annotations

import threading
import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from plaza.config import Settings, parse_rate
from plaza.identity.auth import api_routes, route_access
from plaza.security.headers import UNSAFE_METHODS
from plaza.security.ratelimit import (
    ANONYMOUS_RULES,
    Decision,
    MemoryBackend,
    Policy,
    RateLimiter,
    Usage,
    login_rate_limit,
)
from tests.core.helpers import problem
from tests.core.test_tenancy_matrix import fill
from tests.factories import PASSWORD


def anonymous_writes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = []
    for ctx in api_routes(app.routes):
        if any(isinstance(rule, ANONYMOUS_RULES) for rule in route_access(ctx)):
            for method in sorted(set(ctx.methods or ()) & UNSAFE_METHODS):
                found.append((method, ctx.path_format))
    return found


def client_at(app, ip: str) -> TestClient:  # type: ignore[no-untyped-def]
    # Not following redirects: the limit's headers belong to the write itself (a web page's
    # form post answers 303 to the page that follows).
    return TestClient(
        app, raise_server_exceptions=False, client=(ip, 50000), follow_redirects=False
    )


def assert_rate_limited(r, policy: str, limit: int, window: int) -> None:  # type: ignore[no-untyped-def]
    body = problem(r, 429, "rate-limited")
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= window and body["retry_after"] == retry and body["policy"] == policy
    assert r.headers["ratelimit-policy"] == f'"{policy}";q={limit};w={window}'
    assert r.headers["ratelimit"] == f'"{policy}";r=0;t={retry}'
    assert r.headers["ratelimit-limit"] == str(limit)
    assert r.headers["ratelimit-remaining"] == "0"
    assert r.headers["ratelimit-reset"] == str(retry)


def test_every_anonymous_write_endpoint_is_limited(make_app):
    app = make_app(
        rate_limit_enabled=True,
        rate_limit_public_write="2/minute",
        rate_limit_login="100/minute",
        rate_limit_registration="100/minute",
    )
    routes = anonymous_writes(app)
    # The walk sees the public writes of every context (identity, ordering, ...).
    assert {("POST", "/auth/register"), ("POST", "/auth/token"), ("POST", "/carts")} <= set(routes)
    assert ("POST", "/carts/{cart_id}/checkout") in routes
    client = client_at(app, "192.0.2.10")
    unlimited = []
    for method, path in routes:
        url = fill(path, uuid.uuid4())
        first, second, third = (client.request(method, url, json={}) for _ in range(3))
        if first.status_code == 429 or second.status_code == 429 or third.status_code != 429:
            unlimited.append(f"{method} {path}: {[first, second, third]}")
            continue
        assert first.headers["ratelimit-remaining"] == "1", path
        assert second.headers["ratelimit-remaining"] == "0", path
        assert_rate_limited(third, "public-write", 2, 60)
    assert unlimited == []
    # Counted per client: another address still gets through.
    r = client_at(app, "192.0.2.11").post("/carts", json={})
    assert r.status_code != 429


def test_reads_and_authenticated_only_writes_are_not_limited(make_app, factory):
    app = make_app(rate_limit_enabled=True, rate_limit_public_write="1/minute")
    client = client_at(app, "192.0.2.20")
    shop = factory.merchant()
    for _ in range(4):
        r = client.patch(f"/merchants/{shop.id}", json={}, headers=shop.admin.headers)
        assert r.status_code == 200 and "ratelimit" not in r.headers
        r = client.get("/merchants")
        assert r.status_code == 200 and "ratelimit" not in r.headers


def test_login_is_limited_per_email_and_per_ip(make_app, factory):
    app = make_app(
        rate_limit_enabled=True, rate_limit_login="3/minute", rate_limit_public_write="100/minute"
    )
    victim = factory.user()
    wrong = {"email": victim.email, "password": "not the password"}
    # One email from many addresses: the fourth attempt is refused, even with the right
    # password (an attacker's guesses and the owner's login share the window).
    for i in range(3):
        assert client_at(app, f"198.51.100.{i}").post("/auth/token", json=wrong).status_code == 401
    r = client_at(app, "198.51.100.9").post(
        "/auth/token", json={"email": victim.email.upper(), "password": PASSWORD}
    )
    assert_rate_limited(r, "login", 3, 60)
    # One address trying many emails: refused on the fourth too.
    spray = client_at(app, "198.51.100.50")
    for i in range(3):
        r = spray.post(
            "/auth/token", json={"email": f"nobody{i}@example.com", "password": "x" * 12}
        )
        assert r.status_code == 401
        assert int(r.headers["ratelimit-remaining"]) == 2 - i
    assert_rate_limited(
        spray.post("/auth/token", json={"email": "fresh@example.com", "password": "x" * 12}),
        "login",
        3,
        60,
    )
    # Anyone else signs in normally.
    other = factory.user()
    r = client_at(app, "198.51.100.77").post(
        "/auth/token", json={"email": other.email, "password": PASSWORD}
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


def login_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = []
    for ctx in api_routes(app.routes):
        stack, calls = [ctx.dependant], []
        while stack:
            dep = stack.pop()
            calls.append(dep.call)
            stack.extend(dep.dependencies)
        if any(call is login_rate_limit for call in calls):
            found += [(m, ctx.path_format) for m in sorted(set(ctx.methods or ()) - {"HEAD"})]
    return found


def test_every_sign_in_endpoint_shares_the_login_limit(make_app):
    app = make_app(
        rate_limit_enabled=True, rate_limit_login="2/minute", rate_limit_public_write="100/minute"
    )
    routes = login_routes(app)
    assert {
        ("POST", "/auth/token"),
        ("GET", "/auth/sso/{provider}/authorize"),
        ("GET", "/auth/sso/{provider}/callback"),
    } <= set(routes)
    for i, (method, path) in enumerate(routes):
        client = client_at(app, f"198.51.101.{i}")
        url = path.replace("{provider}", "no-such-provider")
        body = {"email": f"u{i}@example.com", "password": "x" * 12} if method == "POST" else None
        statuses = [client.request(method, url, json=body).status_code for _ in range(2)]
        assert 429 not in statuses, path
        assert_rate_limited(client.request(method, url, json=body), "login", 2, 60)


def test_registration_is_limited_per_ip(make_app):
    app = make_app(
        rate_limit_enabled=True,
        rate_limit_registration="2/minute",
        rate_limit_public_write="100/minute",
    )
    client = client_at(app, "203.0.113.5")
    for _ in range(2):
        body = {"email": f"{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
        assert client.post("/auth/register", json=body).status_code == 201
    body = {"email": f"{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
    assert_rate_limited(client.post("/auth/register", json=body), "registration", 2, 60)
    assert client_at(app, "203.0.113.6").post("/auth/register", json=body).status_code == 201


def test_limits_off_means_no_limiter_and_no_headers(make_app):
    app = make_app(rate_limit_enabled=False, rate_limit_public_write="1/minute")
    assert app.state.rate_limiter is None
    client = client_at(app, "203.0.113.9")
    for _ in range(3):
        r = client.post("/carts", json={})
        assert r.status_code != 429 and "ratelimit" not in r.headers


# ------------------------------------------------------------------ the in-process backend


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_windows_count_and_reset():
    clock = Clock()
    backend = MemoryBackend(max_keys=10, clock=clock)
    assert [backend.hit("k", 60).count for _ in range(3)] == [1, 2, 3]
    clock.now += 59.5
    usage = backend.hit("k", 60)
    assert usage.count == 4 and usage.reset_after == pytest.approx(0.5)
    clock.now += 0.5  # the window is over: a fresh one starts
    assert backend.hit("k", 60) == Usage(1, 60.0)
    assert backend.hit("other", 60).count == 1


def test_memory_backend_is_bounded_and_evicts_expired_windows_first():
    clock = Clock()
    backend = MemoryBackend(max_keys=100, clock=clock)
    for i in range(250):
        backend.hit(f"k{i}", 10)
        assert len(backend) <= 100
    # The newest windows survived eviction; the oldest were dropped.
    assert backend.hit("k249", 10).count == 2
    assert backend.hit("k0", 10).count == 1
    clock.now += 11  # everything expired: the next new key clears them all
    for i in range(300, 400):
        backend.hit(f"k{i}", 10)
    backend.hit("late", 10)
    assert len(backend) <= 100 and backend.hit("late", 10).count == 2


def test_memory_backend_counts_exactly_under_threads():
    backend = MemoryBackend()
    counts: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [backend.hit("hot", 60).count for _ in range(200)]
        with lock:
            counts.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(counts) == list(range(1, 1601))  # no lost or duplicated increment


def test_decision_headers_follow_the_draft():
    d = Decision(Policy("login", 10, 60), Usage(4, 41.2))
    assert d.allowed and d.remaining == 6 and d.reset == 42
    assert d.headers() == {
        "RateLimit-Policy": '"login";q=10;w=60',
        "RateLimit": '"login";r=6;t=42',
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "6",
        "RateLimit-Reset": "42",
    }
    over = Decision(Policy("login", 10, 60), Usage(11, 0.01))
    assert not over.allowed and over.remaining == 0 and over.reset == 1


def test_keys_do_not_hold_addresses_or_emails_in_the_clear():
    limiter = RateLimiter(MemoryBackend(), [Policy("login", 1, 60)], "k" * 40)
    key = limiter.key(limiter.policies["login"], "email", "ada@example.com")
    assert "ada" not in key and "example" not in key and key.startswith("plaza:rl:login:")
    other_secret = RateLimiter(MemoryBackend(), [Policy("login", 1, 60)], "j" * 40)
    assert other_secret.key(other_secret.policies["login"], "email", "ada@example.com") != key


def test_rates_are_validated_in_settings():
    assert parse_rate("10/minute") == (10, 60)
    assert parse_rate("5/30s") == (5, 30)
    assert parse_rate("1000/day") == (1000, 86400)
    for bad in ("ten/minute", "10/fortnight", "0/minute", "10", "10/0s", "-1/hour"):
        with pytest.raises(ValueError):
            parse_rate(bad)
    with pytest.raises(ValidationError):
        Settings(rate_limit_login="often")
    with pytest.raises(ValidationError, match="PLAZA_REDIS_URL"):
        Settings(rate_limit_backend="redis", redis_url=None)


def test_an_unreachable_redis_lets_requests_through(make_app, caplog):
    app = make_app(
        rate_limit_enabled=True,
        rate_limit_backend="redis",
        redis_url="redis://127.0.0.1:9/0",  # the discard port: nothing answers
        rate_limit_public_write="1/minute",
    )
    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level("WARNING", logger="plaza.security"):
        statuses = [client.post("/carts", json={}).status_code for _ in range(3)]
    assert 429 not in statuses and all(s < 500 for s in statuses)
    assert any("Redis unavailable" in rec.getMessage() for rec in caplog.records)
