"""The documented production setup, for real: gunicorn (gunicorn.conf.py) behind nginx (`flask nginx-config`).

Slow clients must not take the service down, and whatever either server answers itself is JSON in the
dialect's shape. nginx is required: a machine without it fails here (`make test` installs it).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade

from app.base.extensions import db
from app.identity.tokens import ADMIN, issue_token
from app.ops.serving import nginx_config
from tests import REPOSITORY
from tests.conftest import SECRET, fresh_postgres_database, make_app
from tests.pgcluster import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MAX_BODY_BYTES = 16 * 1024 * 1024
ADMIN_TOKEN = issue_token(SECRET, [ADMIN], user_id="admin")


def wait_for(url, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def start_nginx(directory, listen_port, upstream):
    """nginx in the foreground with the service's server block, everything it writes in `directory`."""
    assert os.path.exists(NGINX), "nginx is not installed: `make test` installs it (apt-get install nginx)"
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "cf-events.conf"), "w") as file:
        file.write(nginx_config(f"127.0.0.1:{listen_port}", upstream, MAX_BODY_BYTES))
    user = "user root;" if os.geteuid() == 0 else ""
    with open(os.path.join(directory, "nginx.conf"), "w") as file:
        file.write(f"""daemon off; {user} pid {directory}/nginx.pid; error_log {directory}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {directory}/body; proxy_temp_path {directory}/proxy; fastcgi_temp_path {directory}/fcgi;
  uwsgi_temp_path {directory}/uwsgi; scgi_temp_path {directory}/scgi;
  include {directory}/cf-events.conf;
}}
""")
    with open(os.path.join(directory, "stderr.log"), "w") as stderr:
        return subprocess.Popen([NGINX, "-p", directory, "-c", os.path.join(directory, "nginx.conf")], stderr=stderr)


@pytest.fixture(scope="module")
def production(postgres_url, tmp_path_factory):
    """gunicorn as the README starts it, and nginx in front of it; their URLs."""
    database = fresh_postgres_database(postgres_url, "cf_events_serving")
    with make_app(database).app_context():
        upgrade()
        db.engine.dispose()
    gunicorn_port, nginx_port, metrics_port = free_port(), free_port(), free_port()
    environment = {**os.environ, "DATABASE_URL": database, "TOKEN_SECRET": SECRET, "PORT": str(gunicorn_port),
                   "METRICS_PORT": str(metrics_port)}
    gunicorn = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=REPOSITORY, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nginx = start_nginx(str(tmp_path_factory.mktemp("nginx")), nginx_port, f"127.0.0.1:{gunicorn_port}")
    urls = SimpleNamespace(gunicorn=f"http://127.0.0.1:{gunicorn_port}", nginx=f"http://127.0.0.1:{nginx_port}",
                           metrics=f"http://127.0.0.1:{metrics_port}")
    try:
        wait_for(urls.gunicorn + "/v2/info")
        wait_for(urls.nginx + "/v2/info")
        yield urls
    finally:
        for process in (nginx, gunicorn):
            process.terminate()
            process.wait(timeout=30)


def timed_get(url, timeout=1.0):
    """(status, seconds) of an authenticated GET; status None when no answer came within `timeout`."""
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"Authorization": f"bearer {ADMIN_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = None
    return status, time.monotonic() - started


class SlowClients:
    """`count` connections sending a request's headers one byte a second, until stopped."""

    def __init__(self, url, count=20):
        host, port = url.removeprefix("http://").split(":")
        self.address, self.count = (host, int(port)), count
        self.stopped = threading.Event()
        self.connected = threading.Semaphore(0)

    def _trickle(self):
        with socket.create_connection(self.address) as connection:
            self.connected.release()
            connection.sendall(b"GET /v2/info HTTP/1.1\r\nHost: cf-events\r\n")
            while not self.stopped.wait(1):
                try:
                    connection.sendall(b"X")
                except OSError:
                    return

    def __enter__(self):
        self.threads = [threading.Thread(target=self._trickle, daemon=True) for _ in range(self.count)]
        for thread in self.threads:
            thread.start()
        for _ in self.threads:
            self.connected.acquire(timeout=5)
        time.sleep(1)  # let the servers take them all
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=5)


def test_slow_clients_do_not_hold_the_service_behind_nginx(production):
    with SlowClients(production.nginx):
        answers = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            answers.append(timed_get(production.nginx + "/v2/events?results-per-page=1"))
            time.sleep(0.2)
    assert answers and all(status == 200 and seconds < 1 for status, seconds in answers), answers


def test_without_nginx_slow_clients_hold_every_worker(production):
    """Why nginx is there: the same clients straight at gunicorn leave no worker for anyone else."""
    with SlowClients(production.gunicorn):
        status, seconds = timed_get(production.gunicorn + "/v2/info")
    assert status is None, (status, seconds)
    wait_for(production.gunicorn + "/v2/info")  # and it recovers once they are gone


# --- what the servers answer themselves --------------------------------------------------------------

def raw(url, request_bytes, timeout=5):
    """Send raw bytes; return (status, content type, body parsed as JSON)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request_bytes)
        received = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
            head, separator, body = received.partition(b"\r\n\r\n")
            lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")]
            if separator and lengths and len(body) >= lengths[0]:
                break
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split(" ")[1]), headers.get("Content-Type"), json.loads(body)


LONG = "a" * 9000
V2 = ["description", "error_code", "code"]
# (request, status, what nginx answers, what gunicorn answers): an error_code of the v2 shape, or the keys of
# another dialect's. gunicorn refuses before it has a path to choose a dialect by: CC's own shape, always.
CASES = [
    (f"GET /v2/events?x={LONG} HTTP/1.1\r\nHost: h\r\n\r\n", 414, "CF-RequestLineTooLong", "CF-RequestLineTooLong"),
    (f"GET /v2/events HTTP/1.1\r\nHost: h\r\nX-Big: {LONG}\r\n\r\n", 431, "CF-RequestHeadersTooLarge",
     "CF-RequestHeadersTooLarge"),
    (f"GET /v1/events HTTP/1.1\r\nHost: h\r\nX-Big: {LONG}\r\n\r\n", 431, ["error"], "CF-RequestHeadersTooLarge"),
    ("BLAH\r\n\r\n", 400, "CF-BadRequest", "CF-BadRequest"),
    ("OPTIONS /v2/events HTTP/1.1\r\nHost: h\r\n\r\n", 405, "CF-MethodNotAllowed", "CF-MethodNotAllowed"),
    ("OPTIONS /v1/events HTTP/1.1\r\nHost: h\r\n\r\n", 405, ["error"], ["error"]),
    ("GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n", 404, "CF-NotFound", "CF-NotFound"),
]


@pytest.mark.parametrize("request_text, status, from_nginx, from_gunicorn", CASES, ids=range(len(CASES)))
@pytest.mark.parametrize("front", ["nginx", "gunicorn"])
def test_what_a_server_refuses_itself_is_json(production, front, request_text, status, from_nginx, from_gunicorn):
    got_status, content_type, body = raw(getattr(production, front), request_text.encode())
    assert (got_status, content_type) == (status, "application/json;charset=utf-8")
    expected = from_nginx if front == "nginx" else from_gunicorn
    if isinstance(expected, list):
        assert list(body) == expected
    else:
        assert list(body) == V2 and body["error_code"] == expected


def test_nginx_bounds_the_headers_in_all(production):
    many = "".join(f"X-{n}: {'b' * 8000}\r\n" for n in range(6))
    status, content_type, body = raw(production.nginx, f"GET /v2/events HTTP/1.1\r\nHost: h\r\n{many}\r\n".encode())
    assert (status, content_type, body["error_code"]) == (431, "application/json;charset=utf-8",
                                                          "CF-RequestHeadersTooLarge")


def test_a_body_over_the_limit_is_refused_by_nginx_in_json(production):
    head = (f"POST /v2/events HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nAuthorization: bearer "
            f"{ADMIN_TOKEN}\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n").encode()
    status, content_type, body = raw(production.nginx, head)
    assert (status, content_type, body["code"]) == (413, "application/json;charset=utf-8", 990413)


def test_an_unreachable_app_is_a_503_in_json(tmp_path):
    nginx_port = free_port()
    nginx = start_nginx(str(tmp_path), nginx_port, f"127.0.0.1:{free_port()}")  # nothing listens upstream
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                status, content_type, body = raw(f"http://127.0.0.1:{nginx_port}",
                                                 b"GET /v1/events HTTP/1.1\r\nHost: h\r\n\r\n")
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert (status, content_type) == (503, "application/json;charset=utf-8")
        assert body == {"error": "The service is restarting; try again later"}
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


# gunicorn's own refusals, in every worker class gunicorn.conf.py allows: sync, and gthread, which gunicorn swaps
# in for the sync worker whenever threads are on, by flag or by environment.
WORKER_MODES = {"sync": ([], {}, "sync"), "--threads 4": (["--threads", "4"], {}, "gthread"),
                "GUNICORN_CMD_ARGS=--threads 4": ([], {"GUNICORN_CMD_ARGS": "--threads 4"}, "gthread")}
GUNICORN_REFUSALS = [case for case in CASES if case[1] in (400, 414, 431)]


def start_gunicorn(tmp_path, arguments, environment):
    """gunicorn with gunicorn.conf.py over an unmigrated SQLite file (refusals touch no database); (process,
    URL, path of its log)."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/store.sqlite3", "TOKEN_SECRET": SECRET,
                   "PORT": str(port), "METRICS_PORT": "0", "WEB_CONCURRENCY": "1", **environment}
    with open(log, "w") as output:
        process = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--config", "gunicorn.conf.py", *arguments,
             "wsgi:app"], cwd=REPOSITORY, env=environment, stdout=output, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", log


@pytest.fixture(scope="module", params=list(WORKER_MODES))
def gunicorn_mode(request, tmp_path_factory):
    arguments, environment, worker = WORKER_MODES[request.param]
    process, url, log = start_gunicorn(tmp_path_factory.mktemp("gunicorn"), arguments, environment)
    try:
        wait_for(url + "/healthz")
        yield SimpleNamespace(url=url, log=log, worker=worker)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_gunicorn_runs_the_worker_class_of_its_mode(gunicorn_mode):
    # Otherwise the refusals below would not be testing the gthread worker at all.
    assert f"Using worker: {gunicorn_mode.worker}" in gunicorn_mode.log.read_text()


@pytest.mark.parametrize("request_text, status, from_nginx, from_gunicorn", GUNICORN_REFUSALS,
                         ids=[case[1] for case in GUNICORN_REFUSALS])
def test_gunicorn_refuses_in_json_in_every_worker_mode(gunicorn_mode, request_text, status, from_nginx,
                                                       from_gunicorn):
    got_status, content_type, body = raw(gunicorn_mode.url, request_text.encode())
    assert (got_status, content_type) == (status, "application/json;charset=utf-8")
    assert list(body) == V2 and body["error_code"] == from_gunicorn


def test_a_worker_class_that_would_answer_in_html_is_refused_at_start(tmp_path):
    process, _, log = start_gunicorn(tmp_path, ["--worker-class", "gunicorn.workers.base.Worker"], {})
    assert process.wait(timeout=30) != 0
    assert "cf-events: worker class Worker is not supported" in log.read_text()
