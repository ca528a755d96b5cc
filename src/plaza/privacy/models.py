"""Privacy tables: the consent history and the append-only audit log."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, IdMixin, str_enum, utcnow


class Purpose(enum.StrEnum):
    """What a customer's personal data may be used for beyond running their orders."""

    PERSONALISATION = "personalisation"
    ANALYTICS = "analytics"
    PARTNER_SHARING = "partner_sharing"
    MARKETING = "marketing"


class ConsentState(enum.StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentRecord(IdMixin, Base):
    """One change of one purpose for one customer. Rows are only ever added (the history);
    the current state is the newest row (UUIDv7 ids order them), no row means withdrawn."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_user_purpose", "user_id", "purpose", "id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[Purpose] = mapped_column(str_enum(Purpose))
    state: Mapped[ConsentState] = mapped_column(str_enum(ConsentState))
    # Where it was given or withdrawn (api, web, app, in_store) and who recorded it.
    source: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEvent(IdMixin, Base):
    """Who did what to which record: one row per state-changing request by staff, platform
    admins or partner API keys. Append-only: database triggers refuse UPDATE and DELETE
    (migration 0003). Holds no personal data: actors are ``user:<uuid>`` / ``api_key:<uuid>``
    references, and neither request bodies nor error details are stored."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_merchant", "merchant_id", "id"),
        Index("ix_audit_events_actor", "actor", "id"),
        Index("ix_audit_events_resource", "resource_type", "resource_id"),
    )

    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    actor_kind: Mapped[str] = mapped_column(String(20))  # user | api_key
    # platform_admin | merchant_admin | merchant_staff | api_key | none (refused outsider)
    actor_role: Mapped[str] = mapped_column(String(20))
    # No foreign key: the log outlives whatever it names and must never block a delete.
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    method: Mapped[str] = mapped_column(String(10))
    route: Mapped[str] = mapped_column(String(300))  # the route template, not the raw path
    action: Mapped[str] = mapped_column(String(320), index=True)  # "METHOD route"
    resource_type: Mapped[str | None] = mapped_column(String(50), default=None)
    resource_id: Mapped[str | None] = mapped_column(String(64), default=None)
    path_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status_code: Mapped[int] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(10))  # success | refused | failed
    problem: Mapped[str | None] = mapped_column(String(100), default=None)
    request_id: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(300), default="")
