"""The Markdown report: the machine, the run, one results table, and the plans of the read shapes."""
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone

from .cluster import MEASURE_SETTINGS
from .service import PROJECT

SORT_NODE = re.compile(r"(^|→ |\[|; )(Incremental )?Sort \(")
# Sequential scans of the small tables (usage_streams, the event counts) are cheap and expected.
LARGE_SEQ_SCAN = re.compile(r"Seq Scan on (events|app_usage_events|service_usage_events) ")
# A total counted row by row (sql.statement_kind names the large table a count reads), instead of
# the maintained counts or the cursor's arithmetic; the rows it counted are in its plan.
LARGE_COUNT = re.compile(r"count over (events|app_usage_events|service_usage_events)$")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory():
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _git(*args):
    try:
        result = subprocess.run(["git", "--no-optional-locks", "-C", PROJECT, *args], capture_output=True, text=True,
                                timeout=10)
        return result.stdout.strip() if result.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _ms(value):
    if value is None:
        return "—"
    return f"{value * 1000:.1f}" if value < 0.1 else f"{value * 1000:,.0f}"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(results):
    lines = [
        "| Shape | Rows | p50 ms | p99 ms | Throughput | Raw SQL p50 ms | Service ÷ SQL | Target | Verdict |",
        "|---|---|--:|--:|---|--:|--:|---|---|",
    ]
    for r in results:
        ratio = "—" if r.ratio is None else f"{r.ratio:.1f}×"
        verdict = r.verdict
        lines.append("| " + " | ".join(_cell(c) for c in (
            r.label, r.rows, _ms(r.p50), _ms(r.p99), r.throughput, _ms(r.raw_p50), ratio, r.target, verdict)) + " |")
    return "\n".join(lines)


def floor_section(results):
    """Issue 21's table: each write's events stored per second beside the floor's, measured in the same run
    (none without a floor)."""
    floor = next((r for r in results if r.floor and r.rate), None)
    if floor is None:
        return []
    out = [
        "### Writes beside the floor",
        "",
        "Events stored per second. The floor is `COPY` of the very rows the import stored into the same `events` "
        "table, same indexes, with the user triggers disabled, in one transaction, timed in this run; the COPY "
        "rows count the statement alone (commit excluded), the import, the POST and the follow their commits. "
        "The follow stores into a fresh database, audit and usage events together; its floor is the same.",
        "",
        "| Write | events/s | ÷ floor | Target |",
        "|---|--:|--:|---|",
    ]
    for r in results:
        if r.rate is None or not r.short:
            continue
        ratio = r.rate / floor.rate
        target = "—" if r.floor_target is None else \
            f"≥ {r.floor_target:g} × floor: {'met' if ratio >= r.floor_target else 'MISSED'}"
        out.append(f"| {_cell(r.short)} | {r.rate:,.0f} | {ratio:.2f} | {target} |")
    return out + [""]


# The hand-written reading of the targets sits between these markers; each run carries it into the next report,
# so that a new run never drops it (bench/README.md: "After a run").
READING_BEGIN = "<!-- reading: written by hand; make bench carries it into the next report -->"
READING_END = "<!-- reading: end -->"


def kept_reading(path):
    """The hand-written reading of the report at `path` (None if there is none), for the next report."""
    try:
        with open(path) as file:
            text = file.read()
    except FileNotFoundError:
        return None
    begin, end = text.find(READING_BEGIN), text.find(READING_END)
    if begin < 0 or end < begin:
        return None
    return text[begin + len(READING_BEGIN):end].strip() or None


def reading_section(reading):
    return [
        "## Reading: targets met, targets missed, why, and what it would take",
        "",
        "*Carried over from the previous report: it names the run it was written for. Check its figures against "
        "the table above, and rewrite it for this run (between the markers, which the next run keeps).*"
        if reading else "*Not written yet for this run.*",
        "",
        READING_BEGIN,
        reading or "",
        READING_END,
        "",
    ]


def render(results, facts, args, cores, reading=None):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python -m bench" + ("" if len(sys.argv) <= 1 else " " + " ".join(sys.argv[1:]))
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--", "app", "migrations", "wsgi.py")
    rows = facts["rows"]
    settings = ", ".join(f"{k}={v}" for k, v in MEASURE_SETTINGS.items() if k != "listen_addresses")
    missed = [r for r in results if r.checked and r.misses]
    out = [
        "# cf-events benchmark results",
        "",
        f"- **Date**: {now}; **command**: `{command}` (`make bench`); **run time**: {facts['elapsed']:.0f} s "
        f"(data set {'loaded in ' + facts['load'] if facts['load'] != 'reused' else 'reused from an earlier run'})",
        f"- **Machine**: {cores} CPUs ({_cpu_model()}), {_memory()} RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- **Service**: git {commit}{' with local changes to app/' if dirty else ''}, gunicorn with "
        f"{facts['workers']} sync workers (its recommended 2 × cores + 1), on loopback",
        f"- **Database**: PostgreSQL {facts.get('postgres', '?')}, "
        f"{'a private cluster in bench/data' if not args.database_url else 'the server given by --database-url'} "
        f"({settings}); {facts.get('db_size', '?')} for {rows:,} audit events and {rows:,} app usage events "
        f"(positions 1..{rows:,}, stream last_id={rows:,}, horizon=1)",
        "- **Mode**: " + ("`--quick` (few requests per shape: a smoke run, not figures to quote)"
                          if facts["quick"] else "full")
        + f"; CPU time not accounted to the benchmark's processes (other processes, "
          f"and kernel work such as loopback networking) averaged {facts['foreign'][0]:.2f} cores while measuring "
          f"(hypervisor steal {facts['foreign'][1]:.2f}); {facts['waited']:.0f} s spent waiting for a quiet "
          "machine before measurements; measurements during which that exceeded a quarter of a core "
          "are flagged ⚠",
        "",
        "How to read it: *p50/p99* are the latencies a single client sees issuing one request after another "
        "(service time, no queueing); *Throughput* is from one client per worker issuing requests back to back "
        "for a few seconds (its p99 includes queueing for 2 cores); *Raw SQL* is the very statements the service "
        "ran for that request (captured from its engine), replayed on one psycopg2 connection and fetched; "
        "*Service ÷ SQL* is p50 ÷ raw p50. Targets are the issue's, set for a 2-core machine at 10 M rows"
        + ("; this run is at 1 M, so they are indicative." if rows < 10_000_000 else "."),
        "The load generator (Python threads with `http.client`) runs on the same cores as the service and the "
        "database, so throughput figures are lower bounds.",
        "",
        "## Results",
        "",
        table(results),
        "",
    ]
    checked = [r for r in results if r.checked]
    if checked:
        out += [f"Targets met on {len(checked) - len(missed)} of the {len(checked)} rows that have one.", ""]
    out += floor_section(results)
    out += reading_section(reading)
    out += [
        "## Plans",
        "",
        "`EXPLAIN (ANALYZE, BUFFERS)` of each statement the service ran for the shape's first request, "
        "from the top node down (actual rows per node; times include EXPLAIN ANALYZE's own overhead), and where "
        "the time of that request goes when the application runs in process.",
        "",
    ]
    out += plans(results)
    return "\n".join(out)


def plans(results):
    """The plans section's lines: each measured shape's statements, flagged where they read too much."""
    out = []
    for r in results:
        if not r.plans:
            continue
        out += [f"**{r.label}**", ""]
        if r.breakdown:
            p50, db_share, shares = r.breakdown
            groups = ", ".join(f"{name} {share * 100:.0f} %" for name, share in shares.items() if share >= 0.02)
            out.append(f"- in process (no HTTP): p50 {_ms(p50)} ms, of which {db_share * 100:.0f} % inside "
                       f"cursor.execute; cProfile self time: {groups}")
        for kind, summary, execution in r.plans:
            flag = " ⚠ sequential scan of a large table" if LARGE_SEQ_SCAN.search(summary) else ""
            flag += " ⚠ sort" if SORT_NODE.search(summary) else ""
            flag += " ⚠ COUNT over a large table" if LARGE_COUNT.search(kind) else ""
            out.append(f"- {kind} ({execution:.2f} ms){flag}: `{summary}`")
        out.append("")
    return out
