"""The storefront's home page: "Picked for you" for a signed-in customer who allows
personalisation (the recommendations' for-you, each with its reason), otherwise what is
popular and what is new; and a row of categories."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.catalog.search import ProductQuery
from plaza.db import Database
from plaza.deps import get_db
from plaza.identity.auth import Principal, Public
from plaza.personas.recommend import service as recommend
from plaza.privacy.service import has_consent
from plaza.web.render import page
from plaza.web.shop.catalog import DEFAULT_CURRENCY, cards

router = APIRouter(prefix="/shop")

PICKS = 12
ROW = 8
CATEGORY_ROW = 12


def _popular(s: Session, limit: int) -> list[uuid.UUID]:
    """The most bought products lately (the popularity the recommendations use)."""
    scores = recommend.popularity(s)
    return [pid for pid, _ in sorted(scores.items(), key=lambda kv: (-kv[1], str(kv[0])))][
        : limit
        * 3  # some may no longer be on sale: summaries drop those
    ]


@router.get("")
def home(
    request: Request, db: Database = Depends(get_db), p: Principal = Depends(Public())
) -> Response:
    currency = DEFAULT_CURRENCY
    picks: list[dict[str, object]] = []
    popular: list[dict[str, object]] = []
    with db.reading() as s:
        personalised = (
            p.kind == "user"
            and p.user_id is not None
            and has_consent(s, p.user_id, "personalisation")
        )
        if personalised and p.user_id is not None:
            answer = recommend.for_you(s, p.user_id, limit=PICKS)
            found = recommend.summaries(s, [r.product_id for r in answer.items], currency)
            items = [found[r.product_id] for r in answer.items if r.product_id in found]
            reasons = {r.product_id: r.reason.capitalize() for r in answer.items}
            picks = cards(s, request, items, reasons)
        else:
            found = recommend.summaries(s, _popular(s, ROW), currency)
            popular = cards(s, request, list(found.values())[:ROW])
        newest = catalog.search_storefront(s, ProductQuery(currency=currency, limit=ROW))
        new_in = cards(s, request, newest.items)
        roots = catalog.list_categories(s, tree=True, limit=CATEGORY_ROW, cursor=None)
    return page(
        request,
        "shop/home.html",
        {
            "personalised": personalised,
            "picks": picks,
            "popular": popular,
            "new_in": new_in,
            "categories": roots.items,
            "more_categories": roots.next_cursor is not None,
        },
    )
