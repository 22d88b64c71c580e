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


# Issue 22: a read shape is flat when its p50 at the larger size is at most this many times its p50 at the
# smaller; the floor's events/s at the larger size at least this share of the smaller's.
FLAT_RATIO = 1.2
FLOOR_RATIO = 0.85


def _size(rows):
    return f"{rows / 1_000_000:g} M"


def _key(r):
    return r.key or r.short or r.label


def paired(by_scale, group=None):
    """[(first result, {scale: result})] for each row (of `group`, if given) at any scale, in the order of the
    first scale that has it, twins paired by key."""
    order, rows = [], {}
    for name, results in by_scale.items():
        for r in results:
            if group is not None and r.group != group:
                continue
            key = _key(r)
            if key not in rows:
                order.append(key)
                rows[key] = (r, {})
            rows[key][1].setdefault(name, r)
    return [rows[key] for key in order]


def _ratio(small, large, attribute="p50"):
    a = getattr(small, attribute, None) if small else None
    b = getattr(large, attribute, None) if large else None
    return b / a if a and b is not None else None


def comparison_table(by_scale, sizes, group="read"):
    """Each read shape at both sizes: p50 and p99 at each, and the p50 ratio of the larger to the smaller,
    checked against issue 22's FLAT_RATIO (reads only; the usage reports' data sets differ in more than
    their size)."""
    small, large = list(by_scale)[0], list(by_scale)[-1]
    head = " | ".join(f"{sizes[name]} p50 ms | {sizes[name]} p99 ms" for name in by_scale)
    flat = group == "read"
    lines = [f"| Shape | {head} | {sizes[large]} ÷ {sizes[small]} p50 |" + (f" ≤ {FLAT_RATIO:g} |" if flat else ""),
             "|---|" + "--:|--:|" * len(by_scale) + "--:|" + ("---|" if flat else "")]
    for _first, at in paired(by_scale, group):
        labels = list(dict.fromkeys(r.label for r in at.values()))
        cells = [labels[0] + "".join(f" (at {sizes[n]}: {r.label})" for n, r in at.items() if r.label != labels[0])]
        for name in by_scale:
            r = at.get(name)
            cells += [_ms(r.p50 if r else None), _ms(r.p99 if r else None)]
        ratio = _ratio(at.get(small), at.get(large))
        cells.append("—" if ratio is None else f"{ratio:.2f}")
        if flat:
            cells.append("—" if ratio is None else "met" if ratio <= FLAT_RATIO else "MISSED")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def floor_table(by_scale, sizes):
    """Issue 21's writes beside each size's floor: events/s and ÷ floor at each size, and 10 M ÷ 1 M."""
    small, large = list(by_scale)[0], list(by_scale)[-1]
    floors = {name: next((r.rate for r in results if r.floor and r.rate), None) for name, results in by_scale.items()}
    head = " | ".join(f"{sizes[name]} events/s | {sizes[name]} ÷ floor" for name in by_scale)
    lines = [f"| Write | {head} | {sizes[large]} ÷ {sizes[small]} | Target |",
             "|---|" + "--:|--:|" * len(by_scale) + "--:|---|"]
    for first, at in paired(by_scale, "write"):
        if not first.short or not any(r.rate for r in at.values()):
            continue
        cells, verdicts = [first.short], []
        for name in by_scale:
            r = at.get(name)
            rate = r.rate if r else None
            share = rate / floors[name] if rate and floors[name] else None
            cells += ["—" if rate is None else f"{rate:,.0f}", "—" if share is None else f"{share:.2f}"]
            if first.floor_target is not None:
                verdict = "not measured" if share is None else "met" if share >= first.floor_target else "MISSED"
                verdicts.append(f"{verdict} at {sizes[name]}")
        ratio = _ratio(at.get(small), at.get(large), "rate")
        cells.append("—" if ratio is None else f"{ratio:.2f}")
        if first.floor_target is not None:
            cells.append(f"≥ {first.floor_target:g} × floor: " + ", ".join(verdicts))
        elif first.floor:
            cells.append(f"{sizes[large]} ÷ {sizes[small]} ≥ {FLOOR_RATIO:g}: " + (
                "not measured" if ratio is None else "met" if ratio >= FLOOR_RATIO else "MISSED"))
        else:
            cells.append("—")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def targets_summary(by_scale, sizes):
    """[(target, issue, {scale: figure}, across, verdict)]: issue 21's targets at each size and issue 22's
    across the sizes, each met or MISSED ("not measured" when a figure is missing)."""
    small, large = list(by_scale)[0], list(by_scale)[-1]
    rows = []

    def find(results, key):
        return next((r for r in results if _key(r) == key and r.group == "write"), None)

    floors = {name: next((r for r in results if r.floor and r.rate), None) for name, results in by_scale.items()}
    for key, label in (("import", "`flask events import` ≥ 0.8 × floor"),
                       ("post", "batched `POST /v2/events` (1000 × 5 clients) ≥ 0.6 × floor"),
                       ("follow", "follow between two local instances ≥ 0.6 × floor (events stored/s)")):
        shares, target = {}, None
        for name, results in by_scale.items():
            r, floor = find(results, key), floors[name]
            if r is not None:
                target = r.floor_target
            shares[name] = r.rate / floor.rate if r is not None and r.rate and floor else None
        met = target is not None and all(v is not None and v >= target for v in shares.values())
        missing = any(v is None for v in shares.values())
        rows.append((label, "21", {n: "—" if v is None else f"{v:.2f} × floor" for n, v in shares.items()}, "—",
                     "not measured" if missing else "met" if met else "MISSED"))
    for batch in (100, 1):
        costs, safepoints, target = {}, {}, None
        for name, results in by_scale.items():
            r = find(results, f"ordering-{batch}")
            costs[name] = r.cost if r is not None else None
            safepoints[name] = r.cost_safepoint if r is not None else None
            target = r.cost_target if r is not None and r.cost_target is not None else target
        missing = target is None or any(v is None for v in costs.values())
        rows.append((f"skip-free ordering's cost ≤ {(target or 0) * 100:.0f} % at batch {batch}", "21",
                     {n: "—" if v is None else f"{v * 100:.0f} %" + (
                         "" if safepoints[n] is None else f" (the safe point: {safepoints[n] * 100:.0f} %)")
                      for n, v in costs.items()}, "—",
                     "not measured" if missing else "met" if all(v <= target for v in costs.values()) else "MISSED"))
    checks = {}
    for name, results in by_scale.items():
        wrong = [_key(r) for r in results if _key(r) in ("import", "follow")
                 and any("counts" in miss or miss == "failed" for miss in r.misses)]
        measured = sum(1 for r in results if _key(r) in ("import", "follow") and r.checked)
        checks[name] = None if measured < 2 else wrong
    rows.append(("the bench's own checks: counts equal to the rows after the import and after its delete; the "
                 "follow's copy equal to its upstream, counts included", "21",
                 {n: "—" if v is None else "pass" if not v else "FAIL: " + ", ".join(v) for n, v in checks.items()},
                 "—", "not measured" if any(v is None for v in checks.values()) else
                 "met" if not any(checks.values()) else "MISSED"))
    reads = [(first, _ratio(at.get(small), at.get(large))) for first, at in paired(by_scale, "read")]
    measured = [(first, ratio) for first, ratio in reads if ratio is not None]
    steep = sorted((pair for pair in measured if pair[1] > FLAT_RATIO), key=lambda pair: -pair[1])
    across = "—"
    if measured:
        worst = max(measured, key=lambda pair: pair[1])
        across = (f"{len(measured) - len(steep)} of {len(measured)} flat; highest {worst[1]:.2f} "
                  f"({_cell(worst[0].key or worst[0].label)})")
        if steep:
            across += "; above: " + ", ".join(f"{first.key or first.label} {ratio:.2f}" for first, ratio in steep)
    rows.append((f"every read shape's p50 {sizes[large]} ÷ {sizes[small]} ≤ {FLAT_RATIO:g}", "22",
                 {n: "—" for n in by_scale}, across,
                 "not measured" if not measured or len(measured) < len(reads) else "met" if not steep else "MISSED"))
    floor_ratio = _ratio(floors[small], floors[large], "rate")
    rows.append((f"the floor's events/s {sizes[large]} ÷ {sizes[small]} ≥ {FLOOR_RATIO:g}", "22",
                 {n: "—" if f is None else f"{f.rate:,.0f}/s" for n, f in floors.items()},
                 "—" if floor_ratio is None else f"{floor_ratio:.2f}",
                 "not measured" if floor_ratio is None else "met" if floor_ratio >= FLOOR_RATIO else "MISSED"))
    rows.append(("prune's whole-partition step ≤ 1 s; the tail poll during a prune", "22", {n: "—" for n in by_scale},
                 "—", "not measured (the bench has no prune step yet)"))
    return rows


def render_scales(by_scale, facts, args, cores, reading=None):
    """The report of a two-scale run (`--scale 1m,10m`): the targets' summary, each shape at both sizes with
    its ratio, the writes beside each size's floor, then each size's full table and plans."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python -m bench" + ("" if len(sys.argv) <= 1 else " " + " ".join(sys.argv[1:]))
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--", "app", "migrations", "wsgi.py")
    settings = ", ".join(f"{k}={v}" for k, v in MEASURE_SETTINGS.items() if k != "listen_addresses")
    sizes = dict((name, _size(rows)) for name, rows in facts["scales"])
    names = list(by_scale)
    small, large = sizes[names[0]], sizes[names[-1]]
    loads = "; ".join(f"{sizes[n]} {'loaded in ' + v if v != 'reused' else 'reused'}" for n, v in facts["load"].items())
    stored = "; ".join(f"{facts['db_size'].get(n, '?')} for {rows:,} audit and {rows:,} app usage events "
                       f"(`cf_events_bench_{n}`)" for n, rows in facts["scales"])
    reports = facts.get("reports") or []
    out = [
        "# cf-events benchmark results",
        "",
        f"- **Date**: {now}; **command**: `{command}` (`make bench`); **run time**: {facts['elapsed']:.0f} s "
        f"(data sets: {loads})",
        f"- **Machine**: {cores} CPUs ({_cpu_model()}), {_memory()} RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- **Service**: git {commit}{' with local changes to app/' if dirty else ''}, gunicorn with "
        f"{facts['workers']} sync workers (its recommended 2 × cores + 1) per data set, on loopback",
        f"- **Database**: PostgreSQL {facts.get('postgres', '?')}, a private cluster ({settings}), one database per "
        f"size: {stored}",
        "- **Mode**: " + ("`--quick` (few requests per shape: a smoke run, not figures to quote)"
                          if facts["quick"] else "full")
        + f"; the read shapes measured alternately at {small} and {large} (shape by shape, the order swapped every "
          "other shape), then the drain, the writes and the floor at each size in turn, the follow once (its "
          "upstream is the 1 M data set, its copy a fresh database) beside each size's floor"
        + (f", the usage reports on their {' and '.join(reports)} data sets" if reports else ", no usage reports")
        + f"; CPU time not accounted to the benchmark's processes averaged {facts['foreign'][0]:.2f} cores while "
          f"measuring (hypervisor steal {facts['foreign'][1]:.2f}); {facts['waited']:.0f} s spent waiting for a "
          "quiet machine; measurements during which that exceeded a quarter of a core are flagged ⚠",
        "",
        "How to read it: *p50/p99* are the latencies a single client sees issuing one request after another; "
        f"*{large} ÷ {small}* is the p50 at {large} stored over the p50 at {small} (issue 22: ≤ {FLAT_RATIO:g} for "
        "every read shape). The writes' figures are events stored per second, and *÷ floor* their share of the "
        "floor's, the `COPY` of the import's rows with no user triggers measured at the same size in this run "
        "(issue 21). Each size's full table (throughput, raw SQL, every target) and its plans follow.",
        "",
        "## Targets",
        "",
        f"| Target | Issue | at {small} | at {large} | {large} ÷ {small} | Verdict |",
        "|---|---|---|---|---|---|",
    ]
    for label, issue, figures, across, verdict in targets_summary(by_scale, sizes):
        out.append("| " + " | ".join(_cell(c) for c in (label, issue, figures.get(names[0], "—"),
                                                           figures.get(names[-1], "—"), across, verdict)) + " |")
    out += ["", f"## Read shapes at {small} and {large}", ""]
    out += comparison_table(by_scale, sizes)
    out += ["", f"## Writes beside the floor at {small} and {large}", "",
            "Events stored per second. The floor is `COPY` of the very rows the import stored into the same `events` "
            "table, same indexes, with the user triggers disabled, in one transaction, timed at each size; the COPY "
            "rows count the statement alone (commit excluded), the import, the POST and the follow their commits. "
            "The follow is measured once (into a fresh database, audit and usage events together) and set beside "
            "each size's floor.", ""]
    out += floor_table(by_scale, sizes)
    if any(r.group == "report" for results in by_scale.values() for r in results):
        out += ["", "## Usage reports", "",
                "Each size's usage data set (`bench.usage`: 1 M app usage events for 5 000 processes, 10 M for 50 000) "
                "grows in processes as well as history: its orgs are larger, so the ratio is not history alone.", ""]
        out += comparison_table(by_scale, sizes, group="report")
    out += [""]
    out += reading_section(reading)
    for name, results in by_scale.items():
        checked = [r for r in results if r.checked]
        missed = [r for r in checked if r.misses]
        out += [f"## Results at {sizes[name]}", "", table(results), ""]
        if checked:
            out += [f"Targets met on {len(checked) - len(missed)} of the {len(checked)} rows that have one.", ""]
    for name, results in by_scale.items():
        out += [f"## Plans at {sizes[name]}", "",
                "`EXPLAIN (ANALYZE, BUFFERS)` of each statement the service ran for the shape's first request "
                "(see the one-scale report), and where the time goes in process.", ""]
        out += plans(results)
    return "\n".join(out)
