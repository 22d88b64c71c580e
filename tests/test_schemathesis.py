"""Schemathesis against the live service, from /openapi.json: every documented operation, on both backends.

Each operation is sent what its document allows (and, in schemathesis' negative mode, what it does not),
with an admin token, over a real HTTP server on the test's rolled-back store, seeded with events of
every kind first. No answer may be a 5xx, and each must have a documented status, content type and
body. What it finds is fixed in the app, or in the document: never excluded here.

SCHEMATHESIS_EXAMPLES=200 runs more examples per operation (the suite's bound keeps it to a minute or so).
"""
import os
import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update
from werkzeug.serving import make_server

from app import openapi
from app.extensions import db
from app.models import Role
from tests.conftest import make_app

# Fuzzed examples per operation and backend (besides the examples and boundary cases schemathesis derives from
# the document), so that some 65 operations on two backends take about a minute on two cores.
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", 10))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Guids the seeded store holds, offered as examples for the path parameters that name them.
SEEDED = {"guid": ["event-1", "app-usage-1", "service-usage-1", "app-1", "space-1", "org-1", "role-1"],
          "app": ["app-1", "web"], "event_id": ["event-1"], "space_guid": ["space-1"], "org_guid": ["org-1"],
          "user_guid": ["user-1"]}


def seeded_document():
    """The service's document, with the seeded guids as examples of the path parameters (the examples phase
    sends them, so that the shows are checked on something that exists)."""
    document = openapi.build(make_app("sqlite://"))
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation["parameters"]:
                if parameter["in"] == "path" and parameter["name"] in SEEDED and "enum" not in parameter["schema"]:
                    parameter["examples"] = {value: {"value": value} for value in SEEDED[parameter["name"]]}
    return document


def loaded(phases):
    """The document for schemathesis, run in `phases` ("examples", "coverage", "fuzzing")."""
    loaded_schema = schemathesis.openapi.from_dict(DOCUMENT)
    loaded_schema.config.phases.update(phases=phases)
    loaded_schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION)
    # Methods no route serves are tests/test_limits.py's (405 in the dialect's shape, on every route).
    loaded_schema.config.phases.coverage.unexpected_methods = set()
    return loaded_schema


DOCUMENT = seeded_document()
# PostgreSQL, production's store, gets every phase: the examples, the coverage phase's boundary and wrong-type cases
# of every parameter and body field (most of the time), and random ones. SQLite gets the examples and random ones.
on_postgresql = loaded(["examples", "coverage", "fuzzing"])
on_sqlite = loaded(["examples", "fuzzing"])

APP_EVENT = {"type": "audit.app.update", "actor": "user-1", "actor_type": "user", "actor_name": "alice@example.com",
             "actor_username": "alice", "actee": "app-1", "actee_type": "app", "actee_name": "web",
             "timestamp": "2026-01-05T10:00:00Z", "space_guid": "space-1", "organization_guid": "org-1",
             "metadata": {"request": {"name": "web"}}}
ORG_EVENT = {"type": "audit.organization.update", "actor": "admin", "actor_type": "user", "actee": "org-1",
             "actee_type": "organization", "actee_name": "org", "timestamp": "2026-01-05T11:00:00Z",
             "organization_guid": "org-1", "metadata": {"request": {"name": "org"}}}
SCALINGO_EVENT = {"type": "restart", "user": {"username": "bob", "email": "bob@example.com", "id": "user-2"},
                  "app_id": "app-2", "app_name": "worker", "created_at": "2026-01-05T12:00:00Z",
                  "type_data": {"scope": ["web"]}}
APP_USAGE = {"state": "STARTED", "memory_in_mb_per_instance": 256, "instance_count": 2, "app_guid": "app-1",
             "app_name": "web", "space_guid": "space-1", "space_name": "dev", "org_guid": "org-1",
             "parent_app_guid": "app-1", "parent_app_name": "web", "process_type": "web",
             "buildpack_name": "https://user:secret@example.com/buildpack.git"}
TASK_USAGE = {**APP_USAGE, "state": "TASK_STARTED", "app_guid": "", "process_type": None, "task_guid": "task-1",
              "task_name": "migrate"}
SERVICE_USAGE = {"state": "CREATED", "org_guid": "org-1", "space_guid": "space-1", "space_name": "dev",
                 "service_instance_guid": "instance-1", "service_instance_name": "db",
                 "service_instance_type": "managed_service_instance", "service_plan_guid": "plan-1",
                 "service_plan_name": "small", "service_guid": "service-1", "service_label": "postgres"}


@pytest.fixture
def live_service(app):
    """conftest's live_url, stopped at once: its server polls for shutdown every 0.05 s, not 0.5 s, which ~130
    tests would otherwise wait for."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def seeded_store(client, admin):
    """Events of every kind, usage that the reports fold, and roles, written through the API."""
    writes = [
        ("/v2/events", [{**APP_EVENT, "guid": "event-1"}, {**ORG_EVENT, "guid": "event-2"}, SCALINGO_EVENT]),
        ("/v2/app_usage_events", [{**APP_USAGE, "guid": "app-usage-1", "created_at": "2026-01-05T10:00:00Z"},
                                  {**TASK_USAGE, "guid": "app-usage-2", "created_at": "2026-01-05T10:30:00Z"},
                                  {**APP_USAGE, "state": "STOPPED", "created_at": "2026-01-06T10:00:00Z"}]),
        ("/v2/service_usage_events", [{**SERVICE_USAGE, "guid": "service-usage-1",
                                       "created_at": "2026-01-05T10:00:00Z"}]),
    ]
    for path, body in writes:
        response = client.post(path, json=body, headers=admin)
        assert response.status_code == 201, (path, response.get_json())
    for path in ("/v2/spaces/space-1/developers/user-1", "/v2/organizations/org-1/auditors/user-1"):
        assert client.put(path, headers=admin).status_code == 201
    # A role by a guid the examples name (roles get random ones).
    db.session.execute(update(Role).where(Role.target_guid == "space-1").values(guid="role-1"))
    db.session.commit()


def check(case, base_url, headers):
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)


SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)


@on_postgresql.parametrize()
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@SETTINGS
def test_the_live_service_answers_as_documented_on_postgresql(case, live_service, admin, seeded_store):
    check(case, live_service, admin)


@on_sqlite.parametrize()
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@SETTINGS
def test_the_live_service_answers_as_documented_on_sqlite(case, live_service, admin, seeded_store):
    check(case, live_service, admin)
