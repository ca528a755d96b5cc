"""HTTP endpoints of a customer's own profile, personas and tracked activity (all under
``/me``: the signed-in customer only ever sees their own)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from plaza import idempotency as idem
from plaza.db import Database
from plaza.deps import get_db
from plaza.identity.auth import Customer, Principal
from plaza.pagination import Page, PageParams, newest_first
from plaza.personas import activity
from plaza.personas.customer import service
from plaza.personas.customer.schemas import (
    ActivityOut,
    PersonaIn,
    PersonaOut,
    PersonaPatch,
    ProfileIn,
    ProfileOut,
    TrackIn,
    TrackOut,
)
from plaza.personas.models import ActivityKind, CustomerActivity

router = APIRouter(tags=["personas"])


def _me(p: Principal) -> uuid.UUID:
    assert p.user_id is not None  # the Customer rule admits people only
    return p.user_id


# ---------------------------------------------------------------------------- profile


@router.get("/me/profile", response_model=ProfileOut)
def get_profile(db: Database = Depends(get_db), p: Principal = Depends(Customer())) -> ProfileOut:
    """What the signed-in customer chose to tell about themselves (all fields optional)."""
    with db.reading() as s:
        return service.profile_view(service.get_profile(s, _me(p)))


@router.put("/me/profile", response_model=ProfileOut)
def put_profile(
    body: ProfileIn, db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> ProfileOut:
    """Replace the profile (fields left out or null are cleared). Idempotent."""
    with db.transaction() as s:
        return service.profile_view(service.put_profile(s, _me(p), body))


# ---------------------------------------------------------------------------- personas


@router.get("/me/personas", response_model=list[PersonaOut])
def list_personas(
    db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> list[PersonaOut]:
    """The customer's personas (at most 10), the default first."""
    with db.reading() as s:
        return [service.persona_view(x) for x in service.list_personas(s, _me(p))]


@router.post("/me/personas", status_code=201, response_model=PersonaOut)
def create_persona(
    body: PersonaIn,
    request: Request,
    key: str | None = Depends(idem.idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> JSONResponse:
    """Add a persona: who you shop for, with sizes, fit, colours, styles and materials to
    prefer or avoid, a sustainability preference and a budget per item. Names are unique
    (`409 customer-persona-name-taken`); at most 10 (`409 customer-persona-limit-reached`);
    making it the default clears the others'."""
    user_id = _me(p)
    return idem.idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=idem.fingerprint("POST", request.url.path, body),
        action=lambda s: service.persona_view(service.create_persona(s, user_id, body)),
    )


@router.get("/me/personas/{persona_id}", response_model=PersonaOut)
def get_persona(
    persona_id: uuid.UUID, db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> PersonaOut:
    """One of the customer's personas (404 for anyone else's)."""
    with db.reading() as s:
        return service.persona_view(service.get_persona(s, _me(p), persona_id))


@router.patch("/me/personas/{persona_id}", response_model=PersonaOut)
def patch_persona(
    persona_id: uuid.UUID,
    body: PersonaPatch,
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> PersonaOut:
    """Change some fields; the others keep their value (`null` clears `fit` and `budget`)."""
    with db.transaction() as s:
        return service.persona_view(service.update_persona(s, _me(p), persona_id, body))


@router.delete("/me/personas/{persona_id}", status_code=204)
def delete_persona(
    persona_id: uuid.UUID, db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> Response:
    """Delete a persona (deleting the default leaves none as default)."""
    with db.transaction() as s:
        service.delete_persona(s, _me(p), persona_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------------- activity


@router.post("/me/activity", status_code=202, response_model=TrackOut)
def track_activity(
    body: TrackIn, db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> TrackOut:
    """Tell Plaza the customer viewed a product or put it in a cart, for their
    recommendations. Recorded only while the customer grants `personalisation` consent
    (otherwise `recorded: false`, `reason: no-consent`); `event_id` makes retries safe.
    `occurred_at` may be up to 30 days ago. 404 for a product shoppers cannot see."""
    with db.transaction() as s:
        outcome = activity.track(
            s, _me(p), body.kind, body.product_id, body.event_id, body.occurred_at
        )
    return TrackOut(recorded=outcome == "recorded", reason=outcome)


@router.get("/me/activity", response_model=Page[ActivityOut])
def list_activity(
    kind: ActivityKind | None = Query(None, description="Only this kind."),
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Page[ActivityOut]:
    """What Plaza recorded about the customer's shopping (purchases, returns, tracked views
    and cart adds), newest recorded first."""
    user_id = _me(p)
    q = select(CustomerActivity).where(CustomerActivity.user_id == user_id)
    if kind is not None:
        q = q.where(CustomerActivity.kind == kind)
    with db.reading() as s:
        return newest_first(
            s,
            q,
            CustomerActivity.id,
            page,
            f"activity:{user_id}:{kind}",
            ActivityOut.model_validate,
        )
