"""Test data made through Plaza's own services, unique per call so tests never collide."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.identity import service as identity
from plaza.identity.models import MerchantKind, MerchantRole
from plaza.identity.tokens import issue_token

PASSWORD = "correct horse battery"


@dataclass
class Actor:
    id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class MerchantCtx:
    id: uuid.UUID
    slug: str
    admin: Actor
    staff: list[Actor] = field(default_factory=list)


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Factory:
    def __init__(self, db: Database, client: TestClient) -> None:
        self.db = db
        self.client = client

    def user(self, *, admin: bool = False, email: str | None = None) -> Actor:
        email = email or f"{unique('user')}@example.com"
        with self.db.transaction() as s:
            u = identity.register_user(s, email, PASSWORD, "Test User", platform_admin=admin)
        token, _ = issue_token(u.id)
        return Actor(u.id, email, token)

    def platform_admin(self) -> Actor:
        return self.user(admin=True)

    def merchant(
        self, kind: MerchantKind = MerchantKind.STREET_SHOP, currency: str = "EUR"
    ) -> MerchantCtx:
        admin = self.user()
        slug = unique("shop")
        with self.db.transaction() as s:
            from plaza.identity.models import User

            u = s.get(User, admin.id)
            assert u is not None
            m = identity.create_merchant(
                s, slug=slug, name=slug.title(), kind=kind, admin=u, default_currency=currency
            )
        return MerchantCtx(m.id, slug, admin)

    def staff(self, merchant: MerchantCtx, role: MerchantRole = MerchantRole.STAFF) -> Actor:
        actor = self.user()
        with self.db.transaction() as s:
            identity.set_member(s, merchant.id, actor.email, role)
        merchant.staff.append(actor)
        return actor

    def api_key(self, merchant: MerchantCtx, scopes: list[str]) -> str:
        with self.db.transaction() as s:
            _, key = identity.create_api_key(s, merchant.id, unique("key"), scopes, None)
        return key
