"""The same HTTP guarantees through a real uvicorn server (real chunked uploads)."""

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

LIMIT = 4096


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(database_url: str, db: Database) -> Iterator[str]:
    settings = Settings(database_url=database_url, dispatcher="off", max_request_bytes=LIMIT)
    port = _free_port()
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


def _big() -> bytes:
    return b'{"email": "big@example.com", "password": "' + b"x" * (LIMIT * 4) + b'"}'


def test_declared_length_over_the_limit(base_url):
    r = httpx.post(
        f"{base_url}/auth/register", content=_big(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.headers["content-type"].split(";")[0] == PROBLEM_MEDIA_TYPE
    assert r.json()["type"] == "/problems/payload-too-large"


def test_chunked_body_over_the_limit(base_url):
    body = _big()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    r = httpx.post(
        f"{base_url}/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["type"] == "/problems/payload-too-large"
    # The server is still healthy afterwards.
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}


def test_small_bodies_pass(base_url):
    r = httpx.post(f"{base_url}/auth/register", json={"email": "nope"})
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/validation-error"
