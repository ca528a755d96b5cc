"""Flow (b): a smart fitting room. The shopper, on their phone, starts a session in a room
by typing a garment's barcode and asks for another size; a member of staff, in another
browser, sees the request appear in the queue (htmx refresh), picks it and brings it; the
shopper's page shows each new status without reloading."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import ContextFactory as Contexts
from .conftest import (
    Demo,
    Server,
    Shot,
    demo_customers,
    hex_uuid,
    query,
    sign_in,
)

# A free, active room and a garment on that store's shelves with another variant in stock.
GARMENT = """
SELECT r.id, r.name, r.merchant_id, r.location_id, v.gtin, p.title
FROM fitting_rooms r
JOIN stock_levels sl ON sl.location_id = r.location_id AND sl.on_hand - sl.reserved > 0
JOIN variants v ON v.id = sl.variant_id AND v.gtin IS NOT NULL AND v.status = 'active'
JOIN products p ON p.id = v.product_id AND p.status = 'active'
WHERE r.is_active = 1
  AND NOT EXISTS (SELECT 1 FROM fitting_sessions fs WHERE fs.room_id = r.id AND fs.status = 'open')
  AND EXISTS (SELECT 1 FROM variants v2 JOIN stock_levels s2 ON s2.variant_id = v2.id
              AND s2.location_id = r.location_id AND s2.on_hand - s2.reserved > 0
              WHERE v2.product_id = p.id AND v2.id != v.id AND v2.status = 'active')
ORDER BY r.code, p.title, v.sku LIMIT 1
"""


def test_size_request_reaches_staff_and_back(
    server: Server, demo: Demo, phone: Contexts, desktop: Contexts, shot: Shot
) -> None:
    rows = query(server, GARMENT)
    assert rows, "the demo world has a fitting room with garments in stock"
    room_id, room_name, merchant_hex, store_hex, gtin, title = rows[0]
    merchant_id, store_id = hex_uuid(merchant_hex), hex_uuid(store_hex)
    admin = next(slug for slug, mid in demo.merchants.items() if mid == merchant_id)

    # The shopper scans the door's QR code (the room's page) and the garment's barcode.
    shopper = phone().new_page()
    sign_in(shopper, demo_customers(server)[0])
    shopper.goto(f"/shop/fitting?room={hex_uuid(room_id)}")
    shopper.get_by_label("Item code").fill(gtin)
    shopper.get_by_role("button", name="Start fitting session").click()
    expect(shopper.get_by_role("heading", level=1)).to_contain_text(room_name)
    expect(shopper.get_by_text(title).first).to_be_visible()
    request_size = shopper.get_by_role("button", name=re.compile(r"^Request size")).first
    request_size.click()
    requests = shopper.locator("#fitting-requests")
    expect(requests).to_contain_text("Requested")
    shot(shopper, "fitting-session")

    # Staff keep the queue open in another browser: the request appears by itself.
    staff = desktop().new_page()
    sign_in(staff, demo.admins[admin], next=f"/staff/{merchant_id}/fitting")
    staff.goto(f"/staff/{merchant_id}/fitting")
    staff.get_by_role("combobox", name=re.compile(r"^Store")).select_option(store_id)
    staff.get_by_role("button", name="Choose store").click()
    queue = staff.locator("#fitting-queue")
    expect(queue).to_contain_text(title, timeout=12_000)  # polled every 5 s
    shot(staff, "staff-fitting-queue")
    staff.get_by_role("button", name=re.compile(rf"^Pick .*{re.escape(title)}")).first.click()
    expect(queue).to_contain_text("Being picked")

    # The shopper's page updates by itself (htmx polling every 5 s).
    expect(requests).to_contain_text("On its way", timeout=12_000)
    staff.get_by_role("button", name=re.compile(rf"^Deliver .*{re.escape(title)}")).first.click()
    expect(requests).to_contain_text("Brought to your room", timeout=12_000)
    shot(shopper, "fitting-delivered")
