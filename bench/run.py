"""The benchmark run: database, service, every shape measured, the report."""
import argparse
import copy
import json
import os
import re
import secrets
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote, urlencode

import psycopg2

from . import dataset, follow, report, usage, writes
from .cluster import Cluster
from .loadgen import Client, percentile, run
from .noise import CpuMonitor
from .service import PROJECT, Service, recommended_workers
from .sql import InProcessApp, connect, counted_table, explain, measure_raw

SCALES = {"1m": 1_000_000, "10m": 10_000_000}
RESULTS_HISTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
USAGE = "/v2/app_usage_events"
EVENTS = "/v2/events"
V3_USAGE = "/v3/app_usage_events"
V3_EVENTS = "/v3/audit_events"
Q_SAFE = ":,=@/!$'()*"

# The issue's targets, by kind of request; v3 requests share them with their v2 twins.
TAIL = {"p50": 0.003, "p99": 0.015, "per_worker": 500, "ratio": 3}
CATCH_UP = {"p99": 0.050, "ratio": 5}  # 1000/page
FIRST_PAGE = {kind: {"p99": p99, "ratio": 3} for kind, p99 in
              {"selective": 0.020, "common": 0.300, "unfiltered": 0.050}.items()}


@dataclass
class Budget:
    """How much each measurement may take: requests and seconds, whichever runs out first."""

    latency_requests: int = 400
    latency_seconds: float = 3.0
    throughput_seconds: float = 2.5
    raw_requests: int = 400
    raw_seconds: float = 1.5
    drain_seconds: float = 240.0
    drain_pages: int = 100_000
    edge_requests: int = 30
    post_batches: int = 10  # 2 a client (POST_CLIENTS): every client busy to the end
    post_seconds: float = 60.0
    import_events: int | None = None  # None: 200 000 at 10 M rows, else 50 000 (import_events())
    writer_seconds: float = 3.0
    writer_events: int = 60_000  # pre-generated per round at batch 100; a sixth of it at batch 1
    writer_rounds: int = 2
    profile_requests: int = 10


QUICK = Budget(latency_requests=30, latency_seconds=1.0, throughput_seconds=1.0, raw_requests=30, raw_seconds=0.5,
               drain_seconds=30.0, drain_pages=20, edge_requests=10, post_batches=10, post_seconds=20.0,
               import_events=20_000, writer_seconds=1.5, writer_events=12_000, writer_rounds=1, profile_requests=4)


@dataclass
class Shape:
    key: str
    label: str
    paths: list
    targets: dict = field(default_factory=dict)  # p50, p99 (seconds), per_worker (req/s), ratio
    # Its total must come from the maintained counts or the cursor's arithmetic: a COUNT over a large
    # table among its statements is noted in the verdict (every plan flags one anyway).
    no_count: bool = False


@dataclass
class Result:
    label: str
    rows: str = "—"
    p50: float | None = None
    p99: float | None = None
    throughput: str = "—"
    raw_p50: float | None = None
    ratio: float | None = None
    target: str = "—"
    misses: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    plans: list = field(default_factory=list)  # (statement kind, plan summary, execution ms)
    breakdown: tuple | None = None  # (in-process p50, DB share, {group: share})
    checked: bool = False  # has targets
    # Writes beside the floor (issue 21): events stored per second, a short name for the report's table of
    # them, the least share of the floor's rate it must reach (None: no target), and whether it is the floor.
    rate: float | None = None
    short: str | None = None
    floor_target: float | None = None
    floor: bool = False
    # What pairs a row with its twin at the other scale of a two-scale run (`--scale 1m,10m`): the shape's key
    # (else its label); its group ("read": a read shape of the audit and usage data set, "report": a usage
    # report, "write"); the skip-free ordering's cost (the service's, and the safe point's issue 21 proposes)
    # and the most it may be.
    key: str | None = None
    group: str | None = None
    cost: float | None = None
    cost_safepoint: float | None = None
    cost_target: float | None = None

    @property
    def verdict(self):
        verdict = "—" if not self.checked else "met" if not self.misses else "MISSED: " + ", ".join(self.misses)
        return verdict + "".join(f"; {note}" for note in self.notes)


class Log:
    def __init__(self):
        self.started = time.monotonic()

    def __call__(self, message):
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)


def q(*clauses):
    return "&".join(f"q={quote(clause, safe=Q_SAFE)}" for clause in clauses)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def v3(path, *pairs):
    """A v3 request as its clients write it: every key and value form-escaped (CC's CGI.escape, Go's
    url.Values: `[` is %5B, `:` %3A), in the order given."""
    return f"{path}?{urlencode(pairs)}"


def usage_guids(url, positions):
    conn = connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT id, guid FROM app_usage_events WHERE id = ANY(%s)", (list(positions),))
        found = dict(cur.fetchall())
    conn.close()
    return [found[p] for p in positions]


def build_shapes(url, rows):
    world = dataset.World(rows)
    tail = usage_guids(url, [rows - 50 - k for k in (0, 7, 13, 29, 41)])
    behind = 5_000_000 if rows >= 10_000_000 else rows // 2
    catch_up = usage_guids(url, [rows - behind - k for k in (0, 101, 2_003, 30_011, 77_777)])
    shapes = [
        # No database, no serialisation of rows: what a request costs through gunicorn and Flask alone.
        Shape("floor", "Floor: `GET /v2/info` (no database, no rows)", ["/v2/info"], {}),
        Shape("tail", "Tail poll: app usage `after_guid` 50 behind the head, 50/page",
              [f"{USAGE}?after_guid={g}&results-per-page=50" for g in tail], TAIL),
        Shape("catchup", f"Catch-up: app usage `after_guid` {behind:,} behind, 1000/page",
              [f"{USAGE}?after_guid={g}&results-per-page=1000" for g in catch_up], CATCH_UP),
        Shape("usage-deep", "App usage deep page: page=10000 × 100/page (no cursor)",
              [f"{USAGE}?results-per-page=100&page=10000"], {}),
    ]
    app = world.app(100)
    t1 = dataset.START + timedelta(days=90)
    filters = [
        ("actee", "actee = an app (popularity rank 100)", q(f"actee:{app[0]}"), "selective"),
        ("space", "space_guid = a space", q(f"space_guid:{world.space_of_app(50)}"), "selective"),
        ("org", "organization_guid = an org", q(f"organization_guid:{world.org_of_app(200)}"), "selective"),
        ("rare", f"type = {dataset.RARE_TYPE} (rare)", q(f"type:{dataset.RARE_TYPE}"), "selective"),
        ("common", f"type = {dataset.MOST_COMMON_TYPE} (most common)", q(f"type:{dataset.MOST_COMMON_TYPE}"),
         "common"),
        ("range", "timestamp in one day", q(f"timestamp>={iso(t1)}", f"timestamp<{iso(t1 + timedelta(days=1))}"),
         "selective"),
        ("type+org", f"type = {dataset.CRASH_TYPE} and organization_guid", q(
            f"type:{dataset.CRASH_TYPE}", f"organization_guid:{world.org_of_app(200)}"), "selective"),
        ("actee+range", "actee and timestamp in 30 days", q(
            f"actee:{app[0]}", f"timestamp>={iso(t1)}", f"timestamp<{iso(t1 + timedelta(days=30))}"), "selective"),
        ("unfiltered", "unfiltered", "", "unfiltered"),
    ]
    for key, label, query, kind in filters:
        for direction in ("asc", "desc"):
            params = "&".join(part for part in (query, f"order-direction={direction}") if part)
            shapes.append(Shape(f"events-{key}-{direction}", f"/v2/events first page, {label}, {direction}",
                                [f"{EVENTS}?{params}"], FIRST_PAGE[kind]))
    shapes.append(Shape("events-deep", "/v2/events deep page: page=10000 × 100/page",
                        [f"{EVENTS}?results-per-page=100&page=10000"], {}))

    # v3 (V3.md 1, 2, 6): the same requests in the new dialect, with the same targets as their v2 twins.
    # 30 days before the data set's end is a UTC midnight, so no day is cut: the total is the counts' alone.
    since = iso(dataset.END - timedelta(days=30))
    actor = world.actor(100)
    shapes += [
        Shape("v3-cf-events", "v3 `cf events APP` (cf CLI v8): target_guids = an app (rank 100), "
                              "order_by=-created_at, page 1 × 50",
              [v3(V3_EVENTS, ("order_by", "-created_at"), ("page", 1), ("target_guids", app[0]))],
              FIRST_PAGE["selective"], no_count=True),
        Shape("v3-crash-30d", f"v3 audit events: types = {dataset.CRASH_TYPE}, created_ats[gte] = 30 days "
                              "before the end, 50/page",
              [v3(V3_EVENTS, ("types", dataset.CRASH_TYPE), ("created_ats[gte]", since))],
              FIRST_PAGE["selective"], no_count=True),
        Shape("v3-actor", "v3 audit events: actor_guids = a user (popularity rank 100), 50/page",
              [v3(V3_EVENTS, ("actor_guids", actor[0]))], FIRST_PAGE["selective"], no_count=True),
        # No latency target: 5000 events serialised is the service's own work, which the ratio bounds.
        Shape("v3-unfiltered-5000", "v3 audit events: unfiltered, per_page=5000",
              [v3(V3_EVENTS, ("per_page", 5000))], {"ratio": 5}, no_count=True),
        Shape("v3-tail", "v3 tail poll: app usage `after_guid` 50 behind the head, per_page=50",
              [v3(V3_USAGE, ("after_guid", g), ("per_page", 50)) for g in tail], TAIL, no_count=True),
        # p99 scaled from v2's 1000/page catch-up by the rows: at 1000 rows and more a page's time is
        # mostly per row (decoding and serialising), so 5 × the rows may take 5 × 50 ms.
        Shape("v3-catchup", f"v3 catch-up: app usage `after_guid` {behind:,} behind, per_page=5000",
              [v3(V3_USAGE, ("after_guid", g), ("per_page", 5000)) for g in catch_up],
              {**CATCH_UP, "p99": 5 * CATCH_UP["p99"]}, no_count=True),
        # The console's overview (issue 22: from maintained counts, never a scan) over the longest window it
        # offers (366 days back from today), which holds the whole data set until early 2027.
        Shape("console-top-crashes", f"Console: the 10 apps with most {dataset.CRASH_TYPE} over 366 days, per day "
                                     "(`/v3/audit_event_stats/top_targets`)",
              ["/v3/audit_event_stats/top_targets?days=366"], {"p99": 0.1}),
        Shape("console-daily", "Console: events per day and category over 366 days (`/v3/audit_event_stats/daily`)",
              ["/v3/audit_event_stats/daily?days=366"], {"p99": 0.1}),
    ]
    return shapes


def ms(value):
    return "—" if value is None else (f"{value * 1000:.1f}" if value < 0.1 else f"{value * 1000:.0f}")


def apply_targets(result, targets, rate=None, workers=None):
    parts = []
    if "p50" in targets:
        parts.append(f"p50 ≤ {ms(targets['p50'])}")
        if result.p50 is not None and result.p50 > targets["p50"]:
            result.misses.append("p50")
    if "p99" in targets:
        parts.append(f"p99 ≤ {ms(targets['p99'])}")
        if result.p99 is not None and result.p99 > targets["p99"]:
            result.misses.append("p99")
    if "per_worker" in targets:
        parts.append(f"≥ {targets['per_worker']}/s per worker")
        if rate is not None and rate / workers < targets["per_worker"]:
            result.misses.append("req/s per worker")
    if "ratio" in targets:
        parts.append(f"÷ SQL ≤ {targets['ratio']}×")
        if result.ratio is not None and result.ratio > targets["ratio"]:
            result.misses.append("÷ SQL")
    result.target = ", ".join(parts) or "—"
    result.checked = bool(parts)


MONITOR = CpuMonitor()
NOISY = 0.25  # cores used by other processes during a measurement above which it is flagged


class watched:
    """Wait for a quiet machine, then note on `result` how busy the rest of it was while measuring
    (and, for writes, how busy the disk was: a commit waits for it)."""

    def __init__(self, result, disk=False):
        self.result = result
        self.disk = disk

    def __enter__(self):
        MONITOR.wait_quiet(NOISY)
        self.before = MONITOR.snapshot()
        return self

    def __exit__(self, *exc):
        after = MONITOR.snapshot()
        outside, steal = MONITOR.foreign(self.before, after)
        if outside > NOISY:
            self.result.notes.append(f"⚠ other processes used {outside:.1f} cores meanwhile")
        if steal > NOISY:
            self.result.notes.append(f"⚠ {steal:.1f} cores stolen by the hypervisor")
        busy = MONITOR.disk_busy(self.before, after)
        if self.disk and busy is not None:
            self.result.notes.append(f"disk busy {busy * 100:.0f} % (all processes)")
        return False


def measure_read(shape, app, make_client, conn, workers, budget, log):
    result = Result(shape.label, key=shape.key, group="read")
    with watched(result):
        _measure_read(result, shape, app, make_client, conn, workers, budget, log)
    return result


def _measure_read(result, shape, app, make_client, conn, workers, budget, log):
    captured, first = [], None
    for path in shape.paths:
        response, statements = app.capture(path)
        if response.status_code != 200:
            result.notes.append(f"HTTP {response.status_code}: {response.get_data(as_text=True)[:200]}")
            return
        captured.append(statements)
        if first is None:
            first = response.get_json()
    if "pagination" in first or "total_results" in first:
        total = first["pagination"]["total_results"] if "pagination" in first else first["total_results"]
        result.rows = f"{len(first['resources']):,} of {total:,}"
    elif "resources" in first:  # the console's aggregates: a ranking, no total
        result.rows = f"{len(first['resources']):,}"
    requests = [("GET", path, None) for path in shape.paths]
    run(make_client, requests, 1, 2 * len(requests) + 3, 3)  # warm-up
    latency = run(make_client, requests, 1, budget.latency_requests, budget.latency_seconds)
    load = run(make_client, requests, workers, 10**7, budget.throughput_seconds)
    raw = measure_raw(conn, captured, budget.raw_requests, budget.raw_seconds) if any(captured) else None
    for outcome in (latency, load):
        if outcome.errors:
            result.notes.append(f"{outcome.errors} failed requests (first: {outcome.first_error[:160]})")
    result.p50, result.p99 = percentile(latency.latencies, 0.5), percentile(latency.latencies, 0.99)
    result.raw_p50 = percentile(raw.latencies, 0.5) if raw else None
    if result.p50 and result.raw_p50:
        result.ratio = result.p50 / result.raw_p50
    result.throughput = (f"{load.rate:,.0f} req/s ({load.rate / workers:,.0f}/worker), "
                         f"p99 {ms(percentile(load.latencies, 0.99))} ms")
    apply_targets(result, shape.targets, load.rate, workers)
    counted = sorted({table for statements in captured for statement, _ in statements
                      if (table := counted_table(statement))})
    if shape.no_count and counted:
        result.notes.append(f"⚠ total by COUNT over {', '.join(counted)}")
    result.plans = explain(conn, captured[0])
    result.breakdown = app.breakdown(shape.paths[0], budget.profile_requests)
    log(f"  {shape.key}: p50 {ms(result.p50)} ms, p99 {ms(result.p99)} ms, {load.rate:,.0f} req/s, "
        f"raw {ms(result.raw_p50)} ms, rows {result.rows}")


PAGE_PARAM = re.compile(r"([?&])page=\d+")


def measure_drain(url, rows, app, make_client, conn, budget, log):
    """Follow next_url through a 1 M backlog at 1000/page; then the first and the last page compared."""
    backlog = min(rows, 1_000_000)
    start = f"{USAGE}?results-per-page=1000"
    if backlog < rows:
        start += f"&after_guid={usage_guids(url, [rows - backlog])[0]}"
    label = f"Drain {backlog:,} rows by `next_url`, 1000/page"
    result = Result(label, key="drain", group="read")
    MONITOR.wait_quiet(NOISY)
    before = MONITOR.snapshot()
    client = make_client()
    path, pages, drained, latencies = start, 0, 0, []
    total_pages = None
    started = time.perf_counter()
    deadline = started + budget.drain_seconds
    last_path = None
    while path and pages < budget.drain_pages and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        status, data = client.get(path)
        latencies.append(time.perf_counter() - t0)
        if status != 200:
            result.notes.append(f"HTTP {status} on {path}: {data[:200]!r}")
            break
        body = json.loads(data)
        total_pages = total_pages or body["total_pages"]
        drained += len(body["resources"])
        pages += 1
        last_path, path = path, body["next_url"]
    wall = time.perf_counter() - started
    client.close()
    outside, _ = MONITOR.foreign(before, MONITOR.snapshot())
    if outside > NOISY:
        result.notes.append(f"⚠ other processes used {outside:.1f} cores meanwhile")
    if not latencies or total_pages is None:
        return [result]
    complete = path is None
    served = sum(latencies)
    if not complete:
        # The rest is estimated from the pages followed; the last page is measured below all the same.
        last_path = PAGE_PARAM.sub(lambda m: f"{m.group(1)}page={total_pages}", last_path)
    estimate = served / pages * total_pages
    result.rows = f"{drained:,} in {pages:,} pages" + ("" if complete else f" of {total_pages:,}")
    result.p50, result.p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    if complete:
        result.throughput = f"total {served:.1f} s served ({wall:.1f} s wall), {drained / wall:,.0f} rows/s"
    else:
        result.throughput = (f"~{estimate:.0f} s estimated for all {total_pages:,} pages "
                             f"({pages} followed in {served:.1f} s)")
    result.target = "total ≤ 30 s"
    result.checked = True
    if (served if complete else estimate) > 30:
        result.misses.append("total time")
    log(f"  drain: {pages} pages, {drained:,} rows, {served:.1f} s served, complete={complete}")

    edges = Result("Drain: last page vs first page (1000/page)", key="drain-last-page", group="read")
    with watched(edges):
        _measure_edges(edges, result, start, last_path, total_pages, app, make_client, conn, budget)
    return [result, edges]


def _measure_edges(edges, result, start, last_path, total_pages, app, make_client, conn, budget):
    measured = {}
    for name, edge_path in (("first", start), ("last", last_path)):
        response, statements = app.capture(edge_path)
        if response.status_code != 200:
            edges.notes.append(f"HTTP {response.status_code} on the {name} page")
            return
        requests = [("GET", edge_path, None)]
        run(make_client, requests, 1, 3, 10)
        outcome = run(make_client, requests, 1, budget.edge_requests, budget.latency_seconds * 2)
        raw = measure_raw(conn, [statements], budget.edge_requests, budget.raw_seconds)
        measured[name] = (outcome, raw, statements, response.get_json())
    first, last = measured["first"], measured["last"]
    first_p50, last_p50 = percentile(first[0].latencies, 0.5), percentile(last[0].latencies, 0.5)
    edges.rows = f"{len(last[3]['resources']):,} (page {total_pages:,})"
    edges.p50, edges.p99 = last_p50, percentile(last[0].latencies, 0.99)
    edges.raw_p50 = percentile(last[1].latencies, 0.5)
    edges.ratio = edges.p50 / edges.raw_p50 if edges.raw_p50 else None
    first_raw = percentile(first[1].latencies, 0.5)
    edges.throughput = (f"first page p50 {ms(first_p50)} ms (÷ SQL {first_p50 / first_raw:.1f}×); "
                        f"last ÷ first = {last_p50 / first_p50:.2f}×")
    edges.target = "last ≤ 1.5 × first, ÷ SQL ≤ 5×"
    edges.checked = True
    if last_p50 > 1.5 * first_p50:
        edges.misses.append("last/first")
    if (edges.ratio and edges.ratio > 5) or first_p50 / first_raw > 5:
        edges.misses.append("÷ SQL")
    edges.plans = explain(conn, first[2], "first page: ") + explain(conn, last[2], "last page: ")
    edges.breakdown = app.breakdown(last_path, budget.profile_requests)
    # The drain row's raw figure: the first page's SQL (1000 rows).
    result.raw_p50 = first_raw
    result.ratio = first_p50 / first_raw


IMPORT_TARGET = 50_000  # events/s, the import itself (its process's start apart)
POST_TARGET, POST_CLIENTS = 20_000, 5  # events/s of batched POST /v2/events from 5 clients (the issue's)
# Issue 21: the least share of the floor's events/s (COPY of the import's rows, no user triggers) each reaches.
FLOOR_TARGETS = {"import": 0.8, "post": 0.6, "follow": 0.6}
# Issue 21: the most the skip-free ordering may cost of a plain INSERT's rate, by batch size.
ORDERING_COST = {1: 0.25, 100: 0.10}


def import_events(rows, budget):
    """How many audit events the import measurement's file holds: a realistic import, long enough that the
    process's start is a small part of it."""
    return budget.import_events or (200_000 if rows >= 10_000_000 else 50_000)


def measure_import(url, secret, rows, budget, log):
    """`flask events import` of a file of audit events in the data set's shapes into the loaded store, its
    start-up measured apart by importing a 1-line file first; then its rows deleted and the maintained
    counts checked against the rows (after the import) and against their snapshot (after the delete)."""
    count = import_events(rows, budget)
    r = Result(f"`flask --app wsgi events import FILE --kind audit`: {count:,} audit events (the data set's "
               f"shapes) into the {rows // 1_000_000} M store")
    r.target = f"≥ {IMPORT_TARGET:,} events/s (process start excluded)".replace(",", " ")
    r.short, r.floor_target = "`flask events import` (process start excluded)", FLOOR_TARGETS["import"]
    r.key, r.group = "import", "write"
    if not os.path.exists(os.path.join(PROJECT, "app", "ops", "importer.py")):
        r.throughput = "not available (app/ops/importer.py does not exist)"
        return [r]
    world = dataset.World(rows)
    one, path = writes.write_import_file(world, 1), writes.write_import_file(world, count)
    before = max_event_id(url)
    writes.snapshot_counts(url)
    deleted = None
    floors = []
    try:
        with watched(r, disk=True):
            start_up, first = writes.run_import(url, secret, one, timeout=120)
            elapsed, summary = writes.run_import(url, secret, path, timeout=1200)
        written = summary["written"]
        r.rows = f"{written:,} events" + "".join(f", {summary[key]:,} {key}" for key in ("already present", "rejected")
                                                 if summary.get(key))
        alone = written / (elapsed - start_up) if elapsed > start_up else None
        r.throughput = (f"{alone:,.0f} events/s without process start ({elapsed:.2f} s − {start_up:.2f} s for a "
                        f"1-line import); {written / elapsed:,.0f} events/s with it" if alone else
                        f"{written / elapsed:,.0f} events/s with process start ({elapsed:.2f} s; a 1-line import "
                        f"took {start_up:.2f} s)")
        r.rate = alone or written / elapsed
        r.checked = True
        if alone is None or alone < IMPORT_TARGET:
            r.misses.append("events/s")
        total = written + first["written"]
        if total != count + 1:
            r.notes.append(f"⚠ {count + 1:,} lines imported, {total:,} written")
        if summary.get("rejected") or first.get("rejected"):
            r.misses.append("lines rejected")
            r.notes.append("⚠ rejected: " + "; ".join(first["reasons"] + summary["reasons"])[:300])
        # The triggers' counts against the rows: exactly what the new events add, then nothing once deleted.
        mismatches = writes.count_mismatches(url, added_after=before)
        columns, stored, copied = writes.read_imported(url, rows)
        deleted = writes.delete_imported(url, rows)
        if deleted != total:
            r.notes.append(f"⚠ {deleted:,} rows deleted of the {total:,} written")
        # The floor, with the import's rows gone: they are copied back and deleted alike, so the check after
        # the delete below covers both.
        floors = measure_floor(url, rows, columns, stored, copied, log)
        mismatches_after = writes.count_mismatches(url)
        problems = [f"{table} {moment}: {n} keys differ (e.g. {examples})"
                    for moment, found in (("after the import", mismatches), ("after the delete", mismatches_after))
                    for table, (n, examples) in found.items() if n]
        r.notes.extend(f"⚠ maintained counts wrong {problem}" for problem in problems)
        if problems:
            r.misses.append("maintained counts")
        else:
            r.notes.append("maintained counts exact after the import and after its delete")
        log(f"  import: {r.throughput}; {deleted:,} rows deleted; counts "
            f"{'exact' if not problems else '; '.join(problems)}")
    except writes.CommandFailed as error:
        r.throughput = str(error)
        r.checked = True
        r.misses.append("failed")
        log(f"  import failed: {error}")
    finally:
        for file in (one, path):
            os.unlink(file)
        if deleted is None:
            writes.delete_imported(url, rows)
        # What the delete leaves in the counts (rows at 0, days' id bounds widened) goes back as it was.
        differing = writes.restore_counts(url)
        writes.drop_counts_snapshot(url)
    if differing:
        r.notes.append(f"⚠ {differing} count rows differ from the snapshot after putting it back")
    return [r, *floors]


def measure_floor(url, rows, columns, data, count, log):
    """Issue 21's floor beside the import: its rows as stored (`data`, COPY text of `columns`) copied into the
    same events table, same indexes, by one `COPY events FROM STDIN` in one transaction, timed in this run:
    first with the user triggers disabled (the floor; rolled back), then with them on (committed, then deleted
    as the import's rows are). The COPY statement's time alone, commit excluded in both; durability as for the
    import (the server's fsync and synchronous_commit, noted)."""
    what = f"`COPY events FROM STDIN` of the import's {count:,} rows as it stored them (same table, same indexes)"
    floor = Result(f"`COPY`, no user triggers: **the floor**: {what} after `ALTER TABLE events DISABLE TRIGGER "
                   "USER`, in one transaction, rolled back")
    on = Result(f"`COPY`, triggers on: {what}, in one transaction, committed (then deleted)")
    floor.short, floor.floor = "`COPY`, no user triggers: **the floor**", True
    on.short = "`COPY`, triggers on"
    floor.key, on.key, floor.group, on.group = "copy-floor", "copy-triggers-on", "write", "write"
    for r, triggers in ((floor, False), (on, True)):
        r.rows = f"{count:,} events"
        timed = None
        try:
            with watched(r, disk=True):
                timed = writes.copy_floor(url, columns, data, triggers)
        except psycopg2.Error as error:
            r.throughput = f"failed: {' '.join(str(error).split())[:200]}"
            log(f"  {r.short}: failed: {error}")
            continue
        finally:
            if triggers:
                removed = writes.delete_imported(url, rows)
                if timed and removed != timed["rows"]:
                    r.notes.append(f"⚠ {removed:,} rows deleted of the {timed['rows']:,} copied")
        r.rate = timed["rows"] / timed["seconds"]
        r.throughput = (f"{r.rate:,.0f} events/s ({timed['rows']:,} rows in {timed['seconds']:.2f} s, the COPY "
                        "alone" + (f"; its commit took {timed['commit'] * 1000:.0f} ms more)" if timed["commit"]
                                   is not None else "; rolled back)"))
        r.notes.append(", ".join(f"{name}={value}" for name, value in timed["settings"].items()) + " (as the import)")
        if timed["rows"] != count:
            r.notes.append(f"⚠ {timed['rows']:,} rows copied of {count:,}")
        log(f"  {r.short}: {r.throughput}")
    return [on, floor]


def beside_floor(results):
    """Every write's rate beside the floor's (issue 21): `÷ floor` in its row, and checked where it has a
    target. A row with a target but no floor to compare with misses it as not measured."""
    floor = next((r.rate for r in results if r.floor and r.rate), None)
    for r in results:
        if r.floor or r.short is None:
            continue
        if r.floor_target is not None:
            r.target = (r.target if r.target != "—" else "") + f"; ≥ {r.floor_target:g} × floor"
            r.target = r.target.lstrip("; ")
        if floor is not None and r.rate is not None:
            r.throughput += f"; ÷ floor {r.rate / floor:.2f}"
            if r.floor_target is not None:
                r.checked = True
                if r.rate / floor < r.floor_target:
                    r.misses.append("÷ floor")
        elif r.floor_target is not None and r.checked:
            r.misses.append("÷ floor not measured")


def max_event_id(url):
    conn = connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM events")
        found = cur.fetchone()[0]
    conn.close()
    return found


def measure_writes(url, secret, rows, make_client, workers, budget, log):
    results = []
    world = dataset.World(rows)

    clients = POST_CLIENTS
    r = Result(f"`POST /v2/events`, batches of 1000 ({clients} clients; after one warm-up batch each)", key="post",
               group="write")
    # Not counted: the first batches after the read shapes fault in index pages no read touched.
    writes.post_events(make_client, world, clients, clients, budget.post_seconds)
    with watched(r, disk=True):
        post = writes.post_events(make_client, world, budget.post_batches, clients, budget.post_seconds)
    r.rows = f"{post.units:,} events"
    r.p50, r.p99 = percentile(post.latencies, 0.5), percentile(post.latencies, 0.99)
    r.throughput = f"{post.unit_rate:,.0f} events/s"
    r.target, r.checked = f"≥ {POST_TARGET:,} events/s ({clients} clients)".replace(",", " "), True
    r.rate, r.short = post.unit_rate, f"batched `POST /v2/events` (1000 × {clients} clients)"
    r.floor_target = FLOOR_TARGETS["post"]
    if post.errors:
        r.notes.append(f"{post.errors} failed (first: {post.first_error[:160]})")
    if post.unit_rate < POST_TARGET:
        r.misses.append("events/s")
    results.append(r)
    log(f"  POST /v2/events: {post.unit_rate:,.0f} events/s")

    results.extend(measure_import(url, secret, rows, budget, log))

    writers = 8
    writes.create_scratch(url)
    try:
        for batch in (1, 100):
            events = budget.writer_events if batch > 1 else budget.writer_events // 6
            r = Result(f"8 writers: `POST /v2/app_usage_events`, batch {batch}", key=f"writers-{batch}", group="write")
            c = Result(f"8 writers in SQL, batch {batch}: skip-free ordering's write cost", key=f"ordering-{batch}",
                       group="write", cost_target=ORDERING_COST[batch])
            with watched(r, disk=True):
                # Best of the rounds: the machine is shared, and interference only ever slows a round down.
                service = max((writes.post_usage_events(make_client, world, batch, writers, budget.writer_seconds,
                                                        events) for _ in range(budget.writer_rounds)),
                              key=lambda outcome: outcome.unit_rate)
            rates = {mode: [] for mode in writes.SCRATCH}
            latencies = {mode: [] for mode in writes.SCRATCH}
            order = ["plain", "first", "last", "safepoint", "safepoint", "last", "first", "plain"]
            with watched(c, disk=True):
                for mode in order[: 4 * budget.writer_rounds]:
                    outcome = writes.sql_writers(url, world, batch, writers, budget.writer_seconds, events, mode)
                    rates[mode].append(outcome.unit_rate)
                    latencies[mode].extend(outcome.latencies)
                    if outcome.errors:
                        c.notes.append(f"{mode}: {outcome.errors} failed ({outcome.first_error[:120]})")
            rate = {mode: max(values) for mode, values in rates.items()}
            p99 = {mode: percentile(values, 0.99) for mode, values in latencies.items()}
            r.rows = f"{service.units:,} events"
            r.p50, r.p99 = percentile(service.latencies, 0.5), percentile(service.latencies, 0.99)
            r.throughput = f"{service.unit_rate:,.0f} events/s (best of {budget.writer_rounds})"
            # Raw SQL: the same transaction as the service's, from 8 psycopg2 writers (positions last).
            r.raw_p50 = percentile(latencies["last"], 0.5)
            if r.p50 and r.raw_p50:
                r.ratio = r.p50 / r.raw_p50
            if service.errors:
                r.notes.append(f"{service.errors} failed (first: {service.first_error[:160]})")
            results.append(r)
            cost = 1 - rate["last"] / rate["plain"] if rate["plain"] else None
            cost_first = 1 - rate["first"] / rate["plain"] if rate["plain"] else None
            cost_safepoint = 1 - rate["safepoint"] / rate["plain"] if rate["plain"] else None
            c.rows = f"{batch}/transaction"
            c.throughput = (f"positions last (as the service, SPEC 4.1 a): {rate['last']:,.0f} events/s, tx p99 "
                            f"{ms(p99['last'])} ms; plain INSERT: {rate['plain']:,.0f} events/s, tx p99 "
                            f"{ms(p99['plain'])} ms → cost {cost * 100:.0f} %. Positions first (lock held "
                            f"throughout): {rate['first']:,.0f} events/s → cost {cost_first * 100:.0f} %. Safe point "
                            f"(no lock; rows keep their transaction id, indexed): {rate['safepoint']:,.0f} events/s → "
                            f"cost {cost_safepoint * 100:.0f} % (best of {budget.writer_rounds} rounds each)")
            c.cost, c.cost_safepoint = cost, cost_safepoint
            c.target, c.checked = f"cost ≤ {c.cost_target * 100:.0f} %", True
            if cost is not None and cost > c.cost_target:
                c.misses.append("write cost")
            results.append(c)
            log(f"  writers batch {batch}: service {service.unit_rate:,.0f} events/s; SQL first {rate['first']:,.0f}"
                f", last {rate['last']:,.0f}, safe point {rate['safepoint']:,.0f}, plain {rate['plain']:,.0f} events/s")
    finally:
        writes.drop_scratch(url)
    return results


def prepare(url, rows, secret, token, log):
    """Migrate a data set's database, remove what an interrupted run left; whether it holds the data set."""
    migrator = InProcessApp(url, secret, token)
    migrator.upgrade()
    migrator.dispose()
    found = dataset.state(url)
    if not dataset.is_loaded(found, rows) and dataset.leftovers_only(found, rows):
        dataset.remove_written(url, rows)
        found = dataset.state(url)
    if not dataset.is_loaded(found, rows):
        return False
    if not dataset.known_is_current(found, rows):
        dataset.refresh_known_resources(url, rows, log)
    return True


def scales_arg(text):
    scales = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [scale for scale in scales if scale not in SCALES]
    if not scales or unknown or len(set(scales)) != len(scales):
        raise argparse.ArgumentTypeError(f"{text!r}: one or more of {', '.join(sorted(SCALES))}, comma-separated")
    return ",".join(sorted(scales, key=SCALES.get))


def reports_arg(text):
    return "none" if text.strip() == "none" else scales_arg(text)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", type=scales_arg, default="1m",
                        help="events per table: 1m (the default) or 10m; or both, 1m,10m: each shape measured at "
                             "both sizes in one run, the reads alternately, with their 10 M ÷ 1 M ratios")
    parser.add_argument("--reports", type=reports_arg, default=None,
                        help="with two scales: the usage reports' scales (default: the same; `none` skips them; "
                             "a 10m usage data set takes about an hour to build and fold the first time)")
    parser.add_argument("--quick", action="store_true", help="fewer requests per shape: a smoke run")
    parser.add_argument("--database-url", help="use this PostgreSQL database instead of the private cluster "
                                               "in bench/data (it is loaded when its row counts differ!)")
    parser.add_argument("--reload", action="store_true", help="load the data set again even if it is there")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"),
                        help="where to write the Markdown report (default bench/RESULTS.md)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if "," in args.scale:
        return main_scales(args)
    rows = SCALES[args.scale]
    budget = QUICK if args.quick else Budget()
    log = Log()
    secret = secrets.token_urlsafe(36)
    from app.identity.tokens import issue_token

    token = issue_token(secret, ["cloud_controller.admin"], user_id="bench", expires_in=24 * 3600)
    cores = len(os.sched_getaffinity(0))
    workers = recommended_workers(cores)
    cluster = service = None
    follow_database, follow_rows = follow.upstream_plan(args.quick)
    url = args.database_url
    facts = {"rows": rows, "workers": workers, "quick": args.quick, "load": "reused", "foreign": (0.0, 0.0)}
    results = []
    ours = False  # the data set is the benchmark's: rows it writes above it may be deleted
    try:
        if url is None:
            cluster = Cluster(database=f"cf_events_bench_{args.scale}")
            MONITOR.postmaster_pid_file = os.path.join(cluster.datadir, "postmaster.pid")
            MONITOR.disk_path = cluster.root
            url = cluster.start("measure")
            log(f"PostgreSQL cluster in {cluster.datadir} on port {cluster.port}")
        migrator = InProcessApp(url, secret, token)
        migrator.upgrade()
        migrator.dispose()
        found = dataset.state(url)
        if not dataset.is_loaded(found, rows) and not args.reload and dataset.leftovers_only(found, rows):
            log("removing rows an interrupted run wrote")
            dataset.remove_written(url, rows)
            found = dataset.state(url)
        # The follow's upstream: a data set of its own database (unless it is this one), loaded alike.
        upstream_ready = True
        if cluster and follow_database != cluster.database:
            upstream_ready = prepare(cluster.url_for(follow_database), follow_rows, secret, token, log)
        load = args.reload or not dataset.is_loaded(found, rows)
        if load and args.database_url and not args.reload and any(found[t][0] for t in dataset.TABLES):
            print(f"{args.database_url} holds other data ({found}); pass --reload to replace it", file=sys.stderr)
            return 2
        if load or not upstream_ready:
            if cluster:
                url = cluster.restart("load")
            if load:
                facts["load"] = f"{dataset.load(url, rows, log):.0f} s"
            if not upstream_ready:
                log(f"the follow's upstream, {follow_database}:")
                dataset.load(cluster.url_for(follow_database), follow_rows, log)
            if cluster:
                url = cluster.restart("measure")
        if not load:
            log(f"reusing the loaded data set ({rows:,} rows per table)")
            if not dataset.known_is_current(found, rows):
                dataset.refresh_known_resources(url, rows, log)
        ours = True
        conn = connect(url)
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            facts["postgres"] = cur.fetchone()[0]
            cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            facts["db_size"] = cur.fetchone()[0]
        app = InProcessApp(url, secret, token)
        service = Service(url, secret, workers)
        port = service.start(token)
        log(f"gunicorn with {workers} workers on port {port}")

        def make_client():
            return Client("127.0.0.1", port, token)

        run(make_client, [("GET", f"{USAGE}?results-per-page=10", None), ("GET", f"{EVENTS}?results-per-page=10",
                                                                           None)], workers * 2, workers * 40, 20)
        measuring = MONITOR.snapshot()
        shapes = build_shapes(url, rows)
        log(f"measuring {len(shapes)} read shapes")
        for shape in shapes:
            try:
                results.append(measure_read(shape, app, make_client, conn, workers, budget, log))
            except Exception as error:  # one shape's failure must not lose the others
                traceback.print_exc()
                failed = Result(shape.label)
                failed.notes.append(f"failed: {error!r}")
                results.append(failed)
        log("following next_url")
        results.extend(measure_drain(url, rows, app, make_client, conn, budget, log))
        log("measuring writes")
        dataset.snapshot_known_resources(url, rows)
        results.extend(measure_writes(url, secret, rows, make_client, workers, budget, log))
        facts["foreign"] = MONITOR.foreign(measuring, MONITOR.snapshot())
        conn.close()
        app.dispose()
        # The follow has the machine to itself: this service stopped, the data set as loaded (at 1 M rows
        # it is the follow's upstream).
        service.stop()
        service = None
        log(f"removed the {dataset.remove_written(url, rows):,} rows the write measurements added")
        ours = False
        log("following a local upstream into a fresh database")
        followed = Result("`flask --app wsgi events follow --once` between two local instances", key="follow",
                          group="write")
        followed.short = "follow between two local instances (events stored/s, process start included)"
        followed.floor_target = FLOOR_TARGETS["follow"]
        if cluster:
            follow.measure_follow(cluster, secret, token, workers, args.quick, followed, watched, log)
        else:
            followed.throughput = ("not measured with --database-url: it needs the private cluster (an upstream "
                                   "database of its own and a scratch copy)")
        results.append(followed)
        log("measuring the usage reports on a data set of their own")
        if cluster:
            results += usage.measure_usage(cluster, secret, token, workers, quick=args.quick,
                                           scale="10m" if rows >= 10_000_000 else ("200k" if args.quick else "1m"),
                                           log=log, monitor=MONITOR)
    finally:
        if service:
            service.stop()
        if ours:
            try:
                removed = dataset.remove_written(url, rows)
                log(f"removed the {removed:,} rows the write measurements added")
            except Exception as error:  # report, but still stop the cluster
                log(f"could not remove the written rows: {error!r}")
        if cluster:
            cluster.stop()
    beside_floor(results)
    facts["elapsed"] = time.monotonic() - log.started
    facts["waited"] = MONITOR.waited
    return _write_report(report.render(results, facts, args, cores, reading=report.kept_reading(args.output)),
                         args, facts, log)


def _write_report(text, args, facts, log):
    """Print the report and write it to --output and, for a full run, to the dated history as it came out."""
    print(text)
    with open(args.output, "w") as out:
        out.write(text)
    log(f"wrote {args.output} ({facts['elapsed']:.0f} s in all)")
    if not args.quick:
        dated = os.path.join(RESULTS_HISTORY,
                             f"{time.strftime('%Y-%m-%d-%H%M', time.gmtime())}-{args.scale.replace(',', '-')}.md")
        with open(dated, "w") as out:
            out.write(text)
        log(f"and {dated}")
    return 0


@dataclass
class Scale:
    """One data set of a two-scale run: its database, service, in-process app and results."""

    name: str
    rows: int
    url: str | None = None
    service: Service | None = None
    app: InProcessApp | None = None
    conn: object = None
    port: int | None = None
    token: str | None = None
    results: list = field(default_factory=list)
    ours: bool = False  # rows the run writes above the data set may be deleted

    @property
    def database(self):
        return f"cf_events_bench_{self.name}"

    def make_client(self):
        return Client("127.0.0.1", self.port, self.token)


def _measure_one(shape, scale, workers, budget, log):
    try:
        return measure_read(shape, scale.app, scale.make_client, scale.conn, workers, budget,
                            lambda message: log(f"{scale.name}:{message}"))
    except Exception as error:  # one shape's failure must not lose the others
        traceback.print_exc()
        failed = Result(shape.label, key=shape.key, group="read")
        failed.notes.append(f"failed: {error!r}")
        return failed


def main_scales(args):
    """`--scale 1m,10m`: every shape at each size in one run, against one service build. The read shapes are
    measured alternately on the data sets (shape by shape, the order swapped every other shape), so that both
    see the same machine; the drain, the writes and the floor then per data set, one after the other; the
    follow once (its upstream is the 1 M data set, its copy a fresh database: the store's size is not its
    variable), beside each size's floor; then the usage reports at each of `--reports`' scales."""
    if args.database_url:
        print("--database-url measures one data set: give one --scale with it", file=sys.stderr)
        return 2
    names = args.scale.split(",")
    scales = [Scale(name, SCALES[name]) for name in names]
    reports = names if args.reports is None else ([] if args.reports == "none" else args.reports.split(","))
    if args.quick:
        reports = reports[:1]  # one small usage data set (200k) stands in for every scale
    budget = QUICK if args.quick else Budget()
    # The same file at both sizes, so that the floors (and the imports) compare like with like: issue 21's
    # 200 000 rows, or the quick run's.
    budget = Budget(**{**budget.__dict__, "import_events": budget.import_events or 200_000})
    log = Log()
    secret = secrets.token_urlsafe(36)
    from app.identity.tokens import issue_token

    token = issue_token(secret, ["cloud_controller.admin"], user_id="bench", expires_in=24 * 3600)
    for scale in scales:
        scale.token = token
    cores = len(os.sched_getaffinity(0))
    workers = recommended_workers(cores)
    follow_database, follow_rows = follow.upstream_plan(args.quick)
    facts = {"rows": max(s.rows for s in scales), "scales": [(s.name, s.rows) for s in scales], "workers": workers,
             "quick": args.quick, "load": {s.name: "reused" for s in scales}, "db_size": {}, "foreign": (0.0, 0.0),
             "reports": reports}
    followed = None
    usage_results = {}
    cluster = Cluster(database=scales[0].database)
    MONITOR.postmaster_pid_file = os.path.join(cluster.datadir, "postmaster.pid")
    MONITOR.disk_path = cluster.root
    try:
        cluster.start("measure")
        log(f"PostgreSQL cluster in {cluster.datadir} on port {cluster.port}")
        missing = []
        for scale in scales:
            url = cluster.url_for(scale.database)
            migrator = InProcessApp(url, secret, token)
            migrator.upgrade()
            migrator.dispose()
            found = dataset.state(url)
            if not dataset.is_loaded(found, scale.rows) and not args.reload \
                    and dataset.leftovers_only(found, scale.rows):
                log(f"{scale.name}: removing rows an interrupted run wrote")
                dataset.remove_written(url, scale.rows)
                found = dataset.state(url)
            if args.reload or not dataset.is_loaded(found, scale.rows):
                missing.append(scale)
        upstream_ready = follow_database in {s.database for s in scales} or \
            prepare(cluster.url_for(follow_database), follow_rows, secret, token, log)
        if missing or not upstream_ready:
            cluster.restart("load")
            for scale in missing:
                log(f"loading {scale.database}:")
                facts["load"][scale.name] = f"{dataset.load(cluster.url_for(scale.database), scale.rows, log):.0f} s"
            if not upstream_ready:
                log(f"the follow's upstream, {follow_database}:")
                dataset.load(cluster.url_for(follow_database), follow_rows, log)
            cluster.restart("measure")
        for scale in scales:
            scale.url = cluster.url_for(scale.database)
            if scale not in missing:
                log(f"{scale.name}: reusing the loaded data set ({scale.rows:,} rows per table)")
                found = dataset.state(scale.url)
                if not dataset.known_is_current(found, scale.rows):
                    dataset.refresh_known_resources(scale.url, scale.rows, log)
            scale.ours = True
            scale.conn = connect(scale.url)
            with scale.conn.cursor() as cur:
                cur.execute("SHOW server_version")
                facts["postgres"] = cur.fetchone()[0]
                cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
                facts["db_size"][scale.name] = cur.fetchone()[0]
            scale.app = InProcessApp(scale.url, secret, token)
            scale.service = Service(scale.url, secret, workers)
            scale.port = scale.service.start(token)
            log(f"{scale.name}: gunicorn with {workers} workers on port {scale.port}")
            run(scale.make_client, [("GET", f"{USAGE}?results-per-page=10", None),
                                    ("GET", f"{EVENTS}?results-per-page=10", None)], workers * 2, workers * 40, 20)
        measuring = MONITOR.snapshot()
        shapes = {scale.name: {shape.key: shape for shape in build_shapes(scale.url, scale.rows)} for scale in scales}
        keys = list(shapes[scales[0].name])
        log(f"measuring {len(keys)} read shapes, alternately at {' and '.join(s.name for s in scales)}")
        for i, key in enumerate(keys):
            for scale in (scales if i % 2 == 0 else scales[::-1]):
                scale.results.append(_measure_one(shapes[scale.name][key], scale, workers, budget, log))
        for scale in scales:
            log(f"{scale.name}: following next_url")
            scale.results.extend(measure_drain(scale.url, scale.rows, scale.app, scale.make_client, scale.conn,
                                               budget, log))
        for scale in scales:
            log(f"{scale.name}: measuring writes")
            dataset.snapshot_known_resources(scale.url, scale.rows)
            scale.results.extend(measure_writes(scale.url, secret, scale.rows, scale.make_client, workers, budget,
                                                log))
        facts["foreign"] = MONITOR.foreign(measuring, MONITOR.snapshot())
        for scale in scales:
            scale.conn.close()
            scale.app.dispose()
            scale.service.stop()
            scale.conn = scale.app = scale.service = None
            log(f"{scale.name}: removed the {dataset.remove_written(scale.url, scale.rows):,} rows the write "
                "measurements added")
            scale.ours = False
        log("following a local upstream into a fresh database")
        followed = Result("`flask --app wsgi events follow --once` between two local instances", key="follow",
                          group="write")
        followed.short = "follow between two local instances (events stored/s, process start included)"
        followed.floor_target = FLOOR_TARGETS["follow"]
        follow.measure_follow(cluster, secret, token, workers, args.quick, followed, watched, log)
        for name in reports:
            usage_scale = "200k" if args.quick else name
            log(f"measuring the usage reports on their {usage_scale} data set")
            rows = usage.measure_usage(cluster, secret, token, workers, quick=args.quick, scale=usage_scale, log=log,
                                       monitor=MONITOR)
            for r in rows:
                r.group = "report" if r.group == "read" else r.group
            usage_results[name] = rows
    finally:
        for scale in scales:
            if scale.conn is not None:
                scale.conn.close()
            if scale.service:
                scale.service.stop()
            if scale.ours:
                try:
                    url = cluster.url_for(scale.database)
                    log(f"{scale.name}: removed the {dataset.remove_written(url, scale.rows):,} rows the write "
                        "measurements added")
                except Exception as error:  # report, but still stop the cluster
                    log(f"{scale.name}: could not remove the written rows: {error!r}")
        cluster.stop()
    by_scale = {}
    for scale in scales:
        results = scale.results
        if followed is not None:
            results.append(copy.deepcopy(followed))
        beside_floor(results)
        by_scale[scale.name] = results + usage_results.get(scale.name, [])
    facts["elapsed"] = time.monotonic() - log.started
    facts["waited"] = MONITOR.waited
    return _write_report(report.render_scales(by_scale, facts, args, cores, reading=report.kept_reading(args.output)),
                         args, facts, log)
