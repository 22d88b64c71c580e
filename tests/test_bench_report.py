"""bench/RESULTS.md: a new run of `make bench` writes its figures and keeps the reading written by hand."""
from types import SimpleNamespace

import pytest

from bench import report
from bench.run import Result

FACTS = {"rows": 1_000_000, "workers": 5, "quick": False, "load": "reused", "foreign": (0.0, 0.0), "elapsed": 1.0,
         "waited": 0.0}
ARGS = SimpleNamespace(database_url=None)


def rendered(results, reading=None):
    return report.render(results, FACTS, ARGS, 2, reading=reading)


def test_a_new_run_keeps_the_hand_written_reading_of_the_last(tmp_path):
    first = Result("Tail poll")
    first.p50, first.p99 = 0.003, 0.010
    published = tmp_path / "RESULTS.md"
    published.write_text(rendered([first], reading="*Written for run one.* The tail poll misses p50 because …"))
    second = Result("Tail poll")
    second.p50, second.p99 = 0.002, 0.008
    text = rendered([second], reading=report.kept_reading(published))
    assert "*Written for run one.* The tail poll misses p50 because …" in text
    assert "| Tail poll | — | 2.0 | 8.0 |" in text
    assert "Carried over from the previous report" in text
    # And the run after that keeps it again.
    (tmp_path / "RESULTS.md").write_text(text)
    assert report.kept_reading(published) == "*Written for run one.* The tail poll misses p50 because …"


def test_a_report_without_a_reading_says_so(tmp_path):
    assert report.kept_reading(tmp_path / "missing.md") is None
    assert "*Not written yet for this run.*" in rendered([Result("Tail poll")])


def test_the_published_report_has_a_reading_and_every_kind_of_shape():
    published = report.kept_reading(report.PROJECT + "/bench/RESULTS.md")
    assert published and "Missed" in published
    with open(report.PROJECT + "/bench/RESULTS.md") as file:
        text = file.read()
    for shape in ("Tail poll", "v3 audit events", "`POST /v2/events`", "events import",
                  "/organizations/{org}/app_usages", "/system_report/service_usages"):
        assert shape in text, shape


def test_each_write_stands_beside_the_floor_measured_in_the_same_run():
    from bench.run import beside_floor

    def write(short, rate, floor_target=None, floor=False, target="—"):
        result = Result(f"{short}, in full")
        result.short, result.rate, result.floor_target, result.floor = short, rate, floor_target, floor
        result.throughput, result.target, result.checked = f"{rate:,.0f} events/s", target, target != "—"
        return result

    results = [write("batched POST", 24_000, 0.6, target="≥ 20 000 events/s"),
               write("import", 11_004, 0.8, target="≥ 50 000 events/s"),
               write("COPY, triggers on", 27_204), write("the floor", 39_858, floor=True),
               write("follow", 30_000, 0.6)]
    beside_floor(results)
    post, imported, on, floor, follow = results
    assert imported.throughput == "11,004 events/s; ÷ floor 0.28"
    assert imported.target == "≥ 50 000 events/s; ≥ 0.8 × floor"
    assert imported.misses == ["÷ floor"]
    assert post.misses == [] and post.checked and post.target == "≥ 20 000 events/s; ≥ 0.6 × floor"
    assert follow.checked and follow.target == "≥ 0.6 × floor" and follow.misses == []
    assert on.throughput.endswith("÷ floor 0.68") and not on.checked
    assert floor.throughput == "39,858 events/s" and not floor.checked
    text = rendered(results)
    assert "### Writes beside the floor" in text
    assert "| import | 11,004 | 0.28 | ≥ 0.8 × floor: MISSED |" in text
    assert "| batched POST | 24,000 | 0.60 | ≥ 0.6 × floor: met |" in text
    assert "| COPY, triggers on | 27,204 | 0.68 | — |" in text
    assert "| the floor | 39,858 | 1.00 | — |" in text


def test_without_a_floor_a_write_with_a_target_misses_it_as_not_measured():
    from bench.run import beside_floor

    imported = Result("import")
    imported.short, imported.rate, imported.floor_target = "import", 11_004.0, 0.8
    imported.target, imported.checked = "≥ 50 000 events/s", True
    beside_floor([imported])
    assert imported.misses == ["÷ floor not measured"]
    assert "Writes beside the floor" not in rendered([imported])


def two_scales():
    """A two-scale run's rows (`--scale 1m,10m`), as run.main_scales hands them to report.render_scales."""
    from bench.run import beside_floor

    def read(key, label, p50, p99):
        result = Result(label, key=key, group="read")
        result.p50, result.p99 = p50, p99
        return result

    def write(key, short, rate, floor_target=None, floor=False):
        result = Result(f"{short}, in full", key=key, group="write")
        result.short, result.rate, result.floor_target, result.floor = short, rate, floor_target, floor
        result.throughput = f"{rate:,.0f} events/s"
        return result

    def ordering(batch, cost, limit, safepoint=None):
        result = Result(f"ordering, batch {batch}", key=f"ordering-{batch}", group="write", cost=cost,
                        cost_target=limit, cost_safepoint=safepoint)
        result.checked = True
        result.misses = [] if cost <= limit else ["write cost"]
        return result

    def counted(result, ok=True):
        result.checked = True
        if not ok:
            result.misses.append("maintained counts")
        return result

    by_scale = {}
    for name, slow, floor, imported, post, cost in (("1m", 1.0, 39_858, 33_000, 24_000, 0.08),
                                                    ("10m", 1.5, 23_689, 9_069, 15_000, 0.12)):
        results = [read("floor", "Floor: GET /v2/info", 0.002, 0.004), read("tail", "Tail poll", 0.003, 0.010),
                   read("catchup", f"Catch-up {'500,000' if name == '1m' else '5,000,000'} behind", 0.030, 0.050),
                   read("console-top-crashes", "Console: top crashes", 0.571 * slow ** 5, 0.6 * slow ** 5),
                   write("post", "batched POST", post, 0.6), counted(write("import", "import", imported, 0.8)),
                   write("copy-triggers-on", "COPY, triggers on", floor * 0.7),
                   write("copy-floor", "the floor", floor, floor=True),
                   ordering(100, cost, 0.10, 0.03), ordering(1, 0.2, 0.25),
                   counted(write("follow", "follow", 16_000, 0.6), ok=name == "1m")]
        beside_floor(results)
        by_scale[name] = results
    return by_scale


def test_a_two_scale_run_sets_each_shape_beside_its_twin_with_the_ratio():
    facts = {**FACTS, "rows": 10_000_000, "scales": [("1m", 1_000_000), ("10m", 10_000_000)],
             "load": {"1m": "reused", "10m": "373 s"}, "db_size": {"1m": "1.7 GB", "10m": "15 GB"}, "reports": []}
    text = report.render_scales(two_scales(), facts, ARGS, 2)
    assert "data sets: 1 M reused; 10 M loaded in 373 s" in text
    assert "| Shape | 1 M p50 ms | 1 M p99 ms | 10 M p50 ms | 10 M p99 ms | 10 M ÷ 1 M p50 | ≤ 1.2 |" in text
    assert "| Tail poll | 3.0 | 10.0 | 3.0 | 10.0 | 1.00 | met |" in text
    # The twins pair by key though their labels differ; the larger size's label is shown beside.
    assert "| Catch-up 500,000 behind (at 10 M: Catch-up 5,000,000 behind) | 30.0 | 50.0 | 30.0 | 50.0 | 1.00 | met |" \
        in text
    assert "| Console: top crashes | 571 | 600 | 4,336 | 4,556 | 7.59 | MISSED |" in text
    # Writes beside each size's floor, and the floor's own ratio.
    assert "| Write | 1 M events/s | 1 M ÷ floor | 10 M events/s | 10 M ÷ floor | 10 M ÷ 1 M | Target |" in text
    assert "| import | 33,000 | 0.83 | 9,069 | 0.38 | 0.27 | ≥ 0.8 × floor: met at 1 M, MISSED at 10 M |" in text
    assert "| batched POST | 24,000 | 0.60 | 15,000 | 0.63 | 0.62 | ≥ 0.6 × floor: met at 1 M, met at 10 M |" in text
    assert "| the floor | 39,858 | 1.00 | 23,689 | 1.00 | 0.59 | 10 M ÷ 1 M ≥ 0.85: MISSED |" in text
    assert "| COPY, triggers on | 27,901 | 0.70 | 16,582 | 0.70 | 0.59 | — |" in text
    assert "| follow | 16,000 | 0.40 | 16,000 | 0.68 | 1.00 | ≥ 0.6 × floor: MISSED at 1 M, met at 10 M |" in text
    # The summary: issue 21's targets at each size, issue 22's across them.
    assert "| `flask events import` ≥ 0.8 × floor | 21 | 0.83 × floor | 0.38 × floor | — | MISSED |" in text
    assert ("| batched `POST /v2/events` (1000 × 5 clients) ≥ 0.6 × floor | 21 | 0.60 × floor | 0.63 × floor | — "
            "| met |") in text
    assert ("| skip-free ordering's cost ≤ 10 % at batch 100 | 21 | 8 % (the safe point: 3 %) | 12 % (the safe point: "
            "3 %) | — | MISSED |") in text
    assert "| skip-free ordering's cost ≤ 25 % at batch 1 | 21 | 20 % | 20 % | — | met |" in text
    assert "| 21 | pass | FAIL: follow | — | MISSED |" in text
    assert ("| every read shape's p50 10 M ÷ 1 M ≤ 1.2 | 22 | — | — | 3 of 4 flat; highest 7.59 (console-top-crashes); "
            "above: console-top-crashes 7.59 | MISSED |") in text
    assert "| the floor's events/s 10 M ÷ 1 M ≥ 0.85 | 22 | 39,858/s | 23,689/s | 0.59 | MISSED |" in text
    assert "| 22 | — | — | — | not measured (the bench has no prune step yet) |" in text
    # Then each size's full table, and the reading kept between the markers.
    assert text.index("## Results at 1 M") < text.index("## Results at 10 M") < text.index("## Plans at 1 M")
    assert "| Tail poll | — | 3.0 | 10.0 |" in text
    assert report.READING_BEGIN in text and "*Not written yet for this run.*" in text


def test_a_two_scale_run_with_a_size_missing_says_not_measured():
    by_scale = two_scales()
    by_scale["10m"] = [r for r in by_scale["10m"] if r.key not in ("copy-floor", "tail")]
    facts = {**FACTS, "scales": [("1m", 1_000_000), ("10m", 10_000_000)], "load": {"1m": "reused", "10m": "reused"},
             "db_size": {}, "reports": []}
    text = report.render_scales(by_scale, facts, ARGS, 2)
    assert "| Tail poll | 3.0 | 10.0 | — | — | — | — |" in text
    assert "| the floor's events/s 10 M ÷ 1 M ≥ 0.85 | 22 | 39,858/s | — | — | not measured |" in text
    assert "| `flask events import` ≥ 0.8 × floor | 21 | 0.83 × floor | — | — | not measured |" in text
    assert "| every read shape's p50 10 M ÷ 1 M ≤ 1.2 | 22 | — | — | 2 of 3 flat" in text


def test_scales_are_given_one_or_several():
    from bench.run import parse_args

    assert parse_args([]).scale == "1m"
    assert parse_args(["--scale", "10m"]).scale == "10m"
    assert parse_args(["--scale", "10m,1m"]).scale == "1m,10m"
    assert parse_args(["--scale", "1m,10m", "--reports", "none"]).reports == "none"
    for wrong in ("2m", "1m,1m", ""):
        with pytest.raises(SystemExit):
            parse_args(["--scale", wrong])
