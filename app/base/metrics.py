"""Prometheus metrics, as every layer records them: requests, writes, outages and the database pool.

This is the small interface at the bottom: counters and the functions that count. The /metrics view
(ops/metrics.py) reads them. Under gunicorn each worker is its own process: prometheus_client's
multiprocess mode (the directory in PROMETHEUS_MULTIPROC_DIR, which gunicorn.conf.py sets up) adds up
what every worker counted. Labels hold route templates, methods, statuses and stream names only: never a
guid, a user or a token.
"""
import time

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

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


def watch_pool(engine):
    """Count the engine's checkouts and the connections in use."""
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
