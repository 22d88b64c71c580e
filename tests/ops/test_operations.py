"""What operators run the service by: version, health and readiness, metrics, request logs, and the CLI."""
import configparser
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app.identity.tokens import ADMIN, READ
from app.ops import logs, metrics
from tests import REPOSITORY
from tests.api.test_errors import outage_app, proxy  # noqa: F401  (fixtures: the database behind a switchable proxy)
from tests.conftest import SECRET, make_app
from tests.ops.test_serving import production  # noqa: F401  (fixture: gunicorn and nginx, as in production)
from tests.ops.test_serving import wait_for as wait_for_http
from tests.pgcluster import free_port


# --- version ---------------------------------------------------------------------------------------
def expected_package_version():
    config = configparser.ConfigParser()
    config.read(os.path.join(REPOSITORY, "setup.cfg"))
    return config["metadata"]["version"]


def expected_build():
    head = subprocess.run(["git", "-C", REPOSITORY, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    return f"{expected_package_version()}+{head}"


def expected_version_number():
    major, minor, patch = (int(part) for part in expected_package_version().split("."))
    return major * 10000 + minor * 100 + patch


def test_the_version_and_commit_are_in_v2_info_and_the_cli(client, app):
    body = client.get("/v2/info").get_json()
    assert (body["version"], body["build"]) == (expected_version_number(), expected_build())
    assert re.fullmatch(r"\d+\.\d+\.\d+\+[0-9a-f]{12}", body["build"])
    result = app.test_cli_runner().invoke(args=["version"])
    assert result.exit_code == 0 and result.output == f"cf-events {expected_build()}\n"


# --- health --------------------------------------------------------------------------------------
def test_healthz_and_readyz_when_all_is_well(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert (response.status_code, response.get_json()) == (
        200, {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}})


@pytest.mark.postgres_only
def test_readyz_follows_the_database_and_healthz_never_touches_it(proxy, outage_app):  # noqa: F811
    switch, _ = proxy
    client = outage_app.test_client()
    assert client.get("/readyz").status_code == 200
    switch.switch_off()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "unavailable" and body["checks"]["database"].startswith("unavailable")
        assert client.get("/healthz").get_json() == {"status": "ok"}
    finally:
        switch.switch_on()
    assert client.get("/readyz").status_code == 200


def test_readyz_says_when_the_migrations_are_behind(tmp_path):
    app = make_app(f"sqlite:///{tmp_path}/behind.sqlite3")
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="0011")
    body = app.test_client().get("/readyz").get_json()
    newest = max(path.name[:4] for path in (REPOSITORY / "migrations" / "versions").glob("[0-9]*.py"))
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "migrations": f"at 0011, expected {newest}"}


# --- metrics -------------------------------------------------------------------------------------
def samples(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(scraped, name, **labels):
    return scraped.get((name, frozenset(labels.items())), 0.0)


def scrape(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return samples(response.read().decode())


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_metrics_count_what_every_gunicorn_worker_answered(production):  # noqa: F811
    from tests.ops.test_serving import ADMIN_TOKEN

    admin = {"Authorization": f"bearer {ADMIN_TOKEN}"}
    before = scrape(production.metrics + "/metrics")
    # Enough requests that several of the five workers answer some: their counts must add up.
    for _ in range(20):
        assert http("GET", production.gunicorn + "/v2/events?results-per-page=1", headers=admin) == 200
    assert http("GET", production.gunicorn + "/v2/events/no-such-guid", headers=admin) == 404
    assert http("GET", production.gunicorn + "/v2/nowhere/a-guid-like-path", headers=admin) == 404
    event = {"type": "audit.app.start", "actor": "u", "actor_type": "user", "actee": "metrics-app",
             "actee_type": "app", "guid": f"metrics-{os.getpid()}-{id(before)}"}
    assert http("POST", production.gunicorn + "/v2/events", [event], admin) == 201
    assert http("POST", production.gunicorn + "/v2/events", [event], admin) == 200  # replayed: not new
    assert http("POST", production.gunicorn + "/v2/events", [{"type": "x"}], admin) == 422
    after = scrape(production.metrics + "/metrics")

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("cf_events_requests_total", route="/v2/events", method="GET", status="200") == 20
    assert grew("cf_events_requests_total", route="/v2/events/<guid>", method="GET", status="404") == 1
    assert grew("cf_events_requests_total", route=metrics.UNMATCHED, method="GET", status="404") == 1
    assert grew("cf_events_request_duration_seconds_count", route="/v2/events", method="GET") == 20
    assert grew("cf_events_events_written_total", kind="events") == 1
    assert grew("cf_events_writes_rejected_total", route="/v2/events", status="422") == 1
    assert grew("cf_events_db_pool_checkouts_total") >= 20
    assert grew("cf_events_db_pool_wait_seconds_count") >= 1
    assert value(after, "cf_events_database_up") == 1
    assert {name for name, _ in after} >= {"cf_events_usage_stream_head"}
    # No label carries a guid or a user: only route templates, methods, statuses, kinds and stream names.
    label_values = {value for _, labels in after for _, value in labels}
    assert not [text for text in label_values if "metrics-app" in text or event["guid"] in text
                or "a-guid-like-path" in text]


def test_the_metrics_listener_serves_metrics_only_and_the_api_port_wants_a_token(production):  # noqa: F811
    from tests.ops.test_serving import ADMIN_TOKEN

    assert http("GET", production.metrics + "/v2/events") == 404
    assert http("GET", production.gunicorn + "/metrics") == 401
    reader = {"Authorization": "bearer " + issue(READ)}
    assert http("GET", production.gunicorn + "/metrics", headers=reader) == 403
    assert scrape(production.gunicorn + "/metrics", {"Authorization": f"bearer {ADMIN_TOKEN}"})


def issue(*scopes):
    from app.identity.tokens import issue_token

    return issue_token(SECRET, list(scopes), user_id="someone")


def test_metrics_in_one_process_without_gunicorn(client, admin):
    before = samples(client.get("/metrics", headers=admin).get_data(as_text=True))
    client.get("/v2/events", headers=admin)
    after = samples(client.get("/metrics", headers=admin).get_data(as_text=True))
    key = ("cf_events_requests_total", frozenset({"route": "/v2/events", "method": "GET", "status": "200"}.items()))
    assert after.get(key, 0) - before.get(key, 0) == 1


# --- request logs ----------------------------------------------------------------------------------
@pytest.fixture
def log_lines(app):
    def capture(log_format):
        stream = io.StringIO()
        handler = logs.configure(log_format, stream)
        lines.append((stream, handler))
        return stream
    lines = []
    yield capture
    logger = logging.getLogger(logs.PACKAGE_LOGGER)
    for _, handler in lines:
        logger.removeHandler(handler)
    logger.propagate = True  # as the tests' logging (caplog) expects it


def test_one_json_line_per_request_with_route_caller_and_request_id(client, auth, log_lines):
    stream = log_lines("json")
    token_headers = auth(ADMIN, user_id="ops-user")
    client.get("/v2/events/missing?x=1", headers={**token_headers, "X-VCAP-Request-ID": "req-42"})
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert {key: line[key] for key in ("method", "route", "path", "status", "request_id", "caller")} == {
        "method": "GET", "route": "/v2/events/<guid>", "path": "/v2/events/missing", "status": 404,
        "request_id": "req-42", "caller": "ops-user"}
    assert line["level"] == "info" and isinstance(line["duration_ms"], float)
    assert token_headers["Authorization"].split()[1] not in stream.getvalue()


def test_plain_text_lines_otherwise(client, admin, log_lines):
    stream = log_lines("text")
    client.get("/healthz")
    assert re.search(r"app\.requests: GET /healthz 200 [0-9.]+ms request_id=\S+ caller=-$", stream.getvalue().strip())


def test_an_error_that_becomes_a_500_is_logged_with_its_stack_and_request_id(client, admin, log_lines,
                                                                             monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom inside")

    monkeypatch.setattr("app.store.audit_events.event_page", broken)
    stream = log_lines("json")
    response = client.get("/v2/events", headers={**admin, "X-VCAP-Request-ID": "req-500"})
    assert response.status_code == 500 and b"boom" not in response.data
    error = next(json.loads(line) for line in stream.getvalue().splitlines() if json.loads(line)["level"] == "error")
    assert error["request_id"] == "req-500" and "RuntimeError: boom inside" in error["exception"]


# --- the CLI after `make run` ----------------------------------------------------------------------
@pytest.fixture
def checkout(tmp_path):
    """A checkout of this repository with an instance folder as `make run` leaves it (a kept secret and
    a migrated store), in an environment with no TOKEN_SECRET."""
    for name in ("app", "migrations", "wsgi.py", "gunicorn.conf.py", "setup.cfg", ".git"):
        os.symlink(os.path.join(REPOSITORY, name), tmp_path / name)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "token_secret").write_text("k" * 64)
    environment = {key: item for key, item in os.environ.items()
                   if key not in ("TOKEN_SECRET", "DATABASE_URL", "TOKEN_PUBLIC_KEY", "TOKEN_JWKS_FILE")}

    def flask(*args, env=None):
        return subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "wsgi", *args],
                              cwd=tmp_path, env={**environment, **(env or {})}, capture_output=True, text=True,
                              timeout=120)
    flask.path = tmp_path
    assert flask("db", "upgrade").returncode == 0
    return flask


def test_every_command_reads_the_kept_development_secret(checkout):
    assert checkout("--help").returncode == 0
    created = checkout("users", "create", "ops", "--password", "pw-of-ops", "--scope", "cloud_controller.admin")
    assert created.returncode == 0, created.stderr
    listed = checkout("users", "list")
    assert listed.returncode == 0
    header, row = listed.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "ID", "EMAIL", "SCOPES", "CREATED"]
    assert row.split()[0] == "ops" and "pw-of-ops" not in listed.stdout
    token = checkout("tokens", "create", "--user", "ops", "--name", "ci")
    secret = token.stdout.splitlines()[-1]
    tokens = checkout("tokens", "list")
    assert tokens.stdout.splitlines()[0].split() == ["ID", "USER", "NAME", "CREATED", "REVOKED"]
    assert "ops" in tokens.stdout and secret not in tokens.stdout
    clients = checkout("clients", "list")
    assert clients.stdout.splitlines()[0].split() == ["CLIENT", "GRANT", "TYPES", "SCOPES", "SECRET", "CREATED"]
    assert checkout("users", "delete", "ops").returncode == 0
    assert "ops" not in checkout("users", "list").stdout
    signed = checkout("token").stdout.strip()
    from app.identity.tokens import TokenKeys, verify_token

    assert verify_token(signed, TokenKeys(secret="k" * 64)).claims["scope"] == ["cloud_controller.admin"]


def test_a_missing_key_is_one_line_not_a_traceback(checkout):
    os.remove(checkout.path / "instance" / "token_secret")
    for args in (["--help"], ["users", "list"], ["db", "upgrade"]):
        result = checkout(*args)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1] == (
            "cf-events: no token keys: set TOKEN_SECRET, TOKEN_PUBLIC_KEY or TOKEN_JWKS_FILE")
    bad = checkout("users", "list", env={"TOKEN_SECRET": "short"})
    assert bad.stderr.strip() == "cf-events: TOKEN_SECRET must be at least 32 characters long"


def test_make_run_on_a_port_in_use_says_so_in_one_line_first(checkout):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "app.ops.embedded"], cwd=checkout.path, capture_output=True,
                                text=True, timeout=120, env={**os.environ, "PORT": str(port)})
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"cf-events: port {port} is in use; stop what holds it, or choose another: make run PORT=8081"]


def test_the_make_run_token_is_the_admin_logins_identity(client, app):
    from app.identity.tokens import TokenKeys, verify_token
    from app.ops.cli import create_user
    from app.ops.embedded import ADMIN_SCOPES, admin_token

    admin = create_user("admin", "the-password", ADMIN_SCOPES)
    printed = verify_token(admin_token(SECRET, admin), TokenKeys(secret=SECRET)).claims
    login = client.post("/oauth/token", data={"grant_type": "password", "username": "admin",
                                              "password": "the-password"},
                        headers={"Authorization": "Basic Y2Y6"}).get_json()
    logged_in = verify_token(login["access_token"], TokenKeys(secret=SECRET)).claims
    for claim in ("user_id", "user_name", "email", "sub", "revocable"):
        assert printed[claim] == logged_in[claim], claim



def test_make_run_says_where_the_console_and_the_docs_are_and_they_answer(checkout):
    port = free_port()
    serving = subprocess.Popen([sys.executable, "-m", "app.ops.embedded"], cwd=checkout.path, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PORT": str(port)})
    try:
        printed = []
        for line in serving.stdout:
            printed.append(line)
            if line.startswith("  curl") and "app_usages" in line:
                break
        text = "".join(printed)
        base = f"http://127.0.0.1:{port}"
        console = re.search(rf"^Console: +({base}/console/) +log in as user (\w+), password (\w+)$", text, re.M)
        docs = re.search(rf"^API docs: +({base}/docs) +\(the OpenAPI document: ({base}/openapi.json)\)$", text, re.M)
        assert console and docs, text
        wait_for_http(base + "/healthz")
        for url in (console[1], docs[1], docs[2]):
            assert requests.get(url, timeout=10).status_code == 200, url
        login = requests.post(base + "/oauth/token", auth=("cf", ""), timeout=10,
                              data={"grant_type": "password", "username": console[2], "password": console[3]})
        assert login.status_code == 200 and login.json()["access_token"]
    finally:
        serving.terminate()
        serving.wait(timeout=30)
        serving.stdout.close()
