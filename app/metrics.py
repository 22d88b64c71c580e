"""Prometheus metrics: requests, writes, the usage streams, the follower, and the database pool.

Under gunicorn each worker is its own process: prometheus_client's multiprocess mode (the directory
in PROMETHEUS_MULTIPROC_DIR, which gunicorn.conf.py sets up) adds up what every worker counted. Labels
hold route templates, methods, statuses and stream names only: never a guid, a user or a token.

`/metrics` answers without a token on the metrics listener (METRICS_PORT, which gunicorn.conf.py binds
on loopback); on the API's own port it wants a token with one of METRICS_SCOPES.
"""
import os
import time

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, select
from sqlalchemy.pool import QueuePool

from .auth import ADMIN, ADMIN_READ_ONLY, require_scope
from .extensions import db

METRICS_SCOPES = frozenset({ADMIN, ADMIN_READ_ONLY, "cf_events.metrics"})

bp = Blueprint("metrics", __name__)

REQUESTS = Counter("cf_events_requests", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram("cf_events_request_duration_seconds", "Time to answer a request", ["route", "method"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
EVENTS_WRITTEN = Counter("cf_events_events_written", "Events newly stored (a replayed guid is not counted)",
                         ["kind"])
WRITES_REJECTED = Counter("cf_events_writes_rejected", "Write requests refused (4xx), by route and status",
                          ["route", "status"])
DATABASE_UNAVAILABLE = Counter("cf_events_database_unavailable_responses",
                               "503s answered because the database could not be reached")
POOL_CHECKOUTS = Counter("cf_events_db_pool_checkouts", "Database connections taken from the pool")
POOL_WAIT = Histogram("cf_events_db_pool_wait_seconds", "Time a request waited for a pooled database connection",
                      buckets=(0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30))
POOL_CHECKED_OUT = Gauge("cf_events_db_pool_connections_in_use", "Database connections in use",
                         multiprocess_mode="livesum")

UNMATCHED = "<unmatched>"  # a path no route serves: its text stays out of the labels
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class MeasuredQueuePool(QueuePool):
    """SQLAlchemy's pool, timing how long each checkout waits (for a free connection, or a new one)."""

    def _do_get(self):
        started = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            POOL_WAIT.observe(time.perf_counter() - started)


def engine_options(database_uri):
    """What the engine is made with so that its pool is measured (PostgreSQL's; SQLite's is a file lock)."""
    return {"poolclass": MeasuredQueuePool} if database_uri.startswith("postgresql") else {}


def _watch_pool(engine):
    @event.listens_for(engine, "checkout")
    def checked_out(*_):
        POOL_CHECKOUTS.inc()
        POOL_CHECKED_OUT.inc()

    @event.listens_for(engine, "checkin")
    def checked_in(*_):
        POOL_CHECKED_OUT.dec()


def events_written(kind, count):
    if count:
        EVENTS_WRITTEN.labels(kind).inc(count)


def database_unavailable():
    DATABASE_UNAVAILABLE.inc()


# --- per request -----------------------------------------------------------------------------------
def _route():
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


def _started():
    g.metrics_started = time.perf_counter()


def _answered(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        route, method = _route(), request.method
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        LATENCY.labels(route, method).observe(time.perf_counter() - started)
        if method in WRITE_METHODS and 400 <= response.status_code < 500:
            WRITES_REJECTED.labels(route, str(response.status_code)).inc()
    return response


# --- read at scrape time ---------------------------------------------------------------------------
class StoreCollector:
    """Each usage stream's head position and, when a follower runs, its lag: read from the store when
    scraped, so every worker (and the metrics listener) reports the same figures."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from .models import FollowerPosition, UsageStream
        from .writes import utcnow

        heads = GaugeMetricFamily("cf_events_usage_stream_head", "The last position taken in each usage stream",
                                  labels=["stream"])
        lag = GaugeMetricFamily("cf_events_follower_lag_seconds",
                                "Seconds since the follower last reached the upstream's head, per stream",
                                labels=["stream"])
        up = GaugeMetricFamily("cf_events_database_up", "Whether the database answered this scrape")
        with self.app.app_context():
            try:
                for stream, last_id in db.session.execute(select(UsageStream.name, UsageStream.last_id)):
                    heads.add_metric([stream], last_id)
                now = utcnow()
                for stream, reached in db.session.execute(
                        select(FollowerPosition.stream, FollowerPosition.last_success_at)):
                    if reached is not None:
                        lag.add_metric([stream], (now - reached).total_seconds())
                up.add_metric([], 1)
            except Exception:  # a scrape during an outage says so instead of failing
                db.session.rollback()
                up.add_metric([], 0)
            finally:
                db.session.remove()
        yield from (heads, lag, up)


def scrape(app):
    """The text exposition of every worker's metrics and the store's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessMetrics())
    registry.register(StoreCollector(app))
    return generate_latest(registry)


class _ProcessMetrics:
    """This process's own metrics (no gunicorn: the embedded server, tests)."""

    def collect(self):
        return PROCESS_REGISTRY.collect()


def on_metrics_listener():
    """Whether this request came in on the metrics listener (gunicorn hands the app its socket)."""
    port = current_app.config.get("METRICS_PORT")
    connection = request.environ.get("gunicorn.socket")
    if not port or connection is None:
        return False
    try:
        return connection.getsockname()[1] == port
    except (OSError, IndexError, TypeError):
        return False


@bp.get("/metrics")
def metrics():
    if not on_metrics_listener():
        require_scope(METRICS_SCOPES)
    return Response(scrape(current_app._get_current_object()), content_type=CONTENT_TYPE_LATEST)


def _only_metrics_on_its_listener():
    """The metrics listener serves /metrics and nothing else: the API stays behind nginx and tokens."""
    if on_metrics_listener() and request.path != "/metrics":
        from .errors import ApiError

        raise ApiError("NotFound")


def init_app(app):
    app.before_request(_only_metrics_on_its_listener)
    app.before_request(_started)
    app.after_request(_answered)
    with app.app_context():
        _watch_pool(db.engine)
