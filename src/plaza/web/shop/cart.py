"""The shopping cart pages: add an item (from a product page), see the cart, change or
remove lines. The same ordering services as ``POST /carts/{id}/lines`` and friends.

A signed-in customer uses their own open cart. An anonymous browser's cart is reached by
its secret token, kept in the ``plaza_cart`` cookie (HttpOnly, SameSite=Lax) from the
first add on; signing in merges it into the account's cart (``identity.sign_in``)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from plaza.catalog import customisation
from plaza.catalog import service as catalog
from plaza.catalog.customisation import GroupKind
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import CATALOGUE, ProblemError
from plaza.identity.auth import CartHolder, Principal
from plaza.ordering import carts, service
from plaza.ordering.carts import MAX_LINE_QUANTITY
from plaza.ordering.models import Cart, CartStatus
from plaza.ordering.schemas import CartLineIn, CartLinePatch, CartOut
from plaza.web.forms import short_form_data
from plaza.web.render import CART_COOKIE, cookie_secure, is_htmx, page, redirect, safe_next
from plaza.web.shop.catalog import currency_of

router = APIRouter(prefix="/shop")

CART_CURRENCY = "EUR"  # what POST /carts and GET /me/cart default to
CART_COOKIE_MAX_AGE = 30 * 24 * 3600
OPTION_PREFIX = "opt."


def cart_token(request: Request) -> str | None:
    token = request.cookies.get(CART_COOKIE)
    return token if token and len(token) <= 128 else None


def find_cart(s: Session, request: Request, p: Principal) -> Cart | None:
    """The browser's cart: the account's open cart, or the anonymous cart of the cookie's
    token (whatever its status: a checked-out cart still shows its checkout)."""
    if p.kind == "user":
        assert p.user_id is not None
        return carts.active_cart_of(s, p.user_id)
    token = cart_token(request)
    if token is None:
        return None
    found = s.scalar(
        select(Cart.id).where(
            Cart.token_digest == carts.token_digest(token), Cart.customer_id.is_(None)
        )
    )
    if found is None:
        return None
    return carts.get_cart(s, found, carts.CartAccess(principal=p, token=token))


def open_cart(
    s: Session, request: Request, p: Principal, currency: str = CART_CURRENCY
) -> tuple[Cart, str | None]:
    """The browser's open cart in ``currency`` (the shop's), started when there is none; a
    new anonymous cart comes with its token (to set in the cookie). An empty cart takes the
    new currency; one holding items priced in another currency is kept as it is."""
    cart = find_cart(s, request, p)
    if cart is not None and cart.status == CartStatus.ACTIVE:
        if cart.currency != currency:
            if cart.lines:
                raise ProblemError(
                    CATALOGUE["conflict"],
                    f"your cart holds items priced in {cart.currency} and this shop sells in "
                    f"{currency}: check out or empty your cart first",
                )
            cart.currency = currency
            s.flush()
        return cart, None
    return carts.create_cart(s, currency, p.user_id if p.kind == "user" else None)


def set_cart_cookie(request: Request, response: Response, token: str | None) -> None:
    if token:
        response.set_cookie(
            CART_COOKIE,
            token,
            max_age=CART_COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=cookie_secure(request),
        )


def cart_view(db: Database, request: Request, p: Principal) -> CartOut | None:
    with db.reading() as s:
        cart = find_cart(s, request, p)
        if cart is None or cart.status != CartStatus.ACTIVE:
            return None
        return service.cart_view(s, cart)


def configuration_of(
    s: Session, variant_id: uuid.UUID, form: FormData, currency: str = CART_CURRENCY
) -> dict[str, Any] | None:
    """The ``opt.<group>`` fields as the cart's configuration shape
    (``{"selections": {group: option | [options] | text}}``): multi-choice groups are
    lists, the others single values; empty fields are left out. None without options."""
    raw: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if key.startswith(OPTION_PREFIX) and isinstance(value, str):
            raw.setdefault(key[len(OPTION_PREFIX) :][:64], []).append(value)
    if not raw:
        return None
    kinds: dict[str, GroupKind] = {}
    try:
        sv = catalog.get_sellable_variants(s, [variant_id], currency)[variant_id]
        spec = customisation.specs_for(s, [sv.product_id]).get(sv.product_id)
        kinds = {g.code: g.kind for g in spec.groups} if spec else {}
    except ProblemError:
        pass  # the add itself reports the unsellable variant
    selections: dict[str, str | list[str]] = {}
    for code, values in raw.items():
        filled = [v for v in values if v.strip()]
        if kinds.get(code) == GroupKind.MULTI:
            if filled:
                selections[code] = filled
        elif len(filled) == 1:
            selections[code] = filled[0]
        elif filled:
            selections[code] = filled  # refused by the spec check: choose one
    if not selections and not kinds:
        return None
    return {"selections": selections}


def _add_error(
    request: Request, status: int, message: str, problems: list[str] | None = None
) -> Response:
    name = "shop/_cart_add_error.html" if is_htmx(request) else "shop/cart_add_error.html"
    context = {"message": message, "problems": problems or [], "back": _same_site(request)}
    return page(request, name, context, status=status)


def _same_site(request: Request) -> str | None:
    """The page the form was posted from, when it is one of this site's shop pages."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/shop/"):
        return None
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""), "") or None


def _problem_lines(exc: ProblemError) -> list[str]:
    violations = exc.extensions.get("violations") or []
    return [str(v.get("message", "")) for v in violations if isinstance(v, dict)]


@router.post("/cart/add")
def add_to_cart(
    request: Request,
    form: FormData = Depends(short_form_data),
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
) -> Response:
    """Add units of a variant (with its customisation options) to the browser's cart."""
    quantity = str(form.get("quantity") or "1")
    try:
        body = CartLineIn(
            variant_id=str(form.get("variant_id") or ""),
            quantity=quantity,
        )
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        if "variant_id" in fields:
            return _add_error(request, 422, "Choose a size or colour before adding to the cart.")
        return _add_error(request, 422, f"Quantity: choose a number from 1 to {MAX_LINE_QUANTITY}.")
    token: str | None = None
    try:
        currency = currency_of(str(form.get("currency") or CART_CURRENCY))
        with db.transaction() as s:
            config = configuration_of(s, body.variant_id, form, currency)
            try:
                line = CartLineIn(
                    variant_id=body.variant_id, quantity=body.quantity, configuration=config
                )
            except ValidationError:
                raise ProblemError(
                    CATALOGUE["validation-error"], "the options chosen are not valid"
                ) from None
            cart, token = open_cart(s, request, p, currency)
            cfg = line.configuration.model_dump() if line.configuration is not None else None
            checked = service.check_cart_line(s, cart, line.variant_id, cfg, line.quantity)
            carts.set_line(
                s,
                cart,
                line.variant_id,
                line.quantity,
                merchant_id=checked.merchant_id,
                add=True,
                configuration=checked.stored,
                digest=checked.digest,
            )
    except ProblemError as exc:
        if exc.status >= 500:
            raise
        status = 422 if exc.status == 404 else exc.status
        message = exc.detail
        if exc.status == 404:
            message = "This item cannot be bought (any more)."
        elif exc.status == 409 and "available" in (exc.detail or ""):
            message = f"Not enough stock: {exc.detail}."
        return _add_error(request, status, message, _problem_lines(exc))
    if is_htmx(request):
        response: Response = page(request, "shop/_cart_added.html", {"quantity": body.quantity})
    else:
        response = redirect("/shop/cart", flash="Added to your cart.")
    set_cart_cookie(request, response, token)
    return response


@router.get("/cart")
def show_cart(
    request: Request, db: Database = Depends(get_db), p: Principal = Depends(CartHolder())
) -> Response:
    """The cart: lines with current prices and stock, the total, and the way to checkout."""
    view = cart_view(db, request, p)
    name = "shop/_cart.html" if is_htmx(request) else "shop/cart.html"
    return page(request, name, {"cart": view})


def _line_change(
    request: Request, db: Database, p: Principal, line_id: uuid.UUID, quantity: int
) -> Response:
    """Set a line's quantity (0 removes it), as ``PATCH /carts/{id}/lines/{line}`` does."""
    try:
        with db.transaction() as s:
            cart = find_cart(s, request, p)
            if cart is None:
                raise ProblemError(
                    CATALOGUE["not-found"], f"cart line {line_id} not found", resource="cart line"
                )
            cart = carts.get_cart(
                s,
                cart.id,
                carts.CartAccess(principal=p, token=cart_token(request)),
                for_update=True,
            )
            line = next((ln for ln in cart.lines if ln.id == line_id), None)
            if line is None:
                raise ProblemError(
                    CATALOGUE["not-found"], f"cart line {line_id} not found", resource="cart line"
                )
            merchant_id = line.merchant_id
            if quantity > 0:
                merchant_id = service.check_cart_line(
                    s, cart, line.variant_id, line.configuration, quantity, line=line
                ).merchant_id
            carts.set_line(
                s,
                cart,
                line.variant_id,
                quantity,
                merchant_id=merchant_id,
                add=False,
                configuration=line.configuration,
                digest=line.configuration_digest,
            )
    except ProblemError as exc:
        if exc.status not in (409, 422):
            raise
        view = cart_view(db, request, p)
        errors = {str(line_id): exc.detail}
        name = "shop/_cart.html" if is_htmx(request) else "shop/cart.html"
        return page(request, name, {"cart": view, "line_errors": errors}, status=exc.status)
    message = "Removed from your cart." if quantity == 0 else "Quantity updated."
    if is_htmx(request):
        view = cart_view(db, request, p)
        return page(request, "shop/_cart.html", {"cart": view, "notice": message})
    return redirect("/shop/cart", flash=message)


@router.post("/cart/lines/{line_id}")
def update_line(
    request: Request,
    line_id: uuid.UUID,
    form: FormData = Depends(short_form_data),
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
) -> Response:
    try:
        body = CartLinePatch(quantity=str(form.get("quantity") or ""))
    except ValidationError:
        view = cart_view(db, request, p)
        errors = {str(line_id): f"Choose a quantity from 0 to {MAX_LINE_QUANTITY}."}
        name = "shop/_cart.html" if is_htmx(request) else "shop/cart.html"
        return page(request, name, {"cart": view, "line_errors": errors}, status=422)
    return _line_change(request, db, p, line_id, body.quantity)


@router.post("/cart/lines/{line_id}/remove")
def remove_line(
    request: Request,
    line_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(CartHolder()),
) -> Response:
    return _line_change(request, db, p, line_id, 0)
