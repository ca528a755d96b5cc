"""Click & collect: the store choice at checkout, ready-for-pickup, pickup codes, the
counter's verify and collect, and expiry of pickups nobody came for.

Order and pickup together (ordering keeps its statuses; ``collected`` is ``fulfilled``):

    order paid ──► awaiting preparation ──ready──► ready ──collect──► collected (fulfilled)
                                                     │
                                        hold hours ──┴──► expired (order cancelled,
                                                          stock released, refund queued)

The stock of a collect order is held at the store from checkout until collection (sold
then); expiry and cancellation release it, so it is available again at once.

Pickup codes: 6 characters from an alphabet without look-alikes, derived as an HMAC of the
order id and a per-pickup nonce under the server secret, so the customer can be shown the
code again while only ``HMAC(secret, store, code)`` is stored (a leaked table yields no
codes). A wrong code answers one problem, whether or not the order exists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import re
import secrets
import uuid
from collections.abc import Sequence

import segno
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plaza.db import utcnow
from plaza.errors import ProblemError, problem_type
from plaza.events import emit, event_type
from plaza.identity import service as identity
from plaza.inventory import service as inventory
from plaza.inventory.models import Location
from plaza.o2o import routing
from plaza.o2o.collect.models import Pickup, PickupState
from plaza.o2o.collect.schemas import CustomerPickupOut, EndlessAisleIn, PickupOut
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.models import StoreService
from plaza.ordering import carts, flows, orders
from plaza.ordering import service as ordering
from plaza.ordering.models import Cart, FulfilmentMethod, Order, OrderStatus
from plaza.ordering.schemas import FulfilmentIn, OrderLineOut

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B, U/V: safe to read out over a counter.
CODE_ALPHABET = "34679ACDEFGHJKMNPQRTWXY"
CODE_LENGTH = 6
QR_PREFIX = "PLAZA-PICKUP"
AWAITING = "awaiting_preparation"
# The held stock outlives the pickup window by this margin, so expiry (which releases it
# with a refund) always comes from the pickup job, not from inventory's sweep.
HOLD_MARGIN = dt.timedelta(hours=24)
EXPIRE_BATCH = 100

COLLECT_STORE_UNAVAILABLE = problem_type(
    "collect-store-unavailable",
    "Store does not offer click & collect",
    422,
    "The chosen store is unknown, inactive, not a store, or does not list `click_collect` "
    "among its services; `store_id` names it. Choose another store or delivery.",
)
NOT_A_COLLECT_ORDER = problem_type(
    "not-a-collect-order",
    "Not a click & collect order",
    409,
    "The order is delivered, not collected in a store (or not at this store).",
)
ORDER_NOT_PAID = problem_type(
    "pickup-order-not-paid",
    "Order not paid yet",
    409,
    "Only a paid click & collect order can be prepared for pickup; `order_status` says "
    "where it stands.",
)
PICKUP_NOT_READY = problem_type(
    "pickup-not-ready",
    "Pickup not ready yet",
    409,
    "The store has not prepared the order yet; the code is issued when it is ready.",
)
PICKUP_CODE_INVALID = problem_type(
    "pickup-code-invalid",
    "Pickup code not recognised",
    422,
    "No pickup waits at this store under this code (a typo, another store, or another "
    "order's code). Nothing is said about which orders exist.",
)
PICKUP_COLLECTED = problem_type(
    "pickup-already-collected",
    "Already collected",
    409,
    "This order was handed over already (`closed_at`); do not hand it over again.",
)
PICKUP_EXPIRED = problem_type(
    "pickup-expired",
    "Pickup expired",
    409,
    "The order was not collected in time: it was cancelled, its stock released and the "
    "customer refunded. Sell the items afresh if the customer still wants them.",
)
PICKUP_CANCELLED = problem_type(
    "pickup-cancelled",
    "Order cancelled",
    409,
    "The order was cancelled (by the customer or the merchant); do not hand it over.",
)

PICKUP_READY = event_type(
    "o2o.pickup_ready",
    "A click & collect order is ready at its store; payload: order_id, store_id, "
    "customer_id, expires_at (the code is not in it: the customer's app fetches it).",
)
PICKUP_COLLECTED_EVENT = event_type(
    "o2o.pickup_collected", "A click & collect order was handed over; payload: order_id, store_id."
)
PICKUP_EXPIRED_EVENT = event_type(
    "o2o.pickup_expired",
    "A ready order was not collected in time and was cancelled (stock released, refund "
    "queued); payload: order_id, store_id, customer_id.",
)


# --- checkout -----------------------------------------------------------------------------


def collect_store(s: Session, store_id: uuid.UUID) -> stores.Store:
    """An active store of an open merchant offering click & collect, or 422."""
    loc = s.get(Location, store_id)
    if loc is None:
        raise ProblemError(COLLECT_STORE_UNAVAILABLE, store_id=str(store_id))
    try:
        store = stores.get_store(s, loc.merchant_id, store_id)
    except ProblemError as exc:
        raise ProblemError(COLLECT_STORE_UNAVAILABLE, store_id=str(store_id)) from exc
    offers = store.profile is not None and StoreService.CLICK_COLLECT in store.profile.services
    if not loc.is_active or not offers:
        raise ProblemError(COLLECT_STORE_UNAVAILABLE, store_id=str(store_id))
    return store


def collect_plans(
    s: Session, choices: Sequence[FulfilmentIn]
) -> dict[uuid.UUID, flows.FulfilmentPlan]:
    """Checkout's fulfilment choices as plans per merchant: stock held at the store only."""
    plans: dict[uuid.UUID, flows.FulfilmentPlan] = {}
    for choice in choices:
        if choice.method != "collect" or choice.store_id is None:
            continue
        store = collect_store(s, choice.store_id)
        if store.merchant_id in plans and plans[store.merchant_id].store_id != store.id:
            raise ProblemError(
                COLLECT_STORE_UNAVAILABLE,
                "one pickup store per merchant",
                store_id=str(store.id),
            )
        plans[store.merchant_id] = flows.FulfilmentPlan(
            FulfilmentMethod.COLLECT, store_id=store.id, reserve_at=store.id
        )
    return plans


# --- codes --------------------------------------------------------------------------------


def pickup_code(secret: str, pickup: Pickup) -> str:
    mac = hmac.new(
        secret.encode(), f"pickup:{pickup.order_id}:{pickup.nonce}".encode(), hashlib.sha256
    ).digest()
    n = int.from_bytes(mac[:8], "big")
    chars = []
    for _ in range(CODE_LENGTH):
        n, i = divmod(n, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[i])
    return "".join(chars)


def code_digest(secret: str, store_id: uuid.UUID, code: str) -> str:
    return hmac.new(
        secret.encode(), f"pickup-code:{store_id}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def qr_payload(pickup: Pickup, code: str) -> str:
    return f"{QR_PREFIX}:{pickup.order_id}:{code}"


def normalise_code(raw: str) -> tuple[uuid.UUID | None, str]:
    """(order id from a QR payload or None, the code in canonical form)."""
    value = raw.strip()
    order_id = None
    if value.upper().startswith(QR_PREFIX + ":"):
        parts = value.split(":")
        if len(parts) == 3:
            try:
                order_id = uuid.UUID(parts[1])
            except ValueError:
                order_id = None
            value = parts[2]
    return order_id, re.sub(r"[\s\-]", "", value).upper()


def qr_image(payload: str, kind: str, scale: int = 8) -> bytes:
    """The QR code of ``payload`` as SVG or PNG bytes (segno, error correction M)."""
    buf = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buf, kind=kind, scale=scale, border=4)
    return buf.getvalue()


# --- staff: prepare, verify, collect ------------------------------------------------------


def _collect_order(s: Session, merchant_id: uuid.UUID, order_id: uuid.UUID) -> Order:
    order = orders.get_merchant_order(s, merchant_id, order_id, for_update=True)
    if order.fulfilment != FulfilmentMethod.COLLECT or order.pickup_store_id is None:
        raise ProblemError(NOT_A_COLLECT_ORDER, order_id=str(order.id))
    return order


def mark_ready(
    s: Session,
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    *,
    actor: str,
    secret: str,
    hold_hours: int,
    now: dt.datetime | None = None,
) -> Pickup:
    """Staff put the order on the pickup shelf: a code is issued and the customer told
    (``o2o.pickup_ready``). Idempotent: a ready pickup is returned unchanged."""
    order = _collect_order(s, merchant_id, order_id)
    existing = s.get(Pickup, order.id)
    if existing is not None:
        _refuse_closed(existing)
        return existing
    if order.status != OrderStatus.PAID:
        if order.status == OrderStatus.CANCELLED:
            raise ProblemError(PICKUP_CANCELLED, order_id=str(order.id))
        raise ProblemError(
            ORDER_NOT_PAID, f"the order is {order.status}", order_status=order.status.value
        )
    assert order.pickup_store_id is not None
    now = now or utcnow()
    expires = now + dt.timedelta(hours=hold_hours)
    # The held stock must last until the pickup expires (the job then releases it).
    if any(not (ln.configuration or {}).get("made_to_order") for ln in order.lines):
        ttl = int((expires - now + HOLD_MARGIN).total_seconds())
        inventory.keep_reservations(s, str(order.id), min(ttl, inventory.MAX_TTL_SECONDS))
    for _ in range(5):  # a code collision at the store is ~1 in 10^8: draw again
        pickup = Pickup(
            order_id=order.id,
            merchant_id=merchant_id,
            location_id=order.pickup_store_id,
            state=PickupState.READY,
            nonce=secrets.token_hex(8),
            code_digest="",
            ready_at=now,
            expires_at=expires,
            ready_by=actor[:100],
        )
        pickup.code_digest = code_digest(secret, pickup.location_id, pickup_code(secret, pickup))
        try:
            with s.begin_nested():
                s.add(pickup)
                s.flush()
        except IntegrityError:
            continue
        break
    else:  # pragma: no cover - five collisions in a row
        raise RuntimeError("could not draw a unique pickup code")
    emit(
        s,
        PICKUP_READY,
        aggregate_type="order",
        aggregate_id=order.id,
        merchant_id=merchant_id,
        payload={
            "order_id": str(order.id),
            "store_id": str(pickup.location_id),
            "customer_id": str(order.customer_id) if order.customer_id else None,
            "expires_at": expires.isoformat(),
        },
    )
    return pickup


def _refuse_closed(pickup: Pickup) -> None:
    if pickup.state == PickupState.COLLECTED:
        raise ProblemError(
            PICKUP_COLLECTED,
            closed_at=pickup.closed_at.isoformat() if pickup.closed_at else None,
        )
    if pickup.state == PickupState.EXPIRED:
        raise ProblemError(PICKUP_EXPIRED, order_id=str(pickup.order_id))
    if pickup.state == PickupState.CANCELLED:
        raise ProblemError(PICKUP_CANCELLED, order_id=str(pickup.order_id))


def find_by_code(
    s: Session,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    raw_code: str,
    *,
    secret: str,
    order_id: uuid.UUID | None = None,
) -> Pickup:
    """The pickup at this store whose code this is (and of ``order_id`` when given), or
    422 ``pickup-code-invalid``; closed ones answer their 409."""
    stores.get_store(s, merchant_id, store_id)
    from_qr, code = normalise_code(raw_code)
    wanted = order_id or from_qr
    pickup = None
    if len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET):
        pickup = s.scalar(
            select(Pickup)
            .where(
                Pickup.location_id == store_id,
                Pickup.merchant_id == merchant_id,
                Pickup.code_digest == code_digest(secret, store_id, code),
            )
            .with_for_update()
        )
    if pickup is None or (wanted is not None and pickup.order_id != wanted):
        raise ProblemError(PICKUP_CODE_INVALID)
    order = s.get(Order, pickup.order_id)
    if order is not None and order.status == OrderStatus.CANCELLED:
        order_cancelled(s, order.id)  # cancelled just now: the subscriber has not run yet
    _refuse_closed(pickup)
    return pickup


def collect(
    s: Session,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    order_id: uuid.UUID,
    raw_code: str,
    *,
    actor: str,
    secret: str,
    now: dt.datetime | None = None,
) -> Pickup:
    """Hand over: the code must be the order's at this store. The held stock is sold and
    the order fulfilled. A ready pickup past its expiry that the job has not reached yet
    is expired now and returned in state ``expired`` (the API answers 409 after commit),
    so the rule does not depend on the job's timing."""
    pickup = find_by_code(s, merchant_id, store_id, raw_code, secret=secret, order_id=order_id)
    now = now or utcnow()
    if pickup.expires_at <= now:
        expire(s, pickup, now)  # the caller commits this, then answers 409 pickup-expired
        return pickup
    order = orders.get_merchant_order(s, merchant_id, pickup.order_id, for_update=True)
    flows.collect_order(s, order, actor, store_id)
    pickup.state = PickupState.COLLECTED
    pickup.closed_at = now
    pickup.closed_by = actor[:100]
    emit(
        s,
        PICKUP_COLLECTED_EVENT,
        aggregate_type="order",
        aggregate_id=order.id,
        merchant_id=merchant_id,
        payload={"order_id": str(order.id), "store_id": str(store_id)},
    )
    return pickup


# --- expiry and cancellation --------------------------------------------------------------


def expire(s: Session, pickup: Pickup, now: dt.datetime | None = None) -> bool:
    """Expire one ready pickup: the order is cancelled through ordering's cancel path
    (stock released, refund queued, settled by ordering's refund job). Idempotent."""
    if pickup.state != PickupState.READY:
        return False
    order = s.scalar(select(Order).where(Order.id == pickup.order_id).with_for_update())
    pickup.state = PickupState.EXPIRED
    pickup.closed_at = now or utcnow()
    pickup.closed_by = "system"
    if order is not None and order.status in (OrderStatus.PLACED, OrderStatus.PAID):
        flows.cancel_order(s, order, "system", "not collected before the pickup expired")
    emit(
        s,
        PICKUP_EXPIRED_EVENT,
        aggregate_type="order",
        aggregate_id=pickup.order_id,
        merchant_id=pickup.merchant_id,
        payload={
            "order_id": str(pickup.order_id),
            "store_id": str(pickup.location_id),
            "customer_id": str(order.customer_id) if order and order.customer_id else None,
        },
    )
    return True


def has_due(s: Session, now: dt.datetime | None = None) -> bool:
    q = select(Pickup.order_id).where(
        Pickup.state == PickupState.READY, Pickup.expires_at <= (now or utcnow())
    )
    return s.scalar(q.limit(1)) is not None


def expire_due(s: Session, now: dt.datetime | None = None, limit: int = EXPIRE_BATCH) -> int:
    """Expire ready pickups past their time, oldest first; returns how many."""
    now = now or utcnow()
    due = s.scalars(
        select(Pickup)
        .where(Pickup.state == PickupState.READY, Pickup.expires_at <= now)
        .order_by(Pickup.expires_at, Pickup.order_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return sum(expire(s, p, now) for p in due)


def order_cancelled(s: Session, order_id: uuid.UUID) -> None:
    """Subscriber logic: a ready pickup of a cancelled order is cancelled too."""
    pickup = s.get(Pickup, order_id)
    if pickup is not None and pickup.state == PickupState.READY:
        pickup.state = PickupState.CANCELLED
        pickup.closed_at = utcnow()
        pickup.closed_by = "system"


def hold_lapsed(s: Session, reference: str) -> None:
    """Subscriber logic: inventory's backstop expiry released a paid collect order's stock
    (nobody marked it ready for 30 days): cancel and refund it rather than promise goods
    that are no longer held."""
    try:
        order_id = uuid.UUID(reference)
    except ValueError:
        return
    order = s.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None or not flows.awaits_collection(order):
        return
    pickup = s.get(Pickup, order.id)
    if pickup is not None and pickup.state == PickupState.READY:
        expire(s, pickup)
    else:
        flows.cancel_order(s, order, "system", "stock hold lapsed before the pickup")


# --- views --------------------------------------------------------------------------------


def _state(order: Order, pickup: Pickup | None) -> str:
    if pickup is not None:
        return pickup.state.value
    if order.status == OrderStatus.CANCELLED:
        return PickupState.CANCELLED.value
    return AWAITING


def pickup_view(order: Order, pickup: Pickup | None) -> PickupOut:
    assert order.pickup_store_id is not None
    return PickupOut(
        order_id=order.id,
        order_number=order.number,
        store_id=order.pickup_store_id,
        state=_state(order, pickup),
        order_status=order.status,
        customer_name=str(order.shipping_address.get("name") or order.email),
        email=order.email,
        lines=[OrderLineOut.model_validate(ln) for ln in order.lines],
        ready_at=pickup.ready_at if pickup else None,
        expires_at=pickup.expires_at if pickup else None,
        closed_at=pickup.closed_at if pickup else None,
    )


def staff_view(s: Session, merchant_id: uuid.UUID, pickup: Pickup) -> PickupOut:
    return pickup_view(orders.get_merchant_order(s, merchant_id, pickup.order_id), pickup)


def merchant_pickup(s: Session, merchant_id: uuid.UUID, order_id: uuid.UUID) -> PickupOut | None:
    """Where one of the merchant's orders stands as a pickup (None: it is delivered)."""
    order = orders.get_merchant_order(s, merchant_id, order_id)
    if order.fulfilment != FulfilmentMethod.COLLECT or order.pickup_store_id is None:
        return None
    return pickup_view(order, s.get(Pickup, order.id))


def list_pickups(
    s: Session,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    state: str,
    *,
    limit: int,
    after: uuid.UUID | None = None,
) -> list[PickupOut]:
    """The store's collect orders in one state, by order id: ``awaiting_preparation``
    (paid, not ready yet: the preparation queue) or a pickup state."""
    stores.get_store(s, merchant_id, store_id)
    q = orders.merchant_orders_query(merchant_id).where(
        Order.pickup_store_id == store_id, Order.fulfilment == FulfilmentMethod.COLLECT
    )
    if state == AWAITING:
        ready = select(Pickup.order_id).where(Pickup.location_id == store_id)
        q = q.where(Order.status == OrderStatus.PAID, Order.id.not_in(ready))
    else:
        q = q.join(Pickup, Pickup.order_id == Order.id).where(Pickup.state == PickupState(state))
    if after is not None:
        q = q.where(Order.id > after)
    rows = list(s.scalars(q.order_by(Order.id).limit(limit)))
    pickups = {
        p.order_id: p
        for p in s.scalars(select(Pickup).where(Pickup.order_id.in_([o.id for o in rows])))
    }
    return [pickup_view(o, pickups.get(o.id)) for o in rows]


def customer_pickup(
    s: Session, user_id: uuid.UUID, order_id: uuid.UUID, *, secret: str
) -> tuple[CustomerPickupOut, str | None]:
    """The customer's view of their collect order, and the QR payload while ready."""
    order = orders.get_customer_order(s, user_id, order_id)
    if order.fulfilment != FulfilmentMethod.COLLECT or order.pickup_store_id is None:
        raise ProblemError(NOT_A_COLLECT_ORDER, order_id=str(order.id))
    pickup = s.get(Pickup, order.id)
    loc = s.get(Location, order.pickup_store_id)
    code = payload = None
    if pickup is not None and pickup.state == PickupState.READY:
        code = pickup_code(secret, pickup)
        payload = qr_payload(pickup, code)
    view = CustomerPickupOut(
        order_id=order.id,
        order_number=order.number,
        store_id=order.pickup_store_id,
        store_name=loc.name if loc is not None else "",
        state=_state(order, pickup),
        code=code,
        qr_payload=payload,
        expires_at=pickup.expires_at if pickup else None,
    )
    return view, payload


def check_customer(s: Session, customer_id: uuid.UUID | None, email: str) -> None:
    """Endless aisle: an account named on a shop-floor sale must be the one whose email
    was given, so staff cannot file an order under an arbitrary account."""
    if customer_id is None:
        return
    user = identity.find_user_by_email(s, email)
    if user is None or user.id != customer_id:
        raise ProblemError(CUSTOMER_MISMATCH, customer_id=str(customer_id))


def aisle_cart(
    s: Session, merchant_id: uuid.UUID, store: stores.Store, body: EndlessAisleIn
) -> tuple[Cart, flows.FulfilmentPlan]:
    """The endless aisle's server-side cart (same checks as a customer's cart: sellable,
    configuration-free, in stock somewhere online) and how it reaches the customer:
    delivered to the address, or sent to this store for collection; either way routed
    from wherever the rule finds stock (this store included)."""
    check_customer(s, body.customer_id, str(body.email))
    # A cart nobody can reach (no token, owned by the customer if named): only this
    # checkout uses it, and the customer then sees the checkout like any other.
    cart = Cart(customer_id=body.customer_id, currency=body.currency, token_digest=None)
    s.add(cart)
    s.flush()
    for line in sorted(body.lines, key=lambda ln: ln.variant_id):
        checked = ordering.check_cart_line(s, cart, line.variant_id, None, line.quantity)
        if checked.merchant_id != merchant_id:
            raise ProblemError(FOREIGN_VARIANT, variant_id=str(line.variant_id))
        if checked.configuration is not None:
            raise ProblemError(AISLE_CUSTOMISED, variant_id=str(line.variant_id))
        carts.set_line(s, cart, line.variant_id, line.quantity, merchant_id=merchant_id, add=True)
    s.flush()
    s.refresh(cart)
    loc = store.location
    here = (
        (loc.latitude, loc.longitude)
        if loc.latitude is not None and loc.longitude is not None
        else None
    )
    if body.collect_in_store:
        plan = flows.FulfilmentPlan(FulfilmentMethod.COLLECT, store_id=store.id, destination=here)
    else:
        assert body.shipping_address is not None
        plan = flows.FulfilmentPlan(
            destination=routing.destination_of(body.shipping_address.stored())
        )
    return cart, plan


CUSTOMER_MISMATCH = problem_type(
    "endless-aisle-customer-mismatch",
    "Customer account does not match the email",
    422,
    "`customer_id` must be the account registered with `email` (or leave it out: the "
    "order is then a guest order under the email).",
)
FOREIGN_VARIANT = problem_type(
    "endless-aisle-foreign-variant",
    "Item of another merchant",
    422,
    "A store sells its own merchant's items only; `variant_id` belongs to another.",
)
AISLE_CUSTOMISED = problem_type(
    "endless-aisle-customised",
    "Customisable item",
    422,
    "Items that need a configuration are sold through the customer's own cart, where the "
    "configuration is chosen and priced.",
)
