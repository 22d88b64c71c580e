"""Roles granted by many clients at once, through gunicorn's workers: each stored once, and never a 5xx.

Two grants of one role used to read first, then insert: on PostgreSQL the second insert broke the primary key
(a 500), and on SQLite the second transaction was refused the write lock it asked for after reading (a 503).
"""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask_migrate import upgrade

from app.base.extensions import db
from app.identity.tokens import ADMIN, issue_token
from tests.conftest import SECRET, fresh_postgres_database, make_app
from tests.ops.test_serving import REPOSITORY, wait_for
from tests.pgcluster import free_port

ADMIN_HEADERS = {"Authorization": "bearer " + issue_token(SECRET, [ADMIN], user_id="admin")}


@pytest.fixture(params=["postgresql", "sqlite"])
def served(request, tmp_path):
    """gunicorn with 4 workers over a migrated store of the backend; its URL."""
    if request.param == "postgresql":
        database = fresh_postgres_database(request.getfixturevalue("postgres_url"), "cf_events_grants")
    else:
        database = f"sqlite:///{tmp_path}/store.sqlite3"
    with make_app(database).app_context():
        upgrade()
        db.engine.dispose()
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database, "TOKEN_SECRET": SECRET, "PORT": str(port),
                   "METRICS_PORT": "0", "WEB_CONCURRENCY": "4"}
    process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--config",
                                "gunicorn.conf.py", "wsgi:app"], cwd=REPOSITORY, env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/healthz")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_one_role_granted_by_many_at_once_is_stored_once(served):
    def put(number):
        return requests.put(f"{served}/v2/spaces/space-{number % 3}/auditors/user-1", headers=ADMIN_HEADERS,
                            timeout=30).status_code

    def post(number):
        body = {"type": "space_developer", "relationships": {"user": {"data": {"guid": "user-1"}},
                                                             "space": {"data": {"guid": f"space-{number % 3}"}}}}
        return requests.post(f"{served}/v3/roles", json=body, headers=ADMIN_HEADERS, timeout=30).status_code

    with ThreadPoolExecutor(16) as pool:
        puts = list(pool.map(put, range(48)))
        posts = list(pool.map(post, range(48)))
    assert set(puts) == {201}
    assert sorted(set(posts)) == [201, 422] and posts.count(201) == 3  # created once per space
    listed = requests.get(f"{served}/v3/roles?per_page=100", headers=ADMIN_HEADERS, timeout=30).json()
    assert sorted((r["type"], r["relationships"]["space"]["data"]["guid"]) for r in listed["resources"]) == sorted(
        [("space_auditor", f"space-{n}") for n in range(3)] + [("space_developer", f"space-{n}") for n in range(3)])
