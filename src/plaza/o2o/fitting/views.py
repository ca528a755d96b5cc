"""Build the fitting-room answers: each item with its product's other sizes and colours
and the store's stock of each (call inside the unit of work)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from plaza.catalog import lookup as catalog
from plaza.o2o.fitting import service
from plaza.o2o.fitting.models import FittingItem, FittingSession, SizeRequest
from plaza.o2o.fitting.schemas import (
    AlternativeOut,
    FittingItemOut,
    FittingSessionOut,
    SizeRequestOut,
)


def _differs(a: dict[str, object], b: dict[str, object]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def requests_out(s: Session, reqs: Iterable[SizeRequest]) -> list[SizeRequestOut]:
    reqs = list(reqs)
    refs = catalog.variant_refs(s, [r.variant_id for r in reqs])
    stock: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    rooms: dict[uuid.UUID, str] = {}
    out = []
    for r in reqs:
        key = (r.location_id, r.variant_id)
        if key not in stock:
            stock[key] = service.stock_at(s, r.location_id, [r.variant_id])[r.variant_id]
        if r.room_id not in rooms:
            room = service.room_of(s, r.room_id)
            rooms[r.room_id] = room.code if room else ""
        ref = refs.get(r.variant_id)
        out.append(
            SizeRequestOut(
                id=r.id,
                session_id=r.session_id,
                store_id=r.location_id,
                room_id=r.room_id,
                room_code=rooms[r.room_id],
                variant_id=r.variant_id,
                title=ref.product_title if ref else "",
                label=ref.label if ref else "",
                item_id=r.item_id,
                status=r.status,
                note=r.note,
                in_store=stock[key],
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
        )
    return out


def session_out(s: Session, fs: FittingSession) -> FittingSessionOut:
    items: list[FittingItem] = service.session_items(s, fs.id)
    refs = catalog.variant_refs(s, [i.variant_id for i in items])
    siblings = catalog.product_variants(s, {i.product_id for i in items})
    every = {i.variant_id for i in items} | {v.variant_id for vs in siblings.values() for v in vs}
    stock = service.stock_at(s, fs.location_id, every)
    out_items = []
    for item in items:
        ref = refs.get(item.variant_id)
        own = dict(ref.option_values) if ref else {}
        out_items.append(
            FittingItemOut(
                id=item.id,
                variant_id=item.variant_id,
                product_id=item.product_id,
                title=ref.product_title if ref else "",
                label=ref.label if ref else "",
                sku=ref.sku if ref else "",
                gtin=item.gtin,
                serial=None if item.serial.startswith("request:") else (item.serial or None),
                option_values=own,
                image_url=ref.image_url if ref else None,
                source=item.source,
                code_kind=item.code_kind,
                added_at=item.added_at,
                in_store=stock.get(item.variant_id, 0),
                bought=item.bought,
                bought_via=item.bought_via,
                alternatives=[
                    AlternativeOut(
                        variant_id=v.variant_id,
                        label=v.label,
                        option_values=v.option_values,
                        differs_in=_differs(own, v.option_values),
                        in_store=stock.get(v.variant_id, 0),
                    )
                    for v in siblings.get(item.product_id, [])
                    if v.variant_id != item.variant_id
                ],
            )
        )
    room = service.room_of(s, fs.room_id)
    return FittingSessionOut(
        id=fs.id,
        merchant_id=fs.merchant_id,
        store_id=fs.location_id,
        room_id=fs.room_id,
        room_code=room.code if room else "",
        zone_id=fs.zone_id,
        customer_id=fs.customer_id,
        status=fs.status,
        opened_at=fs.opened_at,
        closed_at=fs.closed_at,
        items=out_items,
        requests=requests_out(s, service.session_requests(s, fs.id)),
        tried_count=len({i.variant_id for i in items}),
        bought_count=len({i.variant_id for i in items if i.bought}),
    )
