"""Erasure for the platform's own plumbing: the outbox and idempotency records.

Both keep copies of what the contexts wrote: event payloads name customers
(``order.*`` carries ``customer_id``), and a stored idempotent response can hold a whole
order with its email and shipping address. This handler runs after every context's, so
it knows everything they found (``Subject.identifiers``):

- outbox events that concern the person (their id or one of their emails appears) are
  scrubbed in place: the id becomes null, emails the pseudonym, names and streets empty.
  Events are kept, since delivery to subscribers may still be pending;
- the person's own idempotency records are deleted (their account can no longer retry),
  and other callers' records that mention them are scrubbed in place, not deleted, so a
  merchant's retried refund still replays instead of refunding twice.

Nothing here is exported: these rows repeat what the contexts export.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, cast, delete, or_, select
from sqlalchemy.orm import Session

from plaza.events import OutboxEvent
from plaza.idempotency import IdempotencyRecord
from plaza.privacy import registry
from plaza.privacy.registry import ERASED, Subject


def _mentions(column: Any, needles: list[str]) -> ColumnElement[bool]:
    return or_(*[cast(column, Text).contains(n, autoescape=True) for n in needles])


def erase_platform(s: Session, subject: Subject) -> dict[str, int]:
    needles = subject.mentions()
    ids = [str(subject.user_id), subject.user_id.hex]
    events = list(
        s.scalars(
            select(OutboxEvent).where(
                or_(OutboxEvent.aggregate_id.in_(ids), _mentions(OutboxEvent.payload, needles))
            )
        )
    )
    for event in events:
        if event.aggregate_id in ids:
            event.aggregate_id = ERASED
        event.payload = subject.scrub(dict(event.payload))

    own = s.execute(
        delete(IdempotencyRecord).where(
            or_(
                IdempotencyRecord.scope == subject.actor,
                IdempotencyRecord.scope.startswith(subject.actor + "/", autoescape=True),
            )
        )
    )
    others = list(
        s.scalars(
            select(IdempotencyRecord).where(
                or_(
                    _mentions(IdempotencyRecord.response, needles),
                    _mentions(IdempotencyRecord.recovery, needles),
                )
            )
        )
    )
    for record in others:
        if record.response is not None:
            record.response = subject.scrub(dict(record.response))
        record.recovery = subject.scrub(dict(record.recovery))
    s.flush()
    return {
        "events_scrubbed": len(events),
        "idempotency_records_deleted": int(getattr(own, "rowcount", 0) or 0),
        "idempotency_records_scrubbed": len(others),
    }


registry.register(
    "platform",
    export=lambda _s, _subject: {},
    erase=erase_platform,
    tables=["outbox_events", "idempotency_records"],
    order=100,
)
