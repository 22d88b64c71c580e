"""Bearer tokens as a UAA issues them: verification, the caller's identity, and scope checks."""
import time
import uuid
from dataclasses import dataclass

import jwt
from flask import current_app, g, request

from .errors import ApiError

ADMIN = "cloud_controller.admin"
ADMIN_READ_ONLY = "cloud_controller.admin_read_only"
GLOBAL_AUDITOR = "cloud_controller.global_auditor"
READ = "cloud_controller.read"
WRITE = "cf_events.write"

AUDIENCE = "cloud_controller"
ALGORITHMS = ["HS256"]


@dataclass(frozen=True)
class Identity:
    """Who is calling: a user (user_id set) or a client acting for itself."""

    user_id: str | None
    user_name: str | None
    email: str | None
    client_id: str | None
    scopes: frozenset

    def has_any(self, scopes):
        return not self.scopes.isdisjoint(scopes)


def decode_token(token, secret):
    """Return the verified claims of `token`, or raise ApiError InvalidAuthToken."""
    try:
        # `algorithms` is fixed, so "alg: none" and any other algorithm are refused.
        claims = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            audience=AUDIENCE,
            options={"require": ["exp", "aud"]},
        )
    except jwt.PyJWTError:
        raise ApiError("InvalidAuthToken") from None
    scopes = claims.get("scope", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ApiError("InvalidAuthToken")
    return claims


def _identity_from_claims(claims):
    return Identity(
        user_id=claims.get("user_id"),
        user_name=claims.get("user_name"),
        email=claims.get("email"),
        client_id=claims.get("client_id"),
        scopes=frozenset(claims.get("scope", [])),
    )


def current_identity():
    """The verified caller of this request; 401 when there is none."""
    if "identity" not in g:
        header = request.headers.get("Authorization")
        if not header:
            raise ApiError("NotAuthenticated")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError("InvalidAuthToken")
        claims = decode_token(token.strip(), current_app.config["TOKEN_SECRET"])
        g.identity = _identity_from_claims(claims)
    return g.identity


def require_scope(scopes):
    """Return the caller when their token carries one of `scopes`; else 401 or 403."""
    identity = current_identity()
    if not identity.has_any(scopes):
        raise ApiError("InsufficientScope")
    return identity


def issue_token(secret, scopes, user_id=None, user_name=None, email=None, client_id="cf", expires_in=3600):
    """Sign a token with UAA's claim layout (for local use and tests)."""
    now = int(time.time())
    claims = {
        "jti": uuid.uuid4().hex,
        "client_id": client_id,
        "cid": client_id,
        "scope": list(scopes),
        "aud": [AUDIENCE] + sorted({scope.split(".")[0] for scope in scopes} - {AUDIENCE}),
        "iat": now,
        "exp": now + expires_in,
    }
    if user_id:
        claims.update(
            sub=user_id,
            user_id=user_id,
            user_name=user_name or user_id,
            email=email or f"{user_name or user_id}@example.com",
            grant_type="password",
            origin="uaa",
        )
    else:
        claims.update(sub=client_id, grant_type="client_credentials")
    return jwt.encode(claims, secret, algorithm="HS256")
