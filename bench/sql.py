"""The service's own SQL for a request, run again directly through psycopg2, and its plans.

A copy of the application runs in this process (Flask's test client) with a listener on its engine,
so the statements captured for a URL are exactly those the service issues for it, parameters
included, whatever the code looks like on the day of the run. Replaying them on a plain psycopg2
connection gives the "raw SQL" baseline; EXPLAIN ANALYZE of them gives the plans.
"""
import cProfile
import pstats
import re
import time

import psycopg2
from sqlalchemy import event

from .loadgen import Outcome


def sqlalchemy_url(url):
    scheme, _, rest = url.partition("://")
    return "postgresql+psycopg2://" + rest


class InProcessApp:
    def __init__(self, url, secret, token):
        from app import create_app
        from app.base.extensions import db

        self.app = create_app({"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url), "TOKEN_SECRET": secret})
        self.headers = {"Authorization": f"bearer {token}"}
        self.client = self.app.test_client()
        self._captured = None
        self._db_seconds = 0.0
        self._t0 = None
        with self.app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._capture)
            event.listen(db.engine, "after_cursor_execute", self._captured_done)
            self._engine = db.engine

    def upgrade(self):
        """Apply the project's migrations (creates the schema on a new database)."""
        from flask_migrate import upgrade

        with self.app.app_context():
            upgrade()

    def dispose(self):
        self._engine.dispose()

    def _capture(self, conn, cursor, statement, parameters, context, executemany):
        if self._captured is not None:
            self._captured.append((statement, parameters, executemany))
        self._t0 = time.perf_counter()

    def _captured_done(self, conn, cursor, statement, parameters, context, executemany):
        if self._t0 is not None:
            self._db_seconds += time.perf_counter() - self._t0
            self._t0 = None

    def breakdown(self, path, requests, max_seconds=3.0):
        """Where an in-process request's time goes: (p50 seconds, DB share, {group: share of self time}).

        The DB share is the time spent inside cursor.execute (the database and the wire); the groups
        come from cProfile's self time by package, so they carry the profiler's overhead. At most
        `requests` requests or `max_seconds` (at least one) for each of the two.
        """
        totals, db_shares = [], []
        deadline = time.perf_counter() + max_seconds
        while len(totals) < requests and (not totals or time.perf_counter() < deadline):
            self._db_seconds = 0.0
            t0 = time.perf_counter()
            self.client.get(path, headers=self.headers)
            total = time.perf_counter() - t0
            totals.append(total)
            db_shares.append(self._db_seconds / total)
        profiler = cProfile.Profile()
        deadline = time.perf_counter() + max_seconds
        for n in range(max(1, requests // 2)):
            if n and time.perf_counter() >= deadline:
                break
            profiler.enable()
            self.client.get(path, headers=self.headers)
            profiler.disable()
        groups = {}
        for (filename, _, name), (_, _, self_time, _, _) in pstats.Stats(profiler).stats.items():
            group = _group(filename, name)
            groups[group] = groups.get(group, 0.0) + self_time
        whole = sum(groups.values()) or 1.0
        shares = {group: value / whole for group, value in sorted(groups.items(), key=lambda kv: -kv[1])}
        totals.sort()
        db_shares.sort()
        return totals[len(totals) // 2], db_shares[len(db_shares) // 2], shares

    def capture(self, path):
        """(response, [(statement, parameters)]) of a GET of `path`."""
        self.client.get(path, headers=self.headers)  # first use: connection set-up queries
        self._captured = []
        try:
            response = self.client.get(path, headers=self.headers)
        finally:
            statements, self._captured = self._captured, None
        reads = [(s, p) for s, p, many in statements if not many and s.strip().upper() != "SELECT 1"]
        return response, reads


_GROUPS = (
    ("psycopg2", "psycopg2 (database wait, row decoding)"),
    ("/marshmallow/", "marshmallow (serialisation)"),
    ("/sqlalchemy/", "SQLAlchemy (ORM, SQL building)"),
    ("/flask/", "Flask/Werkzeug"),
    ("/werkzeug/", "Flask/Werkzeug"),
    ("/jwt/", "JWT"),
    ("/cryptography/", "JWT"),
    ("json", "json"),
    ("/app/", "the service's own code"),
)


def _group(filename, name):
    where = f"{filename} {name}"
    for needle, group in _GROUPS:
        if needle in where:
            return group
    return "other (stdlib, builtins)"


def connect(url):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def replay(conn, statements):
    with conn.cursor() as cur:
        for statement, parameters in statements:
            cur.execute(statement, parameters)
            if cur.description:
                cur.fetchall()


def measure_raw(conn, variants, max_requests, max_seconds):
    """Run each request's statements (round-robin over `variants`) back to back, one connection."""
    outcome = Outcome()
    for statements in variants:  # warm-up, one of each
        replay(conn, statements)
    started = time.perf_counter()
    deadline = started + max_seconds
    for n in range(max_requests):
        if time.perf_counter() >= deadline:
            break
        t0 = time.perf_counter()
        replay(conn, variants[n % len(variants)])
        outcome.latencies.append(time.perf_counter() - t0)
    outcome.elapsed = time.perf_counter() - started
    return outcome


def explain(conn, statements, prefix=""):
    """[(label, one-line plan summary, execution ms)] for each captured SELECT."""
    out = []
    with conn.cursor() as cur:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters)
            document = cur.fetchone()[0][0]
            out.append((prefix + statement_kind(statement, parameters), summarize(document["Plan"]),
                        document.get("Execution Time")))
    return out


OFFSET = re.compile(r"OFFSET %\((\w+)\)s", re.IGNORECASE)
# The tables too large to count or scan for a request: a total must come from the maintained counts
# (event_counts) or the usage cursor's arithmetic, a page from an index range.
LARGE_TABLES = ("events", "app_usage_events", "service_usage_events")
COUNT_FROM = re.compile(r"^\s*SELECT\s+count\(\*\)(?:\s+AS\s+\w+)?\s+FROM\s+(\w+)\b", re.IGNORECASE)


def counted_table(statement):
    """The large table a statement counts rows of (`SELECT count(*) FROM events …`), or None."""
    match = COUNT_FROM.match(statement)
    return match.group(1).lower() if match and match.group(1).lower() in LARGE_TABLES else None


def statement_kind(statement, parameters):
    """What a captured statement is for, in a few words (a count of a large table names it:
    report.py flags those)."""
    text = " ".join(statement.split()).upper()
    if text.startswith("SELECT COUNT(") or "SELECT COUNT(*)" in text[:40]:
        table = counted_table(statement)
        return f"count over {table}" if table else "count"
    if "FROM USAGE_STREAMS" in text:
        return "stream head"
    if "FROM PRUNED_USAGE_EVENTS" in text:
        return "pruned cursor lookup"
    if "LIMIT" not in text and ".GUID = " in text:
        return "cursor lookup"
    offset = OFFSET.search(statement)
    if offset and isinstance(parameters, dict) and parameters.get(offset.group(1)):
        return f"page at OFFSET {parameters[offset.group(1)]:,}"
    return "page" if "LIMIT" in text else "query"


def _describe(node):
    kind = node["Node Type"]
    if node.get("Parallel Aware"):
        kind = "Parallel " + kind
    if node.get("Partial Mode") and node["Partial Mode"] != "Simple":
        kind = f"{node['Partial Mode']} {kind}"
    if node.get("Scan Direction") == "Backward":
        kind += " Backward"
    text = kind
    if "Index Name" in node:
        text += f" using {node['Index Name']}"
    elif "Relation Name" in node:
        text += f" on {node['Relation Name']}"
    details = [f"rows={node.get('Actual Rows')}"]
    if node.get("Actual Loops", 1) > 1:
        details.append(f"loops={node['Actual Loops']}")
    if node.get("Heap Fetches"):
        details.append(f"heap fetches={node['Heap Fetches']}")
    if node.get("Rows Removed by Filter"):
        details.append(f"removed by filter={node['Rows Removed by Filter']}")
    return f"{text} ({', '.join(details)})"


def summarize(node):
    """The plan as a chain from its top node down: `Limit (rows=50) → Index Scan using ix_… (rows=50)`."""
    children = node.get("Plans", [])
    here = _describe(node)
    if not children:
        return here
    if len(children) == 1:
        return f"{here} → {summarize(children[0])}"
    return f"{here} → [" + "; ".join(summarize(child) for child in children) + "]"

