"""HTTP endpoints of the inventory context."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["inventory"])
