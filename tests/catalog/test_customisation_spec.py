"""Customisation specs: validation of each bad case, saving through the API (version,
caches, events, tenancy) and how the storefront shows them."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from plaza.catalog.customisation import CustomisationSpec, check_spec
from plaza.errors import ProblemError
from plaza.events import OutboxEvent
from tests.catalog_helpers import create_product

# A sneaker: a required sole colour, one or two lace colours, an optional engraving.
SNEAKER: dict[str, Any] = {
    "groups": [
        {
            "code": "sole",
            "label": "Sole colour",
            "kind": "choice",
            "required": True,
            "options": [
                {"code": "white", "label": "White"},
                {"code": "black", "label": "Black", "price_delta": {"EUR": 500, "USD": 600}},
                {"code": "gum", "label": "Gum", "price_delta": {"EUR": 800}},
            ],
        },
        {
            "code": "laces",
            "label": "Laces",
            "kind": "multi",
            "min_selections": 1,
            "max_selections": 2,
            "options": [
                {"code": "white", "label": "White"},
                {"code": "red", "label": "Red", "price_delta": {"EUR": 200, "USD": 250}},
                {"code": "glow", "label": "Glow", "available": False},
            ],
        },
        {
            "code": "engraving",
            "label": "Heel tab engraving",
            "kind": "text",
            "max_length": 12,
            "charset": ["letters", "digits", "space"],
            "case": "upper",
            "price_delta": {"EUR": 900, "USD": 1000},
        },
    ],
    "constraints": [
        {"kind": "requires", "if": "sole.gum", "then": "laces.white"},
        {"kind": "excludes", "if": "engraving", "then": "sole.white"},
    ],
    "lead_time_days": 10,
    "made_to_order": True,
}


def spec(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(SNEAKER)
    out.update(changes)
    return out


def faults(raw: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ProblemError) as exc:
        check_spec(CustomisationSpec.model_validate(raw))
    assert exc.value.kind.slug == "customisation-spec-invalid"
    return list(exc.value.extensions["errors"])


def paths(raw: dict[str, Any]) -> list[str]:
    return [f["path"] for f in faults(raw)]


def test_the_sneaker_spec_is_valid_and_normalised() -> None:
    checked = check_spec(CustomisationSpec.model_validate(SNEAKER))
    laces = checked.groups[1]
    assert (laces.min_selections, laces.max_selections) == (1, 2)
    engraving = checked.groups[2]
    assert engraving.case == "upper" and engraving.extra_characters == ""
    dumped = checked.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["constraints"][0] == {"kind": "requires", "if": "sole.gum", "then": "laces.white"}


def test_text_group_defaults() -> None:
    raw = {"groups": [{"code": "name", "label": "Name", "kind": "text", "max_length": 5}]}
    group = check_spec(CustomisationSpec.model_validate(raw)).groups[0]
    assert [c.value for c in group.charset or []] == ["letters", "digits", "space"]
    assert group.case == "as_typed" and group.price_delta == {}


def _group(i: int, **changes: Any) -> dict[str, Any]:
    raw = spec()
    raw["groups"][i].update(changes)
    return raw


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        # repeated codes
        (
            spec(groups=[SNEAKER["groups"][0], SNEAKER["groups"][0]], constraints=[]),
            "groups[1].code",
        ),
        (
            _group(0, options=[{"code": "a", "label": "A"}, {"code": "a", "label": "B"}]),
            "groups[0].options[1].code",
        ),
        # groups without options, options on text, text fields on choices
        (_group(0, options=[]), "groups[0].options"),
        (_group(2, options=[{"code": "a", "label": "A"}]), "groups[2].options"),
        (_group(0, max_length=3), "groups[0].max_length"),
        (_group(0, price_delta={"EUR": 1}), "groups[0].price_delta"),
        (_group(0, min_selections=1), "groups[0].min_selections"),
        (_group(2, max_length=None), "groups[2].max_length"),
        (_group(2, min_length=13), "groups[2].min_length"),
        (_group(2, extra_characters="a a"), "groups[2].extra_characters"),
        (_group(2, extra_characters="♥♥"), "groups[2].extra_characters"),
        (_group(2, max_selections=2), "groups[2].max_selections"),
        # impossible selection bounds
        (_group(1, max_selections=4), "groups[1].max_selections"),
        (_group(1, min_selections=3, max_selections=2), "groups[1].min_selections"),
    ],
)
def test_bad_groups_are_named_by_path(raw: dict[str, Any], path: str) -> None:
    assert path in paths(raw)


@pytest.mark.parametrize(
    ("constraint", "path", "words"),
    [
        (
            {"kind": "requires", "if": "heel.red", "then": "laces.red"},
            "constraints[2].if",
            "names no group",
        ),
        (
            {"kind": "requires", "if": "sole.pink", "then": "laces.red"},
            "constraints[2].if",
            "names no option",
        ),
        (
            {"kind": "excludes", "if": "sole.black", "then": "engraving.x"},
            "constraints[2].then",
            "text group",
        ),
        (
            {"kind": "requires", "if": "sole.black", "then": "sole.black"},
            "constraints[2]",
            "same group",
        ),
        (
            {"kind": "excludes", "if": "sole.black", "then": "sole.gum"},
            "constraints[2]",
            "same group",
        ),
        ({"kind": "requires", "if": "sole.gum", "then": "laces.white"}, "constraints[2]", "twice"),
    ],
)
def test_bad_constraints(constraint: dict[str, str], path: str, words: str) -> None:
    raw = spec(constraints=[*SNEAKER["constraints"], constraint])
    found = faults(raw)
    assert any(f["path"] == path and words in f["msg"] for f in found), found


def test_requires_and_excludes_the_same_pair_contradict() -> None:
    raw = spec(
        constraints=[
            {"kind": "requires", "if": "sole.black", "then": "laces.red"},
            {"kind": "excludes", "if": "laces.red", "then": "sole.black"},
        ]
    )
    (fault,) = faults(raw)
    assert fault["path"] == "constraints[0]" and "contradicts constraints[1]" in fault["msg"]


def test_requiring_an_option_of_an_excluded_group_contradicts() -> None:
    raw = spec(
        constraints=[
            {"kind": "requires", "if": "sole.black", "then": "laces.red"},
            {"kind": "excludes", "if": "sole.black", "then": "laces"},
        ]
    )
    assert paths(raw) == ["constraints[0]"]


def test_transitive_contradictions_are_found() -> None:
    # black → red laces → engraving, but engraving excludes black: black is never valid.
    raw = spec(
        constraints=[
            {"kind": "requires", "if": "sole.black", "then": "laces.red"},
            {"kind": "requires", "if": "laces.red", "then": "engraving"},
            {"kind": "excludes", "if": "engraving", "then": "sole.black"},
        ]
    )
    found = faults(raw)
    assert any("sole.black can never be chosen" in f["msg"] for f in found), found


def test_two_options_of_a_choice_group_required_together_is_a_contradiction() -> None:
    raw = spec(
        constraints=[
            {"kind": "requires", "if": "laces.red", "then": "sole.black"},
            {"kind": "requires", "if": "laces.red", "then": "sole.gum"},
        ]
    )
    found = faults(raw)
    assert any("laces.red can never be chosen" in f["msg"] for f in found), found


def test_excluding_a_required_group_kills_the_option() -> None:
    raw = spec(constraints=[{"kind": "excludes", "if": "laces.red", "then": "sole"}])
    found = faults(raw)
    assert any("laces.red can never be chosen" in f["msg"] for f in found), found


@pytest.mark.parametrize(
    "raw",
    [
        spec(groups=[]),
        spec(lead_time_days=366),
        spec(lead_time_days=-1),
        spec(made_to_order="maybe"),
        spec(colour="red"),
        _group(0, kind="dropdown"),
        _group(0, code="Sole"),
        _group(0, code="x" * 31),
        _group(0, label=""),
        _group(0, options=[{"code": "a", "label": "A", "price_delta": {"XXX": 1}}]),
        _group(0, options=[{"code": "a", "label": "A", "price_delta": {"EUR": 1.5}}]),
        _group(0, options=[{"code": "a", "label": "A", "price_delta": {"EUR": 10**16}}]),
        _group(2, charset=["emoji"]),
        _group(2, max_length=201),
        spec(constraints=[{"kind": "implies", "if": "sole.gum", "then": "laces.white"}]),
        spec(constraints=[{"kind": "requires", "if": "sole.gum.x", "then": "laces.white"}]),
        spec(groups=[SNEAKER["groups"][0]] * 21),
        spec(constraints=[SNEAKER["constraints"][0]] * 101),
        _group(0, label="nul\x00"),
    ],
)
def test_malformed_specs_fail_validation(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CustomisationSpec.model_validate(raw)


# ----------------------------------------------------------------------- API


def _url(merchant_id: uuid.UUID, product_id: uuid.UUID) -> str:
    return f"/merchants/{merchant_id}/products/{product_id}/customisation"


def test_put_customisation_bumps_version_and_shows_on_the_storefront(client, factory, db):
    shop = factory.merchant()
    product_id, _ = create_product(db, shop.id)
    before = client.get(f"/products/{product_id}").json()
    assert before["customisation"] is None
    r = client.put(_url(shop.id, product_id), json=SNEAKER, headers=shop.admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 2 and r.headers["ETag"] == '"2"'
    assert body["customisation"]["groups"][1]["max_selections"] == 2
    assert body["customisation"]["constraints"][0]["if"] == "sole.gum"
    # The storefront cache was invalidated by the catalog version bump.
    shown = client.get(f"/products/{product_id}").json()["customisation"]
    assert shown == body["customisation"]
    # Saving the same spec again changes nothing.
    again = client.put(_url(shop.id, product_id), json=SNEAKER, headers=shop.admin.headers)
    assert again.json()["version"] == 2
    with db.reading() as s:
        events = s.scalars(
            select(OutboxEvent).where(
                OutboxEvent.type == "product.updated",
                OutboxEvent.aggregate_id == str(product_id),
            )
        ).all()
        assert [e.payload["fields"] for e in events] == [["customisation"]]


def test_put_is_conditional_on_if_match(client, factory, db):
    shop = factory.merchant()
    product_id, _ = create_product(db, shop.id)
    r = client.put(
        _url(shop.id, product_id), json=SNEAKER, headers={**shop.admin.headers, "If-Match": '"7"'}
    )
    assert r.status_code == 409
    assert r.json()["type"] == "/problems/product-version-mismatch"


def test_delete_customisation_is_idempotent(client, factory, db):
    shop = factory.merchant()
    product_id, _ = create_product(db, shop.id)
    client.put(_url(shop.id, product_id), json=SNEAKER, headers=shop.admin.headers)
    r = client.delete(_url(shop.id, product_id), headers=shop.admin.headers)
    assert r.status_code == 200 and r.json()["customisation"] is None
    assert r.json()["version"] == 3
    r = client.delete(_url(shop.id, product_id), headers=shop.admin.headers)
    assert r.status_code == 200 and r.json()["version"] == 3
    assert client.get(f"/products/{product_id}").json()["customisation"] is None


def test_invalid_spec_answers_a_problem_naming_the_path(client, factory, db):
    shop = factory.merchant()
    product_id, _ = create_product(db, shop.id)
    raw = spec(constraints=[{"kind": "requires", "if": "sole.pink", "then": "laces.red"}])
    r = client.put(_url(shop.id, product_id), json=raw, headers=shop.admin.headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == "/problems/customisation-spec-invalid"
    assert body["errors"] == [
        {"path": "constraints[0].if", "msg": "'sole.pink' names no option of group 'sole'"}
    ]
    malformed = client.put(
        _url(shop.id, product_id), json=spec(lead_time_days=999), headers=shop.admin.headers
    )
    assert malformed.status_code == 422
    assert malformed.json()["type"] == "/problems/validation-error"
    assert client.get(f"/products/{product_id}").json()["customisation"] is None


def test_another_merchants_product_is_not_found(client, factory, db):
    shop, other = factory.merchant(), factory.merchant()
    product_id, _ = create_product(db, other.id)
    r = client.put(_url(shop.id, product_id), json=SNEAKER, headers=shop.admin.headers)
    assert r.status_code == 404
    r = client.put(_url(other.id, product_id), json=SNEAKER, headers=shop.admin.headers)
    assert r.status_code == 403
    r = client.delete(_url(shop.id, product_id), headers=shop.admin.headers)
    assert r.status_code == 404


def test_api_keys_need_catalog_write(client, factory, db):
    shop = factory.merchant()
    product_id, _ = create_product(db, shop.id)
    reader = factory.api_key(shop, ["catalog:read"])
    writer = factory.api_key(shop, ["catalog:write"])
    url = _url(shop.id, product_id)
    assert client.put(url, json=SNEAKER, headers={"X-API-Key": reader}).status_code == 403
    assert client.put(url, json=SNEAKER, headers={"X-API-Key": writer}).status_code == 200
    back_office = client.get(
        f"/merchants/{shop.id}/products/{product_id}", headers={"X-API-Key": reader}
    )
    assert back_office.json()["customisation"]["made_to_order"] is True


def test_demo_specs_are_valid_and_the_seed_is_repeatable(db, factory):
    import random

    from plaza.catalog import customisation_demo

    for _, raw, _ in customisation_demo.PLAN:
        check_spec(CustomisationSpec.model_validate(raw))
    shop = factory.merchant()
    for title in ("Court Sneakers", "Mesh Sneakers", "Tote Bag", "Rain Jacket", "Boxy T-Shirt"):
        create_product(db, shop.id, title=f"{title} {uuid.uuid4().hex[:6]}")
    first = customisation_demo.seed(db, random.Random(1), merchant_ids={shop.id})
    assert first == {"customisable_products": 5, "made_to_order_products": 4}
    assert (
        customisation_demo.seed(db, random.Random(1), merchant_ids={shop.id})[
            "customisable_products"
        ]
        == 5
    )
