"""What every request is held to before a view sees it: a bounded body, path segments and query
values the store could hold, and only the methods a route serves; and the request line and headers
the servers in front of the app hold it to (app/ops/serving.py), which the OpenAPI document states."""
from flask import request
from werkzeug.routing import BaseConverter

from app.base.errors import ApiError
from app.base.fields import NUL

# The largest request line and header field gunicorn can be told to take; nginx is held to the same.
MAX_REQUEST_LINE = 8190
MAX_HEADER_FIELD = 8190
MAX_HEADER_FIELDS = 100
HEADER_LIMITS = f"at most {MAX_HEADER_FIELDS} fields of {MAX_HEADER_FIELD} bytes each"


class StorableSegment(BaseConverter):
    """A path segment the store could hold: no NUL (PostgreSQL refuses it in text) and at most 255
    characters (every stored guid and name fits in 255). Anything else names nothing that can exist,
    so the URL matches no route: 404 in the dialect's shape, before any SQL sees it."""

    regex = r"[^/\x00]{1,255}"


def read_body():
    """The request's body; 413 when it is over the limit, whether announced or sent in chunks.

    Werkzeug refuses an announced Content-Length over the limit before reading, but stops reading a
    chunked body at the limit without a word. One byte more tells the two apart (a chunked body of
    exactly the limit is refused too).
    """
    body = request.get_data(cache=False)
    if request.content_length is None and len(body) >= request.max_content_length:
        request.stream.read(1)  # raises RequestEntityTooLarge past the limit
    return body


def _refuse_unstorable_query():
    for key, value in request.args.items(multi=True):
        if NUL in key or NUL in value:
            raise ApiError("BadQueryParameter", key)


def init_app(app):
    """Bind the limits to `app`; before its routes are registered, which the segment rule shapes."""
    for name in ("default", "string"):
        app.url_map.converters[name] = StorableSegment
    # An empty segment names nothing either: /v2/spaces//auditors/u is no URL of a role (404), where Werkzeug
    # would merge the slashes into /v2/spaces/auditors/u, another route's (405), or redirect a GET.
    app.url_map.merge_slashes = False
    # Werkzeug refuses a body over this as soon as it is read, before reading it (413).
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    # Flask would answer OPTIONS on every route with an empty HTML 200; without CORS there is
    # nothing to say, so OPTIONS is a method like any other the route does not serve (405).
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.before_request(_refuse_unstorable_query)
