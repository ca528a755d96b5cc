"""What every store staff page shows around its content."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from plaza.identity import service as identity


def staff_context(request: Request, merchant_id: uuid.UUID, section: str) -> dict[str, Any]:
    with request.app.state.db.reading() as s:
        merchant = identity.get_merchant(s, merchant_id)
        return {
            "merchant": {
                "id": merchant.id,
                "name": merchant.name,
                "currency": merchant.default_currency,
            },
            "section": section,
        }
