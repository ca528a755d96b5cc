"""Demo: a screen at each store entrance with a playlist: two images, product cards
(the merchant's first products), the counter offer; an evening playlist with higher
priority on Thursdays (late shopping)."""

from __future__ import annotations

import random

from sqlalchemy import select

from plaza.catalog.features import product_features
from plaza.db import Database
from plaza.o2o.beacons.models import ProximityOffer
from plaza.o2o.screens import service
from plaza.o2o.screens.models import Screen
from plaza.o2o.screens.schemas import ContentIn, PlaylistIn, ScreenIn
from plaza.o2o.stores.demo import demo_zones
from plaza.o2o.stores.models import ZoneKind

IMAGES = (
    ("Winter collection", "https://images.example.com/plaza/winter.jpg"),
    ("Repair café", "https://images.example.com/plaza/repair.jpg"),
)


def seed(db: Database, rng: random.Random) -> dict[str, int]:
    entrances = [z for z in demo_zones(db) if z.kind == ZoneKind.ENTRANCE]
    counts = {"screens": 0, "screen_content": 0, "playlists": 0}
    with db.transaction() as s:
        if s.scalar(select(Screen.id).limit(1)) is not None:
            return counts  # seeded already
        features = product_features(s)
        for zone in entrances:
            screen, _token = service.create_screen(
                s, zone.merchant_id, ScreenIn(zone_id=zone.id, name=f"{zone.name} screen")
            )
            counts["screens"] += 1
            items = []
            for title, url in IMAGES:
                c = service.create_content(
                    s, zone.merchant_id, ContentIn(kind="image", title=title, url=url)
                )
                items.append(c.id)
            products = [
                f for f in features.values() if f.merchant_id == zone.merchant_id and f.sellable
            ]
            for f in rng.sample(products, min(3, len(products))):
                c = service.create_content(
                    s,
                    zone.merchant_id,
                    ContentIn(
                        kind="product", title=f.title[:100], product_id=f.id, duration_seconds=8
                    ),
                )
                items.append(c.id)
            offer = s.scalar(
                select(ProximityOffer.id)
                .where(ProximityOffer.merchant_id == zone.merchant_id)
                .order_by(ProximityOffer.id)
                .limit(1)
            )
            if offer is not None:
                c = service.create_content(
                    s, zone.merchant_id, ContentIn(kind="offer", title="Offer", offer_id=offer)
                )
                items.append(c.id)
            counts["screen_content"] += len(items)
            service.create_playlist(
                s, zone.merchant_id, PlaylistIn(name="All day", items=items, screen_ids=[screen.id])
            )
            service.create_playlist(
                s,
                zone.merchant_id,
                PlaylistIn(
                    name="Late shopping",
                    priority=10,
                    days=["thu"],
                    daily_from="18:00",
                    daily_to="21:00",
                    items=list(reversed(items)),
                    screen_ids=[screen.id],
                ),
            )
            counts["playlists"] += 2
    return counts
