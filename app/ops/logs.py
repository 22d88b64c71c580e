"""The service's log: one line per request, and every error with its request id.

LOG_FORMAT=json writes each record as one JSON object (for log shippers); otherwise plain text. A
request's line names its route template and the caller's user or client id, never its token.
"""
import json
import logging
import sys
import time
from datetime import datetime, timezone

from flask import g, has_request_context, request

from app.api.responses import request_id

PACKAGE_LOGGER = "app"
requests_log = logging.getLogger("app.requests")


def _caller():
    identity = g.get("identity")
    if identity is None:
        return None
    return identity.user_id or identity.client_id


class RequestContext(logging.Filter):
    """Stamps each record with the request id (and caller) of the request it was logged in, if any."""

    def filter(self, record):
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    FIELDS = ("method", "route", "path", "status", "duration_ms", "request_id", "caller")

    def format(self, record):
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        line.update({name: getattr(record, name) for name in self.FIELDS if getattr(record, name, None) is not None})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record):
        text = super().format(record)
        if getattr(record, "request_id", None) and record.name != requests_log.name:
            text += f" [request_id={record.request_id}]"
        return text


def configure(log_format, stream=None):
    """Send the app's loggers (and the request log) to `stream` in `log_format`; again replaces."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    for handler in [handler for handler in logger.handlers if getattr(handler, "cf_events", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.cf_events = True
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestContext())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # Ours alone: a root handler that something else set up (alembic's, in `flask db upgrade`) would
    # print every line twice, in another format.
    logger.propagate = False
    return handler


def _started():
    g.log_started = time.perf_counter()


def _log_request(response):
    started = g.pop("log_started", None)
    if started is None:
        return response
    route = request.url_rule.rule if request.url_rule is not None else None
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    caller = _caller()
    requests_log.info(
        "%s %s %s %.2fms request_id=%s caller=%s", request.method, request.path, response.status_code, duration_ms,
        request_id(), caller or "-",
        extra={"method": request.method, "route": route, "path": request.path, "status": response.status_code,
               "duration_ms": duration_ms, "request_id": request_id(), "caller": caller})
    return response


def init_app(app):
    if not app.testing:
        configure(app.config["LOG_FORMAT"])
    app.before_request(_started)
    app.after_request(_log_request)
