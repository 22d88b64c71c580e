"""The error catalogue, and the errors of the app itself: unknown routes, wrong methods, crashes, a dead database."""
import select
import socket
import threading

import pytest
import sqlalchemy as sa

from app.api.errors import render_v2
from app.base import database
from app.base.errors import CATALOGUE, ApiError
from app.base.extensions import db
from tests.conftest import make_app

ERROR_KEYS = ["description", "error_code", "code"]
NOT_FOUND = {"description": "Unknown request", "error_code": "CF-NotFound", "code": 10000}
UNKNOWN_ERROR = {"description": "An unknown error occurred.", "error_code": "UnknownError", "code": 10001}
# What an exception inside the app may carry, and a client must never see.
INTERNALS = (b"Traceback", b"RuntimeError", b"hunter2", b"File \"", b"psycopg2", b"sqlalchemy", b"OperationalError")

# SPEC 2.4, row by row: (name, template arguments, HTTP status, error_code, code, description).
SPEC_ERRORS = [
    ("InvalidAuthToken", (), 401, "CF-InvalidAuthToken", 1000, "Invalid Auth Token"),
    ("NotAuthenticated", (), 401, "CF-NotAuthenticated", 10002, "Authentication error"),
    ("NotAuthorized", (), 403, "CF-NotAuthorized", 10003, "You are not authorized to perform the requested action"),
    ("InsufficientScope", (), 403, "CF-InsufficientScope", 10007,
     "Your token lacks the necessary scopes to access this resource."),
    ("BadQueryParameter", ("colour",), 400, "CF-BadQueryParameter", 10005, "The query parameter is invalid: colour"),
    ("OrderByParameterInvalid", ("type",), 400, "CF-OrderByParameterInvalid", 10012, "Cannot order by: type"),
    ("EventNotFound", ("g-1",), 404, "CF-EventNotFound", 230002, "Event could not be found: g-1"),
    ("NotFound", (), 404, "CF-NotFound", 10000, "Unknown request"),
    ("MessageParseError", ("bad",), 400, "CF-MessageParseError", 1001, "Request invalid due to parse error: bad"),
    ("UnknownError", (), 500, "UnknownError", 10001, "An unknown error occurred."),
    ("ServiceUnavailable", ("store down",), 503, "CF-ServiceUnavailable", 10015, "store down"),
]


@pytest.fixture(scope="module")
def bare_app():
    """An app that never touches its database: for rendering, and for routes of the test's own."""
    return make_app("sqlite://")


def rendered(bare_app, error):
    with bare_app.test_request_context("/v2/events"):
        response = render_v2(error)
    return response.status_code, response.get_json(), response


def assert_error_shape(response, status):
    body = response.get_json()
    assert response.status_code == status, response.data
    assert list(body) == ERROR_KEYS
    assert isinstance(body["description"], str) and body["description"]
    assert body["error_code"].startswith("CF-") and isinstance(body["code"], int)
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    return body


# --- the catalogue -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, args, status, error_code, code, description", SPEC_ERRORS,
                         ids=[row[0] for row in SPEC_ERRORS])
def test_spec_errors_render_as_cc_does(bare_app, name, args, status, error_code, code, description):
    status_, body, response = rendered(bare_app, ApiError(name, *args))
    assert (status_, body) == (status, {"description": description, "error_code": error_code, "code": code})
    assert list(body) == ERROR_KEYS
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_catalogue_entry_renders_in_the_v2_shape(bare_app, name):
    details = CATALOGUE[name]
    args = tuple(f"argument-{i}" for i in range(details.template.count("%s")))
    status, body, _ = rendered(bare_app, ApiError(name, *args))
    assert status == details.status and 400 <= status <= 599
    assert list(body) == ERROR_KEYS
    assert body["code"] == details.code
    assert body["error_code"] == (name if name == "UnknownError" else f"CF-{name}")
    assert body["description"] == details.template.replace("%s", "{}").format(*args)
    assert "%s" not in body["description"]


def test_codes_are_unique():
    codes = [details.code for details in CATALOGUE.values()]
    assert len(codes) == len(set(codes))


def test_the_event_conflict_error(bare_app):
    status, body, _ = rendered(bare_app, ApiError("EventConflict", "g-7"))
    assert (status, body["error_code"], body["code"]) == (409, "CF-EventConflict", 230003)
    assert "g-7" in body["description"]


def test_unprocessable_entity_carries_its_list_of_fields(bare_app):
    status, body, _ = rendered(bare_app, ApiError("UnprocessableEntity", "type: Missing.; actor: Missing."))
    assert (status, body["error_code"], body["code"]) == (422, "CF-UnprocessableEntity", 10008)
    assert "type: Missing.; actor: Missing." in body["description"]


@pytest.mark.parametrize("argument", ["100%", "%s", "%(x)s", "a\nb", "ünïcödé", ""])
def test_template_arguments_are_substituted_literally(bare_app, argument):
    _, body, _ = rendered(bare_app, ApiError("BadQueryParameter", argument))
    assert body["description"] == "The query parameter is invalid: " + argument


# --- routing errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/v2/nope", "/v2/events/a/b", "/v2/", "/v2/events/g-1/x", "/v3/events",
                                  "/v3/audit_events/g-1/x", "/v3/"])
@pytest.mark.parametrize("authenticated", [True, False], ids=["admin", "anonymous"])
def test_an_unknown_route_is_not_found(client, admin, path, authenticated):
    response = client.get(path, headers=admin if authenticated else {})
    expected = {"errors": [{"detail": "Unknown request", "title": "CF-NotFound", "code": 10000}]} if path.startswith(
        "/v3") else NOT_FOUND
    assert (response.status_code, response.get_json()) == (404, expected)
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"


@pytest.mark.parametrize("method, path", [("PUT", "/v2/events"), ("PATCH", "/v2/events"), ("DELETE", "/v2/events"),
                                          ("PUT", "/v2/events/g-1"), ("POST", "/v2/events/g-1")])
def test_a_wrong_method_is_405_in_the_same_shape(client, admin, method, path):
    response = client.open(path, method=method, headers=admin, json={})
    assert_error_shape(response, 405)


# --- crashes -----------------------------------------------------------------------------------------

def test_an_exception_in_a_view_is_an_unknown_error_that_leaks_nothing():
    app = make_app("sqlite://")

    @app.get("/v2/boom")
    def boom():
        raise RuntimeError("hunter2 at /secret/path")

    response = app.test_client().get("/v2/boom", headers={"X-VCAP-Request-ID": "req-1"})
    assert (response.status_code, response.get_json()) == (500, UNKNOWN_ERROR)
    assert response.headers["X-VCAP-Request-ID"] == "req-1"
    assert not [leak for leak in INTERNALS if leak in response.data]


def test_an_exception_in_the_events_view_is_an_unknown_error(client, admin, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("hunter2")

    monkeypatch.setattr("app.store.audit_events.event_page", broken)
    response = client.get("/v2/events", headers=admin)
    assert (response.status_code, response.get_json()) == (500, UNKNOWN_ERROR)
    assert not [leak for leak in INTERNALS if leak in response.data]


# --- a dead database ---------------------------------------------------------------------------------

class SwitchableProxy:
    """127.0.0.1:<port> forwarded to a TCP server while on; while off, every connection is cut at once."""

    def __init__(self, target):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.on = True
        self.running = True
        self.lock = threading.Lock()
        self.pairs = {}  # thread -> (downstream, upstream)
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while self.running:
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            with self.lock:
                if not self.on:
                    downstream.close()
                    continue
                upstream = socket.create_connection(self.target)
                thread = threading.Thread(target=self._forward, args=(downstream, upstream), daemon=True)
                self.pairs[thread] = (downstream, upstream)
                thread.start()

    def _forward(self, downstream, upstream):
        peers = {downstream: upstream, upstream: downstream}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [])
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.pairs.pop(threading.current_thread(), None)
            downstream.close()
            upstream.close()

    def switch_off(self):
        with self.lock:
            self.on = False
            pairs = dict(self.pairs)
        for downstream, upstream in pairs.values():
            for sock in (downstream, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for thread in pairs:
            thread.join(timeout=10)

    def switch_on(self):
        with self.lock:
            self.on = True

    def close(self):
        self.switch_off()
        self.running = False
        self.acceptor.join(timeout=10)
        self.listener.close()


OUTAGE_EVENT = {"type": "audit.app.update", "actor": "u1", "actor_type": "user", "actee": "outage-app",
                "actee_type": "app", "metadata": {"request": {"name": "outage-app"}}, "guid": "written-during-outage"}


@pytest.fixture
def proxy(database_urls):
    url = sa.engine.make_url(database_urls("postgresql"))
    proxy = SwitchableProxy((url.host, url.port))
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.close()


@pytest.fixture
def outage_app(proxy, database_urls):
    """An app on the migrated test database, through the proxy; whatever it wrote is removed afterwards."""
    _, proxied_url = proxy
    app = make_app(proxied_url, SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 5}})
    yield app
    with app.app_context():
        db.engine.dispose()
    direct = sa.create_engine(database_urls("postgresql"))
    with direct.begin() as connection:
        connection.execute(sa.text("DELETE FROM events WHERE guid = :guid"), {"guid": OUTAGE_EVENT["guid"]})
    direct.dispose()


def outage_requests(client, admin):
    return [
        client.get("/v2/events", headers=admin),
        client.get("/v2/events/written-during-outage", headers=admin),
        client.post("/v2/events", json=OUTAGE_EVENT, headers=admin),
        client.delete("/v2/events/written-during-outage", headers=admin),
    ]


@pytest.mark.postgres_only
def test_a_dead_database_is_503_and_the_service_recovers_by_itself(proxy, outage_app, admin):
    switch, _ = proxy
    client = outage_app.test_client()
    assert client.get("/v2/events", headers=admin).status_code == 200

    switch.switch_off()
    for _attempt in range(2):
        for response in outage_requests(client, admin):
            body = assert_error_shape(response, 503)
            assert (body["error_code"], body["code"]) == ("CF-ServiceUnavailable", 10015)
            assert not [leak for leak in INTERNALS if leak in response.data]

    switch.switch_on()
    assert client.get("/v2/events", headers=admin).status_code == 200
    assert client.get("/v2/events/written-during-outage", headers=admin).status_code == 404
    assert client.post("/v2/events", json=OUTAGE_EVENT, headers=admin).status_code == 201
    assert client.get("/v2/events/written-during-outage", headers=admin).status_code == 200
    assert client.delete("/v2/events/written-during-outage", headers=admin).status_code == 204


@pytest.mark.postgres_only
def test_a_connection_that_died_while_idle_is_replaced_unseen(proxy, outage_app, admin, monkeypatch):
    """A database restart between requests costs no client a 503: idle connections are pinged first."""
    switch, _ = proxy
    client = outage_app.test_client()
    assert client.get("/v2/events", headers=admin).status_code == 200
    switch.switch_off()  # cuts the pooled connection while nobody uses it
    switch.switch_on()
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert client.get("/v2/events", headers=admin).status_code == 200
    # Without the ping the same request meets the dead connection.
    switch.switch_off()
    switch.switch_on()
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600.0)
    assert client.get("/v2/events", headers=admin).status_code == 503
    assert client.get("/v2/events", headers=admin).status_code == 200
