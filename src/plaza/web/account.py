"""Signing in and out of the web pages: password, registration, and the end of a single
sign-on (the provider's token, handed over by the browser, becomes a web session)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.identity import service as identity
from plaza.identity import sessions
from plaza.identity.auth import Customer, Principal, Public
from plaza.identity.schemas import RegisterIn
from plaza.identity.tokens import verify_token
from plaza.security.ratelimit import login_rate_limit, registration_rate_limit
from plaza.web.render import (
    CART_COOKIE,
    cookie_secure,
    page,
    public_base,
    redirect,
    safe_next,
)

router = APIRouter(prefix="/shop", include_in_schema=False, default_response_class=HTMLResponse)


def start_session(request: Request, db: Database, user_id: Any, target: str) -> RedirectResponse:
    """Open a web session for ``user_id`` and send the browser on to ``target``."""
    settings = request.app.state.settings
    with db.transaction() as s:
        cookie = sessions.open_session(
            s,
            user_id,
            ttl_seconds=settings.web_session_ttl_seconds,
            user_agent=request.headers.get("user-agent", ""),
        )
    response = redirect(target, flash="You are signed in.")
    response.set_cookie(
        settings.session_cookie_name,
        cookie,
        max_age=settings.web_session_ttl_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )
    response.delete_cookie(CART_COOKIE, path="/")  # merged into the account's cart
    return response


def _providers(request: Request, db: Database, target: str) -> list[dict[str, str]]:
    """Sign-in buttons: each starts the provider's flow with this site's SSO landing page as
    the redirect URI (register it at the provider's `redirect_uris`) and the page to return
    to as the echoed ``state``."""
    from plaza.identity import oidc_service

    landing = f"{public_base(request)}/shop/sign-in/sso"
    with db.reading() as s:
        rows = oidc_service.list_providers(s, limit=20, enabled_only=True)
        return [
            {
                "name": p.display_name,
                "href": f"/auth/sso/{p.slug}/authorize?"
                + urlencode({"redirect_uri": landing, "state": target}),
            }
            for p in rows
        ]


@router.get("/sign-in")
def sign_in_form(
    request: Request,
    next: str | None = None,
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Response:
    return page(
        request,
        "shop/sign_in.html",
        {
            "next": safe_next(next),
            "errors": {},
            "email": "",
            "providers": _providers(request, db, safe_next(next)),
        },
    )


@router.post("/sign-in", dependencies=[Depends(login_rate_limit)])
def sign_in(
    request: Request,
    email: str = Form("", max_length=254),
    password: str = Form("", max_length=1024),
    next: str = Form("/shop", max_length=2000),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Response:
    target = safe_next(next)
    missing = {
        field: f"Enter your {field}."
        for field, value in (("email", email), ("password", password))
        if not value.strip()
    }
    if missing:
        context: dict[str, Any] = {"next": target, "email": email, "errors": missing}
        context["providers"] = _providers(request, db, target)
        return page(request, "shop/sign_in.html", context, status=422)
    try:
        with db.transaction() as s:
            user, _merged = identity.sign_in(s, email, password, request.cookies.get(CART_COOKIE))
            user_id = user.id
    except ProblemError as exc:
        if exc.status != 401:
            raise
        context = {
            "next": target,
            "email": email,
            "errors": {"_form": "The email or password is not right."},
            "providers": _providers(request, db, target),
        }
        return page(request, "shop/sign_in.html", context, status=401)
    return start_session(request, db, user_id, target)


@router.post("/sign-out")
def sign_out(request: Request, _: Principal = Depends(Customer())) -> Response:
    settings = request.app.state.settings
    cookie = request.cookies.get(settings.session_cookie_name)
    if cookie:
        with request.app.state.db.transaction() as s:
            sessions.close_session(s, cookie)
    response = redirect("/shop", flash="You are signed out.")
    response.delete_cookie(settings.session_cookie_name, path="/")
    return response


@router.get("/register")
def register_form(
    request: Request, next: str | None = None, _: Principal = Depends(Public())
) -> Response:
    context = {"next": safe_next(next), "errors": {}, "values": {}}
    return page(request, "shop/register.html", context)


@router.post("/register", dependencies=[Depends(registration_rate_limit)])
def register(
    request: Request,
    name: str = Form("", max_length=200),
    email: str = Form("", max_length=254),
    password: str = Form("", max_length=1024),
    next: str = Form("/shop", max_length=2000),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Response:
    values = {"name": name, "email": email}
    errors: dict[str, str] = {}
    try:
        body = RegisterIn(email=email, password=password, name=name)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "_form"
            errors.setdefault(field, _message(field, err["msg"]))
    if not errors:
        try:
            with db.transaction() as s:
                user = identity.register_user(s, body.email, body.password, body.name)
                user_id = user.id
        except ProblemError as exc:
            if exc.status != 409:
                raise
            errors["email"] = "An account with this email exists already: sign in instead."
    if errors:
        context = {"next": safe_next(next), "errors": errors, "values": values}
        return page(request, "shop/register.html", context, status=422)
    return start_session(request, db, user_id, safe_next(next))


def _message(field: str, msg: str) -> str:
    names = {"email": "Email", "password": "Password", "name": "Name"}
    return f"{names.get(field, field.title())}: {msg.removeprefix('Value error, ')}"


@router.get("/sign-in/sso")
def sso_landing(
    request: Request, next: str | None = None, _: Principal = Depends(Public())
) -> Response:
    """Where a single sign-on ends: the provider's token arrives in the URL fragment, which
    only the browser sees; app.js posts it here to become a web session."""
    return page(request, "shop/sso_landing.html", {"next": safe_next(next)})


@router.post("/sign-in/sso", dependencies=[Depends(login_rate_limit)])
def sso_finish(
    request: Request,
    access_token: str = Form("", max_length=4096),
    next: str = Form("/shop", max_length=2000),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Response:
    user_id = verify_token(access_token) if access_token else None
    if user_id is None:  # nothing handed over is a bad form (422); a bad token, 401
        return page(
            request,
            "shop/sign_in.html",
            {
                "next": safe_next(next),
                "email": "",
                "errors": {"_form": "The single sign-on did not finish: please try again."},
                "providers": _providers(request, db, safe_next(next)),
            },
            status=401 if access_token else 422,
        )
    return start_session(request, db, user_id, safe_next(next))
