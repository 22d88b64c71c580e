"""What every request is held to: path segments and query values the store can hold, a bounded body
refused before it is read, and JSON for every method a route does not serve."""
import json
import re
import socket
import time

import pytest

from tests.conftest import make_app
from tests.dialects import V2_KEYS, assert_error_shape

# A value for each path argument of the routes, so that every route can be reached.
SAMPLE_ARGUMENTS = {"app": "web", "event_id": "g-1", "space_guid": "space-1", "guid": "g-1", "user_guid": "user-1",
                    "collection": "spaces", "plural": "developers", "org_guid": "org-1"}


def routes(app):
    """(rule, methods, argument names) of every route the app serves."""
    return [(rule, sorted(rule.methods - {"HEAD"}), sorted(rule.arguments - set(rule.defaults or {})))
            for rule in app.url_map.iter_rules()]


def built(rule, **overrides):
    """The path of `rule` with sample arguments, `overrides` taken literally (already percent-encoded)."""
    path = rule.rule
    for name in rule.arguments - set(rule.defaults or {}):
        value = overrides.get(name, SAMPLE_ARGUMENTS[name])
        path = re.sub(rf"<(?:[^<>]*:)?{name}>", value, path)
    return path


def assert_dialect_error(response, path, status):
    assert response.status_code == status, (path, response.data)
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    body = json.loads(response.data)
    assert_error_shape(path, body)
    return body


@pytest.fixture(scope="module")
def every_route():
    app = make_app("sqlite://")
    return [(rule, methods, arguments) for rule, methods, arguments in routes(app) if arguments]


@pytest.mark.parametrize("segment", ["%00", "a%00b", "x" * 256, "%00" * 300], ids=["nul", "inner-nul", "256", "long"])
def test_a_path_segment_the_store_cannot_hold_is_a_404_on_every_route(client, admin, every_route, segment):
    for rule, methods, arguments in every_route:
        for argument in arguments:
            path = built(rule, **{argument: segment})
            for method in methods:
                response = client.open(path, method=method, headers=admin, json={})
                assert_dialect_error(response, path, 404)


@pytest.mark.parametrize("method, path", [
    # An empty segment names nothing: Werkzeug would merge the slashes, and a client may drop them too.
    ("PUT", "/v2/spaces//auditors/user-1"), ("DELETE", "/v2/organizations//managers/user-1"),
    ("GET", "/v2/events//g-1"), ("GET", "/v3//apps"),
    # No role has that plural, so the URL names no resource of any route, whatever the method (CC: 404).
    ("PUT", "/v2/spaces/auditors/user-1"), ("DELETE", "/v2/organizations/managers/user-1"),
    ("GET", "/v2/spaces/space-1/owners"), ("PUT", "/v2/organizations/org-1/developers2/user-1"),
])
def test_a_url_naming_nothing_is_a_404_whatever_its_method(client, admin, method, path):
    assert_dialect_error(client.open(path, method=method, headers=admin), path, 404)


@pytest.mark.parametrize("path", ["/v2/events", "/v2/app_usage_events", "/v2/service_usage_events", "/v1/events",
                                  "/v2/spaces/space-1/apps", "/v2/spaces/space-1/developers", "/v1/apps/web/events"])
@pytest.mark.parametrize("query", ["after_guid=%00", "q=type:%00", "page=%00", "x%00=1", "per_page=1%00"])
def test_a_query_value_the_store_cannot_hold_is_a_400(client, admin, path, query):
    response = client.get(f"{path}?{query}", headers=admin)
    assert_dialect_error(response, path, 400)


def test_options_is_a_method_no_route_serves(client, admin):
    app = client.application
    for rule, methods, _ in routes(app):
        path = built(rule)
        response = client.open(path, method="OPTIONS", headers=admin)
        body = assert_dialect_error(response, path, 405)
        assert "OPTIONS" in json.dumps(body) or path.startswith(("/v1/", "/login", "/oauth/"))
        assert set(response.headers["Allow"].split(", ")) >= set(methods), path


# --- the body ----------------------------------------------------------------------------------------

def raw_request(url, head, body=b"", read_timeout=5):
    """Send `head` (and `body`) on a fresh connection; return (status, headers, parsed JSON body, seconds)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=read_timeout) as connection:
        connection.sendall(head + body)
        received = b""
        while b"\r\n\r\n" not in received or len(received) < _expected_length(received):
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    elapsed = time.monotonic() - started
    head_text, _, payload = received.partition(b"\r\n\r\n")
    status = int(head_text.split(b" ")[1])
    return status, head_text.decode("latin-1"), json.loads(payload), elapsed


def _expected_length(received):
    head, separator, _ = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + len(separator) + int(line.split(b":")[1])
    return 0


@pytest.mark.parametrize("path, content_type, shape", [
    ("/v2/events", "application/json", V2_KEYS), ("/v2/app_usage_events", "application/json", V2_KEYS),
    ("/oauth/token", "application/x-www-form-urlencoded", ["error", "error_description"])])
def test_a_body_over_the_limit_is_refused_before_it_is_read(live_url, admin, path, content_type, shape):
    # 200 MB announced and none of it sent: the answer comes at once, so the body was never awaited.
    authorization = "Basic Y2Y6" if path == "/oauth/token" else admin["Authorization"]
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Authorization: {authorization}\r\nContent-Length: {200 * 1024 * 1024}\r\n\r\n").encode()
    status, _, body, elapsed = raw_request(live_url, head)
    assert (status, list(body)) == (413, shape)
    assert elapsed < 2
    if shape == V2_KEYS:
        assert body == {"description": "The request body is larger than 16777216 bytes",
                        "error_code": "CF-RequestTooLarge", "code": 990413}


def test_a_chunked_body_over_the_limit_is_refused(app, live_url, admin, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    chunk = b"[" + b" " * 2999
    head = (f"POST /v2/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {admin['Authorization']}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    status, _, body, _ = raw_request(live_url, head, chunks)
    assert (status, body["code"]) == (413, 990413)


def test_the_body_limit_is_configurable(session_app, admin, monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "2048")
    app = make_app(session_app.config["SQLALCHEMY_DATABASE_URI"])
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    response = app.test_client().post("/v2/events", data=b" " * 3000, headers={
        **admin, "Content-Type": "application/json"})
    assert (response.status_code, response.get_json()["description"]) == (
        413, "The request body is larger than 2048 bytes")


def test_a_body_within_the_limit_is_read(client, admin):
    # A batch of 1000 CC-sized app updates (about 2 kB each) fits in the default limit.
    event = {"type": "audit.app.update", "actor": "u", "actor_type": "user", "actee": "a", "actee_type": "app",
             "metadata": {"request": {"name": "web", "environment_json": {f"K{n}": "v" * 40 for n in range(30)}}}}
    body = json.dumps([event] * 1000).encode()
    assert 1_500_000 < len(body) < 16 * 1024 * 1024
    response = client.post("/v2/events", data=body, headers={**admin, "Content-Type": "application/json"})
    assert response.status_code == 201
