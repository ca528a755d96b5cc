"""The ``plaza`` command line: the same services the API calls."""

from __future__ import annotations

import json
import logging
import signal
import time
from pathlib import Path

import typer
from rich.console import Console

from plaza.config import get_settings
from plaza.personas.recommend.cli import app as recommend_app
from plaza.personas.segments.cli import app as personas_app

app = typer.Typer(help="Plaza: omni-channel social commerce platform.", no_args_is_help=True)
console = Console()
app.add_typer(recommend_app, name="recommend")
app.add_typer(personas_app, name="personas")


@app.command()
def migrate(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or upgrade the database schema."""
    from plaza.migrate import upgrade

    url = get_settings().database_url
    upgrade(url, revision)
    console.print(f"[green]database at {revision}[/green]")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port."),
    workers: int = typer.Option(1, help="uvicorn worker processes."),
    reload: bool = typer.Option(False, help="Reload on code changes (development)."),
) -> None:
    """Serve the API (OpenAPI docs at /docs)."""
    import uvicorn

    console.print(f"Plaza on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "plaza.asgi:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level="info",
        access_log=False,
        proxy_headers=False,
    )


@app.command()
def demo(
    seed: int = typer.Option(42, help="Random seed; the same seed gives the same world."),
    force: bool = typer.Option(False, help="Load even if demo data is already present."),
) -> None:
    """Load the demo world: a shopping street of merchants, products, stores, customers, orders."""
    from plaza.db import get_database
    from plaza.demo import DemoRefusedError, load_demo

    db = get_database()
    try:
        summary = load_demo(db, seed=seed, force=force, console=console)
    except DemoRefusedError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print_json(json.dumps(summary))


@app.command()
def worker(
    once: bool = typer.Option(False, help="Drain the outbox once and exit."),
) -> None:
    """Deliver outbox events to subscribers and run housekeeping (scale-out mode)."""
    from plaza.db import get_database
    from plaza.events import dispatch_pending
    from plaza.worker import build_dispatcher

    logging.basicConfig(level=logging.INFO)
    db = get_database()
    dispatcher = build_dispatcher(db, get_settings())
    if once:
        for hook in dispatcher.hooks:
            hook(db)
        total = 0
        while n := dispatch_pending(db):
            total += n
        console.print(f"delivered {total} events")
        return
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    dispatcher.start()
    console.print("worker running; Ctrl-C to stop")
    while not stop:
        time.sleep(0.5)
    dispatcher.stop()


@app.command("create-admin")
def create_admin(
    email: str = typer.Argument(..., help="Email of the platform administrator."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a platform administrator account."""
    from plaza.db import get_database
    from plaza.identity.service import register_user

    with get_database().transaction() as s:
        user = register_user(s, email, password, "Platform admin", platform_admin=True)
    console.print(f"[green]created platform admin {user.email}[/green]")


@app.command()
def openapi(
    out: Path = typer.Option(Path("openapi.json"), help="Where to write the schema."),
) -> None:
    """Write the OpenAPI schema."""
    from plaza.app import create_app

    schema = create_app().openapi()
    out.write_text(json.dumps(schema, indent=2))
    console.print(f"wrote {out}")
