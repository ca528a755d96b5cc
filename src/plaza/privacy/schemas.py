"""API shapes for consent, data rights and the audit log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plaza.privacy.models import ConsentState, Purpose
from plaza.schemas import Strict

ConsentSource = Literal["api", "web", "app", "in_store"]


class PurposeOut(BaseModel):
    purpose: Purpose
    description: str
    default: ConsentState = Field(
        ConsentState.WITHDRAWN, description="Opt-in: not granted until the customer grants it."
    )


class ConsentOut(BaseModel):
    purpose: Purpose
    granted: bool
    changed_at: dt.datetime | None = Field(description="Null: never set (not granted).")
    source: str | None


class ConsentsIn(Strict):
    """The purposes to change; purposes left out keep their state."""

    personalisation: bool | None = None
    analytics: bool | None = None
    partner_sharing: bool | None = None
    marketing: bool | None = None
    source: ConsentSource = Field("api", description="Where the customer made the choice.")


class ConsentChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    purpose: Purpose
    state: ConsentState
    source: str
    actor: str
    at: dt.datetime


class ExportSubject(BaseModel):
    user_id: uuid.UUID


class DataExportOut(BaseModel):
    format: Literal["plaza-data-export"]
    format_version: int
    generated_at: dt.datetime
    subject: ExportSubject
    contexts: dict[str, dict[str, Any]] = Field(
        description="One section per context, in the shape that context documents."
    )


class EraseIn(Strict):
    password: str | None = Field(
        None,
        max_length=256,
        description="The account's current password. Accounts without one (single sign-on) "
        "confirm with a bearer token issued in the last 5 minutes instead.",
    )


class ErasureOut(BaseModel):
    user_id: uuid.UUID
    erased_at: dt.datetime
    contexts: dict[str, dict[str, int]] = Field(
        description="Per context, what erasure deleted, pseudonymised or kept."
    )


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    at: dt.datetime
    actor: str = Field(description="`user:<id>` or `api_key:<id>`.")
    actor_kind: str
    actor_role: str
    merchant_id: uuid.UUID | None
    method: str
    route: str
    action: str = Field(description="Method and route template, e.g. `PATCH /merchants/…`.")
    resource_type: str | None
    resource_id: str | None
    path_params: dict[str, str]
    status_code: int
    outcome: Literal["success", "refused", "failed", "error"]
    problem: str | None
    request_id: str
    summary: str
