"""The built-in token issuer's rules: its clients and users, logins that wait longer after each failure,
the scopes a token may carry, and refresh tokens. POST /oauth/token (api/oauth.py) speaks UAA's dialect
over them. Production configures an external UAA's keys instead, which switches the issuer off.
"""
import time
import uuid
from datetime import timedelta
from functools import cache

import jwt
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.base.errors import UaaError
from app.base.extensions import db
from app.store.writes import utcnow

from .models import Client, User

REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
# A refresh token is signed like an access token but for another audience, so it is never
# accepted as a bearer token.
REFRESH_AUDIENCE = "cf_events.refresh"
# After this many failed logins in a row, each further try waits twice as long as the last.
FREE_LOGIN_ATTEMPTS = 3
MAX_LOGIN_WAIT = timedelta(minutes=15)
BAD_CREDENTIALS = (401, "unauthorized", "Bad credentials")


@cache
def _unknown_user_hash():
    """Compared against when the user does not exist, so that unknown names take as long as bad
    passwords. Made on first use: hashing costs ~0.1 s, which every process start (a CLI command,
    a gunicorn worker) would otherwise pay."""
    return generate_password_hash(uuid.uuid4().hex)


def hash_secret(secret):
    return generate_password_hash(secret)


def authenticated_client(client_id, secret):
    """The client these HTTP Basic credentials name, or 401 Bad credentials."""
    client = db.session.get(Client, client_id or "")
    secret = secret or ""
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


def logged_in_user(username, password):
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


def granted_scopes(allowed, requested):
    """The scopes asked for (all allowed ones when none are named); unknown ones are refused."""
    allowed = allowed.split()
    wanted = (requested or "").split()
    if not wanted:
        return allowed
    refused = [scope for scope in wanted if scope not in allowed]
    if refused:
        raise UaaError(400, "invalid_scope", f"Invalid scope: {' '.join(refused)}")
    return wanted


def refresh_token(user, client, scopes, jti, secret):
    """A refresh token for `user` through `client`, for `scopes` (what it is refreshed to never exceeds them)."""
    now = int(time.time())
    return jwt.encode(
        {"jti": f"{jti}-r", "sub": user.guid, "user_id": user.guid, "client_id": client.client_id,
         "scope": scopes, "aud": [REFRESH_AUDIENCE], "iat": now, "exp": now + REFRESH_TOKEN_SECONDS},
        secret, algorithm="HS256")


def refreshed_user(client, refresh_token, secret):
    """The user a refresh token of `client` stands for, and the scopes it may still carry; else 401."""
    try:
        claims = jwt.decode(refresh_token or "", secret, algorithms=["HS256"],
                            audience=REFRESH_AUDIENCE, options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        raise UaaError(401, "invalid_token", "Invalid refresh token") from None
    user = db.session.get(User, claims["sub"])
    if user is None or claims.get("client_id") != client.client_id:
        raise UaaError(401, "invalid_token", "Invalid refresh token")
    # A refreshed token never carries more than the user has now.
    return user, [scope for scope in claims.get("scope", []) if scope in user.scopes.split()]
