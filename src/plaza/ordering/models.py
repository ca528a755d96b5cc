"""Tables of the ordering context."""

from __future__ import annotations
