"""Beacons' part of data rights: a customer's store visits and the proximity offers
shown to them. Raw sightings are never stored.

Export lists both; erasure deletes both (nothing here must be kept). The events that
named the customer are scrubbed by the platform handler, as everywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plaza.o2o.beacons.models import OfferDelivery, ProximityOffer, Visit
from plaza.privacy import registry
from plaza.privacy.registry import Subject


def export_visits(s: Session, subject: Subject) -> dict[str, Any]:
    visits = s.scalars(
        select(Visit).where(Visit.user_id == subject.user_id).order_by(Visit.started_at)
    )
    deliveries = s.execute(
        select(OfferDelivery, ProximityOffer.title, ProximityOffer.message)
        .join(ProximityOffer, ProximityOffer.id == OfferDelivery.offer_id)
        .where(OfferDelivery.user_id == subject.user_id)
        .order_by(OfferDelivery.delivered_at)
    ).all()
    return {
        "store_visits": [
            {
                "id": v.id,
                "merchant_id": v.merchant_id,
                "store_id": v.location_id,
                "zone_id": v.zone_id,
                "started_at": v.started_at,
                "last_seen_at": v.last_seen_at,
                "dwelled_at": v.dwelled_at,
                "ended_at": v.ended_at,
            }
            for v in visits
        ],
        "offers_received": [
            {
                "offer_id": d.offer_id,
                "merchant_id": d.merchant_id,
                "title": title,
                "message": message,
                "delivered_at": d.delivered_at,
            }
            for d, title, message in deliveries
        ],
    }


def erase_visits(s: Session, subject: Subject) -> dict[str, int]:
    ids = list(s.scalars(select(Visit.id).where(Visit.user_id == subject.user_id)))
    subject.relate(*ids)  # events naming a visit concern the person
    offers = s.execute(delete(OfferDelivery).where(OfferDelivery.user_id == subject.user_id))
    visits = s.execute(delete(Visit).where(Visit.user_id == subject.user_id))
    return {
        "offer_deliveries_deleted": int(getattr(offers, "rowcount", 0) or 0),
        "visits_deleted": int(getattr(visits, "rowcount", 0) or 0),
    }


registry.register(
    "o2o-beacons",
    export=export_visits,
    erase=erase_visits,
    tables=["store_visits", "offer_deliveries"],
    not_personal={
        "proximity_offers": "a merchant's offer; `cap_per_customer` is a number, not a person",
    },
)
