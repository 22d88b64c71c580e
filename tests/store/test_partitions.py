"""Audit events in monthly partitions (PostgreSQL, migration 0017): partitions made by the writes that need them,
guids unique across months, retention by whole months with the counts exact, and the conversion of a populated
store, killed halfway and resumed."""
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from app.base.errors import ApiError
from app.base.extensions import db
from app.identity.tokens import ADMIN, issue_token
from app.store.audit_events import prune_audit_events
from app.store.models import AppUsageEvent, Event
from app.store.writes import write_events
from app.usage.retention import prune_usage_stream
from tests.api.v2.test_usage_events import app_event, guids, write
from tests.conftest import SECRET, fresh_postgres_database, make_app
from tests.figures import assert_figures_exact
from tests.ops.test_serving import REPOSITORY

pytestmark = pytest.mark.postgres_only


def event(guid, moment, **fields):
    return {"guid": guid, "type": "audit.app.update", "actor": "user-1", "actor_type": "user", "actor_name": "alice",
            "actee": "app-1", "actee_type": "app", "actee_name": "web", "space_guid": "space-1",
            "organization_guid": "org-1", "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "metadata": {"request": {}}, **fields}


CRASH = {"type": "app.crash", "metadata": {"instance": "i-1", "index": 0, "exit_status": 1, "exit_description": "x",
                                          "reason": "CRASHED"}}


def as_written(fields):
    """An event as the write path takes it (model attributes), not as a client sends it."""
    moment = datetime.fromisoformat(fields["timestamp"].replace("Z", "+00:00"))
    return {**{k: v for k, v in fields.items() if k != "metadata"}, "timestamp": moment, "data": fields["metadata"]}


def partitions():
    return db.session.scalars(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                   " WHERE i.inhparent = 'events'::regclass ORDER BY 1")).all()


def stored(guid):
    return db.session.scalar(select(func.count()).select_from(Event).where(Event.guid == guid))


def claims():
    """The guid claims whose partition is attached, and the events: the same guids, each once."""
    live = db.session.scalars(text("SELECT guid FROM event_guids g WHERE EXISTS"
                                   " (SELECT 1 FROM pg_inherits WHERE inhrelid = g.partition) ORDER BY 1")).all()
    return live, db.session.scalars(text("SELECT guid FROM events ORDER BY 1")).all()


def test_a_write_for_a_month_without_a_partition_makes_it(app, client, admin):
    assert "events_y2019m03" not in partitions()
    one = event("old-1", datetime(2019, 3, 5, tzinfo=timezone.utc))
    assert client.post("/v2/events", json=one, headers=admin).status_code == 201
    # A copied batch (from 50 rows) of another old month, and a month two years on.
    batch = [event(f"old-b{n}", datetime(2018, 7, 1, tzinfo=timezone.utc) + timedelta(hours=n)) for n in range(60)]
    batch.append(event("far-1", datetime(2031, 1, 31, 23, 59, tzinfo=timezone.utc)))
    assert client.post("/v2/events", json=batch, headers=admin).status_code == 201
    assert {"events_y2019m03", "events_y2018m07", "events_y2031m01"} <= set(partitions())
    assert client.get("/v2/events/old-1", headers=admin).status_code == 200
    assert client.get("/v2/events?q=timestamp<2019-01-01T00:00:00Z", headers=admin).json["total_results"] == 60
    assert_figures_exact()
    live, rows = claims()
    assert live == rows


@pytest.mark.parametrize("size", [1, 60])  # an INSERT of values, and a copied batch
def test_the_same_guid_in_two_months_is_stored_once(app, client, admin, size):
    january, march = datetime(2026, 1, 10, tzinfo=timezone.utc), datetime(2026, 3, 10, tzinfo=timezone.utc)
    others = [event(f"other-{size}-{n}", march + timedelta(minutes=n)) for n in range(size - 1)]
    first = event("twice", january)
    assert client.post("/v2/events", json=[first], headers=admin).status_code == 201
    assert client.post("/v2/events", json=[first, *others], headers=admin).status_code in (200, 201)  # a replay
    response = client.post("/v2/events", json=[event("twice", march), *others], headers=admin)
    assert response.status_code == 409, response.json
    assert stored("twice") == 1
    assert client.get("/v2/events/twice", headers=admin).json["entity"]["timestamp"] == "2026-01-10T00:00:00Z"
    live, rows = claims()
    assert live == rows


@pytest.fixture
def committed(request):
    """An app over a database of its own, whose writes commit (threads, prune, the server see each other's)."""
    url = fresh_postgres_database(request.getfixturevalue("postgres_url"), "cf_events_partitions")
    app = make_app(url)
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_writers_of_one_guid_in_different_months_store_it_once(committed):
    months = [datetime(2025, month, 3, tzinfo=timezone.utc) for month in range(1, 13)]
    start = threading.Barrier(len(months))

    def write(moment):
        with committed.app_context():
            start.wait()
            try:
                return write_events(Event, [as_written(event("contested", moment))], "timestamp").created
            except ApiError as error:
                return error.name
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(months)) as pool:
        outcomes = list(pool.map(write, months))
    assert outcomes.count(True) == 1, outcomes
    assert set(outcomes) == {True, "EventConflict"}
    assert stored("contested") == 1
    live, rows = claims()
    assert live == rows == ["contested"]


def test_prune_drops_whole_months_and_keeps_the_figures_exact(committed):
    client = committed.test_client()
    headers = {"Authorization": "bearer " + issue_token(SECRET, [ADMIN], user_id="admin")}
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = [event(f"e-{n}", start + timedelta(hours=7 * n), actee=f"app-{n % 7}", space_guid=f"space-{n % 3}",
                    **(CRASH if n % 5 == 0 else {})) for n in range(480)]  # to late April
    for offset in range(0, len(events), 100):
        assert client.post("/v2/events", json=events[offset:offset + 100], headers=headers).status_code == 201
    assert {"events_y2026m01", "events_y2026m02", "events_y2026m03", "events_y2026m04"} <= set(partitions())
    cutoff = datetime(2026, 3, 15, tzinfo=timezone.utc)
    expected = [e["guid"] for e in events if e["timestamp"] >= "2026-03-15"]

    # Readers page through the events meanwhile: never an error, and each page in order.
    stop, failures = threading.Event(), []

    def read():
        with committed.test_client() as reader:
            while not stop.is_set():
                response = reader.get("/v2/events?results-per-page=50&order-direction=desc", headers=headers)
                if response.status_code != 200:
                    failures.append(response.status_code)
                times = [r["entity"]["timestamp"] for r in response.json["resources"]]
                if times != sorted(times, reverse=True):
                    failures.append(times)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        deleted = prune_audit_events(cutoff, batch_size=17)
    finally:
        stop.set()
        reader.join()
    assert not failures, failures[:3]
    assert deleted == len(events) - len(expected)
    assert "events_y2026m01" not in partitions() and "events_y2026m02" not in partitions()
    assert db.session.scalars(select(Event.guid).order_by(Event.timestamp)).all() == expected
    assert_figures_exact()
    assert db.session.scalar(text("SELECT count(*) FROM pg_class WHERE relname LIKE 'events\\_detached\\_%'")) == 0
    live, rows = claims()
    assert live == rows
    assert db.session.scalar(text("SELECT count(*) FROM event_guids")) == len(expected)
    # A pruned guid can be written again: its month's partition is made anew.
    assert client.post("/v2/events", json=events[0], headers=headers).status_code == 201
    assert stored("e-0") == 1
    assert_figures_exact()


def _populate_at_0016(url, months):
    """A store migrated to 0016 (before partitions) holding 200 events in each of `months` months from January
    2026, written as any writer did then (the triggers keep the counts)."""
    with make_app(url).app_context():
        upgrade(revision="0016")
        db.session.execute(text(
            "INSERT INTO events (guid, created_at, timestamp, type, actor, actor_type, actor_name, actee, actee_type,"
            " actee_name, metadata, space_guid, organization_guid)"
            " SELECT 'g-' || n, now(), timestamptz '2026-01-01 00:00Z' + (n - 1) / 200 * interval '1 month'"
            " + (n - 1) % 200 * interval '3 hours',"
            " CASE WHEN n % 4 = 0 THEN 'app.crash' ELSE 'audit.app.start' END, 'user-' || n % 3, 'user', 'alice',"
            " 'app-' || n % 11, 'app', 'web', '{}', 'space-' || n % 5, 'org-1'"
            " FROM generate_series(1, 200 * :months) AS n"), {"months": months})
        db.session.execute(text("COMMENT ON TABLE events IS 'a mark a tool left'"))
        db.session.commit()
        rows = db.session.execute(text("SELECT id, guid, timestamp FROM events ORDER BY id")).all()
        db.engine.dispose()
    return rows


def kill_the_upgrade_waiting_on(url, name, parent):
    """Run `flask db upgrade` on `url` while a transaction holds the table name `name`, SIGKILL it once it waits
    to make that table, and let the name go; how many partitions `parent` had then."""
    blocker = sa.create_engine(url)
    with blocker.connect() as holding:
        holding.exec_driver_sql(f"CREATE TABLE {name} (placeholder int)")
        environment = {**os.environ, "DATABASE_URL": url, "TOKEN_SECRET": SECRET}
        conversion = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "wsgi", "db",
                                       "upgrade"], cwd=REPOSITORY, env=environment, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        with blocker.connect() as watching:
            while watching.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    f" AND query LIKE 'CREATE TABLE {name}%%'").scalar() == 0:
                assert time.monotonic() < deadline and conversion.poll() is None
                watching.rollback()  # pg_stat_activity is read once a transaction
                time.sleep(0.05)
            attached = watching.exec_driver_sql(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", (parent,)).scalar()
        conversion.send_signal(signal.SIGKILL)
        conversion.wait()
        holding.rollback()
    blocker.dispose()
    return attached


def test_a_conversion_killed_halfway_resumes_and_loses_or_doubles_nothing(request):
    url = fresh_postgres_database(request.getfixturevalue("postgres_url"), "cf_events_conversion")
    before = _populate_at_0016(url, months=5)
    # A transaction holding the name of March's partition: the conversion waits there, having moved two months.
    attached = kill_the_upgrade_waiting_on(url, "events_y2026m03", "events")
    assert attached == 2  # January and February were done when it was killed

    with make_app(url).app_context():
        upgrade()
        after = db.session.execute(text("SELECT id, guid, timestamp FROM events ORDER BY id")).all()
        assert after == before
        assert [name for name in partitions() if name <= "events_y2026m05"] == [
            f"events_y2026m0{month}" for month in range(1, 6)]
        assert db.session.scalar(text("SELECT to_regclass('events_unpartitioned')")) is None
        assert db.session.scalar(text("SELECT obj_description('events'::regclass, 'pg_class')")) == "a mark a tool left"
        assert_figures_exact()
        live, rows = claims()
        assert live == rows
        # Written after: ids go on, and a converted guid is still a replay, not a second row.
        new = write_events(Event, [as_written(event("after", datetime(2026, 2, 2, tzinfo=timezone.utc)))], "timestamp")
        assert new.created
        assert db.session.scalar(select(Event.id).where(Event.guid == "after")) > before[-1].id
        replay = write_events(Event, [{**before_as_event(before[0])}], "timestamp", refuse_conflicts=False)
        assert not replay.created
        db.session.remove()
        db.engine.dispose()


def before_as_event(row):
    found = db.session.execute(select(Event).where(Event.guid == row.guid)).scalar_one()
    return {name: getattr(found, name) for name in (
        "guid", "timestamp", "type", "actor", "actor_type", "actor_name", "actor_username", "actee", "actee_type",
        "actee_name", "data", "space_guid", "organization_guid")}



# --- usage streams: ranges of positions (migration 0018) ----------------------------------------------------
WIDTH = 1_000_000  # the default partition_width


def usage_partitions(stream="app_usage_events"):
    return db.session.scalars(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                   " WHERE i.inhparent = CAST(:s AS regclass) ORDER BY 1"), {"s": stream}).all()


def usage_claims(stream="app_usage_events"):
    live = db.session.scalars(text("SELECT guid FROM usage_guids g WHERE stream = :s AND EXISTS"
                                   " (SELECT 1 FROM pg_inherits WHERE inhrelid = g.partition) ORDER BY 1"),
                              {"s": stream}).all()
    return live, db.session.scalars(text(f"SELECT guid FROM {stream} ORDER BY 1")).all()


def near_a_range_end(positions_left):
    """The app usage stream as if everything below the end of its first range but `positions_left` positions had
    been written and pruned (nothing below the horizon)."""
    db.session.execute(text("UPDATE usage_streams SET last_id = :last, horizon = :last + 1"
                            " WHERE name = 'app_usage_events'"), {"last": WIDTH - 1 - positions_left})


def read_all(client, admin, after=None):
    seen, query = [], f"&after_guid={after}" if after else ""
    while True:
        body = client.get(f"/v2/app_usage_events?results-per-page=7{query}", headers=admin).get_json()
        seen += guids(body)
        if not body["resources"]:
            return seen
        query = f"&after_guid={seen[-1]}"


@pytest.mark.parametrize("size", [3, 60])  # an INSERT of values, and a copied batch
def test_usage_writes_across_a_range_end_make_the_next_range(app, client, admin, size):
    near_a_range_end(2)
    events = [app_event(f"across-{n}", created_at=f"2026-11-0{1 + n // 30}T00:00:{n % 60:02d}Z") for n in range(size)]
    write(client, admin, "/v2/app_usage_events", events)
    assert {"app_usage_events_p000000", "app_usage_events_p000001", "app_usage_events_p000002"} <= set(
        usage_partitions())
    assert read_all(client, admin) == [event["guid"] for event in events]
    assert read_all(client, admin, after="across-0") == [event["guid"] for event in events[1:]]
    assert client.get("/v2/app_usage_events", headers=admin).get_json()["total_results"] == size
    live, rows = usage_claims()
    assert live == rows


def test_the_same_usage_guid_in_two_ranges_is_stored_once(app, client, admin):
    near_a_range_end(2)
    first = app_event("twice")
    write(client, admin, "/v2/app_usage_events", [first])
    write(client, admin, "/v2/app_usage_events", [app_event(f"more-{n}") for n in range(5)])
    assert client.post("/v2/app_usage_events", json=[first], headers=admin).status_code in (200, 201)  # a replay
    response = client.post("/v2/app_usage_events", json=[{**first, "instance_count": 3}], headers=admin)
    assert response.status_code == 409, response.get_json()
    assert db.session.scalar(text("SELECT count(*) FROM app_usage_events WHERE guid = 'twice'")) == 1
    live, rows = usage_claims()
    assert live == rows


def test_usage_prune_drops_whole_ranges_and_cursors_keep_working(committed):
    client = committed.test_client()
    headers = {"Authorization": "bearer " + issue_token(SECRET, [ADMIN], user_id="admin")}
    db.session.execute(text("UPDATE usage_streams SET partition_width = 50 WHERE name = 'app_usage_events'"))
    db.session.commit()
    now = datetime.now(timezone.utc)

    def ago(days, n=0):
        return (now - timedelta(days=days, seconds=n)).isoformat()
    # Positions 1–170 old (an app started at 7 and never stopped: kept), 171–250 young: three whole ranges go.
    old = [app_event(f"old-{n}", "STOPPED" if n % 2 else "STARTED", app_guid=f"app-{n % 9}", created_at=ago(60, -n))
           for n in range(1, 171)]
    old[6] = app_event("running-7", app_guid="running", created_at=ago(60, -7))
    young = [app_event(f"young-{n}", "STOPPED", app_guid=f"app-{n % 9}", created_at=ago(1, -n)) for n in range(80)]
    for offset in range(0, 170, 40):
        write(client, headers, "/v2/app_usage_events", old[offset:offset + 40])
    write(client, headers, "/v2/app_usage_events", young)
    # The old events' report (a period that ended before the young ones began, so that it stays still).
    report = (f"/organizations/org-1/app_usages?start={(now - timedelta(days=90)).date()}"
              f"&end={(now - timedelta(days=3)).date()}")
    before = client.get(report, headers=headers).get_json()
    assert before["app_usages"]

    # A collector follows the tail and a writer writes while the prune runs: every new event, once, in order.
    stop, written, followed, failures = threading.Event(), [], [], []

    def follow():
        with committed.test_client() as poller:
            after = "young-79"
            while not stop.is_set() or len(followed) < len(written):
                response = poller.get(f"/v2/app_usage_events?after_guid={after}&results-per-page=10", headers=headers)
                if response.status_code != 200:
                    failures.append(response.status_code)
                    return
                page = guids(response.get_json())
                followed.extend(page)
                after = page[-1] if page else after

    def write_more():
        with committed.test_client() as writer:
            for n in range(60):
                response = writer.post("/v2/app_usage_events", json=[app_event(f"new-{n}", created_at=ago(0, -n))],
                                       headers=headers)
                if response.status_code != 201:
                    failures.append(response.status_code)
                written.append(f"new-{n}")

    follower, writer = threading.Thread(target=follow), threading.Thread(target=write_more)
    follower.start()
    writer.start()
    try:
        deleted, kept = prune_usage_stream(AppUsageEvent, now - timedelta(days=31), batch_size=7)
    finally:
        writer.join(timeout=60)
        stop.set()  # the follower reads on until it has every event written
        follower.join(timeout=60)
    assert not failures, failures
    assert followed == written
    assert (deleted, kept) == (169, 1)
    partitions_now = usage_partitions()
    assert not {"app_usage_events_p000000", "app_usage_events_p000001", "app_usage_events_p000002"} & set(
        partitions_now)
    assert "app_usage_events_kept" in partitions_now
    # A pruned cursor still works (its tombstone), from one in a dropped range and one from the row by row part.
    survivors = ["running-7", *(e["guid"] for e in young), *written]
    assert read_all(client, headers, after="old-3") == survivors
    assert read_all(client, headers, after="old-160") == survivors[1:]
    assert read_all(client, headers) == survivors
    assert client.get("/v2/app_usage_events", headers=headers).get_json()["total_results"] == len(survivors)
    assert client.get(report, headers=headers).get_json() == before  # the rollups keep what went
    live, rows = usage_claims()
    assert live == rows
    assert db.session.scalar(text("SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_detached\\_%'")) == 0


def test_a_usage_conversion_killed_halfway_resumes_and_loses_or_doubles_nothing(request):
    url = fresh_postgres_database(request.getfixturevalue("postgres_url"), "cf_events_usage_conversion")
    with make_app(url).app_context():
        upgrade(revision="0017")
        # A hundred events at the start of each of three ranges of positions (as retention would leave a stream).
        db.session.execute(text(
            "INSERT INTO app_usage_events (id, guid, created_at, state, memory_in_mb_per_instance, instance_count,"
            " app_guid, app_name, space_guid, space_name, org_guid)"
            " SELECT k * 1000000 + n, 'u-' || k || '-' || n, now(), 'STARTED', 256, 1, 'app-' || n % 7, 'web',"
            " 'space-1', 'dev', 'org-1' FROM generate_series(0, 2) AS k, generate_series(1, 100) AS n"))
        db.session.execute(text("UPDATE usage_streams SET last_id = 2000100, horizon = 2000001"
                                " WHERE name = 'app_usage_events'"))
        db.session.commit()
        before = db.session.execute(text("SELECT * FROM app_usage_events ORDER BY id")).all()
        db.engine.dispose()
    assert kill_the_upgrade_waiting_on(url, "app_usage_events_p000001", "app_usage_events") == 1

    with make_app(url).app_context():
        upgrade()
        assert db.session.execute(text("SELECT * FROM app_usage_events ORDER BY id")).all() == before
        assert usage_partitions() == [f"app_usage_events_p00000{k}" for k in range(3)]
        live, rows = usage_claims()
        assert live == rows
        assert len(rows) == 300
        replay = write_events(AppUsageEvent, [{**before[150]._asdict()}], "created_at")
        assert not replay.created
        db.session.remove()
        db.engine.dispose()
