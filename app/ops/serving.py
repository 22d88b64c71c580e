"""Serving in production: nginx in front of gunicorn, and JSON for what either answers itself.

gunicorn's synchronous workers give each connection a worker until its request is read, so twenty
clients sending a byte a second would hold every worker. nginx reads requests whole, at any speed
and for thousands of clients at once, before handing them to gunicorn over loopback: a slow client
costs a connection in nginx, never a worker. (Cloud Controller runs behind nginx on every API VM
for the same reason.) `flask --app wsgi nginx-config` writes the server block.

Both servers refuse some requests before the app sees them (a request line or headers over their
limits, a body too large, a timeout, the app being down). They answer those with the catalogue's
errors in the dialect's shape, like every other answer of the service.
"""
import uuid
from importlib import resources

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from app.api.errors import DIALECTS, v2_body
from app.api.limits import HEADER_LIMITS, MAX_REQUEST_LINE
from app.api.responses import CONTENT_TYPE, REQUEST_ID_HEADER
from app.base.codec import encode_json
from app.base.errors import ApiError


def gunicorn_error(status, message):
    """The catalogue's error for what gunicorn refuses with `status` (gunicorn's own `message`)."""
    if status == 414:
        return ApiError("RequestLineTooLong", MAX_REQUEST_LINE)
    if status == 431:
        return ApiError("RequestHeadersTooLarge", HEADER_LIMITS)
    if status >= 500:
        return ApiError("UnknownError")
    return ApiError("BadRequest", message[:200] or "malformed request")


def write_json_error(sock, status, reason, message):
    """In place of gunicorn.util.write_error, which writes an HTML page.

    The request may not even have a readable path, so the body has the v2 shape, CC's own.
    """
    error = gunicorn_error(status, message)
    body = encode_json(v2_body(error))
    head = (f"HTTP/1.1 {error.status} {reason}\r\nConnection: close\r\nContent-Type: {CONTENT_TYPE}\r\n"
            f"Content-Length: {len(body)}\r\n{REQUEST_ID_HEADER}: {uuid.uuid4()}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


# The worker classes gunicorn.conf.py allows: sync, and gthread, which gunicorn puts in its place whenever
# threads are on (--threads, GUNICORN_CMD_ARGS), whatever worker_class says.
WORKER_CLASSES = (SyncWorker, ThreadWorker)


def check_worker_class(worker_class):
    """One line naming the allowed ones, for a worker class whose refusals would not be JSON."""
    if not issubclass(worker_class, WORKER_CLASSES):
        raise SystemExit(f"cf-events: worker class {worker_class.__name__} is not supported; "
                         "use sync workers, with --threads for threads (gthread)")


def answer_refusals_in_json():
    """In a worker process: gunicorn's workers call util.write_error for every request they refuse."""
    util.write_error = write_json_error


# --- nginx ------------------------------------------------------------------------------------------
def nginx_errors(max_body_bytes):
    """What nginx answers itself: (nginx's status, the status sent, the catalogue's error).

    494 is nginx's own "request header too large"; an unreachable or slow app is a 503, as the
    app itself answers while its database is away.
    """
    return (
        (400, 400, ApiError("BadRequest", "malformed request")),
        (494, 431, ApiError("RequestHeadersTooLarge", "at most 8190 bytes a line, 32768 in all")),
        (408, 408, ApiError("RequestTimeout")),
        (413, 413, ApiError("RequestTooLarge", max_body_bytes)),
        (414, 414, ApiError("RequestLineTooLong", MAX_REQUEST_LINE)),
        (502, 503, ApiError("ServiceUnavailable", "The service is restarting; try again later")),
        (503, 503, ApiError("ServiceUnavailable", "The service is overloaded; try again later")),
        (504, 503, ApiError("ServiceUnavailable", "The service did not answer in time; try again later")),
    )


ERROR_PAGES = "/.cf-events-errors/"


def _nginx_string(body):
    text = encode_json(body).decode()
    # Inside nginx's single quotes, '$' would start a variable and "'" end the string.
    if "$" in text or "'" in text or "\\" in text:
        raise ValueError(f"cannot quote {text!r} for nginx")
    return f"'{text}'"


def _nginx_error_pages(max_body_bytes):
    lines = []
    for nginx_status, status, error in nginx_errors(max_body_bytes):
        # A URI, not a named location: nginx cannot go to a named one before it has read a request line.
        lines.append(f"    error_page {nginx_status} = {ERROR_PAGES}{nginx_status};")
        lines.append(f"    location = {ERROR_PAGES}{nginx_status} {{")
        lines.append("        internal;")
        lines.append(f'        default_type "{CONTENT_TYPE}";')
        lines.append("        add_header X-Content-Type-Options nosniff always;")
        lines.append(f"        add_header {REQUEST_ID_HEADER} $request_id always;")
        # The dialects of errors.error_body, told apart by nginx.
        for prefix, body in DIALECTS:
            lines.append(f"        if ($request_uri ~ ^{prefix}) {{ return {status} {_nginx_string(body(error))}; }}")
        lines.append(f"        return {status} {_nginx_string(v2_body(error))};")
        lines.append("    }")
    return "\n".join(lines)


def nginx_config(listen, upstream, max_body_bytes):
    """The nginx server block (for the http context, e.g. /etc/nginx/conf.d/cf-events.conf)."""
    template = resources.files(__package__).joinpath("nginx.conf.in").read_text()
    values = {
        "@LISTEN@": str(listen),
        "@UPSTREAM@": upstream,
        "@MAX_BODY_BYTES@": str(max_body_bytes),
        "@CONTENT_TYPE@": CONTENT_TYPE,
        "@ERROR_PAGES@": _nginx_error_pages(max_body_bytes),
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template
