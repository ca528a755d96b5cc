"""Rate limits: fixed windows per client, counted in-process or in Redis.

Three policies, each configured in settings (``PLAZA_RATE_LIMIT_*``):

- ``public-write``: every write (POST/PUT/PATCH/DELETE) whose access rule lets anonymous
  callers in (``Public`` or ``CartHolder``), per client IP and route. Applied by one
  app-wide dependency that reads the route's rule, so a new public write endpoint is
  limited without anyone remembering to;
- ``login``: ``POST /auth/token``, per client IP and per submitted email;
- ``registration``: ``POST /auth/register``, per client IP.

A refused request is ``429 rate-limited`` with ``Retry-After``. Every limited response
carries the fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers): the current
``RateLimit-Policy`` / ``RateLimit`` pair and the widely deployed ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` of its earlier revisions.

Counter keys are HMACs of the client's IP and email under the secret key, so neither the
process nor Redis holds those identifiers in the clear.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute

from plaza.config import Settings, parse_rate
from plaza.errors import ProblemError, problem_type
from plaza.identity.auth import AccessRule, CartHolder, Public, api_routes, route_access
from plaza.security.headers import RATE_LIMIT_STATE, UNSAFE_METHODS

log = logging.getLogger("plaza.security")

RATE_LIMITED = problem_type(
    "rate-limited",
    "Too many requests",
    429,
    "The client sent too many requests in the current window. Retry after `Retry-After` "
    "seconds; the `RateLimit` and `RateLimit-Policy` headers describe the limit.",
)
# Rules that let anonymous callers in: their writes are what an attacker can reach freely.
ANONYMOUS_RULES: tuple[type[AccessRule], ...] = (Public, CartHolder)
_DECISION_STATE = "plaza.rate_limit_decision"


@dataclass(frozen=True)
class Policy:
    name: str
    limit: int
    window: int  # seconds

    @classmethod
    def from_spec(cls, name: str, spec: str) -> Policy:
        limit, window = parse_rate(spec)
        return cls(name, limit, window)


@dataclass(frozen=True)
class Usage:
    count: int  # hits in the current window, this one included
    reset_after: float  # seconds until the window ends


class Backend(Protocol):
    # True when ``hit`` does network I/O (it then runs in a worker thread).
    blocking: bool

    def hit(self, key: str, window: int) -> Usage | None:
        """Count one hit on ``key``; None when the count is unavailable (let it pass)."""


class MemoryBackend:
    """Thread-safe fixed windows in one process, at most ``max_keys`` of them: when full,
    expired windows go first, then the oldest (an evicted client starts afresh)."""

    blocking = False

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.max_keys = max_keys
        self.clock = clock
        self._lock = threading.Lock()
        # key -> [count, window end]; ordered by window start, oldest first.
        self._windows: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def hit(self, key: str, window: int) -> Usage:
        now = self.clock()
        with self._lock:
            entry = self._windows.get(key)
            if entry is None or entry[1] <= now:
                if entry is not None:
                    del self._windows[key]
                elif len(self._windows) >= self.max_keys:
                    self._evict(now)
                entry = [0, now + window]
                self._windows[key] = entry
            entry[0] += 1
            return Usage(int(entry[0]), entry[1] - now)

    def _evict(self, now: float) -> None:
        expired = [k for k, (_, end) in self._windows.items() if end <= now]
        for k in expired:
            del self._windows[k]
        while len(self._windows) >= self.max_keys:
            self._windows.popitem(last=False)


# INCR and the expiry in one atomic step: a window starts at its first hit and its key
# always expires (a key left without a TTL would limit its client forever).
_REDIS_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class RedisBackend:
    """Counters shared by every API process. If Redis cannot be reached the request is let
    through (and logged): an outage of the limiter must not take login and checkout down."""

    blocking = True

    def __init__(self, url: str, *, timeout: float = 0.5, client: Any = None) -> None:
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.client = client or redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._script = self.client.register_script(_REDIS_HIT)

    def hit(self, key: str, window: int) -> Usage | None:
        try:
            count, ttl_ms = self._script(keys=[key], args=[window * 1000])
        except self._errors as exc:
            log.warning("rate limiter: Redis unavailable, request let through: %s", exc)
            return None
        return Usage(int(count), max(int(ttl_ms), 0) / 1000)


@dataclass(frozen=True)
class Decision:
    policy: Policy
    usage: Usage

    @property
    def allowed(self) -> bool:
        return self.usage.count <= self.policy.limit

    @property
    def remaining(self) -> int:
        return max(self.policy.limit - self.usage.count, 0)

    @property
    def reset(self) -> int:
        return max(math.ceil(self.usage.reset_after), 1)

    def headers(self) -> dict[str, str]:
        p = self.policy
        return {
            "RateLimit-Policy": f'"{p.name}";q={p.limit};w={p.window}',
            "RateLimit": f'"{p.name}";r={self.remaining};t={self.reset}',
            "RateLimit-Limit": str(p.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    def __init__(self, backend: Backend, policies: Iterable[Policy], secret: str) -> None:
        self.backend = backend
        self.policies = {p.name: p for p in policies}
        self._secret = secret.encode()
        # id(original route) -> (effective path, anonymous-allowed?), built from the app.
        self._routes: dict[int, tuple[str, bool]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        backend: Backend
        if settings.rate_limit_backend == "redis":
            assert settings.redis_url is not None  # enforced by Settings
            backend = RedisBackend(settings.redis_url)
        else:
            backend = MemoryBackend(settings.rate_limit_max_keys)
        policies = [
            Policy.from_spec("login", settings.rate_limit_login),
            Policy.from_spec("registration", settings.rate_limit_registration),
            Policy.from_spec("public-write", settings.rate_limit_public_write),
        ]
        return cls(backend, policies, settings.resolved_secret_key())

    def key(self, policy: Policy, *parts: str) -> str:
        digest = hmac.new(self._secret, "\x1f".join(parts).encode(), hashlib.sha256)
        return f"plaza:rl:{policy.name}:{digest.hexdigest()[:32]}"

    def hit(self, policy: Policy, *parts: str) -> Decision | None:
        usage = self.backend.hit(self.key(policy, *parts), policy.window)
        return None if usage is None else Decision(policy, usage)

    def route_info(self, app: FastAPI, route: APIRoute) -> tuple[str, bool]:
        """The route's served path and whether anonymous callers may use it, from the
        effective routes (router prefixes and include-time rules applied)."""
        info = self._routes.get(id(route))
        if info is None:  # first request, or a route added after the last index
            for ctx in api_routes(app.routes):
                public = any(isinstance(r, ANONYMOUS_RULES) for r in route_access(ctx))
                self._routes[id(ctx.original_route)] = (ctx.path_format or route.path, public)
            info = self._routes.get(id(route))
            if info is None:
                public = any(isinstance(r, ANONYMOUS_RULES) for r in route_access(route))
                info = self._routes[id(route)] = (route.path_format, public)
        return info


def client_ip(request: Request) -> str:
    """The peer address. Behind a proxy, run uvicorn with ``--proxy-headers`` and
    ``--forwarded-allow-ips`` set to the proxy, so this is the real client's."""
    return request.client.host if request.client else "unknown"


async def enforce(request: Request, checks: Sequence[tuple[str, tuple[str, ...]]]) -> None:
    """Count the request against each (policy name, key parts); refuse it with 429 if any
    limit is exceeded, else leave the tightest limit's headers for the response."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    decisions: list[Decision] = []
    for name, parts in checks:
        policy = limiter.policies[name]
        if limiter.backend.blocking:
            decision = await anyio.to_thread.run_sync(limiter.hit, policy, *parts)
        else:
            decision = limiter.hit(policy, *parts)
        if decision is not None:
            decisions.append(decision)
    if not decisions:
        return
    refused = [d for d in decisions if not d.allowed]
    if refused:
        worst = max(refused, key=lambda d: d.reset)
        raise ProblemError(
            RATE_LIMITED,
            f"too many requests; retry in {worst.reset} s",
            headers={"Retry-After": str(worst.reset), **worst.headers()},
            policy=worst.policy.name,
            retry_after=worst.reset,
        )
    # Several limits may apply (app-wide and the route's own): report the tightest.
    earlier: Decision | None = getattr(request.state, _DECISION_STATE, None)
    tightest = min([*decisions, *([earlier] if earlier else [])], key=_tightness)
    setattr(request.state, _DECISION_STATE, tightest)
    setattr(request.state, RATE_LIMIT_STATE, list(tightest.headers().items()))


def _tightness(d: Decision) -> tuple[int, int]:
    return d.remaining, -d.reset


async def limit_public_writes(request: Request) -> None:
    """App-wide dependency: writes on routes whose access rule admits anonymous callers."""
    if request.method not in UNSAFE_METHODS:
        return
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    route = request.scope.get("route")
    if limiter is None or not isinstance(route, APIRoute):
        return
    path, public = limiter.route_info(request.app, route)
    if public:
        await enforce(request, [("public-write", (client_ip(request), request.method, path))])


class RateLimit:
    """A named limit as a route dependency (``dependencies=[Depends(login_rate_limit)]``):
    per client IP and, with ``per_email``, per ``email`` field of the JSON body or form."""

    def __init__(self, policy: str, *, per_email: bool = False) -> None:
        self.policy = policy
        self.per_email = per_email

    async def __call__(self, request: Request) -> None:
        checks: list[tuple[str, tuple[str, ...]]] = [(self.policy, ("ip", client_ip(request)))]
        if self.per_email and request.method in UNSAFE_METHODS:
            email = await _body_email(request)
            if email:
                checks.append((self.policy, ("email", email)))
        await enforce(request, checks)


async def _body_email(request: Request) -> str | None:
    form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    try:  # FastAPI has already read and cached the body (JSON API, or a web page's form)
        body = dict(await request.form()) if form else await request.json()
    except Exception:  # not JSON: validation answers it, the per-IP limit still counts
        return None
    email = body.get("email") if isinstance(body, dict) else None
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


login_rate_limit = RateLimit("login", per_email=True)
registration_rate_limit = RateLimit("registration")
