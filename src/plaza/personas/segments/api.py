"""HTTP endpoints of strategic personas, under the merchant's back-office.

Staff read personas, their members and previews; admins (the marketing lead) define,
change, archive and rebuild them. API keys have no personas scope: people only.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from plaza import idempotency
from plaza.db import Database
from plaza.deps import get_db
from plaza.etags import if_match, with_etag
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.pagination import Page, PageParams
from plaza.personas.models import PersonaStatus
from plaza.personas.segments import service
from plaza.personas.segments.schemas import (
    MemberOut,
    PersonaIn,
    PersonaOut,
    PersonaPatch,
    PreviewIn,
    PreviewOut,
    RebuildOut,
)

router = APIRouter(tags=["personas"])
can_read = MerchantAccess(MerchantRole.STAFF)
can_write = MerchantAccess(MerchantRole.ADMIN)
BASE = "/merchants/{merchant_id}/personas"


_if_match = if_match("persona")
_etag = with_etag


@router.get(BASE, response_model=Page[PersonaOut])
def list_personas(
    merchant_id: uuid.UUID,
    status: PersonaStatus | None = Query(None, description="Only this status (default: all)."),
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> Page[PersonaOut]:
    """The merchant's strategic personas, newest first, with their member counts."""
    with db.reading() as s:
        return service.list_personas(s, merchant_id, page, status)


@router.post(BASE, status_code=201, response_model=PersonaOut)
def create_persona(
    merchant_id: uuid.UUID,
    body: PersonaIn,
    key: str | None = Depends(idempotency.idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(can_write),
) -> JSONResponse:
    """Define a persona. The rule is validated (`422 persona-rule-invalid` names the
    offending node) and evaluated at once: the answer carries `member_count`."""
    return idempotency.idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=idempotency.fingerprint("POST", f"/merchants/{merchant_id}/personas", body),
        action=lambda s: service.persona_view(service.create_persona(s, merchant_id, body)),
    )


@router.post(f"{BASE}/preview", response_model=PreviewOut)
def preview_rule(
    merchant_id: uuid.UUID,
    body: PreviewIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> PreviewOut:
    """How many customers a rule would select now, without saving it. Counts only."""
    with db.reading() as s:
        return service.preview(s, merchant_id, body.rule)


@router.get(f"{BASE}/{{persona_id:uuid}}", response_model=PersonaOut)
def get_persona(
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    response: Response,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> PersonaOut:
    """One persona; `ETag` carries its version."""
    with db.reading() as s:
        return _etag(
            response, service.persona_view(service.get_persona(s, merchant_id, persona_id))
        )


@router.patch(f"{BASE}/{{persona_id:uuid}}", response_model=PersonaOut)
def patch_persona(
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    body: PersonaPatch,
    response: Response,
    expected: int | None = Depends(_if_match),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> PersonaOut:
    """Change fields; a new rule or status re-evaluates the membership at once. Send
    `expected_version` (or `If-Match`) to get 409 if someone changed it since you read it."""
    with db.transaction() as s:
        persona = service.update_persona(
            s, merchant_id, persona_id, body, expected_version=expected
        )
        return _etag(response, service.persona_view(persona))


@router.delete(f"{BASE}/{{persona_id:uuid}}", response_model=PersonaOut)
def archive_persona(
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    response: Response,
    expected: int | None = Depends(_if_match),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> PersonaOut:
    """Archive the persona: its members leave (with events), the definition is kept
    (PATCH `status` restores it). Idempotent."""
    with db.transaction() as s:
        persona = service.archive_persona(s, merchant_id, persona_id, expected_version=expected)
        return _etag(response, service.persona_view(persona))


@router.get(f"{BASE}/{{persona_id:uuid}}/members", response_model=Page[MemberOut])
def list_members(
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> Page[MemberOut]:
    """The persona's members, newest first: account ids and since when only."""
    with db.reading() as s:
        return service.list_members(s, merchant_id, persona_id, page)


@router.post(f"{BASE}/{{persona_id:uuid}}/rebuild", response_model=RebuildOut)
def rebuild_persona(
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> RebuildOut:
    """Re-evaluate the persona over every customer now (it is also kept live from events
    and re-evaluated daily). Safe to repeat."""
    with db.transaction() as s:
        r = service.rebuild_persona(s, merchant_id, persona_id)
        return RebuildOut(
            persona_id=r.persona_id,
            joined=r.joined,
            left=r.left,
            member_count=r.member_count,
            evaluated_customers=r.evaluated_customers,
        )
