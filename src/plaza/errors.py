"""RFC 9457 problem details: one exception type, a catalogue of stable problem types.

Every error Plaza returns is ``application/problem+json`` whose ``type`` is a stable URI
``/problems/<slug>`` (served by the app, so it dereferences to its documentation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEM_BASE = "/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    title: str
    status: int
    description: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


CATALOGUE: dict[str, ProblemType] = {}


def problem_type(slug: str, title: str, status: int, description: str) -> ProblemType:
    if slug in CATALOGUE:
        raise ValueError(f"problem type {slug!r} registered twice")
    pt = ProblemType(slug, title, status, description)
    CATALOGUE[slug] = pt
    return pt


# Generic types used across contexts; contexts register their own next to their services.
VALIDATION = problem_type(
    "validation-error",
    "Request validation failed",
    422,
    "A field is missing, has the wrong type, or is out of range. `errors` lists each one.",
)
MALFORMED_JSON = problem_type(
    "malformed-json", "Malformed JSON body", 400, "The request body is not valid JSON."
)
NOT_FOUND = problem_type(
    "not-found",
    "Resource not found",
    404,
    "The resource does not exist, or the caller may not see it.",
)
UNAUTHENTICATED = problem_type(
    "unauthenticated",
    "Authentication required",
    401,
    "No valid bearer token or API key was presented.",
)
FORBIDDEN = problem_type(
    "forbidden", "Not allowed", 403, "The caller is authenticated but lacks the required role."
)
CONFLICT = problem_type(
    "conflict", "Conflict", 409, "The request conflicts with the current state of the resource."
)
METHOD_NOT_ALLOWED = problem_type(
    "method-not-allowed", "Method not allowed", 405, "The HTTP method is not supported here."
)
PAYLOAD_TOO_LARGE = problem_type(
    "payload-too-large",
    "Request body too large",
    413,
    "The request body exceeds the configured maximum size.",
)
UNSUPPORTED_MEDIA_TYPE = problem_type(
    "unsupported-media-type", "Unsupported media type", 415, "Send `application/json` bodies."
)
INVALID_CURSOR = problem_type(
    "invalid-cursor",
    "Invalid pagination cursor",
    400,
    "The cursor is malformed or belongs to another listing; start again without a cursor.",
)
IDEMPOTENCY_KEY_REUSED = problem_type(
    "idempotency-key-reused",
    "Idempotency key reused with a different request",
    422,
    "An Idempotency-Key may only be replayed with the same method, path and body.",
)
IDEMPOTENCY_KEY_INVALID = problem_type(
    "idempotency-key-invalid",
    "Invalid Idempotency-Key",
    400,
    "Idempotency keys are 1 to 255 visible ASCII characters.",
)
IDEMPOTENCY_IN_PROGRESS = problem_type(
    "idempotency-in-progress",
    "A request with this Idempotency-Key is in progress",
    409,
    "Retry after the first request finishes; it will then be replayed.",
)
INTERNAL = problem_type(
    "internal-error",
    "Internal server error",
    500,
    "An unexpected error; nothing was committed. The incident is logged with `instance`.",
)


class ProblemError(Exception):
    """Raise anywhere in a service; the app turns it into a problem+json response."""

    def __init__(
        self,
        kind: ProblemType,
        detail: str | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or kind.title)
        self.kind = kind
        self.detail = detail or kind.title
        self.status = status or kind.status
        self.headers = headers or {}
        self.extensions = extensions

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.kind.uri,
            "title": self.kind.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


def not_found(what: str, ident: object) -> ProblemError:
    return ProblemError(NOT_FOUND, f"{what} {ident} not found", resource=what)
