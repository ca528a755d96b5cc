"""Back-office stores: the merchant's store locations with their O2O profile (hours per
weekday, exceptions, services, phone), zones and staff assignment.

Also the store and zone choices the O2O back-office pages share (``store_rows``,
``zone_choices``)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from plaza.errors import ProblemError
from plaza.identity import service as identity
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.inventory import service as inventory
from plaza.inventory.models import LocationKind
from plaza.o2o.stores import service
from plaza.o2o.stores.models import StaffRole, StoreService, ZoneKind
from plaza.o2o.stores.schemas import (
    WEEKDAYS,
    StaffIn,
    StoreProfileIn,
    ZoneIn,
    ZoneOut,
    ZonePatch,
)
from plaza.web.backoffice.common import office_context, office_page
from plaza.web.backoffice.crud import Errors, act, submit
from plaza.web.forms import field_errors, form_data, text
from plaza.web.render import page, principal_of, redirect

router = APIRouter(prefix="/back-office/{merchant_id}")
staff = MerchantAccess(MerchantRole.STAFF)  # pages are for people: no API-key scopes
admin = MerchantAccess(MerchantRole.ADMIN)
MAX_STORES = 200
DAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                "Saturday", "Sunday"), strict=True))  # fmt: skip
_INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


# --- choices shared by the O2O back-office pages --------------------------------------------


def store_rows(s: Session, merchant_id: uuid.UUID) -> list[Any]:
    return inventory.list_locations(s, merchant_id, limit=MAX_STORES, kind=LocationKind.STORE)


def zone_choices(s: Session, merchant_id: uuid.UUID) -> list[tuple[str, str]]:
    """Every zone of the merchant's stores as (id, "Store · Zone (CODE)") options."""
    out: list[tuple[str, str]] = []
    for loc in store_rows(s, merchant_id):
        for z in service.list_zones(s, loc.id):
            out.append((str(z.id), f"{loc.name} · {z.name} ({z.code})"))
    return out


def zone_names(s: Session, merchant_id: uuid.UUID) -> dict[str, str]:
    return dict(zone_choices(s, merchant_id))


# --- the profile form -----------------------------------------------------------------------


def hours_text(intervals: list[Any]) -> str:
    return ", ".join(f"{i['open']}-{i['close']}" for i in intervals)


def _intervals(raw: str) -> list[dict[str, str]] | None:
    """``"09:00-12:00, 13:00-18:00"`` as intervals; None when it does not read."""
    out = []
    for part in [p for p in raw.split(",") if p.strip()]:
        m = _INTERVAL.match(part)
        if not m:
            return None
        out.append({"open": m.group(1).zfill(5), "close": m.group(2).zfill(5)})
    return out


def profile_values(profile: Any) -> dict[str, Any]:
    """A StoreProfileOut as the form's values."""
    values: dict[str, Any] = {
        "timezone": profile.timezone,
        "phone": profile.phone,
        "services": [str(v) for v in profile.services],
    }
    for day in WEEKDAYS:
        values[f"hours_{day}"] = hours_text([i.model_dump() for i in profile.hours.get(day, [])])
    lines = []
    for e in profile.exceptions:
        what = "closed" if e.closed else ",".join(f"{i.open}-{i.close}" for i in e.hours)
        lines.append(f"{e.date} {what} {e.note}".rstrip())
    values["exceptions"] = "\n".join(lines)
    return values


def parse_profile(form: FormData) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The posted profile form as (values to show again, body for StoreProfileIn, errors
    found before the schema sees it)."""
    values: dict[str, Any] = {
        "timezone": text(form, "timezone"),
        "phone": text(form, "phone"),
        "services": [str(v) for v in form.getlist("services")],
        "exceptions": text(form, "exceptions"),
    }
    errors: dict[str, str] = {}
    hours: dict[str, Any] = {}
    for day in WEEKDAYS:
        raw = text(form, f"hours_{day}")
        values[f"hours_{day}"] = raw
        parsed = _intervals(raw)
        if parsed is None:
            errors[f"hours_{day}"] = f"{DAY_NAMES[day]}: write hours like 09:00-18:00"
        elif parsed:
            hours[day] = parsed
    exceptions: list[dict[str, Any]] = []
    for n, line in enumerate(values["exceptions"].splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(None, 2)
        if len(parts) < 2:
            errors.setdefault("exceptions", f"line {n}: write a date, then hours or closed")
            continue
        date, what, note = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
        if what.lower() == "closed":
            exceptions.append({"date": date, "closed": True, "note": note})
            continue
        special = _intervals(what)
        if not special:
            errors.setdefault("exceptions", f"line {n}: write hours like 09:00-14:00, or closed")
            continue
        exceptions.append({"date": date, "closed": False, "hours": special, "note": note})
    body: dict[str, Any] = {
        "phone": values["phone"],
        "services": values["services"],
        "hours": hours,
        "exceptions": exceptions,
    }
    if values["timezone"]:
        body["timezone"] = values["timezone"]
    return values, body, errors


def _profile_field(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "_form"
    if loc[0] == "hours" and len(loc) > 1:
        return f"hours_{loc[1]}"
    return str(loc[0]) if loc[0] in ("timezone", "phone", "services", "exceptions") else "_form"


# --- pages -------------------------------------------------------------------------------------


@router.get("/stores")
def list_stores(
    request: Request, merchant_id: uuid.UUID, _: Principal = Depends(staff)
) -> Response:
    """The merchant's stores with whether each is open now."""
    with request.app.state.db.reading() as s:
        rows = []
        for loc in store_rows(s, merchant_id):
            store = service.get_store(s, merchant_id, loc.id)
            rows.append(
                {
                    "id": loc.id,
                    "name": loc.name,
                    "city": loc.city,
                    "open_now": service.is_open(store),
                    "zones": len(service.list_zones(s, loc.id)),
                    "staff": len(service.list_staff(s, merchant_id, loc.id)),
                }
            )
    ctx = office_context(request, merchant_id, "stores")
    return page(request, "office/stores.html", {**ctx, "stores": rows})


def _store_page(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    zone_values: dict[str, Any] | None = None,
    zone_errors: dict[str, str] | None = None,
    staff_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.reading() as s:
        store = service.get_store(s, merchant_id, location_id)
        profile = service.profile_view(store)
        zones = [ZoneOut.model_validate(z) for z in service.list_zones(s, location_id)]
        members = {m.user_id: (u, m.role) for m, u in identity.list_members(s, merchant_id)}
        assigned = [
            {
                "user_id": r.user_id,
                "email": members[r.user_id][0].email if r.user_id in members else str(r.user_id),
                "role": r.role.value,
                "since": r.since,
            }
            for r in service.list_staff(s, merchant_id, location_id)
        ]
        choices = [(str(uid), u.email) for uid, (u, _) in members.items()]
        name = store.location.name
    return office_page(
        request,
        merchant_id,
        "stores",
        "office/store.html",
        {
            "store": {"id": location_id, "name": name},
            "profile": profile,
            "values": values if values is not None else profile_values(profile),
            "errors": errors or {},
            "zones": zones,
            "zone_values": zone_values or {},
            "zone_errors": zone_errors or {},
            "zone_kinds": [(k.value, k.value.title()) for k in ZoneKind],
            "assigned": assigned,
            "member_choices": choices,
            "staff_roles": [(r.value, r.value.title()) for r in StaffRole],
            "staff_errors": staff_errors or {},
            "services": [(v.value, v.value.replace("_", " ").capitalize()) for v in StoreService],
            "weekdays": [(d, DAY_NAMES[d]) for d in WEEKDAYS],
            "is_admin": _is_admin(request, merchant_id),
        },
        status=status,
    )


def _is_admin(request: Request, merchant_id: uuid.UUID) -> bool:
    return principal_of(request).can_act_for(merchant_id, MerchantRole.ADMIN, None)


@router.get("/stores/{location_id}")
def store_detail(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    """One store: its profile form, zones and staff."""
    return _store_page(request, merchant_id, location_id)


@router.post("/stores/{location_id}")
def save_store(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    """Replace the store's profile (PUT of the API)."""
    values, body, errors = parse_profile(form)
    data: StoreProfileIn | None = None
    if not errors:
        try:
            data = StoreProfileIn.model_validate(body)
        except ValidationError as exc:
            errors = field_errors(exc, _profile_field)
    if data is None:
        return _store_page(
            request, merchant_id, location_id, values=values, errors=errors, status=422
        )
    with request.app.state.db.transaction() as s:
        service.save_profile(s, merchant_id, location_id, data)
    return redirect(_store_url(merchant_id, location_id), flash="Store saved.")


def _zone_body(form: FormData) -> dict[str, Any]:
    return {k: text(form, k) for k in ("code", "name", "kind")}


@router.post("/stores/{location_id}/zones")
def add_zone(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    values = _zone_body(form)
    return submit(
        request,
        ZoneIn,
        values,
        lambda s, body: service.create_zone(s, merchant_id, location_id, body),
        _zone_errors,
        again=lambda errors: _store_page(
            request, merchant_id, location_id, zone_values=values, zone_errors=errors, status=422
        ),
        to=_store_url(merchant_id, location_id),
        flash="Zone added.",
    )


def _store_url(merchant_id: uuid.UUID, location_id: uuid.UUID) -> str:
    return f"/back-office/{merchant_id}/stores/{location_id}"


def _zone_errors(exc: ValidationError | ProblemError) -> Errors:
    if isinstance(exc, ValidationError):
        return field_errors(exc)
    if exc.status != 409:
        raise exc
    return {"code": exc.detail}


def _zone_page(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    zone_id: uuid.UUID,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.reading() as s:
        store = service.get_store(s, merchant_id, location_id)
        zone = ZoneOut.model_validate(service.store_zone(s, merchant_id, location_id, zone_id))
    return office_page(
        request,
        merchant_id,
        "stores",
        "office/store_zone.html",
        {
            "store": {"id": location_id, "name": store.location.name},
            "zone": zone,
            "values": values or {"code": zone.code, "name": zone.name, "kind": zone.kind.value},
            "errors": errors or {},
            "zone_kinds": [(k.value, k.value.title()) for k in ZoneKind],
        },
        status=status,
    )


@router.get("/stores/{location_id}/zones/{zone_id}")
def zone_form(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    zone_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    return _zone_page(request, merchant_id, location_id, zone_id)


@router.post("/stores/{location_id}/zones/{zone_id}")
def save_zone(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    zone_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    values = _zone_body(form)
    return submit(
        request,
        ZonePatch,
        values,
        lambda s, body: service.update_zone(s, merchant_id, location_id, zone_id, body),
        _zone_errors,
        again=lambda errors: _zone_page(
            request, merchant_id, location_id, zone_id, values, errors, 422
        ),
        to=_store_url(merchant_id, location_id),
        flash="Zone saved.",
    )


@router.post("/stores/{location_id}/zones/{zone_id}/delete")
def remove_zone(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    zone_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    """Remove a zone with its beacons, screens and proximity offers."""
    return act(
        request,
        lambda s: service.delete_zone(s, merchant_id, location_id, zone_id),
        _store_url(merchant_id, location_id),
        "Zone removed.",
    )


@router.post("/stores/{location_id}/staff")
def assign_staff(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(admin),
) -> Response:
    """Assign a member of the merchant to the store (admins only, as in the API)."""
    errors: dict[str, str] = {}
    try:
        user_id = uuid.UUID(text(form, "user_id"))
    except ValueError:
        errors["user_id"] = "Choose a member."
    body: StaffIn | None = None
    try:
        body = StaffIn.model_validate({"role": text(form, "role") or StaffRole.ASSOCIATE.value})
    except ValidationError as exc:
        errors.update(field_errors(exc))
    if not errors and body is not None:
        try:
            with request.app.state.db.transaction() as s:
                service.set_staff(s, merchant_id, location_id, user_id, body)
        except ProblemError as exc:
            if exc.status != 422:
                raise
            errors["user_id"] = exc.detail
        else:
            return redirect(_store_url(merchant_id, location_id), flash="Staff assigned.")
    return _store_page(request, merchant_id, location_id, staff_errors=errors, status=422)


@router.post("/stores/{location_id}/staff/{user_id}/remove")
def unassign_staff(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    user_id: uuid.UUID,
    _: Principal = Depends(admin),
) -> Response:
    return act(
        request,
        lambda s: service.remove_staff(s, merchant_id, location_id, user_id),
        _store_url(merchant_id, location_id),
        "Staff removed.",
    )
