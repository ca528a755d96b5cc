"""The functions other contexts call: get_sellable_variants and variant_merchant."""

from __future__ import annotations

import uuid

import pytest

from plaza.catalog import service
from plaza.catalog.schemas import ProductPatch, VariantPatch
from plaza.errors import ProblemError
from tests.catalog_helpers import create_product


def _sellable(db, ids, currency="EUR"):
    with db.reading() as s:
        return service.get_sellable_variants(s, ids, currency)


def test_sellable_variants(db, merchant):
    pid, (s_, m_) = create_product(
        db,
        merchant.id,
        title="Tee",
        variants=[
            {
                "sku": "TEE-S-BLUE",
                "options": {"size": "S", "colour": "Blue"},
                "prices": {"EUR": 1999, "USD": 2199},
                "gtin": "96385074",
            },
            {
                "sku": "TEE-M-BLUE",
                "options": {"size": "M", "colour": "Blue"},
                "prices": {"EUR": 2099},
            },
        ],
    )
    out = _sellable(db, [m_, s_, m_])
    assert list(out) == [m_, s_]
    sv = out[s_]
    assert (sv.variant_id, sv.product_id, sv.merchant_id) == (s_, pid, merchant.id)
    assert (sv.sku, sv.gtin, sv.unit_amount, sv.currency) == (
        "TEE-S-BLUE",
        "00000096385074",
        1999,
        "EUR",
    )
    assert sv.title == "Tee — S / Blue"
    assert _sellable(db, [s_], "USD")[s_].unit_amount == 2199
    assert _sellable(db, []) == {}
    _no_options, (v,) = create_product(db, merchant.id, title="Plain")
    assert _sellable(db, [v])[v].title == "Plain"


def test_unknown_or_unsellable_is_404(db, merchant):
    pid, (v1, v2) = create_product(
        db, merchant.id, variants=[{"options": {"size": "S"}}, {"options": {"size": "M"}}]
    )
    _, (draft_v,) = create_product(db, merchant.id, status="draft")
    ghost = uuid.uuid4()
    for ids in ([ghost], [v1, ghost], [draft_v]):
        with pytest.raises(ProblemError) as exc:
            _sellable(db, ids)
        assert exc.value.status == 404 and exc.value.extensions["resource"] == "variant"
    with db.transaction() as s:
        service.update_variant(s, merchant.id, v2, VariantPatch(status="archived"))
    with pytest.raises(ProblemError) as exc:
        _sellable(db, [v1, v2])
    assert exc.value.extensions["variant_ids"] == [str(v2)]
    with db.transaction() as s:
        service.update_product(s, merchant.id, pid, ProductPatch(status="archived"))
    with pytest.raises(ProblemError):
        _sellable(db, [v1])


def test_price_unavailable(db, merchant):
    _, (v,) = create_product(db, merchant.id, variants=[{"prices": {"EUR": 500}}])
    with pytest.raises(ProblemError) as exc:
        _sellable(db, [v], "GBP")
    assert exc.value.status == 422 and exc.value.kind.slug == "price-unavailable"
    assert exc.value.extensions == {"variant_ids": [str(v)], "currency": "GBP"}
    with pytest.raises(ProblemError) as exc:
        _sellable(db, [v], "ZZZ")
    assert exc.value.status == 422


def test_inactive_merchant_is_unsellable(db, factory):
    m = factory.merchant()
    _, (v,) = create_product(db, m.id)
    from plaza.identity.models import Merchant

    with db.transaction() as s:
        s.get(Merchant, m.id).is_active = False
    with pytest.raises(ProblemError):
        _sellable(db, [v])


def test_variant_merchant(db, merchant):
    _, (v,) = create_product(db, merchant.id, status="draft")
    with db.reading() as s:
        assert service.variant_merchant(s, v) == merchant.id
        assert service.variant_merchant(s, uuid.uuid4()) is None


def test_helper_defaults(db, merchant):
    a = create_product(db, merchant.id)
    b = create_product(db, merchant.id, currency="GBP")
    assert a[0] != b[0] and len(a[1]) == len(b[1]) == 1
    assert _sellable(db, b[1], "GBP")[b[1][0]].unit_amount == 1999
