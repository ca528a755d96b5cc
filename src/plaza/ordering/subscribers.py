"""Ordering reacts to other contexts: lapsed stock holds cancel unpaid orders, and a
sign-in merges the anonymous cart."""

from __future__ import annotations

from sqlalchemy.orm import Session

from plaza.db import Database
from plaza.events import Event, subscribe
from plaza.identity.service import SIGN_IN_HOOKS
from plaza.ordering import carts, flows
from plaza.subscribers import HOUSEKEEPING


@subscribe("inventory.reservation_expired", name="ordering.cancel_unpaid_on_expiry")
def cancel_unpaid_on_expiry(s: Session, event: Event) -> None:
    reference = event.payload.get("reference")
    if isinstance(reference, str):
        flows.expire_unpaid_order(s, reference)


if carts.merge_anonymous_cart not in SIGN_IN_HOOKS:
    SIGN_IN_HOOKS.append(carts.merge_anonymous_cart)


def settle_refunds_job(db: Database) -> None:
    """Retry refunds the provider has not confirmed yet (e.g. after a timeout)."""
    from plaza.config import get_settings
    from plaza.ordering.service import provider_for

    flows.settle_refunds(db, provider_for(db, get_settings()))


if settle_refunds_job not in HOUSEKEEPING:
    HOUSEKEEPING.append(settle_refunds_job)
