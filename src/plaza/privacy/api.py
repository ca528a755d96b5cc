"""Privacy endpoints: consent, data export, erasure, and the audit log."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from pydantic import AwareDatetime
from sqlalchemy import select

from plaza.config import get_settings
from plaza.db import Database, utcnow
from plaza.deps import get_db
from plaza.errors import VALIDATION, ProblemError
from plaza.identity.auth import Customer, MerchantAccess, PlatformAdmin, Principal, Public
from plaza.identity.models import MerchantRole, User
from plaza.identity.passwords import verify_password
from plaza.pagination import Page, PageParams, newest_first
from plaza.privacy import audit, service
from plaza.privacy.models import ConsentRecord, ConsentState, Purpose
from plaza.privacy.schemas import (
    AuditEventOut,
    ConsentChangeOut,
    ConsentOut,
    ConsentsIn,
    DataExportOut,
    EraseIn,
    ErasureOut,
    PurposeOut,
)

router = APIRouter(tags=["privacy"])
audit_admin = MerchantAccess(MerchantRole.ADMIN)
FRESH_TOKEN = dt.timedelta(minutes=5)


@router.get("/privacy/purposes", response_model=list[PurposeOut])
def purposes(_: Principal = Depends(Public())) -> list[PurposeOut]:
    """The purposes a customer can consent to. Every one is opt-in."""
    return [PurposeOut(purpose=p, description=d) for p, d in service.PURPOSES.items()]


def _consents_out(current: dict[Purpose, ConsentRecord | None]) -> list[ConsentOut]:
    return [
        ConsentOut(
            purpose=purpose,
            granted=r is not None and r.state == ConsentState.GRANTED,
            changed_at=r.at if r else None,
            source=r.source if r else None,
        )
        for purpose, r in current.items()
    ]


@router.get("/me/consents", response_model=list[ConsentOut])
def my_consents(
    db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> list[ConsentOut]:
    """The signed-in customer's consent per purpose (not granted unless granted)."""
    assert p.user_id is not None
    with db.reading() as s:
        return _consents_out(service.current_consents(s, p.user_id))


@router.put("/me/consents", response_model=list[ConsentOut])
def set_my_consents(
    body: ConsentsIn, db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> list[ConsentOut]:
    """Grant (`true`) or withdraw (`false`) purposes; those left out are unchanged. A
    withdrawal takes effect for the very next use of the data. Idempotent."""
    assert p.user_id is not None
    changes = body.model_dump(exclude_unset=True, exclude={"source"})
    with db.transaction() as s:
        for purpose, granted in changes.items():
            if granted is None:
                continue
            state = ConsentState.GRANTED if granted else ConsentState.WITHDRAWN
            service.set_consent(s, p.user_id, purpose, state, source=body.source, actor=p.actor)
        return _consents_out(service.current_consents(s, p.user_id))


@router.get("/me/consents/history", response_model=Page[ConsentChangeOut])
def my_consent_history(
    purpose: Purpose | None = None,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Page[ConsentChangeOut]:
    """Every consent change of the signed-in customer, newest first."""
    q = select(ConsentRecord).where(ConsentRecord.user_id == p.user_id)
    if purpose is not None:
        q = q.where(ConsentRecord.purpose == purpose)
    with db.reading() as s:
        return newest_first(
            s,
            q,
            ConsentRecord.id,
            page,
            f"consents:{p.user_id}:{purpose}",
            ConsentChangeOut.model_validate,
        )


@router.get(
    "/me/data-export",
    response_model=DataExportOut,
    responses={200: {"description": "The archive, as a JSON attachment."}},
)
def data_export(db: Database = Depends(get_db), p: Principal = Depends(Customer())) -> JSONResponse:
    """Download everything Plaza holds about the signed-in account: one machine-readable
    JSON document with a section per context (docs/privacy.md describes it)."""
    assert p.user_id is not None
    with db.reading() as s:
        document = service.export_data(s, p.user_id)
    stamp = utcnow().strftime("%Y%m%d")
    return JSONResponse(
        document,
        headers={
            "Content-Disposition": f'attachment; filename="plaza-data-{stamp}.json"',
            "Cache-Control": "no-store",
        },
    )


def _token_issued_at(request: Request) -> int | None:
    """``iat`` of the request's bearer token (already verified by the access rule)."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        key = OctKey.import_key(get_settings().resolved_secret_key())
        return int(jwt.decode(token.strip(), key, algorithms=["HS256"]).claims["iat"])
    except (JoseError, ValueError, KeyError, TypeError):
        return None


@router.post("/me/erase", response_model=ErasureOut)
def erase_me(
    body: EraseIn,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> ErasureOut:
    """Erase the signed-in account: its personal data is deleted or irreversibly
    pseudonymised in every context, in one transaction, and its tokens stop working at
    once. Orders keep what the law requires. Confirm with the current password (or, for an
    account without one, a token issued in the last 5 minutes). The merchant's last admin
    must hand over first (`409 last-admin`)."""
    assert p.user_id is not None
    with db.transaction() as s:
        user = s.get(User, p.user_id)
        assert user is not None
        if user.password_hash is not None:
            confirmed = body.password is not None and verify_password(
                user.password_hash, body.password
            )
        else:
            confirmed = service.token_is_fresh(_token_issued_at(request), utcnow(), FRESH_TOKEN)
        if not confirmed:
            raise ProblemError(service.REAUTHENTICATION_REQUIRED)
        receipt = service.erase_account(s, p.user_id)
    return ErasureOut.model_validate(receipt)


# ---------------------------------------------------------------- audit log


def _filter(
    merchant_id: uuid.UUID | None,
    actor: str | None,
    action: str | None,
    resource_type: str | None,
    resource_id: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> audit.AuditFilter:
    return audit.AuditFilter(
        merchant_id=merchant_id,
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        since=_utc(since, "since"),
        until=_utc(until, "until"),
    )


def _utc(value: dt.datetime | None, name: str) -> dt.datetime | None:
    """In UTC; an offset that pushes the time out of the calendar (year 1 at +14:00) is a
    validation error, not an overflow deep in the database layer."""
    if value is None:
        return None
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ProblemError(
            VALIDATION,
            "the request has invalid fields",
            errors=[{"loc": ["query", name], "msg": "out of range", "type": "value_error"}],
        ) from None


ActorQ = Query(None, max_length=100, description="`user:<id>` or `api_key:<id>`.")
ActionQ = Query(None, max_length=320, description="Method and route, e.g. `POST /merchants/…`.")
ResourceTypeQ = Query(None, max_length=50, description="e.g. `product`, `order`, `api_key`.")
ResourceIdQ = Query(None, max_length=64)
SinceQ = Query(None, description="From this time on (inclusive, with a time zone).")
UntilQ = Query(None, description="Before this time (exclusive, with a time zone).")


@router.get("/merchants/{merchant_id}/audit-events", response_model=Page[AuditEventOut])
def merchant_audit_events(
    merchant_id: uuid.UUID,
    actor: str | None = ActorQ,
    action: str | None = ActionQ,
    resource_type: str | None = ResourceTypeQ,
    resource_id: str | None = ResourceIdQ,
    since: AwareDatetime | None = SinceQ,
    until: AwareDatetime | None = UntilQ,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(audit_admin),
) -> Page[AuditEventOut]:
    """Who did what in this merchant: every write by its staff, its API keys and platform
    admins, including refused attempts. Newest first; append-only."""
    f = _filter(merchant_id, actor, action, resource_type, resource_id, since, until)
    with db.reading() as s:
        return audit.list_events(s, f, page, AuditEventOut.model_validate)


@router.get("/audit-events", response_model=Page[AuditEventOut])
def platform_audit_events(
    merchant_id: uuid.UUID | None = None,
    actor: str | None = ActorQ,
    action: str | None = ActionQ,
    resource_type: str | None = ResourceTypeQ,
    resource_id: str | None = ResourceIdQ,
    since: AwareDatetime | None = SinceQ,
    until: AwareDatetime | None = UntilQ,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(PlatformAdmin()),
) -> Page[AuditEventOut]:
    """The whole platform's audit log (platform administrators), newest first."""
    f = _filter(merchant_id, actor, action, resource_type, resource_id, since, until)
    with db.reading() as s:
        return audit.list_events(s, f, page, AuditEventOut.model_validate)
