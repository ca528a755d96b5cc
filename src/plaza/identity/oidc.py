"""OpenID Connect relying party: talks to any standards-compliant provider.

Built from Authlib's protocol pieces (authorization and token request encoding, PKCE,
client authentication, discovery metadata and ID token claim rules) over plain httpx,
with joserfc verifying signatures. No database here: ``oidc_service`` holds the flow.

- Discovery documents (``{issuer}/.well-known/openid-configuration``) and JWKS are cached
  per process for ``PLAZA_SSO_DISCOVERY_TTL_SECONDS``. An ID token signed with a key id
  the cached JWKS lacks makes one refetch (the provider rotated its keys).
- ID tokens are checked as OIDC Core §3.1.3.7 asks: signature against the provider's
  JWKS with an asymmetric algorithm the provider announces, ``iss`` equal to the
  discovered issuer, ``aud`` containing our client id, ``azp`` when there are several
  audiences, ``exp`` and ``iat`` with a small leeway, and ``nonce`` equal to ours.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import KeySet

from plaza.errors import ProblemError, problem_type

PROVIDER_UNAVAILABLE = problem_type(
    "sso-provider-unavailable",
    "Sign-in provider unavailable",
    502,
    "The sign-in provider could not be reached or gave an unusable answer. Try again later.",
)
PROVIDER_MISCONFIGURED = problem_type(
    "sso-provider-misconfigured",
    "Sign-in provider misconfigured",
    502,
    "The provider's discovery document or keys do not match its configuration in Plaza "
    "(for example a different issuer). A platform admin must correct the provider.",
)
CODE_REJECTED = problem_type(
    "sso-code-rejected",
    "Sign-in code rejected by the provider",
    400,
    "The provider's token endpoint refused the authorization code (expired, already used, "
    "or the PKCE verifier did not match). Start the sign-in again.",
)
ID_TOKEN_INVALID = problem_type(
    "sso-id-token-invalid",
    "Invalid ID token",
    401,
    "The provider's ID token failed validation (signature, issuer, audience, expiry or "
    "nonce); `reason` says which check. No account was created or signed in.",
)

# Asymmetric JWS algorithms only: `none` is never accepted, and HMAC algorithms would make
# the client secret a signing key (and do not exist for public clients).
ID_TOKEN_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 5.0
# After discovery or JWKS fails, answer at once for this long instead of letting every
# sign-in wait on a dead provider (each wait would hold one of the few worker threads).
FAILURE_BACKOFF_SECONDS = 30.0
MAX_RESPONSE_BYTES = 512 * 1024
MAX_SUBJECT_LENGTH = 255


@dataclass(frozen=True)
class ClientConfig:
    """Plaza's registration at one provider."""

    issuer: str
    client_id: str
    client_secret: str | None
    auth_method: str  # client_secret_basic | client_secret_post | none
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class PkcePair:
    verifier: str
    challenge: str


def new_pkce() -> PkcePair:
    """RFC 7636 S256: a 64-character verifier (43-128 allowed) and its challenge."""
    verifier = generate_token(64)
    return PkcePair(verifier, create_s256_code_challenge(verifier))


def _id_token_problem(reason: str, detail: str) -> ProblemError:
    return ProblemError(ID_TOKEN_INVALID, detail, reason=reason)


class OidcClient:
    """Per-process provider client holding the discovery and JWKS caches (thread-safe)."""

    def __init__(self, ttl_seconds: float, *, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        self.ttl = ttl_seconds
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._jwks: dict[str, tuple[float, KeySet]] = {}
        self._failed: dict[str, float] = {}  # url -> monotonic time until which to fail fast
        self.fetches: dict[str, int] = {}  # url -> count, for operators and tests

    def forget(self, issuer: str | None = None) -> None:
        """Drop cached metadata and keys (all, or one issuer's) and every failure back-off,
        so a provider an admin just changed is asked afresh."""
        with self._lock:
            self._failed.clear()
            if issuer is None:
                self._metadata.clear()
                self._jwks.clear()
                return
            entry = self._metadata.pop(issuer, None)
            if entry is not None:
                self._jwks.pop(str(entry[1].get("jwks_uri")), None)

    # --- HTTP ------------------------------------------------------------------------
    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise ProblemError(PROVIDER_UNAVAILABLE, f"the provider's {what} is too large")
        try:
            data = response.json()
        except ValueError as exc:
            raise ProblemError(PROVIDER_UNAVAILABLE, f"the provider's {what} is not JSON") from exc
        if not isinstance(data, dict):
            raise ProblemError(PROVIDER_UNAVAILABLE, f"the provider's {what} is not an object")
        return data

    def _count(self, url: str) -> None:
        with self._lock:
            self.fetches[url] = self.fetches.get(url, 0) + 1

    def _get_shared(self, url: str, what: str) -> dict[str, Any]:
        """GET a document every sign-in needs (discovery, JWKS), failing fast for a while
        after it could not be had."""
        now = time.monotonic()
        with self._lock:
            until = self._failed.get(url, 0.0)
        if until > now:
            raise ProblemError(
                PROVIDER_UNAVAILABLE,
                f"the provider's {what} was unavailable moments ago; try again shortly",
                headers={"Retry-After": str(max(1, round(until - now)))},
            )
        try:
            return self._get(url, what)
        except ProblemError:
            with self._lock:
                self._failed[url] = time.monotonic() + FAILURE_BACKOFF_SECONDS
            raise

    def _get(self, url: str, what: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        self._count(url)
        try:
            response = self._http.get(
                url, headers={"Accept": "application/json", **(headers or {})}
            )
        except httpx.HTTPError as exc:
            raise ProblemError(
                PROVIDER_UNAVAILABLE, f"cannot reach the provider's {what}: {type(exc).__name__}"
            ) from exc
        if response.status_code != 200:
            raise ProblemError(
                PROVIDER_UNAVAILABLE,
                f"the provider's {what} answered HTTP {response.status_code}",
            )
        return self._json(response, what)

    # --- discovery and keys -----------------------------------------------------------
    def discover(self, issuer: str) -> dict[str, Any]:
        """The provider's validated discovery document (cached)."""
        now = time.monotonic()
        with self._lock:
            cached = self._metadata.get(issuer)
        if cached is not None and cached[0] > now:
            return cached[1]
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        data = self._get_shared(url, "discovery document")
        try:
            OpenIDProviderMetadata(data).validate()
        except ValueError as exc:
            raise ProblemError(
                PROVIDER_MISCONFIGURED, f"invalid discovery document: {exc}"
            ) from exc
        # OIDC Discovery §4.3: the document's issuer must be the one we asked (a trailing
        # slash aside); ID tokens are then checked against the document's exact value.
        if str(data["issuer"]).rstrip("/") != issuer.rstrip("/"):
            raise ProblemError(
                PROVIDER_MISCONFIGURED,
                f"the discovery document names issuer {data['issuer']!r}, not {issuer!r}",
            )
        with self._lock:
            self._metadata[issuer] = (now + self.ttl, data)
        return data

    def keys(self, jwks_uri: str, *, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        with self._lock:
            cached = self._jwks.get(jwks_uri)
        if cached is not None and cached[0] > now and not refresh:
            return cached[1]
        data = self._get_shared(jwks_uri, "JWKS")
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise ProblemError(PROVIDER_MISCONFIGURED, "the provider's JWKS is unusable") from exc
        with self._lock:
            self._jwks[jwks_uri] = (now + self.ttl, keys)
        return keys

    # --- the flow ----------------------------------------------------------------------
    def authorization_url(
        self,
        metadata: dict[str, Any],
        config: ClientConfig,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        pkce: PkcePair,
    ) -> str:
        url: str = prepare_grant_uri(
            metadata["authorization_endpoint"],
            config.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=list(config.scopes),
            state=state,
            nonce=nonce,
            code_challenge=pkce.challenge,
            code_challenge_method="S256",
        )
        return url

    def exchange_code(
        self,
        metadata: dict[str, Any],
        config: ClientConfig,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """The token endpoint's answer for ``code`` (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
        url = str(metadata["token_endpoint"])
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        auth = ClientAuth(config.client_id, config.client_secret, config.auth_method)
        url, headers, body = auth.prepare("POST", url, headers, body)
        self._count(url)
        try:
            response = self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProblemError(
                PROVIDER_UNAVAILABLE, f"cannot reach the token endpoint: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 500:
            raise ProblemError(
                PROVIDER_UNAVAILABLE, f"the token endpoint answered HTTP {response.status_code}"
            )
        data = self._json(response, "token response")
        if response.status_code != 200 or "error" in data:
            error = str(data.get("error", "invalid_request"))[:64]
            description = str(data.get("error_description") or "")[:300]
            raise ProblemError(
                CODE_REJECTED,
                f"the provider refused the code: {error}"
                + (f" ({description})" if description else ""),
                error=error,
            )
        if not isinstance(data.get("id_token"), str):
            raise _id_token_problem("missing", "the token response has no id_token")
        return data

    def validate_id_token(
        self,
        metadata: dict[str, Any],
        config: ClientConfig,
        id_token: str,
        *,
        nonce: str,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """The ID token's claims, once every OIDC Core §3.1.3.7 check has passed."""
        announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in ID_TOKEN_ALGORITHMS if a in announced] or ["RS256"]
        jwks_uri = str(metadata["jwks_uri"])
        try:
            try:
                token = jwt.decode(id_token, self.keys(jwks_uri), algorithms=algorithms)
            except InvalidKeyIdError:
                # A key id we have not seen: the provider may have rotated; refetch once.
                token = jwt.decode(
                    id_token, self.keys(jwks_uri, refresh=True), algorithms=algorithms
                )
        except InvalidKeyIdError as exc:
            raise _id_token_problem(
                "unknown-key", "the ID token is signed with a key the provider does not publish"
            ) from exc
        except BadSignatureError as exc:
            raise _id_token_problem("signature", "the ID token's signature is invalid") from exc
        except (JoseError, ValueError) as exc:
            raise _id_token_problem(
                "malformed", f"the ID token cannot be read: {type(exc).__name__}"
            ) from exc
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": str(metadata["issuer"])},
                "aud": {"essential": True, "value": config.client_id},
                "sub": {"essential": True},
            },
            params={"nonce": nonce, "client_id": config.client_id, "access_token": access_token},
        )
        try:
            claims.validate(now=int(time.time()), leeway=LEEWAY_SECONDS)
        except ExpiredTokenError as exc:
            raise _id_token_problem("expired", "the ID token has expired") from exc
        except ClaimError as exc:
            reason = {"iss": "issuer", "aud": "audience"}.get(exc.claim, exc.claim)
            raise _id_token_problem(
                reason, f"the ID token's `{exc.claim}` claim is not valid"
            ) from exc
        except (JoseError, ValueError, TypeError) as exc:
            raise _id_token_problem("malformed", "the ID token's claims are malformed") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
            raise _id_token_problem("sub", "the ID token's `sub` claim is not valid")
        return dict(claims)

    def userinfo(self, metadata: dict[str, Any], access_token: str) -> dict[str, Any]:
        """Claims from the UserInfo endpoint (OIDC Core §5.3), or ``{}`` if it has none."""
        endpoint = metadata.get("userinfo_endpoint")
        if not endpoint:
            return {}
        return self._get(
            str(endpoint), "userinfo endpoint", {"Authorization": f"Bearer {access_token}"}
        )
