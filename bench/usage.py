"""Usage reports at the issue's scale: 10 M app usage events over 365 days for 50 000 app processes.

`python -m bench.usage [--scale 10m] [--quick]` (or `measure_usage`, from bench/run.py) builds the data set
once in a database of its own of the private cluster (cf_events_bench_usage_10m; 200 000 events for 1000
processes in cf_events_bench_usage_200k with --quick), migrates it with `flask --app wsgi db upgrade`, folds
it once with `flask --app wsgi events fold` (timed: the fold's throughput is kept with the data set, and a
fold that did not finish, usage_folds.position below the stream's last position, is resumed), then serves
it with the bench's gunicorn and measures each report as run.py measures its read shapes (p50/p99 from one
client, requests/s from one client per worker, the captured SQL replayed, plans), and batched
`POST /v2/app_usage_events` with the fold after each write and without it (a gunicorn of the same app whose
fold after writes is switched off), side by side; what the writes add is removed afterwards and the
rollups are put back from a copy taken before.

The app usage stream is simulated per process, so that it means something under the metering rules
(app/usage/metering.py): the stream opens with a purge-and-reseed's STARTED of each running process (its guid is
the process's), then, in time order, pushes (STOPPED, STAGING_STARTED, STAGING_STOPPED, BUILDPACK_SET,
STARTED), restarts, rolling deploys (the STARTED repeats the figures: it changes nothing), scaling of the
instances (autoscaled processes mostly do that) and of the memory, stops, starts, deletions, a few STOPPED of
processes not running, scaling to 0, new apps, and tasks (TASK_STARTED, TASK_STOPPED minutes to hours later,
with a guid each). Half the events come in bursts (an organization's pipeline at work). A sixth of the
processes are apps' worker processes (their own guid, the app as parent). Service instances (managed, on
plans of a dozen services, and user-provided) are created, updated (half of the updates to another plan)
and deleted over the same year, a few seen first by an UPDATED. What the simulation knows (processes
running at the end and their instances, tasks still running, instances existing) is checked against the
folded meters.
"""
import argparse
import heapq
import io
import json
import math
import os
import random
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from array import array
from datetime import date, datetime, timedelta, timezone
from multiprocessing import get_context

import psycopg2

from . import dataset
from .cluster import Cluster
from .dataset import CHUNK, USAGE_COLUMNS, Timeline, TimeText, _guids, _zipf_cum_weights, new_guid
from .loadgen import Client, percentile
from .noise import HZ
from .service import PROJECT, Service, recommended_workers

VERSION = "u1"
SEED = 20261202
END = datetime(2026, 12, 1, tzinfo=timezone.utc)  # a UTC midnight: the last events are just before it
SPAN = timedelta(days=365)
START = END - SPAN
# {scale: (app usage events, app processes)}: the issue's, and smaller ones in the same proportions.
SCALES = {"10m": (10_000_000, 50_000), "1m": (1_000_000, 5_000), "200k": (200_000, 1_000)}
QUICK_SCALE = "200k"
# Zipf exponent of the processes' activity: the busiest of 50 000 makes about 1 % of the events (an
# autoscaled app), the median one about 100 a year.
POPULARITY = 0.7
SERVICE_COLUMNS = ("id", "guid", "created_at", "state", "org_guid", "space_guid", "space_name",
                   "service_instance_guid", "service_instance_name", "service_instance_type", "service_plan_guid",
                   "service_plan_name", "service_guid", "service_label", "service_broker_name", "service_broker_guid")
STREAMS = ("app_usage_events", "service_usage_events")
ROLLUPS = ("usage_meters", "usage_segments", "usage_months", "usage_days")
SNAPSHOTS = {table: f"bench_usage_snapshot_{table}" for table in ("usage_meters", "usage_months", "usage_days",
                                                                    "usage_folds", "known_resources")}
FOLD_TIMEOUT = 4 * 3600

# The issue's targets (as p99: the latency a single client sees at worst, as run.py's first pages).
ORG_TARGET = {"p99": 0.100}
SYSTEM_TARGET = {"p99": 0.300}
SUMMARY_TARGET = {"p99": 1.0}
# A write's fold must keep up: after a run of writes, at most this much may be left to fold.
BACKLOG_BOUND = 20_000
# Issue 21's: the fold of the whole data set, and the share of the write rate the fold after each write costs.
FOLD_TARGET = 50_000
FOLD_ON_WRITE_COST = 0.15

MEMORIES = (128, 256, 512, 512, 1024, 1024, 1024, 2048, 2048, 4096)
INSTANCES = (1, 1, 1, 2, 2, 2, 3, 4, 6, 10)
TASK_MEMORIES = (256, 512, 1024, 2048)
TASK_NAMES = ("db-migrate", "nightly-report", "cache-warm", "reindex", "send-digest", "cleanup", "import-feed")
STAGING_MEMORY = 1024
SERVICES = (  # (label, plans, broker)
    ("p.mysql", ("db-small", "db-medium", "db-large"), "dedicated-mysql-broker"),
    ("p.redis", ("cache-small", "cache-medium", "cache-large"), "redis-odb"),
    ("p.rabbitmq", ("single-node", "cluster"), "rabbitmq-odb"),
    ("postgres", ("small", "standard", "premium"), "postgres-broker"),
    ("elasticsearch", ("small", "large"), "elastic-broker"),
    ("s3", ("standard",), "aws-broker"),
    ("credhub", ("default",), "credhub-broker"),
    ("p.config-server", ("standard",), "spring-cloud-broker"),
    ("p.service-registry", ("standard",), "spring-cloud-broker"),
    ("p-identity", ("uaa", "ldap"), "sso-broker"),
    ("scheduler-for-pcf", ("standard",), "scheduler-broker"),
    ("app-autoscaler", ("standard",), "autoscaler-broker"),
)


def database_name(scale):
    return f"cf_events_bench_usage_{scale}"


def marker(scale):
    events, processes = SCALES[scale]
    return (f"cf-events bench usage dataset {VERSION} events={events} processes={processes} "
            f"days={SPAN.days} end={END.date().isoformat()}")


# --- the world -----------------------------------------------------------------------------------
class UsageWorld:
    """Organizations, spaces, apps and their processes; process rank 0 is the busiest (deterministic).

    `processes[rank]` is (process guid, app index, process type); `apps[index]` is (app guid, app name, space
    guid, space name, org guid). A web process's guid is its app's, as Cloud Controller's are.
    """

    def __init__(self, processes, seed=SEED):
        rnd = random.Random(seed)
        n_apps = processes - processes // 6
        n_spaces = max(40, n_apps // 4)
        n_orgs = max(50, n_spaces // 10)
        self.orgs = [new_guid(rnd) for _ in range(n_orgs)]
        org_cw = _zipf_cum_weights(n_orgs, 1.0)
        self.spaces = [(new_guid(rnd), f"space-{i}", self.orgs[org])
                       for i, org in enumerate(rnd.choices(range(n_orgs), cum_weights=org_cw, k=n_spaces))]
        self.space_cw = _zipf_cum_weights(n_spaces, 1.0)
        self.apps = []
        for i, space in enumerate(rnd.choices(range(n_spaces), cum_weights=self.space_cw, k=n_apps)):
            self.apps.append((new_guid(rnd), f"app-{i}", *self.spaces[space]))
        workers = rnd.sample(range(n_apps), processes - n_apps)
        self.processes = [(app[0], i, "web") for i, app in enumerate(self.apps)]
        self.processes += [(new_guid(rnd), i, "worker") for i in workers]
        rnd.shuffle(self.processes)
        # What Timeline reads: the ranks bursts are picked from.
        self.n_apps = processes
        self.app_cw = _zipf_cum_weights(processes, POPULARITY)
        self.buildpack_guids = [new_guid(rnd) for _ in dataset.BUILDPACKS]
        self.by_org = {}
        for rank, (_, app, _) in enumerate(self.processes):
            self.by_org.setdefault(self.apps[app][4], []).append(rank)

    def process(self, rank):
        """(process guid, app guid, app name, space guid, space name, org guid, process type)."""
        guid, app, process_type = self.processes[rank]
        return (guid, *self.apps[app], process_type)


# --- the app usage stream ----------------------------------------------------------------------------
class Simulation:
    """Each process's state while the stream is generated, and what it adds up to at the end."""

    def __init__(self, world, rnd):
        n = world.n_apps
        self.world = world
        self.status = bytearray(n)  # 0 not created yet, 1 stopped, 2 running, 3 deleted
        self.busy = bytearray(n)  # a sequence (push, restart) of it is under way
        self.memory = [rnd.choice(MEMORIES) for _ in range(n)]
        self.instances = [rnd.choice(INSTANCES) for _ in range(n)]
        self.base = list(self.instances)
        self.created = [None] * n  # epoch seconds from which it exists (None: before the stream)
        start, span = START.timestamp(), SPAN.total_seconds()
        for rank in range(n):
            if rnd.random() < 0.35:
                self.created[rank] = start + rnd.random() * span * 0.98
            else:
                self.status[rank] = 2 if rnd.random() < 0.8 else 1
        self.autoscaled = [rank < max(1, n // 500) for rank in range(n)]
        self.deletable = [rank >= n // 10 for rank in range(n)]
        self.tasks = [world.processes[rank][2] == "web" and rnd.random() < 0.2 for rank in range(n)]
        self.task_memory = [rnd.choice(TASK_MEMORIES) for _ in range(n)]
        self.stats = {"states": {}, "reseeded": 0, "scaled_instances": 0, "scaled_memory": 0, "scaled_to_zero": 0,
                      "repeats": 0, "stopped_not_running": 0, "deleted": 0, "created": 0, "pushes": 0,
                      "restarts": 0, "rolling": 0, "tasks_started": 0, "tasks_stopped": 0}


def app_usage_chunks(world, total, stats_out, seed=SEED):
    """CSV chunks of `total` app usage events (ids 1..total in created_at order) of `world`'s processes;
    `stats_out` gets what the simulation knows (see Simulation.stats), once the last chunk is made."""
    rnd = random.Random(seed + 1)
    sim = Simulation(world, rnd)
    stats = sim.stats
    states = stats["states"]
    n = world.n_apps
    fmt = TimeText()
    buildpacks = dataset.BUILDPACKS
    tails, staging_heads, staging_parents, task_tails, orgs = [], [], [], [], []
    for rank in range(n):
        guid, a_guid, a_name, s_guid, s_name, o_guid, ptype = world.process(rank)
        bp = rank % len(buildpacks)
        bp_guid, bp_name = world.buildpack_guids[bp], buildpacks[bp]
        tails.append(f",{guid},{a_name},{s_guid},{s_name},{o_guid},{bp_guid},{bp_name},STAGED,STAGED,{a_guid},{a_name},"
                     f"{ptype},,\n")
        staging_heads.append(f',"","",{s_guid},{s_name},{o_guid},{bp_guid},{bp_name},')
        staging_parents.append(f",{a_guid},{a_name},,,\n")
        task_tails.append(f',"","",{s_guid},{s_name},{o_guid},,,STAGED,STAGED,{a_guid},{a_name},,'
                           f'{TASK_NAMES[rank % len(TASK_NAMES)]},')
        orgs.append(o_guid)
    by_org = world.by_org
    status, busy, memory, instances = sim.status, sim.busy, sim.memory, sim.instances
    created, autoscaled, deletable, tasks = sim.created, sim.autoscaled, sim.deletable, sim.tasks
    heap, sequence = [], 0
    out = []
    next_id = 1
    guid_pool = []

    def guid():
        if not guid_pool:
            guid_pool.extend(_guids(rnd, CHUNK))
        return guid_pool.pop()

    def process_event(at, state, rank, previous_state, previous_instances, previous_memory, event_guid=None):
        nonlocal next_id
        states[state] = states.get(state, 0) + 1
        out.append(f"{next_id},{event_guid or guid()},{fmt(at)},{state},{previous_state},{memory[rank]},"
                   f"{previous_memory},{instances[rank]},{previous_instances}{tails[rank]}")
        next_id += 1

    def staging_event(at, state, rank):
        nonlocal next_id
        states[state] = states.get(state, 0) + 1
        package = "PENDING" if state == "STAGING_STARTED" else "STAGED"
        out.append(f"{next_id},{guid()},{fmt(at)},{state},,{STAGING_MEMORY},,1,{staging_heads[rank]}{package},"
                   f"PENDING{staging_parents[rank]}")
        next_id += 1

    def task_event(at, state, rank, task_guid, task_memory):
        nonlocal next_id
        states[state] = states.get(state, 0) + 1
        previous = "" if state == "TASK_STARTED" else "TASK_STARTED"
        out.append(f"{next_id},{guid()},{fmt(at)},{state},{previous},{task_memory},{task_memory},1,1"
                   f"{task_tails[rank]}{task_guid}\n")
        next_id += 1

    def step(at, action, rank, figures):
        """Emit one step of a sequence (or a single action) for `rank`, changing its state."""
        if action == "STARTED":
            was = status[rank]
            previous = (instances[rank], memory[rank])
            instances[rank], memory[rank] = figures
            status[rank] = 2
            process_event(at, "STARTED", rank, "STARTED" if was == 2 else "STOPPED", previous[0], previous[1])
        elif action == "STOPPED":
            if status[rank] != 2:
                stats["stopped_not_running"] += 1
            status[rank] = 1 if figures is None else 3
            process_event(at, "STOPPED", rank, "STARTED", instances[rank], memory[rank])
        elif action == "BUILDPACK_SET":
            process_event(at, "BUILDPACK_SET", rank, "STARTED" if status[rank] == 2 else "STOPPED",
                          instances[rank], memory[rank])
        elif action == "TASK_STOPPED":
            stats["tasks_stopped"] += 1
            task_event(at, "TASK_STOPPED", rank, *figures)
        else:
            staging_event(at, action, rank)

    def run(at, rank, steps):
        """Emit the first of `steps` ([(delay, action, figures)]) now, schedule the rest; the process is busy
        until the last is emitted."""
        nonlocal sequence
        _, action, figures = steps[0]
        step(at, action, rank, figures)
        if len(steps) > 1:
            busy[rank] = 1
            sequence += 1
            heapq.heappush(heap, (at + steps[1][0], sequence, rank, steps[1:]))
        elif action != "TASK_STOPPED":
            busy[rank] = 0

    def act(at, rank):
        """A new action of `rank` (available: created, not deleted, no sequence under way)."""
        nonlocal sequence
        state = status[rank]
        figures = (instances[rank], memory[rank])
        is_web = world.processes[rank][2] == "web"
        r = rnd.random()
        if state == 0:  # a new app's first push
            stats["created"] += 1
            stats["pushes"] += 1
            status[rank] = 1
            if is_web:
                run(at, rank, [(0, "STAGING_STARTED", None), (rnd.uniform(30, 180), "STAGING_STOPPED", None),
                               (1, "BUILDPACK_SET", None), (rnd.uniform(5, 30), "STARTED", figures)])
            else:
                run(at, rank, [(0, "STARTED", figures)])
        elif state == 1:
            if r < 0.03:
                run(at, rank, [(0, "STOPPED", None)])  # a stop of a process not running: changes nothing
            elif r < 0.85 or not is_web:
                run(at, rank, [(0, "STARTED", figures)])
            else:
                stats["pushes"] += 1
                run(at, rank, [(0, "STAGING_STARTED", None), (rnd.uniform(30, 180), "STAGING_STOPPED", None),
                               (1, "BUILDPACK_SET", None), (rnd.uniform(5, 30), "STARTED", figures)])
        elif tasks[rank] and r < 0.45:
            stats["tasks_started"] += 1
            task = (guid(), sim.task_memory[rank])
            task_event(at, "TASK_STARTED", rank, *task)
            duration = min(12 * 3600, max(2.0, rnd.lognormvariate(math.log(150), 1.3)))
            sequence += 1
            heapq.heappush(heap, (at + duration, sequence, rank, [(0, "TASK_STOPPED", task)]))
        elif autoscaled[rank] and r < 0.8:
            stats["scaled_instances"] += 1
            count = max(1, min(4 * sim.base[rank] + 4, instances[rank] + rnd.choice((-3, -2, -1, -1, 1, 1, 2, 3))))
            run(at, rank, [(0, "STARTED", (count, memory[rank]))])
        else:
            r = rnd.random()
            if r < 0.28:
                stats["restarts"] += 1
                run(at, rank, [(0, "STOPPED", None), (rnd.uniform(5, 60), "STARTED", figures)])
            elif r < 0.48 and is_web:
                stats["pushes"] += 1
                run(at, rank, [(0, "STOPPED", None), (1, "STAGING_STARTED", None),
                               (rnd.uniform(30, 180), "STAGING_STOPPED", None), (1, "BUILDPACK_SET", None),
                               (rnd.uniform(5, 30), "STARTED", figures)])
            elif r < 0.54 and is_web:
                stats["rolling"] += 1
                stats["repeats"] += 1  # the STARTED at its end repeats the figures
                run(at, rank, [(0, "STAGING_STARTED", None), (rnd.uniform(30, 180), "STAGING_STOPPED", None),
                               (1, "BUILDPACK_SET", None), (rnd.uniform(20, 90), "STARTED", figures)])
            elif r < 0.74:
                stats["scaled_instances"] += 1
                base = sim.base[rank]  # scaled within a band around what it was first given
                count = rnd.choice([c for c in range(max(1, base // 2), 3 * base + 1) if c != instances[rank]])
                run(at, rank, [(0, "STARTED", (count, memory[rank]))])
            elif r < 0.77:
                stats["scaled_memory"] += 1
                choices = [m for m in MEMORIES if m != memory[rank]]
                run(at, rank, [(0, "STOPPED", None),
                               (rnd.uniform(5, 30), "STARTED", (instances[rank], rnd.choice(choices)))])
            elif r < 0.775:
                stats["scaled_to_zero"] += 1
                run(at, rank, [(0, "STARTED", (0, memory[rank]))])
            elif r < 0.785:
                stats["repeats"] += 1
                run(at, rank, [(0, "STARTED", figures)])
            elif r < 0.787 and deletable[rank]:
                stats["deleted"] += 1
                run(at, rank, [(0, "STOPPED", "deleted")])
            else:
                run(at, rank, [(0, "STOPPED", None)])

    # The stream opens with a purge-and-reseed: a STARTED of each running process, its guid the process's.
    base = START.timestamp()
    running = [rank for rank in range(n) if status[rank] == 2]
    rnd.shuffle(running)
    for i, rank in enumerate(running):
        stats["reseeded"] += 1
        process_event(base + i * 0.002, "STARTED", rank, "STARTED", instances[rank], memory[rank],
                      event_guid=world.processes[rank][0])
    # The moments of the other events (Timeline's: half in bursts), stretched to end just before END.
    reseed_end = base + len(running) * 0.002 + 1
    remaining = total - len(running)
    timeline = Timeline(remaining, rnd, datetime.fromtimestamp(reseed_end, timezone.utc),
                        SPAN - timedelta(seconds=reseed_end - base))
    times, bursts = array("d"), array("i")
    for _ in range(remaining):
        at, burst = timeline.next(world)
        times.append(at)
        bursts.append(-1 if burst is None else burst[0])
    if remaining:
        stretch = (END.timestamp() - 1 - reseed_end) / (times[-1] - reseed_end)
        for i in range(remaining):
            times[i] = reseed_end + (times[i] - reseed_end) * stretch
    picks, pick = [], 0
    cum = world.app_cw
    for i in range(remaining):
        if len(out) >= CHUNK:
            yield "".join(out)
            out.clear()
        at, burst = times[i], bursts[i]
        if heap and heap[0][0] <= at:
            _, _, rank, steps = heapq.heappop(heap)
            run(at, rank, steps)
            continue
        for attempt in range(12):
            if burst >= 0 and rnd.random() < 0.6:
                members = by_org[orgs[burst]]
                rank = members[rnd.randrange(len(members))]
            elif attempt < 8:
                if pick >= len(picks):
                    picks, pick = rnd.choices(range(n), cum_weights=cum, k=CHUNK), 0
                rank = picks[pick]
                pick += 1
            else:
                rank = rnd.randrange(n)
            if busy[rank] or status[rank] == 3 or (status[rank] == 0 and created[rank] > at):
                continue
            break
        else:
            # Nobody free (rare): a BUILDPACK_SET of any process that exists concerns no meter.
            rank = next(r for r in range(n) if status[r] in (1, 2))
            process_event(at, "BUILDPACK_SET", rank, "STARTED" if status[rank] == 2 else "STOPPED",
                          instances[rank], memory[rank])
            continue
        act(at, rank)
    if out:
        yield "".join(out)
    stats["running_at_end"] = sum(1 for rank in range(n) if status[rank] == 2)
    stats["instances_at_end"] = sum(instances[rank] for rank in range(n) if status[rank] == 2)
    stats["tasks_running_at_end"] = stats["tasks_started"] - stats["tasks_stopped"]
    stats["processes_seen"] = sum(1 for rank in range(n) if status[rank] != 0)
    stats_out.update(stats)


# --- the service usage stream --------------------------------------------------------------------
def service_usage_lines(world, seed=SEED):
    """([CSV line], stats) of the service usage stream: instances created (those existing before the stream
    by a reseed's CREATED at its start, a few seen first by an UPDATED), updated (half of the managed ones'
    updates to another plan of their service) and deleted over the year, ids in created_at order."""
    rnd = random.Random(seed + 2)
    catalogue = []  # (guid, label, [(plan guid, plan name)], broker guid, broker name)
    brokers = {}
    for label, plans, broker in SERVICES:
        brokers.setdefault(broker, new_guid(rnd))
        catalogue.append((new_guid(rnd), label, [(new_guid(rnd), plan) for plan in plans], brokers[broker], broker))
    service_cw = _zipf_cum_weights(len(catalogue), 0.8)
    start, span = START.timestamp(), SPAN.total_seconds()
    end = END.timestamp() - 1
    n_instances = max(40, world.n_apps * 4 // 5)
    happenings = []  # (at, order, state, instance, plan index)
    live = {}
    stats = {"instances": n_instances, "user_provided": 0, "plan_changes": 0, "updates": 0, "deleted": 0,
             "first_seen_updated": 0}
    spaces = rnd.choices(range(len(world.spaces)), cum_weights=world.space_cw, k=n_instances)
    for i in range(n_instances):
        provided = rnd.random() < 0.15
        stats["user_provided"] += provided
        service = None if provided else rnd.choices(range(len(catalogue)), cum_weights=service_cw)[0]
        plan = None if provided else rnd.randrange(len(catalogue[service][2]))
        instance = (new_guid(rnd), f"si-{i}", world.spaces[spaces[i]], provided, service)
        if rnd.random() < 0.6:
            created, order = start + i * 0.001, 0  # the reseed, first in the stream
            first = "CREATED"
            if rnd.random() < 0.02:  # its CREATED before the stream: an UPDATED opens it
                created, order, first = start + rnd.random() * span * 0.5, 1, "UPDATED"
                stats["first_seen_updated"] += 1
        else:
            created, order, first = start + rnd.random() * span, 1, "CREATED"
        happenings.append((created, order, first, instance, plan))
        deleted = created + rnd.expovariate(1 / (span * 1.5))
        updates = int(rnd.expovariate(1 / (0.3 if provided else 1.0)))
        for at in sorted(created + rnd.random() * (min(deleted, end) - created) for _ in range(updates)):
            if not provided and len(catalogue[service][2]) > 1 and rnd.random() < 0.5:
                plan = rnd.choice([p for p in range(len(catalogue[service][2])) if p != plan])
                stats["plan_changes"] += 1
            stats["updates"] += 1
            happenings.append((at, 1, "UPDATED", instance, plan))
        if deleted < end:
            stats["deleted"] += 1
            happenings.append((deleted, 1, "DELETED", instance, plan))
        else:
            live[instance[0]] = instance
    happenings.sort(key=lambda h: (h[0], h[1]))
    fmt = TimeText()
    guids = _guids(rnd, len(happenings))
    lines = []
    states = {}
    for position, ((at, _, state, instance, plan), guid) in enumerate(zip(happenings, guids, strict=True), start=1):
        si_guid, si_name, (s_guid, s_name, o_guid), provided, service = instance
        states[state] = states.get(state, 0) + 1
        if provided:
            rest = "user_provided_service_instance,,,,,,"
        else:
            s_id, label, plans, b_guid, b_name = catalogue[service]
            p_guid, p_name = plans[plan]
            rest = f"managed_service_instance,{p_guid},{p_name},{s_id},{label},{b_name},{b_guid}"
        lines.append(f"{position},{guid},{fmt(at)},{state},{o_guid},{s_guid},{s_name},{si_guid},{si_name},{rest}\n")
    stats["states"] = states
    stats["existing_at_end"] = len(live)
    return lines, stats


# --- loading -----------------------------------------------------------------------------------------
def _copy_table(cur, table, columns, chunks):
    """Replace `table`'s rows by COPY, in the caller's transaction, as dataset.load_table does: TRUNCATE
    first (so that with wal_level=minimal the COPY writes no WAL), its constraints and indexes (read from the
    catalogue) dropped and made again after, its known_resources trigger off meanwhile (known_resources is
    folded once from the loaded tables). Returns seconds spent."""
    started = time.monotonic()
    cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY contype", (table,))
    constraints = cur.fetchall()
    cur.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = %s::regclass AND indexrelid NOT IN "
                "(SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass)", (table, table))
    indexes = cur.fetchall()
    cur.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
                (table, f"known_resources_on_{table}"))
    trigger = cur.fetchone()
    cur.execute(f"TRUNCATE {table}")
    if trigger:
        cur.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{trigger[0]}"')
    for name, _ in constraints:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f"DROP INDEX {name}")
    cur.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = %s::regclass", (table,))
    partitioned = cur.fetchone()[0]
    if partitioned:  # PostgreSQL's ranges of positions (migration 0018), made before the rows come; no FREEZE there
        chunks = list(chunks)
        last = int(chunks[-1].rstrip("\n").rsplit("\n", 1)[-1].split(",", 1)[0]) if chunks else 0
        cur.execute("SELECT usage_partitions_ensure(%s, 1, %s)", (table, last))
    copy = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv{'' if partitioned else ', FREEZE'})"
    for chunk in chunks:
        cur.copy_expert(copy, io.StringIO(chunk))
    for name, definition in constraints:
        cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        cur.execute(definition)
    if trigger:
        cur.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{trigger[0]}"')
    return time.monotonic() - started


def _produce(queue, processes, total):
    """The app usage stream's chunks into `queue` (a process of its own: it makes them while PostgreSQL
    copies the previous ones), then ("stats", …)."""
    try:
        stats = {}
        for chunk in app_usage_chunks(UsageWorld(processes), total, stats):
            queue.put(("chunk", chunk))
        queue.put(("stats", stats))
    except BaseException:
        queue.put(("error", traceback.format_exc()))


def _received(queue, stats, producer):
    while True:
        try:
            kind, value = queue.get(timeout=60)
        except Exception:
            if not producer.is_alive():
                raise RuntimeError(f"the generator exited ({producer.exitcode}) without finishing") from None
            continue
        if kind == "chunk":
            yield value
        elif kind == "stats":
            stats.update(value)
            return
        else:
            raise RuntimeError(f"the generator failed:\n{value}")


def plausibility(cur):
    """What the loaded app usage stream holds, by state, for the rules: ({state: {figure: n}}, [problems])."""
    cur.execute("""
        SELECT state, count(*),
               count(*) FILTER (WHERE instance_count > 0 AND memory_in_mb_per_instance > 0),
               count(*) FILTER (WHERE instance_count = 0),
               count(*) FILTER (WHERE previous_state = 'STARTED' AND previous_instance_count <> instance_count),
               count(*) FILTER (WHERE previous_memory_in_mb_per_instance <> memory_in_mb_per_instance),
               count(*) FILTER (WHERE app_guid <> ''), count(*) FILTER (WHERE task_guid IS NOT NULL),
               count(*) FILTER (WHERE parent_app_guid IS NOT NULL)
        FROM app_usage_events GROUP BY state ORDER BY count(*) DESC""")
    keys = ("events", "with instances and memory", "with 0 instances", "instance count changed", "memory changed",
            "with app_guid", "with task_guid", "with parent_app_guid")
    found = {row[0]: dict(zip(keys, row[1:], strict=True)) for row in cur.fetchall()}
    cur.execute("SELECT count(DISTINCT app_guid) FROM app_usage_events WHERE state IN ('STARTED', 'STOPPED')")
    processes = cur.fetchone()[0]
    cur.execute("SELECT count(DISTINCT task_guid) FROM app_usage_events WHERE task_guid IS NOT NULL")
    tasks = cur.fetchone()[0]
    cur.execute("SELECT min(created_at), max(created_at) FROM app_usage_events")
    first, last = cur.fetchone()
    cur.execute("SELECT count(*) FROM (SELECT created_at < lag(created_at) OVER (ORDER BY id) AS back "
                "FROM app_usage_events) AS s WHERE back")
    backwards = cur.fetchone()[0]
    problems = []
    for state in ("STARTED", "STOPPED", "BUILDPACK_SET"):
        row = found.get(state, {})
        if row.get("with app_guid") != row.get("events"):
            problems.append(f"{state} without app_guid")
    started = found.get("STARTED", {})
    if not started.get("instance count changed"):
        problems.append("no STARTED changes the instance count")
    if started.get("with instances and memory", 0) + started.get("with 0 instances", 0) != started.get("events"):
        problems.append("a STARTED without memory")
    for state in ("TASK_STARTED", "TASK_STOPPED"):
        row = found.get(state, {})
        if row.get("with task_guid") != row.get("events") or row.get("with app_guid"):
            problems.append(f"{state} without task_guid, or with an app_guid")
    if backwards:
        problems.append(f"{backwards} events dated before the previous position's")
    return {"states": found, "processes": processes, "tasks": tasks, "first": first.isoformat(),
            "last": last.isoformat(), "backwards": backwards}, problems


def load(url, scale, log):
    """Load the data set of `scale` (both usage streams, their positions, known_resources), empty the rollups
    (they are folded again), check the stream and mark it; returns what the marker holds."""
    events, processes = SCALES[scale]
    log(f"generating and loading {events:,} app usage events of {processes:,} processes over {SPAN.days} days "
        "(COPY, indexes made after)")
    started = time.monotonic()
    context = get_context("fork")
    queue = context.Queue(maxsize=4)
    producer = context.Process(target=_produce, args=(queue, processes, events), daemon=True)
    producer.start()
    stats = {}
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("COMMENT ON TABLE app_usage_events IS NULL")
            cur.execute("COMMENT ON TABLE usage_folds IS NULL")
            cur.execute("TRUNCATE usage_meters, usage_segments, usage_months, usage_days")
            cur.execute("UPDATE usage_folds SET position = 0, folded_until = NULL")
            cur.execute("DELETE FROM pruned_usage_events")
            app_seconds = _copy_table(cur, "app_usage_events", USAGE_COLUMNS, _received(queue, stats, producer))
            log(f"  app_usage_events: {app_seconds:.1f} s")
            lines, service_stats = service_usage_lines(UsageWorld(processes))
            service_seconds = _copy_table(cur, "service_usage_events", SERVICE_COLUMNS,
                                          ("".join(lines[i:i + CHUNK]) for i in range(0, len(lines), CHUNK)))
            log(f"  service_usage_events: {len(lines):,} in {service_seconds:.1f} s")
            for stream, last in (("app_usage_events", events), ("service_usage_events", len(lines))):
                cur.execute("UPDATE usage_streams SET last_id = %s, horizon = 1 WHERE name = %s", (last, stream))
            known_started = time.monotonic()
            migration = dataset._known_resources_migration()
            cur.execute(f"TRUNCATE {dataset.KNOWN}")
            for table in migration.SIGHTINGS:
                cur.execute(migration._postgresql_fold(table, table))
            cur.execute(f"COMMENT ON TABLE {dataset.KNOWN} IS NULL")
            log(f"  {dataset.KNOWN}: folded in {time.monotonic() - known_started:.1f} s")
    finally:
        conn.close()
        producer.join(30)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"VACUUM (ANALYZE) app_usage_events, service_usage_events, {dataset.KNOWN}")
            cur.execute("CHECKPOINT")
            loaded = time.monotonic() - started
            log(f"loaded in {loaded:.0f} s; checking the stream")
            checked, problems = plausibility(cur)
            facts = {"marker": marker(scale), "events": events, "processes": processes,
                     "service_events": len(lines), "load_seconds": round(loaded, 1), "loaded_at": _now(),
                     "simulation": stats, "services": service_stats, "stream": checked, "problems": problems}
            cur.execute("COMMENT ON TABLE app_usage_events IS %s", (json.dumps(facts),))
    finally:
        conn.close()
    for problem in problems:
        log(f"  ⚠ {problem}")
    return facts


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _json_comment(cur, table):
    cur.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (table,))
    text = cur.fetchone()[0]
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def state(url):
    """What the database holds: the data set's facts (its marker comment), each stream's rows and last
    position, each fold's position, the fold's result, and whether a write measurement left a snapshot."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            found = {"facts": _json_comment(cur, "app_usage_events"), "fold": _json_comment(cur, "usage_folds")}
            for stream in STREAMS:
                cur.execute(f"SELECT count(*), coalesce(max(id), 0) FROM {stream}")
                found[stream] = cur.fetchone()
            cur.execute("SELECT name, last_id FROM usage_streams")
            found["last_ids"] = dict(cur.fetchall())
            cur.execute("SELECT stream, position FROM usage_folds")
            found["positions"] = dict(cur.fetchall())
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (SNAPSHOTS["usage_folds"],))
            found["snapshot"] = cur.fetchone()[0]
            return found
    finally:
        conn.close()


def is_loaded(found, scale):
    facts = found["facts"]
    if not facts or facts.get("marker") != marker(scale):
        return False
    expected = {"app_usage_events": facts["events"], "service_usage_events": facts["service_events"]}
    return all(found[stream] == (rows, rows) and found["last_ids"].get(stream) == rows
               for stream, rows in expected.items())


def is_folded(found):
    return all(found["positions"].get(stream) == found[stream][1] for stream in STREAMS)


# --- the service's own commands ------------------------------------------------------------------
def _flask(url, secret, *args):
    return ([os.path.join(PROJECT, ".venv", "bin", "flask"), "--app", "wsgi", *args],
            {**os.environ, "DATABASE_URL": url, "TOKEN_SECRET": secret})


def migrate(url, secret):
    """`flask --app wsgi db upgrade` (the project's migrations, up to the monthly sums of 0015)."""
    command, env = _flask(url, secret, "db", "upgrade")
    result = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed ({result.returncode}): "
                           f"{' '.join((result.stdout + result.stderr).split())[-400:]}")


def _positions(url):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT stream, position FROM usage_folds")
            return dict(cur.fetchall())
    finally:
        conn.close()


def fold(url, secret, found, monitor, log):
    """`flask --app wsgi events fold` over what is pending, timed; its result is kept with the data set
    (COMMENT ON usage_folds) and returned."""
    pending = {stream: found[stream][1] - found["positions"].get(stream, 0) for stream in STREAMS}
    resumed = any(found["positions"].get(stream) for stream in STREAMS)
    log(f"folding {pending['app_usage_events']:,} app usage events and {pending['service_usage_events']:,} service "
        f"usage events with `flask --app wsgi events fold`{' (resuming an interrupted fold)' if resumed else ''}")
    command, env = _flask(url, secret, "events", "fold")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = monitor.snapshot()
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
        try:
            while True:
                try:
                    process.wait(30)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() - started > FOLD_TIMEOUT:
                        raise RuntimeError(f"the fold did not finish within {FOLD_TIMEOUT} s") from None
                    position = _positions(url).get("app_usage_events", 0)
                    rate = (position - found["positions"].get("app_usage_events", 0)) / (time.monotonic() - started)
                    log(f"  folded up to app usage position {position:,} of {found['app_usage_events'][1]:,} "
                        f"({rate:,.0f} events/s so far)")
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(60)
        elapsed = time.monotonic() - started
        after = monitor.snapshot()
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        raise RuntimeError(f"flask events fold failed ({process.returncode}): {' '.join(text.split())[-400:]}")
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    fold_cpu = (done.ru_utime - children.ru_utime) + (done.ru_stime - children.ru_stime)
    ours = (after[2] - before[2]) / HZ  # this process, its children and the cluster
    folded = {}
    for line in text.splitlines():
        label, _, count = line.rpartition(": folded ")
        if count.strip().isdigit():
            folded[label.strip()] = int(count)
    total = sum(folded.values())
    result = {"app_usage_events": folded.get("app usage events", 0),
              "service_usage_events": folded.get("service usage events", 0), "seconds": round(elapsed, 1),
              "events_per_second": round(total / elapsed) if elapsed else None,
              "cpu_fold_seconds": round(fold_cpu, 1), "cpu_postgres_seconds": round(max(0.0, ours - fold_cpu), 1),
              "resumed": resumed, "folded_at": _now(), "git": _git_commit()}
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            vacuum_started = time.monotonic()
            cur.execute("VACUUM (ANALYZE) usage_meters, usage_segments, usage_months, usage_days, usage_folds")
            result["vacuum_seconds"] = round(time.monotonic() - vacuum_started, 1)
            result["rollups"] = rollup_sizes(cur)
            cur.execute("COMMENT ON TABLE usage_folds IS %s", (json.dumps(result),))
    finally:
        conn.close()
    log(f"folded {total:,} events in {elapsed:.1f} s: {result['events_per_second']:,} events/s (fold process "
        f"{fold_cpu:.0f} s CPU, PostgreSQL {result['cpu_postgres_seconds']:.0f} s)")
    return result


def rollup_sizes(cur):
    sizes = {}
    for table in ROLLUPS:
        cur.execute(f"SELECT count(*), pg_total_relation_size(%s) FROM {table}", (table,))
        sizes[table] = cur.fetchone()
    return sizes


def _git_commit():
    try:
        result = subprocess.run(["git", "--no-optional-locks", "-C", PROJECT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10)
        return result.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def meter_check(url, facts):
    """The folded meters against what the simulation knows at the stream's end: [(what, folded, expected)]."""
    simulation, services = facts["simulation"], facts["services"]
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT kind, count(*), count(*) FILTER (WHERE since IS NOT NULL), "
                        "coalesce(sum(instances) FILTER (WHERE since IS NOT NULL), 0) FROM usage_meters GROUP BY kind")
            meters = {kind: (count, running, instances) for kind, count, running, instances in cur.fetchall()}
    finally:
        conn.close()
    app, task, service = (meters.get(kind, (0, 0, 0)) for kind in ("app", "task", "service"))
    return [("app processes running at the end", app[1], simulation["running_at_end"]),
            ("their instances", app[2], simulation["instances_at_end"]),
            ("task meters (one per task run)", task[0], simulation["tasks_started"]),
            ("tasks running at the end", task[1], simulation["tasks_running_at_end"]),
            ("service instance meters", service[0], services["instances"]),
            ("service instances existing at the end", service[1], services["existing_at_end"])]


# --- the reports, measured ---------------------------------------------------------------------
LAST_MONTH = (date(2026, 11, 1), date(2026, 11, 30))  # the data set's last whole month
FIRST_MONTH = (date(2025, 12, 1), date(2025, 12, 31))  # its first: every later segment ends after its start
YEAR = (START.date(), date(2026, 11, 30))


def _period(first_last):
    first, last = first_last
    return f"start={first.isoformat()}&end={last.isoformat()}"


def pick_orgs(url):
    """(largest org, 10th largest, median org), each (guid, app processes), by their app process meters."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT org_guid, count(*) FROM usage_meters WHERE kind = 'app' GROUP BY org_guid "
                        "ORDER BY count(*) DESC, org_guid")
            orgs = cur.fetchall()
    finally:
        conn.close()
    return orgs[0], orgs[min(9, len(orgs) - 1)], orgs[len(orgs) // 2]


def build_shapes(url):
    from .run import Shape

    (big, big_n), (large, large_n), (median, median_n) = pick_orgs(url)
    month = _period(LAST_MONTH)
    named = f"{LAST_MONTH[0]:%B %Y}"
    shapes = []
    for key, org, count, label in (("big", big, big_n, "the largest org"), ("median", median, median_n,
                                                                             "the median org")):
        who = f"{label} ({count:,} app processes)"
        shapes += [
            Shape(f"org-app-{key}", f"`/organizations/{{org}}/app_usages`, {who}, {named}",
                  [f"/organizations/{org}/app_usages?{month}"], ORG_TARGET),
            Shape(f"org-task-{key}", f"`/organizations/{{org}}/task_usages`, {who}, {named}",
                  [f"/organizations/{org}/task_usages?{month}"], ORG_TARGET),
            Shape(f"org-service-{key}", f"`/organizations/{{org}}/service_usages`, {who}, {named}",
                  [f"/organizations/{org}/service_usages?{month}"], ORG_TARGET),
        ]
    shapes += [
        Shape("org-app-large", f"`/organizations/{{org}}/app_usages`, the 10th largest org ({large_n:,} app "
                               f"processes), {named}", [f"/organizations/{large}/app_usages?{month}"], ORG_TARGET),
        Shape("org-app-big-first", f"`/organizations/{{org}}/app_usages`, the largest org, {FIRST_MONTH[0]:%B %Y} "
                                   "(the data set's first month)",
              [f"/organizations/{big}/app_usages?{_period(FIRST_MONTH)}"], ORG_TARGET),
        Shape("org-app-big-year", f"`/organizations/{{org}}/app_usages`, the largest org, the whole year "
                                  f"({YEAR[0]} to {YEAR[1]})", [f"/organizations/{big}/app_usages?{_period(YEAR)}"]),
        Shape("system-app", "`/system_report/app_usages`", ["/system_report/app_usages"], SYSTEM_TARGET),
        Shape("system-task", "`/system_report/task_usages`", ["/system_report/task_usages"], SYSTEM_TARGET),
        Shape("system-service", "`/system_report/service_usages`", ["/system_report/service_usages"], SYSTEM_TARGET),
        Shape("all-orgs", f"`/app_usages` (all orgs' summary), {named}, `order_by=-total_instance_hours`",
              [f"/app_usages?{month}&order_by=-total_instance_hours"], SUMMARY_TARGET),
        Shape("availability", "`/usage_availability`", ["/usage_availability"]),
    ]
    return shapes


def rows_of(body):
    """What a report answered, in a few words."""
    if "app_usages" in body:
        return f"{len(body['app_usages']):,} app_usages"
    if "service_usages" in body:
        return f"{len(body['service_usages']):,} service_usages"
    if "spaces" in body:
        summaries = sum(len(space["task_summaries"]) for space in body["spaces"].values())
        return f"{summaries:,} task_summaries in {len(body['spaces']):,} spaces"
    if "monthly_service_reports" in body:
        plans = sum(len(service["plans"]) for service in body["monthly_service_reports"])
        return f"{len(body['monthly_service_reports'])} services, {plans} plans"
    if "monthly_reports" in body:
        return f"{len(body['monthly_reports'])} months, {len(body['yearly_reports'])} years"
    if "Organizations" in body:
        return f"{len(body['Organizations']):,} Organizations"
    if "date" in body:
        return f"date {body['date']}"
    return "—"


RAW_STREAM = ("FROM app_usage_events", "FROM service_usage_events")


def measure_reads(url, secret, token, workers, budget, log):
    """Each report shape measured as run.py measures its read shapes (run.measure_read)."""
    from . import run as bench
    from .sql import InProcessApp, connect

    shapes = build_shapes(url)
    results = []
    service = Service(url, secret, workers)
    app = conn = None
    try:
        port = service.start(token)
        log(f"gunicorn with {workers} workers on port {port}; measuring {len(shapes)} report shapes")
        app = InProcessApp(url, secret, token)
        conn = connect(url)

        def make_client():
            return Client("127.0.0.1", port, token)

        for shape in shapes:
            try:
                result = bench.measure_read(shape, app, make_client, conn, workers, budget, log)
                response = app.client.get(shape.paths[0], headers=app.headers)
                if response.status_code == 200:
                    result.rows = rows_of(response.get_json())
                    log(f"  {shape.key}: {result.rows}")
                # The rollups alone: a report that reads raw events (beyond the pending probe) is noted.
                _, statements = app.capture(shape.paths[0])
                reading = [s for s, _ in statements if any(t in s for t in RAW_STREAM) and "LIMIT" not in s.upper()]
                if reading:
                    result.notes.append(f"⚠ {len(reading)} statement(s) read the raw usage streams")
            except Exception as error:  # one shape's failure must not lose the others
                traceback.print_exc()
                result = bench.Result(shape.label)
                result.notes.append(f"failed: {error!r}")
            results.append(result)
    finally:
        if conn is not None:
            conn.close()
        if app is not None:
            app.dispose()
        service.stop()
    return results


# --- writes with the fold after each, and without ----------------------------------------------
def plain_write_app():
    """`gunicorn 'bench.usage:plain_write_app()'`: the service with its fold after writes switched off, so that
    a write is the stream's plain write (what is written stays pending until something folds it)."""
    from app.usage import metering

    metering.fold_after_write = lambda model: None
    from wsgi import app

    return app


class Gunicorn(Service):
    """bench.service.Service serving `target` (a gunicorn app spec) instead of wsgi:app."""

    def __init__(self, database_url, secret, workers, target="wsgi:app", fold_on_write=True):
        super().__init__(database_url, secret, workers)
        self.target = target
        # Said explicitly either way, whatever the caller's environment says (the app's switch, where it has one).
        self.fold_on_write = "on" if fold_on_write else "off"

    def start(self, token, timeout=60):
        from .cluster import free_port
        from .service import _gunicorn

        self.port = free_port()
        self.logfile = tempfile.NamedTemporaryFile(prefix="cf-events-bench-usage-gunicorn-", suffix=".log",
                                                   delete=False)
        env = {**os.environ, "DATABASE_URL": self.database_url, "TOKEN_SECRET": self.secret,
               "USAGE_FOLD_ON_WRITE": self.fold_on_write}
        command = [_gunicorn(), "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}", self.target]
        self.process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=self.logfile, stderr=subprocess.STDOUT)
        client = Client("127.0.0.1", self.port, token, timeout=5)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    status, _ = client.get("/v2/info")
                    if status == 200:
                        return self.port
                except OSError:
                    pass
                finally:
                    client.close()
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log_tail()}")


def write_event(rnd, world):
    """A STARTED (with new figures) or STOPPED of one of the data set's processes, as Cloud Controller
    writes it (dated by the service: now)."""
    guid, a_guid, a_name, s_guid, s_name, o_guid, ptype = world.process(rnd.randrange(world.n_apps))
    memory = rnd.choice(MEMORIES)
    count = rnd.choice(INSTANCES)
    state = rnd.choice(("STARTED", "STOPPED"))
    bp = rnd.randrange(len(dataset.BUILDPACKS))
    return {"guid": new_guid(rnd), "state": state, "previous_state": "STOPPED" if state == "STARTED" else "STARTED",
            "memory_in_mb_per_instance": memory, "previous_memory_in_mb_per_instance": memory,
            "instance_count": count, "previous_instance_count": count, "app_guid": guid, "app_name": a_name,
            "space_guid": s_guid, "space_name": s_name, "org_guid": o_guid,
            "buildpack_guid": world.buildpack_guids[bp], "buildpack_name": dataset.BUILDPACKS[bp],
            "package_state": "STAGED", "previous_package_state": "STAGED", "parent_app_guid": a_guid,
            "parent_app_name": a_name, "process_type": ptype}


def snapshot_rollups(url, rows):
    """Copies of the rollups (and known_resources, which the writes' trigger changes) to put back once the
    writes are deleted; the highest segment id and the stream's last position are noted on them."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            drop_snapshots(cur)
            cur.execute("BEGIN")
            for table, copy in SNAPSHOTS.items():
                cur.execute(f"CREATE TABLE {copy} AS SELECT * FROM {table}")
            cur.execute("SELECT coalesce(max(id), 0) FROM usage_segments")
            segments = cur.fetchone()[0]
            cur.execute(f"COMMENT ON TABLE {SNAPSHOTS['usage_folds']} IS %s",
                        (json.dumps({"segments": segments, "app_usage_events": rows}),))
            cur.execute("COMMIT")
    finally:
        conn.close()


def drop_snapshots(cur):
    for copy in SNAPSHOTS.values():
        cur.execute(f"DROP TABLE IF EXISTS {copy}")


def restore_rollups(url, log):
    """Delete what the writes added and put the rollups back as they were before them (also after an
    interrupted run: the snapshot says what to restore); returns the app usage events deleted."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            noted = _json_comment(cur, SNAPSHOTS["usage_folds"])
            if noted is None:
                drop_snapshots(cur)
                return 0
            rows = noted["app_usage_events"]
            cur.execute("BEGIN")
            cur.execute("DELETE FROM app_usage_events WHERE id > %s", (rows,))
            deleted = cur.rowcount
            cur.execute("UPDATE usage_streams SET last_id = %s WHERE name = 'app_usage_events'", (rows,))
            cur.execute("DELETE FROM usage_segments WHERE id > %s", (noted["segments"],))
            for table in ("usage_meters", "usage_months", "usage_days", dataset.KNOWN):
                cur.execute(f"TRUNCATE {table}")
                cur.execute(f"INSERT INTO {table} SELECT * FROM {SNAPSHOTS[table]}")
            cur.execute(f"UPDATE usage_folds SET position = s.position, folded_until = s.folded_until "
                        f"FROM {SNAPSHOTS['usage_folds']} AS s WHERE usage_folds.stream = s.stream")
            drop_snapshots(cur)
            cur.execute("COMMIT")
            cur.execute(f"VACUUM (ANALYZE) app_usage_events, usage_meters, usage_segments, usage_months, usage_days, "
                        f"usage_folds, {dataset.KNOWN}")
            log(f"removed the {deleted:,} app usage events the writes added; rollups put back as they were")
            return deleted
    finally:
        conn.close()


def _backlog(url):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT s.last_id - f.position FROM usage_streams AS s JOIN usage_folds AS f "
                        "ON f.stream = s.name WHERE s.name = 'app_usage_events'")
            return cur.fetchone()[0]
    finally:
        conn.close()


WRITE_SHAPES = ((100, 8), (1000, 4))  # (batch, clients)


def measure_writes(url, secret, token, world, workers, budget, log):
    """Batched POST /v2/app_usage_events with the fold after each write (as served) and without it (the
    stream's plain write), in alternating rounds on two gunicorns over the same database; the backlog a
    plain round leaves is folded (in process, timed) before the next round."""
    from . import run as bench
    from .loadgen import run
    from .sql import InProcessApp

    results = []
    rounds = budget.writer_rounds
    seconds = budget.writer_seconds * 2
    rnd = random.Random(SEED + 7)
    rows = state(url)["app_usage_events"][1]
    snapshot_rollups(url, rows)
    services = {"fold": Gunicorn(url, secret, workers),
                "plain": Gunicorn(url, secret, workers, "bench.usage:plain_write_app()", fold_on_write=False)}
    folder = None
    try:
        ports = {mode: service.start(token) for mode, service in services.items()}
        folder = InProcessApp(url, secret, token)
        log(f"writes: with the fold on port {ports['fold']}, without on port {ports['plain']}")
        for batch, clients in WRITE_SHAPES:
            outcomes = {"fold": [], "plain": []}
            backlogs, catch_ups = [], []
            for mode in ("fold", "plain", "plain", "fold")[: 2 * rounds]:
                count = max(clients * 3, int(budget.writer_events // batch))
                bodies = [("POST", "/v2/app_usage_events",
                           json.dumps([write_event(rnd, world) for _ in range(batch)]).encode())
                          for _ in range(count)]
                result = bench.Result("")
                with bench.watched(result, disk=True):
                    outcome = run(lambda port=ports[mode]: Client("127.0.0.1", port, token), bodies, clients,
                                  len(bodies), seconds, expect=(201,), units_of=lambda *_, batch=batch: batch)
                outcome.notes = result.notes
                outcomes[mode].append(outcome)
                left = _backlog(url)
                if mode == "fold":
                    backlogs.append(left)
                else:
                    catch_ups.append(_catch_up(folder, left))
                log(f"  batch {batch} × {clients} clients, {mode}: {outcome.unit_rate:,.0f} events/s, p50 "
                    f"{bench.ms(percentile(outcome.latencies, 0.5))} ms, left to fold {left:,}")
            best = {mode: max(found, key=lambda outcome: outcome.unit_rate) for mode, found in outcomes.items()}
            fold, plain = best["fold"], best["plain"]
            cost = 1 - fold.unit_rate / plain.unit_rate if plain.unit_rate else None
            r = bench.Result(f"`POST /v2/app_usage_events`, batches of {batch} ({clients} clients), folded after "
                             "each write (as served)")
            r.rows, r.p50, r.p99 = f"{fold.units:,} events", percentile(fold.latencies, 0.5), percentile(
                fold.latencies, 0.99)
            r.throughput = (f"{fold.unit_rate:,.0f} events/s (best of {rounds}); left to fold after each round: "
                            f"{', '.join(f'{n:,}' for n in backlogs)}")
            r.target, r.checked = f"left to fold ≤ {BACKLOG_BOUND:,} (a bounded fold on write)", True
            if max(backlogs) > BACKLOG_BOUND:
                r.misses.append("backlog")
            r.notes += fold.notes + _errors(fold)
            p = bench.Result(f"`POST /v2/app_usage_events`, batches of {batch} ({clients} clients), the fold after "
                             "writes switched off (the stream's plain write)")
            p.rows, p.p50, p.p99 = f"{plain.units:,} events", percentile(plain.latencies, 0.5), percentile(
                plain.latencies, 0.99)
            folded = [rate for rate in catch_ups if rate]
            p.throughput = (f"{plain.unit_rate:,.0f} events/s (best of {rounds}) → the fold on write costs "
                            f"{cost * 100:.0f} % of the write rate, p50 {bench.ms(r.p50)} ms vs {bench.ms(p.p50)} ms"
                            + (f"; its backlog folded afterwards at {max(folded):,.0f} events/s" if folded else ""))
            p.target, p.checked = f"the fold on write costs ≤ {FOLD_ON_WRITE_COST:.0%} of the write rate", True
            if cost is None or cost > FOLD_ON_WRITE_COST:
                p.misses.append("the fold's cost")
            p.notes += plain.notes + _errors(plain)
            results += [r, p]
    finally:
        for service in services.values():
            service.stop()
        if folder is not None:
            folder.dispose()
        restore_rollups(url, log)
    return results


def _errors(outcome):
    return [f"{outcome.errors} failed (first: {outcome.first_error[:160]})"] if outcome.errors else []


def _catch_up(app, pending):
    """Fold what is pending in process (metering.catch_up, as `flask events fold` does); events/s."""
    from app.base.extensions import db
    from app.store.models import AppUsageEvent
    from app.usage.metering import catch_up

    with app.app.app_context():
        started = time.perf_counter()
        folded = catch_up(AppUsageEvent)
        elapsed = time.perf_counter() - started
        db.session.remove()
    return folded / elapsed if folded and elapsed else None


# --- the run -----------------------------------------------------------------------------------
def _budget(quick):
    from .run import QUICK, Budget

    if quick:
        return QUICK
    # Reports take up to a second: a few more seconds per shape than run.py's, for enough samples.
    return Budget(latency_requests=200, latency_seconds=6.0, throughput_seconds=3.0, raw_requests=100,
                  raw_seconds=2.0, profile_requests=6, writer_seconds=3.0, writer_events=40_000, writer_rounds=2)


def _ensure_database(cluster, database):
    conn = psycopg2.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{database}"')
    finally:
        conn.close()
    return f"postgresql://postgres@127.0.0.1:{cluster.port}/{database}"


def dataset_result(facts, fold_result, checks, database):
    from .run import Result

    simulation, stream = facts["simulation"], facts["stream"]
    states = ", ".join(f"{state} {row['events']:,}" for state, row in stream["states"].items())
    started = stream["states"].get("STARTED", {})
    r = Result(f"Usage data set `{database}`: {facts['events']:,} app usage events over {SPAN.days} days "
               f"({stream['first'][:10]} to {stream['last'][:10]}) for {facts['processes']:,} app processes "
               f"({stream['processes']:,} seen), {facts['service_events']:,} service usage events")
    r.rows = f"{facts['events'] + facts['service_events']:,} events"
    r.throughput = (f"loaded in {facts['load_seconds']:.0f} s ({facts['loaded_at']}). States: {states}. STARTED "
                    f"changing the instance count {started.get('instance count changed', 0):,}, with 0 instances "
                    f"{started.get('with 0 instances', 0):,}; reseeded {simulation['reseeded']:,}, pushes "
                    f"{simulation['pushes']:,}, restarts {simulation['restarts']:,}, rolling deploys (STARTED "
                    f"repeating the figures) {simulation['rolling']:,}, STOPPED of a process not running "
                    f"{simulation['stopped_not_running']:,}, deleted {simulation['deleted']:,}, new apps "
                    f"{simulation['created']:,}; {stream['tasks']:,} task runs; service instances "
                    f"{facts['services']['instances']:,} ({facts['services']['plan_changes']:,} plan changes)")
    r.target, r.checked = "the stream plausible for the rules; the folded meters equal the simulation's end", True
    problems = list(facts["problems"])
    problems += [f"{what}: folded {folded:,}, simulated {expected:,}" for what, folded, expected in checks
                 if folded != expected]
    if problems:
        r.misses.append("data set")
        r.notes += [f"⚠ {problem}" for problem in problems]
    else:
        r.notes.append("meters at the end equal the simulation's: " + ", ".join(
            f"{what} {folded:,}" for what, folded, _ in checks))
    return r


def fold_result_row(fold_result):
    from .run import Result

    events = fold_result["app_usage_events"] + fold_result["service_usage_events"]
    r = Result("`flask --app wsgi events fold` over the loaded streams (once, kept with the data set)")
    r.rows = f"{events:,} events"
    sizes = fold_result.get("rollups", {})
    r.throughput = (f"{fold_result['events_per_second']:,} events/s: {fold_result['seconds']:,.0f} s "
                    f"({fold_result['folded_at']}, git {fold_result.get('git') or '?'}"
                    f"{', resumed after an interruption' if fold_result.get('resumed') else ''}); CPU: the fold "
                    f"{fold_result['cpu_fold_seconds']:,.0f} s, PostgreSQL {fold_result['cpu_postgres_seconds']:,.0f}"
                    " s. Rollups: " + ", ".join(f"{table} {rows:,} rows ({size / 2**20:,.0f} MiB)"
                                               for table, (rows, size) in sizes.items()))
    # The issue's target is the 10 M data set's; a smaller one's fold is shown, not judged.
    r.target = f"≥ {FOLD_TARGET:,} events/s on the 10 M data set"
    r.checked = fold_result["app_usage_events"] >= SCALES["10m"][0]
    if r.checked and (fold_result["events_per_second"] or 0) < FOLD_TARGET:
        r.misses.append("throughput")
    return r


def measure_usage(cluster, secret, token, workers, quick=False, scale=None, log=print, reload=False, refold=False,
                  writes=True, restartable=True, monitor=None):
    """The usage reports' rows for RESULTS.md (run.Result, in report.table's format): the data set, the fold,
    each report shape and the writes with and without the fold.

    `cluster` is a started bench.cluster.Cluster; the data set is built in a database of its own there when
    missing (with `restartable`, the cluster is restarted in its load settings for that and back: its port
    changes, so call this with no connection open to it and read cluster.url afterwards)."""
    from .noise import CpuMonitor

    scale = scale or (QUICK_SCALE if quick else "10m")
    budget = _budget(quick)
    database = database_name(scale)
    monitor = monitor or CpuMonitor(os.path.join(cluster.datadir, "postmaster.pid"), cluster.root)
    url = _ensure_database(cluster, database)
    migrate(url, secret)
    found = state(url)
    if found["snapshot"]:
        log("putting back what an interrupted write measurement changed")
        restore_rollups(url, log)
        found = state(url)
    if reload or not is_loaded(found, scale):
        if restartable and cluster.mode != "load":
            cluster.restart("load")
            url = _ensure_database(cluster, database)
            log(f"cluster restarted with its load settings (port {cluster.port})")
        try:
            load(url, scale, log)
        finally:
            if restartable:
                cluster.restart("measure")
                url = _ensure_database(cluster, database)
                log(f"cluster restarted with its measuring settings (port {cluster.port})")
        found = state(url)
    else:
        log(f"reusing the usage data set in {database} ({found['app_usage_events'][0]:,} app usage events)")
    if refold or not is_folded(found) or not found["fold"]:
        if refold or not found["fold"]:
            _reset_rollups(url)
            found = state(url)
        fold(url, secret, found, monitor, log)
        found = state(url)
    else:
        log(f"the rollups are folded ({found['fold']['events_per_second']:,} events/s when they were)")
    facts = found["facts"]
    checks = meter_check(url, facts)
    results = [dataset_result(facts, found["fold"], checks, database), fold_result_row(found["fold"])]
    results += measure_reads(url, secret, token, workers, budget, log)
    if writes:
        log("measuring writes with and without the fold")
        results += measure_writes(url, secret, token, UsageWorld(facts["processes"]), workers, budget, log)
    return results


def _reset_rollups(url):
    """Empty rollups, to fold the whole stream again (a fold whose result was not kept is done again)."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE usage_meters, usage_segments, usage_months, usage_days")
            cur.execute("UPDATE usage_folds SET position = 0, folded_until = NULL")
            cur.execute("COMMENT ON TABLE usage_folds IS NULL")
    finally:
        conn.close()


def render(results, facts):
    """A report of these rows alone, as report.py writes its results table and plans."""
    from .report import _cpu_model, _memory, plans, table

    out = [
        "# cf-events usage report benchmark",
        "",
        f"- **Date**: {_now()}; **command**: `python -m bench.usage {' '.join(facts['argv'])}`; **run time**: "
        f"{facts['elapsed']:.0f} s",
        f"- **Machine**: {facts['cores']} CPUs ({_cpu_model()}), {_memory()} RAM; gunicorn with {facts['workers']} "
        "sync workers; PostgreSQL in the private cluster (bench/data), production durability while measuring",
        "- Latencies: p50/p99 from one client; throughput from one client per worker; raw SQL is the service's "
        "captured statements replayed (see bench/README.md). Targets are the issue's, as p99.",
        "",
        table(results),
        "",
        "## Plans",
        "",
        *plans(results),
    ]
    return "\n".join(out)


def _running_port(cluster):
    """The port of the private cluster when another run has it running (postmaster.pid's fourth line)."""
    if not cluster.initialised or not cluster.running():
        return None
    try:
        with open(os.path.join(cluster.datadir, "postmaster.pid")) as pid_file:
            return int(pid_file.read().splitlines()[3])
    except (OSError, ValueError, IndexError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.usage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), help="app usage events (default 10m; 200k with --quick)")
    parser.add_argument("--quick", action="store_true", help="the 200k data set and a few requests per shape")
    parser.add_argument("--reload", action="store_true", help="build the data set again even when it is there")
    parser.add_argument("--refold", action="store_true", help="fold the loaded streams again (and time it)")
    parser.add_argument("--no-writes", action="store_true", help="skip the write measurements")
    parser.add_argument("--output", help="also write the Markdown report to this file")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from app.identity.tokens import issue_token

    from . import run as bench

    log = bench.Log()
    secret = secrets.token_urlsafe(36)
    token = issue_token(secret, ["cloud_controller.admin"], user_id="bench", expires_in=24 * 3600)
    cores = len(os.sched_getaffinity(0))
    workers = recommended_workers(cores)
    cluster = Cluster()
    port = _running_port(cluster)
    if port:
        # Another run of the bench has the cluster: use it as it is (stopping it would break that run).
        cluster.port, cluster.mode = port, "shared"
        log(f"using the private cluster another run started (port {port}): loading, if needed, in its settings")
    else:
        cluster.start("measure")
        log(f"PostgreSQL cluster in {cluster.datadir} on port {cluster.port}")
    bench.MONITOR.postmaster_pid_file = os.path.join(cluster.datadir, "postmaster.pid")
    bench.MONITOR.disk_path = cluster.root
    try:
        results = measure_usage(cluster, secret, token, workers, quick=args.quick, scale=args.scale, log=log,
                                reload=args.reload, refold=args.refold, writes=not args.no_writes,
                                restartable=not port, monitor=bench.MONITOR)
    finally:
        if not port:
            cluster.stop()
    text = render(results, {"argv": sys.argv[1:] if argv is None else argv, "elapsed": time.monotonic() - log.started,
                            "cores": cores, "workers": workers})
    print(text)
    if args.output:
        with open(args.output, "w") as out:
            out.write(text)
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
