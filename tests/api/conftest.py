"""Fixtures for the schema fuzz."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy (fixture-loaded) schemas read ``Node._nodeid``, which pytest
    9.2 no longer has; give the node the attribute it reads (and then sets per operation)."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
