"""The demo world: loaded through Plaza's services, deterministic, idempotent and browsable.

One full load goes into a fresh SQLite file for the whole module; its twin (same seed) is
loaded at the same time by another Python process, which has its own string-hash seed, so
the determinism check also catches anything that depends on set or dict-of-str ordering.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from plaza import cli
from plaza.app import create_app
from plaza.catalog.gtin import is_valid_gtin
from plaza.catalog.models import Category, Product, Variant, VariantPrice
from plaza.config import Settings, get_settings
from plaza.db import Database, get_database
from plaza.demo import (
    ADMIN_EMAIL,
    MERCHANTS,
    PASSWORD_ENV,
    DemoRefusedError,
    gtin13,
    load_demo,
)
from plaza.events import OutboxEvent
from plaza.identity import service as identity
from plaza.identity.models import Merchant, MerchantKind, User
from plaza.inventory.models import (
    Location,
    Reservation,
    ReservationStatus,
    StockLevel,
    StockMovement,
)
from plaza.migrate import upgrade
from plaza.ordering.models import (
    FulfilmentMethod,
    Order,
    OrderHistory,
    OrderLine,
    OrderStatus,
    Return,
)

SEED = 7
PASSWORD = "demo-test-password"
TWIN_LOAD = (
    "import sys\n"
    "from plaza.db import Database\n"
    "from plaza.demo import load_demo\n"
    "from plaza.migrate import upgrade\n"
    "upgrade(sys.argv[1])\n"
    "load_demo(Database(sys.argv[1]), seed=int(sys.argv[2]))\n"
)


@dataclass
class Demo:
    url: str
    db: Database
    summary: dict[str, Any]
    twin: Database


def _fresh(path: Path) -> tuple[str, Database]:
    url = f"sqlite:///{path}"
    upgrade(url)
    return url, Database(url)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("demo")
    twin_url = f"sqlite:///{tmp / 'twin.db'}"
    twin = subprocess.Popen(
        [sys.executable, "-c", TWIN_LOAD, twin_url, str(SEED)],
        env={**os.environ, "PYTHONHASHSEED": "random"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url, db = _fresh(tmp / "demo.db")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(PASSWORD_ENV, PASSWORD)
            summary = load_demo(db, seed=SEED)
        _, err = twin.communicate(timeout=300)
    finally:
        if twin.poll() is None:
            twin.kill()
            twin.wait()
    assert twin.returncode == 0, err[-3000:]
    twin_db = Database(twin_url)
    yield Demo(url, db, summary, twin_db)
    db.dispose()
    twin_db.dispose()


def _count(s: Any, model: Any, *where: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_the_world_has_the_promised_shape(demo: Demo):
    summary = demo.summary
    assert summary["status"] == "loaded"
    assert summary["password"] == PASSWORD
    assert summary["seconds"] > 0
    assert 5 <= summary["merchants"] <= 10
    assert 450 <= summary["products"]["total"] <= 550
    assert summary["products"]["draft"] >= 3
    assert summary["variants"] > summary["products"]["total"]
    assert summary["locations"] >= 4
    assert 55 <= summary["customers"] <= 65
    orders = summary["orders"]
    assert 230 <= orders["total"] <= 280
    assert orders["fulfilled"] > orders["total"] / 2
    for status in ("paid", "cancelled", "returned"):
        assert 1 <= orders[status] < orders["total"] / 4, status
    assert summary["events_pending"] == 0
    with demo.db.reading() as s:
        kinds = set(s.scalars(select(Merchant.kind)))
        assert kinds == set(MerchantKind)
        assert set(s.scalars(select(Merchant.default_currency))) == {"EUR"}
        assert set(s.scalars(select(VariantPrice.currency))) == {"EUR"}
        # A tree: apparel has tops, bottoms and outerwear below it.
        apparel = s.scalar(select(Category.id).where(Category.slug == "apparel"))
        children = set(s.scalars(select(Category.slug).where(Category.parent_id == apparel)))
        assert {"tops", "bottoms", "outerwear"} <= children
        gtins = list(s.scalars(select(Variant.gtin)))
        assert gtins and all(g is not None and is_valid_gtin(g) for g in gtins)
        media = [m["url"] for ms in s.scalars(select(Product.media)) for m in ms]
        assert media and all(u.startswith("https://images.plaza.dev/") for u in media)
        # The big brand has a warehouse and three stores; the others a shop on the street.
        per_merchant = dict(
            s.execute(
                select(Location.merchant_id, func.count()).group_by(Location.merchant_id)
            ).all()
        )
        assert sorted(per_merchant.values()) == [1] * (len(MERCHANTS) - 1) + [4]
        admin = identity.find_user_by_email(s, ADMIN_EMAIL)
        assert admin is not None and admin.is_platform_admin
        # Every account shares the one hash computed for the load.
        hashes = set(s.scalars(select(User.password_hash)))
        assert len(hashes) == 1


def _fingerprint(db: Database) -> dict[str, Any]:
    """What the seed decides: names, codes, prices, stock, and every order with its lines.
    Times are taken relative to the first order (the anchor is the day of the load)."""
    with db.reading() as s:
        products = s.execute(
            select(
                Merchant.slug,
                Product.handle,
                Product.title,
                Product.brand,
                Product.status,
                Product.tags,
                Product.description,
                Product.options,
            )
            .join(Merchant, Merchant.id == Product.merchant_id)
            .order_by(Merchant.slug, Product.handle)
        ).all()
        variants = s.execute(
            select(
                Variant.sku,
                Variant.gtin,
                Variant.option_values,
                VariantPrice.amount,
                VariantPrice.compare_at_amount,
                func.coalesce(
                    select(func.sum(StockLevel.on_hand))
                    .where(StockLevel.variant_id == Variant.id)
                    .scalar_subquery(),
                    -1,
                ),
            )
            .join(VariantPrice, VariantPrice.variant_id == Variant.id)
            .order_by(Variant.sku)
        ).all()
        first = s.scalar(select(func.min(Order.created_at)))
        assert first is not None
        orders = [
            (t - first, slug, email, status, total, refunded)
            for t, slug, email, status, total, refunded in s.execute(
                select(
                    Order.created_at,
                    Merchant.slug,
                    Order.email,
                    Order.status,
                    Order.total_amount,
                    Order.refunded_amount,
                )
                .join(Merchant, Merchant.id == Order.merchant_id)
                .order_by(Order.created_at, Merchant.slug)
            )
        ]
        lines = sorted(
            (t - first, sku, qty, unit, returned)
            for t, sku, qty, unit, returned in s.execute(
                select(
                    Order.created_at,
                    OrderLine.sku,
                    OrderLine.quantity,
                    OrderLine.unit_amount,
                    OrderLine.returned_quantity,
                ).join(Order, Order.id == OrderLine.order_id)
            )
        )
        users = sorted((e, n) for e, n in s.execute(select(User.email, User.name)))
    return {
        "products": [tuple(r) for r in products],
        "variants": [tuple(r) for r in variants],
        "orders": orders,
        "lines": lines,
        "users": users,
    }


def test_the_same_seed_gives_the_same_world(demo: Demo):
    mine, twin = _fingerprint(demo.db), _fingerprint(demo.twin)
    for part in mine:
        assert mine[part] == twin[part], part


def test_a_second_call_answers_at_once_and_force_never_duplicates(demo: Demo):
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSWORD_ENV, PASSWORD)
        again = load_demo(demo.db, seed=SEED)
    assert time.perf_counter() - started < 2
    assert again["status"] == "already-loaded"
    for key in ("merchants", "products", "variants", "locations", "orders", "customers"):
        assert again[key] == demo.summary[key], key
    assert again["password"] == PASSWORD
    # Asked without the password the world was loaded with: no wrong password is shown.
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(PASSWORD_ENV, raising=False)
        other = load_demo(demo.db)
    assert other["password"] is None and PASSWORD_ENV in other["message"]
    with pytest.raises(DemoRefusedError, match="already loaded"):
        load_demo(demo.db, seed=SEED + 1, force=True)
    assert load_demo(demo.db)["orders"] == demo.summary["orders"]


def test_the_public_api_browses_and_searches_the_world(demo: Demo):
    app = create_app(Settings(database_url=demo.url, dispatcher="off"), demo.db)
    client = TestClient(app)
    r = client.get("/products", params={"limit": 50})
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["items"]) == 50 and page["next_cursor"]
    assert all(item["price"]["currency"] == "EUR" for item in page["items"])

    r = client.get("/products", params={"q": "jacket", "limit": 100})
    assert r.status_code == 200, r.text
    found = r.json()["items"]
    assert sum("jacket" in p["title"].lower() for p in found) >= 5
    for query, words in (
        ("waterproof rain jacket", ("waterproof", "rain", "jacket")),
        ("merino wool socks", ("merino", "wool", "socks")),
        ("recycled cotton t-shirt", ("recycled", "cotton", "t-shirt")),
    ):
        titles = [
            p["title"].lower() for p in client.get("/products", params={"q": query}).json()["items"]
        ]
        assert any(all(w in t for w in words) for t in titles), (query, titles)

    # The documented accounts sign in with the demo password and see their merchant's orders.
    r = client.post("/auth/token", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert r.status_code == 200, r.text
    login = demo.summary["merchant_logins"]["noorderlicht"]
    r = client.post("/auth/token", json={"email": login, "password": PASSWORD})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    with demo.db.reading() as s:
        merchant_id = s.scalar(select(Merchant.id).where(Merchant.slug == "noorderlicht"))
    r = client.get(f"/merchants/{merchant_id}/orders", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["items"]


def test_history_is_dated_in_order_over_the_past_months(demo: Demo):
    now = dt.datetime.now(dt.UTC)
    with demo.db.reading() as s:
        orders = s.execute(select(Order.id, Order.created_at).order_by(Order.id)).all()
        times = [t for _, t in orders]
        assert times == sorted(times), "ids and creation times disagree"
        assert now - dt.timedelta(days=121) <= times[0] < times[-1] <= now
        assert times[-1] - times[0] > dt.timedelta(days=90)
        history: dict[Any, list[dt.datetime]] = {}
        for order_id, at in s.execute(
            select(OrderHistory.order_id, OrderHistory.at).order_by(OrderHistory.id)
        ):
            history.setdefault(order_id, []).append(at)
        for order_id, created in orders:
            steps = history[order_id]
            assert steps[0] == created and steps == sorted(steps) and steps[-1] <= now
        first_order = times[0]
        newest_product = s.scalar(select(func.max(Product.created_at)))
        assert newest_product is not None and newest_product < first_order
        late_signups = _count(
            s,
            User,
            select(func.min(Order.created_at)).where(Order.customer_id == User.id).scalar_subquery()
            < User.created_at,
        )
        assert late_signups == 0
        assert _count(s, Return) >= 5


def test_stock_agrees_with_its_ledger(demo: Demo):
    with demo.db.reading() as s:
        levels = s.execute(
            select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand)
        ).all()
        ledger = dict(
            ((v, loc), int(n))
            for v, loc, n in s.execute(
                select(
                    StockMovement.variant_id,
                    StockMovement.location_id,
                    func.sum(StockMovement.delta_on_hand),
                ).group_by(StockMovement.variant_id, StockMovement.location_id)
            )
        )
        assert all(ledger.get((v, loc), 0) == on_hand for v, loc, on_hand in levels)
        # Every hold settled, but for the click & collect order waiting at the counter:
        # its stock stays held (not sold) until it is collected.
        held: dict[tuple[Any, Any], int] = {}
        for v, loc, n, ref in s.execute(
            select(
                Reservation.variant_id,
                Reservation.location_id,
                Reservation.quantity,
                Reservation.reference,
            ).where(Reservation.status == ReservationStatus.ACTIVE)
        ):
            held[(v, loc)] = held.get((v, loc), 0) + n
            order = s.get(Order, uuid.UUID(ref))
            assert order is not None and order.fulfilment == FulfilmentMethod.COLLECT
            assert order.status == OrderStatus.PAID
        assert len(held) >= 1
        levels_held = s.execute(
            select(StockLevel.variant_id, StockLevel.location_id, StockLevel.reserved).where(
                StockLevel.reserved != 0
            )
        ).all()
        assert {(v, loc): n for v, loc, n in levels_held} == held
        assert _count(s, StockLevel, StockLevel.on_hand == 0) >= 20
        assert _count(s, StockLevel, StockLevel.on_hand.between(1, 4)) >= 20
        assert _count(s, OutboxEvent, OutboxEvent.completed_at.is_(None)) == 0


def test_the_cli_reports_the_loaded_world_and_refuses_force(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PLAZA_DATABASE_URL", demo.url)
    get_settings.cache_clear()
    get_database.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(cli.app, ["demo"])
        assert r.exit_code == 0, r.output
        assert "already-loaded" in r.output and ADMIN_EMAIL in r.output
        r = runner.invoke(cli.app, ["demo", "--force"])
        assert r.exit_code == 1
        assert "already loaded" in r.output + str(r.exception)
    finally:
        if get_database.cache_info().currsize:
            get_database().dispose()
        get_database.cache_clear()
        get_settings.cache_clear()


def test_a_database_with_other_data_is_left_alone_unless_forced(tmp_path: Path):
    _, db = _fresh(tmp_path / "other.db")
    try:
        with db.transaction() as s:
            identity.register_user(s, "someone@example.org", None, "Someone")
        skipped = load_demo(db)
        assert skipped["status"] == "skipped" and "--force" in skipped["message"]
        assert skipped["merchants"] == 0
        # A demo merchant left behind by an unfinished load: even --force refuses.
        with db.transaction() as s:
            user = identity.find_user_by_email(s, "someone@example.org")
            assert user is not None
            identity.create_merchant(
                s, slug=MERCHANTS[0].slug, name="Leftover", kind=MerchantKind.BRAND, admin=user
            )
        with pytest.raises(DemoRefusedError, match="did not finish"):
            load_demo(db, force=True)
        with db.reading() as s:
            assert _count(s, Merchant) == 1
    finally:
        db.dispose()


def test_gtin13_appends_the_gs1_check_digit():
    assert gtin13("400638133393") == "4006381333931"
    assert gtin13("590123412345") == "5901234123457"
    assert all(is_valid_gtin(gtin13(f"8719841{n:05d}")) for n in range(0, 1000, 37))
