"""Returns: a customer asks, the merchant approves or rejects, then receives the goods back
(stock restored at a location of its choice) and the money is refunded."""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.errors import NOT_FOUND, ProblemError, problem_type
from plaza.events import emit, event_type
from plaza.inventory import service as inventory
from plaza.ordering import orders
from plaza.ordering.flows import queue_order_refund
from plaza.ordering.models import Order, OrderStatus, Return, ReturnStatus

RETURN_NOT_ALLOWED = problem_type(
    "return-not-allowed",
    "This order cannot be returned",
    409,
    "Only fulfilled orders can be returned.",
)
RETURN_QUANTITY = problem_type(
    "return-quantity-exceeded",
    "More returned than bought",
    422,
    "A line's returned quantity (including open return requests) cannot exceed what was bought.",
)
RETURN_STATE = problem_type(
    "invalid-return-transition",
    "Return cannot move to that status",
    409,
    "Returns move requested → approved → refunded, or requested → rejected.",
)

RETURN_REQUESTED = event_type("return.requested", "A customer asked to return items.")
RETURN_APPROVED = event_type("return.approved", "A merchant accepted a return request.")
RETURN_REJECTED = event_type("return.rejected", "A merchant refused a return request.")
RETURN_REFUNDED = event_type("return.refunded", "Returned goods were received and refunded.")


def _open_quantities(s: Session, order_id: uuid.UUID) -> Counter[str]:
    pending: Counter[str] = Counter()
    for ret in s.scalars(
        select(Return).where(
            Return.order_id == order_id,
            Return.status.in_([ReturnStatus.REQUESTED, ReturnStatus.APPROVED]),
        )
    ):
        for item in ret.lines:
            pending[item["order_line_id"]] += int(item["quantity"])
    return pending


def request_return(
    s: Session,
    order: Order,
    lines: list[tuple[uuid.UUID, int]],
    reason: str,
    customer_id: uuid.UUID | None,
) -> Return:
    if order.status != OrderStatus.FULFILLED:
        raise ProblemError(RETURN_NOT_ALLOWED, f"the order is {order.status}")
    by_id = {ln.id: ln for ln in order.lines}
    pending = _open_quantities(s, order.id)
    wanted: Counter[uuid.UUID] = Counter()
    for line_id, qty in lines:
        wanted[line_id] += qty
    for line_id, qty in wanted.items():
        line = by_id.get(line_id)
        if line is None:
            raise ProblemError(NOT_FOUND, f"order line {line_id} not found", resource="order line")
        left = line.quantity - line.returned_quantity - pending[str(line_id)]
        if qty > left:
            raise ProblemError(
                RETURN_QUANTITY,
                f"line {line_id}: at most {left} can be returned",
                order_line_id=str(line_id),
                returnable=left,
            )
    ret = Return(
        order_id=order.id,
        merchant_id=order.merchant_id,
        customer_id=customer_id,
        reason=reason,
        lines=[{"order_line_id": str(k), "quantity": v} for k, v in sorted(wanted.items())],
    )
    s.add(ret)
    s.flush()
    _emit(s, RETURN_REQUESTED, ret)
    return ret


def get_merchant_return(s: Session, merchant_id: uuid.UUID, return_id: uuid.UUID) -> Return:
    ret = s.scalar(
        select(Return)
        .where(Return.id == return_id, Return.merchant_id == merchant_id)
        .with_for_update()
    )
    if ret is None:
        raise ProblemError(NOT_FOUND, f"return {return_id} not found", resource="return")
    return ret


def decide(s: Session, ret: Return, approve: bool, note: str) -> Return:
    target = ReturnStatus.APPROVED if approve else ReturnStatus.REJECTED
    if ret.status == target:
        return ret
    if ret.status != ReturnStatus.REQUESTED:
        raise ProblemError(RETURN_STATE, f"a {ret.status} return cannot become {target}")
    ret.status = target
    ret.note = note[:500]
    _emit(s, RETURN_APPROVED if approve else RETURN_REJECTED, ret)
    return ret


def receive(s: Session, ret: Return, location_id: uuid.UUID, actor: str) -> Return:
    """Goods are back: restock them, refund their price, and close the order when all is back."""
    if ret.status == ReturnStatus.REFUNDED:
        return ret
    if ret.status not in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED):
        raise ProblemError(RETURN_STATE, f"a {ret.status} return cannot be received")
    order = s.scalar(select(Order).where(Order.id == ret.order_id).with_for_update())
    assert order is not None
    by_id = {str(ln.id): ln for ln in order.lines}
    amount = 0
    for item in ret.lines:
        line = by_id[item["order_line_id"]]
        qty = int(item["quantity"])
        # A customised item is not its plain variant again (docs/customisation.md): it is
        # refunded but not restocked; the merchant adjusts stock if it can be resold.
        if line.configuration is None:
            inventory.restock(
                s,
                merchant_id=order.merchant_id,
                variant_id=line.variant_id,
                location_id=location_id,
                quantity=qty,
                reason="return",
                reference=f"return:{ret.id}",
            )
        line.returned_quantity += qty
        amount += line.unit_amount * qty
    ret.refund_amount = queue_order_refund(s, order, amount, f"return {ret.id}", ret.id)
    ret.status = ReturnStatus.REFUNDED
    if all(ln.returned_quantity >= ln.quantity for ln in order.lines):
        orders.transition(s, order, OrderStatus.RETURNED, actor, f"return {ret.id}")
    _emit(s, RETURN_REFUNDED, ret)
    return ret


def _emit(s: Session, type_: str, ret: Return) -> None:
    emit(
        s,
        type_,
        aggregate_type="return",
        aggregate_id=ret.id,
        merchant_id=ret.merchant_id,
        payload={
            "order_id": str(ret.order_id),
            "status": ret.status.value,
            "lines": ret.lines,
            "refund_amount": ret.refund_amount,
        },
    )
