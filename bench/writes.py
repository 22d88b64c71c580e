"""Write measurements: batched POST /v2/events, the import command, and 8 concurrent usage writers.

The skip-free ordering's write cost is isolated in SQL: 8 psycopg2 writers run the service's write
transaction into scratch copies of app_usage_events, taking positions from a counter row last (as the
service does, the SPEC's way (a): the row lock is held for the INSERT and the commit), or first (the
lock held through every statement, as the service did before), or not at all (ids
from a sequence: a plain INSERT), with the same batches and the same other statements. The service's own
POST figures stand beside them.
"""
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

from .dataset import BUILDPACKS, new_guid
from .loadgen import Outcome, run
from .service import PROJECT

WRITE_TYPES = ("audit.app.update", "audit.app.start", "app.crash", "audit.app.ssh-authorized")
USAGE_WRITE_COLUMNS = ("guid", "created_at", "state", "previous_state", "memory_in_mb_per_instance",
                       "previous_memory_in_mb_per_instance", "instance_count", "previous_instance_count",
                       "app_guid", "app_name", "space_guid", "space_name", "org_guid", "buildpack_guid",
                       "buildpack_name", "package_state", "previous_package_state", "process_type")
# Scratch copies of app_usage_events, one per way of numbering rows (see sql_writers).
SCRATCH = {"first": "bench_scratch_counter_first", "last": "bench_scratch_counter_last",
           "plain": "bench_scratch_sequence"}
SCRATCH_STREAMS = "bench_scratch_streams"
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


def run_import(database_url, secret, world, lines, timeout):
    """Time `flask --app wsgi events import FILE --kind audit` on `lines` new events.

    Returns (outcome, detail) or (None, reason) when the command is not there.
    """
    if not os.path.exists(os.path.join(PROJECT, "app", "importer.py")):
        return None, "not available (app/importer.py does not exist)"
    rnd = random.Random(next(_SEEDS))
    now = datetime.now(timezone.utc)
    flask = os.path.join(PROJECT, ".venv", "bin", "flask")
    with tempfile.NamedTemporaryFile("w", prefix="cf-events-bench-import-", suffix=".ndjson", delete=False) as file:
        for n in range(lines):
            file.write(json.dumps(audit_event(rnd, world, now - timedelta(seconds=n // 100))) + "\n")
    env = {**os.environ, "DATABASE_URL": database_url, "TOKEN_SECRET": secret}
    try:
        started = time.perf_counter()
        result = subprocess.run([flask, "--app", "wsgi", "events", "import", file.name, "--kind", "audit"],
                                cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout)
        elapsed = time.perf_counter() - started
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout} s"
    finally:
        os.unlink(file.name)
    if result.returncode != 0:
        return None, f"failed ({result.returncode}): {' '.join((result.stdout + result.stderr).split())[:200]}"
    written = next((int(line.split(":")[1]) for line in result.stdout.splitlines()
                    if line.startswith("written:")), lines)
    outcome = Outcome()
    outcome.units, outcome.elapsed = written, elapsed
    return outcome, f"{written:,} written in {elapsed:.1f} s (process start included)"


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
            if mode == "plain":
                cur.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
                cur.execute(f"ALTER TABLE {table} ALTER id SET DEFAULT nextval('{table}_id_seq')")
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
    - "plain": ids from a sequence and nothing else (no skip-free ordering).
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
        if mode == "plain":
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
