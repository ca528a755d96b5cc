"""Back-office beacons: register iBeacon / Eddystone-UID beacons in store zones, move,
relabel, switch on and off; and proximity offers (zone, persona audience, window, daily
hours, cap per customer)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from plaza.errors import ProblemError
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.o2o.beacons import offers, service
from plaza.o2o.beacons.models import BeaconKind, OfferAudience
from plaza.o2o.beacons.schemas import BeaconIn, BeaconOut, BeaconPatch, OfferIn, OfferOut
from plaza.pagination import PageParams
from plaza.personas.models import PersonaStatus
from plaza.personas.segments import service as personas
from plaza.web.backoffice.common import office_page
from plaza.web.backoffice.crud import Errors, act, submit
from plaza.web.backoffice.stores import zone_choices
from plaza.web.forms import field_errors, form_data, problem_errors, text
from plaza.web.render import redirect

router = APIRouter(prefix="/back-office/{merchant_id}")
staff = MerchantAccess(MerchantRole.STAFF)
MAX_ROWS = 200
KINDS = [(BeaconKind.IBEACON.value, "iBeacon"), (BeaconKind.EDDYSTONE_UID.value, "Eddystone-UID")]


def _base(merchant_id: uuid.UUID) -> str:
    return f"/back-office/{merchant_id}/beacons"


def _beacon_field(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "_form"
    if loc[0] == "beacon":
        # ("beacon", "ibeacon", "major") for a tagged union member
        rest = [p for p in loc[1:] if p not in ("ibeacon", "eddystone_uid")]
        return str(rest[0]) if rest else "kind"
    return str(loc[0])


def persona_choices(request: Request, merchant_id: uuid.UUID) -> list[tuple[str, str]]:
    with request.app.state.db.reading() as s:
        listing = personas.list_personas(
            s, merchant_id, PageParams(limit=100, cursor=None), PersonaStatus.ACTIVE
        )
    return [(str(p.id), p.name) for p in listing.items]


# --- beacons -----------------------------------------------------------------------------------


def _beacons_page(
    request: Request,
    merchant_id: uuid.UUID,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.reading() as s:
        beacons = [
            service.beacon_view(b) for b in service.list_beacons(s, merchant_id, limit=MAX_ROWS)
        ]
        zones = zone_choices(s, merchant_id)
        offer_rows = [
            offers.offer_view(s, o) for o in offers.list_offers(s, merchant_id, limit=MAX_ROWS)
        ]
    return office_page(
        request,
        merchant_id,
        "beacons",
        "office/beacons.html",
        {
            "beacons": beacons,
            "offers": offer_rows,
            "zones": zones,
            "zone_names": dict(zones),
            "kinds": KINDS,
            "values": values or {"kind": BeaconKind.IBEACON.value, "is_active": True},
            "errors": errors or {},
            "base": _base(merchant_id),
        },
        status=status,
    )


@router.get("/beacons")
def list_beacons(
    request: Request, merchant_id: uuid.UUID, _: Principal = Depends(staff)
) -> Response:
    """The merchant's beacons and proximity offers, with the register form."""
    return _beacons_page(request, merchant_id)


def beacon_body(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    names = ("kind", "uuid", "major", "minor", "namespace", "instance", "zone_id", "label")
    values: dict[str, Any] = {n: text(form, n) for n in names}
    values["is_active"] = bool(form.get("is_active"))
    kind = values["kind"]
    if kind == BeaconKind.EDDYSTONE_UID.value:
        beacon = {"kind": kind, "namespace": values["namespace"], "instance": values["instance"]}
    else:
        beacon = {
            "kind": kind,
            "uuid": values["uuid"],
            "major": values["major"],
            "minor": values["minor"],
        }
    body = {
        "beacon": beacon,
        "zone_id": values["zone_id"],
        "label": values["label"],
        "is_active": values["is_active"],
    }
    return values, body


@router.post("/beacons")
def register_beacon(
    request: Request,
    merchant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    """Register a beacon (POST of the API)."""
    values, body = beacon_body(form)
    return submit(
        request,
        BeaconIn,
        body,
        lambda s, data: service.create_beacon(s, merchant_id, data),
        _register_errors,
        again=lambda errors: _beacons_page(request, merchant_id, values, errors, 422),
        to=_base(merchant_id),
        flash="Beacon registered.",
    )


def _register_errors(exc: ValidationError | ProblemError) -> Errors:
    if isinstance(exc, ValidationError):
        return field_errors(exc, _beacon_field)
    if exc.status not in (404, 409, 422):
        raise exc
    return problem_errors(exc, "zone_id" if exc.status == 404 else "_form")


def _beacon_page(
    request: Request,
    merchant_id: uuid.UUID,
    beacon: BeaconOut,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.reading() as s:
        zones = zone_choices(s, merchant_id)
    return office_page(
        request,
        merchant_id,
        "beacons",
        "office/beacon.html",
        {
            "beacon": beacon,
            "zones": zones,
            "values": values
            or {
                "zone_id": str(beacon.zone_id),
                "label": beacon.label,
                "is_active": beacon.is_active,
            },
            "errors": errors or {},
            "base": _base(merchant_id),
        },
        status=status,
    )


def _get_beacon(request: Request, merchant_id: uuid.UUID, beacon_id: uuid.UUID) -> BeaconOut:
    with request.app.state.db.reading() as s:
        return service.beacon_view(service.get_beacon(s, merchant_id, beacon_id))


@router.get("/beacons/{beacon_id:uuid}")
def beacon_form(
    request: Request,
    merchant_id: uuid.UUID,
    beacon_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    return _beacon_page(request, merchant_id, _get_beacon(request, merchant_id, beacon_id))


@router.post("/beacons/{beacon_id:uuid}")
def save_beacon(
    request: Request,
    merchant_id: uuid.UUID,
    beacon_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    """Move, relabel, enable or disable (PATCH of the API)."""
    values = {
        "zone_id": text(form, "zone_id"),
        "label": text(form, "label"),
        "is_active": bool(form.get("is_active")),
    }
    return submit(
        request,
        BeaconPatch,
        values,
        lambda s, data: service.update_beacon(s, merchant_id, beacon_id, data),
        _save_errors,
        again=lambda errors: _beacon_page(
            request, merchant_id, _get_beacon(request, merchant_id, beacon_id), values, errors, 422
        ),
        to=_base(merchant_id),
        flash="Beacon saved.",
    )


def _save_errors(exc: ValidationError | ProblemError) -> Errors:
    if isinstance(exc, ValidationError):
        return field_errors(exc)
    if exc.status != 404 or exc.extensions.get("resource") != "zone":
        raise exc
    return {"zone_id": exc.detail}


@router.post("/beacons/{beacon_id:uuid}/toggle")
def toggle_beacon(
    request: Request,
    merchant_id: uuid.UUID,
    beacon_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    """Switch a beacon on or off."""
    with request.app.state.db.transaction() as s:
        b = service.get_beacon(s, merchant_id, beacon_id)
        service.update_beacon(s, merchant_id, beacon_id, BeaconPatch(is_active=not b.is_active))
        state = "enabled" if b.is_active else "disabled"
    return redirect(_base(merchant_id), flash=f"Beacon {state}.")


@router.post("/beacons/{beacon_id:uuid}/delete")
def delete_beacon(
    request: Request,
    merchant_id: uuid.UUID,
    beacon_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    return act(
        request,
        lambda s: service.delete_beacon(s, merchant_id, beacon_id),
        _base(merchant_id),
        "Beacon removed.",
    )


# --- proximity offers ---------------------------------------------------------------------------


def _local_input(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M") if value else ""


def _aware(raw: str) -> str:
    """``datetime-local`` values are read as UTC (the form says so)."""
    if raw and "T" in raw and not raw.endswith("Z") and "+" not in raw[10:]:
        return raw + ("Z" if len(raw) > 16 else ":00Z")
    return raw


def offer_values(o: OfferOut) -> dict[str, Any]:
    return {
        "zone_id": str(o.zone_id),
        "title": o.title,
        "message": o.message,
        "audience": o.audience.value,
        "persona_ids": [str(p) for p in o.persona_ids],
        "starts_at": _local_input(o.starts_at),
        "ends_at": _local_input(o.ends_at),
        "daily_from": o.daily_from or "",
        "daily_to": o.daily_to or "",
        "cap_per_customer": str(o.cap_per_customer),
        "is_active": o.is_active,
    }


def offer_body(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    names = ("zone_id", "title", "message", "audience", "starts_at", "ends_at", "daily_from",
             "daily_to", "cap_per_customer")  # fmt: skip
    values: dict[str, Any] = {n: text(form, n) for n in names}
    values["persona_ids"] = [str(p) for p in form.getlist("persona_ids") if str(p).strip()]
    values["is_active"] = bool(form.get("is_active"))
    audience = values["audience"] or OfferAudience.ANY.value
    body: dict[str, Any] = {
        "zone_id": values["zone_id"],
        "title": values["title"],
        "message": values["message"],
        "audience": audience,
        "persona_ids": values["persona_ids"] if audience == OfferAudience.PERSONAS else [],
        "starts_at": _aware(values["starts_at"]),
        "ends_at": _aware(values["ends_at"]),
        "daily_from": values["daily_from"] or None,
        "daily_to": values["daily_to"] or None,
        "cap_per_customer": values["cap_per_customer"] or 1,
        "is_active": values["is_active"],
    }
    return values, body


def _offer_page(
    request: Request,
    merchant_id: uuid.UUID,
    offer: OfferOut | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.reading() as s:
        zones = zone_choices(s, merchant_id)
    return office_page(
        request,
        merchant_id,
        "beacons",
        "office/beacon_offer.html",
        {
            "offer": offer,
            "zones": zones,
            "personas": persona_choices(request, merchant_id),
            "audiences": [("any", "Everyone"), ("personas", "Members of personas")],
            "values": values,
            "errors": errors or {},
            "base": _base(merchant_id),
        },
        status=status,
    )


def _offer_errors(exc: ValidationError | ProblemError) -> Errors:
    if isinstance(exc, ValidationError):
        return field_errors(exc)
    if exc.status == 404 and exc.extensions.get("resource") == "zone":
        return {"zone_id": exc.detail}
    if exc.status not in (404, 409, 422):
        raise exc
    return problem_errors(exc)


@router.get("/beacons/offers/new")
def new_offer(request: Request, merchant_id: uuid.UUID, _: Principal = Depends(staff)) -> Response:
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    values = {
        "audience": "any",
        "persona_ids": [],
        "starts_at": _local_input(now),
        "ends_at": _local_input(now + dt.timedelta(days=7)),
        "cap_per_customer": "1",
        "is_active": True,
    }
    return _offer_page(request, merchant_id, None, values)


@router.post("/beacons/offers")
def create_offer(
    request: Request,
    merchant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    values, body = offer_body(form)
    return submit(
        request,
        OfferIn,
        body,
        lambda s, data: offers.create_offer(s, merchant_id, data),
        _offer_errors,
        again=lambda errors: _offer_page(request, merchant_id, None, values, errors, 422),
        to=_base(merchant_id),
        flash="Offer created.",
    )


def _get_offer(request: Request, merchant_id: uuid.UUID, offer_id: uuid.UUID) -> OfferOut:
    with request.app.state.db.reading() as s:
        return offers.offer_view(s, offers.get_offer(s, merchant_id, offer_id))


@router.get("/beacons/offers/{offer_id:uuid}")
def offer_form(
    request: Request,
    merchant_id: uuid.UUID,
    offer_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    offer = _get_offer(request, merchant_id, offer_id)
    return _offer_page(request, merchant_id, offer, offer_values(offer))


@router.post("/beacons/offers/{offer_id:uuid}")
def save_offer(
    request: Request,
    merchant_id: uuid.UUID,
    offer_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    """Replace the offer (PUT of the API)."""
    values, body = offer_body(form)
    return submit(
        request,
        OfferIn,
        body,
        lambda s, data: offers.replace_offer(s, merchant_id, offer_id, data),
        _offer_errors,
        again=lambda errors: _offer_page(
            request, merchant_id, _get_offer(request, merchant_id, offer_id), values, errors, 422
        ),
        to=_base(merchant_id),
        flash="Offer saved.",
    )


@router.post("/beacons/offers/{offer_id:uuid}/delete")
def delete_offer(
    request: Request,
    merchant_id: uuid.UUID,
    offer_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    return act(
        request,
        lambda s: offers.delete_offer(s, merchant_id, offer_id),
        _base(merchant_id),
        "Offer removed.",
    )
