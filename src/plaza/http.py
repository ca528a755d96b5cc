"""HTTP plumbing shared by every router: problem+json handlers and the body limit.

Security headers, CSRF and rate limits live in ``plaza.security``."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plaza.errors import (
    CATALOGUE,
    FORBIDDEN,
    INTERNAL,
    MALFORMED_JSON,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    PROBLEM_MEDIA_TYPE,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION,
    ProblemError,
    problem_type,
)

log = logging.getLogger("plaza.http")

HEADERS_TOO_LARGE = problem_type(
    "headers-too-large",
    "Request headers too large",
    431,
    "The request's header section exceeds the configured maximum size (cookies included).",
)


def problem_response(exc: ProblemError, request: Request | None = None) -> Response:
    """The problem as JSON; as a page when the web pages installed a renderer
    (``app.state.problem_page``) and it takes this request (a browser on a page path)."""
    renderer = getattr(request.app.state, "problem_page", None) if request is not None else None
    if renderer is not None:
        page = renderer(request, exc)
        if page is not None:
            return page
    instance = request.url.path if request is not None else None
    return JSONResponse(
        exc.to_dict(instance),
        status_code=exc.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=exc.headers,
    )


def _clean_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """Validation errors without echoing large or sensitive input back."""
    out = []
    for e in errors:
        item = {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        ctx = e.get("ctx")
        if ctx:
            item["ctx"] = {k: str(v) for k, v in ctx.items()}
        out.append(item)
    return out


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(exc, request)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(ProblemError(MALFORMED_JSON, "the body is not valid JSON"), request)
    # FastAPI leaves a body sent without a JSON content type unparsed, which would read as
    # "the body is not an object"; the real problem is the media type.
    body_unparsed = any(
        tuple(e.get("loc", ())) == ("body",) and e.get("type") != "missing" for e in errors
    )
    if body_unparsed and not _is_json(request.headers.get("content-type")):
        return problem_response(
            ProblemError(UNSUPPORTED_MEDIA_TYPE, "send the body as application/json"), request
        )
    return problem_response(
        ProblemError(VALIDATION, "the request has invalid fields", errors=_clean_errors(errors)),
        request,
    )


class ProblemHTTPException(StarletteHTTPException):
    """A problem raised from ASGI plumbing (the request body stream). FastAPI re-raises HTTP
    exceptions met while reading a body but turns any other into a generic 400."""

    def __init__(self, problem: ProblemError) -> None:
        super().__init__(problem.status, problem.detail, problem.headers or None)
        self.problem = problem


_STATUS_TYPES = {
    # FastAPI's own 400 means the body could not be read or decoded.
    400: MALFORMED_JSON,
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, ProblemHTTPException):
        return problem_response(exc.problem, request)
    kind = _STATUS_TYPES.get(exc.status_code)
    if kind is None:
        if exc.status_code == 409:
            kind = CATALOGUE["conflict"]
        else:
            kind = INTERNAL if exc.status_code >= 500 else VALIDATION
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(
        ProblemError(kind, detail, status=exc.status_code, headers=dict(exc.headers or {})), request
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    incident = uuid.uuid4().hex
    log.exception("unhandled error, incident %s", incident, exc_info=exc)
    return problem_response(
        ProblemError(INTERNAL, f"incident {incident}", incident=incident), request
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` (declared or streamed) with 413 problem+json."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await self._reject(scope, receive, send)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise ProblemHTTPException(self._problem())
            return message

        await self.app(scope, limited, send)

    def _problem(self) -> ProblemError:
        return ProblemError(
            PAYLOAD_TOO_LARGE, f"the limit is {self.max_bytes} bytes", limit=self.max_bytes
        )

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem_response(self._problem())(scope, receive, send)


class HeaderLimitMiddleware:
    """Refuse requests whose header section is over ``max_bytes`` with 431 problem+json.

    uvicorn's default HTTP parser (httptools) accepts headers of any size; this keeps the
    app from processing them. The memory to receive them is the front proxy's to bound."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # As on the wire: "name: value\r\n" per field.
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_bytes:
                problem = ProblemError(
                    HEADERS_TOO_LARGE, f"the limit is {self.max_bytes} bytes", limit=self.max_bytes
                )
                await problem_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)
