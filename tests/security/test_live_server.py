"""Header limits and rate limits through a real uvicorn server: its default parser
(httptools) accepts headers of any size, and the client address comes from the socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from plaza.app import create_app
from plaza.config import Settings
from plaza.db import Database
from plaza.errors import PROBLEM_MEDIA_TYPE

HEADER_LIMIT = 8192


@pytest.fixture(scope="module")
def base_url(database_url: str, db: Database) -> Iterator[str]:
    settings = Settings(
        database_url=database_url,
        dispatcher="off",
        max_header_bytes=HEADER_LIMIT,
        rate_limit_enabled=True,
        rate_limit_public_write="2/minute",
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        create_app(settings, db), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_oversized_headers_are_431(base_url):
    for headers in (
        {"X-Big": "a" * 1_000_000},
        {f"X-H{i}": "v" * 20 for i in range(1000)},
        {"Cookie": "plaza_session=" + "c" * HEADER_LIMIT},
    ):
        r = httpx.get(f"{base_url}/healthz", headers=headers)
        assert r.status_code == 431
        assert r.headers["content-type"].split(";")[0] == PROBLEM_MEDIA_TYPE
        body = r.json()
        assert body["type"] == "/problems/headers-too-large" and body["limit"] == HEADER_LIMIT
        assert r.headers["x-content-type-options"] == "nosniff"
    # Ordinary requests, and headers just under the limit, are served.
    assert httpx.get(f"{base_url}/healthz", headers={"X-Pad": "p" * 6000}).status_code == 200


def test_rate_limits_count_the_peer_address(base_url):
    with httpx.Client(base_url=base_url) as client:
        first, second, third = (client.post("/carts", json={}) for _ in range(3))
    assert first.headers["ratelimit-remaining"] == "1"
    assert second.headers["ratelimit-remaining"] == "0"
    assert third.status_code == 429 and int(third.headers["retry-after"]) > 0
    assert third.json()["type"] == "/problems/rate-limited"
