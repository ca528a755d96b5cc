"""Strategic personas: definitions, live membership, preview.

Membership is a materialised view of each active persona's rule over the customers who
grant ``personalisation`` consent (nobody else is ever a member). It is kept live three
ways, all through :func:`_apply`, which writes ``PersonaMembership`` rows, emits
``persona.member_joined`` / ``persona.member_left`` and recounts ``member_count``:

- **per persona, fully** (:func:`rebuild_persona`): on create, on a rule change, on
  restore, on demand (API, ``plaza personas rebuild``) and daily (time windows drift);
- **per customer, incrementally** (:func:`refresh_customer`): when their activity,
  profile, personas or consent change (``subscribers``);
- **on erasure** (:func:`forget_customer`): rows go silently (no event may name an erased
  account) and counts are corrected.

Facts are loaded in bulk, one query per table for any number of customers, and only from
the tables the rules read (``rules.needs``).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from plaza.db import in_chunks, utcnow
from plaza.errors import INVALID_CURSOR, ProblemError, not_found, problem_type
from plaza.events import emit, event_type
from plaza.identity.service import active_signups, get_merchant
from plaza.pagination import Page, PageParams, decode_cursor, encode_cursor, newest_first
from plaza.personas.models import (
    ActivityKind,
    CustomerActivity,
    CustomerPersona,
    CustomerProfile,
    PersonaMembership,
    PersonaStatus,
    StrategicPersona,
)
from plaza.personas.segments import rules
from plaza.personas.segments.schemas import (
    IdealCustomer,
    MemberOut,
    PersonaIn,
    PersonaOut,
    PersonaPatch,
    PreviewOut,
)
from plaza.privacy.models import Purpose
from plaza.privacy.service import consenting_users, has_consent
from plaza.tenancy import get_owned

MAX_ACTIVE_PERSONAS = 50  # per merchant: every customer event evaluates all of them
PREVIEW_SAMPLE = 20_000  # larger audiences are estimated from a sample of this size
CHUNK = 500  # ids per IN (...) list

MEMBER_JOINED = event_type(
    "persona.member_joined",
    "A customer now matches a merchant's strategic persona (payload: persona_id, "
    "merchant_id, user_id).",
)
MEMBER_LEFT = event_type(
    "persona.member_left",
    "A customer no longer matches a merchant's strategic persona, or withdrew "
    "personalisation consent, or the persona was archived (payload: persona_id, "
    "merchant_id, user_id).",
)

PERSONA_NAME_TAKEN = problem_type(
    "persona-name-taken",
    "Persona name taken",
    409,
    "A merchant's strategic personas have distinct names (archived ones included).",
)
PERSONA_VERSION_MISMATCH = problem_type(
    "persona-version-mismatch",
    "Persona changed since you read it",
    409,
    "The persona's `version` differs from `expected_version` (or If-Match); re-read it, "
    "re-apply your change and retry. `current_version` is in the body.",
)
PERSONA_LIMIT = problem_type(
    "persona-limit-reached",
    "Too many active personas",
    409,
    f"A merchant has at most {MAX_ACTIVE_PERSONAS} active strategic personas; archive one first.",
)


# ===================================================================== facts


def consenting_customers(
    s: Session, user_ids: Collection[uuid.UUID] | None = None
) -> dict[uuid.UUID, dt.datetime]:
    """Active accounts whose newest ``personalisation`` consent is a grant, with their
    signup time: the only possible members."""
    granted = consenting_users(s, Purpose.PERSONALISATION, user_ids)
    return active_signups(s, granted) if granted else {}


def _rows(s: Session, q: Any, column: Any, ids: Collection[uuid.UUID] | None) -> Iterable[Any]:
    return in_chunks(s, q, column, ids)


@dataclass
class _Raw:
    """Rows of the personas tables for some customers, before they become ``Facts``."""

    signup: Mapping[uuid.UUID, dt.datetime]
    profiles: dict[uuid.UUID, Any] = field(default_factory=dict)
    personas: dict[uuid.UUID, list[Any]] = field(default_factory=lambda: defaultdict(list))
    activity: dict[uuid.UUID, list[Any]] = field(default_factory=lambda: defaultdict(list))
    needs: rules.Needs = rules.EVERYTHING


def _load(
    s: Session,
    signup: Mapping[uuid.UUID, dt.datetime],
    needs: rules.Needs,
    merchant_id: uuid.UUID | None,
    *,
    everyone: bool,
) -> _Raw:
    """One query per table the rules read. ``everyone``: ``signup`` holds every consenting
    customer, so scan whole tables rather than send long id lists; ``merchant_id`` None
    loads activity of every merchant (one customer's incremental refresh)."""
    raw = _Raw(signup=signup, needs=needs)
    if not signup:
        return raw
    ids = None if everyone else list(signup)
    if needs.profile:
        q: Any = select(
            CustomerProfile.user_id,
            CustomerProfile.birth_date,
            CustomerProfile.gender,
            CustomerProfile.country,
            CustomerProfile.city,
            CustomerProfile.postal_code,
        )
        for row in _rows(s, q, CustomerProfile.user_id, ids):
            if row.user_id in signup:
                raw.profiles[row.user_id] = row
    if needs.personas:
        q = select(
            CustomerPersona.user_id,
            CustomerPersona.relation,
            CustomerPersona.sizes,
            CustomerPersona.fit,
            CustomerPersona.styles,
            CustomerPersona.colours_prefer,
            CustomerPersona.colours_avoid,
            CustomerPersona.materials_prefer,
            CustomerPersona.materials_avoid,
            CustomerPersona.sustainability,
            CustomerPersona.budget_amount,
            CustomerPersona.budget_currency,
        ).order_by(CustomerPersona.id)
        for row in _rows(s, q, CustomerPersona.user_id, ids):
            if row.user_id in signup:
                raw.personas[row.user_id].append(row)
    if needs.activity:
        q = select(
            CustomerActivity.user_id,
            CustomerActivity.merchant_id,
            CustomerActivity.kind,
            CustomerActivity.occurred_at,
            CustomerActivity.category,
            CustomerActivity.tags,
            CustomerActivity.product_id,
            CustomerActivity.amount,
            CustomerActivity.currency,
        )
        if merchant_id is not None:  # a merchant never sees another merchant's activity
            q = q.where(CustomerActivity.merchant_id == merchant_id)
        for row in _rows(s, q, CustomerActivity.user_id, ids):
            if row.user_id in signup:
                raw.activity[row.user_id].append(row)
    return raw


def _age(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _facts(
    raw: _Raw, merchant_id: uuid.UUID, currency: str, now: dt.datetime
) -> dict[uuid.UUID, rules.Facts]:
    """Each customer's facts as the given merchant's rules see them."""
    out: dict[uuid.UUID, rules.Facts] = {}
    today = now.date()
    for uid, created in raw.signup.items():
        props: dict[str, Any] = {"customer.days_since_signup": max(0, (now - created).days)}
        f = rules.Facts(uid, props)
        if raw.needs.profile:
            p = raw.profiles.get(uid)
            props["profile.has_profile"] = p is not None
            if p is not None:
                props["profile.age"] = _age(p.birth_date, today) if p.birth_date else None
                props["profile.gender"] = p.gender
                props["profile.country"] = p.country
                props["profile.city"] = p.city
                props["profile.postal_code"] = p.postal_code
        for cp in raw.personas.get(uid, ()):
            f.personas.append(
                {
                    "persona.relation": cp.relation,
                    "persona.sizes": list(cp.sizes or ()),
                    "persona.fit": cp.fit,
                    "persona.styles": list(cp.styles or ()),
                    "persona.colours_prefer": list(cp.colours_prefer or ()),
                    "persona.colours_avoid": list(cp.colours_avoid or ()),
                    "persona.materials_prefer": list(cp.materials_prefer or ()),
                    "persona.materials_avoid": list(cp.materials_avoid or ()),
                    "persona.sustainability": str(cp.sustainability.value)
                    if cp.sustainability is not None
                    else None,
                    # Budgets compare in the merchant's currency only.
                    "persona.budget": cp.budget_amount if cp.budget_currency == currency else None,
                }
            )
        if raw.needs.activity:
            paid_at: set[dt.datetime] = set()
            spent = 0
            for a in raw.activity.get(uid, ()):
                if a.merchant_id != merchant_id:
                    continue
                kind = a.kind.value if isinstance(a.kind, ActivityKind) else str(a.kind)
                f.events.append(
                    rules.EventFact(
                        kind=kind,
                        occurred_at=a.occurred_at,
                        category=a.category,
                        tags=frozenset(str(t).lower() for t in a.tags or ()),
                        product_id=a.product_id,
                    )
                )
                if kind == ActivityKind.PURCHASE:
                    # One order is paid at one moment: its lines share ``occurred_at``.
                    paid_at.add(a.occurred_at)
                    if a.currency in (None, currency):
                        spent += a.amount or 0
            props["customer.orders_count"] = len(paid_at)
            props["customer.total_spent"] = spent
            props["customer.days_since_last_purchase"] = (
                max(0, (now - max(paid_at)).days) if paid_at else None
            )
        out[uid] = f
    return out


# ===================================================================== definitions


def _check_rule(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a rule and return its canonical JSON (what is stored)."""
    return rules.dump(rules.parse(raw))


def _name_taken(
    s: Session, merchant_id: uuid.UUID, name: str, but: uuid.UUID | None = None
) -> bool:
    q = select(StrategicPersona.id).where(
        StrategicPersona.merchant_id == merchant_id,
        func.lower(StrategicPersona.name) == name.lower(),
    )
    if but is not None:
        q = q.where(StrategicPersona.id != but)
    return s.scalar(q.limit(1)) is not None


def _check_limit(s: Session, merchant_id: uuid.UUID) -> None:
    active = s.scalar(
        select(func.count())
        .select_from(StrategicPersona)
        .where(
            StrategicPersona.merchant_id == merchant_id,
            StrategicPersona.status == PersonaStatus.ACTIVE,
        )
    )
    if (active or 0) >= MAX_ACTIVE_PERSONAS:
        raise ProblemError(PERSONA_LIMIT, limit=MAX_ACTIVE_PERSONAS)


def _flush(s: Session) -> None:
    try:
        s.flush()
    except IntegrityError as exc:  # a concurrent writer took the name first
        raise ProblemError(PERSONA_NAME_TAKEN) from exc
    except StaleDataError as exc:  # a concurrent writer bumped the version first
        raise ProblemError(PERSONA_VERSION_MISMATCH) from exc


def create_persona(s: Session, merchant_id: uuid.UUID, body: PersonaIn) -> StrategicPersona:
    """Add a persona and compute its members at once (the answer shows ``member_count``)."""
    get_merchant(s, merchant_id)  # 404 for a platform admin naming no merchant
    rule = _check_rule(body.rule)
    if _name_taken(s, merchant_id, body.name):
        raise ProblemError(PERSONA_NAME_TAKEN, f"a persona is already named {body.name!r}")
    _check_limit(s, merchant_id)
    persona = StrategicPersona(
        merchant_id=merchant_id,
        name=body.name,
        description=body.description,
        ideal_customer=body.ideal_customer.model_dump(mode="json"),
        rule=rule,
        status=PersonaStatus.ACTIVE,
        member_count=0,
        version=1,
    )
    s.add(persona)
    _flush(s)
    rebuild_persona(s, merchant_id, persona.id)
    return persona


def get_persona(s: Session, merchant_id: uuid.UUID, persona_id: uuid.UUID) -> StrategicPersona:
    return get_owned(s, StrategicPersona, merchant_id, persona_id, "persona")


def _lock(s: Session, merchant_id: uuid.UUID, persona_id: uuid.UUID) -> StrategicPersona:
    persona = s.scalar(
        select(StrategicPersona)
        .where(StrategicPersona.id == persona_id, StrategicPersona.merchant_id == merchant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if persona is None:
        raise not_found("persona", persona_id)
    return persona


def _check_version(persona: StrategicPersona, expected: int | None) -> None:
    if expected is not None and expected != persona.version:
        raise ProblemError(
            PERSONA_VERSION_MISMATCH,
            f"expected version {expected}, the persona is at {persona.version}",
            current_version=persona.version,
        )


def _touch(persona: StrategicPersona) -> None:
    persona.version += 1
    persona.updated_at = utcnow()


def update_persona(
    s: Session,
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    patch: PersonaPatch,
    *,
    expected_version: int | None = None,
) -> StrategicPersona:
    """Apply the fields set in ``patch``. A new rule or a status change re-evaluates the
    persona fully in the same transaction (archiving empties it)."""
    persona = _lock(s, merchant_id, persona_id)
    _check_version(persona, patch.expected_version)
    _check_version(persona, expected_version)
    changes = patch.model_dump(exclude_unset=True, exclude={"expected_version"})
    if "rule" in changes:
        changes["rule"] = _check_rule(changes["rule"])
    if "ideal_customer" in changes:
        changes["ideal_customer"] = IdealCustomer.model_validate(
            changes["ideal_customer"]
        ).model_dump(mode="json")
    name = changes.get("name")
    if name is not None and name != persona.name and _name_taken(s, merchant_id, name, persona.id):
        raise ProblemError(PERSONA_NAME_TAKEN, f"a persona is already named {name!r}")
    if changes.get("status") == PersonaStatus.ACTIVE and persona.status != PersonaStatus.ACTIVE:
        _check_limit(s, merchant_id)
    changed = [k for k, v in changes.items() if v != getattr(persona, k)]
    if not changed:
        return persona
    for key in changed:
        setattr(persona, key, changes[key])
    _touch(persona)
    _flush(s)
    if "rule" in changed or "status" in changed:
        rebuild_persona(s, merchant_id, persona.id)
    return persona


def archive_persona(
    s: Session,
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> StrategicPersona:
    """Archive (the DELETE of the API): the persona keeps its definition and loses its
    members (each leaves with an event). Idempotent."""
    persona = _lock(s, merchant_id, persona_id)
    _check_version(persona, expected_version)
    if persona.status == PersonaStatus.ARCHIVED:
        return persona
    persona.status = PersonaStatus.ARCHIVED
    _touch(persona)
    _flush(s)
    rebuild_persona(s, merchant_id, persona.id)
    return persona


def persona_view(persona: StrategicPersona) -> PersonaOut:
    return PersonaOut(
        id=persona.id,
        merchant_id=persona.merchant_id,
        name=persona.name,
        description=persona.description,
        ideal_customer=IdealCustomer.model_validate(persona.ideal_customer or {}),
        rule=persona.rule,
        status=persona.status,
        member_count=persona.member_count,
        evaluated_at=persona.evaluated_at,
        version=persona.version,
        created_at=persona.created_at,
        updated_at=persona.updated_at,
    )


def list_personas(
    s: Session, merchant_id: uuid.UUID, page: PageParams, status: PersonaStatus | None = None
) -> Page[PersonaOut]:
    q = select(StrategicPersona).where(StrategicPersona.merchant_id == merchant_id)
    if status is not None:
        q = q.where(StrategicPersona.status == status)
    listing = f"personas:{merchant_id}:{status.value if status else '*'}"
    return newest_first(s, q, StrategicPersona.id, page, listing, persona_view)


def list_members(
    s: Session, merchant_id: uuid.UUID, persona_id: uuid.UUID, page: PageParams
) -> Page[MemberOut]:
    """Members, newest first: account ids and since when, nothing else about them."""
    get_persona(s, merchant_id, persona_id)
    m = PersonaMembership
    q = select(m.user_id, m.since).where(m.persona_id == persona_id, m.merchant_id == merchant_id)
    listing = f"persona-members:{persona_id}"
    if page.cursor:
        key = decode_cursor(listing, page.cursor)
        try:
            since = dt.datetime.fromisoformat(str(key[0]))
            after = uuid.UUID(str(key[1]))
        except (ValueError, IndexError) as exc:  # pragma: no cover - signed, so ours
            raise ProblemError(INVALID_CURSOR) from exc
        q = q.where(or_(m.since < since, and_(m.since == since, m.user_id < after)))
    rows = s.execute(q.order_by(m.since.desc(), m.user_id.desc()).limit(page.limit + 1)).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = (
        encode_cursor(listing, [rows[-1].since.isoformat(), str(rows[-1].user_id)])
        if more and rows
        else None
    )
    return Page(
        items=[MemberOut(user_id=r.user_id, since=r.since) for r in rows], next_cursor=cursor
    )


# ===================================================================== membership


@dataclass(frozen=True)
class SyncResult:
    persona_id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    joined: int
    left: int
    member_count: int
    evaluated_customers: int


_trees: dict[tuple[uuid.UUID, int], rules.Condition] = {}


def _tree(persona: StrategicPersona) -> rules.Condition | None:
    """The parsed rule, cached per persona version (every definition change bumps it).
    A stored rule the language no longer accepts matches nobody rather than failing."""
    key = (persona.id, persona.version)
    tree = _trees.get(key)
    if tree is None:
        try:
            tree = rules.parse(persona.rule)
        except ProblemError:
            return None
        if len(_trees) > 4096:
            _trees.clear()
        _trees[key] = tree
    return tree


def _currency(s: Session, merchant_id: uuid.UUID, cache: dict[uuid.UUID, str | None]) -> str | None:
    """The merchant's default currency; ``None`` for a closed merchant."""
    if merchant_id not in cache:
        try:
            cache[merchant_id] = get_merchant(s, merchant_id).default_currency
        except ProblemError:
            cache[merchant_id] = None
    return cache[merchant_id]


def _apply(
    s: Session,
    persona: StrategicPersona,
    joins: Iterable[uuid.UUID],
    leaves: Iterable[uuid.UUID],
    now: dt.datetime,
) -> tuple[int, int]:
    """Write one persona's membership changes, each with its event."""
    joined = sorted(set(joins))
    left = sorted(set(leaves))
    for uid in joined:
        s.add(
            PersonaMembership(
                persona_id=persona.id, user_id=uid, merchant_id=persona.merchant_id, since=now
            )
        )
    for i in range(0, len(left), CHUNK):
        s.execute(
            delete(PersonaMembership).where(
                PersonaMembership.persona_id == persona.id,
                PersonaMembership.user_id.in_(left[i : i + CHUNK]),
            )
        )
    for type_, users in ((MEMBER_JOINED, joined), (MEMBER_LEFT, left)):
        for uid in users:
            emit(
                s,
                type_,
                aggregate_type="persona",
                aggregate_id=persona.id,
                merchant_id=persona.merchant_id,
                payload={
                    "persona_id": str(persona.id),
                    "merchant_id": str(persona.merchant_id),
                    "user_id": str(uid),
                },
            )
    s.flush()
    return len(joined), len(left)


def _recount(
    s: Session, persona_ids: Collection[uuid.UUID] | None, evaluated_at: dt.datetime | None = None
) -> None:
    """Set ``member_count`` from the membership rows (exact even with concurrent writers),
    without bumping the definition's version or ``updated_at``."""
    t = cast(Table, StrategicPersona.__table__)
    m = cast(Table, PersonaMembership.__table__)
    counted = select(func.count()).select_from(m).where(m.c.persona_id == t.c.id).scalar_subquery()
    values: dict[str, Any] = {"member_count": counted, "updated_at": t.c.updated_at}
    if evaluated_at is not None:
        values["evaluated_at"] = evaluated_at
    stmt = update(t).values(**values)
    if persona_ids is None:
        s.execute(stmt.where(t.c.member_count != counted))
    else:
        ids = list(persona_ids)
        for i in range(0, len(ids), CHUNK):
            s.execute(stmt.where(t.c.id.in_(ids[i : i + CHUNK])))
    for obj in list(s.identity_map.values()):  # loaded personas: re-read the new values
        if isinstance(obj, StrategicPersona) and (persona_ids is None or obj.id in persona_ids):
            s.expire(obj, ["member_count", "evaluated_at"])


def _evaluate_all(
    s: Session,
    personas: list[StrategicPersona],
    merchant_id: uuid.UUID,
    now: dt.datetime,
) -> tuple[dict[uuid.UUID, set[uuid.UUID]], int]:
    """Who matches each (active) persona of one merchant, over every consenting customer."""
    trees = {p.id: _tree(p) for p in personas if p.status == PersonaStatus.ACTIVE}
    live = {pid: t for pid, t in trees.items() if t is not None}
    try:
        currency = get_merchant(s, merchant_id).default_currency
    except ProblemError:  # a closed merchant's personas have no live members
        live = {}
    if not live:
        return {p.id: set() for p in personas}, 0
    population = consenting_customers(s)
    need = rules.Needs()
    for t in live.values():
        need = need | rules.needs(t)
    raw = _load(s, population, need, merchant_id, everyone=True)
    facts = _facts(raw, merchant_id, currency, now)
    matched: dict[uuid.UUID, set[uuid.UUID]] = {p.id: set() for p in personas}
    for pid, tree in live.items():
        matched[pid] = {uid for uid, f in facts.items() if rules.evaluate(tree, f, now)}
    return matched, len(population)


def rebuild_persona(
    s: Session, merchant_id: uuid.UUID, persona_id: uuid.UUID, now: dt.datetime | None = None
) -> SyncResult:
    """Re-evaluate one persona over every consenting customer; archived ones empty out."""
    return rebuild_merchant(s, merchant_id, [persona_id], now)[0]


def rebuild_merchant(
    s: Session,
    merchant_id: uuid.UUID,
    persona_ids: Collection[uuid.UUID] | None = None,
    now: dt.datetime | None = None,
) -> list[SyncResult]:
    """Re-evaluate the merchant's personas (all, or the given ones) with one load of facts."""
    now = now or utcnow()
    q = select(StrategicPersona).where(StrategicPersona.merchant_id == merchant_id)
    if persona_ids is not None:
        q = q.where(StrategicPersona.id.in_(list(persona_ids)))
    personas = list(s.scalars(q.order_by(StrategicPersona.id)))
    if persona_ids is not None and len(personas) != len(set(persona_ids)):
        missing = set(persona_ids) - {p.id for p in personas}
        raise not_found("persona", sorted(missing)[0])
    matched, evaluated = _evaluate_all(s, personas, merchant_id, now)
    current: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    if personas:
        for pid, uid in s.execute(
            select(PersonaMembership.persona_id, PersonaMembership.user_id).where(
                PersonaMembership.persona_id.in_([p.id for p in personas])
            )
        ):
            current[pid].add(uid)
    results = []
    for p in personas:
        joined, left = _apply(
            s, p, matched[p.id] - current[p.id], current[p.id] - matched[p.id], now
        )
        results.append((p, joined, left))
    _recount(s, [p.id for p in personas], evaluated_at=now)
    return [
        SyncResult(p.id, merchant_id, p.name, joined, left, p.member_count, evaluated)
        for p, joined, left in results
    ]


def refresh_customer(s: Session, user_id: uuid.UUID, now: dt.datetime | None = None) -> int:
    """Re-evaluate one customer against every active persona of every merchant (their
    activity, profile, personas or consent changed). Returns how many memberships changed."""
    now = now or utcnow()
    signup = active_signups(s, [user_id])
    if not signup:  # erased or deactivated
        return forget_customer(s, user_id)
    current = set(
        s.scalars(select(PersonaMembership.persona_id).where(PersonaMembership.user_id == user_id))
    )
    consent = has_consent(s, user_id, Purpose.PERSONALISATION)
    q = select(StrategicPersona).where(StrategicPersona.status == PersonaStatus.ACTIVE)
    if not consent:
        if not current:
            return 0
        q = q.where(StrategicPersona.id.in_(current))
    personas = list(s.scalars(q.order_by(StrategicPersona.id)))
    should: set[uuid.UUID] = set()
    if consent and personas:
        trees = {p.id: t for p in personas if (t := _tree(p)) is not None}
        need = rules.Needs()
        for t in trees.values():
            need = need | rules.needs(t)
        raw = _load(s, signup, need, None, everyone=False)
        currencies: dict[uuid.UUID, str | None] = {}
        by_merchant: dict[uuid.UUID, rules.Facts] = {}
        for p in personas:
            tree = trees.get(p.id)
            if tree is None:
                continue
            if p.merchant_id not in by_merchant:
                currency = _currency(s, p.merchant_id, currencies)
                if currency is None:  # a closed merchant
                    continue
                by_merchant[p.merchant_id] = _facts(raw, p.merchant_id, currency, now)[user_id]
            if rules.evaluate(tree, by_merchant[p.merchant_id], now):
                should.add(p.id)
    changed: list[uuid.UUID] = []
    for p in personas:
        join = p.id in should and p.id not in current
        leave = p.id in current and p.id not in should
        if join or leave:
            _apply(s, p, [user_id] if join else [], [user_id] if leave else [], now)
            changed.append(p.id)
    # Memberships of archived personas cannot exist (archiving empties them); any other
    # stale one (a persona archived concurrently) is corrected by its next rebuild.
    if changed:
        _recount(s, changed)
    return len(changed)


def forget_customer(s: Session, user_id: uuid.UUID) -> int:
    """An erased or disabled account leaves every persona, silently: an event naming it
    now would put the erased id back into the outbox. Counts are corrected."""
    result = s.execute(delete(PersonaMembership).where(PersonaMembership.user_id == user_id))
    removed = int(getattr(result, "rowcount", 0) or 0)
    # Erasure may have deleted the rows already (the personas privacy handler): recount
    # every persona whose count no longer matches its rows.
    _recount(s, None)
    return removed


def stale_personas(
    s: Session, now: dt.datetime | None = None, limit: int = 10
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(merchant, persona) of active personas not fully evaluated in the last day, oldest
    first: time windows and ages drift even when no event arrives."""
    cutoff = (now or utcnow()) - dt.timedelta(days=1)
    rows = s.execute(
        select(StrategicPersona.merchant_id, StrategicPersona.id)
        .where(
            StrategicPersona.status == PersonaStatus.ACTIVE,
            or_(StrategicPersona.evaluated_at.is_(None), StrategicPersona.evaluated_at < cutoff),
        )
        .order_by(StrategicPersona.evaluated_at, StrategicPersona.id)
        .limit(limit)
    ).all()
    return [(m, p) for m, p in rows]


# ===================================================================== preview


def preview(
    s: Session,
    merchant_id: uuid.UUID,
    raw_rule: dict[str, Any],
    now: dt.datetime | None = None,
    sample: int = PREVIEW_SAMPLE,
) -> PreviewOut:
    """How many customers a rule would select now, without saving anything. Counts only:
    the answer names nobody."""
    now = now or utcnow()
    tree = rules.parse(raw_rule)
    currency = get_merchant(s, merchant_id).default_currency
    population = consenting_customers(s)
    total = len(population)
    sampled: int | None = None
    everyone = True
    if total > sample:
        # A fixed seed: the same rule previews the same number on the same data.
        keep = random.Random(0).sample(sorted(population), sample)
        population = {u: population[u] for u in keep}
        sampled, everyone = sample, False
    raw = _load(s, population, rules.needs(tree), merchant_id, everyone=everyone)
    facts = _facts(raw, merchant_id, currency, now)
    matches = sum(1 for f in facts.values() if rules.evaluate(tree, f, now))
    audience = round(matches * total / sampled) if sampled else matches
    return PreviewOut(audience_size=audience, evaluated_customers=total, sample_size=sampled)
