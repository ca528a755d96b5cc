"""The customer's own personas (who they shop for: sizes, fit, colours, styles and
materials to prefer or avoid, sustainability, a budget per item) and their profile, under
``/shop/account``. The same services and schemas as ``/me/personas`` and ``/me/profile``."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.identity.auth import Customer, Principal
from plaza.money import minor_unit_exponent
from plaza.personas.customer import service
from plaza.personas.customer.schemas import (
    MAX_PERSONAS,
    Fit,
    PersonaIn,
    PersonaOut,
    PersonaPatch,
    ProfileIn,
)
from plaza.personas.models import Sustainability
from plaza.web.forms import field_errors, parse_amount, short_form_data, text
from plaza.web.render import page, redirect

router = APIRouter(prefix="/shop/account")

LIST_FIELDS = (
    "sizes",
    "colours_prefer",
    "colours_avoid",
    "styles",
    "materials_prefer",
    "materials_avoid",
)
LABELS = {
    "name": "Name",
    "relation": "Who it is",
    "sizes": "Sizes",
    "fit": "Fit",
    "colours_prefer": "Colours you like",
    "colours_avoid": "Colours to avoid",
    "styles": "Styles",
    "materials_prefer": "Materials you like",
    "materials_avoid": "Materials to avoid",
    "sustainability": "Sustainability",
    "budget_amount": "Budget per item",
    "budget_currency": "Budget currency",
    "birth_date": "Birth date",
    "gender": "Gender",
    "country": "Country",
    "city": "City",
    "postal_code": "Postal code",
}
FIT_CHOICES = [("", "No preference")] + [(f.value, f.value.title()) for f in Fit]
SUSTAINABILITY_CHOICES = [
    (Sustainability.ANY.value, "No preference"),
    (Sustainability.PREFER.value, "Show sustainable items first"),
    (Sustainability.ONLY.value, "Only sustainable items"),
]
PROFILE_FIELDS = ("birth_date", "gender", "country", "city", "postal_code")


def _me(p: Principal) -> uuid.UUID:
    assert p.user_id is not None  # the Customer rule admits people only
    return p.user_id


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(x) for x in loc if not isinstance(x, int)]
    field = parts[0] if parts else "_form"
    if field == "budget":
        field = "budget_currency" if parts[-1] == "currency" else "budget_amount"
    return field if LABELS.get(field) else "_form"


def _errors(exc: ValidationError) -> dict[str, str]:
    return field_errors(exc, _field_of, LABELS.get)


# ---------------------------------------------------------------- personas


def _values_of(persona: PersonaOut | None) -> dict[str, Any]:
    if persona is None:
        return {
            "name": "",
            "relation": "self",
            "is_default": False,
            "fit": "",
            "sustainability": "any",
            "budget_amount": "",
            "budget_currency": "EUR",
            **dict.fromkeys(LIST_FIELDS, ""),
        }
    budget = persona.budget
    amount = ""
    if budget is not None:
        exp = minor_unit_exponent(budget.currency)
        amount = str(Decimal(budget.amount).scaleb(-exp))
    return {
        "name": persona.name,
        "relation": persona.relation,
        "is_default": persona.is_default,
        "fit": persona.fit or "",
        "sustainability": persona.sustainability.value,
        "budget_amount": amount,
        "budget_currency": budget.currency if budget else "EUR",
        **{f: ", ".join(getattr(persona, f)) for f in LIST_FIELDS},
    }


def _persona_input(form: FormData) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(the form's values to show again, the schema's input, errors found on the way)."""
    values: dict[str, Any] = {
        "name": text(form, "name", 200),
        "relation": text(form, "relation", 200) or "self",
        "is_default": bool(form.get("is_default")),
        "fit": text(form, "fit", 40),
        "sustainability": text(form, "sustainability", 40) or "any",
        "budget_amount": text(form, "budget_amount", 40),
        "budget_currency": text(form, "budget_currency", 10).upper() or "EUR",
        **{f: text(form, f, 2000) for f in LIST_FIELDS},
    }
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "name": values["name"],
        "relation": values["relation"],
        "is_default": values["is_default"],
        "fit": values["fit"] or None,
        "sustainability": values["sustainability"],
        "budget": None,
        **{f: _split(values[f]) for f in LIST_FIELDS},
    }
    if values["budget_amount"]:
        try:
            minor = parse_amount(values["budget_amount"], values["budget_currency"])
            data["budget"] = {"amount": minor, "currency": values["budget_currency"]}
        except (ValueError, KeyError, ProblemError):
            errors["budget_amount"] = "Budget per item: enter an amount such as 49.95."
    return values, data, errors


def _form(
    request: Request,
    persona_id: uuid.UUID | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    context = {
        "persona_id": persona_id,
        "values": values,
        "errors": errors,
        "fit_choices": FIT_CHOICES,
        "sustainability_choices": SUSTAINABILITY_CHOICES,
    }
    return page(request, "shop/personas_form.html", context, status=status)


def _service_errors(exc: ProblemError) -> dict[str, str]:
    if exc.kind is service.PERSONA_NAME_TAKEN:
        return {"name": "Name: you already have a persona with this name."}
    if exc.status in (409, 422):
        return {"_form": exc.detail}
    raise exc


@router.get("/personas")
def personas(
    request: Request, db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> Response:
    """The personas, the default first, and the profile form."""
    user_id = _me(p)
    with db.reading() as s:
        rows = [service.persona_view(x) for x in service.list_personas(s, user_id)]
        profile = service.profile_view(service.get_profile(s, user_id))
    values = {f: getattr(profile, f) or "" for f in PROFILE_FIELDS}
    return _list_page(request, rows, values, {})


def _list_page(
    request: Request,
    rows: list[PersonaOut],
    profile: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    context = {
        "personas": rows,
        "profile": profile,
        "errors": errors,
        "max_personas": MAX_PERSONAS,
        "sustainability_words": dict(SUSTAINABILITY_CHOICES),
    }
    return page(request, "shop/personas.html", context, status=status)


@router.get("/personas/new")
def new_persona(request: Request, p: Principal = Depends(Customer())) -> Response:
    return _form(request, None, _values_of(None), {})


@router.post("/personas")
def create_persona(
    request: Request,
    form: FormData = Depends(short_form_data),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Response:
    values, data, errors = _persona_input(form)
    try:
        body = PersonaIn.model_validate(data)
    except ValidationError as exc:
        errors = {**_errors(exc), **errors}
    if errors:
        return _form(request, None, values, errors, status=422)
    try:
        with db.transaction() as s:
            service.create_persona(s, _me(p), body)
    except ProblemError as exc:
        return _form(request, None, values, _service_errors(exc), status=exc.status)
    return redirect("/shop/account/personas", flash=f"Persona “{body.name}” added.")


@router.get("/personas/{persona_id}")
def edit_persona(
    request: Request,
    persona_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Response:
    with db.reading() as s:
        persona = service.persona_view(service.get_persona(s, _me(p), persona_id))
    return _form(request, persona_id, _values_of(persona), {})


@router.post("/personas/{persona_id}")
def update_persona(
    request: Request,
    persona_id: uuid.UUID,
    form: FormData = Depends(short_form_data),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Response:
    values, data, errors = _persona_input(form)
    try:
        PersonaIn.model_validate(data)  # the whole persona is checked, as on creation
        body = PersonaPatch.model_validate(data)
    except ValidationError as exc:
        errors = {**_errors(exc), **errors}
    if errors:
        return _form(request, persona_id, values, errors, status=422)
    try:
        with db.transaction() as s:
            service.update_persona(s, _me(p), persona_id, body)
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _form(request, persona_id, values, _service_errors(exc), status=exc.status)
    return redirect("/shop/account/personas", flash="Persona saved.")


@router.post("/personas/{persona_id}/delete")
def delete_persona(
    request: Request,
    persona_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Response:
    with db.transaction() as s:
        service.delete_persona(s, _me(p), persona_id)
    return redirect("/shop/account/personas", flash="Persona deleted.")


# ---------------------------------------------------------------- profile


@router.post("/profile")
def save_profile(
    request: Request,
    form: FormData = Depends(short_form_data),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Response:
    """Replace the profile (an empty field clears it), as ``PUT /me/profile``."""
    values = {f: text(form, f, 200) for f in PROFILE_FIELDS}
    data: dict[str, Any] = {f: (v or None) for f, v in values.items()}
    if data["country"]:
        data["country"] = str(data["country"]).upper()
    try:
        body = ProfileIn.model_validate(data)
    except ValidationError as exc:
        with db.reading() as s:
            rows = [service.persona_view(x) for x in service.list_personas(s, _me(p))]
        return _list_page(request, rows, values, _errors(exc), status=422)
    with db.transaction() as s:
        service.put_profile(s, _me(p), body)
    return redirect("/shop/account/personas", flash="Profile saved.")
