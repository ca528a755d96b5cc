"""In-process cache of public catalog responses (serialised JSON bytes), thread-safe LRU.

Freshness, across any number of API processes: every catalog write bumps its merchant's
row in ``catalog_versions`` in the same transaction. The cache is tagged with
``sum(version)`` over that table and cleared when the sum moves. Reading the sum costs one
tiny query, so a process re-reads it at most every ``VERSION_TTL`` seconds, and at once
after a catalog write this process committed. So this process never serves a response
older than its own last write, and another process's write shows within ``VERSION_TTL``.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from plaza.catalog.models import CatalogVersion
from plaza.config import get_settings
from plaza.db import Database

VERSION_TTL = 1.0  # seconds; the longest another process's write can go unseen
DIRTY = "plaza.catalog.dirty"

_generation = 0  # bumped after every committed catalog write in this process
_generation_lock = threading.Lock()


def mark_dirty(s: Session) -> None:
    """Called by catalog writes: once this session commits, caches re-check the version."""
    s.info[DIRTY] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    global _generation
    if session.info.pop(DIRTY, False):
        with _generation_lock:
            _generation += 1


def read_version(s: Session) -> int:
    return int(s.scalar(select(func.coalesce(func.sum(CatalogVersion.version), 0))) or 0)


@dataclass
class _Flight:
    lock: threading.Lock = field(default_factory=threading.Lock)
    waiters: int = 0


class CatalogCache:
    def __init__(self, maxsize: int, ttl: float = VERSION_TTL) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._version: int | None = None
        self._checked_at = float("-inf")
        self._seen_generation = -1
        self._flights: dict[Hashable, _Flight] = {}
        self.hits = 0
        self.misses = 0

    def fresh_version(self) -> int | None:
        """The version to tag reads with if no re-check is due (no I/O), else None."""
        current = self._version
        if (
            current is not None
            and _generation == self._seen_generation
            and time.monotonic() - self._checked_at < self.ttl
        ):
            return current
        return None

    def version(self, db: Database) -> int:
        """The catalog version to tag reads with; re-read when stale or after a local write."""
        generation = _generation
        now = time.monotonic()
        current = self._version
        if (
            current is not None
            and generation == self._seen_generation
            and now - self._checked_at < self.ttl
        ):
            return current
        with db.reading() as s:
            value = read_version(s)
        with self._lock:
            # The sum only grows; a slower reader holding an older value must not win.
            if self._version is None or value > self._version:
                self._entries.clear()
                self._version = value
            self._checked_at = now
            # The generation read *before* the query: a write committing meanwhile re-checks.
            self._seen_generation = generation
            return self._version

    def get(self, key: Hashable, version: int) -> bytes | None:
        with self._lock:
            if version != self._version:
                return None
            body = self._entries.get(key)
            if body is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: Hashable, version: int, body: bytes) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            if version != self._version:  # computed under a version since superseded
                return
            self._entries[key] = body
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def get_or_build(
        self, key: Hashable, version: int, build: Callable[[], bytes]
    ) -> tuple[bytes, bool]:
        """The cached body, or build it once: concurrent misses on one key wait for the
        first builder instead of all running the same query (no thundering herd).
        Returns ``(body, was_cached)``. Blocking: call from a worker thread."""
        body = self.get(key, version)
        if body is not None:
            return body, True
        with self._lock:
            flight = self._flights.setdefault(key, _Flight())
            flight.waiters += 1
        try:
            with flight.lock:
                body = self.peek(key, version)  # filled while we waited?
                if body is not None:
                    return body, True
                body = build()
                self.put(key, version, body)
                return body, False
        finally:
            with self._lock:
                flight.waiters -= 1
                if flight.waiters == 0:
                    self._flights.pop(key, None)

    def peek(self, key: Hashable, version: int) -> bytes | None:
        """Like ``get`` without touching the statistics."""
        with self._lock:
            return self._entries.get(key) if version == self._version else None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._version = None

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, Any]:
        return {"size": len(self), "hits": self.hits, "misses": self.misses}


_caches: weakref.WeakKeyDictionary[Database, CatalogCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(db: Database) -> CatalogCache:
    """One cache per database handle (tests may run several databases in one process)."""
    cache = _caches.get(db)
    if cache is None:
        with _caches_lock:
            cache = _caches.get(db)
            if cache is None:
                cache = CatalogCache(get_settings().catalog_cache_size)
                _caches[db] = cache
    return cache


JSON_MEDIA = "application/json"


def _render(db: Database, build: Callable[[Session], BaseModel]) -> bytes:
    with db.reading() as s:
        return build(s).model_dump_json().encode()


async def cached_response(
    db: Database, key: tuple[object, ...], build: Callable[[Session], BaseModel]
) -> Response:
    """Serve a public read from the in-process cache, or build, serialise and keep it. A
    hit touches no database and no worker thread; database work runs in the thread pool."""
    cache = cache_for(db)
    version = cache.fresh_version()
    if version is None:
        version = await run_in_threadpool(cache.version, db)
    body = cache.get(key, version)
    cached = body is not None
    if body is None:
        body, cached = await run_in_threadpool(
            cache.get_or_build, key, version, lambda: _render(db, build)
        )
    return Response(body, media_type=JSON_MEDIA, headers={"X-Cache": "hit" if cached else "miss"})
