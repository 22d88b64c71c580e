"""gunicorn's production settings for cf-events; gunicorn reads ./gunicorn.conf.py by itself.

gunicorn listens on loopback only: clients reach it through nginx (`flask --app wsgi nginx-config`),
which reads slow clients' requests whole before a synchronous worker is given them (app/serving.py).
"""
import multiprocessing
import os

from app.serving import MAX_HEADER_FIELD, MAX_HEADER_FIELDS, MAX_REQUEST_LINE

bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count() + 1)
# Sync workers, which answer what gunicorn refuses itself in JSON.
worker_class = "app.serving.SyncWorker"

limit_request_line = MAX_REQUEST_LINE
limit_request_field_size = MAX_HEADER_FIELD
limit_request_fields = MAX_HEADER_FIELDS

# A request running longer than this is killed (the worker restarts); restarts wait for requests in flight.
timeout = 60
graceful_timeout = 30
# Workers are replaced now and then, so that slow leaks (in the app or a library) cannot accumulate.
max_requests = 10000
max_requests_jitter = 1000
