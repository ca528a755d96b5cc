"""Back-office personas editor: strategic personas with their member counts, the
create/edit form (ideal-customer profile and the rule in the JSON condition language of
``plaza.personas.segments.rules``), the audience preview, archive, and the first page of
members. Staff read and preview; admins define, change and archive (as in the API)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from plaza.config import get_settings
from plaza.errors import ProblemError
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.pagination import PageParams
from plaza.personas.models import PersonaStatus
from plaza.personas.segments import rules, service
from plaza.personas.segments.schemas import PersonaIn, PersonaOut, PersonaPatch, PreviewIn
from plaza.web import forms
from plaza.web.backoffice.common import office_context
from plaza.web.forms import field_errors, form_data, text
from plaza.web.render import is_htmx, page, principal_of, redirect

router = APIRouter(prefix="/back-office/{merchant_id}")
can_read = MerchantAccess(MerchantRole.STAFF)
can_write = MerchantAccess(MerchantRole.ADMIN)
LIST_LIMIT = 100
MEMBERS_LIMIT = 50
EXAMPLE_RULE = {"type": "property", "property": "profile.country", "operator": "equals",
                "value": "NL"}  # fmt: skip
LIST_FIELDS = ("goals", "pains", "channels")


def _base(merchant_id: uuid.UUID) -> str:
    return f"/back-office/{merchant_id}/personas"


def property_help() -> list[dict[str, str]]:
    """The rule language's known property names, for the form's help."""
    return [
        {"name": p.name, "type": p.type.value, "description": p.description}
        for p in rules.PROPERTIES.values()
    ]


def _values(p: PersonaOut | None) -> dict[str, Any]:
    if p is None:
        return {"rule": json.dumps(EXAMPLE_RULE, indent=2)}
    ic = p.ideal_customer
    return {
        "name": p.name,
        "description": p.description,
        "summary": ic.summary,
        "goals": "\n".join(ic.goals),
        "pains": "\n".join(ic.pains),
        "channels": ", ".join(ic.channels),
        "age_min": "" if ic.age_range is None else str(ic.age_range.min),
        "age_max": "" if ic.age_range is None else str(ic.age_range.max),
        "quote": ic.quote,
        "rule": json.dumps(p.rule, indent=2),
    }


def parse_form(form: FormData) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The posted persona form as (values to show again, body for PersonaIn, errors found
    before the schema sees the body)."""
    names = ("name", "description", "summary", "goals", "pains", "channels", "age_min",
             "age_max", "quote", "rule")  # fmt: skip
    values = {n: text(form, n) for n in names}
    errors: dict[str, str] = {}
    ideal: dict[str, Any] = {"summary": values["summary"], "quote": values["quote"]}
    for n in ("goals", "pains"):
        ideal[n] = [line.strip() for line in values[n].splitlines() if line.strip()]
    ideal["channels"] = [c.strip() for c in values["channels"].split(",") if c.strip()]
    if values["age_min"] or values["age_max"]:
        ideal["age_range"] = {"min": values["age_min"] or 0, "max": values["age_max"] or 120}
    body: dict[str, Any] = {
        "name": values["name"],
        "description": values["description"],
        "ideal_customer": ideal,
    }
    rule, rule_error = parse_rule(values["rule"])
    if rule_error:
        errors["rule"] = rule_error
    else:
        body["rule"] = rule
    return values, body, errors


def parse_rule(raw: str) -> tuple[Any, str | None]:
    if not raw.strip():
        return None, "Write the rule as JSON."
    try:
        rule = forms.parse_json(raw, max_depth=get_settings().max_json_depth)
    except json.JSONDecodeError as exc:
        return None, f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
    except ValueError as exc:
        return None, f"Not a usable rule: {exc}."
    if not isinstance(rule, dict):
        return None, 'The rule is a JSON object, e.g. {"type": "all", "conditions": []}.'
    return rule, None


def _field(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "_form"
    if loc[0] == "ideal_customer" and len(loc) > 1:
        if loc[1] == "age_range":
            return "age_min"
        return str(loc[1])
    return str(loc[0])


def rule_problem(exc: ProblemError) -> str:
    """``persona-rule-invalid`` at its JSON pointer, for the rule field."""
    pointer = exc.extensions.get("path")
    where = f"At {pointer}: " if pointer else ""
    detail = exc.detail
    for prefix in (f"at {pointer}: ", "at the rule's root: "):
        detail = detail.removeprefix(prefix)
    return f"{where}{detail}"


def _form_page(
    request: Request,
    merchant_id: uuid.UUID,
    *,
    persona: PersonaOut | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    ctx = office_context(request, merchant_id, "personas")
    return page(
        request,
        "office/persona_form.html",
        {
            **ctx,
            "persona": persona,
            "values": values,
            "errors": errors,
            "properties": property_help(),
            "base": _base(merchant_id),
            "can_write": _can_write(request, merchant_id),
        },
        status=status,
    )


def _can_write(request: Request, merchant_id: uuid.UUID) -> bool:
    return principal_of(request).can_act_for(merchant_id, MerchantRole.ADMIN, None)


def _problem_errors(exc: ProblemError) -> dict[str, str]:
    if exc.kind is rules.RULE_INVALID:
        return {"rule": rule_problem(exc)}
    if exc.status == 409 and "name" in exc.kind.slug:
        return {"name": exc.detail}
    if exc.status in (409, 422):
        return {"_form": exc.detail}
    raise exc


# --- pages -------------------------------------------------------------------------------------


@router.get("/personas")
def list_personas(
    request: Request,
    merchant_id: uuid.UUID,
    status: PersonaStatus | None = None,
    _: Principal = Depends(can_read),
) -> Response:
    """The merchant's strategic personas with their member counts."""
    with request.app.state.db.reading() as s:
        listing = service.list_personas(
            s, merchant_id, PageParams(limit=LIST_LIMIT, cursor=None), status
        )
    ctx = office_context(request, merchant_id, "personas")
    return page(
        request,
        "office/personas.html",
        {
            **ctx,
            "personas": listing.items,
            "status": status.value if status else "",
            "base": _base(merchant_id),
            "can_write": _can_write(request, merchant_id),
        },
    )


@router.get("/personas/new")
def new_persona(
    request: Request, merchant_id: uuid.UUID, _: Principal = Depends(can_write)
) -> Response:
    return _form_page(request, merchant_id, persona=None, values=_values(None), errors={})


@router.post("/personas")
def create_persona(
    request: Request,
    merchant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(can_write),
) -> Response:
    values, body, errors = parse_form(form)
    try:
        data = PersonaIn.model_validate(body)
    except ValidationError as exc:
        errors = {**field_errors(exc, _field), **errors}
    if not errors:
        try:
            with request.app.state.db.transaction() as s:
                created = service.create_persona(s, merchant_id, data)
                persona_id, count = created.id, created.member_count
        except ProblemError as exc:
            errors = _problem_errors(exc)
        else:
            return redirect(
                f"{_base(merchant_id)}/{persona_id}",
                flash=f"Persona created: {count} member{'s' if count != 1 else ''}.",
            )
    return _form_page(request, merchant_id, persona=None, values=values, errors=errors, status=422)


@router.post("/personas/preview")
def preview(
    request: Request,
    merchant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(can_read),
) -> Response:
    """How many customers the rule in the form would select now (nothing is saved). htmx
    swaps the answer in next to the form; without JS it is a page of its own."""
    rule, error = parse_rule(text(form, "rule"))
    result = None
    if error is None:
        try:
            body = PreviewIn.model_validate({"rule": rule})
            with request.app.state.db.reading() as s:
                result = service.preview(s, merchant_id, body.rule)
        except ValidationError as exc:
            error = "; ".join(_field(tuple(e["loc"])) + ": " + e["msg"] for e in exc.errors())
        except ProblemError as exc:
            if exc.kind is not rules.RULE_INVALID:
                raise
            error = rule_problem(exc)
    context = {"result": result, "error": error}
    status = 200 if error is None else 422
    if is_htmx(request):
        return page(request, "office/_persona_preview.html", context, status=status)
    ctx = office_context(request, merchant_id, "personas")
    return page(
        request,
        "office/persona_preview.html",
        {**ctx, **context, "rule": text(form, "rule"), "base": _base(merchant_id)},
        status=status,
    )


def _load(request: Request, merchant_id: uuid.UUID, persona_id: uuid.UUID) -> PersonaOut:
    with request.app.state.db.reading() as s:
        return service.persona_view(service.get_persona(s, merchant_id, persona_id))


@router.get("/personas/{persona_id:uuid}")
def persona_detail(
    request: Request,
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    _: Principal = Depends(can_read),
) -> Response:
    """The persona's form (read-only for staff) and the first page of its members."""
    persona = _load(request, merchant_id, persona_id)
    with request.app.state.db.reading() as s:
        members = service.list_members(
            s, merchant_id, persona_id, PageParams(limit=MEMBERS_LIMIT, cursor=None)
        )
    ctx = office_context(request, merchant_id, "personas")
    return page(
        request,
        "office/persona_form.html",
        {
            **ctx,
            "persona": persona,
            "values": _values(persona),
            "errors": {},
            "properties": property_help(),
            "members": members.items,
            "more_members": members.next_cursor is not None,
            "base": _base(merchant_id),
            "can_write": _can_write(request, merchant_id),
        },
    )


@router.post("/personas/{persona_id:uuid}")
def save_persona(
    request: Request,
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(can_write),
) -> Response:
    """Change the persona (PATCH of the API, with the version the form was read at)."""
    values, body, errors = parse_form(form)
    version = text(form, "expected_version")
    if version:
        body["expected_version"] = version
    try:
        data = PersonaPatch.model_validate(body)
    except ValidationError as exc:
        errors = {**field_errors(exc, _field), **errors}
    if not errors:
        try:
            with request.app.state.db.transaction() as s:
                service.update_persona(
                    s, merchant_id, persona_id, data, expected_version=data.expected_version
                )
        except ProblemError as exc:
            errors = _problem_errors(exc)
        else:
            return redirect(f"{_base(merchant_id)}/{persona_id}", flash="Persona saved.")
    persona = _load(request, merchant_id, persona_id)
    return _form_page(
        request, merchant_id, persona=persona, values=values, errors=errors, status=422
    )


@router.post("/personas/{persona_id:uuid}/archive")
def archive_persona(
    request: Request,
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    _: Principal = Depends(can_write),
) -> Response:
    """Archive: the members leave, the definition is kept."""
    with request.app.state.db.transaction() as s:
        service.archive_persona(s, merchant_id, persona_id)
    return redirect(f"{_base(merchant_id)}/{persona_id}", flash="Persona archived.")


@router.post("/personas/{persona_id:uuid}/restore")
def restore_persona(
    request: Request,
    merchant_id: uuid.UUID,
    persona_id: uuid.UUID,
    _: Principal = Depends(can_write),
) -> Response:
    """Make an archived persona active again (PATCH ``status: active``)."""
    with request.app.state.db.transaction() as s:
        service.update_persona(
            s, merchant_id, persona_id, PersonaPatch(status=PersonaStatus.ACTIVE)
        )
    return redirect(f"{_base(merchant_id)}/{persona_id}", flash="Persona restored.")
