"""POST /oauth/token and GET /login: the built-in issuer (identity/issuer.py) in UAA's dialect, for the
embedded default and tests. Production configures an external UAA's keys instead, which switches it off.
Their OpenAPI description is add_issuer's.
"""
import uuid

from flask import Blueprint, current_app, request

from app.base.errors import ApiError, UaaError
from app.identity import issuer
from app.identity.tokens import issue_token

from .describe import CLIENT_BASIC, INTEGER, PRETTY, PUBLIC, STRING, array, obj, ok
from .responses import json_response

bp = Blueprint("oauth", __name__)


def _authenticated_client():
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        raise UaaError(401, "unauthorized", "Full authentication is required to access this resource")
    return issuer.authenticated_client(credentials.username, credentials.password)


def _token_response(client, scopes, user=None):
    secret = current_app.config["TOKEN_SECRET"]
    lifetime = current_app.config["ACCESS_TOKEN_VALIDITY"]
    jti = uuid.uuid4().hex
    # A user's tokens die with the user (`flask users delete`), not only when they expire.
    access_token = issue_token(secret, scopes, user_id=user and user.guid, user_name=user and user.username,
                               email=user and user.email, client_id=client.client_id,
                               expires_in=lifetime, jti=jti, revocable=user is not None)
    body = {"access_token": access_token, "token_type": "bearer"}
    if user is not None:
        body["refresh_token"] = issuer.refresh_token(user, client, scopes, jti, secret)
    body.update(expires_in=lifetime, scope=" ".join(scopes), jti=jti)
    return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


# What cf CLI v8 asks a UAA before a password login: the prompts to show. Only username and password
# (any other prompt the CLI would ask for interactively).
LOGIN_PROMPTS = {"username": ["text", "Email"], "password": ["password", "Password"]}


@bp.get("/login")
def login_info():
    if not current_app.config["TOKEN_ISSUER"]:
        raise ApiError("NotFound")
    return json_response({"app": {"version": "cf-events"}, "prompts": LOGIN_PROMPTS})


@bp.post("/oauth/token")
def token():
    if not current_app.config["TOKEN_ISSUER"]:
        raise ApiError("NotFound")
    client = _authenticated_client()
    grant = request.form.get("grant_type")
    if grant not in ("password", "refresh_token", "client_credentials"):
        raise UaaError(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
    if grant not in client.grant_types.split():
        raise UaaError(401, "invalid_client", f"Unauthorized grant type: {grant}")
    if grant == "password":
        user = issuer.logged_in_user(request.form.get("username"), request.form.get("password"))
        return _token_response(client, issuer.granted_scopes(user.scopes, request.form.get("scope")), user)
    if grant == "refresh_token":
        user, scopes = issuer.refreshed_user(client, request.form.get("refresh_token"),
                                              current_app.config["TOKEN_SECRET"])
        return _token_response(client, scopes, user)
    return _token_response(client, issuer.granted_scopes(client.scopes, request.form.get("scope")))


def add_issuer(ops, components):
    """These endpoints in the OpenAPI document (app/api/openapi.py assembles it)."""
    form = obj({"grant_type": {"type": "string", "enum": ["password", "refresh_token", "client_credentials"]},
                "username": STRING, "password": STRING, "refresh_token": STRING,
                "scope": {"type": "string", "description": "Space-separated; all the user's or client's when absent"}},
               optional=("username", "password", "refresh_token", "scope"), additional=True)
    issued = obj({"access_token": STRING, "token_type": {"type": "string", "enum": ["bearer"]},
                  "refresh_token": STRING, "expires_in": INTEGER, "scope": STRING, "jti": STRING},
                 optional=("refresh_token",))
    ops.add("/oauth/token", "post", "A token, as a UAA issues it (the built-in issuer)", "issuer",
            ok("The access token (and, for a user, a refresh token)", components.schema("Token", json_schema=issued)),
            security=[{CLIENT_BASIC: []}], errors=(401, 404, 503),
            body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}})
    prompts = obj({name: array(STRING, minItems=2, maxItems=2) for name in LOGIN_PROMPTS})
    ops.add("/login", "get", "The prompts of a password login, as a UAA's /login gives them", "issuer",
            ok("The prompts cf login asks for", components.schema("LoginInfo", json_schema=obj({
                "app": obj({"version": STRING}), "prompts": prompts}))),
            security=PUBLIC, parameters=[PRETTY], errors=(404,))
