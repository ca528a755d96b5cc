"""HTTP endpoints of the GS1 Digital Link resolver, items' Digital Links and QR codes.

All public: they describe what is for sale, like the storefront catalog.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from plaza.catalog.lookup import VariantRef
from plaza.config import Settings
from plaza.db import Database
from plaza.deps import get_db
from plaza.identity.auth import Principal, Public
from plaza.o2o import codes
from plaza.o2o.links import service
from plaza.o2o.links.schemas import (
    DigitalLinkOut,
    LinkOut,
    OfferOut,
    ProductDigitalLinksOut,
    ResolvedItemOut,
    ResolverDescriptionOut,
)

router = APIRouter(tags=["o2o: GS1 Digital Link"])
public = Public()

GtinPath = Path(
    min_length=8,
    max_length=14,
    pattern=r"^[0-9]+$",
    description="GTIN-14 (GTIN-8/12/13 are accepted and padded).",
)
# AI (21) serials: up to 20 characters of GS1 character set 82 (percent-encoded in URIs).
SerialPath = Path(
    min_length=1,
    max_length=20,
    pattern=r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$",
    description="Serial number, AI (21).",
)
LinkTypeQuery = Query(
    None,
    alias="linkType",
    max_length=100,
    description="`all` for the linkset, or a link type (`gs1:pip`) to be redirected to.",
)
REDIRECT: dict[int | str, dict[str, Any]] = {
    307: {
        "description": "Redirect to the requested (or default) link.",
        "headers": {"Location": {"schema": {"type": "string"}, "description": "The target."}},
    }
}
RESOLVED_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The item (JSON) or its linkset (`linkType=all`).",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ResolvedItemOut"}},
            service.LINKSET_MEDIA_TYPE: {
                "schema": {"type": "object", "properties": {"linkset": {"type": "array"}}}
            },
        },
    },
    **REDIRECT,
}
QR_CACHE = f"public, max-age={service.QR_CACHE_SECONDS}"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _base(request: Request) -> str:
    return (_settings(request).public_url or str(request.base_url)).rstrip("/")


def _qr_urls(base: str, variant_id: uuid.UUID) -> tuple[str, str]:
    return f"{base}/variants/{variant_id}/qr.svg", f"{base}/variants/{variant_id}/qr.png"


def _item(resolved: service.Resolved, base: str, linkset_url: str) -> dict[str, Any]:
    ref = resolved.ref
    svg, png = _qr_urls(base, ref.variant_id)
    return ResolvedItemOut(
        digital_link=resolved.uri,
        gtin=resolved.gtin,
        serial=resolved.serial,
        merchant_id=ref.merchant_id,
        product_id=ref.product_id,
        variant_id=ref.variant_id,
        title=ref.product_title,
        brand=ref.brand,
        label=ref.label,
        option_values=ref.option_values,
        image_url=ref.image_url,
        links=[
            LinkOut(link_type=lk.link_type, href=lk.href, title=lk.title, type=lk.media_type)
            for lk in resolved.links
        ],
        linkset=linkset_url,
        qr_svg=svg,
        qr_png=png,
        offers=[
            OfferOut(merchant_id=o.merchant_id, product_id=o.product_id, variant_id=o.variant_id)
            for o in resolved.offers
        ],
    ).model_dump(mode="json")


def _answer(
    request: Request,
    db: Database,
    gtin: str,
    serial: str | None,
    link_type: str | None,
    accept: str | None,
) -> Response:
    base = _base(request)
    with db.reading() as s:
        resolved = service.resolve(
            s, gtin, serial, api_base=base, storefront=_settings(request).storefront_url
        )
    linkset_url = f"{resolved.uri}?linkType=all"
    vary = {
        "Vary": "Accept",
        "Link": f'<{linkset_url}>; rel="linkset"; type="{service.LINKSET_MEDIA_TYPE}"',
    }
    choice = service.negotiate(accept)
    if link_type == "all" or (link_type is None and choice == "linkset"):
        return JSONResponse(
            service.linkset(resolved), media_type=service.LINKSET_MEDIA_TYPE, headers=vary
        )
    if link_type is None and choice == "json":
        return JSONResponse(_item(resolved, base, linkset_url), headers=vary)
    wanted = resolved.link(service.normalise_link_type(link_type)) if link_type else None
    target = wanted or resolved.default  # a type the item lacks: its default link (GS1)
    return RedirectResponse(target.href, status_code=307, headers=vary)


@router.get("/01/{gtin}", response_model=None, responses=RESOLVED_CONTENT)
def resolve_gtin(
    request: Request,
    gtin: str = GtinPath,
    link_type: str | None = LinkTypeQuery,
    accept: str | None = Header(None, max_length=1000),
    db: Database = Depends(get_db),
    _: Principal = Depends(public),
) -> Response:
    """Resolve a GS1 Digital Link: browsers are redirected (307) to the product page, JSON
    clients get the item with its links, `linkType=all` (or `Accept:
    application/linkset+json`) the RFC 9264 linkset, `linkType=gs1:pip` a redirect there.
    Bad check digit: 422 `digital-link-invalid`; a GTIN nobody sells: 404."""
    return _answer(request, db, gtin, None, link_type, accept)


@router.get("/01/{gtin}/21/{serial}", response_model=None, responses=RESOLVED_CONTENT)
def resolve_serial(
    request: Request,
    gtin: str = GtinPath,
    serial: str = SerialPath,
    link_type: str | None = LinkTypeQuery,
    accept: str | None = Header(None, max_length=1000),
    db: Database = Depends(get_db),
    _: Principal = Depends(public),
) -> Response:
    """Resolve the Digital Link of one serialised item (an RFID-tagged garment): as
    `/01/{gtin}`, with the serial echoed in the JSON."""
    return _answer(request, db, gtin, serial, link_type, accept)


@router.get("/.well-known/gs1resolver", response_model=ResolverDescriptionOut)
def resolver_description(
    request: Request, _: Principal = Depends(public)
) -> ResolverDescriptionOut:
    """The resolver description file of the GS1-Conformant resolver standard."""
    return ResolverDescriptionOut(
        name="Plaza GS1 Digital Link resolver",
        resolverRoot=_base(request),
        supportedPrimaryKeys=["01"],
        supportedLinkType=[
            {"namespace": service.GS1_VOC, "prefix": "gs1:", "profile": f"gs1:{t[4:]}"}
            | {"title": title}
            for t, title in service.LINK_TYPES.items()
        ],
        linkTypeDefaultCanBeLinkset=False,
    )


def _variant_out(base: str, ref: VariantRef) -> DigitalLinkOut:
    assert ref.gtin is not None
    svg, png = _qr_urls(base, ref.variant_id)
    return DigitalLinkOut(
        variant_id=ref.variant_id,
        product_id=ref.product_id,
        gtin=ref.gtin,
        label=ref.label,
        digital_link=codes.digital_link(base, ref.gtin),
        qr_svg=svg,
        qr_png=png,
    )


@router.get("/variants/{variant_id}/digital-link", response_model=DigitalLinkOut)
def variant_digital_link(
    variant_id: uuid.UUID,
    request: Request,
    db: Database = Depends(get_db),
    _: Principal = Depends(public),
) -> DigitalLinkOut:
    """A variant's GS1 Digital Link and its QR codes (404 `digital-link-unavailable` for a
    variant without a GTIN)."""
    with db.reading() as s:
        return _variant_out(_base(request), service.variant_link(s, variant_id))


@router.get("/products/{product_id}/digital-links", response_model=ProductDigitalLinksOut)
def product_digital_links(
    product_id: uuid.UUID,
    request: Request,
    db: Database = Depends(get_db),
    _: Principal = Depends(public),
) -> ProductDigitalLinksOut:
    """The Digital Links of a product's live variants that have a GTIN."""
    base = _base(request)
    with db.reading() as s:
        variants = [_variant_out(base, v) for v in service.product_links(s, product_id)]
    return ProductDigitalLinksOut(
        product_id=product_id, digital_link=variants[0].digital_link, variants=variants
    )


def _qr(
    request: Request, db: Database, variant_id: uuid.UUID, kind: Literal["svg", "png"], scale: int
) -> Response:
    with db.reading() as s:
        ref = service.variant_link(s, variant_id)
    assert ref.gtin is not None
    body = service.qr(codes.digital_link(_base(request), ref.gtin), kind, scale)
    media = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(body, media_type=media, headers={"Cache-Control": QR_CACHE})


ScaleQuery = Query(4, ge=1, le=20, description="Pixels (PNG) or units (SVG) per module.")


@router.get(
    "/variants/{variant_id}/qr.svg",
    response_class=Response,
    responses={
        200: {
            "description": "QR code of the Digital Link.",
            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
        }
    },
)
def variant_qr_svg(
    variant_id: uuid.UUID,
    request: Request,
    scale: int = ScaleQuery,
    db: Database = Depends(get_db),
    _: Principal = Depends(public),
) -> Response:
    """The variant's Digital Link as an SVG QR code (cacheable for a day)."""
    return _qr(request, db, variant_id, "svg", scale)


@router.get(
    "/variants/{variant_id}/qr.png",
    response_class=Response,
    responses={
        200: {
            "description": "QR code of the Digital Link.",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def variant_qr_png(
    variant_id: uuid.UUID,
    request: Request,
    scale: int = ScaleQuery,
    db: Database = Depends(get_db),
    _: Principal = Depends(public),
) -> Response:
    """The variant's Digital Link as a PNG QR code (cacheable for a day)."""
    return _qr(request, db, variant_id, "png", scale)
