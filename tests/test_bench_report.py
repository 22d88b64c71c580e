"""bench/RESULTS.md: a new run of `make bench` writes its figures and keeps the reading written by hand."""
from types import SimpleNamespace

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
