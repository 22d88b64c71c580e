"""Fixtures: a real PostgreSQL (and the embedded SQLite default), migrated to head, one
transaction per test rolled back at its end.

Every test that uses `app` runs on both backends unless marked `postgres_only`. PostgreSQL is
never skipped: if it cannot be started the whole run stops with an error. Each xdist worker has
its own cluster (or, on a TEST_DATABASE_URL server, its own databases).
"""
import os
import tempfile
import threading

import pytest
import sqlalchemy as sa
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app.base.config import database_url
from app.base.extensions import db
from app.identity.tokens import ADMIN, issue_token
from tests.pgcluster import Cluster, ClusterError

SECRET = "test-secret-that-is-long-enough-for-hs256"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
BACKENDS = ["postgresql", "sqlite"]


def _backend_of(item):
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("backend") if callspec else None


def pytest_collection_modifyitems(config, items):
    """Leave PostgreSQL-only tests out of the SQLite leg (deselected, not skipped)."""
    sqlite_only_misfits = [
        item for item in items if _backend_of(item) == "sqlite" and item.get_closest_marker("postgres_only")
    ]
    if sqlite_only_misfits:
        config.hook.pytest_deselected(items=sqlite_only_misfits)
        items[:] = [item for item in items if item not in sqlite_only_misfits]


@pytest.fixture(scope="session")
def postgres_url():
    """A server URL: TEST_DATABASE_URL, or a cluster of our own for this run."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    try:
        cluster = Cluster()
        url = cluster.start()
    except ClusterError as error:
        pytest.exit(f"PostgreSQL could not be started, and the suite never runs without it:\n{error}", returncode=3)
    yield url
    cluster.stop()


def fresh_postgres_database(server_url, name):
    """A new, empty database `name` (this worker's own) on the server; its URL."""
    name = f"{name}_{WORKER}"
    server_url = database_url(server_url, instance_path=None)
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def make_app(database_url, **config):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "TOKEN_SECRET": SECRET, **config})


@pytest.fixture(scope="session")
def database_urls(request):
    """One migrated database per backend, made when a test first needs it."""
    made = {}

    def get(backend):
        if backend not in made:
            if backend == "postgresql":
                url = fresh_postgres_database(request.getfixturevalue("postgres_url"), "cf_events_test")
            else:
                url = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="cf-events-sqlite-"), "test.sqlite3")
            with make_app(url).app_context():
                upgrade()
                db.engine.dispose()
            made[backend] = url
        return made[backend]

    return get


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def session_app(backend, database_urls):
    return make_app(database_urls(backend))


@pytest.fixture
def app(session_app, monkeypatch):
    """The app, with everything a test writes rolled back when it ends.

    Flask-SQLAlchemy 3 ignores a session bound to a connection, so the engine itself is replaced
    by one connection in an outer transaction; the app's commits become savepoint releases.
    """
    with session_app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        monkeypatch.setitem(db.engines, None, connection)
        db.session.configure(join_transaction_mode="create_savepoint")
        try:
            yield session_app
        finally:
            db.session.remove()
            outer.rollback()
            connection.close()


class FreshContextClient(FlaskClient):
    """Each request in an app context of its own, as in production.

    Flask reuses an app context that is already pushed (the `app` fixture's), which would let
    `g` and the database session leak from one request of a test into the next.
    """

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


@pytest.fixture
def client(app):
    app.test_client_class = FreshContextClient
    return app.test_client()


@pytest.fixture
def live_url(app):
    """The app (inside the test's rolled-back transaction) behind a real HTTP server on loopback."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def token():
    """Make a bearer token: token(scope, ..., user_id=...)."""

    def make(*scopes, **claims):
        return issue_token(SECRET, scopes or [ADMIN], **{"user_id": "admin-user", **claims})

    return make


@pytest.fixture
def auth(token):
    """Authorization headers for the given scopes (admin by default)."""

    def make(*scopes, **claims):
        return {"Authorization": "bearer " + token(*scopes, **claims)}

    return make


@pytest.fixture
def admin(auth):
    return auth(ADMIN)
