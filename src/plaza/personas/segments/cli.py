"""``plaza personas …``: recompute strategic persona membership from scratch."""

from __future__ import annotations

import uuid

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

app = typer.Typer(help="Personas: strategic personas and their members.", no_args_is_help=True)
console = Console()


@app.callback()
def _personas() -> None:
    """Personas: strategic personas and their members."""


@app.command()
def rebuild(
    merchant: str | None = typer.Option(None, "--merchant", help="Only this merchant (slug)."),
    backfill: bool = typer.Option(
        True, help="First record purchases and returns from order history (idempotent)."
    ),
) -> None:
    """Re-evaluate every strategic persona over every customer; prints joins and leaves."""
    from plaza.db import get_database
    from plaza.identity.service import list_merchants
    from plaza.personas.models import StrategicPersona
    from plaza.personas.segments import service

    db = get_database()
    with db.reading() as s:
        shops = {m.id: (m.slug, m.name) for m in list_merchants(s, limit=100_000)}
        if merchant is not None:
            shops = {k: v for k, v in shops.items() if v[0] == merchant}
            if not shops:
                console.print(f"[red]no active merchant with slug {merchant!r}[/red]")
                raise typer.Exit(1)
        personas: list[tuple[uuid.UUID, uuid.UUID]] = [
            (m, p)
            for m, p in s.execute(
                select(StrategicPersona.merchant_id, StrategicPersona.id)
                .where(StrategicPersona.merchant_id.in_(list(shops)))
                .order_by(StrategicPersona.merchant_id, StrategicPersona.id)
            )
        ]
    table = Table("merchant", "persona", "joined", "left", "members", title="Strategic personas")
    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        if backfill:
            from plaza.personas.activity import backfill as record_history

            task = progress.add_task("Recording activity", total=None)
            added = record_history(db, progress=lambda n: progress.advance(task, n))
            progress.update(task, total=progress.tasks[task].completed)
            console.print(f"recorded {added} new activity rows")
        task = progress.add_task("Evaluating personas", total=len(personas))
        for merchant_id, persona_id in personas:
            # One transaction per persona: the write lock is never held for long.
            with db.transaction() as s:
                r = service.rebuild_persona(s, merchant_id, persona_id)
            table.add_row(
                shops[merchant_id][0], r.name, str(r.joined), str(r.left), str(r.member_count)
            )
            progress.advance(task)
    console.print(table)
    console.print(f"[green]{len(personas)} personas re-evaluated[/green]")
