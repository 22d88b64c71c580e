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
