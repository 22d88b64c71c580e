"""GET /metrics, and the per-request counts: what every worker counted (base/metrics.py) and the store's figures.

`/metrics` answers without a token on the metrics listener (METRICS_PORT, which gunicorn.conf.py binds
on loopback); on the API's own port it wants a token with one of METRICS_SCOPES.
"""
import os
import time

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import select

from app.api.auth import require_scope
from app.base.errors import ApiError
from app.base.extensions import db
from app.base.metrics import LATENCY, REQUESTS, WRITES_REJECTED, watch_pool
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY
from app.store.models import FollowerPosition, UsageStream
from app.store.writes import utcnow

METRICS_SCOPES = frozenset({ADMIN, ADMIN_READ_ONLY, "cf_events.metrics"})
UNMATCHED = "<unmatched>"  # a path no route serves: its text stays out of the labels
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

bp = Blueprint("metrics", __name__)


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
        raise ApiError("NotFound")


def init_app(app):
    app.before_request(_only_metrics_on_its_listener)
    app.before_request(_started)
    app.after_request(_answered)
    with app.app_context():
        watch_pool(db.engine)
