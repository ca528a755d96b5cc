"""Optimistic concurrency over HTTP: a resource's ``version`` as its ETag, ``If-Match`` to
refuse a write based on a stale read (409 from the service when the version moved)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol, TypeVar

from fastapi import Header, Response

from plaza.errors import VALIDATION, ProblemError

_ETAG = re.compile(r'\s*(?:W/)?"?(\d{1,10})"?\s*')


class Versioned(Protocol):
    version: int


V = TypeVar("V", bound=Versioned)


def if_match(resource: str) -> Callable[..., int | None]:
    """A dependency reading ``If-Match`` as the ``resource`` version the client last read
    (``None`` when absent or ``*``: the write does not depend on a read)."""

    def dependency(
        value: str | None = Header(
            None,
            alias="If-Match",
            max_length=64,
            description=f'The {resource} `version` you last read, as an ETag (`"3"`); '
            "409 if stale.",
        ),
    ) -> int | None:
        if value is None or value.strip() == "*":
            return None
        m = _ETAG.fullmatch(value)
        if m is None:
            raise ProblemError(
                VALIDATION,
                f'If-Match takes the {resource} version as an ETag, e.g. "3"',
                errors=[{"loc": ["header", "If-Match"], "msg": "expected a version ETag"}],
            )
        return int(m.group(1))

    return dependency


def with_etag(response: Response, body: V) -> V:
    response.headers["ETag"] = f'"{body.version}"'
    return body
