"""Write measurements: batched POST /v2/events, the import command, and 8 concurrent usage writers.

The import reads a file of audit events in the data set's shapes, dated in a month before the data set
that nothing else writes; they are deleted by that range once measured, and the maintained counts are
checked against the rows after the import and against their snapshot after the delete.

Beside it, the floor (issue 21): the very rows the import stored, read back by COPY … TO STDOUT before
they are deleted, then copied into the same events table by `COPY events FROM STDIN`, with the user
triggers disabled (the floor: rolled back, so nothing needs deleting) and with them on (committed, then
deleted as the import's rows are).

The skip-free ordering's write cost is isolated in SQL: 8 psycopg2 writers run the service's write
transaction into scratch copies of app_usage_events, taking positions from a counter row last (as the
service does, the SPEC's way (a): the row lock is held for the INSERT and the commit), or first (the
lock held through every statement, as the service did before), or not at all (ids
from a sequence: a plain INSERT), or with the safe point issue 21 proposes (a plain INSERT that also keeps
each row's transaction id, indexed), with the same batches and the same other statements. The service's own
POST figures stand beside them.
"""
import io
import itertools
import json
import os
import random
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg2
from psycopg2.extras import execute_values

from .dataset import BUILDPACKS, START, audit_documents, new_guid
from .dataset import migration as dataset_migration
from .loadgen import Outcome, run
from .service import PROJECT

WRITE_TYPES = ("audit.app.update", "audit.app.start", "app.crash", "audit.app.ssh-authorized")
USAGE_WRITE_COLUMNS = ("guid", "created_at", "state", "previous_state", "memory_in_mb_per_instance",
                       "previous_memory_in_mb_per_instance", "instance_count", "previous_instance_count",
                       "app_guid", "app_name", "space_guid", "space_name", "org_guid", "buildpack_guid",
                       "buildpack_name", "package_state", "previous_package_state", "process_type")
# Scratch copies of app_usage_events, one per way of numbering rows (see sql_writers).
SCRATCH = {"first": "bench_scratch_counter_first", "last": "bench_scratch_counter_last",
           "plain": "bench_scratch_sequence", "safepoint": "bench_scratch_safepoint"}
SCRATCH_STREAMS = "bench_scratch_streams"
# The import measurement's events are in the month before the data set's first, which nothing else writes: it
# deletes them by that range (and ids above the data set's) once measured.
IMPORT_SPAN = timedelta(days=30)
IMPORT_START = START - IMPORT_SPAN
# Every generated batch of a run gets new guids: rounds of the same measurement must not collide.
_SEEDS = itertools.count(1000)


def audit_event(rnd, world, when):
    app = world.apps[rnd.randrange(len(world.apps))]
    user = world.users[rnd.randrange(len(world.users))]
    type_ = rnd.choice(WRITE_TYPES)
    event = {
        "guid": new_guid(rnd), "type": type_, "actor": user[0], "actor_type": "user", "actor_name": user[2],
        "actor_username": user[1], "actee": app[0], "actee_type": "app", "actee_name": app[1],
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "space_guid": app[2], "organization_guid": app[4],
        "metadata": {},
    }
    if type_ == "audit.app.update":
        event["metadata"] = {"request": {"instances": rnd.randrange(1, 9)}}
    elif type_ == "audit.app.ssh-authorized":
        event["metadata"] = {"index": rnd.randrange(4)}
    elif type_ == "app.crash":
        event.update(actor=app[0], actor_type="app", actor_name=app[1], actor_username=None)
        event["metadata"] = {"instance": new_guid(rnd), "index": 0, "cell_id": new_guid(rnd), "exit_status": 137,
                             "exit_description": "APP/PROC/WEB: Exited with status 137", "reason": "CRASHED"}
    return event


def usage_event(rnd, world):
    rank = rnd.randrange(len(world.apps))
    a_guid, a_name, s_guid, s_name, o_guid = world.apps[rank]
    state = rnd.choice(("STARTED", "STOPPED"))
    memory = (256, 512, 1024, 2048)[rank & 3]
    bp = rank % len(BUILDPACKS)
    return {
        "guid": new_guid(rnd), "state": state, "previous_state": "STOPPED" if state == "STARTED" else "STARTED",
        "memory_in_mb_per_instance": memory, "previous_memory_in_mb_per_instance": memory,
        "instance_count": 2, "previous_instance_count": 2, "app_guid": a_guid, "app_name": a_name,
        "space_guid": s_guid, "space_name": s_name, "org_guid": o_guid,
        "buildpack_guid": world.buildpack_guids[bp], "buildpack_name": BUILDPACKS[bp],
        "package_state": "STAGED", "previous_package_state": "STAGED", "process_type": "web",
    }


def post_events(make_client, world, batches, concurrency, max_seconds):
    """POST /v2/events with `batches` bodies of 1000 events from `concurrency` clients."""
    rnd = random.Random(next(_SEEDS))
    now = datetime.now(timezone.utc)
    bodies = []
    for b in range(batches):
        events = [audit_event(rnd, world, now - timedelta(seconds=b)) for _ in range(1000)]
        bodies.append(("POST", "/v2/events", json.dumps(events).encode()))
    return run(make_client, bodies, concurrency, len(bodies), max_seconds, expect=(201,),
               units_of=lambda method, path, body: 1000)


def write_import_file(world, count, seed=None):
    """A newline-delimited JSON file of `count` audit events in the data set's shapes (dataset.audit_documents),
    in the import's time range; its path (the caller deletes it)."""
    documents = audit_documents(count, world, next(_SEEDS) if seed is None else seed, IMPORT_START, IMPORT_SPAN)
    with tempfile.NamedTemporaryFile("wb", prefix="cf-events-bench-import-", suffix=".ndjson", delete=False) as file:
        for document in documents:
            file.write(json.dumps(document, separators=(",", ":")).encode() + b"\n")
    return file.name


class CommandFailed(Exception):
    pass


def run_import(database_url, secret, path, timeout):
    """Run `flask --app wsgi events import FILE --kind audit`; (seconds, {"written": n, "already present": n,
    "rejected": n, "reasons": its first "line N: …" lines}) from its summary, or CommandFailed."""
    flask = os.path.join(PROJECT, ".venv", "bin", "flask")
    env = {**os.environ, "DATABASE_URL": database_url, "TOKEN_SECRET": secret}
    try:
        started = time.perf_counter()
        result = subprocess.run([flask, "--app", "wsgi", "events", "import", path, "--kind", "audit"],
                                cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout)
        elapsed = time.perf_counter() - started
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"did not finish within {timeout} s") from None
    summary = {"reasons": [line for line in result.stdout.splitlines() if line.startswith("line ")][:3]}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(":")
        if key in ("written", "already present", "rejected") and value.strip().isdigit():
            summary[key] = int(value)
    # It exits 1 when it rejected lines, having written the others: the summary says what happened.
    if "written" not in summary or result.returncode != (1 if summary.get("rejected") else 0):
        raise CommandFailed(f"failed ({result.returncode}): {' '.join((result.stdout + result.stderr).split())[-300:]}")
    return elapsed, summary


def delete_imported(url, rows):
    """Delete what the import measurement wrote: every event of its time range (which the data set and the
    other measurements leave alone) above the data set's ids. Returns the rows deleted."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM events WHERE timestamp >= %s AND timestamp < %s AND id > %s",
                        (IMPORT_START, IMPORT_START + IMPORT_SPAN, rows))
            return cur.rowcount
    finally:
        conn.close()


# --- the floor: COPY of the import's rows into the same table, triggers on and off ---------------------------
def _event_columns(cur):
    """The events table's columns that a write sets (all but id and generated ones), quoted, in table order:
    read from the catalogue, so that they follow the migrations."""
    cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'events'::regclass AND attnum > 0"
                " AND NOT attisdropped AND attgenerated = '' AND attname <> 'id' ORDER BY attnum")
    return ", ".join(f'"{name}"' for (name,) in cur.fetchall())


def read_imported(url, rows):
    """The rows the import measurement stored (those delete_imported deletes), exactly as stored: (their
    columns, their COPY text in id order, how many)."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            columns = _event_columns(cur)
            where = cur.mogrify("timestamp >= %s AND timestamp < %s AND id > %s",
                                (IMPORT_START, IMPORT_START + IMPORT_SPAN, rows)).decode()
            buffer = io.BytesIO()
            cur.copy_expert(f"COPY (SELECT {columns} FROM events WHERE {where} ORDER BY id) TO STDOUT", buffer)
        conn.rollback()
    finally:
        conn.close()
    data = buffer.getvalue()
    return columns, data, data.count(b"\n")


def copy_floor(url, columns, data, triggers):
    """Time `COPY events (columns) FROM STDIN` of `data` in one transaction: with the user triggers on, then
    committed (its rows are deleted by delete_imported), or, `triggers` false, after `ALTER TABLE events
    DISABLE TRIGGER USER` in that transaction, then rolled back (nothing stays, the counts untouched).
    The time is the COPY statement's alone, commit excluded in both. Returns {"rows", "seconds",
    "commit" (seconds, None when rolled back), "settings" (fsync, synchronous_commit as the session had
    them)}."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            settings = {}
            for name in ("fsync", "synchronous_commit"):
                cur.execute(f"SHOW {name}")
                settings[name] = cur.fetchone()[0]
            # The ALTER takes a lock on events that the service's idle pool never holds; not forever all the same.
            cur.execute("SET lock_timeout = '60s'")
            if not triggers:
                cur.execute("ALTER TABLE events DISABLE TRIGGER USER")
            started = time.perf_counter()
            cur.copy_expert(f"COPY events ({columns}) FROM STDIN", io.BytesIO(data), size=1 << 20)
            seconds = time.perf_counter() - started
            copied = cur.rowcount
        commit = None
        if triggers:
            started = time.perf_counter()
            conn.commit()
            commit = time.perf_counter() - started
        else:
            conn.rollback()
    finally:
        conn.close()  # rolls back whatever a failure left open
    return {"rows": copied, "seconds": seconds, "commit": commit, "settings": settings}


# --- the maintained counts (migrations 0005, 0010, 0013 and 0016), checked against the rows -------------------
COUNT_TABLES = {"event_counts_by_day": "type, day", "event_counts_by_target": "target_type, target_guid, type",
                "event_counts_by_actee_day": "type, day, actee, actee_type, actee_name",
                "event_counts_by_actee_month": "type, month, actee, actee_type"}
COUNTS_SNAPSHOT = "bench_snapshot_"  # + table


def _count_deltas(source):
    """{count table: SELECT of the (keys, n) that the events of `source` add}, as the triggers compute them."""
    targets = dataset_migration("0010_more_event_counts")
    crashes = dataset_migration("0013_crash_counts_by_actee_and_day")
    monthly = dataset_migration("0016_crash_counts_by_actee_and_month")
    return {"event_counts_by_day": f"SELECT type, (timestamp AT TIME ZONE 'UTC')::date, count(*) FROM {source}"
                                   " GROUP BY 1, 2",
            "event_counts_by_target": targets._target_deltas(source, targets.TARGETS),
            "event_counts_by_actee_day": crashes._deltas(source),
            "event_counts_by_actee_month": monthly._deltas(source)}


def snapshot_counts(url):
    """Copies of the count tables, to check and put back what a measurement's writes and deletes left."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for table in COUNT_TABLES:
                cur.execute(f"DROP TABLE IF EXISTS {COUNTS_SNAPSHOT}{table}")
                cur.execute(f"CREATE TABLE {COUNTS_SNAPSHOT}{table} AS SELECT * FROM {table}")
    finally:
        conn.close()


def _counts_connection(url):
    """A connection for the comparisons over the count tables (a million rows and more at 10 M events): memory
    enough to hash them instead of sorting them on disk."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SET work_mem = '512MB'")
    return conn


def count_mismatches(url, added_after=None):
    """{count table: (mismatching keys, a few of them)}: where the maintained counts differ from the snapshot's
    plus what the events with ids above `added_after` add (None: from the snapshot alone). A count of 0 is
    the same as no row (a delete leaves its rows at 0)."""
    deltas = _count_deltas(f"(SELECT * FROM events WHERE id > {int(added_after)}) AS added") \
        if added_after is not None else {}
    conn = _counts_connection(url)
    found = {}
    try:
        with conn.cursor() as cur:
            for table, keys in COUNT_TABLES.items():
                parts = [f"SELECT {keys}, n FROM {COUNTS_SNAPSHOT}{table}"]
                if table in deltas:
                    parts.append(f"SELECT * FROM ({deltas[table]}) AS delta")
                expected = (f"SELECT {keys}, sum(n) AS n FROM ({' UNION ALL '.join(parts)}) AS e"
                            f" GROUP BY {keys} HAVING sum(n) <> 0")
                cur.execute(f"WITH expected AS ({expected}), actual AS (SELECT {keys}, n FROM {table} WHERE n <> 0)"
                            " SELECT 'expected', * FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual) AS a"
                            " UNION ALL"
                            " SELECT 'found', * FROM (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected) AS b")
                rows = cur.fetchall()
                found[table] = (len(rows), rows[:4])
    finally:
        conn.close()
    return found


def restore_counts(url):
    """The count tables as the snapshot has them (the rows a delete left at 0, and days' id bounds that a
    write widened). Returns the rows still differing from it (0 when restored)."""
    conn = _counts_connection(url)
    differing = 0
    try:
        with conn.cursor() as cur:
            for table, keys in COUNT_TABLES.items():
                snapshot = f"{COUNTS_SNAPSHOT}{table}"
                match = " AND ".join(f"s.{key} = c.{key}" for key in keys.split(", "))
                cur.execute(f"DELETE FROM {table} AS c WHERE n = 0 AND NOT EXISTS"
                            f" (SELECT 1 FROM {snapshot} AS s WHERE {match})")
                if table == "event_counts_by_day":
                    cur.execute(f"UPDATE {table} AS c SET first_id = s.first_id, last_id = s.last_id FROM {snapshot}"
                                f" AS s WHERE {match} AND (c.first_id, c.last_id) IS DISTINCT FROM"
                                f" (s.first_id, s.last_id)")
                cur.execute(f"SELECT count(*) FROM ((TABLE {table} EXCEPT ALL TABLE {snapshot}) UNION ALL"
                            f" (TABLE {snapshot} EXCEPT ALL TABLE {table})) AS d")
                differing += cur.fetchone()[0]
    finally:
        conn.close()
    return differing


def drop_counts_snapshot(url):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for table in COUNT_TABLES:
                cur.execute(f"DROP TABLE IF EXISTS {COUNTS_SNAPSHOT}{table}")
    finally:
        conn.close()


def post_usage_events(make_client, world, batch, writers, max_seconds, max_events):
    """`writers` clients POSTing /v2/app_usage_events batches of `batch` for up to `max_seconds`."""
    rnd = random.Random(next(_SEEDS))
    bodies = []
    for _ in range(max(writers, max_events // batch)):
        events = [usage_event(rnd, world) for _ in range(batch)]
        bodies.append(("POST", "/v2/app_usage_events", json.dumps(events if batch > 1 else events[0]).encode()))
    return run(make_client, bodies, writers, len(bodies), max_seconds, expect=(201,),
               units_of=lambda method, path, body: batch)


def create_scratch(url):
    """Empty copies of app_usage_events for the SQL writers, and their counter rows."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        drop_scratch_sql(cur)
        for mode, table in SCRATCH.items():
            cur.execute(f"CREATE TABLE {table} (LIKE app_usage_events INCLUDING ALL)")
            if mode in ("plain", "safepoint"):
                cur.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
                cur.execute(f"ALTER TABLE {table} ALTER id SET DEFAULT nextval('{table}_id_seq')")
            if mode == "safepoint":
                # Each row knows its transaction; readers order by (xact, id) below the oldest one in flight.
                cur.execute(f"ALTER TABLE {table} ADD xact xid8 NOT NULL DEFAULT pg_current_xact_id()")
                cur.execute(f"CREATE INDEX ON {table} (xact, id)")
        cur.execute(f"CREATE TABLE {SCRATCH_STREAMS} (name text PRIMARY KEY, last_id bigint NOT NULL)")
        cur.execute(f"INSERT INTO {SCRATCH_STREAMS} VALUES ('first', 0), ('last', 0)")
    conn.close()


def drop_scratch(url):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        drop_scratch_sql(cur)
    conn.close()


def drop_scratch_sql(cur):
    for table in (*SCRATCH.values(), SCRATCH_STREAMS):
        cur.execute(f"DROP TABLE IF EXISTS {table}")


def sql_writers(url, world, batch, writers, max_seconds, max_events, mode):
    """`writers` psycopg2 threads writing batches of `batch` app usage events into a scratch table.

    Every transaction looks the batch's guids up and INSERTs the batch, as the service's write
    transaction does; `mode` says how rows get their place in the stream:
    - "last": positions taken from a counter row just before the INSERT, as the service does (SPEC 4.1
      (a): the row lock is held for the INSERT and the commit);
    - "first": positions taken by the transaction's first statement (the lock held throughout);
    - "plain": ids from a sequence and nothing else (no skip-free ordering);
    - "safepoint": a plain INSERT whose rows also keep their transaction's id, indexed with the row's id,
      for readers that read in (transaction, id) order only below the oldest transaction in flight
      (`pg_snapshot_xmin(pg_current_snapshot())`): skip-free without a lock, but with gaps, so a page's
      total is a count rather than a subtraction. Its write cost is the extra column and index.
    """
    rnd = random.Random(next(_SEEDS))
    now = datetime.now(timezone.utc)
    per_writer = max(1, max_events // batch // writers)
    batches = [[[tuple(({**usage_event(rnd, world), "created_at": now})[c] for c in USAGE_WRITE_COLUMNS)
                 for _ in range(batch)] for _ in range(per_writer)] for _ in range(writers)]
    table = SCRATCH[mode]
    columns = ", ".join(USAGE_WRITE_COLUMNS)
    take = f"UPDATE {SCRATCH_STREAMS} SET last_id = last_id + %s WHERE name = %s RETURNING last_id"
    outcome = Outcome()
    lock = threading.Lock()
    connections = [psycopg2.connect(url) for _ in range(writers)]
    barrier = threading.Barrier(writers + 1)
    deadline = [0.0]

    def write(cur, rows):
        guids = [row[0] for row in rows]
        if mode == "first":
            cur.execute(take, (len(rows), mode))
            first = cur.fetchone()[0] - len(rows) + 1
        cur.execute(f"SELECT guid FROM {table} WHERE guid = ANY(%s)", (guids,))
        cur.fetchall()
        if mode == "last":
            cur.execute(take, (len(rows), mode))
            first = cur.fetchone()[0] - len(rows) + 1
        if mode in ("plain", "safepoint"):
            execute_values(cur, f"INSERT INTO {table} ({columns}) VALUES %s", rows, page_size=1000)
        else:
            execute_values(cur, f"INSERT INTO {table} (id, {columns}) VALUES %s",
                           [(first + i, *row) for i, row in enumerate(rows)], page_size=1000)

    def writer(conn, mine):
        barrier.wait()
        with conn.cursor() as cur:
            for rows in mine:
                if time.perf_counter() >= deadline[0]:
                    return
                t0 = time.perf_counter()
                try:
                    write(cur, rows)
                    conn.commit()
                except psycopg2.Error as error:
                    conn.rollback()
                    with lock:
                        outcome.errors += 1
                        outcome.first_error = outcome.first_error or str(error).strip()
                    continue
                latency = time.perf_counter() - t0
                with lock:
                    outcome.latencies.append(latency)
                    outcome.units += len(rows)

    threads = [threading.Thread(target=writer, args=(conn, mine), daemon=True)
               for conn, mine in zip(connections, batches, strict=True)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline[0] = started + max_seconds
    barrier.wait()
    for thread in threads:
        thread.join(max_seconds + 120)
    outcome.elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return outcome
