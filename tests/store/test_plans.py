"""No listed read shape falls back to a sequential scan of a large table (issue 6).

A table of 200 000 audit events and 200 000 app usage events is loaded once for this module,
set-based, and analysed (the triggers fill known_resources from the inserts). Each shape's request
runs through the service as admin, in each order its dialect offers, while every statement it sends
is captured; each statement is then EXPLAINed with its parameters, and its plan must not read
events, app_usage_events or service_usage_events sequentially. (Small tables, the event counts,
usage_streams or the 2 440 known resources, may be scanned.) The bench shows the same plans at ten
million rows.
"""
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.base.extensions import db

pytestmark = pytest.mark.postgres_only

EVENTS, USAGE, SERVICE_USAGE = 200_000, 200_000, 20_000
LARGE_TABLES = {"events", "app_usage_events", "service_usage_events"}
# Ten types, a dominant one, and a rare one (every 50 000th event).
LOAD = [
    # The months' partitions (PostgreSQL's events are partitioned: migration 0017), as a writer makes them.
    "SELECT event_partitions_ensure(ARRAY(SELECT timestamptz '2026-01-01' + m * interval '1 month'"
    " FROM generate_series(0, 5) AS m))",
    "SELECT usage_partitions_ensure('app_usage_events', 1, 200000),"
    " usage_partitions_ensure('service_usage_events', 1, 20000)",
    f"""INSERT INTO events (guid, created_at, timestamp, type, actor, actor_type, actor_name, actor_username,
                            actee, actee_type, actee_name, metadata, space_guid, organization_guid)
        SELECT 'plan-' || g, ts, ts,
               CASE WHEN g % 50000 = 0 THEN 'audit.service_broker.delete'
                    ELSE (ARRAY['audit.app.update', 'audit.app.update', 'audit.app.update', 'app.crash',
                                'app.crash', 'audit.app.start', 'audit.app.stop', 'audit.app.ssh-authorized',
                                'audit.app.restage', 'audit.route.create'])[1 + g % 10] END,
               'user-' || g % 300, 'user', 'someone@example.com', 'someone', 'app-' || g % 2000, 'app',
               'web', '{{}}'::jsonb, 'space-' || g % 2000 % 400, 'org-' || g % 2000 % 400 % 40
        FROM generate_series(1, {EVENTS}) AS g,
             LATERAL (SELECT timestamptz '2026-01-01' + g * interval '1 minute') AS t(ts)""",
    f"""INSERT INTO app_usage_events (id, guid, created_at, state, memory_in_mb_per_instance, instance_count,
                                      app_guid, app_name, space_guid, space_name, org_guid)
        SELECT g, 'usage-' || g, timestamptz '2026-01-01' + g * interval '1 minute',
               (ARRAY['STARTED', 'STOPPED'])[1 + g % 2], 256, 1, 'app-' || g % 2000, 'web', 'space-1', 'dev', 'org-1'
        FROM generate_series(1, {USAGE}) AS g""",
    f"""INSERT INTO service_usage_events (id, guid, created_at, state, org_guid, space_guid, space_name,
                                          service_instance_guid, service_instance_name, service_instance_type)
        SELECT g, 'service-' || g, timestamptz '2026-01-01' + g * interval '1 minute', 'CREATED', 'org-1',
               'space-1', 'dev', 'instance-' || g, 'db',
               CASE WHEN g % 10 = 0 THEN 'user_provided_service_instance' ELSE 'managed_service_instance' END
        FROM generate_series(1, {SERVICE_USAGE}) AS g""",
    f"UPDATE usage_streams SET last_id = {USAGE} WHERE name = 'app_usage_events'",
    f"UPDATE usage_streams SET last_id = {SERVICE_USAGE} WHERE name = 'service_usage_events'",
    "ANALYZE",
]
# Events are a minute apart from 2026-01-01, so the last is EVENTS minutes later.
LAST_EVENT = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=EVENTS)
# Not a midnight: the day it cuts is counted exactly (event_counts), and that count has a plan too.
MONTH_AGO = (LAST_EVENT - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ").replace(":", "%3A")
UNLOAD = [
    "TRUNCATE events, app_usage_events, service_usage_events, known_resources",
    "UPDATE usage_streams SET last_id = 0, horizon = 1",
]

DAY = "q=timestamp>=2026-03-01T00:00:00Z&q=timestamp<2026-03-02T00:00:00Z"
SHAPES = {
    "tail poll": f"/v2/app_usage_events?after_guid=usage-{USAGE - 50}&results-per-page=50",
    "catch-up": f"/v2/app_usage_events?after_guid=usage-{USAGE // 2}&results-per-page=1000",
    "catch-up page 3": f"/v2/app_usage_events?after_guid=usage-{USAGE // 2}&results-per-page=1000&page=3",
    "usage deep page": "/v2/app_usage_events?results-per-page=100&page=1500",
    "usage desc": "/v2/app_usage_events?results-per-page=100&page=20&order-direction=desc",
    "service usage tail": f"/v2/service_usage_events?after_guid=service-{SERVICE_USAGE - 20}",
    "service usage filtered": "/v2/service_usage_events?q=service_instance_type:user_provided_service_instance",
    "actee": "/v2/events?q=actee:app-7",
    "space": "/v2/events?q=space_guid:space-7",
    "organization": "/v2/events?q=organization_guid:org-7",
    "rare type": "/v2/events?q=type:audit.service_broker.delete",
    "common type": "/v2/events?q=type:audit.app.update",
    "one day": f"/v2/events?{DAY}",
    "type and organization": "/v2/events?q=type:app.crash&q=organization_guid:org-3",
    "actee and time": "/v2/events?q=actee:app-7&q=timestamp>=2026-02-01T00:00:00Z",
    "unfiltered": "/v2/events",
    "deep page": "/v2/events?results-per-page=100&page=1900",
    "deep page, a type": "/v2/events?q=type:audit.app.update&results-per-page=100&page=500",
    "show": "/v2/events/plan-1234",
    "v1 events": "/v1/events?page=100",
    # v3 (V3.md 1, 2, 4, 6): the bench's v3 rows at this scale, then the other filters cf users send.
    "v3 cf events": "/v3/audit_events?order_by=-created_at&page=1&target_guids=app-7",
    "v3 crash, 30 days": f"/v3/audit_events?types=app.crash&created_ats%5Bgte%5D={MONTH_AGO}",
    "v3 actor": "/v3/audit_events?actor_guids=user-7",
    "v3 unfiltered 5000": "/v3/audit_events?per_page=5000",
    "v3 tail poll": f"/v3/app_usage_events?after_guid=usage-{USAGE - 50}&per_page=50",
    "v3 catch-up": f"/v3/app_usage_events?after_guid=usage-{USAGE // 2}&per_page=5000",
    "v3 type": "/v3/audit_events?types=app.crash",
    "v3 space": "/v3/audit_events?space_guids=space-7",
    "v3 actor name": "/v3/audit_events?actor_names=someone@example.com",
    "v3 target, newest first": "/v3/audit_events?target_guids=app-7&order_by=-created_at",
    "v3 apps by name in a space": "/v3/apps?names=web&space_guids=space-7",
    "v3 spaces by name": "/v3/spaces?names=dev&organization_guids=org-1&page=1&per_page=1",
    "v3 organizations by name": "/v3/organizations?order_by=name",
}
# Shapes answered from known_resources alone: they must read it, and no event table at all.
DIRECTORY = re.compile(r"^/v3/(apps|spaces|organizations)\b")
V3_ORDERED = re.compile(r"^/v3/(audit_events|app_usage_events|service_usage_events)\b")
PARTITION = re.compile(r"(_y\d{4}m\d{2}|_p\d{6}|_kept)$")
ORDER_BY = re.compile(r"([?&])order_by=(-?)created_at\b")


@pytest.fixture(scope="module")
def large_tables(session_app):
    with session_app.app_context():
        run(LOAD)
        try:
            yield
        finally:
            run(UNLOAD)


def run(statements):
    with db.engine.begin() as connection, connection.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)  # no parameters: '%' is SQL's modulo here


def sequential_scans(plan, within_a_range=False):
    """The large tables a plan (EXPLAIN's JSON) reads with a Seq Scan. A month's partition counts as its table's,
    unless it is empty (the planner rightly scans a month not yet written) or the plan's time range picked it out
    of the filled ones: that scan is bounded by the range, not by the history kept."""
    found = []
    name = plan.get("Relation Name") or ""
    if plan.get("Node Type") == "Seq Scan" and PARTITION.sub("", name) in LARGE_TABLES and not within_a_range \
            and holds_rows(name):
        found.append(name)
    children = plan.get("Plans", [])
    if plan.get("Node Type") in ("Append", "Merge Append"):
        scanned = {child.get("Relation Name") for child in children} - {None}
        tables = {PARTITION.sub("", name) for name in scanned}
        within_a_range = within_a_range or not all(filled_partitions(table) <= scanned for table in tables)
    for child in children:
        found += sequential_scans(child, within_a_range)
    return found


def holds_rows(table):
    return db.session.connection().exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {table})").scalar()


def filled_partitions(table):
    names = db.session.connection().exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        (table,)).scalars().all()
    return {name for name in names if holds_rows(name)}


def variants(path):
    """`path` in each order its dialect lists in: v2 and v1 take order-direction=asc/desc; v3 events and
    usage events take order_by=created_at/-created_at (and list in insertion order without it, which is
    kept); /v3/apps, spaces and organizations are run as listed (v3 refuses unknown parameters)."""
    separator = "&" if "?" in path else "?"
    if DIRECTORY.match(path):
        return [path]
    if not V3_ORDERED.match(path):
        return [f"{path}{separator}order-direction={direction}" for direction in ("asc", "desc")]
    if ORDER_BY.search(path):  # the order given, and the other direction
        return [path, ORDER_BY.sub(lambda m: f"{m.group(1)}order_by={'' if m.group(2) else '-'}created_at", path)]
    return [path, *(f"{path}{separator}order_by={order}" for order in ("created_at", "-created_at"))]


def plans_of(client, headers, path):
    """(statement, plan) of every statement the service runs for GET `path` in each of its orders."""
    connection = db.engines[None]
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(connection, "before_cursor_execute", capture)
    try:
        for variant in variants(path):
            response = client.get(variant, headers=headers)
            assert response.status_code == 200, (variant, response.get_json())
    finally:
        sa.event.remove(connection, "before_cursor_execute", capture)
    plans = []
    for statement, parameters in statements:
        if statement.lstrip().upper().startswith("SELECT"):
            explained = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
            plans.append((statement, explained[0]["Plan"] if isinstance(explained, list) else json.loads(explained)))
    return response, plans


@pytest.mark.parametrize("path", list(SHAPES.values()), ids=list(SHAPES))
def test_no_listed_shape_scans_a_large_table(large_tables, client, admin, path):
    response, plans = plans_of(client, admin, path)
    body = response.get_json()
    assert body.get("resources") or body.get("events") or body.get("metadata"), body
    touched = [statement for statement, _ in plans if any(f"FROM {t}" in statement for t in LARGE_TABLES)]
    if DIRECTORY.match(path):
        assert not touched, f"{path} read an event table:\n" + "\n".join(touched)
        assert any("FROM known_resources" in statement for statement, _ in plans), "known_resources not read"
    else:
        assert touched, "no statement read a large table: the test would pass vacuously"
    for statement, plan in plans:
        assert not sequential_scans(plan), f"{path}: sequential scan in\n{statement}\n{json.dumps(plan, indent=1)}"


def test_the_check_sees_a_sequential_scan(large_tables, client, admin):
    """The plan walker is not blind: with index scans disabled the same shape is caught."""
    connection = db.engines[None]
    connection.exec_driver_sql("SET LOCAL enable_indexscan = off")
    connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    connection.exec_driver_sql("SET LOCAL enable_indexonlyscan = off")
    _, plans = plans_of(client, admin, SHAPES["actee"])
    assert any(sequential_scans(plan) for _, plan in plans)


# The console's overview and timeline (app/api/v3/stats.py), for a platform-wide reader and for a space
# auditor (whose figures are computed over their visible events), with the clock at the data's last day.
STATS = {
    "stats daily": "/v3/audit_event_stats/daily",
    "stats top crashes": "/v3/audit_event_stats/top_targets",
    "stats top crashes, a year": "/v3/audit_event_stats/top_targets?days=366",
    "app usage states": "/v3/app_usage_states/app-7",
}
PLAN_AUDITOR = "plan-auditor"


@pytest.mark.parametrize("reader", ["admin", "space auditor"])
@pytest.mark.parametrize("path", list(STATS.values()), ids=list(STATS))
def test_the_console_extension_scans_no_large_table(large_tables, client, admin, auth, monkeypatch, path, reader):
    from app.api.v3 import stats
    from app.identity.tokens import READ

    monkeypatch.setattr(stats, "today", lambda: LAST_EVENT.date())
    connection = db.engines[None]
    if reader == "space auditor":
        connection.exec_driver_sql("INSERT INTO roles (target_type, target_guid, role, user_guid, created_at, guid) "
                                   f"VALUES ('space', 'space-7', 'auditor', '{PLAN_AUDITOR}', now(), 'plan-role')")
    headers = admin if reader == "admin" else auth(READ, user_id=PLAN_AUDITOR)
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(connection, "before_cursor_execute", capture)
    try:
        response = client.get(path, headers=headers)
    finally:
        sa.event.remove(connection, "before_cursor_execute", capture)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    touched = [statement for statement, _ in statements if any(f"FROM {t}" in statement for t in LARGE_TABLES)]
    if ("daily" in path or "top_targets" in path) and reader == "admin":
        assert not touched, "a platform-wide reader's days and top crashes come from the counts alone"
        assert sum(day["total"] for day in body["days"]) > 0 if "daily" in path else body["resources"]
    else:
        assert touched, "no statement read a large table: the test would pass vacuously"
    if "top_targets" in path and reader == "admin":
        assert body["resources"], body
    for statement, parameters in statements:
        if statement.lstrip().upper().startswith("SELECT"):
            plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
            plan = plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"]
            assert not sequential_scans(plan), f"{path}: sequential scan in\n{statement}\n{json.dumps(plan, indent=1)}"
