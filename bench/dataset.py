"""The benchmark's data set: N audit events and N app usage events with realistic distributions.

Generated deterministically (one seed) as CSV in bounded chunks and COPYed into the tables the
project's migrations created: indexes and unique constraints are dropped first and rebuilt after
(their definitions are read from the catalogue, so whatever the migrations declare is rebuilt), all
in the transaction that truncated the table, so that with `wal_level=minimal` the load writes no WAL.
The event-count triggers (migration 0005) count the rows as they are copied; the known_resources
triggers (migration 0009) are disabled meanwhile and known_resources is folded once from the loaded
tables afterwards, with the migration's own statement (see rebuild_known_resources).

Distributions:
- apps, their spaces and organizations, and users: Zipf-like popularity (a few apps make a large share
  of the events, most apps few), app -> space -> organization fixed;
- audit event types: a few dominant ones (audit.app.update, app.crash, start/stop, ssh) and a long
  tail down to a rare one (audit.service_broker.delete, about 50 per million);
- time: six months, half the events in bursts (deploy storms and crash loops of one app, ~50 ms apart),
  the rest spread out; ids follow time, as they do when events are written as they happen;
- app usage events: ids are gap-free positions 1..N in created_at order, states STARTED/STOPPED
  dominant, then buildpack, staging and task events.
"""
import importlib.util
import io
import json
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from multiprocessing import get_context

import psycopg2

DATASET_VERSION = "v1"
SEED = 20261123
CHUNK = 50_000
START = datetime(2026, 3, 1, tzinfo=timezone.utc)
SPAN = timedelta(days=183)
END = START + SPAN  # the last events are just before it (a UTC midnight)
BURST_GAP = 0.05  # seconds between events inside a burst, on average
BURST_LENGTH = 300  # events in a burst, on average
BURST_SHARE = 0.5  # of all events

# (type, weight, kind). Kinds decide the actor and actee; see _event_rows.
EVENT_TYPES = [
    ("audit.app.update", 0.22, "app"),
    ("app.crash", 0.15, "crash"),
    ("audit.app.start", 0.10, "app"),
    ("audit.app.stop", 0.09, "app"),
    ("audit.app.ssh-authorized", 0.07, "app"),
    ("audit.app.droplet.create", 0.06, "app"),
    ("audit.app.process.crash", 0.05, "crash"),
    ("audit.app.map-route", 0.04, "app"),
    ("audit.app.restage", 0.03, "app"),
    ("audit.app.create", 0.03, "app"),
    ("audit.app.process.scale", 0.03, "app"),
    ("audit.app.build.create", 0.03, "app"),
    ("audit.route.create", 0.025, "route"),
    ("audit.app.environment.show", 0.02, "app"),
    ("audit.app.delete-request", 0.02, "app"),
    ("audit.service_instance.create", 0.015, "service_instance"),
    ("audit.user.organization_auditor_add", 0.001, "org_user"),
    ("audit.service_broker.delete", 0.00005, "broker"),
]
MOST_COMMON_TYPE = "audit.app.update"
RARE_TYPE = "audit.service_broker.delete"
CRASH_TYPE = "app.crash"
BURST_MIXES = {
    "deploy": ["audit.app.update", "audit.app.stop", "audit.app.start", "audit.app.droplet.create",
               "audit.app.build.create", "audit.app.map-route", "audit.app.restage"],
    "crashloop": ["app.crash", "audit.app.process.crash"],
}
APP_STATES = [
    ("STARTED", 0.36), ("STOPPED", 0.33), ("BUILDPACK_SET", 0.09), ("STAGING_STARTED", 0.07),
    ("STAGING_STOPPED", 0.07), ("TASK_STARTED", 0.04), ("TASK_STOPPED", 0.04),
]
BUILDPACKS = ["java_buildpack", "nodejs_buildpack", "go_buildpack", "python_buildpack", "ruby_buildpack",
              "staticfile_buildpack", "binary_buildpack", "https://github.com/cloudfoundry/php-buildpack.git"]

EVENT_COLUMNS = ("id", "guid", "created_at", "timestamp", "type", "actor", "actor_type", "actor_name",
                 "actor_username", "actee", "actee_type", "actee_name", "metadata", "space_guid",
                 "organization_guid")
USAGE_COLUMNS = ("id", "guid", "created_at", "state", "previous_state", "memory_in_mb_per_instance",
                 "previous_memory_in_mb_per_instance", "instance_count", "previous_instance_count", "app_guid",
                 "app_name", "space_guid", "space_name", "org_guid", "buildpack_guid", "buildpack_name",
                 "package_state", "previous_package_state", "parent_app_guid", "parent_app_name", "process_type",
                 "task_name", "task_guid")
TABLES = {"events": EVENT_COLUMNS, "app_usage_events": USAGE_COLUMNS}
USAGE_STREAM = "app_usage_events"
KNOWN = "known_resources"  # folded from every event table (migration 0009), marked like the tables
KNOWN_SNAPSHOT = "bench_known_resources_snapshot"  # its copy while the write measurements run
# Maintained by triggers (migrations 0005, 0010, 0013, 0016).
COUNT_TABLES = ("event_counts_by_day", "event_counts_by_target", "event_counts_by_actee_day",
                "event_counts_by_actee_month")
MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations", "versions")


def marker(rows):
    return f"cf-events bench dataset {DATASET_VERSION} rows={rows}"


def new_guid(rnd):
    h = f"{rnd.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _guids(rnd, count):
    """`count` random uuid-shaped guids, made in bulk."""
    hexes = rnd.randbytes(16 * count).hex()
    out = []
    for i in range(0, 32 * count, 32):
        h = hexes[i:i + 32]
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}")
    return out


def _zipf_cum_weights(n, exponent):
    total, cum = 0.0, []
    for rank in range(1, n + 1):
        total += rank ** -exponent
        cum.append(total)
    return cum


def _csv_quote(text):
    return '"' + text.replace('"', '""') + '"'


class World:
    """Organizations, spaces, apps and users; index 0 is the busiest of each (deterministic)."""

    def __init__(self, rows, seed=SEED):
        rnd = random.Random(seed)
        self.n_apps = 20_000 if rows <= 2_000_000 else 60_000
        n_spaces, n_users = self.n_apps // 5, 3_000
        n_orgs = max(50, n_spaces // 10)
        self.orgs = [new_guid(rnd) for _ in range(n_orgs)]
        org_cw = _zipf_cum_weights(n_orgs, 1.0)
        self.spaces = []  # (guid, name, org guid)
        for i, org in enumerate(rnd.choices(range(n_orgs), cum_weights=org_cw, k=n_spaces)):
            self.spaces.append((new_guid(rnd), f"space-{i}", self.orgs[org]))
        space_cw = _zipf_cum_weights(n_spaces, 1.0)
        self.apps = []  # (guid, name, space guid, space name, org guid)
        for i, space in enumerate(rnd.choices(range(n_spaces), cum_weights=space_cw, k=self.n_apps)):
            s_guid, s_name, org = self.spaces[space]
            self.apps.append((new_guid(rnd), f"app-{i}", s_guid, s_name, org))
        self.app_cw = _zipf_cum_weights(self.n_apps, 0.9)
        self.users = [(new_guid(rnd), f"user{i}", f"user{i}@example.com") for i in range(n_users)]
        self.user_cw = _zipf_cum_weights(n_users, 1.0)
        self.buildpack_guids = [new_guid(rnd) for _ in BUILDPACKS]
        self.brokers = [new_guid(rnd) for _ in range(20)]

    def app(self, rank):
        return self.apps[rank]

    def space_of_app(self, rank):
        return self.apps[rank][2]

    def org_of_app(self, rank):
        return self.apps[rank][4]

    def actor(self, rank):
        """The user at popularity rank `rank` as events name their actor: (actor, actor_username, actor_name),
        the last an email. Users are the actors of every event but crashes (whose actor is the app)."""
        return self.users[rank]


class Timeline:
    """Monotonic timestamps over SPAN (from START, unless told otherwise): half the events in bursts of one
    app, the rest spread out."""

    def __init__(self, rows, rnd, start=START, span=SPAN):
        self.rnd = rnd
        self.t = start.timestamp()
        quiet_events = rows * (1 - BURST_SHARE)
        self.quiet_gap = (span.total_seconds() - rows * BURST_SHARE * BURST_GAP) / quiet_events
        # A burst starts after a quiet event with this probability, so bursts hold BURST_SHARE of all events.
        self.burst_start = BURST_SHARE / (1 - BURST_SHARE) / BURST_LENGTH
        self.burst_left = 0
        self.burst = None

    def next(self, world):
        """(epoch seconds, burst) where burst is (app rank, kind) or None."""
        rnd = self.rnd
        if self.burst_left > 0:
            self.burst_left -= 1
            self.t += rnd.expovariate(1 / BURST_GAP)
            return self.t, self.burst
        self.t += rnd.expovariate(1 / self.quiet_gap)
        if rnd.random() < self.burst_start:
            self.burst_left = max(1, int(rnd.expovariate(1 / BURST_LENGTH)))
            app = rnd.choices(range(world.n_apps), cum_weights=world.app_cw)[0]
            self.burst = (app, "crashloop" if rnd.random() < 0.3 else "deploy")
        return self.t, None


class TimeText:
    """PostgreSQL timestamptz text for monotonic epoch seconds, formatting each second once."""

    def __init__(self):
        self.second = None
        self.text = ""

    def __call__(self, t):
        second = int(t)
        if second != self.second:
            self.second = second
            self.text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        return f"{self.text}.{int((t - second) * 1e6):06d}+00"


def _metadata_makers(rnd):
    """{type: a function making one metadata document of it, shaped as the catalogue describes it}."""
    def crash():
        return {"instance": new_guid(rnd), "index": rnd.randrange(4), "cell_id": new_guid(rnd),
                "exit_status": rnd.choice([137, 1, 255]),
                "exit_description": rnd.choice(["APP/PROC/WEB: Exited with status 137 (out of memory)",
                                                "Instance never healthy after 1m0s: Failed to make TCP connection",
                                                "APP/PROC/WEB: Exited with status 1"]),
                "reason": "CRASHED"}

    makers = {
        "audit.app.update": lambda: {"request": rnd.choice([
            {"instances": rnd.randrange(1, 10)}, {"memory": rnd.choice([256, 512, 1024])}, {"state": "STARTED"},
            {"state": "STOPPED"}, {"environment_json": "[PRIVATE DATA HIDDEN]"}, {"name": "renamed-app"}])},
        "app.crash": crash,
        "audit.app.process.crash": lambda: {**crash(), "version": new_guid(rnd), "crash_count": rnd.randrange(1, 9)},
        "audit.app.stop": lambda: {"reason": "user request"},
        "audit.app.ssh-authorized": lambda: {"index": rnd.randrange(4)},
        "audit.app.droplet.create": lambda: {"droplet_guid": new_guid(rnd), "package_guid": new_guid(rnd)},
        "audit.app.map-route": lambda: {"route_guid": new_guid(rnd), "app_port": 8080,
                                        "destination_guid": new_guid(rnd), "process_type": "web", "weight": None,
                                        "protocol": "http1"},
        "audit.app.create": lambda: {"request": {"name": "app", "space_guid": new_guid(rnd), "instances": 1,
                                                 "memory": 1024, "environment_json": "[PRIVATE DATA HIDDEN]"}},
        "audit.app.process.scale": lambda: {"process_guid": new_guid(rnd), "process_type": "web",
                                            "request": {"instances": rnd.randrange(1, 10)}},
        "audit.app.build.create": lambda: {"build_guid": new_guid(rnd), "package_guid": new_guid(rnd)},
        "audit.route.create": lambda: {"request": {"host": f"h{rnd.randrange(10**6)}", "domain_guid": new_guid(rnd)}},
        "audit.app.delete-request": lambda: {"request": {"recursive": True}},
        "audit.service_instance.create": lambda: {"request": {"name": "db", "service_plan_guid": new_guid(rnd),
                                                              "parameters": "[PRIVATE DATA HIDDEN]"}},
        "audit.user.organization_auditor_add": lambda: {"request": {"username": "someone"}},
        "audit.service_broker.delete": lambda: {"request": {}},
    }
    return {name: makers.get(name, dict) for name, _, _ in EVENT_TYPES}


def _metadata_variants(rnd, world):
    """A few CSV-quoted metadata documents per type, shaped as the catalogue describes them."""
    makers = _metadata_makers(rnd)
    variants = {}
    for name, _, _ in EVENT_TYPES:
        make = makers[name]
        variants[name] = [_csv_quote(json.dumps(make(), separators=(",", ":"))) for _ in range(16)]
    return variants


def event_rows(rows, world, seed=SEED):
    """CSV chunks (strings) of `rows` audit events, ids 1..rows in time order."""
    rnd = random.Random(seed + 1)
    timeline = Timeline(rows, rnd)
    fmt = TimeText()
    variants = _metadata_variants(rnd, world)
    names = [t for t, _, _ in EVENT_TYPES]
    kinds = {t: k for t, _, k in EVENT_TYPES}
    type_cw = []
    total = 0.0
    for _, weight, _ in EVENT_TYPES:
        total += weight
        type_cw.append(total)
    apps, users, n_apps = world.apps, world.users, world.n_apps
    next_id = 1
    while next_id <= rows:
        k = min(CHUNK, rows - next_id + 1)
        types = rnd.choices(names, cum_weights=type_cw, k=k)
        app_ranks = rnd.choices(range(n_apps), cum_weights=world.app_cw, k=k)
        user_ranks = rnd.choices(range(len(users)), cum_weights=world.user_cw, k=k)
        guids = _guids(rnd, 2 * k)
        out = []
        for i in range(k):
            t, burst = timeline.next(world)
            type_, app = types[i], app_ranks[i]
            if burst is not None and rnd.random() < 0.6:
                app = burst[0]
                type_ = rnd.choice(BURST_MIXES[burst[1]])
            stamp = fmt(t)
            a_guid, a_name, s_guid, _, o_guid = apps[app]
            u_guid, u_name, u_email = users[user_ranks[i]]
            kind = kinds[type_]
            if kind == "app":
                actor = (u_guid, "user", u_email, u_name)
                actee = (a_guid, "app", a_name)
            elif kind == "crash":
                actor = (a_guid, "app", a_name, "")
                actee = (a_guid, "app", a_name)
            elif kind == "route":
                actor = (u_guid, "user", u_email, u_name)
                actee = (guids[k + i], "route", f"{a_name}-route")
            elif kind == "service_instance":
                actor = (u_guid, "user", u_email, u_name)
                actee = (guids[k + i], "service_instance", f"{a_name}-db")
            elif kind == "org_user":
                actor = (u_guid, "user", u_email, u_name)
                actee = (users[(user_ranks[i] + 1) % len(users)][0], "user", "auditor")
                s_guid = ""
            else:  # broker: platform-wide, no space or organization
                actor = (u_guid, "user", u_email, u_name)
                actee = (world.brokers[app % len(world.brokers)], "service_broker", "broker")
                s_guid = o_guid = ""
            actor_username = actor[3] if actor[3] else '""'
            out.append(
                f"{next_id + i},{guids[i]},{stamp},{stamp},{type_},{actor[0]},{actor[1]},{actor[2]},{actor_username},"
                f"{actee[0]},{actee[1]},{actee[2]},{variants[type_][i & 15]},{s_guid},{o_guid}\n"
            )
        next_id += k
        yield "".join(out)


def usage_rows(rows, world, seed=SEED):
    """CSV chunks of `rows` app usage events, ids (positions) 1..rows in created_at order."""
    rnd = random.Random(seed + 2)
    timeline = Timeline(rows, rnd)
    fmt = TimeText()
    states = [s for s, _ in APP_STATES]
    state_cw, total = [], 0.0
    for _, weight in APP_STATES:
        total += weight
        state_cw.append(total)
    apps, n_apps = world.apps, world.n_apps
    memories = [256, 512, 1024, 2048]
    counts = [1, 1, 2, 2, 3, 4, 6, 10]
    next_id = 1
    while next_id <= rows:
        k = min(CHUNK, rows - next_id + 1)
        picked = rnd.choices(states, cum_weights=state_cw, k=k)
        app_ranks = rnd.choices(range(n_apps), cum_weights=world.app_cw, k=k)
        guids = _guids(rnd, 2 * k)
        out = []
        for i in range(k):
            t, burst = timeline.next(world)
            app = app_ranks[i]
            state = picked[i]
            if burst is not None and rnd.random() < 0.6:
                app = burst[0]
                state = rnd.choice(("STARTED", "STOPPED")) if burst[1] == "crashloop" else \
                    rnd.choice(("STAGING_STARTED", "STAGING_STOPPED", "STARTED", "STOPPED", "BUILDPACK_SET"))
            a_guid, a_name, s_guid, s_name, o_guid = apps[app]
            memory = memories[app & 3]
            count = counts[app & 7]
            bp = app % len(BUILDPACKS)
            bp_guid, bp_name = world.buildpack_guids[bp], BUILDPACKS[bp]
            if state in ("STARTED", "STOPPED", "BUILDPACK_SET"):
                previous = "STOPPED" if state == "STARTED" else "STARTED"
                row = (state, previous, memory, memory, count, count, a_guid, a_name, s_guid, s_name, o_guid,
                       bp_guid, bp_name, "STAGED", "STAGED", "", "", "web" if app % 5 else "worker", "", "")
            elif state.startswith("STAGING"):
                row = (state, "", memory, "", 1, "", "", "", s_guid, s_name, o_guid, bp_guid, bp_name,
                       "PENDING" if state == "STAGING_STARTED" else "STAGED", "PENDING", a_guid, a_name, "", "", "")
            else:  # a task
                row = (state, "", 256, "", 1, "", "", "", s_guid, s_name, o_guid, "", "", "", "", a_guid, a_name,
                       "", f"task-{app % 7}", guids[k + i])
            fields = ",".join('""' if v == "" and j in _USAGE_EMPTY_STRINGS else str(v) for j, v in enumerate(row))
            out.append(f"{next_id + i},{guids[i]},{fmt(t)},{fields}\n")
        next_id += k
        yield "".join(out)


def audit_documents(count, world, seed, start, span):
    """`count` audit events in the write API's shape (POST /v2/events, `flask events import`), in time order
    over [start, start + span): the data set's shapes (its types and their weights, bursts, metadata, apps,
    spaces, organizations and users, random uuid4 guids as Cloud Controller's are), times in CC's whole
    seconds. Deterministic for a seed."""
    rnd = random.Random(seed)
    # A timeline's length varies with its bursts (by a quarter and more at 20 000 events): aimed at the
    # first half of the span, it ends inside it, and the clamp below is only a guard.
    timeline = Timeline(count, rnd, start, span / 2)
    makers = _metadata_makers(rnd)
    names = [t for t, _, _ in EVENT_TYPES]
    weights = [w for _, w, _ in EVENT_TYPES]
    kinds = {t: k for t, _, k in EVENT_TYPES}
    apps, users = world.apps, world.users
    end = (start + span).timestamp()
    stamp = None
    for n in range(count):
        if n % CHUNK == 0:
            k = min(CHUNK, count - n)
            types = rnd.choices(names, weights, k=k)
            app_ranks = rnd.choices(range(world.n_apps), cum_weights=world.app_cw, k=k)
            user_ranks = rnd.choices(range(len(users)), cum_weights=world.user_cw, k=k)
        t, burst = timeline.next(world)
        t = min(t, end - 1)
        type_, app, user_rank = types[n % CHUNK], app_ranks[n % CHUNK], user_ranks[n % CHUNK]
        if burst is not None and rnd.random() < 0.6:
            app = burst[0]
            type_ = rnd.choice(BURST_MIXES[burst[1]])
        a_guid, a_name, s_guid, _, o_guid = apps[app]
        u_guid, u_name, u_email = users[user_rank]
        kind = kinds[type_]
        actor = (u_guid, "user", u_email, u_name)
        if kind == "app":
            actee = (a_guid, "app", a_name)
        elif kind == "crash":
            actor = (a_guid, "app", a_name, "")
            actee = (a_guid, "app", a_name)
        elif kind == "route":
            actee = (new_guid(rnd), "route", f"{a_name}-route")
        elif kind == "service_instance":
            actee = (new_guid(rnd), "service_instance", f"{a_name}-db")
        elif kind == "org_user":
            actee = (users[(user_rank + 1) % len(users)][0], "user", "auditor")
            s_guid = ""
        else:  # broker: platform-wide, no space or organization
            actee = (world.brokers[app % len(world.brokers)], "service_broker", "broker")
            s_guid = o_guid = ""
        if n == 0 or int(t) != int(stamp[0]):
            stamp = (t, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t))))
        yield {"guid": new_guid(rnd), "type": type_, "actor": actor[0], "actor_type": actor[1],
               "actor_name": actor[2], "actor_username": actor[3], "actee": actee[0], "actee_type": actee[1],
               "actee_name": actee[2], "timestamp": stamp[1], "space_guid": s_guid, "organization_guid": o_guid,
               "metadata": makers[type_]()}


# Positions (in the row tuple after id, guid, created_at) of NOT NULL text columns that may be "":
# app_guid and app_name of task and staging events. Every other "" is written as NULL.
_USAGE_EMPTY_STRINGS = frozenset({6, 7})


def _generators(table, rows):
    world = World(rows)
    return event_rows(rows, world) if table == "events" else usage_rows(rows, world)


def load_table(url, table, rows):
    """Replace `table`'s rows with the generated ones; returns seconds spent."""
    started = time.monotonic()
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY contype", (table,))
            constraints = cur.fetchall()
            cur.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = %s::regclass AND indexrelid NOT IN "
                "(SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass)", (table, table))
            indexes = cur.fetchall()
            # known_resources is folded once after the load (rebuild_known_resources): its trigger fired
            # on each COPY would upsert the same keys as the other table's load, which is in a transaction
            # of its own, so the two would wait for each other's commit (and re-updating every key
            # at each chunk slows each chunk down as the load goes on).
            cur.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
                        (table, f"known_resources_on_{table}"))
            known_trigger = cur.fetchone()
            cur.execute(f"TRUNCATE {table}")
            if known_trigger:
                cur.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{known_trigger[0]}"')
            for name, _ in constraints:
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _ in indexes:
                cur.execute(f"DROP INDEX {name}")
            cur.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = %s::regclass", (table,))
            partitioned = cur.fetchone()[0]
            if partitioned:  # PostgreSQL's partitions (migrations 0017, 0018): made before the rows come
                if table == "events":
                    months, month = [], START.replace(day=1)
                    while month < END:
                        months.append(month)
                        month = (month + timedelta(days=32)).replace(day=1)
                    cur.execute("SELECT event_partitions_ensure(%s::timestamptz[])", (months,))
                else:
                    cur.execute("SELECT usage_partitions_ensure(%s, 1, %s)", (table, rows))
            # FREEZE writes the rows frozen at once (no later vacuum rewrites them); PostgreSQL refuses it for a
            # partitioned table.
            options = "FORMAT csv" if partitioned else "FORMAT csv, FREEZE"
            copy = f"COPY {table} ({', '.join(TABLES[table])}) FROM STDIN WITH ({options})"
            for chunk in _generators(table, rows):
                cur.copy_expert(copy, io.StringIO(chunk))
            for name, definition in constraints:
                cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for _, definition in indexes:
                cur.execute(definition)
            if known_trigger:
                cur.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{known_trigger[0]}"')
    finally:
        conn.close()
    return time.monotonic() - started


def state(url):
    """What the database holds now, to decide whether it must be loaded."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            found = {}
            for table in TABLES:
                cur.execute(f"SELECT count(*), coalesce(max(id), 0) FROM {table}")
                found[table] = cur.fetchone()
                cur.execute("SELECT obj_description(%s::regclass, 'pg_class')", (table,))
                found[table + ".marker"] = cur.fetchone()[0]
            cur.execute("SELECT last_id, horizon FROM usage_streams WHERE name = %s", (USAGE_STREAM,))
            found["stream"] = cur.fetchone()
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (KNOWN,))
            if cur.fetchone()[0]:
                cur.execute("SELECT obj_description(%s::regclass, 'pg_class')", (KNOWN,))
                found[KNOWN + ".marker"] = cur.fetchone()[0]
            return found
    finally:
        conn.close()


def is_loaded(found, rows):
    return all(found[t] == (rows, rows) and found[t + ".marker"] == marker(rows) for t in TABLES) and \
        tuple(found["stream"] or ()) == (rows, 1)


def known_is_current(found, rows):
    """Whether known_resources was folded from this data set and nothing written since (a data set
    loaded before migration 0009, or by a loader that did not fold and mark it, is folded again)."""
    return found.get(KNOWN + ".marker") == marker(rows)


def leftovers_only(found, rows):
    """True when the data set is ours but holds rows an interrupted run wrote after it (ids > rows)."""
    return all(found[t + ".marker"] == marker(rows) and found[t][1] >= rows for t in TABLES)


def remove_written(url, rows):
    """Delete what the write measurements added (ids above the data set); reset the stream and sequence."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            # Should the rows go but this stop before known_resources is folded again, it must not pass
            # for the data set's: unmarked meanwhile (it is folded again by the next run).
            cur.execute("SELECT obj_description(%s::regclass, 'pg_class')", (KNOWN,))
            known_marker = cur.fetchone()[0]
            cur.execute(f"COMMENT ON TABLE {KNOWN} IS NULL")
            deleted = 0
            for table in TABLES:
                cur.execute(f"DELETE FROM {table} WHERE id > %s", (rows,))
                deleted += cur.rowcount
            reset_stream(cur, rows)
            if deleted:
                # The deletes leave the maintained counts of what they deleted at 0 (a count of 0 is no count,
                # and a loaded data set has none): gone, or every run would add its own.
                for table in COUNT_TABLES:
                    cur.execute(f"DELETE FROM {table} WHERE n = 0")
                cur.execute(f"VACUUM (ANALYZE) events, app_usage_events, {', '.join(COUNT_TABLES)}")
            # The deleted rows' sightings stay in known_resources (deleting forgets nothing, and the
            # writes are newer than the data set): back to the copy taken before the writes (whenever there
            # is one: a measurement may have deleted its own rows already, as the import's does), or,
            # without one, folded again from what is left (half a minute a million rows). Either marks it.
            cur.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (KNOWN_SNAPSHOT,))
            if cur.fetchone()[0] == marker(rows):
                cur.execute("BEGIN")
                cur.execute(f"TRUNCATE {KNOWN}")
                cur.execute(f"INSERT INTO {KNOWN} SELECT * FROM {KNOWN_SNAPSHOT}")
                cur.execute(f"COMMENT ON TABLE {KNOWN} IS %s", (marker(rows),))
                cur.execute("COMMIT")
                cur.execute(f"VACUUM (ANALYZE) {KNOWN}")
            elif deleted:
                rebuild_known_resources(cur, rows)
                cur.execute(f"VACUUM (ANALYZE) {KNOWN}")
            elif known_marker is not None:
                # Nothing was written (the triggers only ever add what a committed insert sighted).
                cur.execute(f"COMMENT ON TABLE {KNOWN} IS %s", (known_marker,))
            cur.execute(f"DROP TABLE IF EXISTS {KNOWN_SNAPSHOT}")
            return deleted
    finally:
        conn.close()


def snapshot_known_resources(url, rows):
    """A copy of known_resources (a few ten thousand rows) to put back once the writes are deleted, when it
    is the data set's own."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {KNOWN_SNAPSHOT}")
            if known_is_current(state(url), rows):
                cur.execute(f"CREATE TABLE {KNOWN_SNAPSHOT} AS SELECT * FROM {KNOWN}")
                cur.execute(f"COMMENT ON TABLE {KNOWN_SNAPSHOT} IS %s", (marker(rows),))
    finally:
        conn.close()


def reset_stream(cur, rows):
    """The usage stream at positions 1..rows (horizon 1), no pruned cursors, the events sequence at rows."""
    cur.execute("DELETE FROM pruned_usage_events WHERE stream = %s", (USAGE_STREAM,))
    cur.execute("UPDATE usage_streams SET last_id = %s, horizon = 1 WHERE name = %s", (rows, USAGE_STREAM))
    cur.execute("SELECT pg_get_serial_sequence('events', 'id')")
    sequence = cur.fetchone()[0]
    if sequence:
        cur.execute("SELECT setval(%s, %s)", (sequence, rows))


def migration(name):
    """A migration's module (its SQL is the bench's reference for what the triggers keep), by file name."""
    path = os.path.join(MIGRATIONS, f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"cf_events_migration_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _known_resources_migration():
    """Migration 0009, whose `_postgresql_fold(table, source)` folds a table's rows into known_resources."""
    return migration("0009_known_resources")


def rebuild_known_resources(cur, rows):
    """known_resources as the triggers would have kept it: emptied, then every event table folded in
    with the migration's own statement (one per table, as the migration does for existing rows), and
    marked, in one transaction (`cur` is on an autocommit connection). Returns its rows."""
    migration = _known_resources_migration()
    cur.execute("BEGIN")
    try:
        cur.execute(f"TRUNCATE {KNOWN}")
        for table in migration.SIGHTINGS:
            cur.execute(migration._postgresql_fold(table, table))
        cur.execute(f"COMMENT ON TABLE {KNOWN} IS %s", (marker(rows),))
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")
    cur.execute(f"SELECT count(*) FROM {KNOWN}")
    return cur.fetchone()[0]


def refresh_known_resources(url, rows, log):
    """Fold known_resources again for a data set whose known_resources is not marked as its own: loaded
    before migration 0009 (whose upgrade folded it, unmarked) or by an older loader, or left by a run
    that wrote events and stopped before folding it again."""
    started = time.monotonic()
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            known = rebuild_known_resources(cur, rows)
            cur.execute(f"VACUUM (ANALYZE) {KNOWN}")
    finally:
        conn.close()
    log(f"{KNOWN} folded again from the data set: {known:,} rows in {time.monotonic() - started:.1f} s")


def load(url, rows, log):
    """Load both tables (in parallel, one process each), then set the stream and analyse."""
    log(f"loading {rows:,} audit events and {rows:,} app usage events (COPY, indexes rebuilt after)")
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("fork")) as pool:
        futures = {table: pool.submit(load_table, url, table, rows) for table in TABLES}
        for table, future in futures.items():
            log(f"  {table}: {future.result():.1f} s")
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            reset_stream(cur, rows)
            known_started = time.monotonic()
            known = rebuild_known_resources(cur, rows)
            log(f"  {KNOWN}: {known:,} rows folded in {time.monotonic() - known_started:.1f} s")
            for table in TABLES:
                cur.execute(f"COMMENT ON TABLE {table} IS %s", (marker(rows),))
            vacuum_started = time.monotonic()
            cur.execute(f"VACUUM (ANALYZE) events, app_usage_events, {KNOWN}")
            cur.execute("CHECKPOINT")
            log(f"  vacuum analyze + checkpoint: {time.monotonic() - vacuum_started:.1f} s")
    finally:
        conn.close()
    elapsed = time.monotonic() - started
    log(f"loaded in {elapsed:.1f} s")
    return elapsed

