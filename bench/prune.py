"""Issue 22's conversion and retention, measured: a store of N audit events and N app usage events made at migration
0016 (before partitions), converted by `flask db upgrade` (seconds per million rows), then pruned with 3 of its 4
months (ranges of positions) before the cutoff, a tail poller reading meanwhile.

    python -m bench.prune [--rows 4000000]

Its own database (cf_events_bench_prune) in the bench's cluster (BENCH_DATA moves it), made again each run; the
data sets of `make bench` are not touched. The prune's steps are timed apart: the whole-partition step (the
transactions readers and writers may wait on), the tombstones written before it, the forgetting of the dropped
partitions' guid claims after it, and the row-by-row rest. Writes bench/results/<date>-prune.md.
"""
import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import psycopg2

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATABASE = "cf_events_bench_prune"
SPAN_DAYS = 120  # four months (of positions, for usage: four ranges of N / 4)


def _load(url, rows):
    """The store at 0016, holding `rows` audit events and `rows` app usage events, oldest first over SPAN_DAYS
    (the triggers of 0016 keep the counts as any writer did); the folds marked as done (nothing to fold)."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.base.extensions import db
    from tests.conftest import make_app

    moment = f"now() - interval '{SPAN_DAYS} days' + n * interval '{SPAN_DAYS} days' / {rows}"
    with make_app(url).app_context():
        upgrade(revision="0016")
        db.session.execute(text(f"""
          INSERT INTO events (guid, created_at, timestamp, type, actor, actor_type, actor_name, actee, actee_type,
                              actee_name, metadata, space_guid, organization_guid)
          SELECT md5('e' || n)::uuid::text, now(), {moment},
                 CASE WHEN n % 10 = 0 THEN 'app.crash' ELSE 'audit.app.update' END, 'user-' || n % 300, 'user',
                 'someone', 'app-' || n % 20000, 'app', 'web', '{{}}', 'space-' || n % 2000, 'org-' || n % 200
          FROM generate_series(1, {rows}) AS n"""))
        db.session.execute(text(f"""
          INSERT INTO app_usage_events (id, guid, created_at, state, memory_in_mb_per_instance, instance_count,
                                        app_guid, app_name, space_guid, space_name, org_guid)
          SELECT n, md5('u' || n)::uuid::text, {moment},
                 CASE WHEN n % 3 = 0 THEN 'STOPPED' ELSE 'STARTED' END, 256, 1, 'app-' || n % 50000, 'web',
                 'space-' || n % 500, 'dev', 'org-' || n % 50
          FROM generate_series(1, {rows}) AS n"""))
        db.session.execute(text(f"UPDATE usage_streams SET last_id = {rows} WHERE name = 'app_usage_events'"))
        db.session.execute(text(f"UPDATE usage_folds SET position = {rows} WHERE stream = 'app_usage_events'"))
        db.session.commit()
        db.engine.dispose()


class Timings(dict):
    """Seconds spent in the wrapped functions of a module, by label."""

    @contextmanager
    def wrapping(self, module, name, label):
        original = getattr(module, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.setdefault(label, []).append(time.perf_counter() - started)

        setattr(module, name, timed)
        try:
            yield
        finally:
            setattr(module, name, original)


class Poller(threading.Thread):
    """Tail polls of the app usage stream, one after the other, each with its latency, until stopped."""

    def __init__(self, app, guid, headers):
        super().__init__(daemon=True)
        self.app, self.path, self.headers = app, f"/v2/app_usage_events?after_guid={guid}&results-per-page=50", headers
        self.stop, self.latencies, self.errors = threading.Event(), [], 0

    def run(self):
        client = self.app.test_client()
        while not self.stop.is_set():
            started = time.perf_counter()
            status = client.get(self.path, headers=self.headers).status_code
            self.latencies.append(time.perf_counter() - started)
            self.errors += status != 200

    def figures(self):
        ordered = sorted(self.latencies)
        return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, len(ordered)


def _polled(app, guid, headers, seconds=None, during=None):
    poller = Poller(app, guid, headers)
    poller.start()
    try:
        result = during() if during else time.sleep(seconds)
    finally:
        poller.stop.set()
        poller.join()
    return result, poller


def measure(url, rows, log):
    from sqlalchemy import text

    from app.base.extensions import db
    from app.identity.tokens import ADMIN, issue_token
    from app.store import audit_events, partitions
    from app.store.models import AppUsageEvent
    from app.usage import retention
    from tests.conftest import SECRET, make_app

    started = time.perf_counter()
    _load(url, rows)
    log(f"loaded {rows:,} audit and {rows:,} app usage events at 0016 in {time.perf_counter() - started:.0f} s")
    environment = {**os.environ, "DATABASE_URL": url, "TOKEN_SECRET": SECRET}
    started = time.perf_counter()
    subprocess.run([os.path.join(PROJECT, ".venv", "bin", "flask"), "--app", "wsgi", "db", "upgrade"], cwd=PROJECT,
                   env=environment, check=True, capture_output=True)
    conversion = time.perf_counter() - started
    log(f"conversion of {2 * rows:,} rows: {conversion:.0f} s, {conversion / (2 * rows) * 1e6:.1f} s per million")

    app = make_app(url)
    headers = {"Authorization": "bearer " + issue_token(SECRET, [ADMIN], user_id="bench")}
    now = dt.datetime.now(dt.timezone.utc)
    with app.app_context():
        tail = db.session.execute(text(f"SELECT guid FROM app_usage_events WHERE id = {rows}")).scalar()
        months = [p.name for p in partitions.attached()]
        db.session.remove()
    # Three whole months (ranges) before the cutoff, and a part of the next.
    month = partitions.month_of(now - dt.timedelta(days=SPAN_DAYS))
    for _ in range(3):
        month = partitions.month_of(month + dt.timedelta(days=32))
    audit_cutoff = month + dt.timedelta(days=10)
    usage_cutoff = now - dt.timedelta(days=SPAN_DAYS) + dt.timedelta(days=SPAN_DAYS * 3.2 / 4)
    _, before = _polled(app, tail, headers, seconds=15)

    timings = Timings()

    def prune():
        with app.app_context(), \
                timings.wrapping(partitions, "detach_before", "audit: emptied months detached"), \
                timings.wrapping(partitions, "drop_detached", "dropped partitions' claims forgotten, tables dropped"), \
                timings.wrapping(partitions, "tombstone_range", "usage: tombstones of a range (before it goes)"), \
                timings.wrapping(partitions, "drop_range", "usage: a whole range detached (under the stream's lock)"):
            started = time.perf_counter()
            audit = audit_events.prune_audit_events(audit_cutoff)
            audit_seconds = time.perf_counter() - started
            started = time.perf_counter()
            usage = retention.prune_usage_stream(AppUsageEvent, usage_cutoff)
            return audit, audit_seconds, usage, time.perf_counter() - started

    (audit, audit_seconds, usage, usage_seconds), during = _polled(app, tail, headers, during=prune)
    with app.app_context():
        left = [p.name for p in partitions.attached()]
        db.session.remove()
    connection = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (VERBOSE) events")
    notices = [notice.strip() for notice in connection.notices if "removable" in notice]
    connection.close()
    lines = [
        f"# Conversion and prune of {rows:,} audit and {rows:,} app usage events (`python -m bench.prune`)", "",
        f"Run {now:%Y-%m-%d %H:%M} UTC; git {_git()}; load average before: {os.getloadavg()[0]:.2f}.", "",
        f"- conversion (`flask db upgrade` from 0016): {conversion:.0f} s for {2 * rows:,} rows, "
        f"**{conversion / (2 * rows) * 1e6:.1f} s per million**",
        f"- audit months: {', '.join(months)} → after the prune (cutoff {audit_cutoff:%Y-%m-%d}): {', '.join(left)}",
        f"- audit prune: {audit:,} events in {audit_seconds:.1f} s; usage prune: {usage[0]:,} events "
        f"({usage[1]:,} kept) in {usage_seconds:.1f} s", ""]
    lines += ["| step | seconds, each call |", "|---|---|"]
    lines += [f"| {label} | {', '.join(f'{s:.2f}' for s in seconds)} (sum {sum(seconds):.2f}) |"
              for label, seconds in timings.items()]
    lines += ["", "| tail poll (`/v2/app_usage_events?after_guid=…`) | p50 ms | p99 ms | polls |", "|---|---|---|---|",
              "| before the prune (15 s) | {:.1f} | {:.1f} | {} |".format(*before.figures()),
              "| during the prune | {:.1f} | {:.1f} | {} |".format(*during.figures()),
              "", f"Poll errors: {before.errors + during.errors}. `VACUUM (VERBOSE) events` after: "
              + ("; ".join(notices) or "(no notice)")]
    return "\n".join(lines) + "\n"


def _git():
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True,
                          text=True).stdout.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.prune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=4_000_000, help="audit events, and as many usage events")
    args = parser.parse_args(argv)
    sys.path.insert(0, PROJECT)
    from bench.cluster import Cluster
    from tests.conftest import fresh_postgres_database

    def log(message):
        print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    cluster = Cluster()
    url = cluster.start("measure")
    try:
        database = fresh_postgres_database(url, DATABASE).replace("postgresql://", "postgresql+psycopg2://")
        report = measure(database, args.rows, log)
    finally:
        cluster.stop()
    path = os.path.join(PROJECT, "bench", "results", f"{dt.date.today():%Y-%m-%d}-prune.md")
    with open(path, "w") as file:
        file.write(report)
    print(report)
    log(f"written to {path}")


if __name__ == "__main__":
    main()
