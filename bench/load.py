"""Load benchmark: listing, search and checkout against a trivial-endpoint ceiling.

One run starts one Plaza API process (uvicorn, one worker) on a fresh database loaded with
the demo world, then measures, side by side on the same server:

* throughput of ``/healthz`` (the ceiling), product listing, keyword search and hybrid
  search (``/search``: keyword + MiniLM embeddings), with ``wrk``
  (hot query set: served by the catalog cache) and again with the cache disabled;
* throughput of the storefront's HTML pages (home, browse, keyword search; rendered by
  Jinja2 on every request);
* the full checkout flow (create cart → add line → checkout with an Idempotency-Key) with
  50 concurrent clients, closed loop (as fast as possible) and paced (each client starts a
  checkout every ``--pace`` seconds), reporting p50/p99 and errors;
* the server's resident memory after the run.

The server is pinned to CPU 0 and the load generators to CPU 1 when ``taskset`` exists, so
the two do not fight over one core. Figures are printed as a table; ratios, not absolute
times, are what to compare between machines.

    python bench/load.py --db sqlite
    PLAZA_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/plaza_bench \
        python bench/load.py --db postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "jacket",
    "wool",
    "rain jacket",
    "cotton t-shirt",
    "sneakers",
    "organic",
    "lamp",
    "socks",
    "dress",
    "backpack",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu), *cmd]
    return cmd


def prepare_database(kind: str) -> str:
    """A fresh, migrated database with the demo world and deep stock."""
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="plaza-bench-")) / "bench.db"
        url = f"sqlite:///{path}"
    else:
        base = os.environ.get("PLAZA_BENCH_PG_URL")
        if not base:
            sys.exit("set PLAZA_BENCH_PG_URL=postgresql+psycopg://user@host:port/dbname")
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        parsed = make_url(base)
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
        url = base
    os.environ["PLAZA_DATABASE_URL"] = url
    os.environ["PLAZA_DISPATCHER"] = "off"
    from plaza.db import Database
    from plaza.demo import load_demo
    from plaza.migrate import upgrade

    upgrade(url)
    db = Database(url)
    load_demo(db, seed=42)
    from sqlalchemy import update

    from plaza.inventory.models import StockLevel

    with db.transaction() as s:  # checkouts must not run out of stock mid-benchmark
        s.execute(update(StockLevel).values(on_hand=StockLevel.reserved + 1_000_000))
    db.dispose()
    return url


@dataclass
class Server:
    url: str
    db_url: str
    cache: bool
    proc: subprocess.Popen[bytes] | None = None
    startup_s: float = 0.0

    def start(self) -> None:
        env = {
            **os.environ,
            "PLAZA_DATABASE_URL": self.db_url,
            "PLAZA_DISPATCHER": "inprocess",
            "PLAZA_CATALOG_CACHE_SIZE": "2048" if self.cache else "0",
            # All load comes from one address: the per-IP limits would measure themselves.
            "PLAZA_RATE_LIMIT_ENABLED": "false",
        }
        port = self.url.rsplit(":", 1)[1]
        cmd = pinned(
            0,
            [
                sys.executable,
                "-m",
                "uvicorn",
                "plaza.asgi:app",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--no-access-log",
                "--log-level",
                "warning",
            ],
        )
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
        deadline = t0 + 60
        while time.perf_counter() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    self.startup_s = time.perf_counter() - t0
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def rss_mib(self) -> float:
        assert self.proc is not None
        pid = self.proc.pid  # taskset execs the server, so this is the server's pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def run_wrk(name: str, base: str, paths: list[str], seconds: int, conns: int) -> Result:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lua_paths = ", ".join(json.dumps(p) for p in paths)
    script.write_text(
        f"local paths = {{{lua_paths}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )
    cmd = pinned(
        1, ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(script), base]
    )
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, errs.groups())) if errs else 0)
    return Result(name, rps, p50, p99, errors, total)


async def _variant_pool(client: httpx.AsyncClient) -> list[str]:
    pool: list[str] = []
    cursor = None
    while len(pool) < 300:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/products", params=params)).json()
        for p in page["items"]:
            detail = (await client.get(f"/products/{p['id']}")).json()
            if detail.get("customisation"):  # a configuration is required: no one-click buy
                continue
            pool += [v["id"] for v in p["variants"] if v.get("price") or v.get("prices")]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return pool


async def _checkout_flow(client: httpx.AsyncClient, variant: str) -> tuple[float, float, bool]:
    """One guest checkout; returns (flow seconds, checkout-call seconds, ok)."""
    t0 = time.perf_counter()
    r = await client.post("/carts", json={"currency": "EUR"})
    if r.status_code != 201:
        return time.perf_counter() - t0, 0.0, False
    cart = r.json()
    h = {"X-Cart-Token": cart["token"]}
    r = await client.post(
        f"/carts/{cart['id']}/lines", json={"variant_id": variant, "quantity": 1}, headers=h
    )
    if r.status_code != 201:
        return time.perf_counter() - t0, 0.0, False
    body = {
        "email": "bench@example.com",
        "payment": {"token": "tok_visa"},
        "shipping_address": {
            "name": "Bench",
            "line1": "1 Loop",
            "city": "Amsterdam",
            "postal_code": "1011",
            "country": "NL",
        },
    }
    t1 = time.perf_counter()
    r = await client.post(
        f"/carts/{cart['id']}/checkout",
        json=body,
        headers={**h, "Idempotency-Key": uuid.uuid4().hex},
    )
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1, r.status_code == 201


async def _checkouts(base: str, clients: int, seconds: float, pace: float | None) -> Result:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        pool = await _variant_pool(client)
        if not pool:
            raise RuntimeError("no sellable variants found")
        flows: list[float] = []
        calls: list[float] = []
        errors = 0
        stop_at = time.perf_counter() + seconds

        async def user(n: int) -> None:
            nonlocal errors
            i = n
            if pace:
                await asyncio.sleep(pace * n / clients)  # spread the starts
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                flow, call, ok = await _checkout_flow(client, pool[i % len(pool)])
                i += clients
                flows.append(flow)
                calls.append(call)
                errors += 0 if ok else 1
                if pace:
                    await asyncio.sleep(max(0.0, pace - (time.perf_counter() - started)))

        t0 = time.perf_counter()
        await asyncio.gather(*(user(n) for n in range(clients)))
        elapsed = time.perf_counter() - t0
    name = f"checkout, {clients} clients " + (f"paced 1/{pace:g}s" if pace else "closed loop")
    q = statistics.quantiles(calls, n=100) if len(calls) > 1 else [calls[0]] * 99
    fq = statistics.quantiles(flows, n=100) if len(flows) > 1 else [flows[0]] * 99
    return Result(
        name,
        len(calls) / elapsed,
        q[49] * 1000,
        q[98] * 1000,
        errors,
        len(calls),
        note=f"full flow p50 {fq[49] * 1000:.1f} ms, p99 {fq[98] * 1000:.1f} ms",
    )


def checkout_bench(base: str, clients: int, seconds: float, pace: float | None) -> Result:
    """Run the checkout load in its own process, pinned to the load-generator CPU."""
    cmd = [
        sys.executable,
        __file__,
        "--checkout-worker",
        base,
        "--clients",
        str(clients),
        "--seconds",
        str(int(seconds)),
        "--pace",
        str(pace or 0),
    ]
    out = subprocess.run(pinned(1, cmd), capture_output=True, text=True, check=True).stdout
    return Result(**json.loads(out.strip().splitlines()[-1]))


def print_table(db: str, results: list[Result], ceiling: float, server: Server, rss: float) -> None:
    print(f"\nPlaza load benchmark — database: {db}, one uvicorn worker, {os.cpu_count()} CPUs")
    print(f"{'scenario':<44}{'req/s':>9}{'vs /healthz':>13}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in results:
        ratio = f"{r.rps / ceiling:.0%}" if ceiling and not r.name.startswith("checkout") else "-"
        print(f"{r.name:<44}{r.rps:>9.0f}{ratio:>13}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.errors:>8}")
        if r.note:
            print(f"{'':<4}{r.note}")
    print(
        f"server RSS after the run: {rss:.0f} MiB; time to first answer: {server.startup_s:.1f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--seconds", type=int, default=10, help="duration of each scenario")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--clients", type=int, default=50, help="concurrent checkout clients")
    ap.add_argument(
        "--pace",
        type=float,
        nargs="+",
        default=[3.0, 1.0],
        help="paced checkout scenarios: seconds between one client's checkouts",
    )
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--checkout-worker", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.checkout_worker:
        result = asyncio.run(
            _checkouts(args.checkout_worker, args.clients, args.seconds, args.pace[0] or None)
        )
        print(json.dumps(result.__dict__))
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is needed for the throughput scenarios: apt-get install wrk")
    print(f"preparing a {args.db} database with the demo world …", flush=True)
    db_url = prepare_database(args.db)
    results: list[Result] = []
    listing = [
        "/products?limit=20",
        "/products?limit=20&sort=price_asc",
        "/products?limit=20&sort=newest",
    ]
    search = [f"/products?q={q.replace(' ', '+')}&limit=20" for q in QUERIES]
    hybrid = [f"/search?q={q.replace(' ', '+')}&limit=20" for q in QUERIES]
    # The web pages a shopper opens first, rendered server-side (Jinja2), not cached.
    pages = [
        "/shop",
        "/shop/categories",
        *(f"/shop/search?q={q.replace(' ', '+')}&mode=keyword" for q in QUERIES[:3]),
    ]
    server = Server(f"http://127.0.0.1:{free_port()}", db_url, cache=True)
    server.start()
    try:
        ceiling = run_wrk(
            "trivial GET /healthz (ceiling)",
            server.url,
            ["/healthz"],
            args.seconds,
            args.connections,
        )
        results.append(ceiling)
        results.append(
            run_wrk("product listing (cached)", server.url, listing, args.seconds, args.connections)
        )
        results.append(
            run_wrk("product search (cached)", server.url, search, args.seconds, args.connections)
        )
        results.append(
            run_wrk(
                "hybrid search /search (keyword + MiniLM)",
                server.url,
                hybrid,
                args.seconds,
                args.connections,
            )
        )
        results.append(
            run_wrk(
                "storefront pages (HTML: home, browse, search)",
                server.url,
                pages,
                args.seconds,
                args.connections,
            )
        )
        for pace in args.pace:
            results.append(checkout_bench(server.url, args.clients, args.seconds, pace))
        results.append(checkout_bench(server.url, args.clients, args.seconds, None))
        rss = server.rss_mib()
    finally:
        server.stop()
    cold = Server(f"http://127.0.0.1:{free_port()}", db_url, cache=False)
    cold.start()
    try:
        cold_ceiling = run_wrk(
            "trivial GET /healthz, cache off run",
            cold.url,
            ["/healthz"],
            args.seconds,
            args.connections,
        )
        for r in (
            run_wrk(
                "product listing (cache off)", cold.url, listing, args.seconds, args.connections
            ),
            run_wrk("product search (cache off)", cold.url, search, args.seconds, args.connections),
        ):
            r.note = (
                f"{r.rps / cold_ceiling.rps:.0%} of this run's own /healthz "
                f"({cold_ceiling.rps:.0f} req/s)"
            )
            results.append(r)
    finally:
        cold.stop()
    print_table(args.db, results, ceiling.rps, server, rss)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "db": args.db,
                    "rss_mib": rss,
                    "startup_s": server.startup_s,
                    "results": [r.__dict__ for r in results],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
