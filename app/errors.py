"""The error catalogue and the one app-level handler that renders it.

Errors are data: a name maps to a numeric code, an HTTP status and a message template, as in
Cloud Controller's errors/v2.yml. Views only `raise ApiError("BadQueryParameter", key)`.
"""
import logging
import re
from typing import NamedTuple

from flask import request
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from werkzeug.exceptions import HTTPException

from .responses import json_response

log = logging.getLogger(__name__)


class ErrorDetails(NamedTuple):
    code: int
    status: int
    template: str


CATALOGUE = {
    "InvalidAuthToken": ErrorDetails(1000, 401, "Invalid Auth Token"),
    "MessageParseError": ErrorDetails(1001, 400, "Request invalid due to parse error: %s"),
    "NotFound": ErrorDetails(10000, 404, "Unknown request"),
    "UnknownError": ErrorDetails(10001, 500, "An unknown error occurred."),
    "NotAuthenticated": ErrorDetails(10002, 401, "Authentication error"),
    "NotAuthorized": ErrorDetails(10003, 403, "You are not authorized to perform the requested action"),
    "BadQueryParameter": ErrorDetails(10005, 400, "The query parameter is invalid: %s"),
    "InsufficientScope": ErrorDetails(10007, 403, "Your token lacks the necessary scopes to access this resource."),
    "UnprocessableEntity": ErrorDetails(10008, 422, "%s"),
    # CC answers 500 for a bad order-by; it is the client's mistake (deliberate difference).
    "OrderByParameterInvalid": ErrorDetails(10012, 400, "Cannot order by: %s"),
    "ResourceNotFound": ErrorDetails(10010, 404, "%s"),
    "ServiceUnavailable": ErrorDetails(10015, 503, "%s"),
    "UserNotFound": ErrorDetails(20003, 404, "The user could not be found: %s"),
    "OrganizationNotFound": ErrorDetails(30003, 404, "The organization could not be found: %s"),
    "SpaceNotFound": ErrorDetails(40004, 404, "The app space could not be found: %s"),
    "AppNotFound": ErrorDetails(100004, 404, "The app could not be found: %s"),
    "EventNotFound": ErrorDetails(230002, 404, "Event could not be found: %s"),
    # Codes of our own (CC has no such errors); documented in the README.
    "EventConflict": ErrorDetails(230003, 409, "An event with guid %s already exists with different content"),
    "MethodNotAllowed": ErrorDetails(990405, 405, "The %s method is not allowed for this resource"),
    "RequestTooLarge": ErrorDetails(990413, 413, "The request body is larger than %s bytes"),
    # What the HTTP server in front of the app refuses before the app sees a request (serving.py).
    "RequestLineTooLong": ErrorDetails(990414, 414, "The request line is longer than %s bytes"),
    "RequestHeadersTooLarge": ErrorDetails(990431, 431, "The request headers are over the limit: %s"),
    "RequestTimeout": ErrorDetails(990408, 408, "The request was not received in time"),
    "BadRequest": ErrorDetails(990400, 400, "The request is not valid HTTP: %s"),
}

# CC's own name for its catch-all error carries no "CF-" prefix.
UNPREFIXED = {"UnknownError"}


class UaaError(Exception):
    """An error of the token endpoint, in UAA's shape: {"error": …, "error_description": …}."""

    def __init__(self, status, error, description):
        super().__init__(status, error, description)
        self.status, self.error, self.description = status, error, description


class ApiError(Exception):
    """A client-facing error from the catalogue, with the arguments of its template.

    `fields` ({field: [message]}) carries validation failures for dialects that list them apart;
    `headers` go out with the response (a 405's Allow).
    """

    def __init__(self, name, *args, fields=None, headers=None):
        super().__init__(name, *args)
        self.name = name
        self.fields = fields
        self.headers = headers
        self.details = CATALOGUE[name]
        self.description = self.details.template % args if "%s" in self.details.template else self.details.template

    @property
    def status(self):
        return self.details.status


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


# Each dialect's errors keep its own shape, whichever part of the app, or the HTTP server in front of
# it (serving.py), answers them. The first prefix a path starts with decides; v2 is the default.
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
        from .metrics import database_unavailable  # (metrics reads auth, which reads this module)

        log.warning("event store unavailable: %s", exc.__class__.__name__, exc_info=exc)
        database_unavailable()
        error = ApiError("ServiceUnavailable", "The event store is unavailable; try again later")
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)
        error = ApiError("UnknownError")
    return json_response(error_body(request.path, error), error.status, headers=error.headers)


def init_app(app):
    app.register_error_handler(Exception, handle_exception)
