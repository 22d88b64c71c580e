"""JSON responses as Cloud Controller sends them, and the request id every response carries."""
import re
import uuid

from flask import Response, g, request

from app.base.codec import encode_json

CONTENT_TYPE = "application/json;charset=utf-8"
REQUEST_ID_HEADER = "X-VCAP-Request-ID"
# An echoed id goes into a response header and into logs: keep it short and printable.
_SAFE_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,255}$")


def wants_pretty():
    return request.args.get("pretty", "") not in ("", "0", "false")


def json_response(payload, status=200, headers=None):
    body = encode_json(payload, pretty=wants_pretty())
    return Response(body, status=status, headers=headers, content_type=CONTENT_TYPE)


def empty_response(status=204):
    return Response(status=status, content_type=None)


def request_id():
    """The request's id: the caller's X-VCAP-Request-ID when it sent a sane one, else a new uuid."""
    if "request_id" not in g:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = sent if _SAFE_REQUEST_ID.match(sent) else str(uuid.uuid4())
    return g.request_id


def _stamp_request_id(response):
    response.headers[REQUEST_ID_HEADER] = request_id()
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def init_app(app):
    app.after_request(_stamp_request_id)
