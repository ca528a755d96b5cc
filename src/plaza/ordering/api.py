"""HTTP endpoints of the ordering context."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["ordering"])
