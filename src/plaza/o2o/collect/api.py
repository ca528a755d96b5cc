"""HTTP endpoints of click & collect and the endless aisle.

Staff (merchant members, or API keys with ``orders:*`` for a till system) prepare orders,
verify codes and hand over under ``/merchants/{merchant_id}/…``; the customer reads the
code and its QR image under ``/me/orders/{order_id}/…``. Code checks are rate limited per
store and client (the ``public-write`` budget), on top of the code space (23^6).
"""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from plaza import idempotency as idem
from plaza.config import Settings
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.identity.auth import Customer, MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.o2o.collect import service
from plaza.o2o.collect.models import PickupState
from plaza.o2o.collect.schemas import CodeIn, CustomerPickupOut, EndlessAisleIn, PickupOut
from plaza.o2o.stores import service as stores
from plaza.ordering import api as ordering_api
from plaza.ordering import flows
from plaza.ordering.payments import PaymentProvider
from plaza.ordering.schemas import CheckoutOut
from plaza.pagination import Page, PageParams, cursor_id, encode_cursor
from plaza.security.ratelimit import client_ip, enforce

router = APIRouter(tags=["o2o: click & collect"])
counter_read = MerchantAccess(MerchantRole.STAFF, "orders:read")
counter_write = MerchantAccess(MerchantRole.STAFF, "orders:write")
shopper = Customer()
STORE = "/merchants/{merchant_id}/stores/{location_id}"
PickupListState = Literal["awaiting_preparation", "ready", "collected", "expired", "cancelled"]


def _secret(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.resolved_secret_key()


async def limit_code_checks(request: Request, location_id: uuid.UUID) -> None:
    """Guessing codes at a counter: count each check per store and client."""
    await enforce(
        request, [("public-write", ("pickup-code", str(location_id), client_ip(request)))]
    )


# --- staff --------------------------------------------------------------------------------


@router.post("/merchants/{merchant_id}/orders/{order_id}/ready", response_model=PickupOut)
def mark_ready(
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(counter_write),
) -> PickupOut:
    """The order is on the pickup shelf: a pickup code is issued for the customer (their
    app reads it; it is never shown here) and `o2o.pickup_ready` is emitted. It must be
    collected within `PLAZA_PICKUP_HOLD_HOURS` or it expires. Idempotent."""
    settings: Settings = request.app.state.settings
    with db.transaction() as s:
        pickup = service.mark_ready(
            s,
            merchant_id,
            order_id,
            actor=p.actor,
            secret=settings.resolved_secret_key(),
            hold_hours=settings.pickup_hold_hours,
        )
        return service.staff_view(s, merchant_id, pickup)


@router.get(f"{STORE}/pickups", response_model=Page[PickupOut])
def list_pickups(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    state: PickupListState = Query(
        "awaiting_preparation", description="`awaiting_preparation` is the preparation queue."
    ),
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(counter_read),
) -> Page[PickupOut]:
    """The store's click & collect orders in one state, oldest first."""
    listing = f"pickups:{location_id}:{state}"
    after = cursor_id(listing, page)
    with db.reading() as s:
        rows = service.list_pickups(
            s, merchant_id, location_id, state, limit=page.limit + 1, after=after
        )
    nxt = (
        encode_cursor(listing, [str(rows[page.limit - 1].order_id)])
        if len(rows) > page.limit
        else None
    )
    return Page(items=rows[: page.limit], next_cursor=nxt)


@router.post(
    f"{STORE}/pickups/verify",
    response_model=PickupOut,
    dependencies=[Depends(limit_code_checks)],
)
def verify_code(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    body: CodeIn,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(counter_write),
) -> PickupOut:
    """Check a code the customer shows (typed, or the scanned QR payload): the order to
    hand over, changing nothing. 422 `pickup-code-invalid` for a wrong code; 409
    `pickup-already-collected`, `pickup-expired` or `pickup-cancelled` for a closed one;
    403 `not-store-staff` for staff of another store of the merchant."""
    with db.transaction() as s:
        stores.require_store_staff(s, merchant_id, location_id, p)
        pickup = service.find_by_code(
            s, merchant_id, location_id, body.code, secret=_secret(request)
        )
        return service.staff_view(s, merchant_id, pickup)


@router.post(
    f"{STORE}/pickups/{{order_id}}/collect",
    response_model=PickupOut,
    dependencies=[Depends(limit_code_checks)],
)
def collect(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    order_id: uuid.UUID,
    body: CodeIn,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(counter_write),
    provider: PaymentProvider = Depends(ordering_api.get_provider),
) -> PickupOut:
    """Hand the order over: with the order's code, it becomes `collected` (the order
    `fulfilled`) and its held stock is sold at the store. Same problems as verify; a
    second collect is 409 `pickup-already-collected`."""
    with db.transaction() as s:
        stores.require_store_staff(s, merchant_id, location_id, p)
        pickup = service.collect(
            s, merchant_id, location_id, order_id, body.code, actor=p.actor, secret=_secret(request)
        )
        view = service.staff_view(s, merchant_id, pickup)
    if pickup.state == PickupState.EXPIRED:
        # Found past its time before the job: it is expired now (committed), then refused.
        flows.settle_refunds(db, provider)
        raise ProblemError(service.PICKUP_EXPIRED, order_id=str(order_id))
    return view


# --- the customer -------------------------------------------------------------------------


@router.get("/me/orders/{order_id}/pickup", response_model=CustomerPickupOut)
def my_pickup(
    order_id: uuid.UUID,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> CustomerPickupOut:
    """Where and with what to collect a click & collect order: the store, the state and,
    once ready, the pickup code and what its QR code encodes."""
    assert p.user_id is not None
    with db.reading() as s:
        view, _ = service.customer_pickup(s, p.user_id, order_id, secret=_secret(request))
    return view


def _qr(db: Database, request: Request, user_id: uuid.UUID, order_id: uuid.UUID) -> str:
    with db.reading() as s:
        view, payload = service.customer_pickup(s, user_id, order_id, secret=_secret(request))
    if payload is None:
        if view.state == PickupState.READY.value:  # pragma: no cover - ready has a payload
            raise RuntimeError("ready pickup without payload")
        raise ProblemError(service.PICKUP_NOT_READY, state=view.state)
    return payload


QR_HEADERS = {"Cache-Control": "no-store"}  # a live credential: never cache it


@router.get(
    "/me/orders/{order_id}/pickup-code.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The QR code"}},
)
def my_pickup_svg(
    order_id: uuid.UUID,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    """The pickup QR code as SVG (409 `pickup-not-ready` before the store has it ready)."""
    assert p.user_id is not None
    payload = _qr(db, request, p.user_id, order_id)
    return Response(
        service.qr_image(payload, "svg"), media_type="image/svg+xml", headers=QR_HEADERS
    )


@router.get(
    "/me/orders/{order_id}/pickup-code.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The QR code"}},
)
def my_pickup_png(
    order_id: uuid.UUID,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    """The pickup QR code as PNG (409 `pickup-not-ready` before the store has it ready)."""
    assert p.user_id is not None
    payload = _qr(db, request, p.user_id, order_id)
    return Response(service.qr_image(payload, "png"), media_type="image/png", headers=QR_HEADERS)


# --- endless aisle ------------------------------------------------------------------------


@router.post(
    f"{STORE}/endless-aisle/checkouts",
    status_code=201,
    response_model=CheckoutOut,
    responses={
        402: {"description": "Payment declined (problem+json)"},
        409: {"description": "Out of stock everywhere, key in use, orders cancelled"},
        503: {"description": "Payment outcome unknown: retry with the same key"},
    },
)
def endless_aisle_checkout(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    body: EndlessAisleIn,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(counter_write),
    key: str | None = Depends(idem.idempotency_key),
    provider: PaymentProvider = Depends(ordering_api.get_provider),
    settings: Settings = Depends(ordering_api.get_settings_dep),
) -> JSONResponse:
    """Sell, on the shop floor, items this store lacks: the same checkout as online (one
    order, stock routed from the merchant's other locations by the routing rule, paid
    with `payment.token`), delivered to `shipping_address` or sent here for the customer to
    collect later (`collect_in_store`). The order has `channel` `endless_aisle` and
    `placed_in_store`. Send an `Idempotency-Key`."""
    fp = idem.fingerprint("POST", request.url.path, body)
    with db.transaction() as s:
        claim = idem.claim(s, p.actor, key, fp)
        if (replayed := ordering_api.replay(claim)) is not None:
            return replayed
        checkout_id = claim.recovery.get("checkout_id")
        fresh = checkout_id is None
        if checkout_id is None:
            store = stores.get_store(s, merchant_id, location_id)
            cart, plan = service.aisle_cart(s, merchant_id, store, body)
            address = body.shipping_address
            created = flows.place_orders(
                s,
                cart,
                email=str(body.email),
                customer_id=body.customer_id,
                shipping_address=address.stored() if address is not None else None,
                payment_token=body.payment.token,
                provider=provider.name,
                reservation_ttl=settings.reservation_ttl_seconds,
                actor=p.actor,
                fulfilment={merchant_id: plan},
                channel="endless_aisle",
                placed_in_store=location_id,
            )
            checkout_id = str(created.id)
            idem.save_recovery(claim, checkout_id=checkout_id)
        claim_id = claim.record.id if claim.record is not None else None
    outcome = flows.pay_pending(
        db,
        provider,
        uuid.UUID(checkout_id),
        actor=p.actor,
        reservation_ttl=settings.reservation_ttl_seconds,
        fresh=fresh,
    )
    return ordering_api.checkout_response(
        db, uuid.UUID(checkout_id), claim_id, outcome, request.url.path
    )
