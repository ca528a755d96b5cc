"""Proximity offers: what a merchant shows a customer who enters a zone.

An offer applies to a customer entering its zone when it is active, ``now`` is inside
[starts_at, ends_at) and inside the daily local hours (store timezone) if set, the
customer has had it fewer than ``cap_per_customer`` times, the audience is ``any`` or the
customer is in one of its strategic personas, and the customer grants ``marketing``
consent (without it no offer is ever delivered; the visit is still counted).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.db import utcnow
from plaza.errors import VALIDATION, ProblemError
from plaza.events import emit, event_type
from plaza.o2o.beacons.models import OfferAudience, OfferDelivery, ProximityOffer, Visit
from plaza.o2o.beacons.schemas import DeliveredOffer, OfferIn, OfferOut
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.schemas import minutes
from plaza.personas import lookup as personas
from plaza.privacy.service import has_consent
from plaza.tenancy import get_owned

OFFER_DELIVERED = event_type(
    "o2o.offer_delivered",
    "A proximity offer was shown to a customer entering a zone; payload: offer_id, "
    "visit_id, user_id, store_id, zone_id.",
)


def _invalid(field: str, msg: str) -> ProblemError:
    return ProblemError(VALIDATION, msg, errors=[{"loc": ["body", field], "msg": msg}])


def _check_refs(s: Session, merchant_id: uuid.UUID, data: OfferIn) -> None:
    if data.persona_ids:
        mine = personas.persona_ids(s, merchant_id)
        unknown = [str(p) for p in data.persona_ids if p not in mine]
        if unknown:
            raise _invalid("persona_ids", f"not the merchant's personas: {', '.join(unknown)}")
    for pid in data.product_ids:
        if catalog.product_merchant(s, pid) != merchant_id:
            raise _invalid("product_ids", f"product {pid} is not the merchant's")


def _apply(offer: ProximityOffer, data: OfferIn) -> None:
    offer.zone_id = data.zone_id
    offer.title = data.title
    offer.message = data.message
    offer.audience = data.audience
    offer.persona_ids = [str(p) for p in data.persona_ids]
    offer.starts_at = data.starts_at
    offer.ends_at = data.ends_at
    offer.daily_from = data.daily_from
    offer.daily_to = data.daily_to
    offer.cap_per_customer = data.cap_per_customer
    offer.product_ids = [str(p) for p in data.product_ids]
    offer.is_active = data.is_active


def create_offer(s: Session, merchant_id: uuid.UUID, data: OfferIn) -> ProximityOffer:
    stores.get_zone(s, data.zone_id, merchant_id)
    _check_refs(s, merchant_id, data)
    offer = ProximityOffer(merchant_id=merchant_id)
    _apply(offer, data)
    s.add(offer)
    s.flush()
    return offer


def get_offer(s: Session, merchant_id: uuid.UUID, offer_id: uuid.UUID) -> ProximityOffer:
    return get_owned(s, ProximityOffer, merchant_id, offer_id, "offer")


def replace_offer(
    s: Session, merchant_id: uuid.UUID, offer_id: uuid.UUID, data: OfferIn
) -> ProximityOffer:
    offer = get_offer(s, merchant_id, offer_id)
    stores.get_zone(s, data.zone_id, merchant_id)
    _check_refs(s, merchant_id, data)
    _apply(offer, data)
    s.flush()
    return offer


def delete_offer(s: Session, merchant_id: uuid.UUID, offer_id: uuid.UUID) -> None:
    s.delete(get_offer(s, merchant_id, offer_id))
    s.flush()


def list_offers(
    s: Session,
    merchant_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None = None,
    zone_id: uuid.UUID | None = None,
) -> list[ProximityOffer]:
    q = select(ProximityOffer).where(ProximityOffer.merchant_id == merchant_id)
    if zone_id is not None:
        q = q.where(ProximityOffer.zone_id == zone_id)
    if after is not None:
        q = q.where(ProximityOffer.id > after)
    return list(s.scalars(q.order_by(ProximityOffer.id).limit(limit)))


def offer_view(s: Session, offer: ProximityOffer) -> OfferOut:
    zone = stores.get_zone(s, offer.zone_id)
    delivered = s.scalar(
        select(func.count()).select_from(OfferDelivery).where(OfferDelivery.offer_id == offer.id)
    )
    return OfferOut(
        id=offer.id,
        zone_id=offer.zone_id,
        store_id=zone.location_id,
        title=offer.title,
        message=offer.message,
        audience=offer.audience,
        persona_ids=[uuid.UUID(p) for p in offer.persona_ids],
        starts_at=offer.starts_at,
        ends_at=offer.ends_at,
        daily_from=offer.daily_from,
        daily_to=offer.daily_to,
        cap_per_customer=offer.cap_per_customer,
        product_ids=[uuid.UUID(p) for p in offer.product_ids],
        is_active=offer.is_active,
        deliveries=int(delivered or 0),
        created_at=offer.created_at,
        updated_at=offer.updated_at,
    )


# --- delivery on entry ----------------------------------------------------------------------


def _in_daily_window(offer: ProximityOffer, local: dt.datetime) -> bool:
    if offer.daily_from is None or offer.daily_to is None:
        return True
    at = local.hour * 60 + local.minute
    return minutes(offer.daily_from) <= at < minutes(offer.daily_to)


def deliver_on_entry(
    s: Session,
    visit: Visit,
    *,
    now: dt.datetime | None = None,
    marketing: bool | None = None,
) -> list[DeliveredOffer]:
    """The offers that apply to ``visit``'s customer entering its zone now; each is
    recorded as delivered (once per visit) and emits ``o2o.offer_delivered``.
    ``marketing``: the consent, when the caller already looked it up."""
    now = now or utcnow()
    if marketing is None:
        marketing = has_consent(s, visit.user_id, "marketing")
    if not marketing:
        return []
    candidates = list(
        s.scalars(
            select(ProximityOffer)
            .where(
                ProximityOffer.zone_id == visit.zone_id,
                ProximityOffer.is_active.is_(True),
                ProximityOffer.starts_at <= now,
                ProximityOffer.ends_at > now,
            )
            .order_by(ProximityOffer.id)
        )
    )
    if not candidates:
        return []
    store = stores.get_store(s, visit.merchant_id, visit.location_id)
    local = stores.local_now(store.timezone, now)
    member_of: set[uuid.UUID] | None = None
    out: list[DeliveredOffer] = []
    for offer in candidates:
        if not _in_daily_window(offer, local):
            continue
        if offer.audience == OfferAudience.PERSONAS:
            if member_of is None:
                member_of = personas.member_personas(s, visit.merchant_id, [visit.user_id]).get(
                    visit.user_id, set()
                )
            if not member_of & {uuid.UUID(p) for p in offer.persona_ids}:
                continue
        had = s.scalar(
            select(func.count())
            .select_from(OfferDelivery)
            .where(OfferDelivery.offer_id == offer.id, OfferDelivery.user_id == visit.user_id)
        )
        if int(had or 0) >= offer.cap_per_customer:
            continue
        s.add(
            OfferDelivery(
                offer_id=offer.id,
                user_id=visit.user_id,
                merchant_id=visit.merchant_id,
                visit_id=visit.id,
                delivered_at=now,
            )
        )
        emit(
            s,
            OFFER_DELIVERED,
            aggregate_type="proximity_offer",
            aggregate_id=offer.id,
            merchant_id=visit.merchant_id,
            payload={
                "offer_id": str(offer.id),
                "visit_id": str(visit.id),
                "user_id": str(visit.user_id),
                "store_id": str(visit.location_id),
                "zone_id": str(visit.zone_id),
            },
        )
        out.append(
            DeliveredOffer(
                offer_id=offer.id,
                store_id=visit.location_id,
                zone_id=visit.zone_id,
                title=offer.title,
                message=offer.message,
                product_ids=[uuid.UUID(p) for p in offer.product_ids],
                ends_at=offer.ends_at,
            )
        )
    s.flush()
    return out
