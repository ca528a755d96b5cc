"""A customer's profile and own personas ("me", "my son", "running").

Every function takes the customer's ``user_id`` and only ever touches that customer's
rows: another customer's persona is simply not found (404), as in merchant tenancy.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plaza.errors import NOT_FOUND, VALIDATION, ProblemError, problem_type
from plaza.events import emit, event_type
from plaza.identity.models import User
from plaza.personas.customer.schemas import (
    MAX_PERSONAS,
    BudgetOut,
    PersonaIn,
    PersonaOut,
    PersonaPatch,
    ProfileIn,
    ProfileOut,
    _no_contradiction,
)
from plaza.personas.models import CustomerPersona, CustomerProfile, Sustainability

PERSONA_NAME_TAKEN = problem_type(
    "customer-persona-name-taken",
    "You already have a persona with this name",
    409,
    "Persona names are unique per customer (ignoring case); pick another or change that one.",
)
PERSONA_LIMIT = problem_type(
    "customer-persona-limit-reached",
    "Too many personas",
    409,
    f"A customer can keep at most {MAX_PERSONAS} personas (`limit`); delete one first.",
)

PROFILE_CHANGED = event_type(
    "customer.profile_changed", "A customer changed their profile (payload: user_id)."
)
PERSONA_CHANGED = event_type(
    "customer.persona_changed",
    "A customer created, changed or deleted one of their personas "
    "(payload: user_id, persona_id, change: created|updated|deleted).",
)

PROFILE_FIELDS = ("birth_date", "gender", "country", "city", "postal_code")


# ---------------------------------------------------------------------------- profile


def get_profile(s: Session, user_id: uuid.UUID) -> CustomerProfile | None:
    return s.get(CustomerProfile, user_id)


def profile_view(profile: CustomerProfile | None) -> ProfileOut:
    return ProfileOut.model_validate(profile) if profile is not None else ProfileOut()


def put_profile(s: Session, user_id: uuid.UUID, body: ProfileIn) -> CustomerProfile:
    """Replace the profile; emits ``customer.profile_changed`` only when something changed
    (a repeated PUT is a no-op)."""
    profile = s.get(CustomerProfile, user_id, with_for_update=True)
    created = profile is None
    if profile is None:
        profile = CustomerProfile(user_id=user_id)
        s.add(profile)
    changed = created
    for name in PROFILE_FIELDS:
        value = getattr(body, name)
        if getattr(profile, name) != value:
            setattr(profile, name, value)
            changed = True
    s.flush()
    if changed:
        emit(
            s,
            PROFILE_CHANGED,
            aggregate_type="user",
            aggregate_id=user_id,
            payload={"user_id": str(user_id)},
        )
    return profile


# ---------------------------------------------------------------------------- personas


def persona_view(p: CustomerPersona) -> PersonaOut:
    budget = None
    if p.budget_amount is not None and p.budget_currency is not None:
        budget = BudgetOut(amount=p.budget_amount, currency=p.budget_currency)
    return PersonaOut(
        id=p.id,
        name=p.name,
        relation=p.relation,
        is_default=p.is_default,
        sizes=list(p.sizes or []),
        fit=p.fit,
        colours_prefer=list(p.colours_prefer or []),
        colours_avoid=list(p.colours_avoid or []),
        styles=list(p.styles or []),
        materials_prefer=list(p.materials_prefer or []),
        materials_avoid=list(p.materials_avoid or []),
        sustainability=Sustainability(p.sustainability),
        budget=budget,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def list_personas(s: Session, user_id: uuid.UUID) -> list[CustomerPersona]:
    """The customer's personas, the default first, then by creation."""
    return list(
        s.scalars(
            select(CustomerPersona)
            .where(CustomerPersona.user_id == user_id)
            .order_by(CustomerPersona.is_default.desc(), CustomerPersona.id)
        )
    )


def get_persona(
    s: Session, user_id: uuid.UUID, persona_id: uuid.UUID, *, for_update: bool = False
) -> CustomerPersona:
    """The customer's persona ``persona_id``; 404 if it is not theirs (or does not exist)."""
    q = select(CustomerPersona).where(
        CustomerPersona.id == persona_id, CustomerPersona.user_id == user_id
    )
    persona = s.scalar(q.with_for_update() if for_update else q)
    if persona is None:
        raise ProblemError(NOT_FOUND, f"persona {persona_id} not found", resource="persona")
    return persona


def default_persona(s: Session, user_id: uuid.UUID) -> CustomerPersona | None:
    return s.scalar(
        select(CustomerPersona)
        .where(CustomerPersona.user_id == user_id, CustomerPersona.is_default.is_(True))
        .order_by(CustomerPersona.id)
        .limit(1)
    )


def chosen_persona(
    s: Session, user_id: uuid.UUID | None, persona_id: uuid.UUID | None
) -> CustomerPersona | None:
    """The persona a personalised read should use: the one named (404 if not the caller's),
    else the caller's default, else none (anonymous callers never have one)."""
    if user_id is None:
        if persona_id is not None:
            raise ProblemError(NOT_FOUND, f"persona {persona_id} not found", resource="persona")
        return None
    if persona_id is not None:
        return get_persona(s, user_id, persona_id)
    return default_persona(s, user_id)


def _lock_customer(s: Session, user_id: uuid.UUID) -> None:
    """Serialise one customer's persona writes (PostgreSQL; SQLite writers queue anyway), so
    the limit and the single default hold under concurrent requests. Locks the account row
    only: nothing of identity's is read."""
    s.execute(select(User.id).where(User.id == user_id).with_for_update())


def _check_name(
    s: Session, user_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None
) -> None:
    q = select(CustomerPersona.id).where(
        CustomerPersona.user_id == user_id,
        func.lower(CustomerPersona.name) == name.lower(),
    )
    if exclude is not None:
        q = q.where(CustomerPersona.id != exclude)
    if s.scalar(q.limit(1)) is not None:
        raise ProblemError(PERSONA_NAME_TAKEN, f"a persona named {name!r} exists", name=name)


def _clear_defaults(s: Session, user_id: uuid.UUID, keep: uuid.UUID | None) -> None:
    q = update(CustomerPersona).where(
        CustomerPersona.user_id == user_id, CustomerPersona.is_default.is_(True)
    )
    if keep is not None:
        q = q.where(CustomerPersona.id != keep)
    s.execute(q.values(is_default=False).execution_options(synchronize_session="fetch"))


def _apply(persona: CustomerPersona, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name == "budget":
            budget = value or {}
            persona.budget_amount = budget.get("amount")
            persona.budget_currency = budget.get("currency")
        elif name == "fit":
            persona.fit = str(value) if value is not None else None
        else:
            setattr(persona, name, value)


def _flush_unique(s: Session, name: str) -> None:
    """Flush, turning a lost race on the (user, name) constraint into the 409."""
    try:
        with s.begin_nested():
            s.flush()
    except IntegrityError:
        raise ProblemError(
            PERSONA_NAME_TAKEN, f"a persona named {name!r} exists", name=name
        ) from None


def _emit(s: Session, persona: CustomerPersona, change: str) -> None:
    emit(
        s,
        PERSONA_CHANGED,
        aggregate_type="customer_persona",
        aggregate_id=persona.id,
        payload={"user_id": str(persona.user_id), "persona_id": str(persona.id), "change": change},
    )


def create_persona(s: Session, user_id: uuid.UUID, body: PersonaIn) -> CustomerPersona:
    _lock_customer(s, user_id)
    count = s.scalar(
        select(func.count()).select_from(CustomerPersona).where(CustomerPersona.user_id == user_id)
    )
    if (count or 0) >= MAX_PERSONAS:
        raise ProblemError(PERSONA_LIMIT, limit=MAX_PERSONAS)
    _check_name(s, user_id, body.name)
    persona = CustomerPersona(user_id=user_id)
    _apply(persona, body.model_dump(mode="json"))
    s.add(persona)
    _flush_unique(s, body.name)
    if persona.is_default:
        _clear_defaults(s, user_id, keep=persona.id)
    _emit(s, persona, "created")
    return persona


def update_persona(
    s: Session, user_id: uuid.UUID, persona_id: uuid.UUID, body: PersonaPatch
) -> CustomerPersona:
    _lock_customer(s, user_id)
    persona = get_persona(s, user_id, persona_id, for_update=True)
    changes = body.model_dump(mode="json", exclude_unset=True)
    merged = {
        "colours_prefer": persona.colours_prefer,
        "colours_avoid": persona.colours_avoid,
        "materials_prefer": persona.materials_prefer,
        "materials_avoid": persona.materials_avoid,
        **changes,
    }
    try:
        _no_contradiction(merged)
    except ValueError as exc:
        raise ProblemError(
            VALIDATION,
            "the request has invalid fields",
            errors=[{"loc": ["body"], "msg": str(exc), "type": "value_error"}],
        ) from None
    if "name" in changes:
        _check_name(s, user_id, changes["name"], exclude=persona.id)
    before = persona_view(persona).model_dump(exclude={"updated_at"})
    _apply(persona, changes)
    _flush_unique(s, persona.name)
    if changes.get("is_default"):
        _clear_defaults(s, user_id, keep=persona.id)
    if persona_view(persona).model_dump(exclude={"updated_at"}) != before:
        _emit(s, persona, "updated")
    return persona


def delete_persona(s: Session, user_id: uuid.UUID, persona_id: uuid.UUID) -> None:
    """Delete a persona. Deleting the default leaves the customer without one (we do not
    guess which of the others they meant)."""
    _lock_customer(s, user_id)
    persona = get_persona(s, user_id, persona_id, for_update=True)
    _emit(s, persona, "deleted")
    s.delete(persona)
    s.flush()
