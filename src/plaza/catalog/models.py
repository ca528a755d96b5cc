"""Tables of the catalog context."""

from __future__ import annotations
