"""The demo world: a small shopping street in Amsterdam, loaded through Plaza's own services.

``plaza demo`` (and ``make run``) calls :func:`load_demo`. Everything is made the way a real
user would make it — accounts and merchants through identity, products through the catalog,
stock through inventory, orders through carts, checkout, the sandbox payment provider,
fulfilment, cancellation and returns — so events, stock ledgers and order histories agree.
Only the timestamps are rewritten afterwards: orders are spread over the past
``ORDER_DAYS`` days (ordered, plausible), and what came before them (accounts, products,
stock) is dated before the first order.

Content is deterministic from the seed (``random.Random(seed)`` only); the one use of the
clock is the anchor the order timeline hangs from (today, 00:00 UTC). Random ids and order
numbers are not part of the content (order numbers carry the load date).

The platform admin ``admin@plaza.dev`` is created last and marks a finished load: when it
exists, ``load_demo`` answers with a summary of what is there and loads nothing. See
docs/demo.md.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import time
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from random import Random
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.catalog.gtin import check_digit
from plaza.catalog.models import Category, Product, ProductStatus, Variant, VariantPrice
from plaza.catalog.schemas import CategoryIn, MediaIn, OptionIn, PriceIn, ProductIn, VariantIn
from plaza.config import get_settings
from plaza.db import Database, utcnow
from plaza.events import MAX_ATTEMPTS, OutboxEvent, dispatch_pending, subscribers_for
from plaza.identity import service as identity
from plaza.identity.models import Membership, Merchant, MerchantKind, MerchantRole, User
from plaza.identity.passwords import hash_password, verify_password
from plaza.inventory import service as inventory
from plaza.inventory.models import Location, LocationKind, MovementReason, Reservation
from plaza.inventory.models import StockMovement as Movement
from plaza.ordering import carts, flows, returns
from plaza.ordering.models import (
    Cart,
    CartLine,
    Checkout,
    Order,
    OrderHistory,
    Payment,
    Refund,
    Return,
)
from plaza.ordering.payments import PaymentProvider
from plaza.ordering.service import provider_for

ADMIN_EMAIL = "admin@plaza.dev"
PASSWORD_ENV = "PLAZA_DEMO_PASSWORD"
DEFAULT_PASSWORD = "plaza-demo-password"  # documented demo value, never a real secret
CURRENCY = "EUR"
ORDER_DAYS = 120
TARGET_ORDERS = 250
CUSTOMERS = 60
IMAGE_BASE = "https://images.plaza.dev"
OPENING_STOCK_REF = "demo:opening-stock"
DRAFT_SHARE = 0.03
SALE_SHARE = 0.12
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class DemoRefusedError(RuntimeError):
    """The demo world cannot be loaded into this database; the message says why and what
    to do instead."""


# ==================================================================== the world, as data

# (slug, name, parent slug): the platform taxonomy, in display order.
CATEGORIES: tuple[tuple[str, str, str | None], ...] = (
    ("apparel", "Apparel", None),
    ("tops", "Tops", "apparel"),
    ("bottoms", "Bottoms", "apparel"),
    ("outerwear", "Outerwear", "apparel"),
    ("knitwear", "Knitwear", "apparel"),
    ("socks", "Socks", "apparel"),
    ("shoes", "Shoes", None),
    ("sneakers", "Sneakers", "shoes"),
    ("boots", "Boots", "shoes"),
    ("sandals", "Sandals", "shoes"),
    ("accessories", "Accessories", None),
    ("bags", "Bags", "accessories"),
    ("hats", "Hats & scarves", "accessories"),
    ("outdoor", "Outdoor", None),
    ("camping", "Camping", "outdoor"),
    ("hiking", "Hiking", "outdoor"),
    ("home", "Home", None),
    ("kitchen", "Kitchen", "home"),
    ("textiles", "Home textiles", "home"),
    ("decor", "Decor", "home"),
    ("beauty", "Beauty", None),
    ("skincare", "Skincare", "beauty"),
    ("haircare", "Haircare", "beauty"),
    ("body", "Bath & body", "beauty"),
    ("books", "Books", None),
    ("fiction", "Fiction", "books"),
    ("non-fiction", "Non-fiction", "books"),
    ("children", "Children's books", "books"),
    ("stationery", "Stationery", None),
)
PARENT = {slug: parent or slug for slug, _, parent in CATEGORIES}

APPAREL_COLOURS = (
    "Black", "Navy", "Olive", "Sand", "Stone", "Rust", "Forest", "Ochre",
    "Slate", "Off-White", "Burgundy", "Sky Blue", "Charcoal", "Moss",
)  # fmt: skip
OUTDOOR_COLOURS = ("Black", "Forest", "Glacier Blue", "Signal Orange", "Stone", "Olive")
HOME_COLOURS = ("Natural", "Oat", "Terracotta", "Sage", "Charcoal", "Ochre", "Indigo", "White")
PAPER_COLOURS = ("Black", "Forest", "Rust", "Navy", "Sand", "Dusty Pink")
ORIGINS = ("Portugal", "the Netherlands", "Lithuania", "Italy", "Turkey", "Romania", "Belgium")


@dataclass(frozen=True)
class Item:
    """One type of product within a category, with the words and numbers that fit it."""

    noun: str
    adjectives: tuple[str, ...]
    materials: tuple[str, ...]  # may be empty (a headlamp has no material in its name)
    price: tuple[int, int]  # euros
    features: tuple[str, ...] = ()
    options: str | None = None  # overrides the category's option style


def item(
    noun: str,
    adjectives: str,
    materials: str,
    price: tuple[int, int],
    features: str = "",
    options: str | None = None,
) -> Item:
    """Compact form: ``/`` separates adjectives and materials, ``|`` separates features."""
    return Item(
        noun,
        tuple(a for a in adjectives.split("/") if a),
        tuple(m for m in materials.split("/") if m),
        price,
        tuple(f for f in features.split("|") if f),
        options,
    )


@dataclass(frozen=True)
class Kind:
    """How to make one leaf category's products: its items, options, weights, wording."""

    category: str
    items: tuple[Item, ...]
    options: str  # the option style, see _options()
    weight: tuple[int, int]  # grams
    lead: str  # first sentence of a description: {adj} {noun} {material} {brand}
    features: tuple[str, ...] = ()  # true of everything in the category
    tags: tuple[str, ...] = ()  # extra tags a product may carry (never a material claim)
    colours: tuple[str, ...] = APPAREL_COLOURS


KINDS: dict[str, Kind] = {
    k.category: k
    for k in (
        Kind(
            "tops",
            (
                item("T-Shirt", "Relaxed/Classic/Boxy/Heavyweight/Garment-Dyed",
                     "Organic Cotton/Recycled Cotton/Hemp/Tencel", (19, 45),
                     "A ribbed crew neck that keeps its shape."),
                item("Long-Sleeve Tee", "Classic/Striped/Lightweight",
                     "Organic Cotton/Merino/Tencel", (29, 69)),
                item("Oxford Shirt", "Classic/Slim-Fit/Relaxed", "Organic Cotton/Recycled Cotton",
                     (49, 89), "A button-down collar and a curved hem."),
                item("Camp-Collar Shirt", "Relaxed/Boxy/Lightweight", "Linen/Tencel/Hemp",
                     (45, 85), "An open collar for warm days."),
                item("Hoodie", "Heavyweight/Relaxed/Garment-Dyed",
                     "Organic Cotton/Recycled Cotton/Merino", (59, 119),
                     "A double-layer hood and a kangaroo pocket."),
                item("Sweatshirt", "Heavyweight/Classic/Garment-Dyed",
                     "Organic Cotton/Recycled Cotton", (49, 95), "Brushed inside for warmth."),
                item("Henley", "Classic/Slim-Fit/Lightweight", "Organic Cotton/Merino/Hemp",
                     (35, 75)),
                item("Polo Shirt", "Classic/Slim-Fit", "Organic Cotton/Tencel", (39, 79)),
            ),
            "apparel", (160, 650),
            "A {adj} {noun} by {brand}, cut from {material}.",
            ("Pre-washed, so it keeps its shape and size.",
             "Dyed in small batches with low-impact dyes.",
             "Soft on day one and softer after every wash."),
            ("fair trade", "bestseller", "new"),
        ),
        Kind(
            "bottoms",
            (
                item("Jeans", "Straight-Leg/Tapered/Relaxed/Slim-Fit",
                     "Organic Cotton/Recycled Denim/Hemp", (69, 139),
                     "Five pockets and copper rivets."),
                item("Chinos", "Tapered/Slim-Fit/Relaxed/Cropped", "Organic Cotton/Hemp",
                     (59, 109)),
                item("Cargo Trousers", "Relaxed/Tapered", "Organic Cotton/Hemp/Recycled Polyester",
                     (69, 119), "Deep cargo pockets that hold a phone."),
                item("Shorts", "Relaxed/Everyday", "Linen/Organic Cotton/Recycled Denim",
                     (35, 69)),
                item("Joggers", "Relaxed/Tapered/Everyday", "Organic Cotton/Recycled Polyester",
                     (45, 85)),
                item("Hiking Trousers", "Stretch/Lightweight/Quick-Dry",
                     "Recycled Polyester/Recycled Nylon", (79, 139),
                     "Zip-off legs turn them into shorts."),
                item("Midi Skirt", "Pleated/A-Line/Everyday", "Linen/Organic Cotton/Recycled Denim",
                     (49, 99)),
                item("Wide-Leg Trousers", "Pleated/Relaxed/Cropped", "Linen/Organic Cotton/Tencel",
                     (65, 119)),
            ),
            "apparel", (300, 850),
            "{brand}'s {adj} {noun} in {material}.",
            ("Made to be repaired, not replaced.",
             "Reinforced seams where trousers wear first.",
             "Garment-washed for a lived-in feel."),
            ("fair trade", "bestseller", "new"),
        ),
        Kind(
            "outerwear",
            (
                item("Rain Jacket", "Waterproof/Packable/Hooded/Lightweight/Storm-Proof",
                     "Recycled Nylon/Recycled Polyester/Waxed Cotton", (119, 259),
                     "Taped seams and a 20,000 mm waterproof rating keep the rain out."
                     "|Underarm vents for the ride to work.|A PFC-free water-repellent finish."),
                item("Parka", "Waterproof/Insulated/Hooded",
                     "Recycled Nylon/Organic Cotton/Recycled Down", (199, 349),
                     "Warm down to minus ten.|A fleece-lined hood."),
                item("Puffer Jacket", "Insulated/Packable/Lightweight",
                     "Recycled Down/Recycled Polyester", (149, 279),
                     "Packs into its own pocket.|Down traceable to the farm."),
                item("Windbreaker", "Packable/Lightweight/Windproof",
                     "Recycled Nylon/Recycled Polyester", (79, 149),
                     "Packs into its own chest pocket."),
                item("Softshell Jacket", "Windproof/Breathable/Stretch", "Recycled Polyester",
                     (109, 189), "Four-way stretch for cycling and climbing."),
                item("Fleece Jacket", "Heavyweight/Classic/Zip-Up",
                     "Recycled Polyester/Recycled Wool", (69, 139), "Warm even when damp."),
                item("Trench Coat", "Classic/Water-Repellent/Belted", "Organic Cotton/Waxed Cotton",
                     (179, 329), "A storm flap and a belted waist."),
                item("Overcoat", "Classic/Double-Breasted/Tailored", "Recycled Wool", (219, 389),
                     "Fully lined, with an inside pocket for a phone."),
                item("Rain Poncho", "Waterproof/Packable", "Recycled Nylon/Recycled Polyester",
                     (49, 99), "Long enough to cover a rucksack on the bike."),
                item("Shell Jacket", "Waterproof/Breathable/Storm-Proof/Lightweight",
                     "Recycled Nylon", (179, 349), "A helmet-compatible hood and two-way zip."),
            ),
            "apparel", (350, 1600),
            "A {adj} {noun} by {brand}, made from {material}.",
            ("Repaired for free in our stores.", "Cut long enough for the bike."),
            ("bestseller", "new", "cycling"),
            APPAREL_COLOURS[:10],
        ),
        Kind(
            "knitwear",
            (
                item("Crew-Neck Sweater", "Fine-Knit/Classic/Chunky/Soft",
                     "Merino Wool/Lambswool/Recycled Wool/Cashmere Blend", (79, 169)),
                item("Cardigan", "Chunky/Classic/Oversized",
                     "Merino Wool/Lambswool/Alpaca Blend/Organic Cotton", (89, 179)),
                item("Turtleneck", "Fine-Knit/Ribbed/Slim-Fit", "Merino Wool/Cashmere Blend",
                     (79, 189)),
                item("Cable-Knit Sweater", "Chunky/Classic/Oversized",
                     "Lambswool/Recycled Wool/Alpaca Blend", (99, 189)),
                item("Knitted Vest", "Ribbed/Classic", "Merino Wool/Lambswool/Organic Cotton",
                     (59, 109)),
                item("Roll-Neck Jumper", "Chunky/Ribbed", "Recycled Wool/Alpaca Blend", (89, 169)),
            ),
            "apparel", (300, 750),
            "A {adj} {noun} by {brand}, knitted from {material}.",
            ("Fully fashioned, so the seams lie flat.",
             "Hand-finished collar and cuffs.", "Knitted in a family-run mill."),
            ("bestseller", "new", "traceable"),
        ),
        Kind(
            "socks",
            (
                item("Socks", "Everyday/Striped/Ribbed",
                     "Merino Wool/Organic Cotton/Bamboo/Recycled Wool", (9, 19)),
                item("Hiking Socks", "Cushioned/Thermal", "Merino Wool/Recycled Wool", (17, 29),
                     "Extra cushioning under the heel and the ball of the foot."),
                item("Ankle Socks", "Everyday/Lightweight", "Organic Cotton/Bamboo", (8, 15)),
                item("Running Socks", "Lightweight/Cushioned", "Merino Wool/Recycled Polyester",
                     (14, 24)),
                item("Knee-High Socks", "Ribbed/Striped/Thermal",
                     "Merino Wool/Organic Cotton/Recycled Wool", (15, 27)),
            ),
            "socks", (50, 120),
            "{adj} {noun} by {brand} in {material}.",
            ("A seamless toe that never rubs.", "Reinforced heel and toe.",
             "Sold as a single pair."),
            ("bestseller", "gift idea"),
        ),
        Kind(
            "sneakers",
            (
                item("Sneakers", "Low-Top/Classic/Minimal/Retro",
                     "Leather/Suede/Vegan Leather/Recycled Mesh/Canvas", (79, 149)),
                item("Court Sneakers", "Classic/Minimal", "Leather/Suede/Vegan Leather",
                     (99, 169)),
                item("Runners", "Lightweight/Retro", "Recycled Mesh/Suede", (89, 159),
                     "A cushioned midsole made partly from sugarcane."),
                item("High-Tops", "Classic/Retro", "Canvas/Leather/Suede", (79, 149)),
                item("Trail Runners", "Lightweight/Waterproof/Grippy", "Recycled Mesh",
                     (119, 179), "A lugged sole for wet forest paths."),
            ),
            "shoes", (600, 1100),
            "{brand}'s {adj} {noun} in {material}.",
            ("A natural rubber sole, stitched rather than glued.",
             "A removable cork footbed.", "Resoleable at our repair bench."),
            ("bestseller", "new"),
        ),
        Kind(
            "boots",
            (
                item("Chelsea Boots", "Classic/Waterproof/Lined", "Leather/Suede/Vegan Leather",
                     (139, 229)),
                item("Hiking Boots", "Waterproof/Rugged/Lightweight", "Leather/Suede", (149, 249),
                     "A waterproof membrane keeps feet dry."),
                item("Winter Boots", "Insulated/Waterproof/Lined", "Leather/Suede", (149, 239),
                     "Wool-lined for frosty mornings."),
                item("Rain Boots", "Classic/Lined", "Natural Rubber", (59, 119),
                     "Hand-made from natural rubber."),
                item("Lace-Up Boots", "Classic/Rugged", "Leather/Waxed Leather", (159, 249)),
            ),
            "shoes", (900, 1900),
            "{adj} {noun} by {brand} in {material}.",
            ("Goodyear-welted and resoleable.", "A lugged sole that grips on wet cobbles."),
            ("bestseller", "new"),
        ),
        Kind(
            "sandals",
            (
                item("Sandals", "Classic/Strappy/Cushioned", "Leather/Cork/Recycled Rubber",
                     (49, 119)),
                item("Slides", "Cushioned/Classic", "Cork/Recycled Rubber", (29, 69)),
                item("Espadrilles", "Classic/Striped", "Jute/Organic Cotton", (39, 79),
                     "Hand-stitched jute soles."),
                item("Trekking Sandals", "Lightweight/Adjustable", "Recycled Rubber", (69, 119)),
            ),
            "shoes", (300, 700),
            "{adj} {noun} by {brand} in {material}.",
            ("Adjustable straps.", "Light enough for the beach bag."),
            ("summer", "new"),
        ),
        Kind(
            "bags",
            (
                item("Tote Bag", "Everyday/Large/Minimal",
                     "Organic Cotton/Waxed Canvas/Recycled PET", (15, 59)),
                item("Backpack", "Roll-Top/Everyday/Waterproof",
                     "Recycled Nylon/Waxed Canvas/Recycled PET", (79, 179),
                     "A padded sleeve fits a 15-inch laptop."),
                item("Crossbody Bag", "Compact/Minimal", "Leather/Recycled Nylon", (49, 139)),
                item("Weekender", "Large/Classic", "Waxed Canvas/Leather", (129, 249),
                     "Fits as carry-on luggage."),
                item("Laptop Sleeve", "Padded/Minimal", "Recycled PET/Wool Felt", (35, 69)),
                item("Bike Pannier", "Waterproof/Roll-Top", "Recycled PET/Recycled Nylon",
                     (69, 139), "Clips onto any bike rack."),
                item("Bum Bag", "Compact/Everyday", "Recycled Nylon/Organic Cotton", (29, 59)),
            ),
            "colour", (150, 1200),
            "A {adj} {noun} by {brand} in {material}.",
            ("An inner pocket for keys.", "A lifetime guarantee on the seams."),
            ("gift idea", "cycling", "bestseller"),
            OUTDOOR_COLOURS,
        ),
        Kind(
            "hats",
            (
                item("Beanie", "Ribbed/Chunky/Classic", "Merino Wool/Recycled Wool/Alpaca Blend",
                     (19, 45), "A turn-up cuff.|Warm without itching."),
                item("Scarf", "Chunky/Soft/Striped", "Merino Wool/Alpaca Blend/Lambswool",
                     (35, 89), "Long enough to wrap twice."),
                item("Cap", "Classic/Six-Panel", "Organic Cotton/Waxed Cotton", (25, 45),
                     "An adjustable strap at the back."),
                item("Bucket Hat", "Reversible/Classic", "Organic Cotton/Recycled Nylon",
                     (29, 55)),
                item("Gloves", "Fleece-Lined/Touchscreen", "Merino Wool/Leather", (29, 79)),
            ),
            "colour", (60, 250),
            "A {adj} {noun} by {brand} in {material}.",
            ("One size fits most.",),
            ("gift idea", "new"),
        ),
        Kind(
            "camping",
            (
                item("Tent", "Ultralight/Four-Season/Compact", "Recycled Polyester/Recycled Nylon",
                     (199, 549), "Pitches in five minutes.|Comes with a repair kit.",
                     "persons"),
                item("Sleeping Bag", "Ultralight/Three-Season/Compact",
                     "Recycled Down/Recycled Polyester", (129, 349),
                     "Comfortable down to minus five.", "length"),
                item("Camping Stove", "Compact/Ultralight", "Stainless Steel/Aluminium", (39, 99),
                     "Boils a litre of water in four minutes.", "none"),
                item("Sleeping Mat", "Inflatable/Self-Inflating/Ultralight", "Recycled Polyester",
                     (59, 149), "An R-value of 4 for cold ground.", "length"),
                item("Camp Chair", "Folding/Compact", "Aluminium", (49, 119)),
                item("Lantern", "Rechargeable/Compact", "", (25, 59), "Charges over USB-C."),
                item("Insulated Bottle", "Double-Walled/Leakproof", "Stainless Steel", (25, 45),
                     "Keeps drinks hot for twelve hours."),
            ),
            "colour", (300, 3200),
            "A {adj} {noun} by {brand}, made from {material} for nights outside.",
            ("Packs down small.", "Tested on the Wadden islands."),
            ("ultralight", "new", "bestseller"),
            OUTDOOR_COLOURS,
        ),
        Kind(
            "hiking",
            (
                item("Daypack", "Lightweight/Ventilated/Waterproof",
                     "Recycled Nylon/Recycled Polyester", (59, 139),
                     "A rain cover tucks into the lid."),
                item("Hiking Backpack", "Adjustable/Ventilated", "Recycled Nylon", (149, 249),
                     "Adjustable torso length.|Hydration-bladder compatible."),
                item("Trekking Poles", "Lightweight/Folding", "Aluminium/Carbon", (59, 139),
                     "Fold to 38 cm for the train.", "none"),
                item("Headlamp", "Rechargeable/Compact", "", (29, 69),
                     "400 lumens and a red night mode.", "colour"),
                item("Dry Bag", "Waterproof/Roll-Top", "Recycled Nylon/Recycled PET", (19, 39)),
                item("Hip Pack", "Lightweight/Compact", "Recycled Nylon", (35, 69), "",
                     "colour"),
            ),
            "capacity", (150, 1500),
            "A {adj} {noun} by {brand} in {material}.",
            ("Made for the Veluwe and the Ardennes.",),
            ("new", "bestseller"),
            OUTDOOR_COLOURS,
        ),
        Kind(
            "kitchen",
            (
                item("Mug", "Handmade/Speckled/Matte/Hand-Thrown", "Stoneware/Porcelain/Enamel",
                     (14, 32), "Holds 350 ml.|Dishwasher and microwave safe."),
                item("Teapot", "Classic/Speckled", "Stoneware/Porcelain/Cast Iron", (39, 89),
                     "A stainless steel infuser inside."),
                item("Chef's Knife", "Forged/Classic", "Carbon Steel/Stainless Steel", (79, 169),
                     "A 20 cm blade, sharpened by hand.", "none"),
                item("Cutting Board", "End-Grain/Classic/Large", "Oak/Walnut", (39, 99),
                     "Oiled with food-safe linseed oil.|From FSC-certified wood.", "none"),
                item("Serving Bowl", "Large/Speckled/Hand-Thrown", "Stoneware/Glass", (29, 69)),
                item("Espresso Cups", "Speckled/Matte", "Porcelain/Stoneware", (24, 42),
                     "Sold as a set of two."),
                item("Coffee Grinder", "Manual/Classic", "Stainless Steel/Walnut", (59, 139),
                     "Ceramic burrs, adjustable from espresso to French press.", "none"),
                item("Pour-Over Set", "Classic/Minimal", "Glass/Porcelain", (35, 69),
                     "Dripper, carafe and 40 filters.", "none"),
            ),
            "colour", (200, 2500),
            "A {adj} {noun} in {material}, chosen by {brand}.",
            ("Made for daily use, not for the cupboard.",),
            ("handmade", "gift idea", "local"),
            HOME_COLOURS,
        ),
        Kind(
            "textiles",
            (
                item("Throw Blanket", "Soft/Striped/Heavyweight",
                     "Recycled Wool/Organic Cotton/Linen", (59, 159)),
                item("Cushion Cover", "Washed/Striped", "Linen/Organic Cotton", (25, 49),
                     "50 × 50 cm, with a hidden zip."),
                item("Bath Towel", "Waffle/Soft/Heavyweight", "Organic Cotton/Linen", (25, 55)),
                item("Duvet Cover", "Washed/Soft", "Linen/Organic Cotton", (89, 189),
                     "140 × 220 cm, with two pillowcases."),
                item("Tea Towel", "Striped/Waffle", "Linen/Organic Cotton", (12, 22)),
                item("Tablecloth", "Washed/Striped", "Linen", (49, 119)),
            ),
            "colour", (200, 1800),
            "A {adj} {noun} in {material} by {brand}.",
            ("Stone-washed for softness.", "OEKO-TEX certified.",
             "Gets softer with every wash."),
            ("gift idea", "bestseller"),
            HOME_COLOURS,
        ),
        Kind(
            "decor",
            (
                item("Vase", "Minimal/Sculptural/Ribbed/Glazed", "Ceramic/Recycled Glass/Stoneware",
                     (29, 89), "Watertight, for fresh flowers."),
                item("Candle", "Hand-Poured/Scented", "Soy Wax/Rapeseed Wax", (18, 39),
                     "Burns for about 40 hours."),
                item("Plant Pot", "Glazed/Ribbed/Minimal", "Terracotta/Ceramic", (15, 49),
                     "A drainage hole and a saucer."),
                item("Wall Print", "Risograph/Botanical/Minimal", "Recycled Paper/Cotton Paper",
                     (25, 69), "A2, printed in Amsterdam-Noord.", "none"),
                item("Table Lamp", "Minimal/Sculptural", "Brass/Ceramic/Oak", (89, 229),
                     "Comes with a dimmable LED bulb."),
                item("Candle Holder", "Minimal/Sculptural", "Brass/Oak/Ceramic", (19, 49)),
                item("Mirror", "Round/Minimal", "Oak/Brass", (79, 199), "", "none"),
            ),
            "colour", (200, 3000),
            "A {adj} {noun} in {material}, chosen by {brand}.",
            ("Each piece is a little different.", "Wrapped in recycled paper, ready to give."),
            ("handmade", "local", "gift idea"),
            HOME_COLOURS,
        ),
        Kind(
            "skincare",
            (
                item("Face Cream", "Nourishing/Hydrating/Soothing",
                     "Rosehip/Shea Butter/Oat/Aloe Vera", (19, 45)),
                item("Cleansing Balm", "Gentle/Soothing", "Chamomile/Oat/Sea Buckthorn", (18, 36)),
                item("Facial Oil", "Nourishing/Brightening", "Rosehip/Sea Buckthorn/Argan",
                     (22, 48)),
                item("Serum", "Hydrating/Brightening", "Aloe Vera/Sea Buckthorn", (25, 55)),
                item("Lip Balm", "Nourishing/Tinted", "Shea Butter/Rosehip", (6, 12), "", "none"),
                item("Day Cream SPF 30", "Hydrating/Light", "Aloe Vera/Oat", (22, 39)),
                item("Face Mask", "Soothing/Purifying", "Oat/Kaolin Clay", (16, 32)),
            ),
            "volume", (40, 350),
            "A {adj} {noun} by {brand} with {material}.",
            ("Suitable for sensitive skin.", "Dermatologically tested.", "No palm oil.",
             "In a refillable glass jar."),
            ("vegan", "refillable", "cruelty-free"),
        ),
        Kind(
            "haircare",
            (
                item("Shampoo Bar", "Gentle/Volumising", "Rosemary/Nettle/Oat", (9, 16),
                     "Plastic-free, and lasts as long as two bottles.", "none"),
                item("Conditioner", "Nourishing/Repairing", "Argan/Coconut/Oat", (12, 24)),
                item("Hair Oil", "Nourishing/Repairing", "Argan/Rosemary", (16, 32)),
                item("Dry Shampoo", "Volumising/Gentle", "Rice Starch/Nettle", (11, 19), "",
                     "none"),
                item("Hair Mask", "Repairing/Nourishing", "Argan/Coconut", (15, 29)),
            ),
            "volume", (60, 400),
            "A {adj} {noun} by {brand} with {material}.",
            ("Sulphate-free.", "Made without silicones."),
            ("vegan", "plastic-free", "cruelty-free"),
        ),
        Kind(
            "body",
            (
                item("Hand Soap", "Calming/Fresh", "Lavender/Citrus/Eucalyptus", (8, 16),
                     "Refill it at the shop."),
                item("Body Lotion", "Nourishing/Light", "Shea Butter/Lavender/Citrus", (14, 28)),
                item("Bath Salts", "Calming/Relaxing", "Lavender/Eucalyptus/Cedarwood", (12, 22),
                     "", "none"),
                item("Deodorant", "Fresh/Gentle", "Citrus/Cedarwood", (9, 15),
                     "Aluminium-free.", "none"),
                item("Hand Cream", "Nourishing/Rich", "Shea Butter/Lavender/Oat", (9, 19)),
                item("Body Scrub", "Invigorating/Gentle", "Sea Salt/Coffee", (14, 26)),
                item("Shower Gel", "Fresh/Invigorating/Calming", "Citrus/Eucalyptus/Lavender",
                     (8, 16)),
            ),
            "volume", (80, 600),
            "A {adj} {noun} by {brand} with {material}.",
            ("Made in small batches on the street.", "No microplastics.",
             "Scented with essential oils only."),
            ("vegan", "refillable", "gift idea"),
        ),
        Kind(
            "stationery",
            (
                item("Notebook", "Linen-Bound/Pocket/Lay-Flat/Slim", "Recycled Paper/Cotton Paper",
                     (12, 29), "100 gsm paper that takes fountain-pen ink.", "ruling"),
                item("Sketchbook", "Lay-Flat/Pocket/Large", "Cotton Paper/Recycled Paper",
                     (14, 34), "Heavy paper for ink and watercolour."),
                item("Weekly Planner", "Undated/Pocket/Slim", "Recycled Paper", (16, 29),
                     "Start it in any week of the year."),
                item("Fountain Pen", "Classic/Pocket", "Brass/Aluminium", (29, 89),
                     "Takes standard international cartridges.", "nib"),
                item("Pencil Set", "Sketching/Classic", "Cedar", (9, 24),
                     "Six grades from 2H to 6B.", "none"),
                item("Greeting Cards", "Letterpress/Botanical", "Recycled Paper/Cotton Paper",
                     (12, 19), "A set of six with envelopes.", "none"),
                item("Desk Pad", "Large/Minimal", "Recycled Paper", (14, 24),
                     "Fifty tear-off sheets.", "none"),
            ),
            "colour", (40, 600),
            "A {adj} {noun} by {brand} in {material}.",
            (),
            ("gift idea", "bestseller", "made in the netherlands"),
            PAPER_COLOURS,
        ),
        # Book titles come from BOOKS below; the item only carries the price.
        Kind("fiction", (item("Novel", "", "", (16, 26)),), "format", (250, 650), ""),
        Kind("non-fiction", (item("Guide", "", "", (18, 39)),), "format", (300, 900), ""),
        Kind("children", (item("Picture Book", "", "", (10, 19)),), "format", (200, 500), ""),
    )
}  # fmt: skip

BOOKS = {
    "fiction": (
        ("Quiet", "Silver", "Last", "Hidden", "Salt", "Winter", "Paper", "Drowned",
         "Lantern", "Northern", "Glass", "Amber", "Lost"),
        ("Harbour", "Orchard", "Canal", "Lighthouse", "Garden", "Bridge", "Atlas", "Tide",
         "Archive", "Island", "Ferry", "Season", "Houseboat"),
    ),
    "non-fiction": (
        ("Slow Fashion", "Urban Cycling", "Dutch Design", "Sourdough", "Houseplants",
         "Wild Swimming", "Visible Mending", "Zero-Waste Living", "Coffee", "The North Sea",
         "Typography", "Birdwatching", "Canal Houses"),
        ("A Practical Guide", "A Field Guide", "The Handbook", "A Short History",
         "Notes from Amsterdam", "Everyday Recipes", "A Beginner's Guide"),
    ),
    "children": (
        ("Pip", "Otto", "Mila", "Fenna", "Bas", "Lotte", "Teun", "Noor"),
        ("Moon Boat", "Big Storm", "Lost Bicycle", "Canal Cat", "Windmill", "Tulip Thief",
         "Night Tram", "Singing Bridge"),
    ),
}  # fmt: skip
BOOK_TOPICS = {
    "fiction": ("a family of lighthouse keepers", "two sisters and a houseboat",
                "a summer on Vlieland", "a missing painting", "a ferry that never arrives",
                "a bookshop on a canal", "the winter the canals froze"),
    "children": ("being brave", "bedtime in the city", "making friends", "a rainy day"),
}  # fmt: skip
AUTHOR_FIRST = ("Maartje", "Jonas", "Ilse", "Karim", "Ada", "Willem", "Saskia", "Tobias")
AUTHOR_LAST = ("Verhoeven", "Kuipers", "Aydin", "Brandsma", "Oostra", "Hart", "Lindqvist")


@dataclass(frozen=True)
class Person:
    first: str
    last: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    kind: LocationKind
    line1: str
    postal_code: str
    lat: float
    lon: float
    fulfils_online: bool = True
    assortment: float = 1.0  # share of the merchant's products stocked here


@dataclass(frozen=True)
class MerchantSpec:
    slug: str
    name: str
    kind: MerchantKind
    description: str
    brands: tuple[str, ...]
    mix: tuple[tuple[str, int], ...]  # (leaf category, how many products)
    sku: str  # SKU prefix
    gs1: str  # 7-digit GS1 company prefix (87…: the Netherlands)
    ending: int  # price ending in cents: 95 → €24.95, 0 → €25.00
    staff: tuple[Person, ...]  # the first is the merchant admin
    places: tuple[Place, ...]
    heroes: tuple[tuple[str, str], ...] = ()  # (category, title): always in the range
    lines: tuple[str, ...] = ()  # collection names a brand puts before some titles
    publishers: tuple[str, ...] = ()  # the "brand" of its books


# The street: Haarlemmerstraat, Amsterdam (east end near Herenmarkt, west end at the
# Haarlemmerplein); every merchant has a shop on it, the big brand three more places.
def _street(number: int) -> tuple[str, str, float, float]:
    t = min(number, 140) / 140
    postal = "1013 EJ" if number < 60 else "1013 ER" if number < 100 else "1013 EW"
    return (
        f"Haarlemmerstraat {number}",
        postal,
        round(52.38020 + 0.00330 * t, 5),
        round(4.89020 - 0.00560 * t, 5),
    )


def _shop(code: str, name: str, number: int, assortment: float = 1.0) -> Place:
    line1, postal, lat, lon = _street(number)
    return Place(code, name, LocationKind.STORE, line1, postal, lat, lon, True, assortment)


MERCHANTS: tuple[MerchantSpec, ...] = (
    MerchantSpec(
        "noorderlicht",
        "Noorderlicht",
        MerchantKind.BRAND,
        "Amsterdam outdoor and rainwear brand since 2009: jackets built for cycling through "
        "a Dutch winter, made from recycled fabrics and repaired for free in our stores.",
        ("Noorderlicht",),
        (("outerwear", 38), ("tops", 22), ("bottoms", 14), ("knitwear", 10), ("socks", 6),
         ("boots", 10), ("hiking", 14), ("camping", 10), ("bags", 6)),
        "NRD", "8719841", 95,
        (Person("Sanne", "Visser"), Person("Daan", "Kok"), Person("Yara", "Mansour")),
        (
            Place("AMS-DC", "Noorderlicht distribution centre", LocationKind.WAREHOUSE,
                  "Hornweg 60", "1045 AR", 52.40310, 4.81660),
            _shop("AMS-HAARLEMMER", "Noorderlicht Haarlemmerstraat", 112, assortment=0.7),
            Place("AMS-KALVER", "Noorderlicht Kalverstraat", LocationKind.STORE,
                  "Kalverstraat 152", "1012 XE", 52.36830, 4.89120, assortment=0.5),
            Place("AMS-PIJP", "Noorderlicht De Pijp", LocationKind.STORE,
                  "Ferdinand Bolstraat 48", "1072 LL", 52.35560, 4.89150,
                  fulfils_online=False, assortment=0.35),
        ),
        (("outerwear", "Waterproof Rain Jacket"), ("outerwear", "Insulated Recycled Down Parka"),
         ("socks", "Merino Wool Hiking Socks"), ("hiking", "Recycled Nylon Daypack")),
        ("Storm", "Duin", "Kade", "Vlieland", "Polder"),
    ),
    MerchantSpec(
        "merino-moss",
        "Merino & Moss",
        MerchantKind.BRAND,
        "Knitwear and socks from traceable merino and recycled wool, knitted in a "
        "family-run mill and sold from our small shop on the Haarlemmerstraat.",
        ("Merino & Moss",),
        (("knitwear", 24), ("socks", 14), ("tops", 10), ("hats", 7)),
        "MM", "8719977", 0,
        (Person("Ingrid", "Bakker"), Person("Mees", "de Jong")),
        (_shop("HAARLEMMER-58", "Merino & Moss", 58),),
        (("socks", "Merino Wool Socks"), ("knitwear", "Merino Wool Crew-Neck Sweater")),
    ),
    MerchantSpec(
        "canal-street-market",
        "Canal Street Market",
        MerchantKind.MARKETPLACE,
        "An online marketplace for independent Dutch and Belgian makers, with a showroom "
        "and pick-up point on the Haarlemmerstraat.",
        ("Atelier Veld", "Boomkracht", "Stadshaven", "Kleine Zee", "Oost Supply",
         "Polder & Co", "Studio Vaart", "Wadlopers"),
        (("tops", 12), ("bottoms", 8), ("sneakers", 10), ("sandals", 8), ("bags", 10),
         ("kitchen", 10), ("decor", 8), ("skincare", 8), ("camping", 7), ("hats", 5)),
        "CSM", "8720154", 99,
        (Person("Omar", "El Idrissi"), Person("Femke", "Mulder"), Person("Chen", "Wei")),
        (_shop("SHOWROOM", "Canal Street Market showroom", 21),),
        (("tops", "Recycled Cotton T-Shirt"), ("sneakers", "Recycled Mesh Sneakers")),
    ),
    MerchantSpec(
        "westerhal",
        "Westerhal Arcade",
        MerchantKind.MALL_OWNER,
        "Owner of the covered Westerhal arcade at the west end of the street; its concept "
        "store sells the arcade's own tote bags, prints and gifts from local makers.",
        ("Westerhal", "Westerhal Makers"),
        (("bags", 7), ("decor", 10), ("stationery", 6), ("textiles", 6)),
        "WH", "8720311", 0,
        (Person("Pieter", "van der Berg"), Person("Amira", "Haddad")),
        (_shop("ARCADE", "Westerhal concept store", 138),),
        (("bags", "Organic Cotton Tote Bag"),),
    ),
    MerchantSpec(
        "papier-en-pen",
        "Papier & Pen",
        MerchantKind.STREET_SHOP,
        "Independent bookshop and stationer: new fiction, books about the city and a wall "
        "of notebooks, pens and cards.",
        ("Papier & Pen", "Inkwell Studio", "Kraft & Co"),
        (("fiction", 20), ("non-fiction", 15), ("children", 10), ("stationery", 15)),
        "PP", "8720478", 99,
        (Person("Marieke", "Hoekstra"), Person("Jasper", "Smit")),
        (_shop("SHOP", "Papier & Pen", 34),),
        (("stationery", "Recycled Paper Notebook"),),
        publishers=("Uitgeverij Gracht", "Harbour Press", "Tulip Tree Books"),
    ),
    MerchantSpec(
        "zeep-en-zo",
        "Zeep & Zo",
        MerchantKind.STREET_SHOP,
        "Natural soap and skincare, made in small batches in the back of the shop. Bring "
        "your bottle: everything liquid can be refilled.",
        ("Zeep & Zo", "Duinroos", "Wadden Botanicals"),
        (("skincare", 18), ("haircare", 10), ("body", 17)),
        "ZZ", "8720595", 50,
        (Person("Lieke", "Dijkstra"), Person("Hana", "Sato")),
        (_shop("SHOP", "Zeep & Zo", 77),),
        (("body", "Lavender Hand Soap"),),
    ),
    MerchantSpec(
        "loop-sneakers",
        "Loop Sneakers",
        MerchantKind.STREET_SHOP,
        "Sneakers, boots and sandals from small European labels, plus a resoling service "
        "for the ones you already love.",
        ("Loop", "Stride Studio", "Polder Runners", "Noord Kicks"),
        (("sneakers", 28), ("boots", 10), ("sandals", 6), ("socks", 6)),
        "LOOP", "8720632", 0,
        (Person("Kofi", "Mensah"), Person("Lotte", "Brouwer")),
        (_shop("SHOP", "Loop Sneakers", 95),),
        (("sneakers", "Suede Court Sneakers"),),
    ),
    MerchantSpec(
        "huis-en-haard",
        "Huis & Haard",
        MerchantKind.STREET_SHOP,
        "Homewares for small Amsterdam apartments: stoneware from Utrecht, linen, candles "
        "and lamps.",
        ("Huis & Haard", "Studio Klei", "Linnen Lab"),
        (("kitchen", 18), ("textiles", 14), ("decor", 13)),
        "HH", "8720779", 95,
        (Person("Joost", "Peters"), Person("Elif", "Kaya")),
        (_shop("SHOP", "Huis & Haard", 126),),
        (("kitchen", "Stoneware Mug"), ("textiles", "Linen Throw Blanket")),
    ),
)  # fmt: skip

FIRST_NAMES = (
    "Sanne", "Daan", "Lotte", "Bram", "Noor", "Thijs", "Fleur", "Jesse", "Emma", "Luuk",
    "Julia", "Sem", "Sophie", "Milan", "Anna", "Lucas", "Eva", "Finn", "Zoe", "Ruben",
    "Isa", "Femke", "Jasper", "Amira", "Omar", "Priya", "Mateo", "Chen", "Ingrid", "Kofi",
    "Hana", "Lars", "Elif", "Tomas", "Nina", "Pieter", "Anouk", "Wouter", "Lieke", "Sven",
)  # fmt: skip
LAST_NAMES = (
    "de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker",
    "Brouwer", "de Wit", "Dijkstra", "Kaya", "El Amrani", "Nguyen", "Schmidt", "Dubois",
    "Rossi", "Novak", "Okafor", "Larsen", "Tan", "Janssens",
)  # fmt: skip
# (city, country, weight, postal code maker, streets)
CITIES: tuple[tuple[str, str, float, str, tuple[str, ...]], ...] = (
    ("Amsterdam", "NL", 0.45, "10{:02d}", ("Haarlemmerdijk", "Prinsengracht",
     "Bilderdijkstraat", "Javastraat", "Van Woustraat", "Kinkerstraat", "Czaar Peterstraat")),
    ("Utrecht", "NL", 0.10, "35{:02d}", ("Oudegracht", "Twijnstraat", "Biltstraat")),
    ("Rotterdam", "NL", 0.09, "30{:02d}", ("Witte de Withstraat", "Nieuwe Binnenweg")),
    ("Haarlem", "NL", 0.08, "20{:02d}", ("Grote Houtstraat", "Zijlstraat")),
    ("Den Haag", "NL", 0.07, "25{:02d}", ("Prinsestraat", "Frederikstraat")),
    ("Antwerpen", "BE", 0.08, "20{:02d}", ("Kammenstraat", "Nationalestraat")),
    ("Gent", "BE", 0.05, "90{:02d}", ("Veldstraat", "Sint-Pietersnieuwstraat")),
    ("Berlin", "DE", 0.05, "10{:03d}", ("Oderberger Straße", "Weserstraße")),
    ("Düsseldorf", "DE", 0.03, "40{:03d}", ("Lorettostraße", "Bilker Allee")),
)  # fmt: skip
CARDS = (("tok_visa", 0.6), ("tok_mastercard", 0.3), ("tok_amex", 0.1))
CARRIERS = (
    ("PostNL", "3S{}", "https://jouw.postnl.nl/track-and-trace/{}"),
    ("DHL", "JVGL{}", "https://www.dhl.com/nl-en/home/tracking.html?tracking-id={}"),
    ("DPD", "0{}", "https://tracking.dpd.de/status/en_NL/parcel/{}"),
)
CANCEL_REASONS = (
    "ordered the wrong size", "found it cheaper elsewhere", "delivery takes too long",
    "changed my mind", "ordered twice by mistake",
)  # fmt: skip
RETURN_REASONS = (
    "too small", "too large", "colour differs from the photos", "arrived damaged",
    "not what I expected", "fits badly",
)  # fmt: skip


# ==================================================================== generated content


@dataclass
class VariantPlan:
    sku: str
    gtin: str
    options: dict[str, str]
    amount: int
    compare_at: int | None
    weight: int


@dataclass
class ProductPlan:
    merchant: str
    category: str
    title: str
    handle: str
    brand: str
    description: str
    tags: list[str]
    status: ProductStatus
    options: list[tuple[str, list[str]]]
    variants: list[VariantPlan]
    media: list[tuple[str, str]]


def slugify(value: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:90].strip("-") or "item"


def gtin13(body12: str) -> str:
    """A GTIN-13 (EAN) from its 12-digit body: the GS1 mod-10 check digit appended."""
    assert len(body12) == 12 and body12.isdigit()
    return body12 + str(check_digit(body12))


def _euros_to_cents(euros: float, ending: int) -> int:
    whole = max(2, round(euros))
    return whole * 100 - (100 - ending) if ending else whole * 100


def _pick_run(rng: Random, values: Sequence[str], lo: int, hi: int) -> list[str]:
    """A contiguous run of ``lo``..``hi`` values (sizes S–L, volumes 50–250 ml, …)."""
    n = rng.randint(min(lo, len(values)), min(hi, len(values)))
    start = rng.randint(0, len(values) - n)
    return list(values[start : start + n])


def _options(
    rng: Random, style: str, colours: Sequence[str]
) -> tuple[list[tuple[str, list[str]]], list[tuple[dict[str, str], float]]]:
    """The option definition and 1–6 variants as (option values, price factor)."""
    if style in ("apparel", "shoes", "socks"):
        sizes: Sequence[str] = {
            "apparel": ("XS", "S", "M", "L", "XL", "XXL"),
            "shoes": tuple(str(n) for n in range(36, 47)),
            "socks": ("35-38", "39-42", "43-46"),
        }[style]
        n_colours = rng.choice((1, 1, 2)) if style != "socks" else rng.choice((1, 2))
        per = 6 // n_colours
        run = _pick_run(rng, sizes, min(3, per), per)
        chosen = rng.sample(list(colours), n_colours)
        combos = [({"size": s, "colour": c}, 1.0) for c in chosen for s in run]
        return [("size", run), ("colour", chosen)], combos
    if style == "colour":
        chosen = rng.sample(list(colours), rng.choice((1, 1, 2, 3, 4)))
        return [("colour", chosen)], [({"colour": c}, 1.0) for c in chosen]
    if style == "volume":
        run = _pick_run(rng, ("30 ml", "50 ml", "100 ml", "250 ml", "500 ml"), 1, 3)
        factors = {"30 ml": 0.7, "50 ml": 1.0, "100 ml": 1.6, "250 ml": 2.8, "500 ml": 4.5}
        return [("volume", run)], [({"volume": v}, factors[v]) for v in run]
    if style == "capacity":
        run = _pick_run(rng, ("12 L", "18 L", "24 L", "30 L", "40 L"), 1, 3)
        chosen = rng.sample(list(colours), rng.choice((1, 2)))
        combos = [
            ({"capacity": v, "colour": c}, 1.0 + 0.15 * i)
            for c in chosen
            for i, v in enumerate(run)
        ]
        return [("capacity", run), ("colour", chosen)], combos
    # Styles with a fixed list of values, each a step up in price.
    steps: dict[str, tuple[str, tuple[str, ...], int, int, float]] = {
        "format": ("format", ("Paperback", "Hardcover"), 1, 2, 0.45),
        "persons": ("size", ("1-person", "2-person", "3-person", "4-person"), 1, 2, 0.3),
        "length": ("length", ("Regular", "Long"), 1, 2, 0.1),
        "nib": ("nib", ("Extra Fine", "Fine", "Medium", "Broad"), 2, 4, 0.0),
        "ruling": ("ruling", ("Plain", "Lined", "Dot Grid", "Squared"), 1, 4, 0.0),
    }
    if style in steps:
        name, values, lo, hi, step = steps[style]
        run = _pick_run(rng, values, lo, hi)
        return [(name, run)], [({name: v}, 1.0 + step * i) for i, v in enumerate(run)]
    if style == "none":
        return [], [({}, 1.0)]
    raise ValueError(f"unknown option style {style!r}")


def _sku_suffix(values: dict[str, str]) -> str:
    return "-".join(re.sub(r"[^A-Z0-9]", "", v.upper())[:4] for v in values.values())


# Words in a product's name that back a tag; only these make material or weather claims.
WORD_TAGS = (
    ("recycled", "recycled"), ("organic", "organic"), ("waterproof", "waterproof"),
    ("rain", "waterproof"), ("merino", "merino"), ("vegan", "vegan"), ("handmade", "handmade"),
    ("hand-thrown", "handmade"), ("hand-poured", "handmade"), ("linen", "linen"),
)  # fmt: skip


class _Catalogue:
    """Generates every merchant's range from the vocabularies, deterministically."""

    def __init__(self, rng: Random) -> None:
        self.rng = rng
        self.isbn = itertools.count(4_400_000)

    def merchant(self, spec: MerchantSpec) -> list[ProductPlan]:
        heroes: dict[str, list[str]] = defaultdict(list)
        for category, title in spec.heroes:
            heroes[category].append(title)
        titles: set[str] = set()
        handles: set[str] = set()
        gtins = itertools.count(1)
        plans: list[ProductPlan] = []
        for category, count in spec.mix:
            for i in range(count):
                fixed = heroes[category][i] if i < len(heroes[category]) else None
                number = len(plans) + 1
                plans.append(
                    self.product(spec, KINDS[category], fixed, number, titles, handles, gtins)
                )
        # Shuffle so that creation order (the storefront's "newest") mixes categories.
        self.rng.shuffle(plans)
        return plans

    def _words(
        self, spec: MerchantSpec, kind: Kind, fixed: str | None, titles: set[str]
    ) -> tuple[str, Item, str, str]:
        """A title not yet used by the merchant, with the item, adjective and material."""
        rng = self.rng
        if fixed is not None:
            it = max((i for i in kind.items if fixed.endswith(i.noun)), key=lambda i: len(i.noun))
            words = fixed.split()
            adj = next((a for a in it.adjectives if a in words), rng.choice(it.adjectives))
            material = next((m for m in it.materials if m in fixed), rng.choice(it.materials))
            return fixed, it, adj, material
        title = ""
        for _ in range(30):
            it = rng.choice(kind.items)
            adj = rng.choice(it.adjectives) if it.adjectives else ""
            material = rng.choice(it.materials) if it.materials else ""
            if kind.category in BOOKS:
                a, b = BOOKS[kind.category]
                title = {
                    "fiction": "The {} {}",
                    "non-fiction": "{}: {}",
                    "children": "{} and the {}",
                }[kind.category].format(rng.choice(a), rng.choice(b))
            else:
                shape = rng.random()
                if material and shape < 0.4:
                    title = f"{adj} {material} {it.noun}"
                elif material and shape < 0.75:
                    title = f"{material} {it.noun}"
                else:
                    title = f"{adj} {it.noun}"
                if spec.lines and rng.random() < 0.3:
                    title = f"{rng.choice(spec.lines)} {title}"
            if title not in titles:
                return title, it, adj, material
        return f"{title} {len(titles) + 1}", it, adj, material

    def _description(
        self, kind: Kind, it: Item, title: str, adj: str, material: str, brand: str
    ) -> str:
        rng = self.rng
        if kind.category in BOOKS:
            author = f"{rng.choice(AUTHOR_FIRST)} {rng.choice(AUTHOR_LAST)}"
            if kind.category == "non-fiction":
                about = f"An illustrated book on {title.split(':')[0].lower()}, with photographs "
                about += "and practical notes."
            elif kind.category == "fiction":
                about = f"A novel about {rng.choice(BOOK_TOPICS['fiction'])}."
            else:
                about = (
                    f"A picture book for ages 3 to 7 about {rng.choice(BOOK_TOPICS['children'])}."
                )
            return f"{title}, by {author}. {about} Published by {brand}."
        if material:
            lead = kind.lead.format(
                adj=adj.lower(), noun=it.noun.lower(), material=material.lower(), brand=brand
            )
        else:
            lead = f"A {adj.lower()} {it.noun.lower()} by {brand}."
        own = list(it.features)
        shared = [f for f in kind.features if f not in own]
        feats = own[:1] + rng.sample(shared + own[1:], min(2, len(shared) + len(own[1:])))
        origin = f"Designed in Amsterdam, made in {rng.choice(ORIGINS)}."
        lead = lead[0].upper() + lead[1:]
        if lead.startswith("A ") and lead[2:3] in ("a", "e", "i", "o", "u"):
            lead = "An " + lead[2:]
        return " ".join([lead, *feats[:2], origin])

    def product(
        self,
        spec: MerchantSpec,
        kind: Kind,
        fixed_title: str | None,
        number: int,
        titles: set[str],
        handles: set[str],
        gtins: Iterator[int],
    ) -> ProductPlan:
        rng = self.rng
        title, it, adj, material = self._words(spec, kind, fixed_title, titles)
        titles.add(title)
        is_book = kind.category in BOOKS
        brand = rng.choice(spec.publishers if is_book and spec.publishers else spec.brands)
        description = self._description(kind, it, title, adj, material, brand)

        # Tags: what the name says (recycled, organic, waterproof…) plus a few neutral ones.
        words = set(f"{title} {material}".lower().split())
        tags = list(dict.fromkeys(tag for word, tag in WORD_TAGS if word in words))
        for tag in rng.sample(kind.tags, min(len(kind.tags), rng.randint(0, 2))):
            if tag not in tags:
                tags.append(tag)

        options, combos = _options(rng, it.options or kind.options, kind.colours)
        base = rng.uniform(*it.price)
        on_sale = not is_book and rng.random() < SALE_SHARE
        if on_sale:
            tags.append("sale")
        weight = rng.randint(*kind.weight)
        suffixes = [_sku_suffix(values) or "1" for values, _ in combos]
        if len(set(suffixes)) != len(suffixes):
            suffixes = [f"{i + 1:02d}" for i in range(len(combos))]
        variants = []
        for (values, factor), suffix in zip(combos, suffixes, strict=True):
            amount = _euros_to_cents(base * factor, spec.ending)
            compare_at = None
            if on_sale:
                compare_at = _euros_to_cents(amount / 100 * rng.uniform(1.2, 1.45), spec.ending)
                compare_at = max(compare_at, amount + 500)
            body = f"97890{next(self.isbn):07d}" if is_book else f"{spec.gs1}{next(gtins):05d}"
            variants.append(
                VariantPlan(
                    sku=f"{spec.sku}{number:04d}-{suffix}",
                    gtin=gtin13(body),
                    options=values,
                    amount=amount,
                    compare_at=compare_at,
                    weight=max(10, int(round(weight * max(factor, 1.0), -1))),
                )
            )

        handle = slugify(title)
        if handle in handles:
            handle = f"{handle}-{number}"
        handles.add(handle)
        colours = next((vals for name, vals in options if name == "colour"), [])
        media = [
            (
                f"{IMAGE_BASE}/{spec.slug}/{handle}-{k + 1}.jpg",
                f"{title}" + (f" in {colours[k]}" if k < len(colours) else f", view {k + 1}"),
            )
            for k in range(rng.randint(1, 3))
        ]
        status = ProductStatus.ACTIVE
        if fixed_title is None and rng.random() < DRAFT_SHARE:
            status = ProductStatus.DRAFT
        return ProductPlan(
            merchant=spec.slug,
            category=kind.category,
            title=title,
            handle=handle,
            brand=brand,
            description=description,
            tags=tags,
            status=status,
            options=options,
            variants=variants,
            media=media,
        )


def product_input(plan: ProductPlan, category_id: uuid.UUID) -> ProductIn:
    return ProductIn(
        handle=plan.handle,
        title=plan.title,
        description=plan.description,
        brand=plan.brand,
        status=plan.status,
        category_id=category_id,
        tags=plan.tags,
        media=[MediaIn(url=url, alt=alt) for url, alt in plan.media],
        options=[OptionIn(name=name, values=values) for name, values in plan.options],
        variants=[
            VariantIn(
                sku=v.sku,
                gtin=v.gtin,
                options=v.options,
                weight_grams=v.weight,
                prices=[
                    PriceIn(currency=CURRENCY, amount=v.amount, compare_at_amount=v.compare_at)
                ],
            )
            for v in plan.variants
        ],
    )


# ==================================================================== orders, planned


@dataclass
class Customer:
    id: uuid.UUID
    email: str
    name: str
    address: dict[str, str]
    card: str
    favourites: list[str]  # top-level category slugs
    activity: float
    signup_lead: dt.timedelta  # how long before the first order the account was made


@dataclass(frozen=True)
class Sellable:
    variant_id: uuid.UUID
    product_index: int
    merchant: str
    top: str  # top-level category


@dataclass
class OrderFate:
    """What happens to one order after it is placed, with the times it happens."""

    paid: dt.datetime
    cancelled: dt.datetime | None = None
    cancel_reason: str = ""
    fulfilled: dt.datetime | None = None
    return_requested: dt.datetime | None = None
    return_received: dt.datetime | None = None
    return_reason: str = ""
    carrier: int = 0
    parcel: str = ""


@dataclass
class CheckoutPlan:
    customer: Customer
    lines: list[tuple[Sellable, int]]
    placed: dt.datetime = EPOCH
    token: str = "tok_visa"
    decline: str | None = None  # None, "recovered" (paid on a second card), "abandoned"
    fates: dict[str, OrderFate] = field(default_factory=dict)  # by merchant slug

    @property
    def merchants(self) -> list[str]:
        return sorted({s.merchant for s, _ in self.lines})


def _weighted(rng: Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def plan_checkouts(
    rng: Random,
    customers: list[Customer],
    sellables: list[Sellable],
    stock: dict[uuid.UUID, int],
    anchor: dt.datetime,
) -> list[CheckoutPlan]:
    """Who buys what and when, until the checkouts add up to TARGET_ORDERS orders.

    Customers mostly buy in their favourite categories; within a category a few products
    sell far more than the rest (a skewed, seeded popularity), as in any real shop.
    ``stock`` (units sellable online per variant) is drawn down so no plan oversells.
    """
    by_top: dict[str, list[Sellable]] = defaultdict(list)
    for s in sellables:
        by_top[s.top].append(s)
    popularity: dict[uuid.UUID, float] = {}
    products: dict[str, list[list[Sellable]]] = {}
    for top, items in by_top.items():
        grouped: dict[int, list[Sellable]] = defaultdict(list)
        for s in items:
            grouped[s.product_index].append(s)
        groups = list(grouped.values())
        rng.shuffle(groups)
        products[top] = groups
        for rank, group in enumerate(groups):
            for s in group:
                popularity[s.variant_id] = 1.0 / (rank + 1) ** 0.9
    tops = sorted(products)
    plans: list[CheckoutPlan] = []
    orders = 0
    weights = [c.activity for c in customers]
    for _ in range(TARGET_ORDERS * 4):  # bounded; ends far earlier
        if orders >= TARGET_ORDERS:
            break
        customer = rng.choices(customers, weights=weights)[0]
        favourites = [t for t in customer.favourites if t in products] or tops
        n_items = _weighted(rng, ((1, 0.55), (2, 0.3), (3, 0.15)))
        lines: dict[uuid.UUID, tuple[Sellable, int]] = {}
        for _ in range(n_items):
            top = rng.choice(favourites) if rng.random() < 0.8 else rng.choice(tops)
            groups = products[top]
            group = rng.choices(groups, weights=[popularity[g[0].variant_id] for g in groups])[0]
            choices = [s for s in group if stock[s.variant_id] > 0 and s.variant_id not in lines]
            if not choices:
                continue
            pick = rng.choice(choices)
            qty = min(stock[pick.variant_id], 2 if rng.random() < 0.12 else 1)
            stock[pick.variant_id] -= qty
            lines[pick.variant_id] = (pick, qty)
        if not lines:
            continue
        plan = CheckoutPlan(customer, list(lines.values()), token=customer.card)
        plans.append(plan)
        orders += len(plan.merchants)

    # When: spread over ORDER_DAYS, busier lately (the platform is growing), in shop hours
    # and evenings; sorted so that ids and timestamps agree.
    hours = [(h, 1.0 + 2.0 * (11 <= h <= 14) + 2.5 * (19 <= h <= 22)) for h in range(7, 24)]
    times = []
    for _ in plans:
        day = int(ORDER_DAYS * rng.random() ** 0.75)
        at = anchor - dt.timedelta(days=ORDER_DAYS - day)
        at += dt.timedelta(hours=_weighted(rng, hours), seconds=rng.randint(0, 3599))
        times.append(min(at, anchor - dt.timedelta(minutes=30)))
    times.sort()
    for plan, at in zip(plans, times, strict=True):
        plan.placed = at

    # A few payments are declined: one customer pays with another card, two give up.
    middle = list(range(len(plans) // 5, len(plans) * 4 // 5))
    for i, index in enumerate(rng.sample(middle, 3)):
        plans[index].decline = "recovered" if i == 0 else "abandoned"
    for plan in plans:
        for slug in plan.merchants:
            plan.fates[slug] = _fate(rng, plan.placed, anchor)
    return plans


def _fate(rng: Random, placed: dt.datetime, anchor: dt.datetime) -> OrderFate:
    fate = OrderFate(
        paid=placed + dt.timedelta(seconds=rng.randint(20, 150)),
        carrier=rng.randrange(len(CARRIERS)),
        parcel=f"{rng.randrange(10**11):011d}",
    )
    if rng.random() < 0.05:
        cancelled = placed + dt.timedelta(hours=rng.uniform(0.5, 18))
        if cancelled <= anchor:
            fate.cancelled = cancelled
            fate.cancel_reason = rng.choice(CANCEL_REASONS)
            return fate
    # Shops ship within half a day to five days: the last days' orders are the backlog.
    fulfilled = placed + dt.timedelta(hours=rng.uniform(12, 120))
    if fulfilled > anchor:
        return fate  # recent: paid, still being packed
    fate.fulfilled = fulfilled
    roll = rng.random()
    if roll < 0.065:
        requested = fulfilled + dt.timedelta(days=rng.uniform(2, 12))
        received = requested + dt.timedelta(days=rng.uniform(2, 6))
        fate.return_reason = rng.choice(RETURN_REASONS)
        if received <= anchor and roll < 0.055:
            fate.return_requested, fate.return_received = requested, received
        elif requested <= anchor:
            fate.return_requested = requested  # asked, not yet back
    return fate


# ==================================================================== loading


@dataclass
class World:
    """Ids of what was made, and when each thing is to be dated."""

    anchor: dt.datetime
    password_hash: str
    merchants: dict[str, uuid.UUID] = field(default_factory=dict)
    staff: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    categories: dict[str, uuid.UUID] = field(default_factory=dict)
    products: list[tuple[uuid.UUID, ProductPlan]] = field(default_factory=list)
    variant_ids: dict[str, uuid.UUID] = field(default_factory=dict)  # by SKU (unique here)
    locations: dict[str, list[tuple[uuid.UUID, Place]]] = field(default_factory=dict)
    customers: list[Customer] = field(default_factory=list)
    user_times: dict[uuid.UUID, dt.datetime] = field(default_factory=dict)
    # order id -> (checkout plan, merchant slug, cart id)
    orders: dict[uuid.UUID, tuple[CheckoutPlan, str, uuid.UUID]] = field(default_factory=dict)
    returns: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # return id -> order id

    @property
    def before_orders(self) -> dt.datetime:
        return self.anchor - dt.timedelta(days=ORDER_DAYS)


def demo_password() -> str:
    return os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD


def _user(s: Session, world: World, email: str, name: str, *, admin: bool = False) -> User:
    """Register through identity, then set the one shared hash (argon2 once, not per user)."""
    user = identity.register_user(s, email, None, name, platform_admin=admin)
    user.password_hash = world.password_hash
    return user


def _email(person: Person, domain: str) -> str:
    return f"{slugify(person.first).replace('-', '')}@{domain}"


def _load_merchants(db: Database, world: World) -> None:
    t0 = world.before_orders - dt.timedelta(days=200)
    with db.transaction() as s:
        for i, spec in enumerate(MERCHANTS):
            domain = f"{spec.slug}.plaza.dev"
            people = [_user(s, world, _email(p, domain), p.name) for p in spec.staff]
            merchant = identity.create_merchant(
                s,
                slug=spec.slug,
                name=spec.name,
                kind=spec.kind,
                admin=people[0],
                description=spec.description,
                default_currency=CURRENCY,
            )
            for person in people[1:]:
                identity.set_member(s, merchant.id, person.email, MerchantRole.STAFF)
            world.merchants[spec.slug] = merchant.id
            world.staff[spec.slug] = [p.id for p in people]
            for j, p in enumerate(people):
                world.user_times[p.id] = t0 + dt.timedelta(days=6 * i, hours=j + 9)


def _load_categories(db: Database, world: World) -> None:
    with db.transaction() as s:
        for position, (slug, name, parent) in enumerate(CATEGORIES):
            category = catalog.create_category(
                s,
                CategoryIn(
                    slug=slug,
                    name=name,
                    parent_id=world.categories[parent] if parent else None,
                    position=position,
                ),
            )
            world.categories[slug] = category.id


def _load_catalog(
    db: Database, world: World, plans: dict[str, list[ProductPlan]], advance: Any
) -> None:
    for spec in MERCHANTS:
        merchant_id = world.merchants[spec.slug]
        with db.transaction() as s:
            for plan in plans[spec.slug]:
                product = catalog.create_product(
                    s, merchant_id, product_input(plan, world.categories[plan.category])
                )
                world.products.append((product.id, plan))
                advance()
            for sku, variant_id in s.execute(
                select(Variant.sku, Variant.id).where(Variant.merchant_id == merchant_id)
            ):
                world.variant_ids[sku] = variant_id


def _stock_level(rng: Random, place: Place, category: str) -> int:
    roll = rng.random()
    if roll < 0.08:
        return 0  # sold out here
    if roll < 0.22:
        return rng.randint(1, 4)  # running low
    if category in BOOKS or category == "stationery":
        return rng.randint(3, 14)
    if place.kind == LocationKind.WAREHOUSE:
        return rng.randint(20, 90)
    return rng.randint(4, 24)


def _load_stock(db: Database, world: World, rng: Random, advance: Any) -> dict[uuid.UUID, int]:
    """Locations, then a counted opening stock per variant per location (receipts).
    Returns units per variant that online orders can draw on."""
    online: dict[uuid.UUID, int] = defaultdict(int)
    for spec in MERCHANTS:
        merchant_id = world.merchants[spec.slug]
        with db.transaction() as s:
            made = []
            for place in spec.places:
                loc = inventory.create_location(
                    s,
                    merchant_id,
                    code=place.code,
                    name=place.name,
                    kind=place.kind,
                    address_line1=place.line1,
                    city="Amsterdam",
                    postal_code=place.postal_code,
                    country="NL",
                    latitude=place.lat,
                    longitude=place.lon,
                    timezone="Europe/Amsterdam",
                    fulfils_online=place.fulfils_online,
                )
                made.append((loc.id, place))
            world.locations[spec.slug] = made
            for _, plan in (p for p in world.products if p[1].merchant == spec.slug):
                # A store carries part of a big range; the warehouse carries all of it.
                here = [(lid, p) for lid, p in made if rng.random() < p.assortment]
                for v in plan.variants:
                    variant_id = world.variant_ids[v.sku]
                    for location_id, place in here:
                        units = _stock_level(rng, place, plan.category)
                        inventory.set_stock(
                            s,
                            merchant_id=merchant_id,
                            variant_id=variant_id,
                            location_id=location_id,
                            on_hand=units,
                            reason=MovementReason.RECEIPT,
                            reference=OPENING_STOCK_REF,
                        )
                        if place.fulfils_online and plan.status == ProductStatus.ACTIVE:
                            online[variant_id] += units
                advance()
    return online


def _load_customers(db: Database, world: World, rng: Random) -> None:
    emails: set[str] = set()
    tops = sorted({PARENT[slug] for slug in KINDS})
    with db.transaction() as s:
        for i in range(CUSTOMERS):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = f"{first}.{last.replace(' ', '')}".lower()
            email = f"{local}@example.com"
            n = 2
            # (Taken by someone else only when loading beside other data with --force.)
            while email in emails or identity.find_user_by_email(s, email) is not None:
                email = f"{local}{n}@example.com"
                n += 1
            emails.add(email)
            city, country, _, postal, streets = _weighted(rng, [(c, c[2]) for c in CITIES])
            if country == "NL":
                code = (
                    postal.format(rng.randint(11, 99))
                    + " "
                    + rng.choice(("AB", "BK", "CL", "EH", "GT", "JX", "KP", "MN", "RW", "TZ"))
                )
            else:
                code = postal.format(rng.randint(0, 99 if country == "BE" else 999))
            user = _user(s, world, email, f"{first} {last}")
            world.customers.append(
                Customer(
                    id=user.id,
                    email=email,
                    name=f"{first} {last}",
                    address={
                        "name": f"{first} {last}",
                        "line1": f"{rng.choice(streets)} {rng.randint(1, 220)}",
                        "city": city,
                        "postal_code": code,
                        "country": country,
                    },
                    card=_weighted(rng, CARDS),
                    favourites=rng.sample(tops, rng.randint(1, 3)),
                    # A few regulars buy often; most buy once or twice.
                    activity=rng.paretovariate(1.6),
                    signup_lead=dt.timedelta(days=rng.uniform(0.5, 25)),
                )
            )
            # Provisional; moved to just before the customer's first order later.
            world.user_times[user.id] = world.before_orders - dt.timedelta(days=30 - i % 30)


@contextmanager
def _progress(console: Console | None) -> Iterator[Progress]:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=console is None) as progress:
        yield progress


class _Orders:
    """Runs the planned checkouts through carts, checkout, payment and after-sales."""

    def __init__(self, db: Database, world: World, provider: PaymentProvider, ttl: int) -> None:
        self.db = db
        self.world = world
        self.provider = provider
        self.ttl = ttl
        self.slugs = {v: k for k, v in world.merchants.items()}

    def _pay(self, checkout_id: uuid.UUID, actor: str) -> flows.PaymentOutcome:
        outcome = flows.pay_pending(
            self.db, self.provider, checkout_id, actor=actor, reservation_ttl=self.ttl
        )
        for _ in range(5):  # only with sandbox fault injection switched on
            if not outcome.timed_out:
                break
            outcome = flows.pay_pending(
                self.db, self.provider, checkout_id, actor=actor, reservation_ttl=self.ttl
            )
        return outcome

    def run(self, plan: CheckoutPlan) -> None:
        customer = plan.customer
        actor = f"user:{customer.id}"
        with self.db.transaction() as s:
            cart, _ = carts.create_cart(s, CURRENCY, customer.id)
            for sellable, qty in plan.lines:
                carts.set_line(
                    s,
                    cart,
                    sellable.variant_id,
                    qty,
                    merchant_id=self.world.merchants[sellable.merchant],
                    add=True,
                )
            checkout = flows.place_orders(
                s,
                cart,
                email=customer.email,
                customer_id=customer.id,
                shipping_address=customer.address,
                payment_token="tok_declined" if plan.decline else plan.token,
                provider=self.provider.name,
                reservation_ttl=self.ttl,
                actor=actor,
            )
            checkout_id, cart_id = checkout.id, cart.id
            order_ids = {
                self.slugs[m]: o
                for o, m in s.execute(
                    select(Order.id, Order.merchant_id).where(Order.checkout_id == checkout_id)
                )
            }
        for slug, order_id in order_ids.items():
            self.world.orders[order_id] = (plan, slug, cart_id)
        self._pay(checkout_id, actor)
        if plan.decline == "recovered":
            with self.db.transaction() as s:
                c = s.get(Checkout, checkout_id)
                assert c is not None
                flows.add_payment_attempt(s, c, plan.token, self.provider.name)
            self._pay(checkout_id, actor)
        elif plan.decline == "abandoned":
            with self.db.transaction() as s:
                for order_id in order_ids.values():
                    order = s.get(Order, order_id)
                    assert order is not None
                    flows.cancel_order(s, order, "system", "payment declined; not retried")
            return
        for slug, order_id in sorted(order_ids.items()):
            self._after_sale(plan, slug, order_id, actor)

    def _after_sale(self, plan: CheckoutPlan, slug: str, order_id: uuid.UUID, actor: str) -> None:
        fate = plan.fates[slug]
        staff = f"user:{self.world.staff[slug][-1]}"
        if fate.cancelled is not None:
            with self.db.transaction() as s:
                order = s.get(Order, order_id)
                assert order is not None
                flows.cancel_order(s, order, actor, fate.cancel_reason)
            flows.settle_refunds(self.db, self.provider)
            return
        if fate.fulfilled is None:
            return
        carrier, number, url = CARRIERS[fate.carrier]
        tracking_no = number.format(fate.parcel)
        with self.db.transaction() as s:
            order = s.get(Order, order_id)
            assert order is not None
            flows.fulfil_order(
                s,
                order,
                staff,
                {
                    "carrier": carrier,
                    "tracking_number": tracking_no,
                    "tracking_url": url.format(tracking_no),
                },
            )
        if fate.return_requested is None:
            return
        with self.db.transaction() as s:
            order = s.get(Order, order_id)
            assert order is not None
            ret = returns.request_return(
                s,
                order,
                [(ln.id, ln.quantity) for ln in order.lines],
                fate.return_reason,
                plan.customer.id,
            )
            self.world.returns[ret.id] = order_id
            if fate.return_received is None:
                return
            returns.decide(s, ret, True, "approved")
            # Back where it was sold from (a store that ships, or the warehouse).
            location_id = uuid.UUID(order.lines[0].allocations[0]["location_id"])
            returns.receive(s, ret, location_id, staff)
        flows.settle_refunds(self.db, self.provider)


# ==================================================================== dating the history


def _bulk_times(s: Session, table: Table, rows: list[dict[str, Any]], key: str = "id") -> None:
    """``UPDATE table SET <columns> WHERE key = :k`` for many rows in one executemany."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != "k"]
    stmt = (
        update(table)
        .where(table.c[key] == bindparam("k"))
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
    s.execute(stmt, [{"k": r["k"], **{f"v_{c}": r[c] for c in columns}} for r in rows])


def _t(table: Any) -> Table:
    return table.__table__


def _date_history(db: Database, world: World) -> None:
    """Move every timestamp of the generated history to where the plan puts it."""
    before = world.before_orders
    first_order: dict[uuid.UUID, dt.datetime] = {}
    for plan, _, _ in world.orders.values():
        first_order.setdefault(plan.customer.id, plan.placed)
        first_order[plan.customer.id] = min(first_order[plan.customer.id], plan.placed)
    for c in world.customers:
        if c.id in first_order:  # signed up shortly before buying
            world.user_times[c.id] = first_order[c.id] - c.signup_lead

    with db.transaction() as s:
        # Accounts, merchants and the catalogue: all before the first order.
        _bulk_times(
            s,
            _t(User),
            [{"k": u, "created_at": t, "updated_at": t} for u, t in world.user_times.items()],
        )
        _bulk_times(
            s,
            _t(Membership),
            [{"k": u, "created_at": t} for u, t in world.user_times.items()],
            key="user_id",
        )
        merchant_times = {
            m: before - dt.timedelta(days=200 - 6 * i)
            for i, m in enumerate(world.merchants.values())
        }
        _bulk_times(
            s,
            _t(Merchant),
            [{"k": m, "created_at": t, "updated_at": t} for m, t in merchant_times.items()],
        )
        cat_time = before - dt.timedelta(days=210)
        _bulk_times(
            s,
            _t(Category),
            [
                {"k": c, "created_at": cat_time, "updated_at": cat_time}
                for c in world.categories.values()
            ],
        )
        span = dt.timedelta(days=45) / max(1, len(world.products))
        product_rows = []
        for i, (product_id, _) in enumerate(world.products):
            t = before - dt.timedelta(days=50) + span * i
            product_rows.append({"k": product_id, "created_at": t, "updated_at": t})
        _bulk_times(s, _t(Product), product_rows)
        _bulk_times(s, _t(Variant), product_rows, key="product_id")
        s.execute(
            update(_t(VariantPrice))
            .where(
                _t(VariantPrice).c.variant_id.in_(
                    select(Variant.id).where(Variant.product_id == bindparam("k"))
                )
            )
            .values(created_at=bindparam("v_created_at"), updated_at=bindparam("v_updated_at")),
            [
                {"k": r["k"], "v_created_at": r["created_at"], "v_updated_at": r["updated_at"]}
                for r in product_rows
            ],
        )
        loc_time = before - dt.timedelta(days=60)
        _bulk_times(
            s,
            _t(Location),
            [
                {"k": loc, "created_at": loc_time, "updated_at": loc_time}
                for made in world.locations.values()
                for loc, _ in made
            ],
        )
        s.execute(
            update(_t(Movement))
            .where(_t(Movement).c.reference == OPENING_STOCK_REF)
            .values(at=before - dt.timedelta(days=4))
        )
        for merchant_id in world.merchants.values():
            catalog.bump_catalog_version(s, merchant_id)  # cached pages saw the old dates

        _date_orders(s, world)


def _date_orders(s: Session, world: World) -> None:
    """Orders and everything hanging off them: history, payments, refunds, returns, carts,
    checkouts, stock holds and the stock ledger entries they caused."""
    ids = list(world.orders)
    history: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for hid, order_id, to_status in s.execute(
        select(OrderHistory.id, OrderHistory.order_id, OrderHistory.to_status)
        .where(OrderHistory.order_id.in_(ids))
        .order_by(OrderHistory.id)
    ):
        history[order_id].append((hid, to_status))
    payments: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for pid, order_id in s.execute(
        select(Payment.id, Payment.order_id).where(Payment.order_id.in_(ids)).order_by(Payment.id)
    ):
        payments[order_id].append(pid)
    refunds: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID | None]]] = defaultdict(list)
    for rid, order_id, return_id in s.execute(
        select(Refund.id, Refund.order_id, Refund.return_id).where(Refund.order_id.in_(ids))
    ):
        refunds[order_id].append((rid, return_id))

    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen_carts: set[uuid.UUID] = set()
    for order_id, (plan, slug, cart_id) in world.orders.items():
        fate = plan.fates[slug]
        placed = plan.placed
        abandoned = plan.decline == "abandoned"
        # A declined first card: the second attempt comes a few minutes later.
        retry = dt.timedelta(minutes=4) if plan.decline == "recovered" else dt.timedelta()
        paid = fate.paid + retry
        cancelled = placed + dt.timedelta(minutes=25) if abandoned else fate.cancelled
        when: dict[str, dt.datetime | None] = {
            "placed": placed,
            "paid": paid,
            "fulfilled": fate.fulfilled,
            "cancelled": cancelled,
            "returned": fate.return_received,
        }
        if abandoned:
            last = cancelled or placed
        else:
            moments = [*when.values(), fate.return_requested]
            last = max(t for t in moments if t is not None)
        rows["orders"].append({"k": order_id, "created_at": placed, "updated_at": last})
        for hid, to_status in history[order_id]:
            rows["history"].append({"k": hid, "at": when.get(to_status) or placed})
        attempts = payments[order_id]
        for n, pid in enumerate(attempts):
            created = placed + dt.timedelta(seconds=5) + dt.timedelta(minutes=4) * n
            captured = n == len(attempts) - 1 and not abandoned
            done = paid if captured else created + dt.timedelta(seconds=3)
            rows["payments"].append({"k": pid, "created_at": created, "updated_at": done})
        for rid, return_id in refunds[order_id]:
            at = fate.return_received if return_id is not None else cancelled
            rows["refunds"].append({"k": rid, "created_at": at or last})
        rows["holds"].append(
            {
                "k": str(order_id),
                "created_at": placed,
                "updated_at": cancelled if abandoned and cancelled else paid,
                "expires_at": placed + dt.timedelta(minutes=15),
            }
        )
        ref = str(order_id)
        rows["moves"].append({"k": ref, "r": MovementReason.RESERVATION.value, "at": placed})
        rows["moves"].append({"k": ref, "r": MovementReason.SALE.value, "at": paid})
        rows["moves"].append({"k": ref, "r": MovementReason.RELEASE.value, "at": cancelled or paid})
        if fate.cancelled is not None and not abandoned:
            rows["moves_by_ref"].append({"k": f"cancel:{order_id}", "at": fate.cancelled})
        if cart_id not in seen_carts:
            seen_carts.add(cart_id)
            browsing = placed - dt.timedelta(minutes=3 + 4 * len(plan.lines))
            rows["carts"].append({"k": cart_id, "created_at": browsing, "updated_at": placed})
            rows["cart_lines"].append({"k": cart_id, "added_at": browsing})
            rows["checkouts"].append({"k": cart_id, "created_at": placed, "updated_at": last})
    for return_id, order_id in world.returns.items():
        plan, slug, _ = world.orders[order_id]
        fate = plan.fates[slug]
        requested = fate.return_requested or plan.placed
        received = fate.return_received
        rows["returns"].append(
            {"k": return_id, "created_at": requested, "updated_at": received or requested}
        )
        if received is not None:
            rows["moves_by_ref"].append({"k": f"return:{return_id}", "at": received})

    _bulk_times(s, _t(Order), rows["orders"])
    _bulk_times(s, _t(OrderHistory), rows["history"])
    _bulk_times(s, _t(Payment), rows["payments"])
    _bulk_times(s, _t(Refund), rows["refunds"])
    _bulk_times(s, _t(Return), rows["returns"])
    _bulk_times(s, _t(Cart), rows["carts"])
    _bulk_times(s, _t(CartLine), rows["cart_lines"], key="cart_id")
    _bulk_times(s, _t(Checkout), rows["checkouts"], key="cart_id")
    _bulk_times(s, _t(Reservation), rows["holds"], key="reference")
    moves = _t(Movement)
    s.execute(
        update(moves)
        .where(moves.c.reference == bindparam("k"), moves.c.reason == bindparam("r"))
        .values(at=bindparam("v_at")),
        [{"k": r["k"], "r": r["r"], "v_at": r["at"]} for r in rows["moves"]],
    )
    _bulk_times(s, moves, rows["moves_by_ref"], key="reference")


def _drain_outbox(db: Database, progress: Progress) -> int:
    """Deliver every pending event once, so subscribers have seen the demo world.

    Events of a type nobody subscribes to are closed in one statement, exactly as
    ``dispatch_pending`` would close each of them (an attempt counted, marked complete) but
    without a transaction per event; the rest go through ``dispatch_pending``.
    Returns how many events were completed.
    """
    import plaza.subscribers  # noqa: F401 - registers every context's subscribers

    pending = OutboxEvent.completed_at.is_(None), OutboxEvent.attempts < MAX_ATTEMPTS
    with db.reading() as s:
        types = list(s.scalars(select(OutboxEvent.type).where(*pending).distinct()))
        total = int(s.scalar(select(func.count()).select_from(OutboxEvent).where(*pending)) or 0)
    task = progress.add_task("Delivering events", total=total)
    idle = sorted(t for t in types if not subscribers_for(t))
    with db.transaction() as s:
        result = s.execute(
            update(OutboxEvent)
            .where(*pending, OutboxEvent.type.in_(idle))
            .values(completed_at=utcnow(), attempts=OutboxEvent.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    completed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    progress.advance(task, completed)
    for _ in range(total // 100 + 10):  # bounded: each round completes up to 100
        done = dispatch_pending(db)
        if not done:
            break
        completed += done
        progress.advance(task, done)
    return completed


# ==================================================================== summary and entry


def _counts(s: Session) -> dict[str, Any]:
    def count(model: Any, *where: Any) -> int:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    staff_ids = select(Membership.user_id)
    orders = dict(s.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    products = dict(s.execute(select(Product.status, func.count()).group_by(Product.status)).all())
    return {
        "merchants": count(Merchant),
        "merchant_staff": count(User, User.id.in_(staff_ids)),
        "customers": count(User, User.id.not_in(staff_ids), User.is_platform_admin.is_(False)),
        "categories": count(Category),
        "products": {
            "total": sum(products.values()),
            **{str(k): products[k] for k in sorted(products)},
        },
        "variants": count(Variant),
        "locations": count(Location),
        "orders": {"total": sum(orders.values()), **{str(k): orders[k] for k in sorted(orders)}},
        "returns": count(Return),
        "events_pending": count(OutboxEvent, OutboxEvent.completed_at.is_(None)),
    }


def _extra_seeds() -> list[tuple[str, Callable[[Database, Random], dict[str, int]]]]:
    """Each context's demo content, added to the loaded world in this order: customisable
    products, the customers' profiles, personas and activity (from the dated order history),
    merchants' strategic personas, the stores' O2O set-up (profiles and zones, beacons and
    offers, screens, fitting rooms, click & collect orders), then embeddings and a trained
    recommender."""
    from plaza.catalog import customisation_demo
    from plaza.o2o.beacons import demo as beacons_demo
    from plaza.o2o.collect import demo as collect_demo
    from plaza.o2o.fitting import demo as fitting_demo
    from plaza.o2o.screens import demo as screens_demo
    from plaza.o2o.stores import demo as stores_demo
    from plaza.personas.customer import demo as customer_demo
    from plaza.personas.recommend import demo as recommend_demo
    from plaza.personas.segments import demo as segments_demo

    return [
        ("Customisable products", customisation_demo.seed),
        ("Customer profiles and personas", customer_demo.seed),
        ("Strategic personas", segments_demo.seed),
        ("Store profiles and zones", stores_demo.seed),
        ("Beacons and proximity offers", beacons_demo.seed),
        ("Digital screens", screens_demo.seed),
        ("Fitting rooms", fitting_demo.seed),
        ("Click & collect and endless aisle", collect_demo.seed),
        ("Embeddings and recommender", recommend_demo.seed),
    ]


def _load_extras(db: Database, rng: Random, progress: Progress) -> dict[str, int]:
    counts: dict[str, int] = {}
    seeds = _extra_seeds()
    task = progress.add_task("Personas, O2O and recommendations", total=len(seeds))
    for name, seed in seeds:
        progress.update(task, description=name)
        counts.update(seed(db, Random(rng.getrandbits(64))))
        progress.advance(task)
    return counts


def _summary(db: Database, status: str, **extra: Any) -> dict[str, Any]:
    with db.reading() as s:
        counts = _counts(s)
        admin = identity.find_user_by_email(s, ADMIN_EMAIL)
    if admin is None:
        return {"status": status, **counts, **extra}
    password: str | None = demo_password()
    if not verify_password(admin.password_hash, password or ""):
        # Loaded with another PLAZA_DEMO_PASSWORD: never print a password that fails.
        password = None
        extra.setdefault("message", f"set {PASSWORD_ENV} to the password used at load time")
    return {
        "status": status,
        "admin": ADMIN_EMAIL,
        "password": password,
        "merchant_logins": {
            spec.slug: _email(spec.staff[0], f"{spec.slug}.plaza.dev") for spec in MERCHANTS
        },
        **counts,
        **extra,
    }


def _state(db: Database) -> str:
    """``loaded`` (finished demo), ``empty`` (no accounts, no merchants), or ``other``."""
    with db.reading() as s:
        if identity.find_user_by_email(s, ADMIN_EMAIL) is not None:
            return "loaded"
        anything = s.scalar(select(User.id).limit(1)) or s.scalar(select(Merchant.id).limit(1))
        return "other" if anything else "empty"


def _collisions(db: Database) -> list[str]:
    """Demo merchant slugs and staff emails already taken (e.g. by an unfinished load)."""
    slugs = [spec.slug for spec in MERCHANTS]
    emails = [_email(p, f"{spec.slug}.plaza.dev") for spec in MERCHANTS for p in spec.staff]
    with db.reading() as s:
        taken = list(s.scalars(select(Merchant.slug).where(Merchant.slug.in_(slugs))))
        taken += s.scalars(select(User.email).where(User.email.in_(emails)))
    return sorted(taken)


def load_demo(
    db: Database, *, seed: int = 42, force: bool = False, console: Console | None = None
) -> dict[str, Any]:
    """Load the demo world (see the module docstring and docs/demo.md); returns a summary.

    * demo already loaded: returns its summary at once (``status: already-loaded``); with
      ``force``, refuses (:class:`DemoRefusedError`): a second copy is never loaded.
    * empty database (migrated, no accounts or merchants): loads.
    * other data and no demo: skips (``status: skipped``) unless ``force``, which loads the
      demo world beside it; refused if an unfinished earlier load left demo merchants.
    """
    started = time.perf_counter()
    state = _state(db)
    if state == "loaded":
        if force:
            raise DemoRefusedError(
                "the demo world is already loaded in this database and --force never loads a "
                "second copy. To reload it, start from an empty database: delete the SQLite "
                "file (var/plaza.db by default) or drop and recreate the PostgreSQL database, "
                "then run `plaza migrate` and `plaza demo`."
            )
        return _summary(db, "already-loaded")
    if state == "other" and not force:
        return _summary(
            db,
            "skipped",
            message="the database holds data that is not the demo world; `plaza demo --force` "
            "adds the demo world beside it",
        )
    taken = _collisions(db)
    if taken:
        raise DemoRefusedError(
            f"demo merchants or staff already exist ({', '.join(taken[:5])}) but the demo "
            "admin does not: "
            "an earlier load did not finish. Start from an empty database (see docs/demo.md)."
        )

    rng = Random(seed)
    now = dt.datetime.now(dt.UTC)
    world = World(
        anchor=now.replace(hour=0, minute=0, second=0, microsecond=0),
        password_hash=hash_password(demo_password()),
    )
    settings = get_settings()
    provider = provider_for(
        db, settings.model_copy(update={"sandbox_failure_rate": 0.0, "sandbox_timeout_rate": 0.0})
    )
    generator = _Catalogue(Random(rng.getrandbits(64)))
    plans = {spec.slug: generator.merchant(spec) for spec in MERCHANTS}
    n_products = sum(len(p) for p in plans.values())

    with _progress(console) as progress:
        task = progress.add_task("Merchants and staff", total=len(MERCHANTS))
        _load_merchants(db, world)
        _load_categories(db, world)
        progress.update(task, completed=len(MERCHANTS))

        task = progress.add_task("Products", total=n_products)
        _load_catalog(db, world, plans, lambda: progress.advance(task))

        task = progress.add_task("Stores and stock", total=n_products)
        online = _load_stock(db, world, Random(rng.getrandbits(64)), lambda: progress.advance(task))

        task = progress.add_task("Customers", total=CUSTOMERS)
        _load_customers(db, world, Random(rng.getrandbits(64)))
        progress.update(task, completed=CUSTOMERS)

        sellables = [
            Sellable(world.variant_ids[v.sku], i, plan.merchant, PARENT[plan.category])
            for i, (_, plan) in enumerate(world.products)
            if plan.status == ProductStatus.ACTIVE
            for v in plan.variants
        ]
        checkouts = plan_checkouts(
            Random(rng.getrandbits(64)), world.customers, sellables, online, world.anchor
        )
        task = progress.add_task("Orders", total=len(checkouts))
        runner = _Orders(db, world, provider, settings.reservation_ttl_seconds)
        for plan in checkouts:
            runner.run(plan)
            progress.advance(task)

        _date_history(db, world)
        extras = _load_extras(db, Random(rng.getrandbits(64)), progress)
        with db.transaction() as s:  # last: its presence means the load finished
            admin = _user(s, world, ADMIN_EMAIL, "Plaza admin", admin=True)
            admin.created_at = admin.updated_at = world.before_orders - dt.timedelta(days=220)

        delivered = _drain_outbox(db, progress)

    return _summary(
        db,
        "loaded",
        seed=seed,
        **extras,
        events_completed=delivered,
        seconds=round(time.perf_counter() - started, 1),
    )


__all__ = [
    "ADMIN_EMAIL",
    "DEFAULT_PASSWORD",
    "PASSWORD_ENV",
    "DemoRefusedError",
    "gtin13",
    "load_demo",
]
