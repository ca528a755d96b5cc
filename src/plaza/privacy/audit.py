"""The audit log: who did what to which record, for staff, platform admins and partners.

``AuditMiddleware`` records every state-changing request (POST, PUT, PATCH, DELETE) made
by an authenticated caller on a route whose access rule is not a customer-facing one
(public, customer, cart holder), and every state-changing request made with a partner API
key anywhere. It works from the matched route and the resolved principal after the
response status is known, so an endpoint added later is audited without any code of its
own. Successful writes and refused or failed attempts (403, 404, 409, 422, 5xx) are all
recorded; anonymous attempts (401) are not, as they name nobody.

The row is written in its own transaction right after the request's own transaction has
committed and the response is sent. A crash in that gap loses the row: the log is a
record of requests, not a replacement for each context's own history (order history,
stock movements), which commit with the change itself.

Rows hold no personal data: actors are ``user:<uuid>`` / ``api_key:<uuid>``, and request
bodies and error details (which may quote an email) are never stored. Triggers installed
by migration 0003 make the table append-only on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plaza.db import Database
from plaza.errors import PROBLEM_BASE
from plaza.identity.auth import Principal, api_routes, route_access
from plaza.pagination import Page, PageParams, newest_first
from plaza.privacy import registry
from plaza.privacy.models import AuditEvent
from plaza.privacy.registry import Subject

log = logging.getLogger(__name__)
T = TypeVar("T")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Access rules of routes that serve customers and the public: their writes are the
# customers' own business (orders carry their own history). Every other rule, including
# any added later, marks a staff, admin or partner route and is audited.
CUSTOMER_RULES = frozenset({"public", "customer", "cart-holder"})
MAX_CAPTURED_BODY = 65_536
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class RouteInfo:
    template: str
    staff_route: bool


def _route_table(app: Any) -> dict[int, RouteInfo]:
    """Route object id -> its served template and whether its rule is a staff rule. Built
    once per app from the effective routes (router prefixes applied)."""
    table: dict[int, RouteInfo] | None = getattr(app.state, "audit_routes", None)
    if table is None:
        table = {}
        for context in api_routes(app.routes):
            labels = {rule.label for rule in route_access(context)}
            table[id(context.original_route)] = RouteInfo(
                template=context.path_format or "", staff_route=bool(labels - CUSTOMER_RULES)
            )
        app.state.audit_routes = table
    return table


def _singular(segment: str) -> str:
    word = segment.replace("-", "_")
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def resource_of(
    template: str, params: dict[str, str], created_id: str | None
) -> tuple[str | None, str | None]:
    """The record a request acted on, from the route template: the last path parameter,
    named after the collection segment before it (``/api-keys/{key_id}`` -> ``api_key``);
    or, for a create under a collection, the collection and the new record's id."""
    segments = [seg for seg in template.strip("/").split("/") if seg]
    last_param: int | None = None
    for i, seg in enumerate(segments):
        if seg.startswith("{") and seg.endswith("}"):
            last_param = i
    trailing = segments[last_param + 1 :] if last_param is not None else segments
    if created_id is not None and trailing and created_id not in params.values():
        return _singular(trailing[-1]), created_id
    if last_param is None:
        return (_singular(segments[-1]) if segments else None), created_id
    name = segments[last_param][1:-1]
    before = segments[last_param - 1] if last_param > 0 else ""
    kind = _singular(before) if before and not before.startswith("{") else name
    return kind.removesuffix("_id"), params.get(name)


def _outcome(status: int) -> str:
    if status < 400:
        return "success"
    if status in (401, 403):
        return "refused"
    return "failed" if status < 500 else "error"


def _role(principal: Principal, merchant_id: uuid.UUID | None) -> str:
    if principal.kind == "api_key":
        return "api_key"
    if principal.is_platform_admin:
        return "platform_admin"
    held = principal.memberships.get(merchant_id) if merchant_id else None
    return held.value if held is not None else "none"


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def audit_entry(
    scope: Scope,
    status: int,
    response_headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> dict[str, Any] | None:
    """The audit row for a finished request, or ``None`` when it is not audited."""
    if scope.get("method") not in WRITE_METHODS:
        return None
    principal = (scope.get("state") or {}).get("principal")
    if not isinstance(principal, Principal) or not principal.is_authenticated:
        return None
    route = scope.get("route")
    app = scope.get("app")
    if route is None or app is None:
        return None
    info = _route_table(app).get(id(route))
    if info is None:
        return None
    if not info.staff_route and principal.kind != "api_key":
        return None
    params = {str(k): str(v)[:100] for k, v in (scope.get("path_params") or {}).items()}
    merchant_id: uuid.UUID | None = None
    try:
        merchant_id = uuid.UUID(params["merchant_id"])
    except (KeyError, ValueError):
        merchant_id = principal.api_key_merchant_id
    parsed: Any = None
    if body:
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            parsed = None
    problem = None
    created_id = None
    if isinstance(parsed, dict):
        kind = parsed.get("type")
        if status >= 400 and isinstance(kind, str) and kind.startswith(PROBLEM_BASE):
            problem = kind.removeprefix(PROBLEM_BASE)[:100]
        elif status < 300 and scope["method"] == "POST" and isinstance(parsed.get("id"), str):
            created_id = parsed["id"][:64]
    resource_type, resource_id = resource_of(info.template, params, created_id)
    method = str(scope["method"])
    request_id = _header(response_headers, b"x-request-id") or _header(
        list(scope.get("headers") or []), b"x-request-id"
    )
    if request_id is None or not REQUEST_ID.match(request_id):
        request_id = uuid.uuid4().hex
    outcome = _outcome(status)
    what = f"{resource_type or 'record'} {resource_id or ''}".strip()
    summary = f"{method} {what}: {status}" + (f" {problem}" if problem else "")
    return {
        "actor": principal.actor,
        "actor_kind": principal.kind,
        "actor_role": _role(principal, merchant_id),
        "merchant_id": merchant_id,
        "method": method,
        "route": info.template[:300],
        "action": f"{method} {info.template}"[:320],
        "resource_type": resource_type[:50] if resource_type else None,
        "resource_id": resource_id[:64] if resource_id else None,
        "path_params": params,
        "status_code": status,
        "outcome": outcome,
        "problem": problem,
        "request_id": request_id,
        "summary": summary[:300],
    }


def record(s: Session, **fields: Any) -> AuditEvent:
    """Append one audit row (the middleware's writer; also for non-HTTP actions)."""
    row = AuditEvent(**fields)
    s.add(row)
    s.flush()
    return row


def _write(db: Database, entry: dict[str, Any]) -> None:
    try:
        with db.transaction() as s:
            record(s, **entry)
    except Exception:  # the response is already sent; never lose the error, though
        log.exception("could not write audit event %s", entry.get("action"))


class AuditMiddleware:
    """Pure ASGI middleware: watches the response, then appends the audit row."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # so the principal the route resolves lands here
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0

        async def watch(message: Message) -> None:
            nonlocal status, headers, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or [])
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if size + len(chunk) <= MAX_CAPTURED_BODY:
                    chunks.append(chunk)
                size += len(chunk)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            await self._finish(scope, 500, headers, b"")
            raise
        await self._finish(
            scope, status, headers, b"".join(chunks) if size <= MAX_CAPTURED_BODY else b""
        )

    async def _finish(
        self, scope: Scope, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        try:
            entry = audit_entry(scope, status, headers, body)
        except Exception:
            log.exception("could not build audit event for %s", scope.get("path"))
            return
        if entry is None:
            return
        db: Database = scope["app"].state.db
        await anyio.to_thread.run_sync(_write, db, entry)


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class AuditFilter:
    merchant_id: uuid.UUID | None = None
    actor: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: Any = None
    until: Any = None

    def listing(self) -> str:
        """Names the listing with its filters, so a cursor only pages the query it came from."""
        return "audit:" + json.dumps(
            [str(v) if v is not None else None for v in self.__dict__.values()],
            separators=(",", ":"),
        )


def list_events(
    s: Session, f: AuditFilter, page: PageParams, to_item: Callable[[AuditEvent], T]
) -> Page[T]:
    """Audit events matching ``f``, newest first (keyset-paginated)."""
    q = select(AuditEvent)
    if f.merchant_id is not None:
        q = q.where(AuditEvent.merchant_id == f.merchant_id)
    if f.actor is not None:
        q = q.where(AuditEvent.actor == f.actor)
    if f.action is not None:
        q = q.where(AuditEvent.action == f.action)
    if f.resource_type is not None:
        q = q.where(AuditEvent.resource_type == f.resource_type)
    if f.resource_id is not None:
        q = q.where(AuditEvent.resource_id == f.resource_id)
    if f.since is not None:
        q = q.where(AuditEvent.at >= f.since)
    if f.until is not None:
        q = q.where(AuditEvent.at < f.until)
    return newest_first(s, q, AuditEvent.id, page, f.listing(), to_item)


# ---------------------------------------------------------------- data rights


def export_audit(s: Session, subject: Subject) -> dict[str, Any]:
    """The actions the person took as staff (their own activity is their data too)."""
    rows = s.scalars(
        select(AuditEvent).where(AuditEvent.actor == subject.actor).order_by(AuditEvent.id)
    )
    return {
        "actions": [
            {
                "at": r.at,
                "merchant_id": r.merchant_id,
                "action": r.action,
                "resource_type": r.resource_type,
                "resource_id": r.resource_id,
                "status_code": r.status_code,
            }
            for r in rows
        ]
    }


def erase_audit(s: Session, subject: Subject) -> dict[str, int]:
    """Nothing to erase: the rows name the account only by its random id, which after
    erasure points at an empty account. Append-only, so the count is all we report."""
    kept = s.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.actor == subject.actor)
    )
    return {"audit_events_kept_pseudonymous": int(kept or 0)}


registry.register(
    "audit",
    export=export_audit,
    erase=erase_audit,
    tables=(),
    keeps_reference=["audit_events"],
    order=60,
)
