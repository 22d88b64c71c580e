"""The built-in token issuer: POST /oauth/token as a UAA answers it, for the embedded default and tests.

Production configures an external UAA's keys instead, which switches this off.
"""
import time
import uuid
from datetime import timedelta
from functools import cache

import jwt
from flask import Blueprint, current_app, request
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.base.errors import ApiError, UaaError
from app.base.extensions import db
from app.identity.models import Client, User
from app.identity.tokens import issue_token
from app.responses import json_response
from app.store.writes import utcnow

bp = Blueprint("oauth", __name__)

REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
# A refresh token is signed like an access token but for another audience, so it is never
# accepted as a bearer token.
REFRESH_AUDIENCE = "cf_events.refresh"
# After this many failed logins in a row, each further try waits twice as long as the last.
FREE_LOGIN_ATTEMPTS = 3
MAX_LOGIN_WAIT = timedelta(minutes=15)


@cache
def _unknown_user_hash():
    """Compared against when the user does not exist, so that unknown names take as long as bad
    passwords. Made on first use: hashing costs ~0.1 s, which every process start (a CLI command,
    a gunicorn worker) would otherwise pay."""
    return generate_password_hash(uuid.uuid4().hex)

BAD_CREDENTIALS = (401, "unauthorized", "Bad credentials")


def hash_secret(secret):
    return generate_password_hash(secret)


def _authenticated_client():
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        raise UaaError(401, "unauthorized", "Full authentication is required to access this resource")
    client = db.session.get(Client, credentials.username or "")
    secret = credentials.password or ""
    # "cf" has no secret: tools send "Basic cf:".
    known = client is not None and (
        secret == "" if client.secret_hash is None else check_password_hash(client.secret_hash, secret))
    if not known:
        raise UaaError(*BAD_CREDENTIALS)
    return client


def _login_wait(user, now):
    """How long `user` must still wait before the next login attempt counts."""
    if user.failed_logins < FREE_LOGIN_ATTEMPTS or user.last_failed_at is None:
        return timedelta(0)
    wait = min(timedelta(seconds=2 ** (user.failed_logins - FREE_LOGIN_ATTEMPTS)), MAX_LOGIN_WAIT)
    return max(timedelta(0), user.last_failed_at + wait - now)


def _logged_in_user(username, password):
    user = db.session.scalar(select(User).where(User.username == username)) if username else None
    now = utcnow()
    if user is not None:
        wait = _login_wait(user, now)
        if wait:
            raise UaaError(401, "unauthorized",
                           f"Too many failed logins: try again in {int(wait.total_seconds()) + 1} seconds")
    if not check_password_hash(user.password_hash if user else _unknown_user_hash(), password or ""):
        if user is not None:
            user.failed_logins += 1
            user.last_failed_at = now
            db.session.commit()
        raise UaaError(*BAD_CREDENTIALS)
    if user.failed_logins:
        user.failed_logins, user.last_failed_at = 0, None
        db.session.commit()
    return user


def _granted_scopes(allowed, requested):
    """The scopes asked for (all allowed ones when none are named); unknown ones are refused."""
    allowed = allowed.split()
    wanted = (requested or "").split()
    if not wanted:
        return allowed
    refused = [scope for scope in wanted if scope not in allowed]
    if refused:
        raise UaaError(400, "invalid_scope", f"Invalid scope: {' '.join(refused)}")
    return wanted


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
        now = int(time.time())
        body["refresh_token"] = jwt.encode(
            {"jti": f"{jti}-r", "sub": user.guid, "user_id": user.guid, "client_id": client.client_id,
             "scope": scopes, "aud": [REFRESH_AUDIENCE], "iat": now, "exp": now + REFRESH_TOKEN_SECONDS},
            secret, algorithm="HS256")
    body.update(expires_in=lifetime, scope=" ".join(scopes), jti=jti)
    return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _refreshed_user(client, refresh_token):
    try:
        claims = jwt.decode(refresh_token or "", current_app.config["TOKEN_SECRET"], algorithms=["HS256"],
                            audience=REFRESH_AUDIENCE, options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        raise UaaError(401, "invalid_token", "Invalid refresh token") from None
    user = db.session.get(User, claims["sub"])
    if user is None or claims.get("client_id") != client.client_id:
        raise UaaError(401, "invalid_token", "Invalid refresh token")
    # A refreshed token never carries more than the user has now.
    return user, [scope for scope in claims.get("scope", []) if scope in user.scopes.split()]


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
        user = _logged_in_user(request.form.get("username"), request.form.get("password"))
        return _token_response(client, _granted_scopes(user.scopes, request.form.get("scope")), user)
    if grant == "refresh_token":
        user, scopes = _refreshed_user(client, request.form.get("refresh_token"))
        return _token_response(client, scopes, user)
    return _token_response(client, _granted_scopes(client.scopes, request.form.get("scope")))
