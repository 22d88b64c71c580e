"""`flask events follow`: a complete, exact copy of an upstream Cloud Controller's events.

Two kinds of upstream: a live cf-events (its v3, and its v2) that writers keep writing to, and a small
fake Cloud Controller (`FakeCC`) that does what CC does and cf-events does not: usage events that commit
late, out of their ids' order, a purge that forgets every guid, refused and failing requests, and
tokens that expire.
"""
import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask, jsonify, request
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app.base.extensions import db
from app.identity.tokens import ADMIN, issue_token
from app.ops import follower as follower_module
from app.ops.cli import create_client
from app.ops.follower import Follower
from app.ops.upstream import Fatal, Upstream
from app.store.models import AppUsageEvent, Event, FollowerPosition
from tests import REPOSITORY
from tests.conftest import SECRET, fresh_postgres_database, make_app
from tests.figures import assert_figures_exact
from tests.pgcluster import free_port

BASE = "https://events.example.com"
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
ADMIN_HEADERS = {"Authorization": "bearer " + issue_token(SECRET, [ADMIN], user_id="admin")}


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def database(backend, database_urls, tmp_path, name):
    """A new, migrated database of its own (the follower's copy, or a live upstream's store)."""
    if backend == "postgresql":
        url = fresh_postgres_database(database_urls("postgresql").rsplit("/", 1)[0] + "/postgres", name)
    else:
        url = f"sqlite:///{tmp_path / name}.sqlite3"
    with make_app(url).app_context():
        upgrade()
        db.engine.dispose()
    return url


class Served:
    """A WSGI app on loopback, in a thread of this process."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=10)


# --- a live cf-events as the upstream --------------------------------------------------------------

class LiveUpstream:
    """A cf-events store served over HTTP, with a follower client and an admin writing to it."""

    def __init__(self, url, **config):
        self.app = make_app(url, EXTERNAL_URL=BASE, **config)
        with self.app.app_context():
            create_client("follower", "s3cret", ["cloud_controller.admin_read_only"])
        self.served = Served(self.app)
        self.url = self.served.url
        # Its links name EXTERNAL_URL (the copy's say the same); its token endpoint is where it listens.
        self.app.config["UAA_URL"] = self.url
        self.client = self.app.test_client()

    def write(self, path, items):
        response = self.client.post(path, json=items, headers=ADMIN_HEADERS)
        assert response.status_code in (200, 201), response.get_json()

    def stop(self):
        self.served.stop()
        with self.app.app_context():
            db.engine.dispose()


def audit_event(n, moment, **fields):
    return {"guid": f"audit-{n:05d}", "type": random.Random(n).choice(["audit.app.update", "app.crash",
                                                                        "audit.app.start"]),
            "actor": f"user-{n % 7}", "actor_type": "user", "actor_name": f"u{n % 7}@example.com",
            "actor_username": f"u{n % 7}", "actee": f"app-{n % 11}", "actee_type": "app", "actee_name": "web",
            "timestamp": iso(moment), "metadata": {"request": {"instances": n % 4}} if n % 3 != 1 else {
                "instance": "i-1", "index": 0, "exit_status": 1, "exit_description": "x", "reason": "CRASHED"},
            "space_guid": f"space-{n % 3}", "organization_guid": "org-1", **fields}


def fix_crash_types(events):
    for event in events:
        event["type"] = "app.crash" if "reason" in event["metadata"] else "audit.app.update"
    return events


def usage_event(n, moment):
    return {"guid": f"usage-{n:05d}", "state": "STARTED" if n % 2 else "STOPPED", "memory_in_mb_per_instance": 256,
            "instance_count": 1 + n % 3, "app_guid": f"process-{n % 5}", "app_name": "web",
            "parent_app_guid": f"app-{n % 5}", "parent_app_name": "web", "space_guid": "space-1",
            "space_name": "dev", "org_guid": "org-1", "process_type": "web", "created_at": iso(moment)}


def service_event(n, moment):
    return {"guid": f"service-{n:05d}", "state": "CREATED", "org_guid": "org-1", "space_guid": "space-1",
            "space_name": "dev", "service_instance_guid": f"si-{n}", "service_instance_name": "db",
            "service_instance_type": "managed_service_instance", "service_plan_guid": "plan-1",
            "service_plan_name": "small", "service_guid": "pg", "service_label": "postgres",
            "created_at": iso(moment)}


def everything(client, dialect):
    """Every event of a store as a dialect reads it, by guid (the v3 links are the same: EXTERNAL_URL)."""
    found = {}
    paths = (("/v3/audit_events?order_by=created_at&per_page=5000", "/v3/app_usage_events?per_page=5000",
              "/v3/service_usage_events?per_page=5000") if dialect == "v3" else
             ("/v2/events?results-per-page=100", "/v2/app_usage_events?results-per-page=10000",
              "/v2/service_usage_events?results-per-page=100"))
    for path in paths:
        url = path
        while url:
            body = client.get(url, headers=ADMIN_HEADERS).get_json()
            for resource in body["resources"]:
                found[resource["guid"] if dialect == "v3" else resource["metadata"]["guid"]] = resource
            url = (body["pagination"]["next"] or {}).get("href", "").removeprefix(BASE) if dialect == "v3" \
                else body["next_url"]
    return found


@pytest.fixture
def stores(backend, database_urls, tmp_path):
    """(upstream, copy): a live upstream cf-events, and the app of the follower's own store."""
    upstream = LiveUpstream(database(backend, database_urls, tmp_path, "cf_events_upstream"))
    copy_app = make_app(database(backend, database_urls, tmp_path, "cf_events_copy"), EXTERNAL_URL=BASE)
    yield upstream, copy_app
    upstream.stop()
    with copy_app.app_context():
        db.engine.dispose()


def follow_once(copy_app, api, dialect=None, page_size=7, overlap=timedelta(minutes=10)):
    with copy_app.app_context():
        follower = Follower(Upstream(api, "follower", "s3cret", retries=3, sleep=lambda seconds: None),
                            dialect=dialect, overlap=overlap, page_size=page_size)
        stored = follower.cycle()
        db.session.remove()
        return stored, follower


def assert_copy_is_exact(upstream, copy_app, dialect):
    original = everything(upstream.client, dialect)
    copied = everything(copy_app.test_client(), dialect)
    assert copied.keys() == original.keys()
    assert copied == original
    return original


@pytest.mark.parametrize("dialect", ["v3", "v2"])
def test_a_follow_copies_every_event_exactly_while_writers_write(stores, dialect):
    upstream, copy_app = stores
    rnd = random.Random(12)
    audit = fix_crash_types([audit_event(n, T0 + timedelta(seconds=n * 5)) for n in range(40)])
    upstream.write("/v2/events", audit)
    upstream.write("/v2/app_usage_events", [usage_event(n, T0 + timedelta(seconds=n)) for n in range(30)])
    upstream.write("/v2/service_usage_events", [service_event(n, T0 + timedelta(seconds=n)) for n in range(12)])
    stored, _ = follow_once(copy_app, upstream.url, dialect)
    assert stored == {"audit_events": 40, "app_usage_events": 30, "service_usage_events": 12}
    newest = T0 + timedelta(seconds=39 * 5)
    for round_ in range(3):
        # Writers go on, some with times before the newest the follower has seen (within the overlap).
        late = [audit_event(100 + 10 * round_ + k, newest - timedelta(seconds=rnd.randrange(1, 500)))
                for k in range(5)]
        upstream.write("/v2/events", fix_crash_types(late))
        upstream.write("/v2/app_usage_events", [usage_event(100 + 10 * round_ + k, newest) for k in range(6)])
        stored, _ = follow_once(copy_app, upstream.url, dialect)
        assert stored == {"audit_events": 5, "app_usage_events": 6, "service_usage_events": 0}
    # Nothing more to store, however often it runs.
    assert follow_once(copy_app, upstream.url, dialect)[0] == {"audit_events": 0, "app_usage_events": 0,
                                                               "service_usage_events": 0}
    assert_copy_is_exact(upstream, copy_app, dialect)
    with copy_app.app_context():
        assert_figures_exact()  # the counts and known resources of what the follower stored
    if dialect == "v3":
        # v2 reads the copy as the original but for what v3 does not show: its actors' usernames.
        original, copied = everything(upstream.client, "v2"), everything(copy_app.test_client(), "v2")
        for guid, resource in original.items():
            if "actor_username" in resource["entity"]:
                assert copied[guid]["entity"]["actor_username"] == ""
                resource["entity"]["actor_username"] = ""
        assert copied == original
    else:
        assert_copy_is_exact(upstream, copy_app, "v3")


@pytest.mark.parametrize("dialect", ["v3", "v2"])
def test_the_next_page_is_fetched_while_a_page_is_stored_and_pages_are_stored_in_order(stores, dialect,
                                                                                       monkeypatch):
    """Each page is stored whole, after the one before it, with the position it moves to; and the page after it
    is asked for while it is stored, not after."""
    upstream, copy_app = stores
    upstream.write("/v2/events", fix_crash_types([audit_event(n, T0 + timedelta(seconds=n)) for n in range(40)]))
    upstream.write("/v2/app_usage_events", [usage_event(n, T0 + timedelta(seconds=n)) for n in range(40)])
    audit = [f"audit-{n:05d}" for n in range(40)]
    usage = [f"usage-{n:05d}" for n in range(40)]
    log, read = [], {Event: [], AppUsageEvent: []}  # ("get" or "stored", …) as they happen; guids by store order
    real_store = follower_module.store

    def slow_store(batch, **options):
        time.sleep(0.05)  # the database's share: time enough for the next page's GET to go out
        written = real_store(batch, **options)
        log.append(("stored", batch.model))
        read[batch.model] += [guid for guid in batch.guids if guid not in read[batch.model]]
        stored = set(stored_guids(batch.model))
        position = db.session.get(FollowerPosition, "audit_events" if batch.model is Event else "app_usage_events")
        db.session.commit()
        # Nothing skipped, nothing ahead: what is stored is exactly what the pages so far held, in the
        # upstream's order, and the position committed with the page is that page's.
        assert stored == set(read[batch.model])
        expected = audit if batch.model is Event else usage
        assert read[batch.model] == expected[:len(read[batch.model])]
        if batch.model is AppUsageEvent:
            assert position.head == batch.guids[-1]
        else:
            newest = max(T0 + timedelta(seconds=int(guid.split("-")[1])) for guid in batch.guids)
            assert position.newest_at.replace(tzinfo=timezone.utc) == newest
        return written

    monkeypatch.setattr(follower_module, "store", slow_store)
    with copy_app.app_context():
        follower = Follower(Upstream(upstream.url, "follower", "s3cret", retries=3, sleep=lambda seconds: None),
                            dialect=dialect, page_size=7)
        real_get = follower.upstream.get

        def get(url, **options):
            log.append(("get", url))
            return real_get(url, **options)

        follower.upstream.get = get
        stored = follower.cycle()
        db.session.remove()
    assert stored == {"audit_events": 40, "app_usage_events": 40, "service_usage_events": 0}
    assert read == {Event: audit, AppUsageEvent: usage}
    # The k-th page of a stream is stored once the GET of the page after it went out (one after the other,
    # only k GETs would have).
    # Audit pages begin at their predecessor's last second: 7 of them; usage pages after its last guid: 6.
    for model, pages in ((Event, 7), (AppUsageEvent, 6)):
        gets = stored_pages = 0
        for kind, what in log:
            if kind == "get" and ("usage" in what) == (model is AppUsageEvent) and "service" not in what:
                gets += 1
            elif kind == "stored" and what is model:
                stored_pages += 1
                if stored_pages < pages:  # the last page has no page after it
                    assert gets >= stored_pages + 1, log
        assert stored_pages == pages
    assert_copy_is_exact(upstream, copy_app, dialect)


def test_an_event_committed_later_than_the_overlap_is_out_of_reach(stores):
    """What the overlap promises, and no more: one written with a time beyond it is not reread."""
    upstream, copy_app = stores
    upstream.write("/v2/events", fix_crash_types([audit_event(n, T0 + timedelta(hours=n)) for n in range(3)]))
    follow_once(copy_app, upstream.url)
    upstream.write("/v2/events", fix_crash_types([audit_event(50, T0 + timedelta(hours=1, minutes=49)),
                                                  audit_event(51, T0 + timedelta(hours=1, minutes=55))]))
    stored, _ = follow_once(copy_app, upstream.url, overlap=timedelta(minutes=10))
    assert stored["audit_events"] == 1  # 51 is within 10 minutes of the newest (2 h), 50 is not


# --- a fake Cloud Controller --------------------------------------------------------------------------

class FakeCC:
    """The behaviours of a real CC the follower must survive, in a few lines each."""

    def __init__(self, token_seconds=3600):
        self.usage = []  # (id, resource), in id order; a late commit lands below the head
        self.audit = []
        self.token_seconds, self.tokens_issued = token_seconds, 0
        self.failures = []  # statuses to answer the next requests with
        self.requests = []
        app = Flask(__name__)

        @app.get("/")
        def root():
            base = request.host_url.rstrip("/")
            return jsonify(links={"self": {"href": base}, "cloud_controller_v3": {"href": f"{base}/v3"},
                                  "uaa": {"href": base}, "login": {"href": base}})

        @app.post("/oauth/token")
        def token():
            self.tokens_issued += 1
            claims = {"exp": int(time.time()) + self.token_seconds, "n": self.tokens_issued}
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
            return jsonify(access_token=f"h.{payload}.s", token_type="bearer", expires_in=self.token_seconds)

        @app.get("/v3/<stream>")
        def listed(stream):
            self.requests.append(request.full_path)
            if self.failures:
                return jsonify(errors=[{"detail": "no", "title": "CF-X", "code": 1}]), self.failures.pop(0)
            if not request.headers.get("Authorization", "").startswith("bearer h."):
                return jsonify(errors=[{"detail": "Invalid Auth Token", "title": "CF-InvalidAuthToken",
                                        "code": 1000}]), 401
            claims = json.loads(base64.urlsafe_b64decode(
                request.headers["Authorization"].split(".")[1] + "=="))
            if claims["exp"] < time.time():
                return jsonify(errors=[{"detail": "Invalid Auth Token", "title": "CF-InvalidAuthToken",
                                        "code": 1000}]), 401
            per_page = int(request.args.get("per_page", 50))
            if stream == "audit_events":
                since = request.args.get("created_ats[gte]", "")
                rows = sorted((r for r in self.audit if r["created_at"] >= since),
                              key=lambda r: (r["created_at"], r["guid"]))
                page = int(request.args.get("page", 1))
                return jsonify(pagination={"total_results": len(rows), "next": {"href": "x"} if len(
                    rows) > page * per_page else None}, resources=rows[(page - 1) * per_page:page * per_page])
            rows = [resource for _, resource in sorted(self.usage, key=lambda row: row[0])] \
                if stream == "app_usage_events" else []
            after = request.args.get("after_guid")
            if after is not None:
                guids = [r["guid"] for r in rows]
                if after not in guids:
                    return jsonify(errors=[{"detail": "After guid filter must be a valid app usage event guid.",
                                            "title": "CF-UnprocessableEntity", "code": 10008}]), 422
                rows = rows[guids.index(after) + 1:]
            return jsonify(pagination={"total_results": len(rows), "next": {"href": "x"} if len(
                rows) > per_page else None}, resources=rows[:per_page])

        self.served = Served(app)
        self.url = self.served.url

    def add_usage(self, n, moment, position=None):
        resource = {"guid": f"u-{n}", "created_at": iso(moment), "updated_at": iso(moment),
                    "state": {"current": "STARTED", "previous": None}, "app": {"guid": "app-1", "name": "web"},
                    "process": {"guid": "app-1", "type": "web"}, "space": {"guid": "space-1", "name": "dev"},
                    "organization": {"guid": "org-1"}, "buildpack": {"guid": None, "name": None},
                    "task": {"guid": None, "name": None}, "memory_in_mb_per_instance": {"current": 256,
                                                                                        "previous": None},
                    "instance_count": {"current": 1, "previous": None}}
        self.usage.append((n if position is None else position, resource))


@pytest.fixture
def fake_cc():
    cc = FakeCC()
    yield cc
    cc.served.stop()


def stored_guids(model):
    return sorted(db.session.scalars(db.select(model.guid)))


@pytest.fixture
def copy_app(backend, database_urls, tmp_path):
    copy = make_app(database(backend, database_urls, tmp_path, "cf_events_copy"), EXTERNAL_URL=BASE)
    yield copy
    with copy.app_context():
        db.engine.dispose()


def test_a_usage_event_committed_late_below_the_head_is_found(fake_cc, copy_app):
    for n in range(1, 21):
        fake_cc.add_usage(n, T0 + timedelta(seconds=n))
    follow_once(copy_app, fake_cc.url, page_size=6)
    # Position 15 was taken by a transaction that commits only now: CC's after_guid of the head misses it.
    fake_cc.add_usage(99, T0 + timedelta(seconds=15), position=15.5)
    fake_cc.add_usage(21, T0 + timedelta(seconds=21))
    stored, _ = follow_once(copy_app, fake_cc.url, page_size=6)
    assert stored["app_usage_events"] == 2
    with copy_app.app_context():
        assert stored_guids(AppUsageEvent) == sorted([f"u-{n}" for n in range(1, 22)] + ["u-99"])


def test_an_upstream_purge_and_reseed_is_started_over_and_keeps_what_was_stored(fake_cc, copy_app, caplog):
    for n in range(1, 11):
        fake_cc.add_usage(n, T0 + timedelta(hours=n))  # hours apart: the resume point moves past the first
    follow_once(copy_app, fake_cc.url, page_size=4)
    fake_cc.usage = []  # purged: every guid forgotten, the running apps reseeded with new guids
    for n in range(200, 203):
        fake_cc.add_usage(n, T0 + timedelta(hours=11))
    stored, _ = follow_once(copy_app, fake_cc.url, page_size=4)
    assert stored["app_usage_events"] == 3
    assert "purged and reseeded upstream" in caplog.text
    with copy_app.app_context():
        assert len(stored_guids(AppUsageEvent)) == 13  # the earlier ten are kept
        position = db.session.get(FollowerPosition, "app_usage_events")
        assert position.head == "u-202"


@pytest.mark.parametrize("dialect", ["v3", "v2"])
def test_a_live_upstreams_purge_is_started_over(stores, dialect, caplog):
    """cf-events as the upstream, purged by its own endpoint: its old guids are unknown to it (400/422)."""
    upstream, copy_app = stores
    # Hours apart: the follower resumes after a guid (an overlap behind the head), not from the start.
    upstream.write("/v2/app_usage_events", [usage_event(n, T0 + timedelta(hours=n)) for n in range(20)])
    follow_once(copy_app, upstream.url, dialect, page_size=6)
    purge = upstream.client.post("/v3/app_usage_events/actions/destructively_purge_all_and_reseed",
                                 headers=ADMIN_HEADERS)
    assert purge.status_code == 200
    reseeded = {resource["guid"] for resource in everything(upstream.client, "v3").values()
                if "process" in resource}
    assert reseeded and not reseeded & {f"usage-{n:05d}" for n in range(20)}
    stored, _ = follow_once(copy_app, upstream.url, dialect, page_size=6)
    assert "purged and reseeded upstream" in caplog.text
    assert stored["app_usage_events"] == len(reseeded)
    with copy_app.app_context():
        assert set(stored_guids(AppUsageEvent)) == {f"usage-{n:05d}" for n in range(20)} | reseeded
    # From there on it follows the reseeded stream as any other.
    upstream.write("/v2/app_usage_events", [usage_event(n, T0 + timedelta(hours=30)) for n in range(50, 53)])
    assert follow_once(copy_app, upstream.url, dialect, page_size=6)[0]["app_usage_events"] == 3


def test_failures_are_retried_and_a_token_that_expires_is_refreshed(fake_cc, copy_app):
    fake_cc.token_seconds = 61  # within the refresh margin a second after it is issued
    for n in range(1, 4):
        fake_cc.add_usage(n, T0 + timedelta(seconds=n))
    fake_cc.failures = [503, 429, 500]
    stored, follower = follow_once(copy_app, fake_cc.url)
    assert stored["app_usage_events"] == 3
    assert follower.upstream.refreshes >= 1
    before = follower.upstream.refreshes
    time.sleep(1.1)
    with copy_app.app_context():
        fake_cc.add_usage(4, T0 + timedelta(seconds=4))
        assert follower.cycle()["app_usage_events"] == 1
        db.session.remove()
    # Refreshed before the request instead of after a 401: no failed cycle.
    assert follower.upstream.refreshes == before + 1


def test_a_token_the_upstream_refuses_is_refreshed_once_then_the_request_is_repeated(fake_cc, copy_app):
    fake_cc.add_usage(1, T0)
    _, follower = follow_once(copy_app, fake_cc.url)
    follower.upstream.token = "not-a-token"  # revoked, say
    fake_cc.add_usage(2, T0 + timedelta(seconds=1))
    with copy_app.app_context():
        assert follower.cycle()["app_usage_events"] == 1
        db.session.remove()


@pytest.mark.parametrize("status, message", [(403, "cloud_controller.admin_read_only"), (404, "404")])
def test_what_retrying_cannot_mend_stops_with_one_clear_line(fake_cc, copy_app, status, message):
    fake_cc.failures = [status]
    with pytest.raises(Fatal, match=message):
        follow_once(copy_app, fake_cc.url)


def test_a_url_that_is_no_api_stops_at_once(copy_app):
    with pytest.raises(Fatal, match="must be the URL of a Cloud Foundry API"):
        follow_once(copy_app, "not a url")
    with pytest.raises(Fatal, match="still fails after"):
        follow_once(copy_app, f"http://127.0.0.1:{free_port()}")  # nothing listens


# --- a follower killed, and an upstream stopped ---------------------------------------------------------

def run_follower(copy_url, api, *extra, log=subprocess.DEVNULL):
    environment = {**os.environ, "DATABASE_URL": copy_url, "TOKEN_SECRET": SECRET}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "events", "follow", "--api", api,
                             "--client-id", "follower", "--client-secret", "s3cret", "--page-size", "3", *extra],
                            cwd=REPOSITORY, env=environment, stdout=subprocess.DEVNULL, stderr=log)


@pytest.mark.postgres_only
def test_a_follower_killed_at_random_points_resumes_with_nothing_lost_or_doubled(stores, backend):
    upstream, copy_app = stores
    upstream.write("/v2/events", fix_crash_types([audit_event(n, T0 + timedelta(seconds=n)) for n in range(300)]))
    upstream.write("/v2/app_usage_events", [usage_event(n, T0 + timedelta(seconds=n)) for n in range(300)])
    copy_url = copy_app.config["SQLALCHEMY_DATABASE_URI"]
    rnd = random.Random(4)
    for _ in range(4):
        follower = run_follower(copy_url, upstream.url, "--interval", "1")
        time.sleep(rnd.uniform(0.8, 2.5))
        follower.send_signal(signal.SIGKILL)
        follower.wait()
    finished = run_follower(copy_url, upstream.url, "--once", log=subprocess.PIPE)
    _, errors = finished.communicate(timeout=120)
    assert finished.returncode == 0, errors.decode()
    assert_copy_is_exact(upstream, copy_app, "v3")
    with copy_app.app_context():
        # Counted once each: what a double store would break first.
        assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 300
        assert db.session.get(FollowerPosition, "audit_events").stored == 300


@pytest.mark.postgres_only
def test_an_upstream_stopped_mid_catch_up_is_waited_for(stores):
    upstream, copy_app = stores
    upstream.write("/v2/events", fix_crash_types([audit_event(n, T0 + timedelta(seconds=n)) for n in range(200)]))
    follower = run_follower(copy_app.config["SQLALCHEMY_DATABASE_URI"], upstream.url, "--interval", "1")
    time.sleep(1.0)
    port = upstream.served.server.server_port
    upstream.served.stop()
    time.sleep(1.5)
    upstream.served = Served.__new__(Served)
    upstream.served.server = make_server("127.0.0.1", port, upstream.app, threaded=True)
    upstream.served.thread = threading.Thread(target=upstream.served.server.serve_forever, daemon=True)
    upstream.served.thread.start()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            with copy_app.app_context():
                count = db.session.scalar(db.select(db.func.count()).select_from(Event))
                db.session.remove()
            if count == 200:
                break
            time.sleep(0.5)
    finally:
        follower.send_signal(signal.SIGTERM)
        follower.wait(timeout=30)
    assert count == 200
    assert_copy_is_exact(upstream, copy_app, "v3")


# --- CC's own pages, as recorded ------------------------------------------------------------------------

V3_EXAMPLE = {  # V3.md 1.5, the resource CC's docs show
    "guid": "a595fe2f-01ff-4965-a50c-290258ab8582", "created_at": "2016-06-08T16:41:23Z",
    "updated_at": "2016-06-08T16:41:26Z", "type": "audit.app.update",
    "actor": {"guid": "d144abe3-3d7b-40d4-b63f-2584798d3ee5", "type": "user", "name": "admin"},
    "target": {"guid": "2e3151ba-9a63-4345-9c5b-6d8c238f4e55", "type": "app", "name": "my-app"},
    "data": {"request": {"recursive": True}},
    "space": {"guid": "cb97dd25-d4f7-4185-9e6f-ad6e585c207c"},
    "organization": {"guid": "d9be96f5-ea8f-4549-923f-bec882e32e3c"},
    "links": {"self": {"href": "https://api.example.org/v3/audit_events/a595fe2f-01ff-4965-a50c-290258ab8582"}},
}


def recorded_cc(dialect):
    """A CC that answers with its documentation's example pages, and nothing after them."""
    from tests.store.test_round_trip import reference_bodies

    app = Flask(__name__)
    pages = {"/v2/events": {"total_results": 2, "total_pages": 1, "prev_url": None, "next_url": None, "resources": [
        resource for page in ("cc-v2-list-app-exited-events.rst", "cc-v2-list-app-update-events.rst")
        for body in reference_bodies(page) if "resources" in body for resource in body["resources"]]},
        "/v2/app_usage_events": next(body for body in reference_bodies("cc-v2-list-app-usage-events.rst")
                                     if "resources" in body),
        "/v2/service_usage_events": {"total_results": 0, "resources": [], "next_url": None},
        "/v3/audit_events": {"pagination": {"total_results": 1, "next": None}, "resources": [V3_EXAMPLE]},
        "/v3/app_usage_events": {"pagination": {"total_results": 0, "next": None}, "resources": []},
        "/v3/service_usage_events": {"pagination": {"total_results": 0, "next": None}, "resources": []}}
    pages["/v2/app_usage_events"] = {**pages["/v2/app_usage_events"], "next_url": None}

    @app.get("/")
    def root():
        base = request.host_url.rstrip("/")
        return jsonify(links={"self": {"href": base}, f"cloud_controller_{dialect}": {"href": f"{base}/{dialect}"},
                              "login": {"href": base}})

    @app.post("/oauth/token")
    def token():
        return jsonify(access_token="h.eyJleHAiOjk5OTk5OTk5OTl9.s", token_type="bearer", expires_in=3600)

    @app.get("/<version>/<stream>")
    def listed(version, stream):
        page = pages[f"/{version}/{stream}"]
        # After the guid of its last event there is nothing: the follower asks so, and is answered so.
        if request.args.get("after_guid"):
            return jsonify({**page, "resources": [], "total_results": 0}) if version == "v2" else jsonify(
                pagination={"total_results": 0, "next": None}, resources=[])
        return jsonify(page)

    return Served(app)


@pytest.mark.parametrize("dialect", ["v2", "v3"])
def test_ccs_documented_pages_are_stored_and_read_back_as_cc_shows_them(copy_app, dialect):
    cc = recorded_cc(dialect)
    try:
        stored, _ = follow_once(copy_app, cc.url, dialect=dialect)
    finally:
        cc.stop()
    client = copy_app.test_client()
    if dialect == "v3":
        assert stored["audit_events"] == 1
        shown = client.get(f"/v3/audit_events/{V3_EXAMPLE['guid']}", headers=ADMIN_HEADERS).get_json()
        # CC's updated_at of an event is its created_at (V3.md 1.5); the rest is as CC showed it.
        expected = {**V3_EXAMPLE, "updated_at": V3_EXAMPLE["created_at"],
                    "links": {"self": {"href": f"{BASE}/v3/audit_events/{V3_EXAMPLE['guid']}"}}}
        assert shown == expected
        return
    # The usage page shows one of its stream's two events (its next_url, dropped here, has the other).
    assert stored == {"audit_events": 2, "app_usage_events": 1, "service_usage_events": 0}
    from tests.store.test_round_trip import reference_resources

    for page, path in (("cc-v2-list-app-exited-events.rst", "/v2/events"),
                       ("cc-v2-list-app-update-events.rst", "/v2/events"),
                       ("cc-v2-list-app-usage-events.rst", "/v2/app_usage_events")):
        for resource in reference_resources(page):
            shown = client.get(f"{path}/{resource['metadata']['guid']}", headers=ADMIN_HEADERS).get_json()
            sent = {key: value for key, value in resource["entity"].items() if key != "space_url"}
            # Times in UTC, secrets in today's words: as tests/store/test_round_trip.py reads the same pages.
            for key in ("timestamp",):
                if key in sent:
                    assert datetime.fromisoformat(shown["entity"].pop(key).replace("Z", "+00:00")) == \
                        datetime.fromisoformat(sent.pop(key))
            sent.pop("metadata", None), shown["entity"].pop("metadata", None)
            assert {key: shown["entity"][key] for key in sent} == sent


def test_two_followers_at_once_store_nothing_twice(stores):
    upstream, copy_app = stores
    upstream.write("/v2/events", fix_crash_types([audit_event(n, T0 + timedelta(seconds=n)) for n in range(120)]))
    upstream.write("/v2/app_usage_events", [usage_event(n, T0 + timedelta(seconds=n)) for n in range(120)])
    results, errors = [], []

    def follow():
        try:
            results.append(follow_once(copy_app, upstream.url, page_size=5)[0])
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=follow) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    follow_once(copy_app, upstream.url)  # whatever a stream held by the other left, this one finishes
    assert_copy_is_exact(upstream, copy_app, "v3")
    with copy_app.app_context():
        assert db.session.get(FollowerPosition, "audit_events").stored == 120
        assert db.session.get(FollowerPosition, "app_usage_events").stored == 120


def test_status_says_where_each_stream_is(stores):
    upstream, copy_app = stores
    upstream.write("/v2/app_usage_events", [usage_event(n, T0 + timedelta(seconds=n)) for n in range(3)])
    follow_once(copy_app, upstream.url)
    output = copy_app.test_cli_runner().invoke(args=["events", "follow", "--status"]).output
    assert f"app_usage_events: {upstream.url} (v3); after (the start), head usage-00002" in output
    assert "3 stored" in output and "last success 20" in output
    assert "audit_events:" in output and "service_usage_events:" in output
