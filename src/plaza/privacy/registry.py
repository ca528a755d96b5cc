"""Each context registers how to export and erase the personal data it holds.

The data-rights service knows no context's tables: it runs every registered handler, in
one transaction for erasure. ``unhandled_tables`` is the completeness check: every table
that looks like it holds personal data (a foreign key to ``users.id`` or a column whose
name marks personal data) must be declared by some handler, either as holding personal
data (``tables``) or as reviewed and not personal (``not_personal``, with the reason). A
context that adds such a table without registering fails ``tests/privacy``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import Session

ERASED = "erased"  # what actor strings and ids of an erased account become
MIN_IDENTIFIER = 3


@dataclass
class Subject:
    """The person a data-rights request is about, captured before any handler runs (the
    identity handler replaces the account's email and name while erasure goes on).

    Handlers add what else identifies the person as they find it (emails given at
    checkout, names and streets of shipping addresses, text the customer typed); the
    platform handler, which runs last, scrubs all of it from event payloads and stored
    idempotent responses that concern the person."""

    user_id: uuid.UUID
    email: str
    name: str
    pseudonym: str = field(default_factory=lambda: f"erased-{secrets.token_hex(8)}")
    emails: set[str] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)
    related: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.remember_email(self.email)
        self.remember(self.name)

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"

    @property
    def pseudonymous_email(self) -> str:
        """Replaces the email everywhere: random, so nothing maps it back to the person."""
        return f"{self.pseudonym}@invalid"

    def remember(self, *values: str | None) -> None:
        """Add identifying strings for the final scrub. Very short ones are skipped:
        replacing them inside other text would do more harm than good."""
        for value in values:
            if value and len(value.strip()) >= MIN_IDENTIFIER:
                self.identifiers.add(value.strip())

    def remember_email(self, email: str | None) -> None:
        if email:
            self.emails.add(email.strip().lower())

    def relate(self, *ids: object) -> None:
        """Ids of the person's records (orders, returns): an event or stored response that
        names one concerns the person even when it does not name them."""
        self.related.update(str(i) for i in ids)

    def mentions(self) -> list[str]:
        """Strings whose presence makes a record concern this person."""
        return [str(self.user_id), self.user_id.hex, *sorted(self.emails), *sorted(self.related)]

    def scrub_text(self, text: str) -> str:
        """``text`` with the person's id, emails and identifiers taken out."""
        if text == str(self.user_id):
            return ERASED
        out = text.replace(str(self.user_id), ERASED).replace(self.user_id.hex, ERASED)
        for email in self.emails:
            out = re.sub(re.escape(email), self.pseudonymous_email, out, flags=re.IGNORECASE)
        # Longest first, so a street is not half-replaced through a shorter identifier.
        for value in sorted(self.identifiers, key=len, reverse=True):
            out = out.replace(value, "")
        return out

    def scrub(self, value: Any) -> Any:
        """A JSON value with the person taken out: the id itself becomes ``None`` (ids are
        read as UUIDs), strings are scrubbed, containers are walked."""
        if isinstance(value, str):
            return (
                None if value in (str(self.user_id), self.user_id.hex) else self.scrub_text(value)
            )
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value


Export = Callable[[Session, Subject], dict[str, Any]]
Erase = Callable[[Session, Subject], dict[str, int]]


@dataclass(frozen=True)
class Handler:
    context: str
    export: Export
    erase: Erase
    tables: tuple[str, ...]
    not_personal: dict[str, str]
    keeps_reference: tuple[str, ...]
    order: int


_handlers: dict[str, Handler] = {}


def register(
    context: str,
    *,
    export: Export,
    erase: Erase,
    tables: Iterable[str],
    not_personal: dict[str, str] | None = None,
    keeps_reference: Iterable[str] = (),
    order: int = 50,
) -> Handler:
    """Declare a context's privacy handlers.

    ``tables``: the context's tables that hold personal data; its ``erase`` must leave none
    of it. ``not_personal``: tables that look personal but are not, with the reason.
    ``keeps_reference``: tables that keep the account's id after erasure on purpose
    (append-only records; the id then names an empty account). ``order``: erasure runs
    handlers by ascending order (identity checks first, the platform scrub last)."""
    handler = Handler(
        context=context,
        export=export,
        erase=erase,
        tables=tuple(tables),
        not_personal=dict(not_personal or {}),
        keeps_reference=tuple(keeps_reference),
        order=order,
    )
    _handlers[context] = handler  # re-registering (module reload in tests) replaces
    return handler


def no_personal_data(context: str, not_personal: dict[str, str]) -> Handler:
    """An explicit entry for a context that holds no personal data: its export is empty and
    its erasure has nothing to do, and its reviewed tables are named with the reason."""
    return register(
        context,
        export=lambda _s, _subject: {},
        erase=lambda _s, _subject: {},
        tables=(),
        not_personal=not_personal,
    )


def handlers() -> list[Handler]:
    """Every registered handler in erasure order. Importing ``plaza.subscribers`` makes
    every context register, whether or not an app was built in this process."""
    import plaza.subscribers  # noqa: F401

    return sorted(_handlers.values(), key=lambda h: (h.order, h.context))


# Column names that mark personal data (whole name, or a word of it for the patterns).
PERSONAL_COLUMNS = {
    "email",
    "name",
    "first_name",
    "last_name",
    "full_name",
    "phone",
    "address",
    "shipping_address",
    "billing_address",
    "customer_id",
    "user_id",
    "actor",
    "created_by",
    "updated_by",
    "ip",
    "ip_address",
    "birth_date",
    "date_of_birth",
    "subject",
}
PERSONAL_PATTERN = re.compile(r"(^|_)(email|phone|address|customer|user|ip|birth)(_|$)")


def personal_columns(table: Table) -> list[str]:
    """The columns of ``table`` that suggest it holds personal data."""
    found = []
    for column in table.columns:
        refers_to_users = any(fk.column.table.name == "users" for fk in column.foreign_keys)
        name = column.name.lower()
        if refers_to_users or name in PERSONAL_COLUMNS or PERSONAL_PATTERN.search(name):
            found.append(column.name)
    if table.name == "users":
        found.append("(the accounts table)")
    return found


def unhandled_tables(metadata: MetaData, registered: Iterable[Handler]) -> list[str]:
    """Why the registry is incomplete: tables that look personal but no handler declares,
    and declarations naming tables that do not exist (a typo would hide a gap)."""
    declared: set[str] = set()
    problems: list[str] = []
    for handler in registered:
        for name in (*handler.tables, *handler.not_personal, *handler.keeps_reference):
            if name not in metadata.tables:
                problems.append(f"{handler.context}: declares unknown table {name!r}")
            declared.add(name)
    for name, table in sorted(metadata.tables.items()):
        columns = personal_columns(table)
        if columns and name not in declared:
            problems.append(
                f"{name}: columns {columns} look personal, but no privacy handler declares "
                "the table (register export/erase handlers, or list it as not personal)"
            )
    return problems
