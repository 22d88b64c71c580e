"""Schemathesis against the live service, from /openapi.json: every check, every phase, on both backends.

Each operation is sent what its document allows and what it does not (the examples, the coverage phase's
boundary, wrong-type and wrong-method cases, random ones), then sequences of operations that follow the
document's links and those schemathesis infers (the stateful phase), with an admin token, over a real HTTP
server on the test's rolled-back store, seeded with events of every kind first. Every check schemathesis
has runs on every answer (`--checks all`): no 5xx, a documented status, content type, headers and body, the
document's valid requests accepted and its invalid ones refused, and the `Allow` of a 405.

What it finds is fixed in the app, or in the document: never excluded here, except the rules the document
itself says no schema can express (INEXPRESSIBLE, each named and quoted from the document, which the last
test holds it to): there the service refuses what the schema alone allows, as the document says it will.

SCHEMATHESIS_EXAMPLES=200 runs more examples per operation (the suite's bound keeps this file to two
minutes or so on two cores); SCHEMATHESIS_SCENARIOS does as much for the stateful phase.
"""
import json
import os
import re
import threading
from datetime import date
from typing import NamedTuple

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.core import DEFAULT_MAX_SCENARIO_STEPS
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import update
from werkzeug.serving import make_server

from app.api import describe, openapi
from app.api.reports import openapi as reports_openapi
from app.api.v1 import schemas as v1_schemas
from app.api.v2 import openapi as v2_openapi
from app.api.v2 import query as v2_query
from app.api.v3 import openapi as v3_openapi
from app.base.errors import ApiError
from app.base.extensions import db
from app.base.fields import MAX_JSON_DEPTH, TIME_FORM, parse_time
from app.identity.models import Role
from app.identity.tokens import ADMIN, issue_token
from app.store import catalogue
from app.usage import reports
from tests.conftest import SECRET, make_app

# Fuzzed examples per operation and backend, besides the examples and the coverage phase's cases, and the
# stateful phase's scenarios per backend: some 75 operations on two backends in about two minutes on two cores.
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", 5))
SCENARIOS = int(os.environ.get("SCHEMATHESIS_SCENARIOS", 40))

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


DOCUMENT = seeded_document()
# An admin's token for the whole run, as `-H Authorization:…` gives it to the CLI: schemathesis then knows the
# requests carry it (its missing-credentials cases drop it, and `ignored_auth` checks the service minds it).
ADMIN_HEADERS = {"Authorization": "bearer " + issue_token(SECRET, [ADMIN], user_id="admin-user", expires_in=24 * 3600)}
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
SCHEMA.config.update(headers=ADMIN_HEADERS)
SCHEMA.config.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
SCHEMA.config.generation.update(max_examples=EXAMPLES_PER_OPERATION)
SCHEMA.config.checks.update(included_check_names=["all"])


# --- the rules the document says no schema expresses ---------------------------------------------------
class Rule(NamedTuple):
    """A rule the document states in words (`quoted` is in the description of `parameter`, or of the operation's
    body when None): where the service applies it, the schema alone would have the request accepted."""

    operations: tuple  # (METHOD, path) of each operation it holds on
    parameter: str | None
    quoted: str
    applies: object  # (case, response) -> whether this answer is the rule's refusal


def _query(case, name):
    value = (case.query or {}).get(name)
    return value[0] if isinstance(value, list) else value


def _description(response):
    """What an error says, in any dialect's shape."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return body["errors"][0].get("detail", "")
    return str(body.get("description") or body.get("error") or "") if isinstance(body, dict) else ""


def _period_refused(case, response):
    try:
        start, end = date.fromisoformat(_query(case, "start")), date.fromisoformat(_query(case, "end"))
    except (TypeError, ValueError):
        return False
    return response.status_code == 400 and (end < start or (end - start).days + 1 > reports.MAX_PERIOD_DAYS)


def _cursor_refused(case, response):
    cursor, said = _query(case, "after_guid"), _description(response)
    return cursor is not None and (said == f"The query parameter is invalid: {cursor}"
                                   or re.fullmatch(r"After guid filter must be a valid .* guid\.", said))


def _out_of_bounds(text, form, read):
    """Whether `text` has the form of a time but lies out of the store's bounds once in UTC."""
    if not (isinstance(text, str) and form.fullmatch(text)):
        return False
    try:
        read(text)
    except (ValueError, ApiError):
        return True
    return False


def _bodies(case):
    return case.body if isinstance(case.body, list) else [case.body]


def _time_refused(case, response):
    if case.method.upper() == "GET":  # a q value, named by the 400
        refused = _description(response).removeprefix("The query parameter is invalid: ")
        return response.status_code == 400 and _out_of_bounds(refused, v2_query.TIME_FORM, v2_query.parse_timestamp)
    return response.status_code == 422 and any(  # a write's timestamp or created_at
        _out_of_bounds(body.get(key), TIME_FORM, parse_time)
        for body in _bodies(case) if isinstance(body, dict) for key in ("timestamp", "created_at"))


def _catalogue_refused(case, response):
    """Whether a written event's type is the catalogue's and its metadata lacks what the catalogue lists."""
    events = [v1_schemas.scalingo_to_store(body) if v1_schemas.is_scalingo_event(body) else body
              for body in _bodies(case) if isinstance(body, dict)]
    return response.status_code == 422 and any(
        isinstance(event.get("type"), str) and catalogue.check(event["type"], event.get("metadata"))
        for event in events)


USAGE_LISTS = (("GET", "/v2/app_usage_events"), ("GET", "/v2/service_usage_events"),
               ("GET", "/v3/app_usage_events"), ("GET", "/v3/service_usage_events"))
REPORTS = (("GET", "/organizations/{org_guid}/app_usages"), ("GET", "/organizations/{org_guid}/task_usages"),
           ("GET", "/organizations/{org_guid}/service_usages"), ("GET", "/app_usages"))
WRITES = (("POST", "/v2/events"), ("POST", "/v2/app_usage_events"), ("POST", "/v2/service_usage_events"))
ROLES = (("POST", "/v3/roles"),)
INEXPRESSIBLE = {
    # Between two parameters: a report's period.
    "period": Rule(REPORTS, "end", reports_openapi.PERIOD_RULE, _period_refused),
    # Of the store's content: a cursor naming no event, a user by a name no user has, a role held already.
    "after_guid": Rule(USAGE_LISTS, "after_guid", describe.AFTER_GUID_RULE, _cursor_refused),
    "username": Rule(ROLES, None, v3_openapi.USERNAME_RULE, lambda case, response: response.status_code == 422
                     and _description(response).startswith("No user exists with the username")),
    "role_held": Rule(ROLES, None, v3_openapi.ROLE_EXISTS_RULE, lambda case, response: response.status_code == 422
                      and re.fullmatch(r"User '.*' already has '\w+' role in \w+ '.*'\.", _description(response))),
    # Between a time and its offset, which may carry it out of the store's years.
    "time_bounds": Rule((*WRITES, ("GET", "/v2/events")), None, describe.BOUNDS_IN_UTC, _time_refused),
    # Between the fields of a written event.
    "space_url": Rule(WRITES[:1], None, v2_openapi.SPACE_URL_RULE, lambda case, response: response.status_code == 422
                      and "space_url: Must be /v2/spaces/ followed by" in _description(response)),
    "known_type": Rule(WRITES[:1], None, v2_openapi.KNOWN_TYPE_RULE, _catalogue_refused),
    # Of the metadata's depth.
    "json_depth": Rule(WRITES[:1], None, f"at most {MAX_JSON_DEPTH} levels deep", lambda case, response:
                       response.status_code == 422 and "Must not be nested deeper" in _description(response)),
}


def excused(case, response):
    """The checks a refusal by one of the INEXPRESSIBLE rules is excused from: the schema alone allowed it."""
    label = (case.method.upper(), case.path)
    if any(label in rule.operations and rule.applies(case, response) for rule in INEXPRESSIBLE.values()):
        return [positive_data_acceptance]
    return []


# --- the store and the server ------------------------------------------------------------------------
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
    """conftest's live_url, stopped at once: its server polls for shutdown every 0.05 s, not 0.5 s, which ~160
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


SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)


# --- each operation: the examples, coverage and fuzzing phases -----------------------------------------
@SCHEMA.parametrize()
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"], indirect=True)
@SETTINGS
def test_each_operation_answers_as_documented(case, live_service, seeded_store):
    response = case.call(base_url=live_service)
    case.validate_response(response, excluded_checks=excused(case, response),
                           transport_kwargs={"base_url": live_service})


# --- sequences of operations: the stateful phase --------------------------------------------------------
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"], indirect=True)
def test_sequences_of_operations_answer_as_documented(live_service, seeded_store):
    connection = db.engines[None]  # the test's, whose outer transaction rolls back at its end

    class Sequences(SCHEMA.as_state_machine()):
        # Each scenario starts from the seeded store, so that a replayed one meets the answers it met first
        # (Hypothesis refuses a scenario whose steps change between runs).
        def setup(self):
            self.scenario = connection.begin_nested()

        def teardown(self):
            self.scenario.rollback()

        def get_call_kwargs(self, case):
            return {"base_url": live_service}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, additional_checks=additional_checks,
                                   excluded_checks=excused(case, response), transport_kwargs=kwargs,
                                   recorder=self.recorder)

    # As the CLI runs them: generated, never shrunk (a failure shows the scenario as it ran).
    run_state_machine_as_test(Sequences, settings=settings(SETTINGS, phases=[Phase.generate], max_examples=SCENARIOS,
                                                           stateful_step_count=DEFAULT_MAX_SCENARIO_STEPS))


# --- the exclusions are the document's own words ---------------------------------------------------------
def _said(schema, seen=None):
    """All a piece of the document says, with the components it refers to."""
    seen = set() if seen is None else seen
    text = json.dumps(schema, ensure_ascii=False)
    for name in set(re.findall(r'"#/components/schemas/(\w+)"', text)) - seen:
        seen.add(name)
        text += _said(DOCUMENT["components"]["schemas"][name], seen)
    return text


@pytest.mark.parametrize("name", sorted(INEXPRESSIBLE))
def test_each_exclusion_is_a_rule_the_document_says_no_schema_expresses(name):
    rule = INEXPRESSIBLE[name]
    for method, path in rule.operations:
        operation = DOCUMENT["paths"][path][method.lower()]
        if rule.parameter is None:
            assert rule.quoted in _said(operation), (name, method, path)
        else:
            [parameter] = [item for item in operation["parameters"] if item["name"] == rule.parameter]
            assert rule.quoted in parameter["description"], (name, method, path)
