"""Platform endpoints: health, the problem-type catalogue, the event catalogue."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from plaza.errors import CATALOGUE, ProblemError, not_found
from plaza.events import EVENT_TYPES
from plaza.identity.auth import Principal, Public

router = APIRouter(tags=["platform"])


class Health(BaseModel):
    status: str


class ProblemDoc(BaseModel):
    type: str
    title: str
    status: int
    description: str


@router.get("/healthz", response_model=Health)
def healthz(_: Principal = Depends(Public())) -> Health:
    """Liveness: the process answers. Also the ceiling for throughput benchmarks."""
    return Health(status="ok")


@router.get("/problems", response_model=list[ProblemDoc])
def problems(_: Principal = Depends(Public())) -> list[ProblemDoc]:
    """Every problem type Plaza can return."""
    return [
        ProblemDoc(type=p.uri, title=p.title, status=p.status, description=p.description)
        for p in sorted(CATALOGUE.values(), key=lambda p: p.slug)
    ]


@router.get("/problems/{slug}", response_model=ProblemDoc)
def problem(slug: str, _: Principal = Depends(Public())) -> ProblemDoc:
    """The documentation of one problem type (its `type` URI dereferences here)."""
    p = CATALOGUE.get(slug)
    if p is None:
        raise not_found("problem type", slug)
    return ProblemDoc(type=p.uri, title=p.title, status=p.status, description=p.description)


@router.get("/event-types", response_model=dict[str, str])
def event_types(_: Principal = Depends(Public())) -> dict[str, str]:
    """The domain events Plaza emits into its outbox (the catalogue partners build on)."""
    return dict(sorted(EVENT_TYPES.items()))


__all__ = ["ProblemError", "router"]
