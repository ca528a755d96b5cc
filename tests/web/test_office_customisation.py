"""Back-office customisation editor: list, JSON spec checked by the catalog's validation
(errors at its paths), preview, save with the product version, remove."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from plaza.catalog import customisation, service
from plaza.catalog.schemas import ProductPatch
from plaza.db import Database

from ..factories import Factory
from .conftest import csrf_of, sign_in_web
from .test_office_catalog import make_product

SPEC: dict[str, Any] = {
    "groups": [
        {
            "code": "sole",
            "label": "Sole colour",
            "kind": "choice",
            "required": True,
            "options": [
                {"code": "white", "label": "White"},
                {"code": "gum", "label": "Gum rubber", "price_delta": {"EUR": 800}},
            ],
        },
        {"code": "tag", "label": "Heel engraving", "kind": "text", "max_length": 12},
    ],
    "constraints": [{"kind": "requires", "if": "tag", "then": "sole.gum"}],
}


def test_save_preview_and_remove_a_spec(
    web_client: TestClient, client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant, title="Runner")
    base = f"/back-office/{merchant.id}/customisation"
    sign_in_web(web_client, merchant.admin.email)
    r = web_client.get(base)
    assert r.status_code == 200 and "No customisable products yet." in r.text
    assert web_client.get(base, params={"product_id": str(pid)}).headers["location"] == (
        f"{base}/{pid}"
    )
    page = web_client.get(f"{base}/{pid}")
    assert '<label for="spec">Specification (JSON)</label>' in page.text
    token = csrf_of(page.text)
    form = {
        "csrf_token": token,
        "version": "1",
        "lead_time_days": "10",
        "made_to_order": "on",
        "spec": json.dumps(SPEC),
    }
    r = web_client.post(f"{base}/{pid}", data={**form, "action": "preview"})
    assert r.status_code == 200
    assert "Preview (not saved)" in r.text and "Gum rubber (+8.00 EUR)" in r.text
    assert "Heel engraving requires Sole colour: Gum rubber" in r.text
    with db.reading() as s:
        assert service.get_product(s, merchant.id, pid).customisation is None
    r = web_client.post(f"{base}/{pid}", data={**form, "action": "save"})
    assert r.status_code == 303, r.text
    stored = client.get(f"/products/{pid}").json()["customisation"]  # the storefront sees it
    assert stored["lead_time_days"] == 10 and stored["made_to_order"] is True
    listing = web_client.get(base).text
    assert f'<a href="{base}/{pid}">Runner</a>' in listing
    page = web_client.get(f"{base}/{pid}")
    assert "What shoppers see" in page.text and "Made to order, 10 days lead time." in page.text
    r = web_client.post(f"{base}/{pid}/delete", data={"csrf_token": token, "version": "2"})
    assert r.status_code == 303
    with db.reading() as s:
        assert service.get_product(s, merchant.id, pid).customisation is None


def test_invalid_specs_show_errors_at_their_paths(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant)
    url = f"/back-office/{merchant.id}/customisation/{pid}"
    sign_in_web(web_client, merchant.admin.email)
    token = csrf_of(web_client.get(url).text)
    form = {"csrf_token": token, "version": "1", "lead_time_days": "0", "action": "save"}
    # Not JSON at all: the parser's position, and the input kept.
    r = web_client.post(url, data={**form, "spec": '{"groups": ['})
    assert r.status_code == 422 and "not valid JSON" in r.text
    assert "{&#34;groups&#34;: [" in r.text
    # Well-formed but wrong shape: pydantic's location as a path.
    bad_shape = {"groups": [{"code": "Bad Code", "label": "X", "kind": "choice"}]}
    r = web_client.post(url, data={**form, "spec": json.dumps(bad_shape)})
    assert r.status_code == 422 and "<code>groups[0].code</code>" in r.text
    # Consistent shape, inconsistent spec: the service's own fault paths.
    spec = json.loads(json.dumps(SPEC))
    spec["groups"][1]["code"] = "sole"
    spec["constraints"] = []
    r = web_client.post(url, data={**form, "spec": json.dumps(spec)})
    assert r.status_code == 422
    assert "<code>groups[1].code</code>: group code &#39;sole&#39; repeats" in r.text
    assert 'aria-invalid="true"' in r.text
    r = web_client.post(url, data={**form, "lead_time_days": "999", "spec": json.dumps(SPEC)})
    assert r.status_code == 422 and 'id="lead_time_days-error"' in r.text
    with db.reading() as s:
        assert service.get_product(s, merchant.id, pid).customisation is None


def test_stale_version_keeps_the_spec_typed(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    pid = make_product(db, merchant)
    url = f"/back-office/{merchant.id}/customisation/{pid}"
    sign_in_web(web_client, merchant.admin.email)
    token = csrf_of(web_client.get(url).text)
    with db.transaction() as s:
        service.update_product(s, merchant.id, pid, ProductPatch(title="Changed"))
    spec = json.loads(json.dumps(SPEC))
    spec["groups"][0]["label"] = "My own label"
    r = web_client.post(
        url,
        data={
            "csrf_token": token,
            "version": "1",
            "lead_time_days": "0",
            "spec": json.dumps(spec),
            "action": "save",
        },
    )
    assert r.status_code == 409
    assert "Someone else changed this product" in r.text and "My own label" in r.text
    assert 'name="version" value="2"' in r.text
    with db.reading() as s:
        assert service.get_product(s, merchant.id, pid).customisation is None


def test_access(web_client: TestClient, factory: Factory, db: Database) -> None:
    mine, theirs = factory.merchant(), factory.merchant()
    their_pid = make_product(db, theirs)
    with db.transaction() as s:
        customisation.set_customisation(
            s, theirs.id, their_pid, customisation.CustomisationSpec.model_validate(SPEC)
        )
    r = web_client.get(f"/back-office/{mine.id}/customisation")
    assert r.status_code == 303 and "/shop/sign-in" in r.headers["location"]
    staff = factory.staff(mine)
    sign_in_web(web_client, staff.email)
    assert web_client.get(f"/back-office/{mine.id}/customisation").status_code == 200
    assert web_client.get(f"/back-office/{mine.id}/customisation/{their_pid}").status_code == 404
    assert web_client.get(f"/back-office/{theirs.id}/customisation").status_code == 403
    token = csrf_of(web_client.get(f"/back-office/{mine.id}/customisation").text)
    r = web_client.post(
        f"/back-office/{mine.id}/customisation/{their_pid}/delete",
        data={"csrf_token": token, "version": "2"},
    )
    assert r.status_code == 404
    with db.reading() as s:
        assert service.get_product(s, theirs.id, their_pid).customisation is not None
