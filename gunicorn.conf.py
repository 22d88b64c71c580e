"""gunicorn's production settings for cf-events; gunicorn reads ./gunicorn.conf.py by itself.

gunicorn listens on loopback only: clients reach it through nginx (`flask --app wsgi nginx-config`),
which reads slow clients' requests whole before a synchronous worker is given them (app/ops/serving.py).
A second listener serves only /metrics, without a token, for Prometheus (METRICS_PORT; 0: none).
"""
import gc
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile

# prometheus_client's multiprocess mode: each worker writes its metrics to files in this directory,
# and a scrape adds them up. A fresh directory per server, so that no old worker's counts linger. Set
# before anything imports prometheus_client, which picks its mode when first imported.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cf-events-metrics-")
    _made_metrics_directory = True
else:
    _made_metrics_directory = False

from app.api.limits import MAX_HEADER_FIELD, MAX_HEADER_FIELDS, MAX_REQUEST_LINE
from app.base.config import DEFAULT_METRICS_PORT
from app.ops.serving import answer_refusals_in_json, check_worker_class

api_bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count() + 1)
# Sync workers; with threads on, gunicorn makes them gthread workers. Either answers what gunicorn refuses
# itself in JSON (post_fork below); other classes are refused at start (on_starting).
worker_class = "sync"

limit_request_line = MAX_REQUEST_LINE
limit_request_field_size = MAX_HEADER_FIELD
limit_request_fields = MAX_HEADER_FIELDS

# A request running longer than this is killed (the worker restarts); restarts wait for requests in flight.
timeout = 60
graceful_timeout = 30
# Workers are replaced now and then, so that slow leaks (in the app or a library) cannot accumulate.
max_requests = 10000
max_requests_jitter = 1000
# The app logs every request itself (LOG_FORMAT), with its route and caller: no second access log.
accesslog = None


def _metrics_bind():
    """The metrics listener's address, when there is to be one and its port is free."""
    port = int(os.environ.get("METRICS_PORT", DEFAULT_METRICS_PORT) or 0)
    host = os.environ.get("METRICS_HOST", "0.0.0.0")
    if not port:
        return None
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        print(f"cf-events: metrics listener {host}:{port} not bound ({error.strerror}); "
              "/metrics answers on the API's port with a token", file=sys.stderr)
        return None
    return f"{host}:{port}"


bind = [api_bind] + ([metrics] if (metrics := _metrics_bind()) else [])


def on_starting(server):
    check_worker_class(server.cfg.worker_class)


def post_fork(server, worker):
    answer_refusals_in_json()


def post_worker_init(worker):
    # What the worker loaded (the app, its models, the libraries) lives as long as the worker: frozen out of
    # the collector's reach, it is no longer walked by every collection that a request's allocations set off.
    # A large report (tens of thousands of rows) set off enough to cost a third of its time.
    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_metrics_directory:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
