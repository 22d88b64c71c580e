"""The usage-event cursor never skips (SPEC 4.1): a poller following after_guid receives every committed
event exactly once, in position order, whatever the writers do concurrently.

The concurrency tests need real commits on separate connections, which the rolled-back `app` fixture cannot
give, so each runs on a migrated PostgreSQL database of its own that is dropped when it ends.
"""
import random
import threading
import time
import uuid
from collections import Counter
from math import ceil
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.exc import DataError

from app.api.v2.usage_schemas import AppUsageEventWriteSchema
from app.base.config import database_url
from app.base.extensions import db
from app.store.cursor import take_positions
from app.store.models import AppUsageEvent
from app.store.writes import write_events
from tests.api.v2.test_usage_events import app_event, guids, write
from tests.conftest import fresh_postgres_database, make_app

PATH = "/v2/app_usage_events"
STREAM = AppUsageEvent.__tablename__
# Every wait in these tests is bounded; a bound that is reached fails the test instead of hanging it.
PATIENCE = 30


def wait_until(predicate, timeout=PATIENCE, interval=0.01):
    """Poll `predicate` until it is true; return its last value."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


@pytest.fixture
def own_database(postgres_url):
    """A migrated PostgreSQL database for this test alone, where commits are real; apps made with
    `own_database.make_app()` use it. Dropped (with every connection to it) when the test ends."""
    name = f"cf_events_cursor_{uuid.uuid4().hex[:12]}"
    url = fresh_postgres_database(postgres_url, name)
    apps = []

    def make():
        app = make_app(url)
        apps.append(app)
        return app

    engine = sa.create_engine(url)
    try:
        with make().app_context():
            upgrade()
        yield SimpleNamespace(url=url, engine=engine, make_app=make)
    finally:
        engine.dispose()
        for app in apps:
            with app.app_context():
                db.engine.dispose()
        server = sa.create_engine(database_url(postgres_url, instance_path=None), isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


def positions(engine):
    """guid -> position of every stored app usage event."""
    with engine.connect() as connection:
        return dict(connection.execute(sa.text("SELECT guid, id FROM app_usage_events")).all())


def lock_waiters(engine):
    """How many sessions of this database are waiting for a lock on the usage stream's row."""
    with engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%usage_streams%'"
        )).scalar_one()


class PollingReader:
    """A billing collector: follows after_guid from the last event it saw, over HTTP."""

    def __init__(self, client, headers, rng=None):
        self.client, self.headers, self.rng = client, headers, rng
        self.seen, self.after = [], None

    def poll(self):
        """Read one page after the cursor; return its guids."""
        query = f"results-per-page={self.rng.randint(1, 50) if self.rng else 50}"
        if self.after is not None:
            query += f"&after_guid={self.after}"
        response = self.client.get(f"{PATH}?{query}", headers=self.headers)
        assert response.status_code == 200, response.get_json()
        page = guids(response.get_json())
        self.seen.extend(page)
        if page:
            self.after = page[-1]
        return page

    def drain(self, pages=1000):
        """Poll until a page comes back empty."""
        for _ in range(pages):
            if not self.poll():
                return self.seen
        raise AssertionError(f"still reading after {pages} pages")


# 1. The interleaving that loses an event when the order is a plain id.


@pytest.mark.postgres_only
def test_plain_id_order_skips_an_event_committed_out_of_order(own_database):
    """Writer A takes id 1, writer B takes id 2 and commits first: a reader of `id > cursor` never sees 1."""
    engine = own_database.engine
    with engine.connect() as setup:
        setup.execute(sa.text("CREATE TABLE scratch_events (id bigserial PRIMARY KEY, guid text NOT NULL)"))
        setup.commit()
    insert = sa.text("INSERT INTO scratch_events (guid) VALUES (:guid) RETURNING id")
    read = sa.text("SELECT id FROM scratch_events WHERE id > :after ORDER BY id")
    with engine.connect() as writer_a, engine.connect() as writer_b, \
            engine.connect().execution_options(isolation_level="AUTOCOMMIT") as reader:
        assert writer_a.execute(insert, {"guid": "a"}).scalar_one() == 1
        assert writer_b.execute(insert, {"guid": "b"}).scalar_one() == 2
        writer_b.commit()
        seen = reader.execute(read, {"after": 0}).scalars().all()
        assert seen == [2]
        cursor = seen[-1]
        writer_a.commit()
        seen += reader.execute(read, {"after": cursor}).scalars().all()
        committed = reader.execute(sa.text("SELECT id FROM scratch_events ORDER BY id")).scalars().all()
    assert committed == [1, 2]
    assert seen == [2], "id 1 was committed after the reader passed it, so it is skipped for good"


class PausedWriter(threading.Thread):
    """`write_events` on an app (a connection) of its own, stopped just before it commits until released."""

    def __init__(self, app, events, pause=True):
        super().__init__(daemon=True)
        self.app, self.events, self.pause = app, events, pause
        self.at_commit, self.release, self.error = threading.Event(), threading.Event(), None

    def run(self):
        try:
            with self.app.app_context():
                items = AppUsageEventWriteSchema().load(self.events, many=True)
                sa.event.listen(db.session(), "before_commit", self._before_commit)
                write_events(AppUsageEvent, items, time_field="created_at")
        except BaseException as error:  # reported by the test
            self.error = error

    def _before_commit(self, session):
        # Positions are taken and the rows inserted, uncommitted; the stream's row is still locked.
        self.at_commit.set()
        if self.pause and not self.release.wait(PATIENCE):
            raise TimeoutError("never released")


@pytest.mark.postgres_only
def test_the_service_cursor_delivers_both_events_of_the_same_interleaving(own_database, admin):
    """The interleaving above, through the service: B waits for A's commit, the reader gets both, in order."""
    reader_app = own_database.make_app()
    client = reader_app.test_client()
    write(client, admin, PATH, [app_event("e0")])
    reader = PollingReader(client, admin)
    assert reader.poll() == ["e0"]

    writer_a = PausedWriter(own_database.make_app(), [app_event("a")])
    writer_b = PausedWriter(own_database.make_app(), [app_event("b")], pause=False)
    writer_a.start()
    try:
        assert writer_a.at_commit.wait(PATIENCE), writer_a.error
        # B is free to commit at once. With plain id order it would, and the reader below would take B as
        # its cursor while A is still uncommitted; the service makes B wait for the stream's row instead.
        writer_b.start()
        b_waited_for_the_row = wait_until(
            lambda: lock_waiters(own_database.engine) or not writer_b.is_alive(), timeout=10) and writer_b.is_alive()
        time.sleep(0.2)
        b_still_waiting = writer_b.is_alive() and not writer_b.at_commit.is_set()
        before_a_commits = reader.poll()
    finally:
        writer_a.release.set()
    writer_a.join(PATIENCE)
    writer_b.join(PATIENCE)
    assert not writer_a.is_alive() and not writer_b.is_alive()
    assert (writer_a.error, writer_b.error) == (None, None)

    assert before_a_commits == [], "nothing may be visible after e0 while A's position is uncommitted"
    assert reader.drain() == ["e0", "a", "b"]
    assert b_waited_for_the_row and b_still_waiting, "B's write must wait for A's commit"
    assert positions(own_database.engine) == {"e0": 1, "a": 2, "b": 3}


# 2. Many writers, some failing, and pollers following after_guid as fast as they can.

WRITERS = 8
POLLERS = 2
WRITE_SECONDS = 3
# What a writer does with each batch; each writer goes through all of them in a shuffled cycle.
OUTCOMES = ("write", "write", "write", "write", "replay", "conflict", "rolled_back", "refused_by_the_store")


class Writer(threading.Thread):
    """Writes random batches through the service until `deadline`, some of them failing after taking positions."""

    def __init__(self, number, app, headers, deadline, seed):
        super().__init__(daemon=True)
        self.number, self.app, self.headers, self.deadline = number, app, headers, deadline
        self.rng = random.Random(seed)
        self.committed, self.outcomes, self.error = [], Counter(), None

    def run(self):
        try:
            self.client = self.app.test_client()
            cycle = ["write", *self.rng.sample(OUTCOMES[1:], len(OUTCOMES) - 1)]
            batch_number = 0
            while batch_number < len(cycle) or time.monotonic() < self.deadline:
                outcome = cycle[batch_number % len(cycle)]
                # Mostly small batches, some large enough to go by COPY (staging.COPY_FROM_ROWS).
                size = self.rng.choice([*range(1, 21), 60, 120])
                batch = [app_event(f"w{self.number}-{batch_number}-{i}", app_guid=f"app-{self.number}")
                         for i in range(size)]
                getattr(self, outcome)(batch)
                self.outcomes[outcome] += 1
                batch_number += 1
        except BaseException as error:  # reported by the test
            self.error = error

    def _post(self, events, status):
        response = self.client.post(PATH, json=events, headers=self.headers)
        assert response.status_code == status, response.get_json()

    def write(self, batch):
        self._post(batch, 201)
        self.committed += batch

    def replay(self, batch):
        """Earlier events again among new ones: only the new ones take positions."""
        again = self.rng.sample(self.committed, min(3, len(self.committed)))
        mixed = batch + again
        self.rng.shuffle(mixed)
        self._post(mixed, 201)
        self.committed += batch

    def conflict(self, batch):
        """An earlier guid with other content: the whole batch is refused after positions were taken."""
        changed = {**self.rng.choice(self.committed), "instance_count": 99}
        batch.insert(self.rng.randrange(len(batch) + 1), changed)
        self._post(batch, 409)

    def rolled_back(self, batch):
        """Positions taken with the service's SQL, held a moment while others wait, then rolled back."""
        with self.app.app_context():
            take_positions(STREAM, len(batch))
            time.sleep(self.rng.uniform(0, 0.01))
            db.session.rollback()

    def refused_by_the_store(self, batch):
        """A value the schema would have refused fails at INSERT, after positions were taken."""
        with self.app.app_context():
            items = AppUsageEventWriteSchema().load(batch, many=True)
            items[self.rng.randrange(len(items))]["state"] = "S" * 51
            with pytest.raises(DataError):
                write_events(AppUsageEvent, items, time_field="created_at")


class Poller(threading.Thread):
    """A collector polling after_guid with random page sizes until the writers are done and it has drained."""

    def __init__(self, app, headers, writers_done, deadline, seed):
        super().__init__(daemon=True)
        self.app, self.headers, self.writers_done, self.deadline = app, headers, writers_done, deadline
        self.rng = random.Random(seed)
        self.reader, self.pages_while_writing, self.error = None, 0, None

    def run(self):
        try:
            self.reader = PollingReader(self.app.test_client(), self.headers, self.rng)
            while time.monotonic() < self.deadline:
                # Read before the request: an empty page after every writer committed means nothing is left.
                drained = self.writers_done.is_set()
                page = self.reader.poll()
                if drained and not page:
                    return
                if page and not drained:
                    self.pages_while_writing += 1
                time.sleep(self.rng.uniform(0, 0.005))
            raise TimeoutError("the poller did not drain in time")
        except BaseException as error:  # reported by the test
            self.error = error


@pytest.mark.postgres_only
def test_concurrent_writers_and_pollers_lose_and_repeat_nothing(own_database, admin):
    seed = random.randrange(2**32)
    started = time.monotonic()
    deadline = started + WRITE_SECONDS
    writers = [Writer(n, own_database.make_app(), admin, deadline, seed + n) for n in range(WRITERS)]
    writers_done = threading.Event()
    pollers = [Poller(own_database.make_app(), admin, writers_done, deadline + 60, seed + WRITERS + n)
               for n in range(POLLERS)]
    for thread in writers + pollers:
        thread.start()
    for writer in writers:
        writer.join(deadline + PATIENCE - time.monotonic())
    writers_done.set()
    for poller in pollers:
        poller.join(deadline + 90 - time.monotonic())
    assert not any(thread.is_alive() for thread in writers + pollers), f"threads still running (seed {seed})"
    assert [thread.error for thread in writers + pollers] == [None] * (WRITERS + POLLERS), f"seed {seed}"

    committed = [event["guid"] for writer in writers for event in writer.committed]
    outcomes = sum((writer.outcomes for writer in writers), Counter())
    assert set(outcomes) == set(OUTCOMES), outcomes
    stored = positions(own_database.engine)
    assert set(stored) == set(committed) and len(committed) == len(set(committed))

    in_position_order = sorted(stored, key=stored.get)
    for poller in pollers:
        seen = poller.reader.seen
        repeated = [guid for guid, times in Counter(seen).items() if times > 1]
        missed = set(committed) - set(seen)
        assert (len(missed), repeated) == (0, []), f"missed {len(missed)} of {len(committed)} events (seed {seed})"
        assert seen == in_position_order
        assert poller.pages_while_writing > 0, "the poller must have read while the writers wrote"
    assert pollers[0].reader.seen == pollers[1].reader.seen
    # Failed and replayed writes leave no hole: the positions are exactly 1..N.
    assert sorted(stored.values()) == list(range(1, len(stored) + 1))


# 3. next_url after a cursor, through a backlog; on both backends.

BACKLOG = [f"e{i}" for i in range(257)]


@pytest.mark.parametrize("cursor", [0, 128, 255, 256])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_next_url_after_a_cursor_walks_the_backlog_once(client, admin, cursor, direction):
    for start in range(0, len(BACKLOG), 64):
        write(client, admin, PATH, [app_event(guid) for guid in BACKLOG[start:start + 64]])
    after = BACKLOG[cursor + 1:]
    expected = after if direction == "asc" else after[::-1]

    url = f"{PATH}?after_guid={BACKLOG[cursor]}&results-per-page=10&order-direction={direction}"
    walked, pages = [], 0
    while url is not None:
        assert pages <= len(BACKLOG), "next_url never ends"
        body = client.get(url, headers=admin).get_json()
        assert (body["total_results"], body["total_pages"]) == (len(after), ceil(len(after) / 10))
        walked += guids(body)
        pages += 1
        url = body["next_url"]
        if url is not None:
            assert f"after_guid={BACKLOG[cursor]}" in url and f"page={pages + 1}" in url
    assert walked == expected
    assert pages == max(1, ceil(len(after) / 10))
