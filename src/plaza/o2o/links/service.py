"""GS1 Digital Link resolver and QR codes.

Every live variant with a GTIN has a Digital Link URI ``{base}/01/{gtin14}`` (a product's
is its first such variant's). Plaza itself is the resolver for those URIs, following the
GS1 Digital Link resolver conventions (GS1-Conformant resolver standard 1.1):

- ``linkType=all`` answers the *linkset* (RFC 9264, ``application/linkset+json``) of every
  link type the item has; ``linkType=gs1:pip`` (or the full ``https://gs1.org/voc/pip``)
  redirects (307) to that link; a link type the item lacks redirects to its default link;
- with no ``linkType``, content negotiation: a browser (``text/html``, ``*/*``) is
  redirected to the default link (the product page), a machine asking for JSON gets the
  item's description with its links, and ``application/linkset+json`` the linkset.

GTINs are unique per merchant, not platform-wide (several shops may sell one item): the
resolver answers the oldest live listing and lists the others under ``offers``.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import segno
from sqlalchemy.orm import Session

from plaza.catalog import lookup as catalog
from plaza.errors import ProblemError, not_found, problem_type
from plaza.o2o import codes

GS1_VOC = "https://gs1.org/voc/"
LINKSET_MEDIA_TYPE = "application/linkset+json"
QR_CACHE_SECONDS = 86400

NO_DIGITAL_LINK = problem_type(
    "digital-link-unavailable",
    "No Digital Link for this item",
    404,
    "A GS1 Digital Link needs a GTIN: this variant (or every variant of this product) has "
    "none, or it is not for sale.",
)

# Link types the resolver knows, in linkset order; ``defaultLink`` is the product page.
LINK_TYPES: dict[str, str] = {
    "gs1:pip": "Product information page",
    "gs1:defaultLink": "Default link (the product page)",
    "gs1:masterData": "Master data (the product as JSON)",
    "gs1:hasRetailers": "Stores and shops that sell it",
}


@dataclass(frozen=True)
class Link:
    link_type: str  # "gs1:pip"
    href: str
    title: str
    media_type: str


@dataclass(frozen=True)
class Resolved:
    gtin: str
    serial: str | None
    ref: catalog.VariantRef
    offers: list[catalog.VariantRef]
    links: list[Link]
    uri: str  # the canonical Digital Link of what was asked

    def link(self, link_type: str) -> Link | None:
        return next((lk for lk in self.links if lk.link_type == link_type), None)

    @property
    def default(self) -> Link:
        found = self.link("gs1:defaultLink")
        assert found is not None  # every item has one
        return found


def product_page(
    api_base: str,
    storefront: str | None,
    product_id: uuid.UUID,
    variant_id: uuid.UUID | None = None,
) -> str:
    """The shopper's product page on the web storefront (``storefront_url`` when set, else
    this site's own ``/shop``), with the scanned variant preselected."""
    page = f"{(storefront or api_base).rstrip('/')}/shop/products/{product_id}"
    return f"{page}?variant={variant_id}" if variant_id is not None else page


def _links(api_base: str, storefront: str | None, ref: catalog.VariantRef) -> list[Link]:
    page = product_page(api_base, storefront, ref.product_id, ref.variant_id)
    page_type = "text/html"
    base = api_base.rstrip("/")
    return [
        Link("gs1:pip", page, f"{ref.product_title} — product page", page_type),
        Link("gs1:defaultLink", page, ref.product_title, page_type),
        Link(
            "gs1:masterData",
            f"{base}/products/{ref.product_id}",
            f"{ref.product_title} — product data",
            "application/json",
        ),
        Link(
            "gs1:hasRetailers",
            f"{base}/variants/{ref.variant_id}/stores",
            f"{ref.product_title} — in stores",
            "application/json",
        ),
    ]


def resolve(
    s: Session, gtin: str, serial: str | None, *, api_base: str, storefront: str | None
) -> Resolved:
    """Resolve ``/01/{gtin}[/21/{serial}]``: 422 ``digital-link-invalid`` for a bad GTIN,
    404 when no shop sells it."""
    code = codes.parse_gtin(gtin, problem="digital_link")
    offers = catalog.variants_by_gtin(s, code.gtin, live_only=True)
    if not offers:
        raise not_found("GTIN", code.gtin)
    ref = offers[0]
    return Resolved(
        gtin=code.gtin,
        serial=serial,
        ref=ref,
        offers=offers,
        links=_links(api_base, storefront, ref),
        uri=codes.digital_link(api_base, code.gtin, serial),
    )


def normalise_link_type(value: str) -> str:
    """``gs1:pip`` and ``https://gs1.org/voc/pip`` name the same link type."""
    if value.startswith(GS1_VOC):
        return "gs1:" + value[len(GS1_VOC) :]
    return value


def linkset(resolved: Resolved) -> dict[str, Any]:
    """RFC 9264 JSON linkset: one context object anchored at the Digital Link, relation
    types as GS1 vocabulary URIs."""
    ctx: dict[str, Any] = {"anchor": resolved.uri}
    for lk in resolved.links:
        rel = GS1_VOC + lk.link_type.removeprefix("gs1:")
        ctx.setdefault(rel, []).append({"href": lk.href, "title": lk.title, "type": lk.media_type})
    return {"linkset": [ctx]}


MediaChoice = Literal["html", "json", "linkset"]


def _q(params: list[str]) -> float:
    for p in params:
        name, _, value = p.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def negotiate(accept: str | None) -> MediaChoice:
    """What the client prefers. Browsers and ``*/*`` get the redirect (a phone's camera
    app opens the product page); JSON only when asked for more than HTML."""
    if not accept:
        return "html"
    best: dict[MediaChoice, float] = {"html": 0.0, "json": 0.0, "linkset": 0.0}
    for part in accept.split(",")[:32]:
        media, *params = part.split(";")
        media = media.strip().lower()
        q = _q(params)
        if media in ("text/html", "application/xhtml+xml", "text/*", "*/*"):
            best["html"] = max(best["html"], q)
        elif media in ("application/json", "application/ld+json", "application/*"):
            best["json"] = max(best["json"], q)
        elif media == LINKSET_MEDIA_TYPE:
            best["linkset"] = max(best["linkset"], q)
    if best["linkset"] > 0 and best["linkset"] >= max(best["json"], best["html"]):
        return "linkset"
    if best["json"] > best["html"]:
        return "json"
    return "html"


# --- Digital Links of variants and products, QR codes ----------------------------------------


def variant_link(s: Session, variant_id: uuid.UUID) -> catalog.VariantRef:
    """A live variant with a GTIN (404 otherwise: drafts do not leak)."""
    ref = catalog.variant_refs(s, [variant_id]).get(variant_id)
    if ref is None or not ref.live:
        raise not_found("variant", variant_id)
    if not ref.gtin:
        raise ProblemError(NO_DIGITAL_LINK, f"variant {variant_id} has no GTIN")
    return ref


def product_links(s: Session, product_id: uuid.UUID) -> list[catalog.VariantRef]:
    variants = catalog.product_variants(s, [product_id]).get(product_id, [])
    if not variants:
        raise not_found("product", product_id)
    with_gtin = [v for v in variants if v.gtin]
    if not with_gtin:
        raise ProblemError(NO_DIGITAL_LINK, f"no variant of product {product_id} has a GTIN")
    return with_gtin


def qr(data: str, kind: Literal["svg", "png"], scale: int) -> bytes:
    """A QR code (error correction M, quiet zone 4) of ``data``."""
    code = segno.make(data, error="m", micro=False)
    buf = io.BytesIO()
    if kind == "svg":
        code.save(buf, kind="svg", scale=scale, xmldecl=True, svgns=True, border=4)
    else:
        code.save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
