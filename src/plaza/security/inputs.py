"""Limits on the shape of JSON bodies, for every endpoint at once.

Schemas bound each field (string lengths, list sizes, number ranges), but two properties
of a body are best checked once, before any schema sees it:

- **nesting depth** (``PLAZA_MAX_JSON_DEPTH``, 32 levels): a deep enough body exhausts the
  recursion of whatever walks it (a validator, a serializer) and turns into a 500;
- **NUL characters** in any string or key: PostgreSQL text cannot store them, so they would
  be a 500 there and silently accepted on SQLite.

Both answer ``422 validation-error`` (error types ``json_too_deep`` and ``string_nul``).
The check is an app-wide dependency, so it runs after FastAPI has parsed the body and
before validation; it reads the raw body first, so an ordinary body costs two byte scans.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from plaza.errors import VALIDATION, ProblemError
from plaza.security.headers import UNSAFE_METHODS

# A \u0000 escape that is not itself an escaped backslash followed by "u0000". JSON can
# carry NUL only this way (raw control characters are invalid JSON), so the raw body
# tells without walking the parsed value.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def has_nul(raw: bytes) -> bool:
    """Whether a JSON text holds a NUL character in any string or key."""
    return b"\\u0000" in raw and _NUL_ESCAPE.search(raw) is not None


def too_deep(value: Any, max_depth: int) -> bool:
    """Whether containers nest deeper than ``max_depth`` levels (the top one is level 1).
    Iterative and container-only, so it is cheap and cannot run out of stack itself."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


async def guard_json_body(request: Request) -> None:
    """App-wide dependency: refuse JSON bodies nested too deeply or holding NUL."""
    route = request.scope.get("route")
    if (
        request.method not in UNSAFE_METHODS
        or not isinstance(route, APIRoute)
        or route.body_field is None
        or "json" not in request.headers.get("content-type", "")
    ):
        return
    raw = await request.body()  # read by FastAPI already
    max_depth: int = request.app.state.settings.max_json_depth
    problem: tuple[str, str] | None = None
    if has_nul(raw):
        problem = "text may not contain NUL characters (\\u0000)", "string_nul"
    elif raw.count(b"[") + raw.count(b"{") > max_depth:  # else it cannot be too deep
        try:
            body = await request.json()  # parsed and cached by FastAPI already
        except Exception:  # FastAPI answers an unparsable body itself
            return
        if too_deep(body, max_depth):
            problem = f"nested deeper than {max_depth} levels", "json_too_deep"
    if problem is not None:
        raise ProblemError(
            VALIDATION,
            "the request has invalid fields",
            errors=[{"loc": ["body"], "msg": problem[0], "type": problem[1]}],
        )
