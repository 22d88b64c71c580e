"""The caller of a request: its bearer token verified (identity/tokens.py), and the scopes a view requires."""
from flask import current_app, g, request

from app.base.errors import ApiError
from app.identity.tokens import AUDIENCE, identity_of, revoked, verify_token


def current_identity(audience=AUDIENCE):
    """The verified caller of this request, whose token is for `audience`; 401 when there is none."""
    if "identity" not in g:
        header = request.headers.get("Authorization")
        if not header:
            raise ApiError("NotAuthenticated")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError("InvalidAuthToken")
        verified = verify_token(token.strip(), current_app.extensions["token_keys"], audience)
        if verified.revocable and revoked(verified.claims):
            raise ApiError("InvalidAuthToken")
        g.identity = identity_of(verified.claims)
    return g.identity


def require_scope(scopes):
    """Return the caller when their token carries one of `scopes`; else 401 or 403."""
    identity = current_identity()
    if not identity.has_any(scopes):
        raise ApiError("InsufficientScope")
    return identity
