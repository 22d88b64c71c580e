"""The error catalogue, as data: every layer raises its errors, and the dialects render them (api/errors.py).

A name maps to a numeric code, an HTTP status and a message template, as in Cloud Controller's
errors/v2.yml. Views only `raise ApiError("BadQueryParameter", key)`.
"""
from typing import NamedTuple


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
