"""A follow between two local instances: `flask events follow --once` from a cf-events serving a loaded data
set (the upstream, under gunicorn) into a fresh, migrated database of the same cluster (the copy).

The upstream is the 1 M data set (cf_events_bench_1m: 1 M audit events and 1 M app usage events; with
--quick a 20 000-row data set of its own, made by the same loader), with a client for the follower created
by `flask clients create`. The copy is dropped afterwards. What is reported: the time to catch up and
events/s, in all and per stream (from the copy's follower_positions: a stream's last_success_at is when it
reached the upstream's head, and the streams are followed one after the other); where the CPU went
(the follower, the upstream's gunicorn, PostgreSQL for both databases); and whether the copy's row counts and
maintained counts (by day and by target) equal the upstream's.
"""
import os
import secrets
import subprocess
import tempfile
import threading
import time

import psycopg2

from .noise import HZ, tree_jiffies
from .service import PROJECT, Service

TARGET = 20_000  # events/s, audit and usage together
CLIENT_ID, CLIENT_SECRET = "follower", "s3cret"
SCOPE = "cloud_controller.admin_read_only"
COPY_DATABASE = "cf_events_bench_follow_copy"
QUICK_ROWS = 20_000
PAGE_SIZE = 5000
TABLES = ("events", "app_usage_events", "service_usage_events")
TIMEOUT = 1800  # seconds: the follow is stopped (and reported so) past it


def upstream_plan(quick):
    """(database, rows per table) of the upstream: the 1 M data set, or a small one for a quick run."""
    if quick:
        return f"cf_events_bench_follow_{QUICK_ROWS // 1000}k", QUICK_ROWS
    return "cf_events_bench_1m", 1_000_000


def _flask(database_url, secret, *args, timeout=600):
    env = {**os.environ, "DATABASE_URL": database_url, "TOKEN_SECRET": secret}
    result = subprocess.run([os.path.join(PROJECT, ".venv", "bin", "flask"), "--app", "wsgi", *args], cwd=PROJECT,
                            env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args[:3])} failed ({result.returncode}): "
                           f"{' '.join((result.stdout + result.stderr).split())[-400:]}")
    return result


def _query(url, statement, parameters=()):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement, parameters)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def table_counts(url):
    return {table: _query(url, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


# The maintained counts (migrations 0005 and 0010) and their keys.
COUNTS = {"event_counts_by_day": "type, day", "event_counts_by_target": "target_type, target_guid, type"}


def count_digests(url):
    """{count table: md5 of its rows in key order}: equal digests, equal counts (a count of 0 is no count).
    Both databases are in one cluster, so they sort alike."""
    return {table: _query(url, f"SELECT md5(string_agg(concat_ws(',', {keys}, n), ';' ORDER BY {keys})) FROM {table}"
                               " WHERE n <> 0")[0][0] for table, keys in COUNTS.items()}


def positions(url):
    """{stream: (stored, last_success_at epoch or None)} of the copy's follower_positions."""
    try:
        rows = _query(url, "SELECT stream, stored, last_success_at FROM follower_positions")
    except psycopg2.Error:
        return {}
    return {stream: (stored or 0, success.timestamp() if success else None) for stream, stored, success in rows}


def _jiffies(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    return sum(int(v) for v in text[text.rindex(")") + 2:].split()[11:13])


class Poller(threading.Thread):
    """While the follow runs: the CPU of each PostgreSQL backend, by database (sampled every `every` seconds:
    a backend's time is lost when it exits, so the last samples miss at most that), and the copy's positions
    in the log now and then."""

    def __init__(self, url, databases, log, every=1.0, log_every=30.0):
        super().__init__(daemon=True)
        self.url, self.databases, self.log, self.every, self.log_every = url, databases, log, every, log_every
        self.done = threading.Event()
        self.seen = {}  # backend pid: (database, first jiffies seen, last jiffies seen)

    def sample(self, cur):
        cur.execute("SELECT pid, datname FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
                    (list(self.databases),))
        for pid, database in cur.fetchall():
            jiffies = _jiffies(pid)
            if jiffies is not None:
                first = self.seen.get(pid, (database, jiffies, jiffies))[1]
                self.seen[pid] = (database, first, jiffies)

    def cpu(self, baseline):
        """{database: CPU seconds its backends used since `baseline` (a sample taken before the follow)}."""
        used = dict.fromkeys(self.databases, 0)
        for pid, (database, first, last) in self.seen.items():
            used[database] += last - (first if pid in baseline else 0)
        return {database: jiffies / HZ for database, jiffies in used.items()}

    def run(self):
        started = last_log = time.monotonic()
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self.done.wait(self.every):
                    self.sample(cur)
                    if time.monotonic() - last_log >= self.log_every:
                        last_log = time.monotonic()
                        found = positions(self.url)
                        self.log(f"    follow, {last_log - started:.0f} s: " + ", ".join(
                            f"{stream} {stored:,}" for stream, (stored, _) in sorted(found.items())))
        finally:
            conn.close()


def run_follow(api, copy_url, poller):
    """Run the follow command to the upstream's head; (wall seconds, its stderr, follower CPU seconds, start
    epoch)."""
    # The copy is an instance of its own: its own key (the app will not start without one).
    env = {**os.environ, "DATABASE_URL": copy_url, "TOKEN_SECRET": secrets.token_urlsafe(36)}
    command = [os.path.join(PROJECT, ".venv", "bin", "flask"), "--app", "wsgi", "events", "follow", "--api", api,
               "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, "--page-size", str(PAGE_SIZE), "--once"]
    with tempfile.TemporaryFile("w+") as output:
        started_at, started = time.time(), time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT)
        poller.start()
        timer = threading.Timer(TIMEOUT, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
            poller.done.set()
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        reason = f"stopped after {TIMEOUT} s" if elapsed >= TIMEOUT else f"exited with {process.returncode}"
        raise RuntimeError(f"the follow {reason}: {' '.join(text.split())[-600:]}")
    return elapsed, text, usage.ru_utime + usage.ru_stime, started_at


def measure_follow(cluster, secret, token, workers, quick, result, watched, log):
    """Fill `result` (a run.Result) with the follow's figures; `watched` is run.watched."""
    database, rows = upstream_plan(quick)
    upstream_url = cluster.url_for(database)
    result.label = (f"`flask --app wsgi events follow --once --page-size {PAGE_SIZE}`: {rows:,} audit + {rows:,} app "
                    f"usage events from a local upstream (gunicorn, {workers} workers) into a fresh database")
    result.target = f"≥ {TARGET:,} events/s (audit and usage together)".replace(",", " ")
    upstream = Service(upstream_url, secret, workers)
    cluster.drop_database(COPY_DATABASE)
    try:
        _flask(upstream_url, secret, "clients", "create", CLIENT_ID, "--secret", CLIENT_SECRET, "--scope", SCOPE)
        copy_url = cluster.url_for(COPY_DATABASE)
        _flask(copy_url, secret, "db", "upgrade")
        expected = table_counts(upstream_url)
        port = upstream.start(token)
        api = f"http://127.0.0.1:{port}"
        log(f"  follow: upstream {database} on port {port} ({expected['events']:,} audit, "
            f"{expected['app_usage_events']:,} app usage events), copy {COPY_DATABASE}")
        poller = Poller(copy_url, (database, COPY_DATABASE), log)
        conn = psycopg2.connect(copy_url)
        with conn.cursor() as cur:
            poller.sample(cur)  # the upstream's backends so far
        conn.close()
        baseline = set(poller.seen)
        with watched(result, disk=True):
            before = tree_jiffies(upstream.process.pid)
            elapsed, output, follower_cpu, started_at = run_follow(api, copy_url, poller)
            upstream_cpu = (tree_jiffies(upstream.process.pid) - before) / HZ
        poller.join()
        backends = poller.cpu(baseline)
        upstream.stop()
        found, moved = table_counts(copy_url), positions(copy_url)
        total = sum(found.values())
        audit, usage = moved.get("audit_events", (0, None)), moved.get("app_usage_events", (0, None))
        result.rows = f"{total:,} events ({found['events']:,} audit, {found['app_usage_events']:,} app usage)"
        result.rate = total / elapsed  # events stored per second, beside the floor (run.beside_floor)
        result.throughput = f"{total / elapsed:,.0f} events/s: caught up in {elapsed:.1f} s (process start included)"
        if audit[1] and usage[1]:
            audit_s, usage_s = audit[1] - started_at, usage[1] - audit[1]
            result.throughput += (f"; audit {audit[0]:,} in {audit_s:.1f} s from the start ({audit[0] / audit_s:,.0f}"
                                  f"/s), then app usage {usage[0]:,} in {usage_s:.1f} s ({usage[0] / usage_s:,.0f}/s)")
        # Reading (the upstream: its gunicorn and its database's backends) and storing (the follower's process,
        # which also decodes the pages, and the copy's backends) take turns: their CPU shows which one bounds it.
        serving = max(upstream_cpu + backends[database], 0.01)
        storing = max(follower_cpu + backends[COPY_DATABASE], 0.01)
        copy_cpu = backends[COPY_DATABASE]
        result.throughput += (f"; CPU: upstream {serving:.1f} s (gunicorn {upstream_cpu:.1f} s + PostgreSQL "
                              f"{backends[database]:.1f} s), follower {storing:.1f} s (its process "
                              f"{follower_cpu:.1f} s + PostgreSQL {copy_cpu:.1f} s): {total / serving:,.0f} events "
                              f"served and {total / storing:,.0f} stored per CPU-second")
        cycle = [line for line in output.splitlines() if line.startswith("follow: ")]
        result.checked = True
        if total / elapsed < TARGET:
            result.misses.append("events/s")
        if found != expected:
            result.misses.append("copy's counts")
            result.notes.append(f"⚠ copy holds {found}, upstream {expected}")
        else:
            result.notes.append("copy's row counts equal the upstream's")
        copied, original = count_digests(copy_url), count_digests(upstream_url)
        differing = [table for table in COUNTS if copied[table] != original[table]]
        if differing:
            result.notes.append(f"⚠ the copy's {' and '.join(differing)} differ from the upstream's")
            result.misses.append("copy's counts")
        else:
            result.notes.append("and so do its maintained counts (by day and by target)")
        log(f"  follow: {result.throughput}; {cycle[-1] if cycle else 'no cycle line'}")
    except Exception as error:  # reported in the row, the run goes on
        result.checked = True
        result.misses.append("failed")
        result.notes.append(f"failed: {' '.join(str(error).split())[:400]}")
        log(f"  follow failed: {error}")
    finally:
        upstream.stop()
        # The upstream is the bench's own database: the client is the bench's (`clients create` resets one
        # an interrupted run left).
        _query(upstream_url, "DELETE FROM clients WHERE client_id = %s", (CLIENT_ID,))
        cluster.drop_database(COPY_DATABASE)
    return result


