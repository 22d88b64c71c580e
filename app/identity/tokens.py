"""Bearer tokens as a UAA issues them: their keys, verification, revocation, the identity they carry, and
signing them (the built-in issuer, `flask token`, tests). The request's own caller is api/auth.py's."""
import json
import time
import uuid
from dataclasses import dataclass
from typing import NamedTuple

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from app.base.config import ConfigError
from app.base.errors import ApiError
from app.base.extensions import read
from app.base.fields import is_storable

from .models import ApiToken, User

ADMIN = "cloud_controller.admin"
ADMIN_READ_ONLY = "cloud_controller.admin_read_only"
GLOBAL_AUDITOR = "cloud_controller.global_auditor"
READ = "cloud_controller.read"
WRITE = "cf_events.write"

AUDIENCE = "cloud_controller"
# The Usage Service's own tokens name it as their audience; its endpoints accept either.
USAGE_AUDIENCES = (AUDIENCE, "usage_service")
USAGE_AUDIT = "usage_service.audit"
# Each algorithm is bound to one kind of key, so a token can never choose how it is checked:
# "none" is never accepted, and an HS256 token is never checked with a public key.
KEY_TYPES = {"RS256": rsa.RSAPublicKey, "ES256": ec.EllipticCurvePublicKey}


class TokenKeys:
    """The keys bearer tokens are verified with: an HS256 secret, and/or a UAA's public keys."""

    def __init__(self, secret=None, public_keys=None):
        self.secret = secret
        self.public_keys = public_keys or {}  # kid (None for a lone PEM key) -> public key
        # (token, audience) -> claims of tokens verified with these keys; see decode_token.
        self.verified = {}

    @property
    def external(self):
        return bool(self.public_keys)

    @classmethod
    def from_config(cls, config):
        public_keys = {}
        if config.get("TOKEN_PUBLIC_KEY"):
            pem = config["TOKEN_PUBLIC_KEY"].replace("\\n", "\n").encode()
            try:
                public_keys[None] = load_pem_public_key(pem)
            except ValueError as error:
                raise ConfigError(f"TOKEN_PUBLIC_KEY is not a PEM public key: {error}") from None
        if config.get("TOKEN_JWKS_FILE"):
            try:
                with open(config["TOKEN_JWKS_FILE"]) as file:
                    key_set = jwt.PyJWKSet.from_dict(json.load(file))
            except (OSError, ValueError, jwt.PyJWTError) as error:
                raise ConfigError(f"TOKEN_JWKS_FILE could not be read as a JWKS document: {error}") from None
            public_keys.update({key.key_id: key.key for key in key_set.keys})
        if not (config.get("TOKEN_SECRET") or public_keys):
            raise ConfigError("no token keys: set TOKEN_SECRET, TOKEN_PUBLIC_KEY or TOKEN_JWKS_FILE")
        return cls(config.get("TOKEN_SECRET"), public_keys)

    def key_for(self, header):
        """The key a token with this header must verify against, or None when none may."""
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            return None
        if algorithm == "HS256":
            return self.secret
        if algorithm not in KEY_TYPES:
            return None
        key = self.public_keys.get(header.get("kid"))
        if key is None and len(self.public_keys) == 1:
            key = next(iter(self.public_keys.values()))
        return key if isinstance(key, KEY_TYPES[algorithm]) else None


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


# Checking a signature costs more than the rest of a tail poll, and a collector sends the same
# token with every poll: verified claims are kept, and only the expiry is checked again. (A token
# that passed every check can later only fail by expiring.)
VERIFIED_TOKENS_KEPT = 4096


# Claims the service reads, by the JSON type they must have. PyJWT accepts "exp": "1700000000"
# (a string of digits); such a token must fail at once, not when its cached claims are compared.
NUMERIC_CLAIMS = ("exp", "nbf", "iat")
STRING_CLAIMS = ("user_id", "user_name", "email", "client_id", "api_token")


class Verified(NamedTuple):
    claims: dict
    # A token of the built-in issuer that its user's deletion revokes (see `revoked`).
    revocable: bool


def verify_token(token, keys, audience=AUDIENCE):
    """The verified claims of `token`, or raise ApiError InvalidAuthToken.

    Signature, expiry, not-before and audience (one of them, if several) are all checked, and the type
    of every claim read.
    """
    verified = keys.verified.get((token, audience))
    if verified is not None and verified.claims["exp"] > time.time():
        return verified
    verified = _verify(token, keys, audience)
    if len(keys.verified) >= VERIFIED_TOKENS_KEPT:
        keys.verified.clear()
    keys.verified[(token, audience)] = verified
    return verified


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _verify(token, keys, audience):
    try:
        header = jwt.get_unverified_header(token)
        key = keys.key_for(header)
        if key is None:
            raise ApiError("InvalidAuthToken")
        claims = jwt.decode(token, key, algorithms=[header["alg"]], audience=audience,
                            options={"require": ["exp", "aud"]})
    except jwt.PyJWTError:
        raise ApiError("InvalidAuthToken") from None
    scopes = claims.get("scope", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ApiError("InvalidAuthToken")
    if not all(_is_number(claims[name]) for name in NUMERIC_CLAIMS if name in claims):
        raise ApiError("InvalidAuthToken")
    # Names and ids reach SQL (visibility): they must be strings the store could hold.
    if not all(isinstance(claims[name], str) and is_storable(claims[name])
               for name in STRING_CLAIMS if claims.get(name) is not None):
        raise ApiError("InvalidAuthToken")
    # Only a token signed with our own secret can be one of the built-in issuer's.
    return Verified(claims, header["alg"] == "HS256" and claims.get("revocable") is True)


def identity_of(claims):
    """The Identity verified `claims` name."""
    return Identity(
        user_id=claims.get("user_id"),
        user_name=claims.get("user_name"),
        email=claims.get("email"),
        client_id=claims.get("client_id"),
        scopes=frozenset(claims.get("scope", [])),
    )


def revoked(claims):
    """Whether a revocable token's user was deleted since (or the API token it was exchanged for
    revoked): one lookup by primary key, on every request, so every worker sees it at once."""
    user = select(User.guid).where(User.guid == claims.get("user_id"))
    if claims.get("api_token"):
        user = user.join(ApiToken, ApiToken.user_guid == User.guid).where(
            ApiToken.guid == claims["api_token"], ApiToken.revoked_at.is_(None))
    return read(user).first() is None


def issue_token(secret, scopes, user_id=None, user_name=None, email=None, client_id="cf", expires_in=3600, jti=None,
                revocable=False, api_token=None):
    """Sign an access token with UAA's claim layout (the built-in issuer, local use and tests).

    A `revocable` token (UAA's claim) stops working when its user is deleted, or its `api_token`
    revoked; tokens for users the issuer does not know (`flask token`, tests) are not revocable.
    """
    now = int(time.time())
    claims = {
        "jti": jti or uuid.uuid4().hex,
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
    if revocable:
        claims["revocable"] = True
    if api_token:
        claims["api_token"] = api_token
    return jwt.encode(claims, secret, algorithm="HS256")
