"""The service answers a fixed set of requests to every route exactly as recorded: refactors change no byte.

The demo platform is loaded with a fixed clock, guids and secrets are drawn from a seeded generator, and every
request carries its own request id, so each answer is a function of the code alone, and the same on both backends.
The recorded answers live in tests/recorded/responses.json. After a change that is meant to change answers, record
them again with `RECORD_RESPONSES=1 make test` (or this file alone) and read the diff of that file.
"""
import hashlib
import json
import os
import random
import re
import secrets
import uuid
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
import time_machine
from werkzeug.exceptions import HTTPException

from app.identity.tokens import ADMIN, GLOBAL_AUDITOR, READ, WRITE

RECORDED = os.path.join(os.path.dirname(__file__), "recorded")
NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=timezone.utc)
# Bodies larger than this are recorded by their digest (the console's and Swagger UI's files).
WHOLE_BODY_LIMIT = 64 * 1024
# What a response may vary in between builds: the commit in the version.
BUILD = re.compile(r"(\d+\.\d+\.\d+)\+[0-9a-f]{4,40}")
HEADERS = ("Content-Type", "Allow", "Location", "Retry-After", "Content-Disposition", "WWW-Authenticate",
           "Cache-Control", "Content-Security-Policy")


class Seeded:
    """uuid4 and secrets.token_bytes from one seeded generator, so generated guids and tokens repeat."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def uuid4(self):
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def token_bytes(self, count=None):
        return self.rng.randbytes(32 if count is None else count)


def answer_of(response):
    body = response.get_data()
    text = BUILD.sub(r"\1+<commit>", body.decode("utf-8", "replace"))
    headers = {name: response.headers[name] for name in HEADERS if name in response.headers}
    if "Allow" in headers:  # a set: its order means nothing, and varies from one process to the next
        headers["Allow"] = ", ".join(sorted(headers["Allow"].split(", ")))
    recorded = {"status": response.status_code, "headers": headers}
    if len(body) > WHOLE_BODY_LIMIT:
        if response.mimetype == "application/json":  # its key order is free (the OpenAPI document's, say)
            text = json.dumps(json.loads(text), sort_keys=True)
        recorded["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    elif response.mimetype == "application/json":
        recorded["json"] = json.loads(text)
    else:
        recorded["text"] = text
    return recorded


class Recorder:
    def __init__(self, client):
        self.client = client
        self.answers = {}
        self.rules = set()

    def __call__(self, method, path, headers=None, key=None, **kwargs):
        """Send the request; record its answer under `key` (default: method and path); return the response."""
        key = key or f"{method} {path}"
        assert key not in self.answers, f"recorded twice: {key}"
        response = self.client.open(path, method=method, headers={"X-VCAP-Request-ID": f"recorded-{len(self.answers)}",
                                                                 **(headers or {})}, **kwargs)
        if path == "/metrics":  # counts of every earlier request of the process: the metrics' names and types
            # (prometheus_client declares a counter's _created only once it has a sample)
            declared = sorted(line for line in response.get_data(as_text=True).splitlines()
                              if line.startswith("# TYPE ") and not line.split()[2].endswith("_created"))
            self.answers[key] = {"status": response.status_code, "declared": declared}
        else:
            self.answers[key] = answer_of(response)
        try:
            rule, _ = self.client.application.url_map.bind("localhost").match(path.split("?")[0], method=method,
                                                                              return_rule=True)
            self.rules.add(rule.rule)
        except HTTPException:  # a path or method no route serves
            pass
        return response


def bearer(token):
    return {"Authorization": f"bearer {token}"}


def exercise(call, token):
    """Every route, as a client uses it, on the demo platform. Guids come from earlier answers."""
    admin = bearer(token(ADMIN, user_id="admin-user", user_name="admin"))
    auditor = bearer(token(READ, user_id="auditor-user", user_name="auditor"))
    global_auditor = bearer(token(GLOBAL_AUDITOR, user_id="global-auditor"))
    writer = bearer(token(WRITE, user_id="writer"))

    # Discovery, operations, documentation, the console's files.
    for path in ("/", "/v2/info", "/v3", "/v3/info", "/login", "/healthz", "/readyz", "/openapi.json", "/docs",
                 "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/console/", "/console/api.js",
                 "/console/charts.js", "/console/console.css", "/console/main.js", "/console/views.js"):
        call("GET", path)
    call("GET", "/metrics", admin)
    call("GET", "/metrics", key="GET /metrics without a token")

    # v2 audit events.
    first = call("GET", "/v2/events?results-per-page=5", admin).get_json()["resources"][0]["metadata"]["guid"]
    crash = call("GET", "/v2/events?q=type:app.crash&results-per-page=5", admin).get_json()["resources"][0]["entity"]
    app_guid, space, org = crash["actee"], crash["space_guid"], crash["organization_guid"]
    for query in ("results-per-page=5&order-direction=desc", "results-per-page=3&page=40",
                  f"q=actee:{app_guid}&results-per-page=5",
                  f"q=space_guid:{space}&q=timestamp>2026-06-01T00:00:00Z&results-per-page=4",
                  f"q=organization_guid:{org}&results-per-page=2&order-direction=desc",
                  "q=type IN audit.app.start,audit.app.stop&results-per-page=4", "q=timestamp<2026-05-10T00:00:00Z",
                  "q=nonsense:1", "q=timestamp>yesterday", "page=0", "order-by=guid", "results-per-page=101",
                  "pretty=1&results-per-page=1"):
        call("GET", "/v2/events?" + query, admin)
    call("GET", "/v2/events?results-per-page=5", auditor, key="GET /v2/events as a user with no roles")
    call("GET", "/v2/events", key="GET /v2/events without a token")
    call("GET", f"/v2/events/{first}", admin)
    call("GET", "/v2/events/no-such-guid", admin)
    written = {"guid": "recorded-event-1", "type": "audit.app.update", "actor": "user-1", "actor_type": "user",
               "actor_name": "alice@example.com", "actor_username": "alice", "actee": app_guid, "actee_type": "app",
               "actee_name": "web", "timestamp": "2026-06-14T10:00:00Z", "space_guid": space,
               "organization_guid": org, "metadata": {"request": {"instances": 2, "environment_json": {"X": "1"}}}}
    call("POST", "/v2/events", writer, json=written)
    call("POST", "/v2/events", writer, json=written, key="POST /v2/events again (a replay)")
    call("POST", "/v2/events", writer, json={**written, "actee_name": "other"}, key="POST /v2/events (a conflict)")
    call("POST", "/v2/events", writer, json=[{**written, "guid": "recorded-event-2"}, {
        "type": "restart", "user": {"username": "bob", "email": "bob@example.com", "id": "user-2"}, "app_id": app_guid,
        "app_name": "web", "created_at": "2026-06-14T11:00:00Z", "type_data": {"scope": ["web"]}}],
        key="POST /v2/events (a batch, one in Scalingo's vocabulary)")
    call("POST", "/v2/events", writer, json={"type": "audit.app.update"}, key="POST /v2/events (invalid)")
    call("POST", "/v2/events", writer, data="{", content_type="application/json", key="POST /v2/events (not JSON)")
    call("DELETE", "/v2/events/recorded-event-2", admin)
    call("DELETE", "/v2/events/recorded-event-2", admin, key="DELETE /v2/events/recorded-event-2 again")

    # v2 usage streams.
    app_usage = call("GET", "/v2/app_usage_events?results-per-page=3", admin).get_json()
    cursor = app_usage["resources"][1]["metadata"]["guid"]
    call("GET", f"/v2/app_usage_events?after_guid={cursor}&results-per-page=3", admin)
    call("GET", "/v2/app_usage_events?results-per-page=3&order-direction=desc", admin)
    call("GET", "/v2/app_usage_events?after_guid=no-such-guid", admin)
    call("GET", f"/v2/app_usage_events/{cursor}", admin)
    service_usage = call("GET", "/v2/service_usage_events?results-per-page=3", admin).get_json()
    service_cursor = service_usage["resources"][0]["metadata"]["guid"]
    call("GET", "/v2/service_usage_events?q=service_instance_type:managed_service_instance&results-per-page=3", admin)
    call("GET", f"/v2/service_usage_events/{service_cursor}", admin)
    call("POST", "/v2/app_usage_events", writer, json=[{
        "guid": "recorded-usage-1", "created_at": "2026-06-15T11:00:00Z", "state": "STARTED",
        "memory_in_mb_per_instance": 256, "instance_count": 2, "app_guid": "recorded-process", "app_name": "rec",
        "space_guid": space, "space_name": "dev", "org_guid": org, "parent_app_guid": "recorded-app",
        "parent_app_name": "rec", "process_type": "web", "buildpack_name": "https://u:p@example.com/bp.git"}])
    call("POST", "/v2/service_usage_events", writer, json={
        "guid": "recorded-service-usage-1", "created_at": "2026-06-15T11:00:00Z", "state": "CREATED",
        "org_guid": org, "space_guid": space, "space_name": "dev", "service_instance_guid": "recorded-instance",
        "service_instance_name": "db", "service_instance_type": "managed_service_instance",
        "service_plan_guid": "plan-1", "service_plan_name": "small", "service_guid": "service-1",
        "service_label": "postgres"})

    # v2 apps and roles.
    call("GET", f"/v2/spaces/{space}/apps", admin)
    call("GET", f"/v2/spaces/{space}/apps?q=name:web", admin)
    call("PUT", f"/v2/spaces/{space}/auditors/auditor-user", admin)
    call("PUT", f"/v2/organizations/{org}/managers/manager-user", admin)
    call("GET", f"/v2/spaces/{space}/auditors", admin)
    call("GET", f"/v2/organizations/{org}/managers", admin)
    call("GET", "/v2/events?results-per-page=3", auditor, key="GET /v2/events as a space auditor")
    call("DELETE", f"/v2/organizations/{org}/managers/manager-user", admin)

    # v1 (Scalingo's dialect).
    for path in ("/v1/events?per_page=3", "/v1/events?per_page=2&page=2", "/v1/events?from=24",
                 f"/v1/apps/{app_guid}/events?per_page=3", "/v1/apps/web/events?per_page=2", "/v1/event_types",
                 "/v1/event_categories", "/v1/events?per_page=1000"):
        call("GET", path, admin)
    v1_event = call("GET", f"/v1/apps/{app_guid}/events?per_page=1", admin).get_json()["events"][0]["id"]
    call("GET", f"/v1/apps/{app_guid}/events/{v1_event}", admin)
    call("POST", "/v1/tokens/exchange", {"Authorization": "Basic OmJhZA=="}, key="POST /v1/tokens/exchange (bad)")

    # v3.
    for query in ("per_page=5", "per_page=5&order_by=-created_at", f"target_guids={app_guid}&order_by=-created_at",
                  "types=app.crash&created_ats[gte]=2026-06-01T00:00:00Z&per_page=3",
                  f"space_guids={space}&page=3&per_page=2",
                  "actor_types=user&per_page=2", f"target_guids[not]={app_guid}&per_page=2", "per_page=0",
                  "order_by=name", "foo=bar"):
        call("GET", "/v3/audit_events?" + query, admin)
    v3_event = call("GET", "/v3/audit_events?per_page=1", global_auditor,
                    key="GET /v3/audit_events as a global auditor").get_json()["resources"][0]["guid"]
    call("GET", f"/v3/audit_events/{v3_event}", admin)
    call("GET", "/v3/audit_events?per_page=3", auditor, key="GET /v3/audit_events as a space auditor")
    for stream in ("app_usage_events", "service_usage_events"):
        listed = call("GET", f"/v3/{stream}?per_page=3", admin).get_json()
        guid = listed["resources"][0]["guid"]
        call("GET", f"/v3/{stream}?per_page=3&order_by=-created_at&after_guid={guid}", admin)
        call("GET", f"/v3/{stream}?per_page=3&created_ats[lt]=2026-05-20T00:00:00Z", admin)
        call("GET", f"/v3/{stream}?after_guid=a,b", admin)
        call("GET", f"/v3/{stream}/{guid}", admin)
    call("GET", "/v3/service_usage_events?service_instance_types=user_provided_service_instance", admin)
    for resource in ("apps", "spaces", "organizations"):
        listed = call("GET", f"/v3/{resource}?per_page=3&order_by=name", admin).get_json()
        call("GET", f"/v3/{resource}/{listed['resources'][0]['guid']}", admin)
    call("GET", f"/v3/apps?space_guids={space}", admin)
    call("GET", "/v3/organizations?names=acme", admin)
    role = call("POST", "/v3/roles", admin, json={"type": "space_developer", "relationships": {
        "user": {"data": {"guid": "developer-user"}}, "space": {"data": {"guid": space}}}}).get_json()
    call("GET", "/v3/roles?include=user,space&per_page=5", admin)
    call("GET", f"/v3/roles/{role['guid']}?include=user", admin)
    call("DELETE", f"/v3/roles/{role['guid']}", admin)
    call("GET", "/v3/audit_event_stats/daily?days=30", admin)
    call("GET", "/v3/audit_event_stats/top_targets?types=app.crash&days=30&limit=5", admin)
    call("GET", f"/v3/app_usage_states/{app_guid}", admin)

    # The usage reports.
    period = urlencode({"start": "2026-05-01", "end": "2026-05-31"})
    call("GET", "/usage_availability", admin)
    call("GET", f"/app_usages?{period}&order_by=-total_instance_hours", admin)
    call("GET", f"/app_usages?{period}&format=csv", admin)
    for report in ("app_usages", "task_usages", "service_usages"):
        call("GET", f"/organizations/{org}/{report}?{period}", admin)
        call("GET", f"/organizations/{org}/{report}?{period}&format=csv", admin)
        call("GET", f"/system_report/{report}", admin)
    call("GET", f"/organizations/{org}/app_usages?start=2026-05-31&end=2026-05-01", admin)

    # The issuer, then the purges, which change everything after them.
    call("POST", "/oauth/token", {"Authorization": "Basic Y2Y6"},
         data={"grant_type": "password", "username": "admin", "password": "wrong"})
    call("POST", "/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps", admin)
    call("GET", "/v2/app_usage_events?results-per-page=3", admin, key="GET /v2/app_usage_events after the purge")
    call("POST", "/v3/service_usage_events/actions/destructively_purge_all_and_reseed", admin)
    call("POST", "/v2/service_usage_events/destructively_purge_all_and_reseed_existing_instances", admin)
    call("POST", "/v3/app_usage_events/actions/destructively_purge_all_and_reseed", admin)
    call("GET", "/v3/service_usage_events?per_page=3", admin, key="GET /v3/service_usage_events after the purges")
    call("PATCH", "/v2/events", admin, key="PATCH /v2/events (no such method)")
    call("GET", "/nowhere", admin)
    call("GET", "/v1/nowhere", admin)


@pytest.fixture
def seeded(app, monkeypatch):
    """The clock stopped and the generators seeded, once the database is up (a cluster's start needs the clock)."""
    generator = Seeded(2016)
    monkeypatch.setattr(uuid, "uuid4", generator.uuid4)
    monkeypatch.setattr(secrets, "token_bytes", generator.token_bytes)
    with time_machine.travel(NOW, tick=False):
        yield


def test_every_route_answers_as_recorded(app, client, token, backend, seeded):
    """(Recorded from PostgreSQL; SQLite must answer the same.)"""
    from app.ops.demo import load_demo_events

    load_demo_events(now=NOW)
    call = Recorder(client)
    exercise(call, token)
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert routes - call.rules == set(), "routes the recorded set does not reach"
    path = os.path.join(RECORDED, "responses.json")
    if os.environ.get("RECORD_RESPONSES") and backend == "postgresql":
        os.makedirs(RECORDED, exist_ok=True)
        with open(path, "w") as file:
            json.dump(call.answers, file, indent=1, sort_keys=True, ensure_ascii=False)
            file.write("\n")
    with open(path) as file:
        recorded = json.load(file)
    assert list(call.answers) == list(recorded) or sorted(call.answers) == sorted(recorded)
    differing = [key for key in recorded if call.answers.get(key) != recorded[key]]
    assert not differing, {key: {"recorded": recorded[key], "now": call.answers.get(key)} for key in differing[:3]}
