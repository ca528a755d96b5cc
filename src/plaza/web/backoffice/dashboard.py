"""The merchant dashboard: revenue and orders over a period (7, 30 or 90 days), sales by
channel, top products (by units and by revenue), stock alerts and the newest orders.

The figures come from ``plaza.ordering.reports`` (sales, aggregated in SQL) and
``plaza.inventory.queries.low_stock_alerts`` (levels at or below their location's
threshold); product and variant names from ``plaza.catalog.lookup``. Charts are
server-rendered SVG with the same numbers as a table (``components/charts.html``)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from plaza.catalog import lookup
from plaza.db import Database
from plaza.deps import get_db
from plaza.identity.auth import MerchantAccess, Principal
from plaza.inventory import queries as stock_queries
from plaza.ordering import reports
from plaza.web.backoffice.common import office_context
from plaza.web.backoffice.orders import STATUS_TONES
from plaza.web.render import page

router = APIRouter(prefix="/back-office/{merchant_id}")

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
ALERTS_SHOWN = 10


def _product_titles(s: Any, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    found = lookup.product_variants(s, product_ids, live_only=False)
    return {pid: refs[0].product_title for pid, refs in found.items() if refs}


@router.get("")
def dashboard(
    request: Request,
    merchant_id: uuid.UUID,
    days: int = Query(DEFAULT_PERIOD, description="7, 30 or 90 (others: 30)."),
    db: Database = Depends(get_db),
    _: Principal = Depends(MerchantAccess()),
) -> Response:
    days = days if days in PERIODS else DEFAULT_PERIOD
    context = office_context(request, merchant_id, "dashboard")
    currency = context["merchant"]["currency"]
    since = reports.period_start(days)
    with db.reading() as s:
        sales = reports.sales_by_channel(s, merchant_id, since)
        by_units = reports.top_products(s, merchant_id, currency, since, by="units")
        by_revenue = reports.top_products(s, merchant_id, currency, since, by="revenue")
        alerts = stock_queries.low_stock_alerts(s, merchant_id, limit=ALERTS_SHOWN)
        recent = reports.recent_orders(s, merchant_id, limit=5)
        titles = _product_titles(s, [p.product_id for p in by_units + by_revenue])
        variants = lookup.variant_refs(s, [a.variant_id for a in alerts])

    main = [row for row in sales if row.currency == currency]
    per_channel = {key: 0 for key in reports.SALES_CHANNELS}
    for row in main:
        per_channel[row.channel] += row.revenue
    others: dict[str, dict[str, int]] = {}
    for row in sales:
        if row.currency != currency:
            bucket = others.setdefault(row.currency, {"orders": 0, "revenue": 0})
            bucket["orders"] += row.orders
            bucket["revenue"] += row.revenue

    def title(p: reports.ProductSales) -> str:
        return titles.get(p.product_id, p.title)

    def variant_label(variant_id: uuid.UUID) -> str:
        ref = variants.get(variant_id)
        if ref is None:
            return str(variant_id)
        label = f"{ref.product_title} — {ref.label}" if ref.label else ref.product_title
        return f"{label} ({ref.sku})"

    context.update(
        days=days,
        periods=[(str(d), f"Last {d} days") for d in PERIODS],
        currency=currency,
        revenue=sum(row.revenue for row in main),
        refunded=sum(row.refunded for row in main),
        order_count=sum(row.orders for row in main),
        channel_bars=[(label, per_channel[key]) for key, label in reports.SALES_CHANNELS.items()],
        channel_rows=[
            {
                "label": reports.SALES_CHANNELS.get(row.channel, row.channel),
                "orders": row.orders,
                "revenue": row.revenue,
            }
            for row in main
        ],
        other_currencies=sorted(others.items()),
        units_bars=[(title(p), p.units) for p in by_units],
        revenue_bars=[(title(p), p.revenue) for p in by_revenue],
        alerts=[
            {
                "label": variant_label(a.variant_id),
                "location": a.location_name,
                "available": a.available,
                "threshold": a.threshold,
            }
            for a in alerts
        ],
        recent=recent,
        tones=STATUS_TONES,
    )
    return page(request, "office/dashboard.html", context)
