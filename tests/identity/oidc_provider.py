"""A real OpenID Connect provider for the SSO tests.

Authlib's authorization server (authorization code grant, the OpenID Connect code flow
extension, and PKCE with ``CodeChallenge(required=True)``) in a small Flask app with
discovery, JWKS and UserInfo endpoints, served by werkzeug on 127.0.0.1 (one host name
everywhere) in a thread. Its RSA signing key is generated at start. The authorize step
signs a person in headlessly from ``login_*`` query parameters the test adds, and
``misbehave`` makes the provider issue the bad ID tokens a relying party must refuse.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

logging.getLogger("werkzeug").setLevel(logging.WARNING)


@dataclass
class Person:
    sub: str
    email: str | None
    email_verified: bool
    name: str = "Ada Lovelace"


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    auth_method: str = "client_secret_basic"
    scope: str = "openid email profile"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(scope_to_list(self.scope))
        return list_to_scope([s for s in scope_to_list(scope or "") if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(
            self.client_secret, client_secret
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class Misbehaviour:
    """What the next ID tokens get wrong (reset with ``provider.behave()``)."""

    aud: list[str] | None = None
    azp: str | None = None
    iss: str | None = None
    expired: bool = False
    nonce: str | None = None
    sign_with: RSAKey | None = None
    email_in_id_token: bool = True
    token_endpoint_status: int | None = None


def _new_key() -> RSAKey:
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    return key


class OidcProvider:
    def __init__(self) -> None:
        self.signing_key = _new_key()
        self.published: list[RSAKey] = [self.signing_key]
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.access_tokens: dict[str, Person] = {}
        self.nonces: set[str] = set()
        self.bad = Misbehaviour()
        self.token_requests: list[dict[str, str]] = []
        self.app = self._build_app()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle and knobs ---------------------------------------------------------
    def start(self) -> OidcProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def behave(self) -> None:
        self.bad = Misbehaviour()

    def rotate_keys(self) -> RSAKey:
        """Sign with a new key and publish only it (the old one is retired)."""
        self.signing_key = _new_key()
        self.published = [self.signing_key]
        return self.signing_key

    def register_client(
        self,
        redirect_uris: list[str],
        *,
        public: bool = False,
        auth_method: str | None = None,
    ) -> Client:
        client = Client(
            client_id=f"plaza-{secrets.token_hex(4)}",
            client_secret=None if public else secrets.token_urlsafe(24),
            redirect_uris=redirect_uris,
            auth_method=auth_method or ("none" if public else "client_secret_basic"),
        )
        self.clients[client.client_id] = client
        return client

    def login(
        self,
        authorization_url: str,
        *,
        sub: str | None = None,
        email: str | None = None,
        email_verified: bool = True,
        deny: bool = False,
    ) -> str:
        """Play the person at the provider's sign-in page; return where it redirects."""
        params: dict[str, str] = {"login_deny": "1"} if deny else {}
        if sub is not None:
            params["login_sub"] = sub
        if email is not None:
            params["login_email"] = email
        params["login_email_verified"] = "1" if email_verified else "0"
        joiner = "&" if "?" in authorization_url else "?"
        r = httpx.get(authorization_url + joiner + urlencode(params), follow_redirects=False)
        assert r.status_code == 302, r.text
        return r.headers["location"]

    # --- the Authlib server ----------------------------------------------------------
    def _build_app(self) -> Flask:
        provider = self
        app = Flask("test-oidc-provider")

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                if data.get("nonce"):
                    provider.nonces.add(data["nonce"])
                provider.codes[code] = Code(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.scope,
                    person=req.user,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                item = provider.codes.get(code)
                if item is None or item.client_id != client.client_id:
                    return None
                return item

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> Person:
                return authorization_code.person

        class OpenIDCodeFlow(OpenIDCode):
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return nonce in provider.nonces  # recorded when a code is issued

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.bad.sign_with or provider.signing_key

            def get_encode_header(self, client: Client) -> dict[str, str]:
                key = self.resolve_client_private_key(client)
                return {"alg": "RS256", "kid": str(key.kid)}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                bad = provider.bad
                claims: dict[str, Any] = {
                    "iss": bad.iss or provider.issuer,
                    "aud": bad.aud or [client.client_id],
                }
                if bad.azp:
                    claims["azp"] = bad.azp
                if bad.expired:
                    now = int(time.time())
                    claims.update(iat=now - 3600, exp=now - 600)
                return claims

            def get_authorization_code_claims(self, authorization_code: Code) -> dict[str, Any]:
                claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
                if provider.bad.nonce is not None:
                    claims["nonce"] = provider.bad.nonce
                return claims

            def generate_user_info(self, person: Person, scope: str) -> UserInfo:
                info = UserInfo(sub=person.sub)
                if "profile" in scope_to_list(scope):
                    info["name"] = person.name
                if "email" in scope_to_list(scope) and provider.bad.email_in_id_token:
                    info["email"] = person.email
                    info["email_verified"] = person.email_verified
                return info

        server = AuthorizationServer(
            app,
            query_client=lambda client_id: provider.clients.get(client_id),
            save_token=self._save_token,
        )
        server.register_grant(
            CodeGrant, [OpenIDCodeFlow(require_nonce=True), CodeChallenge(required=True)]
        )

        # Also under any sub-path, naming the root issuer: an inconsistent provider.
        @app.get("/.well-known/openid-configuration")
        @app.get("/<path:tenant>/.well-known/openid-configuration")
        def discovery(tenant: str | None = None) -> Any:
            base = provider.issuer
            return jsonify(
                issuer=base,
                authorization_endpoint=f"{base}/authorize",
                token_endpoint=f"{base}/token",
                userinfo_endpoint=f"{base}/userinfo",
                jwks_uri=f"{base}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                scopes_supported=["openid", "email", "profile"],
                token_endpoint_auth_methods_supported=[
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                code_challenge_methods_supported=["S256"],
                grant_types_supported=["authorization_code"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(keys=[k.as_dict(private=False) for k in provider.published])

        @app.get("/authorize")
        def authorize() -> Any:
            args = request.args
            person = None
            if not args.get("login_deny"):
                person = Person(
                    sub=args["login_sub"],
                    email=args.get("login_email"),
                    email_verified=args.get("login_email_verified") == "1",
                )
            try:
                grant = server.get_consent_grant(end_user=person)
            except OAuth2Error as error:
                return server.handle_error_response(None, error)
            return server.create_authorization_response(grant=grant, grant_user=person)

        @app.post("/token")
        def token() -> Any:
            provider.token_requests.append(dict(request.form))
            if provider.bad.token_endpoint_status:
                return "upstream trouble", provider.bad.token_endpoint_status
            return server.create_token_response()

        @app.get("/userinfo")
        def userinfo() -> Any:
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            person = provider.access_tokens.get(value) if scheme.lower() == "bearer" else None
            if person is None:
                return jsonify(error="invalid_token"), 401
            return jsonify(
                sub=person.sub,
                email=person.email,
                email_verified=person.email_verified,
                name=person.name,
            )

        return app

    def _save_token(self, token: dict[str, Any], req: Any) -> None:
        self.access_tokens[token["access_token"]] = req.user
