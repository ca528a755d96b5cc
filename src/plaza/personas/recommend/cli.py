"""``plaza recommend …``: train the recommender and keep embeddings current."""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

# Before numpy/implicit are imported by any command: implicit's ALS is slower (and warns)
# with a multi-threaded BLAS, and the packaged model must never be fetched from the Hub.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

app = typer.Typer(help="Recommendations: training and embeddings.", no_args_is_help=True)
console = Console()

STEPS = {
    "embed": "Embedding products",
    "activity": "Reading activity",
    "als": "Fitting ALS",
    "save": "Saving the model",
}


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


@app.command()
def train(
    factors: int = typer.Option(32, min=2, max=512, help="ALS latent factors."),
    regularization: float = typer.Option(0.05, min=0.0, help="ALS L2 regularisation."),
    iterations: int = typer.Option(20, min=1, max=200, help="ALS iterations."),
    alpha: float = typer.Option(4.0, min=0.0, help="Confidence = 1 + alpha × weight."),
    embed: bool = typer.Option(True, help="Embed new and changed products first."),
) -> None:
    """Embed changed products, fit ALS on consenting customers' activity and store a new
    model (serving switches to it at once; the last 3 models are kept)."""
    from plaza.db import get_database
    from plaza.personas.recommend.training import TrainParams
    from plaza.personas.recommend.training import train as run

    params = TrainParams(factors, regularization, iterations, alpha)
    with _progress() as progress:
        tasks: dict[str, TaskID] = {}

        def step(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = progress.add_task(STEPS.get(what, what), total=max(total, 1))
            progress.update(tasks[what], completed=done, total=max(total, 1))

        result = run(get_database(), params, embed=embed, on_step=step)
    console.print(
        f"[green]model {result.model_id}[/green]: {result.users} customers × {result.items} "
        f"products, {result.interactions} interactions, {result.baskets} baskets; "
        f"{result.embedded} products embedded; trained in {result.seconds:.1f} s"
    )


@app.command()
def embed(
    numpy_encoder: bool = typer.Option(
        False, "--numpy", help="Use the serving (NumPy) encoder instead of sentence-transformers."
    ),
) -> None:
    """Embed every product whose text changed since it was last embedded."""
    from plaza.db import get_database
    from plaza.personas.recommend.embeddings import embed_products
    from plaza.personas.recommend.training import sentence_transformers_encode

    encode = None if numpy_encoder else sentence_transformers_encode()
    with _progress() as progress:
        task = progress.add_task(STEPS["embed"], total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=max(total, 1))

        n = embed_products(get_database(), encode=encode, on_progress=on_progress)
    console.print(f"[green]{n} products embedded[/green]")
