"""HTTP endpoints of the catalog context."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["catalog"])
