"""/v2/events totals and pages from the maintained counts equal exact counting, whatever writes or deletes."""
import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from app.api.v2.paging import parse_paging
from app.api.v2.query import parse_filters
from app.base.extensions import db
from app.store import event_counts
from app.store.audit_events import BY_TIME, FIELDS, prune_audit_events
from app.store.event_counts import counted_filter
from app.store.filters import conditions
from app.store.models import Event, EventCountByDay
from app.store.pages import fetch_page
from tests.factories import EventFactory
from tests.figures import recounted

Q_KEYS = ("timestamp", "type", "actee", "space_guid", "organization_guid")


def parse(q):
    return parse_filters(q, Q_KEYS, time_keys={"timestamp"})
MIDNIGHT = datetime(2026, 5, 10, tzinfo=timezone.utc)
TYPES = ("audit.app.update", "app.crash", "audit.app.start", "audit.service_broker.delete")
SPACES = {"s1": "o1", "s2": "o1", "s3": "o2"}


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_events(rnd, count):
    """Events over four days, many right at and around midnights, in a few spaces (and some in none)."""
    events = []
    for n in range(count):
        day = rnd.randrange(-1, 3)
        seconds = rnd.choice([0, 1, 59, 3600, 43200, 86399, rnd.randrange(86400)])
        space = rnd.choice([*SPACES, None])
        events.append(EventFactory(
            guid=f"e{n:03d}", type=rnd.choice(TYPES), actee=rnd.choice(["app-a", "app-b"]),
            timestamp=MIDNIGHT + timedelta(days=day, seconds=seconds, microseconds=rnd.choice([0, 500000])),
            space_guid=space, organization_guid=SPACES.get(space),
        ))
    return events


def assert_counts_exact():
    expected, kept = recounted()
    assert kept == expected
    assert sum(expected[0].values()) == db.session.scalar(select(func.count()).select_from(Event))
    # Every event's id lies within its day's bounds (which deletes may leave wider).
    day = "date(e.timestamp)" if db.engine.dialect.name == "sqlite" else "(e.timestamp AT TIME ZONE 'UTC')::date"
    outside = db.session.execute(text(
        f"SELECT count(*) FROM events e JOIN event_counts_by_day c ON c.type = e.type AND c.day = {day}"
        " WHERE NOT (e.id BETWEEN c.first_id AND c.last_id)")).scalar()
    assert outside == 0


def random_q(rnd):
    """A q list: mostly filters the counts answer, some they do not."""
    moment = MIDNIGHT + timedelta(days=rnd.randrange(-1, 3), seconds=rnd.choice([0, 1, 3600, 86399]))
    clauses = rnd.sample([
        f"type:{rnd.choice(TYPES)}",
        f"type IN {','.join(rnd.sample(TYPES, 2))}",
        f"space_guid:{rnd.choice(list(SPACES))}",
        "organization_guid IN o1,o2",
        f"timestamp>={iso(moment)}",
        f"timestamp<{iso(moment + timedelta(hours=rnd.choice([1, 25, 49])))}",
        f"timestamp>{iso(moment)}",
        f"timestamp<={iso(moment + timedelta(days=1))}",
        f"timestamp:{iso(moment)}",
        "actee:app-a",
        "space_guid:",
    ], rnd.randrange(0, 4))
    return clauses


def exact_page(q, page, per_page, direction):
    """What plain COUNT and OFFSET give for the same request."""
    from werkzeug.datastructures import MultiDict

    args = MultiDict([("page", page), ("results-per-page", per_page), ("order-direction", direction),
                      *(("q", clause) for clause in q)])
    paging = parse_paging(args, 100)
    total, rows = fetch_page(Event, conditions(parse(q), FIELDS), BY_TIME, paging.request)
    return total, [row.guid for row in rows]


def test_totals_and_pages_equal_exact_counting(client, admin):
    rnd = random.Random(20261123)
    make_events(rnd, 240)
    assert_counts_exact()
    counted = 0
    for _ in range(60):
        q = random_q(rnd)
        counted += counted_filter(parse(q)) is not None
        per_page = rnd.choice([1, 7, 50])
        direction = rnd.choice(["asc", "desc"])
        total, _ = exact_page(q, 1, per_page, direction)
        pages = {1, 2, max(1, total // per_page), total // per_page + 1, rnd.randrange(1, total // per_page + 3)}
        for page in sorted(pages):
            response = client.get("/v2/events", headers=admin, query_string=[
                ("page", page), ("results-per-page", per_page), ("order-direction", direction),
                *(("q", clause) for clause in q)])
            body = response.get_json()
            expected_total, expected_guids = exact_page(q, page, per_page, direction)
            assert response.status_code == 200, body
            assert body["total_results"] == expected_total, (q, page)
            assert [r["metadata"]["guid"] for r in body["resources"]] == expected_guids, (q, page, direction)
    assert counted >= 30  # most cases went through the counts


def test_the_counts_answer_only_what_they_can(app):
    def can(*q):
        return counted_filter(parse(list(q))) is not None

    assert can() and can("type:app.crash")
    assert can("type IN app.crash,audit.app.update", "timestamp>2026-01-01T00:00:00Z")
    assert can("space_guid:s1", "type:app.crash") and can("organization_guid IN o1,o2")
    assert can("actee:x") and can("actee IN x,y", "type:app.crash")
    assert not can("actee:x", "space_guid:s1")
    assert not can("type:")  # IS NULL
    assert not can("type>app")
    assert not can("space_guid:s1", "organization_guid:o1")
    assert not can("space_guid:s1", "timestamp>2026-01-01T00:00:00Z")
    assert not can("timestamp IN 2026-01-01T00:00:00Z")


def test_a_reader_of_some_spaces_is_counted_exactly(client, auth, monkeypatch):
    EventFactory(space_guid="s1", organization_guid="o1")
    calls = []
    real = event_counts.fetch_page
    monkeypatch.setattr(event_counts, "fetch_page", lambda *args: calls.append(args) or real(*args))
    from app.identity.models import Role

    db.session.add(Role(user_guid="dev", target_type="space", target_guid="s1", role="developer",
                        created_at=datetime.now(timezone.utc)))
    db.session.commit()
    body = client.get("/v2/events", headers=auth("cloud_controller.read", user_id="dev")).get_json()
    assert body["total_results"] == 1 and calls


def test_a_deep_unfiltered_page_skips_whole_days(client, admin, monkeypatch):
    make_events(random.Random(7), 120)
    offsets = []
    real = event_counts.select_rows
    monkeypatch.setattr(event_counts, "select_rows",
                        lambda model, cond, order, page, offset=None: offsets.append(offset) or real(
                            model, cond, order, page, offset))
    client.get("/v2/events?page=100&results-per-page=1", headers=admin)
    # Row 100 lies in the third of four days: the OFFSET left is within that day.
    assert offsets and offsets[0] < 100 - 40


def test_writes_replays_and_deletes_keep_the_counts(client, admin):
    event = {"type": "audit.app.update", "actor": "u1", "actor_type": "user", "actee": "a1", "actee_type": "app",
             "space_guid": "s1", "organization_guid": "o1", "guid": "g-1", "metadata": {"request": {}}}
    batch = [event, {**event, "guid": "g-2", "type": "acme.thing"}, {**event, "guid": "g-3"}]
    assert client.post("/v2/events", json=batch, headers=admin).status_code == 201
    assert client.post("/v2/events", json=batch, headers=admin).status_code == 200  # a replay adds nothing
    assert_counts_exact()
    assert client.get("/v2/events?q=space_guid:s1", headers=admin).get_json()["total_results"] == 3
    assert client.delete("/v2/events/g-1", headers=admin).status_code == 204
    assert_counts_exact()
    body = client.get("/v2/events?q=organization_guid:o1&q=type:audit.app.update", headers=admin).get_json()
    assert body["total_results"] == 1


def _batch(rnd, prefix, size):
    # Types outside the catalogue, whose metadata may be anything.
    return [{"type": rnd.choice(("acme.deploy", "acme.scale", "acme.audit")), "actor": f"u{rnd.randrange(3)}",
             "actor_type": "user",
             "actor_name": rnd.choice([None, "alice", "bob"]), "actee": f"a{rnd.randrange(4)}", "actee_type": "app",
             "space_guid": rnd.choice([None, "s1", "s2"]), "organization_guid": rnd.choice([None, "o1"]),
             "timestamp": iso(MIDNIGHT + timedelta(days=rnd.randrange(3), seconds=rnd.randrange(86400))),
             "guid": f"{prefix}-{n}", "metadata": {}} for n in range(size)]


def test_copied_batches_and_an_import_keep_the_counts(app, client, admin, tmp_path):
    """Batches from 50 events on are copied (store/staging.py): straight into the table while their guids
    are new, staged once one is stored; the import writes by the same path. Each leaves the counts exact."""
    import orjson

    from app.ops.importer import import_command

    rnd = random.Random(7)
    fresh = _batch(rnd, "fresh", 80)
    assert client.post("/v2/events", json=fresh, headers=admin).status_code == 201
    assert_counts_exact()
    mixed = fresh[:20] + _batch(rnd, "mixed", 60)  # replays first, as a follower's page begins
    assert client.post("/v2/events", json=mixed, headers=admin).status_code == 201
    assert_counts_exact()
    lines = tmp_path / "events.ndjson"
    lines.write_bytes(b"\n".join(orjson.dumps(event) for event in mixed[40:] + _batch(rnd, "imported", 120)))
    result = app.test_cli_runner().invoke(import_command, [str(lines), "--kind", "audit"])
    assert "written: 120" in result.output and "already present: 40" in result.output, result.output
    assert_counts_exact()
    assert db.session.scalar(select(func.count()).select_from(Event)) == 80 + 60 + 120


def test_pruning_keeps_the_counts(app):
    make_events(random.Random(3), 80)
    prune_audit_events(MIDNIGHT + timedelta(days=1, hours=5), batch_size=7)
    assert_counts_exact()


@pytest.mark.postgres_only
def test_truncate_clears_the_counts(app):
    make_events(random.Random(5), 20)
    db.session.execute(text("TRUNCATE events"))
    assert_counts_exact()
    assert db.session.scalar(select(func.count()).select_from(EventCountByDay)) == 0
