"""The steps the back-office create/edit/delete routes share: validate the posted body
with the context's schema, call the service in one transaction, and either redirect
(303, with a flash message) or show the form again with its errors (422).

``errors_of`` turns what went wrong into ``{form field: message}`` and re-raises the
problems a form cannot show (they become the problem page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from plaza.errors import ProblemError
from plaza.web.render import redirect

M = TypeVar("M", bound=BaseModel)
Errors = dict[str, str]
ErrorsOf = Callable[[ValidationError | ProblemError], Errors]


def attempt(
    request: Request,
    schema: type[M],
    body: Any,
    action: Callable[[Session, M], object],
    errors_of: ErrorsOf,
) -> Errors | None:
    """``body`` validated with ``schema``, then ``action(session, data)`` in a transaction;
    ``None`` when it went through, else the form's errors."""
    try:
        data = schema.model_validate(body)
        with request.app.state.db.transaction() as s:
            action(s, data)
    except (ValidationError, ProblemError) as exc:
        return errors_of(exc)
    return None


def submit(
    request: Request,
    schema: type[M],
    body: Any,
    action: Callable[[Session, M], object],
    errors_of: ErrorsOf,
    *,
    again: Callable[[Errors], Response],
    to: str,
    flash: str,
) -> Response:
    """:func:`attempt`, then a redirect to ``to`` with ``flash``, or ``again(errors)``
    (the form shown again, 422)."""
    errors = attempt(request, schema, body, action, errors_of)
    if errors is None:
        return redirect(to, flash=flash)
    return again(errors)


def act(request: Request, action: Callable[[Session], object], to: str, flash: str) -> Response:
    """A form-less action (delete, toggle) in a transaction, then a redirect with ``flash``."""
    with request.app.state.db.transaction() as s:
        action(s)
    return redirect(to, flash=flash)


__all__ = ["Errors", "act", "attempt", "submit"]
