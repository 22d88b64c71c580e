"""Errors in each dialect's shape: the one app-level handler that renders the catalogue (base/errors.py).

Each dialect's errors keep its own shape, whichever part of the app, or the HTTP server in front of it
(ops/serving.py), answers them.
"""
import logging
import re

from flask import request
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from werkzeug.exceptions import HTTPException

from app.base import metrics
from app.base.errors import UNPREFIXED, ApiError, UaaError

from .responses import json_response

log = logging.getLogger(__name__)


def v2_body(error):
    """CC's v2 shape: {"description", "error_code", "code"}."""
    error_code = error.name if error.name in UNPREFIXED else "CF-" + error.name
    return {"description": error.description, "error_code": error_code, "code": error.details.code}


# Scalingo's "not found" names the kind of resource that was missing.
V1_MISSING_RESOURCES = {"AppNotFound": "app", "EventNotFound": "event"}


def v1_body(error):
    """Scalingo's shapes: {"error": …}, 404 {"resource", "error"}, 422 {"errors": {field: [msg]}}."""
    if error.name in V1_MISSING_RESOURCES:
        return {"resource": V1_MISSING_RESOURCES[error.name], "error": "not found"}
    if error.fields is not None:
        return {"errors": error.fields}
    return {"error": error.description}


def uaa_body(error):
    """UAA's shape, {"error", "error_description"}; a catalogue error gets its name in snake case
    ("not_found" when the issuer is off, say)."""
    if isinstance(error, ApiError):
        error = UaaError(error.status, re.sub(r"(?<!^)(?=[A-Z])", "_", error.name).lower(), error.description)
    return {"error": error.error, "error_description": error.description}


# v3 has no scope error of its own: a token without a read scope is simply not authorized.
V3_NAMES = {"InsufficientScope": "NotAuthorized"}


def v3_body(error):
    """CC's v3 shape: {"errors": [{"detail", "title", "code"}]}, one error however many messages."""
    if error.name in V3_NAMES:
        error = ApiError(V3_NAMES[error.name])
    title = error.name if error.name in UNPREFIXED else "CF-" + error.name
    return {"errors": [{"detail": error.description, "title": title, "code": error.details.code}]}


def usage_body(error):
    """The Usage Service's shape: {"error": …}."""
    return {"error": error.description}


# The first prefix a path starts with decides; v2 is the default.
DIALECTS = (("/oauth/", uaa_body), ("/login/", uaa_body), ("/v1/", v1_body), ("/v3/", v3_body),
            ("/organizations/", usage_body), ("/system_report/", usage_body), ("/app_usages/", usage_body),
            ("/usage_availability/", usage_body))


def error_body(path, error):
    path = path if path.endswith("/") else path + "/"  # "/v3" is v3's too
    for prefix, body in DIALECTS:
        if path.startswith(prefix):
            return body(error)
    return v2_body(error)


def render_v2(error):
    return json_response(v2_body(error), error.status)


def _from_http_exception(exc):
    if exc.code == 404:
        return ApiError("NotFound")
    if exc.code == 405:
        return ApiError("MethodNotAllowed", request.method, headers={"Allow": ", ".join(exc.valid_methods or ())})
    if exc.code == 413:
        return ApiError("RequestTooLarge", request.max_content_length)
    if exc.code == 400:
        return ApiError("MessageParseError", exc.description)
    return None


def _is_database_outage(exc):
    # Connection failures, disconnects, timeouts and deadlocks are the server's condition, not the
    # client's: the client may retry, and the pool reconnects by itself once the database is back.
    return isinstance(exc, (OperationalError, DisconnectionError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def handle_exception(exc):
    """Render any exception as an error of the request's dialect; nothing internal leaks."""
    if isinstance(exc, UaaError):
        return json_response(uaa_body(exc), exc.status)
    if isinstance(exc, ApiError):
        error = exc
    elif isinstance(exc, HTTPException):
        error = _from_http_exception(exc)
        if error is None:
            return exc
    elif _is_database_outage(exc):
        log.warning("event store unavailable: %s", exc.__class__.__name__, exc_info=exc)
        metrics.database_unavailable()
        error = ApiError("ServiceUnavailable", "The event store is unavailable; try again later")
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)
        error = ApiError("UnknownError")
    return json_response(error_body(request.path, error), error.status, headers=error.headers)


def init_app(app):
    app.register_error_handler(Exception, handle_exception)
