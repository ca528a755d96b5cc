"""Browser flows: Plaza served for real (uvicorn, in-process dispatcher) over the demo world,
driven by Playwright on Debian's Chromium (``/usr/bin/chromium``; never a browser download).

- The demo database is built once per test run (``plaza migrate`` + ``plaza demo`` on
  SQLite, under a file lock shared by the xdist workers); each test module gets a copy of it
  and its own server on a free port, stopped at the module's end (log in the artefacts dir).
- One browser per session; ``phone()`` and ``desktop()`` open contexts (closed after the
  test). Console errors (CSP violations included) and uncaught page errors fail the test.
- ``shot(page, name)`` saves a full-page PNG into ``$PLAZA_E2E_ARTIFACTS`` (default
  ``test-artifacts/e2e``); a failing test leaves a screenshot of each open page there.

Without ``/usr/bin/chromium`` the folder is skipped, unless ``CI`` is set (CI installs it):
then the tests fail. ``PLAZA_E2E_DEMO_DB=/path/demo.db`` reuses a demo database built earlier
(``plaza migrate && plaza demo``; it is copied, never changed). See docs/web.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("PLAZA_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "plaza-demo-password"
ADMIN_EMAIL = "admin@plaza.dev"
E2E_DIR = Path(__file__).parent
REPO = E2E_DIR.parent.parent
ARTIFACTS = Path(os.environ.get("PLAZA_E2E_ARTIFACTS") or REPO / "test-artifacts" / "e2e")
# Docs screenshots are taken at device scale 1 (small PNGs); tests default to a real phone's 3.
DEVICE_SCALE = float(os.environ.get("PLAZA_E2E_DEVICE_SCALE", "3"))
# Whole pages by default; the docs show what fits the screen (PLAZA_E2E_FULL_PAGE=0).
FULL_PAGE = os.environ.get("PLAZA_E2E_FULL_PAGE", "1") != "0"
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
TIMEOUT_MS = 15_000
DEMO_TIMEOUT_S = 600
SERVER_START_S = 60

CLI = [sys.executable, "-c", "from plaza.cli import app; app()"]

try:  # Playwright is a dev dependency; without it the folder is skipped like without Chromium
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        sync_playwright,
    )
    from playwright.sync_api import (
        Error as PlaywrightError,
    )

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover - dev dependency
    HAVE_PLAYWRIGHT = False


if not HAVE_PLAYWRIGHT and not os.environ.get("CI"):
    collect_ignore_glob = ["test_*.py"]  # they import playwright


def _missing_reason() -> str | None:
    if not HAVE_PLAYWRIGHT:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium; CI installs it)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything here ``e2e``; skip it when there is no browser (fail in CI)."""
    reason = _missing_reason()
    if os.environ.get("PLAZA_E2E_SKIP"):
        reason = "PLAZA_E2E_SKIP is set (CI's PostgreSQL pass: the flows always serve SQLite)"
    for item in items:
        if E2E_DIR not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if reason and (os.environ.get("PLAZA_E2E_SKIP") or not os.environ.get("CI")):
            item.add_marker(pytest.mark.skip(reason=f"browser tests skipped: {reason}"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures know whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


# ================================================================== the demo database


def _secret_key(demo: Path) -> str:
    """One key for the demo load and every server of a run (pickup codes and tokens are
    signed with it): derived from the shared demo database's path, never written down."""
    digest = hashlib.sha256(f"plaza-e2e:{demo.resolve()}".encode()).hexdigest()
    return f"e2e-{digest}"


def _plaza_env(database_url: str, demo: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PLAZA_STOREFRONT_URL", None)
    env.pop("PLAZA_TEST_DATABASE_URL", None)
    env.pop("PLAZA_DEMO_PASSWORD", None)  # the flows sign in with the documented one
    env.update(
        PLAZA_DATABASE_URL=database_url,
        PLAZA_RATE_LIMIT_ENABLED="false",
        HF_HUB_OFFLINE="1",
        OPENBLAS_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    # One key for the demo load and every server (pickup codes are signed with it).
    env["PLAZA_SECRET_KEY"] = _secret_key(demo)
    env.update(extra)
    return env


def _build_demo(path: Path, log: Path) -> None:
    url = f"sqlite:///{path}"
    env = _plaza_env(url, path, PLAZA_DISPATCHER="off")
    with log.open("w") as out:
        for args in (["migrate"], ["demo"]):
            done = subprocess.run(
                [*CLI, *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=DEMO_TIMEOUT_S,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"plaza {' '.join(args)} failed ({done.returncode}); log:\n"
                    + log.read_text()[-4000:]
                )


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The demo world in a SQLite file, built once for all xdist workers of this run."""
    if reason := _missing_reason():
        pytest.fail(f"CI is set but the browser tests cannot run: {reason}", pytrace=False)
    if prebuilt := os.environ.get("PLAZA_E2E_DEMO_DB"):  # a demo database kept between runs
        return Path(prebuilt)
    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker_id != "master" else base
    path = root / "plaza-e2e-demo.db"
    ready = root / "plaza-e2e-demo.ready"
    failed = root / "plaza-e2e-demo.failed"
    with (root / "plaza-e2e-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if failed.exists():
                pytest.fail(f"building the demo database failed:\n{failed.read_text()}")
            if not ready.exists():
                started = time.monotonic()
                try:
                    _build_demo(path, root / "plaza-e2e-demo.log")
                except Exception as exc:
                    failed.write_text(str(exc))
                    raise
                ready.write_text(f"{time.monotonic() - started:.1f}s\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


# ================================================================== the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    database: Path
    log: Path
    process: subprocess.Popen[bytes]

    def database_url(self) -> str:
        return f"sqlite:///{self.database}"


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"plaza serve exited ({server.process.returncode}):\n"
                + server.log.read_text()[-4000:]
            )
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("plaza serve did not answer /healthz:\n" + server.log.read_text()[-4000:])


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest,
    demo_database: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """Plaza on its own copy of the demo database, served on a free port for one module."""
    name = _slug(request.module.__name__.rsplit(".", 1)[-1])
    folder = tmp_path_factory.mktemp(f"e2e-{name}")
    database = folder / "plaza.db"
    shutil.copyfile(demo_database, database)
    for suffix in ("-wal", "-shm"):
        extra = demo_database.with_name(demo_database.name + suffix)
        if extra.exists():
            shutil.copyfile(extra, database.with_name(database.name + suffix))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"server-{name}.log"
    port = _free_port()
    env = _plaza_env(f"sqlite:///{database}", demo_database, PLAZA_DISPATCHER="inprocess")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    srv = Server(f"http://127.0.0.1:{port}", database, log, process)
    try:
        _wait_healthy(srv)
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def base_url(server: Server) -> str:
    return server.url


# ================================================================== the browser


# Per module, not per session: while Playwright's sync API is open it keeps an event loop
# running in this thread, which would break later test files on the same xdist worker that
# call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if reason := _missing_reason():
        pytest.fail(f"CI is set but the browser tests cannot run: {reason}", pytrace=False)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@dataclass
class ConsoleWatch:
    """Console errors and uncaught exceptions seen by a test's pages (CSP violations are
    console errors). ``allow(pattern)`` accepts errors a test expects (e.g. a 403 page)."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def attach(self, context: BrowserContext) -> None:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.errors.append(f"page error: {error.error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.errors.append(f"console error: {message.text} ({where})")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


ContextFactory = Callable[..., "BrowserContext"]


@pytest.fixture
def contexts(
    request: pytest.FixtureRequest, browser: Browser, base_url: str, console: ConsoleWatch
) -> Iterator[list[BrowserContext]]:
    """Every context a test opens; on failure each open page is photographed, and console
    errors the test did not allow fail it."""
    opened: list[BrowserContext] = []
    yield opened
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    if failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for i, context in enumerate(opened):
            for j, pg in enumerate(context.pages):
                target = ARTIFACTS / f"FAILED-{_slug(request.node.nodeid)}-{i}-{j}.png"
                with contextlib.suppress(PlaywrightError):
                    pg.screenshot(path=str(target), full_page=True, timeout=5000)
    for context in opened:
        with contextlib.suppress(PlaywrightError):
            context.close()
    problems = console.unexpected()
    if problems and not failed:
        pytest.fail("the pages logged errors:\n" + "\n".join(problems), pytrace=False)


def _new_context(
    browser: Browser, base_url: str, console: ConsoleWatch, opened: list[BrowserContext], **kw: Any
) -> BrowserContext:
    options: dict[str, Any] = {
        "base_url": base_url,
        "locale": "en",
        "service_workers": "block",  # deterministic pages; the PWA has its own checks
    }
    options.update(kw)
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    console.attach(context)
    opened.append(context)
    return context


@pytest.fixture
def phone(
    browser: Browser, base_url: str, console: ConsoleWatch, contexts: list[BrowserContext]
) -> ContextFactory:
    """Open a phone browser (390×844, touch, mobile user agent); call it again for a second
    person's phone."""

    def make(**kw: Any) -> BrowserContext:
        options: dict[str, Any] = {
            "viewport": {"width": 390, "height": 844},
            "device_scale_factor": DEVICE_SCALE,
            "is_mobile": True,
            "has_touch": True,
            "user_agent": PHONE_UA,
        }
        return _new_context(browser, base_url, console, contexts, **{**options, **kw})

    return make


@pytest.fixture
def desktop(
    browser: Browser, base_url: str, console: ConsoleWatch, contexts: list[BrowserContext]
) -> ContextFactory:
    """Open a desktop browser (1280×900) for the back-office and counter pages."""

    def make(**kw: Any) -> BrowserContext:
        options: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
        return _new_context(browser, base_url, console, contexts, **{**options, **kw})

    return make


Shot = Callable[["Page", str], Path]


@pytest.fixture(scope="session")
def shot() -> Shot:
    """``shot(page, "checkout")`` saves ``<artefacts>/checkout.png`` (the whole page, or
    the screen with ``PLAZA_E2E_FULL_PAGE=0``)."""

    def take(page: Page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / f"{_slug(name)}.png"
        page.screenshot(
            path=str(target), full_page=FULL_PAGE, animations="disabled", timeout=45_000
        )
        return target

    return take


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD, next: str = "/shop") -> None:
    """Sign in through the form, the way a person does."""
    page.goto(f"/shop/sign-in?next={next}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/shop/sign-in" not in url)


def query(server: Server, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the server's database (SQLite) to find test data the way a tester would look
    it up; the flows themselves only use the pages."""
    import sqlite3

    with sqlite3.connect(f"file:{server.database}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def hex_uuid(value: str) -> str:
    """A UUID as the pages print it (the database stores 32 hex digits)."""
    import uuid

    return str(uuid.UUID(value))


def demo_customers(server: Server, n: int = 5) -> list[str]:
    """Emails of demo customers (accounts that belong to no merchant, not the admin)."""
    rows = query(
        server,
        "SELECT email FROM users WHERE email LIKE '%@example.com' AND is_platform_admin = 0 "
        "AND id NOT IN (SELECT user_id FROM memberships) ORDER BY email LIMIT ?",
        n,
    )
    return [r[0] for r in rows]


@dataclass(frozen=True)
class Demo:
    """Who and what the demo world holds (see docs/demo.md); ids come from the database."""

    merchants: dict[str, str]  # slug -> id
    admins: dict[str, str]  # slug -> the merchant admin's email

    @property
    def noorderlicht(self) -> str:
        return self.merchants["noorderlicht"]


def _demo_facts(database: Path) -> Demo:
    import sqlite3

    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT m.slug, m.id, u.email, ms.role FROM merchants m "
            "JOIN memberships ms ON ms.merchant_id = m.id JOIN users u ON u.id = ms.user_id "
            "ORDER BY u.created_at, u.email"
        ).fetchall()
    merchants: dict[str, str] = {}
    admins: dict[str, str] = {}
    for slug, merchant_id, email, role in rows:
        merchants[slug] = _uuid_text(merchant_id)
        if "admin" in str(role).lower():
            admins.setdefault(slug, email)
    return Demo(merchants, admins)


def _uuid_text(value: Any) -> str:
    import uuid

    if isinstance(value, bytes):
        return str(uuid.UUID(bytes=value))
    return str(uuid.UUID(str(value)))


@pytest.fixture(scope="session")
def demo(demo_database: Path) -> Demo:
    return _demo_facts(demo_database)
