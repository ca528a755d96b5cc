"""HTTP endpoints of the ordering context: carts, checkout, orders, payments, returns."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from plaza import idempotency as idem
from plaza.config import Settings
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import CATALOGUE, PROBLEM_MEDIA_TYPE, ProblemError
from plaza.identity.auth import CartHolder, Customer, MerchantAccess, Principal, Public
from plaza.o2o.collect import service as collect
from plaza.ordering import carts, flows, orders, returns, service
from plaza.ordering.models import Order, OrderStatus, Return, ReturnStatus
from plaza.ordering.payments import PAYMENT_DECLINED, PAYMENT_PENDING, PaymentProvider
from plaza.ordering.schemas import (
    CancelIn,
    CartIn,
    CartLineIn,
    CartLinePatch,
    CartOut,
    CheckoutIn,
    CheckoutOut,
    FulfilIn,
    OrderDetail,
    OrderOut,
    PaymentIn,
    RefundIn,
    ReturnDecisionIn,
    ReturnIn,
    ReturnOut,
    ReturnReceiveIn,
)
from plaza.pagination import Page, PageParams, newest_first

router = APIRouter(tags=["ordering"])
read_orders = MerchantAccess(scope="orders:read")
write_orders = MerchantAccess(scope="orders:write")
CartToken = Header(
    None, alias="X-Cart-Token", max_length=128, description="The secret of an anonymous cart."
)


def get_provider(request: Request) -> PaymentProvider:
    return service.provider_for(request.app.state.db, request.app.state.settings)


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _view(db: Database, cart_id: uuid.UUID, token: str | None = None) -> CartOut:
    """The cart as just committed. Built outside the write transaction on purpose: on the
    embedded database writers queue for one slot, so it is held only for the writing."""
    with db.reading() as s:
        cart = s.get(carts.Cart, cart_id)
        assert cart is not None
        return service.cart_view(s, cart, token)


def _access(principal: Principal, token: str | None) -> carts.CartAccess:
    return carts.CartAccess(principal=principal, token=token)


# ---------------------------------------------------------------- carts


@router.post("/carts", status_code=201, response_model=CartOut)
def create_cart(
    body: CartIn, db: Database = Depends(get_db), p: Principal = Depends(Public())
) -> CartOut:
    """Start a cart. Signed-in customers get their open cart; anonymous callers get a new
    cart and its secret `token` (shown once), to send as `X-Cart-Token`."""
    with db.transaction() as s:
        cart, token = carts.create_cart(s, body.currency, p.user_id if p.kind == "user" else None)
        cart_id = cart.id
    return _view(db, cart_id, token)


@router.get("/me/cart", response_model=CartOut)
def my_cart(db: Database = Depends(get_db), p: Principal = Depends(Customer())) -> CartOut:
    """The signed-in customer's open cart (created empty, in EUR, if there is none)."""
    assert p.user_id is not None
    with db.transaction() as s:
        cart = carts.active_cart_of(s, p.user_id) or carts.create_cart(s, "EUR", p.user_id)[0]
        return service.cart_view(s, cart)


@router.get("/carts/{cart_id}", response_model=CartOut)
def get_cart(
    cart_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
    x_cart_token: str | None = CartToken,
) -> CartOut:
    """A cart with current prices and availability."""
    with db.reading() as s:
        return service.cart_view(s, carts.get_cart(s, cart_id, _access(p, x_cart_token)))


@router.post("/carts/{cart_id}/lines", status_code=201, response_model=CartOut)
def add_line(
    cart_id: uuid.UUID,
    body: CartLineIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
    x_cart_token: str | None = CartToken,
) -> CartOut:
    """Add units of a variant (adds to an existing line). Stock is checked, not held:
    it is reserved at checkout. A customisable product takes a `configuration`, validated
    and priced server-side; each distinct configuration is a line of its own."""
    with db.transaction() as s:
        cart = carts.get_cart(s, cart_id, _access(p, x_cart_token), for_update=True)
        carts.require_open(cart)
        config = body.configuration.model_dump() if body.configuration is not None else None
        # Stock is counted over every line of the variant, this one's units included.
        checked = service.check_cart_line(s, cart, body.variant_id, config, body.quantity)
        carts.set_line(
            s,
            cart,
            body.variant_id,
            body.quantity,
            merchant_id=checked.merchant_id,
            add=True,
            configuration=checked.stored,
            digest=checked.digest,
        )
    return _view(db, cart_id)


@router.patch("/carts/{cart_id}/lines/{line_id}", response_model=CartOut)
def patch_line(
    cart_id: uuid.UUID,
    line_id: uuid.UUID,
    body: CartLinePatch,
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
    x_cart_token: str | None = CartToken,
) -> CartOut:
    """Set a line's quantity (0 removes it)."""
    with db.transaction() as s:
        cart = carts.get_cart(s, cart_id, _access(p, x_cart_token), for_update=True)
        line = next((ln for ln in cart.lines if ln.id == line_id), None)
        if line is None:
            raise ProblemError(
                CATALOGUE["not-found"], f"cart line {line_id} not found", resource="cart line"
            )
        merchant_id = line.merchant_id
        if body.quantity > 0:
            merchant_id = service.check_cart_line(
                s, cart, line.variant_id, line.configuration, body.quantity, line=line
            ).merchant_id
        carts.set_line(
            s,
            cart,
            line.variant_id,
            body.quantity,
            merchant_id=merchant_id,
            add=False,
            configuration=line.configuration,
            digest=line.configuration_digest,
        )
    return _view(db, cart_id)


@router.delete("/carts/{cart_id}/lines/{line_id}", response_model=CartOut)
def delete_line(
    cart_id: uuid.UUID,
    line_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
    x_cart_token: str | None = CartToken,
) -> CartOut:
    """Remove a line."""
    with db.transaction() as s:
        cart = carts.get_cart(s, cart_id, _access(p, x_cart_token), for_update=True)
        carts.remove_line(s, cart, line_id)
    return _view(db, cart_id)


# ---------------------------------------------------------------- checkout


def _checkout_response(
    db: Database,
    checkout_id: uuid.UUID,
    claim_id: uuid.UUID | None,
    outcome: flows.PaymentOutcome,
    path: str,
) -> JSONResponse:
    with db.reading() as s:
        checkout = s.get(flows.Checkout, checkout_id)
        assert checkout is not None
        view = service.checkout_view(s, checkout).model_dump(mode="json")
    if outcome.timed_out:
        err = ProblemError(
            PAYMENT_PENDING, headers={"Retry-After": "2"}, checkout_id=str(checkout_id)
        )
        status, body = err.status, err.to_dict(path)
        response = JSONResponse(
            body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=err.headers
        )
    elif outcome.declined or outcome.cancelled:
        if outcome.declined:
            code = outcome.declined[0][1]
            err = ProblemError(
                PAYMENT_DECLINED,
                f"the payment was declined ({code})",
                decline_code=code,
                checkout_id=str(checkout_id),
                checkout=view,
            )
        else:
            err = ProblemError(
                flows.ORDERS_CANCELLED,
                f"{len(outcome.cancelled)} order(s) cancelled before payment",
                cancelled_order_ids=[str(o) for o in outcome.cancelled],
                checkout_id=str(checkout_id),
                checkout=view,
            )
        status, body = err.status, err.to_dict(path)
        response = JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)
    else:
        status, body = 201, view
        response = JSONResponse(view, status_code=201)
    if claim_id is not None:
        with db.transaction() as s:
            claim = idem.Claim(record=s.get(idem.IdempotencyRecord, claim_id))
            if outcome.timed_out:
                if claim.record is not None:
                    claim.record.locked_until = None  # let the retry resume at once
            else:
                idem.complete(claim, status, body)
    return response


def _replay(claim: idem.Claim) -> JSONResponse | None:
    if claim.replay is None:
        return None
    status, body = claim.replay
    media = PROBLEM_MEDIA_TYPE if status >= 400 else "application/json"
    return JSONResponse(
        body, status_code=status, media_type=media, headers={idem.REPLAY_HEADER: "true"}
    )


@router.post(
    "/carts/{cart_id}/checkout",
    status_code=201,
    response_model=CheckoutOut,
    responses={
        402: {"description": "Payment declined (problem+json)"},
        409: {"description": "Out of stock, cart closed, key in use, orders cancelled"},
        503: {"description": "Payment outcome unknown: retry with the same key"},
    },
)
def checkout(
    cart_id: uuid.UUID,
    body: CheckoutIn,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
    x_cart_token: str | None = CartToken,
    key: str | None = Depends(idem.idempotency_key),
    provider: PaymentProvider = Depends(get_provider),
    settings: Settings = Depends(get_settings_dep),
) -> JSONResponse:
    """Check out a cart: one order per merchant, stock reserved, then paid.

    Delivered orders ship from the location(s) chosen by the routing rule (see
    docs/o2o.md); `fulfilment` `collect` holds the stock at the chosen store
    instead (422 `collect-store-unavailable` when it does not offer click & collect).

    Send an `Idempotency-Key`: a retry replays the outcome, and a retry after a timeout
    (503) resumes the payment without charging twice."""
    scope = p.actor if p.kind == "user" else f"cart:{cart_id}"
    fp = idem.fingerprint("POST", request.url.path, body)
    with db.transaction() as s:
        claim = idem.claim(s, scope, key, fp)
        if (replayed := _replay(claim)) is not None:
            return replayed
        checkout_id = claim.recovery.get("checkout_id")
        fresh = checkout_id is None
        if checkout_id is None:
            cart = carts.get_cart(s, cart_id, _access(p, x_cart_token), for_update=True)
            email = body.email or p.email
            if email is None:
                raise ProblemError(
                    CATALOGUE["validation-error"],
                    "email is required for guests",
                    errors=[{"loc": ["body", "email"], "msg": "required", "type": "missing"}],
                )
            address = body.shipping_address
            created = flows.place_orders(
                s,
                cart,
                email=str(email),
                customer_id=cart.customer_id,
                shipping_address=address.stored() if address is not None else None,
                payment_token=body.payment.token,
                provider=provider.name,
                reservation_ttl=settings.reservation_ttl_seconds,
                actor=p.actor,
                fulfilment=collect.collect_plans(s, body.fulfilment_choices()),
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
    return _checkout_response(db, uuid.UUID(checkout_id), claim_id, outcome, request.url.path)


@router.get("/checkouts/{checkout_id}", response_model=CheckoutOut)
def get_checkout(
    checkout_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
    x_cart_token: str | None = CartToken,
) -> CheckoutOut:
    """A checkout and its orders (for the holder of the cart it came from)."""
    with db.reading() as s:
        return service.checkout_view(
            s, service.get_checkout(s, checkout_id, _access(p, x_cart_token))
        )


@router.post("/checkouts/{checkout_id}/payments", status_code=201, response_model=CheckoutOut)
def retry_payment(
    checkout_id: uuid.UUID,
    body: PaymentIn,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
    x_cart_token: str | None = CartToken,
    key: str | None = Depends(idem.idempotency_key),
    provider: PaymentProvider = Depends(get_provider),
    settings: Settings = Depends(get_settings_dep),
) -> JSONResponse:
    """Pay the orders of a checkout that are still awaiting payment, with a new method."""
    scope = p.actor if p.kind == "user" else f"checkout:{checkout_id}"
    fp = idem.fingerprint("POST", request.url.path, body)
    with db.transaction() as s:
        claim = idem.claim(s, scope, key, fp)
        if (replayed := _replay(claim)) is not None:
            return replayed
        checkout_ = service.get_checkout(s, checkout_id, _access(p, x_cart_token))
        if not claim.recovery.get("attempt_created"):
            flows.add_payment_attempt(s, checkout_, body.token, provider.name)
            idem.save_recovery(claim, attempt_created=True)
        claim_id = claim.record.id if claim.record is not None else None
    outcome = flows.pay_pending(
        db, provider, checkout_id, actor=p.actor, reservation_ttl=settings.reservation_ttl_seconds
    )
    return _checkout_response(db, checkout_id, claim_id, outcome, request.url.path)


# ---------------------------------------------------------------- customer orders


def _page_orders(s: Any, q: Any, page: PageParams, listing: str) -> Page[OrderOut]:
    return newest_first(s, q, Order.id, page, listing, service.order_out)


@router.get("/me/orders", response_model=Page[OrderOut])
def my_orders(
    page: PageParams = Depends(), db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> Page[OrderOut]:
    """The signed-in customer's orders, newest first."""
    with db.reading() as s:
        return _page_orders(
            s, select(Order).where(Order.customer_id == p.user_id), page, f"me-orders:{p.user_id}"
        )


@router.get("/me/orders/{order_id}", response_model=OrderDetail)
def my_order(
    order_id: uuid.UUID, db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> OrderDetail:
    """One of the customer's orders with its history and payments."""
    assert p.user_id is not None
    with db.reading() as s:
        return service.order_detail(s, orders.get_customer_order(s, p.user_id, order_id))


@router.post("/me/orders/{order_id}/cancel", response_model=OrderDetail)
def cancel_my_order(
    order_id: uuid.UUID,
    body: CancelIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
    provider: PaymentProvider = Depends(get_provider),
) -> OrderDetail:
    """Cancel an order that has not been fulfilled yet; a paid order is refunded in full."""
    assert p.user_id is not None
    with db.transaction() as s:
        order = orders.get_customer_order(s, p.user_id, order_id, for_update=True)
        flows.cancel_order(s, order, p.actor, body.reason or "cancelled by customer")
    flows.settle_refunds(db, provider)
    with db.reading() as s:
        return service.order_detail(s, orders.get_customer_order(s, p.user_id, order_id))


@router.post("/me/orders/{order_id}/returns", status_code=201, response_model=ReturnOut)
def request_return(
    order_id: uuid.UUID,
    body: ReturnIn,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
    key: str | None = Depends(idem.idempotency_key),
) -> JSONResponse:
    """Ask to return items of a fulfilled order."""
    assert p.user_id is not None
    user_id = p.user_id

    def act(s: Any) -> ReturnOut:
        order = orders.get_customer_order(s, user_id, order_id, for_update=True)
        ret = returns.request_return(
            s, order, [(ln.order_line_id, ln.quantity) for ln in body.lines], body.reason, user_id
        )
        return ReturnOut.model_validate(ret)

    return idem.idempotent_write(
        db, scope=p.actor, key=key, fp=idem.fingerprint("POST", request.url.path, body), action=act
    )


@router.get("/me/returns", response_model=list[ReturnOut])
def my_returns(
    order_id: uuid.UUID = Query(...),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> list[ReturnOut]:
    """The returns of one of the customer's orders."""
    assert p.user_id is not None
    with db.reading() as s:
        order = orders.get_customer_order(s, p.user_id, order_id)
        rows = s.scalars(select(Return).where(Return.order_id == order.id).order_by(Return.id))
        return [ReturnOut.model_validate(r) for r in rows]


# ---------------------------------------------------------------- merchant back-office


@router.get("/merchants/{merchant_id}/orders", response_model=Page[OrderOut])
def merchant_orders(
    merchant_id: uuid.UUID,
    status: OrderStatus | None = None,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(read_orders),
) -> Page[OrderOut]:
    """The merchant's orders, newest first, optionally by status."""
    q = orders.merchant_orders_query(merchant_id)
    if status is not None:
        q = q.where(Order.status == status)
    with db.reading() as s:
        return _page_orders(s, q, page, f"orders:{merchant_id}:{status}")


@router.get("/merchants/{merchant_id}/orders/{order_id}", response_model=OrderDetail)
def merchant_order(
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(read_orders),
) -> OrderDetail:
    """One order with history and payments."""
    with db.reading() as s:
        return service.order_detail(s, orders.get_merchant_order(s, merchant_id, order_id))


@router.post("/merchants/{merchant_id}/orders/{order_id}/fulfil", response_model=OrderDetail)
def fulfil(
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    body: FulfilIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(write_orders),
) -> OrderDetail:
    """Mark a paid order shipped or handed over (idempotent)."""
    with db.transaction() as s:
        order = orders.get_merchant_order(s, merchant_id, order_id, for_update=True)
        flows.fulfil_order(s, order, p.actor, {k: v for k, v in body.model_dump().items() if v})
        return service.order_detail(s, order)


@router.post("/merchants/{merchant_id}/orders/{order_id}/cancel", response_model=OrderDetail)
def merchant_cancel(
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    body: CancelIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(write_orders),
    provider: PaymentProvider = Depends(get_provider),
) -> OrderDetail:
    """Cancel a placed or paid order: stock goes back, payments are refunded (idempotent)."""
    with db.transaction() as s:
        order = orders.get_merchant_order(s, merchant_id, order_id, for_update=True)
        flows.cancel_order(s, order, p.actor, body.reason or "cancelled by merchant")
    flows.settle_refunds(db, provider)
    with db.reading() as s:
        return service.order_detail(s, orders.get_merchant_order(s, merchant_id, order_id))


@router.post("/merchants/{merchant_id}/orders/{order_id}/refunds", response_model=OrderDetail)
def refund(
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    body: RefundIn,
    request: Request,
    db: Database = Depends(get_db),
    p: Principal = Depends(write_orders),
    key: str | None = Depends(idem.idempotency_key),
    provider: PaymentProvider = Depends(get_provider),
) -> JSONResponse:
    """Refund part of a paid order (goodwill, price adjustment). Take an Idempotency-Key."""

    def act(s: Any) -> OrderDetail:
        order = orders.get_merchant_order(s, merchant_id, order_id, for_update=True)
        if order.status not in (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.RETURNED):
            raise ProblemError(CATALOGUE["payment-invalid"], f"the order is {order.status}")
        flows.queue_order_refund(s, order, body.amount, body.reason)
        return service.order_detail(s, order)

    response = idem.idempotent_write(
        db,
        scope=p.actor,
        key=key,
        status_code=200,
        fp=idem.fingerprint("POST", request.url.path, body),
        action=act,
    )
    if response.headers.get(idem.REPLAY_HEADER):
        return response
    flows.settle_refunds(db, provider)
    with db.reading() as s:
        view = service.order_detail(s, orders.get_merchant_order(s, merchant_id, order_id))
    return JSONResponse(view.model_dump(mode="json"), status_code=200)


@router.get("/merchants/{merchant_id}/returns", response_model=Page[ReturnOut])
def merchant_returns(
    merchant_id: uuid.UUID,
    status: ReturnStatus | None = None,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(read_orders),
) -> Page[ReturnOut]:
    """Return requests, newest first."""
    listing = f"returns:{merchant_id}:{status}"
    q = select(Return).where(Return.merchant_id == merchant_id)
    if status is not None:
        q = q.where(Return.status == status)
    with db.reading() as s:
        return newest_first(s, q, Return.id, page, listing, ReturnOut.model_validate)


def _decide(
    db: Database, merchant_id: uuid.UUID, return_id: uuid.UUID, approve: bool, note: str
) -> ReturnOut:
    with db.transaction() as s:
        ret = returns.get_merchant_return(s, merchant_id, return_id)
        return ReturnOut.model_validate(returns.decide(s, ret, approve, note))


@router.post("/merchants/{merchant_id}/returns/{return_id}/approve", response_model=ReturnOut)
def approve_return(
    merchant_id: uuid.UUID,
    return_id: uuid.UUID,
    body: ReturnDecisionIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(write_orders),
) -> ReturnOut:
    """Accept a return request (idempotent)."""
    return _decide(db, merchant_id, return_id, True, body.note)


@router.post("/merchants/{merchant_id}/returns/{return_id}/reject", response_model=ReturnOut)
def reject_return(
    merchant_id: uuid.UUID,
    return_id: uuid.UUID,
    body: ReturnDecisionIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(write_orders),
) -> ReturnOut:
    """Refuse a return request (idempotent)."""
    return _decide(db, merchant_id, return_id, False, body.note)


@router.post("/merchants/{merchant_id}/returns/{return_id}/receive", response_model=ReturnOut)
def receive_return(
    merchant_id: uuid.UUID,
    return_id: uuid.UUID,
    body: ReturnReceiveIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(write_orders),
    provider: PaymentProvider = Depends(get_provider),
) -> ReturnOut:
    """The goods are back: restock them at `location_id` and refund (idempotent)."""
    with db.transaction() as s:
        ret = returns.get_merchant_return(s, merchant_id, return_id)
        returns.receive(s, ret, body.location_id, p.actor)
    flows.settle_refunds(db, provider)
    with db.reading() as s:
        ret = returns.get_merchant_return(s, merchant_id, return_id)
        return ReturnOut.model_validate(ret)


# The checkout answer and Idempotency-Key replay, shared with other checkouts of the same
# flow (the endless aisle of plaza.o2o.collect).
checkout_response = _checkout_response
replay = _replay

__all__ = ["Response", "checkout_response", "replay", "router"]
