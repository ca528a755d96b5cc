"""Checkout pages: delivery or click & collect, payment with the payment provider, one
order per merchant; the confirmation page and paying again after a decline.

The same flow as ``POST /carts/{id}/checkout`` (guests give an email, signed-in customers
use their account's): the input is validated by ``CheckoutIn``, orders are placed with
``flows.place_orders`` and paid with ``flows.pay_pending``, and the page carries an
``Idempotency-Key`` (a hidden field made when the form renders), so a double submit or a
retry places the orders once and replays the outcome."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from plaza import idempotency as idem
from plaza.config import Settings
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import IDEMPOTENCY_IN_PROGRESS, IDEMPOTENCY_KEY_REUSED, ProblemError
from plaza.identity import service as identity
from plaza.identity.auth import CartHolder, Principal
from plaza.inventory import service as inventory
from plaza.inventory.models import LocationKind
from plaza.o2o.collect import service as collect
from plaza.ordering import api as ordering_api
from plaza.ordering import carts, flows, service
from plaza.ordering.carts import CART_CLOSED
from plaza.ordering.models import CheckoutStatus, OrderStatus
from plaza.ordering.payments import PaymentProvider
from plaza.ordering.schemas import CartOut, CheckoutIn, PaymentIn
from plaza.web.forms import clean_message, field_errors, short_form_data, text
from plaza.web.render import page, redirect
from plaza.web.shop.cart import cart_token, cart_view

router = APIRouter(prefix="/shop")

# The payment provider's test cards (docs: plaza.ordering.sandbox).
PAYMENT_METHODS: list[tuple[str, str]] = [
    ("tok_visa", "Visa test card (pays)"),
    ("tok_mastercard", "Mastercard test card (pays)"),
    ("tok_amex", "American Express test card (pays)"),
    ("tok_declined", "Test card that is declined"),
    ("tok_insufficient_funds", "Test card without funds (declined)"),
]
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "region", "country", "phone")
IN_PROGRESS_WAIT_S = 0.25
IN_PROGRESS_TRIES = 40  # a double submit waits up to ~10 s for the first to finish
MAX_STORES = 50


def _access(request: Request, p: Principal) -> carts.CartAccess:
    return carts.CartAccess(principal=p, token=cart_token(request))


def new_key() -> str:
    return str(uuid.uuid4())


# ---------------------------------------------------------------- the form


def collect_choices(s: Session, cart: CartOut) -> list[dict[str, Any]]:
    """Per merchant of the cart: its stores offering click & collect, and whether each
    has the merchant's items of the cart in stock now."""
    needs: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
    for line in cart.lines:
        if line.customisation is not None and line.customisation.made_to_order:
            needs.setdefault(line.merchant_id, {})
            continue
        per = needs.setdefault(line.merchant_id, {})
        per[line.variant_id] = per.get(line.variant_id, 0) + line.quantity
    out = []
    for merchant_id, variants in needs.items():
        try:
            merchant_name = identity.get_merchant(s, merchant_id).name
        except ProblemError:
            continue
        options = []
        locations = inventory.list_locations(
            s, merchant_id, limit=MAX_STORES, kind=LocationKind.STORE, is_active=True
        )
        for loc in locations:
            try:
                store = collect.collect_store(s, loc.id)
            except ProblemError:
                continue  # no click & collect there
            have = sum(
                1 for vid, qty in variants.items() if inventory.available(s, vid, store.id) >= qty
            )
            options.append(
                {
                    "id": store.id,
                    "name": store.location.name,
                    "city": store.location.city,
                    "in_stock": have == len(variants),
                    "stock": (
                        "all items in stock"
                        if have == len(variants)
                        else f"{have} of {len(variants)} items in stock"
                    ),
                }
            )
        options.sort(key=lambda o: (not o["in_stock"], o["name"]))
        out.append({"merchant_id": merchant_id, "merchant": merchant_name, "stores": options})
    return sorted(out, key=lambda m: m["merchant"])


def _form_page(
    request: Request,
    db: Database,
    p: Principal,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    key: str | None = None,
    status: int = 200,
) -> Response:
    cart = cart_view(db, request, p)
    if cart is None or not cart.lines:
        return redirect("/shop/cart", flash="Your cart is empty.")
    with db.reading() as s:
        choices = collect_choices(s, cart)
    defaults = {"fulfilment": "delivery", "payment": "tok_visa", "email": "", "store_id": []}
    context = {
        "cart": cart,
        "choices": choices,
        "can_collect": any(c["stores"] for c in choices),
        "values": {**defaults, **(values or {})},
        "errors": errors or {},
        "key": key or new_key(),
        "payment_methods": PAYMENT_METHODS,
        "guest": p.kind != "user",
    }
    return page(request, "shop/checkout.html", context, status=status)


@router.get("/checkout")
def checkout_form(
    request: Request, db: Database = Depends(get_db), p: Principal = Depends(CartHolder())
) -> Response:
    """Delivery address or a pickup store, a payment method, and "Place order"."""
    cart = cart_view(db, request, p)
    if cart is not None and any(not line.available for line in cart.lines):
        return redirect("/shop/cart", flash="Some items need your attention before checkout.")
    return _form_page(request, db, p)


FIELD_NAMES = {
    "email": "Email",
    "name": "Full name",
    "line1": "Address",
    "line2": "Address line 2",
    "city": "City",
    "postal_code": "Postal code",
    "region": "Region",
    "country": "Country",
    "phone": "Phone",
    "payment": "Payment method",
    "store_id": "Store",
}


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(x) for x in loc if not isinstance(x, int)]
    if not parts:
        return "_form"
    if parts[0] == "shipping_address":
        return parts[1] if len(parts) > 1 else "line1"
    if parts[0] == "fulfilment":
        return "store_id"
    return parts[0]


def _form_field(loc: tuple[Any, ...]) -> str:
    field = _field_of(loc)
    if field == "shipping_address" or field not in FIELD_NAMES:
        field = "_form" if field not in ADDRESS_FIELDS else field
    return field


def _message(field: str, err: Mapping[str, Any]) -> str:
    if err["type"] in ("string_too_short", "missing"):
        return "enter it" if field != "store_id" else "choose one"
    if field == "country":
        return "use the 2-letter country code, such as NL"
    return clean_message(err)


def _errors_of(exc: ValidationError) -> dict[str, str]:
    return field_errors(exc, _form_field, lambda f: FIELD_NAMES.get(f, "Checkout"), _message)


def _body_of(form: FormData, values: dict[str, Any], guest: bool) -> dict[str, Any]:
    address = {f: values[f] for f in ADDRESS_FIELDS}
    address["country"] = str(address["country"]).strip().upper()
    body: dict[str, Any] = {"payment": {"token": values["payment"]}}
    if guest:
        body["email"] = values["email"] or None
    if values["fulfilment"] == "collect":
        body["fulfilment"] = [
            {"method": "collect", "store_id": sid} for sid in values["store_id"] if sid
        ]
        if any(address[f] for f in ("name", "line1", "city", "postal_code")):
            body["shipping_address"] = {k: v for k, v in address.items() if v}
    else:
        body["shipping_address"] = {
            k: v for k, v in address.items() if v or k in ("name", "line1", "city")
        }
        body["shipping_address"].setdefault("postal_code", "")
        body["shipping_address"].setdefault("country", "")
    return body


@router.post("/checkout")
def place_order(
    request: Request,
    form: FormData = Depends(short_form_data),
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
    provider: PaymentProvider = Depends(ordering_api.get_provider),
    settings: Settings = Depends(ordering_api.get_settings_dep),
) -> Response:
    """Place the order(s) and pay; then the order page (or the checkout's, for guests and
    several orders). A retry with the same form key replays the first outcome."""
    guest = p.kind != "user"
    values: dict[str, Any] = {f: text(form, f, 200, strip=False) for f in ADDRESS_FIELDS}
    values.update(
        email=text(form, "email", 254, strip=False),
        fulfilment="collect"
        if text(form, "fulfilment", 500, strip=False) == "collect"
        else "delivery",
        payment=text(form, "payment", 100, strip=False),
        store_id=[v for v in form.getlist("store_id") if isinstance(v, str)][:20],
    )
    key = text(form, "idempotency_key", 255, strip=False)
    errors: dict[str, str] = {}
    if not idem.KEY_PATTERN.match(key):
        key = new_key()
    try:
        cart_id = uuid.UUID(text(form, "cart_id", 64, strip=False))
    except ValueError:
        return redirect("/shop/cart", flash="Your cart changed: please check it again.")
    if values["fulfilment"] == "collect" and not any(values["store_id"]):
        errors["store_id"] = "Store: choose where to collect your order."
    if guest and not values["email"].strip():
        errors["email"] = "Email: enter it for your order confirmation."
    try:
        body = CheckoutIn.model_validate(_body_of(form, values, guest))
    except ValidationError as exc:
        errors = {**_errors_of(exc), **errors}
    if errors:
        return _form_page(request, db, p, values=values, errors=errors, key=key, status=422)

    scope = p.actor if p.kind == "user" else f"cart:{cart_id}"
    api_path = f"/carts/{cart_id}/checkout"
    fp = idem.fingerprint("POST", api_path, body)
    try:
        result = _checkout(db, request, p, cart_id, body, key, scope, fp, provider, settings)
    except ProblemError as exc:
        if exc.status >= 500 and exc.status != 503:
            raise
        if exc.kind is CART_CLOSED:
            return redirect("/shop/cart", flash="That cart was checked out already.")
        if exc.kind is IDEMPOTENCY_KEY_REUSED:
            key = new_key()
        message = exc.detail
        for problem in exc.extensions.get("errors") or []:
            loc = tuple(problem.get("loc") or ())[1:]
            if loc and loc[0] == "shipping_address":
                errors["line1"] = "Address: some items are delivered, enter where to."
        errors.setdefault("_form", f"{exc.kind.title}: {message}")
        return _form_page(request, db, p, values=values, errors=errors, key=key, status=exc.status)
    status, data = result
    return _outcome(request, db, p, status, data, values=values, key=key)


def _checkout(
    db: Database,
    request: Request,
    p: Principal,
    cart_id: uuid.UUID,
    body: CheckoutIn,
    key: str,
    scope: str,
    fp: str,
    provider: PaymentProvider,
    settings: Settings,
) -> tuple[int, dict[str, Any]]:
    """What ``POST /carts/{id}/checkout`` does, answering (status, body)."""
    access = _access(request, p)
    for attempt in range(IN_PROGRESS_TRIES):
        try:
            with db.transaction() as s:
                carts.get_cart(s, cart_id, access)  # only the cart's holder, replays too
                claim = idem.claim(s, scope, key, fp)
                if (replayed := ordering_api.replay(claim)) is not None:
                    return replayed.status_code, json.loads(bytes(replayed.body))
                checkout_id = claim.recovery.get("checkout_id")
                fresh = checkout_id is None
                if checkout_id is None:
                    cart = carts.get_cart(s, cart_id, access, for_update=True)
                    address = body.shipping_address
                    created = flows.place_orders(
                        s,
                        cart,
                        email=str(body.email or p.email),
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
            break
        except ProblemError as exc:
            if exc.kind is IDEMPOTENCY_IN_PROGRESS and attempt + 1 < IN_PROGRESS_TRIES:
                time.sleep(IN_PROGRESS_WAIT_S)  # the first submit is still placing it
                continue
            raise
    outcome = flows.pay_pending(
        db,
        provider,
        uuid.UUID(checkout_id),
        actor=p.actor,
        reservation_ttl=settings.reservation_ttl_seconds,
        fresh=fresh,
    )
    answer = ordering_api.checkout_response(
        db, uuid.UUID(checkout_id), claim_id, outcome, f"/carts/{cart_id}/checkout"
    )
    return answer.status_code, json.loads(bytes(answer.body))


def _outcome(
    request: Request,
    db: Database,
    p: Principal,
    status: int,
    data: dict[str, Any],
    *,
    values: dict[str, Any],
    key: str,
) -> Response:
    """The checkout's answer as a page: the order, or what went wrong with the payment."""
    if status == 201:
        placed = data.get("orders") or []
        numbers = ", ".join(str(o.get("number")) for o in placed)
        thanks = (
            f"Thank you: order {numbers} is placed."
            if len(placed) == 1
            else (f"Thank you: orders {numbers} are placed.")
        )
        if p.kind == "user" and len(placed) == 1:
            return redirect(f"/shop/orders/{placed[0]['id']}", flash=thanks)
        return redirect(f"/shop/checkout/{data['id']}", flash=thanks)
    checkout_id = data.get("checkout_id")
    if status == 503 or not checkout_id:  # payment outcome unknown: retry with the same key
        errors = {
            "_form": "We could not confirm your payment yet. Press “Place order” again: "
            "you will not be charged twice."
        }
        return _form_page(request, db, p, values=values, errors=errors, key=key, status=503)
    if data.get("decline_code"):
        message = f"Your payment was declined ({data['decline_code']}): try another method."
    else:
        message = str(data.get("detail") or "Your order could not be completed.")
    return redirect(f"/shop/checkout/{checkout_id}", flash=message)


# ---------------------------------------------------------------- after checkout


@router.get("/checkout/{checkout_id}")
def checkout_done(
    request: Request,
    checkout_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
) -> Response:
    """The checkout's orders (for the holder of its cart), and paying again if declined."""
    with db.reading() as s:
        view = service.checkout_view(s, service.get_checkout(s, checkout_id, _access(request, p)))
    unpaid = [o for o in view.orders if o.status == OrderStatus.PLACED]
    can_pay = bool(unpaid) and view.status in (
        CheckoutStatus.PENDING_PAYMENT,
        CheckoutStatus.PARTIALLY_PAID,
    )
    context = {
        "checkout": view,
        "can_pay": can_pay,
        "unpaid": unpaid,
        "key": new_key(),
        "payment_methods": PAYMENT_METHODS,
        "signed_in": p.kind == "user",
        "errors": {},
    }
    return page(request, "shop/checkout_done.html", context)


@router.post("/checkout/{checkout_id}/pay")
def pay_again(
    request: Request,
    checkout_id: uuid.UUID,
    form: FormData = Depends(short_form_data),
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
    provider: PaymentProvider = Depends(ordering_api.get_provider),
    settings: Settings = Depends(ordering_api.get_settings_dep),
) -> Response:
    """Pay the orders still awaiting payment with another method (as
    ``POST /checkouts/{id}/payments``), once per form key."""
    key = text(form, "idempotency_key", 255, strip=False)
    if not idem.KEY_PATTERN.match(key):
        key = new_key()
    try:
        body = PaymentIn(token=text(form, "payment", 100, strip=False))
    except ValidationError:
        return redirect(f"/shop/checkout/{checkout_id}", flash="Choose a payment method.")
    scope = p.actor if p.kind == "user" else f"checkout:{checkout_id}"
    path = f"/checkouts/{checkout_id}/payments"
    fp = idem.fingerprint("POST", path, body)
    access = _access(request, p)
    with db.transaction() as s:
        checkout_ = service.get_checkout(s, checkout_id, access)
        claim = idem.claim(s, scope, key, fp)
        replayed = ordering_api.replay(claim)
        if replayed is None and not claim.recovery.get("attempt_created"):
            flows.add_payment_attempt(s, checkout_, body.token, provider.name)
            idem.save_recovery(claim, attempt_created=True)
        claim_id = claim.record.id if claim.record is not None else None
    if replayed is None:
        outcome = flows.pay_pending(
            db,
            provider,
            checkout_id,
            actor=p.actor,
            reservation_ttl=settings.reservation_ttl_seconds,
        )
        replayed = ordering_api.checkout_response(db, checkout_id, claim_id, outcome, path)
    data = json.loads(bytes(replayed.body))
    if replayed.status_code == 201:
        return redirect(
            f"/shop/checkout/{checkout_id}", flash="Thank you: your payment went through."
        )
    if data.get("decline_code"):
        message = f"Your payment was declined ({data['decline_code']}): try another method."
    else:
        message = str(data.get("detail") or "The payment could not be completed.")
    return redirect(f"/shop/checkout/{checkout_id}", flash=message)
