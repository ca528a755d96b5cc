"""Bearer tokens (JWT, HS256) via joserfc — Authlib's own JOSE library, which Authlib 1.9
recommends over its deprecated ``authlib.jose`` module."""

from __future__ import annotations

import time
import uuid
from functools import lru_cache

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from plaza.config import get_settings

ISSUER = "plaza"
AUDIENCE = "plaza-api"


@lru_cache(maxsize=4)
def _key(secret: str) -> OctKey:
    return OctKey.import_key(secret)


def issue_token(user_id: uuid.UUID, ttl: int | None = None) -> tuple[str, int]:
    settings = get_settings()
    ttl = ttl or settings.token_ttl_seconds
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": "HS256"}, claims, _key(settings.resolved_secret_key())), ttl


_registry = jwt.JWTClaimsRegistry(
    iss={"essential": True, "value": ISSUER},
    aud={"essential": True, "value": AUDIENCE},
    exp={"essential": True},
    sub={"essential": True},
)


def verify_token(token: str) -> uuid.UUID | None:
    """The user id of a valid, unexpired token; ``None`` for anything else."""
    try:
        decoded = jwt.decode(
            token, _key(get_settings().resolved_secret_key()), algorithms=["HS256"]
        )
        _registry.validate(decoded.claims)
        return uuid.UUID(str(decoded.claims["sub"]))
    except (JoseError, ValueError, KeyError):
        return None
