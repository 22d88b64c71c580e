"""The apps, spaces and organizations the store knows from its events (V3.md 4, migration 0009), as
GET /v3/apps, /v3/spaces and /v3/organizations show them to cf CLI v8, and discovery (V3.md 3, research 5):
GET /, /v2/info, /v3, /v3/info and the issuer's GET /login."""
import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.base.extensions import db
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ
from app.store.models import KnownResource
from tests.api.v2.test_usage_events import app_event, service_event, write
from tests.conftest import make_app

BASE = "http://localhost"
T0 = datetime(2016, 6, 8, 16, 41, 23, tzinfo=timezone.utc)


def moment(seconds):
    return T0 + timedelta(seconds=seconds)


def at(seconds):
    return moment(seconds).isoformat().replace("+00:00", "Z")


def stamp(seconds):
    """As v3 shows a time: whole seconds."""
    return moment(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def audit(guid, seconds, actee, actee_type, actee_name="", space="", org="", type=None):
    """An audit event as CC writes one (POST /v2/events)."""
    default_type = {"app": "audit.app.update", "space": "audit.space.update",
                    "organization": "audit.organization.update"}.get(actee_type, "audit.user.space_developer_add")
    return {"guid": guid, "type": type or default_type, "actor": "actor-1", "actor_type": "user",
            "actor_name": "admin", "actee": actee, "actee_type": actee_type, "actee_name": actee_name,
            "timestamp": at(seconds), "space_guid": space, "organization_guid": org, "metadata": {"request": {}}}


def write_audit(client, admin, events):
    write(client, admin, "/v2/events", events)


def known(kind):
    """{guid: (name, space_guid, organization_guid, state)} of the known resources of `kind`."""
    rows = db.session.execute(select(KnownResource).where(KnownResource.kind == kind)).scalars().all()
    return {row.guid: (row.name, row.space_guid, row.organization_guid, row.state) for row in rows}


def answer(response):
    return response.status_code, response.get_json()


def get(client, headers, url):
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def guids(client, headers, url):
    return [resource["guid"] for resource in get(client, headers, url)["resources"]]


# 1. What the store knows, and from which events.


def test_audit_events_make_their_apps_spaces_and_organizations_known(client, admin):
    write_audit(client, admin, [
        audit("e1", 0, "app-1", "app", "web", space="space-1", org="org-1", type="audit.app.start"),
        audit("e2", 1, "space-1", "space", "dev", space="space-1", org="org-1"),
        audit("e3", 2, "org-1", "organization", "acme", org="org-1"),
        # A user event names no app, space or org, but its space and org become known (by their guids).
        audit("e4", 3, "user-1", "user", "bob", space="space-2", org="org-2"),
    ])
    assert known("app") == {"app-1": ("web", "space-1", "org-1", "STARTED")}
    assert known("space") == {"space-1": ("dev", None, "org-1", None), "space-2": ("space-2", None, "org-2", None)}
    assert known("organization") == {"org-1": ("acme", None, None, None), "org-2": ("org-2", None, None, None)}
    assert "user-1" not in {row.guid for row in db.session.scalars(select(KnownResource))}


def test_usage_events_make_their_apps_spaces_and_organizations_known(client, admin):
    write(client, admin, "/v2/app_usage_events", [
        # A process of an app: the app is the parent.
        app_event("u1", app_guid="process-1", parent_app_guid="app-1", parent_app_name="web", space_guid="space-1",
                  space_name="dev", org_guid="org-1", created_at=at(0)),
        # An older writer's event, with no parent: the app is app_guid.
        app_event("u2", "STOPPED", app_guid="app-2", app_name="worker", space_guid="space-1", created_at=at(1)),
        # A task has no process: its app is the parent.
        app_event("u3", "TASK_STARTED", app_guid="", app_name="", parent_app_guid="app-3", parent_app_name="jobs",
                  task_guid="task-1", task_name="migrate", space_guid="space-2", space_name="prod", created_at=at(2)),
    ])
    write(client, admin, "/v2/service_usage_events", [
        service_event("s1", space_guid="space-3", space_name="data", org_guid="org-2", created_at=at(3))])
    assert known("app") == {"app-1": ("web", "space-1", "org-1", "STARTED"),
                            "app-2": ("worker", "space-1", "org-1", "STOPPED"),
                            "app-3": ("jobs", "space-2", "org-1", None)}
    assert known("space") == {"space-1": ("dev", None, "org-1", None), "space-2": ("prod", None, "org-1", None),
                              "space-3": ("data", None, "org-2", None)}
    # No usage event names an organization.
    assert known("organization") == {"org-1": ("org-1", None, None, None), "org-2": ("org-2", None, None, None)}


def test_a_resource_stays_known_when_its_events_go(client, admin):
    write_audit(client, admin, [audit("e1", 0, "app-1", "app", "web", space="space-1", org="org-1")])
    assert client.delete("/v2/events/e1", headers=admin).status_code == 204
    assert known("app") == {"app-1": ("web", "space-1", "org-1", None)}
    assert guids(client, admin, "/v3/apps?names=web") == ["app-1"]


def names_after(client, admin, batches):
    for batch in batches:
        write_audit(client, admin, batch)
    return known("app")["app-1"][0], known("app")["app-1"][3]


NEWER = audit("new", 5, "app-1", "app", "frontend", space="space-1", org="org-1", type="audit.app.stop")
OLDER = audit("old", 1, "app-1", "app", "web", space="space-1", org="org-1", type="audit.app.start")


@pytest.mark.parametrize("batches", [
    pytest.param([[NEWER, OLDER]], id="one-batch-newest-first"),
    pytest.param([[OLDER, NEWER]], id="one-batch-oldest-first"),
    pytest.param([[NEWER], [OLDER]], id="newest-written-first"),
    pytest.param([[OLDER], [NEWER]], id="oldest-written-first"),
])
def test_the_newest_event_names_an_app_and_sets_its_state_whatever_the_write_order(client, admin, batches):
    assert names_after(client, admin, batches) == ("frontend", "STOPPED")


def test_an_event_without_a_name_keeps_the_name(client, admin):
    write_audit(client, admin, [audit("e1", 0, "app-1", "app", "web", space="space-1", org="org-1"),
                                audit("e2", 9, "app-1", "app", "", space="space-1", org="org-1")])
    # The unnamed later event does not rename the app; a later start of an unnamed app still counts.
    write_audit(client, admin, [audit("e3", 10, "app-1", "app", "", space="space-1", org="org-1",
                                      type="audit.app.start")])
    assert known("app") == {"app-1": ("web", "space-1", "org-1", "STARTED")}


def test_a_usage_state_and_an_audit_state_compete_by_time(client, admin):
    write(client, admin, "/v2/app_usage_events", [app_event("u1", "STOPPED", app_guid="app-1", created_at=at(7))])
    write_audit(client, admin, [audit("e1", 3, "app-1", "app", "web", space="space-1", org="org-1",
                                      type="audit.app.start")])
    # The usage event is newer, both for the name ("web" from it, app_name) and the state.
    assert known("app")["app-1"][3] == "STOPPED"
    write_audit(client, admin, [audit("e2", 8, "app-1", "app", "renamed", space="space-1", org="org-1",
                                      type="audit.app.restart")])
    assert known("app")["app-1"] == ("renamed", "space-1", "org-1", "STARTED")


def test_space_names_come_from_usage_events_and_space_events(client, admin):
    write(client, admin, "/v2/service_usage_events", [
        service_event("s1", space_guid="space-1", space_name="old-name", created_at=at(1))])
    write_audit(client, admin, [audit("e1", 2, "space-1", "space", "new-name", space="space-1", org="org-1")])
    write(client, admin, "/v2/app_usage_events", [
        app_event("u1", space_guid="space-1", space_name="older-name", created_at=at(0))])
    assert known("space")["space-1"] == ("new-name", None, "org-1", None)


# The random workload: events of a small fixed world, written in random batches out of time order.

ORGS = ["org-1", "org-2", "org-3"]
SPACES = {"space-1": "org-1", "space-2": "org-1", "space-3": "org-2", "space-4": "org-3", "space-5": "org-2"}
APPS = {f"app-{n}": space for n, space in enumerate(
    ["space-1", "space-1", "space-2", "space-3", "space-4", "space-5", "space-5", "space-2"], start=1)}
NAMES = ["alpha", "beta", "gamma", "delta", ""]
# An app seen only in audit events that name nothing and start or stop nothing, in a space and an org
# seen only through it: all three keep their guids as names, and the app has no state.
GHOST_APP, GHOST_SPACE, GHOST_ORG = "app-ghost", "space-ghost", "org-ghost"


class Workload:
    """Random events, and the sightings a simple reading of V3.md 4 and migration 0009 takes from each:
    (kind, guid, name or None, space, organization, state or None, time)."""

    def __init__(self, seed, count):
        self.rng = random.Random(seed)
        # Every event has a time of its own (fractions included), so "newest" is never a tie.
        times = self.rng.sample(range(0, 100000), count)
        self.audit, self.app_usage, self.service_usage, self.sightings = [], [], [], []
        for n, millis in enumerate(times):
            self.one(n, millis / 1000)

    def one(self, n, seconds):
        rng, when = self.rng, moment(seconds)
        app = rng.choice(list(APPS))
        space = rng.choice(list(SPACES))
        name = rng.choice(NAMES)
        kind = rng.random()
        if kind < 0.25:
            app_space = APPS[app]
            event_type = rng.choice(["audit.app.update", "audit.app.start", "audit.app.stop", "audit.app.restart",
                                     "audit.app.restage"])
            self.audit.append(audit(f"a{n}", seconds, app, "app", name, space=app_space, org=SPACES[app_space],
                                    type=event_type))
            state = {"audit.app.start": "STARTED", "audit.app.restart": "STARTED",
                     "audit.app.stop": "STOPPED"}.get(event_type)
            self.sight("app", app, name, app_space, SPACES[app_space], state, when)
            self.sight_space_and_org(app_space, when)
        elif kind < 0.4:
            self.audit.append(audit(f"a{n}", seconds, space, "space", name, space=space, org=SPACES[space],
                                    type=rng.choice(["audit.space.update", "audit.space.create"])))
            self.sight("space", space, name, None, SPACES[space], None, when)
            self.sight_space_and_org(space, when)
        elif kind < 0.5:
            org = rng.choice(ORGS)
            self.audit.append(audit(f"a{n}", seconds, org, "organization", name, org=org))
            self.sight("organization", org, name, None, None, None, when)
            self.sight("organization", org, None, None, None, None, when)
        elif kind < 0.57:
            self.audit.append(audit(f"a{n}", seconds, GHOST_APP, "app", "", space=GHOST_SPACE, org=GHOST_ORG,
                                    type=rng.choice(["audit.app.update", "audit.app.restage"])))
            self.sight("app", GHOST_APP, None, GHOST_SPACE, GHOST_ORG, None, when)
            self.sight("space", GHOST_SPACE, None, None, GHOST_ORG, None, when)
            self.sight("organization", GHOST_ORG, None, None, None, None, when)
        elif kind < 0.62:
            # Neither an app, nor a space, nor an organization: only the space and org are sighted.
            with_space = rng.random() < 0.5
            org = SPACES[space] if with_space else rng.choice(ORGS)
            self.audit.append(audit(f"a{n}", seconds, f"user-{n}", rng.choice(["user", "service_instance"]), "bob",
                                    space=space if with_space else "", org=org))
            if with_space:
                self.sight_space_and_org(space, when)
            else:
                self.sight("organization", org, None, None, None, None, when)
        elif kind < 0.85:
            self.app_usage_event(n, seconds, app, name)
        else:
            space_name = rng.choice(NAMES[:-1])
            self.service_usage.append(service_event(
                f"s{n}", rng.choice(["CREATED", "UPDATED", "DELETED"]), space_guid=space, space_name=space_name,
                org_guid=SPACES[space], created_at=at(seconds)))
            self.sight("space", space, space_name, None, SPACES[space], None, when)
            self.sight("organization", SPACES[space], None, None, None, None, when)

    def app_usage_event(self, n, seconds, app, name):
        rng, when, space = self.rng, moment(seconds), APPS[app]
        space_name = rng.choice(NAMES[:-1])
        shape = rng.choice(["process", "legacy", "task"])
        state = rng.choice(["TASK_STARTED", "TASK_STOPPED"] if shape == "task" else
                           ["STARTED", "STOPPED", "BUILDPACK_SET", "STAGING_STARTED"])
        app_name = rng.choice(NAMES)
        fields = {"space_guid": space, "space_name": space_name, "org_guid": SPACES[space], "created_at": at(seconds)}
        if shape == "legacy":
            event = app_event(f"u{n}", state, app_guid=app, app_name=app_name, **fields)
            sighted_name = app_name
        else:
            parent_name = rng.choice([name, None])
            event = app_event(f"u{n}", state, app_guid="" if shape == "task" else f"process-{n}", app_name=app_name,
                              parent_app_guid=app, parent_app_name=parent_name, **fields)
            # The parent's name, or else the process's own (CC gives a process its app's name).
            sighted_name = parent_name or app_name
        self.app_usage.append(event)
        self.sight("app", app, sighted_name, space, SPACES[space], state if state in ("STARTED", "STOPPED") else None,
                   when)
        self.sight("space", space, space_name, None, SPACES[space], None, when)
        self.sight("organization", SPACES[space], None, None, None, None, when)

    def sight_space_and_org(self, space, when):
        self.sight("space", space, None, None, SPACES[space], None, when)
        self.sight("organization", SPACES[space], None, None, None, None, when)

    def sight(self, kind, guid, name, space, org, state, when):
        self.sightings.append((kind, guid, name or None, space, org, state, when))

    def expected(self):
        """{(kind, guid): (name, named_at, space, org, state, state_at, first_seen_at, last_seen_at)}."""
        by_key = {}
        for sighting in self.sightings:
            by_key.setdefault(sighting[:2], []).append(sighting)
        result = {}
        for (kind, guid), seen in by_key.items():
            named = max((s for s in seen if s[2]), key=lambda s: s[6], default=None)
            stated = max((s for s in seen if s[5]), key=lambda s: s[6], default=None)
            result[(kind, guid)] = (
                named[2] if named else guid, named[6] if named else None,
                next((s[3] for s in seen if s[3]), None), next((s[4] for s in seen if s[4]), None),
                stated[5] if stated else None, stated[6] if stated else None,
                min(s[6] for s in seen), max(s[6] for s in seen))
        return result

    def write(self, client, admin):
        """Every event, each stream's shuffled, in random batches through the three write endpoints."""
        queues = {"/v2/events": self.audit, "/v2/app_usage_events": self.app_usage,
                  "/v2/service_usage_events": self.service_usage}
        for queue in queues.values():
            self.rng.shuffle(queue)
        while any(queues.values()):
            path = self.rng.choice([path for path, queue in queues.items() if queue])
            size = self.rng.randint(1, 25)
            batch, queues[path][:] = queues[path][:size], queues[path][size:]
            write(client, admin, path, batch)


def stored():
    return {(row.kind, row.guid): (row.name, row.named_at, row.space_guid, row.organization_guid, row.state,
                                   row.state_at, row.first_seen_at, row.last_seen_at)
            for row in db.session.execute(select(KnownResource)).scalars()}


@pytest.mark.parametrize("seed", range(5))
def test_known_resources_follow_a_random_workload(client, admin, seed):
    workload = Workload(seed, 250)
    workload.write(client, admin)
    expected = workload.expected()
    actual = stored()
    assert set(actual) == set(expected)
    for key in sorted(expected):
        assert actual[key] == expected[key], key
    # And v3 shows what the table holds.
    apps = get(client, admin, "/v3/apps?per_page=5000")["resources"]
    assert {r["guid"]: (r["name"], r["state"]) for r in apps} == {
        guid: (value[0], value[4] or "STOPPED") for (kind, guid), value in expected.items() if kind == "app"}


@pytest.mark.parametrize("seed", range(2))
def test_the_same_workload_in_one_batch_per_stream(client, admin, seed):
    # One statement per stream: on PostgreSQL the trigger folds every sighting of a batch at once.
    workload = Workload(seed + 100, 200)
    for path, events in (("/v2/events", workload.audit), ("/v2/app_usage_events", workload.app_usage),
                         ("/v2/service_usage_events", workload.service_usage)):
        workload.rng.shuffle(events)
        write(client, admin, path, events)
    assert stored() == workload.expected()


# 2. GET /v3/apps, /v3/spaces, /v3/organizations.


@pytest.fixture
def world(client, admin):
    """Two orgs, three spaces (two named dev), four apps: app-1 started, app-2 never started or stopped,
    app-3 stopped, app-4 started."""
    write_audit(client, admin, [
        audit("o1", 0, "org-1", "organization", "acme", org="org-1"),
        audit("o2", 1, "org-2", "organization", "globex", org="org-2"),
        audit("s1", 2, "space-1", "space", "dev", space="space-1", org="org-1"),
        audit("s2", 3, "space-2", "space", "prod", space="space-2", org="org-1"),
        audit("s3", 4, "space-3", "space", "dev", space="space-3", org="org-2"),
        audit("a1", 5, "app-1", "app", "web", space="space-1", org="org-1", type="audit.app.start"),
        audit("a2", 6, "app-2", "app", "worker", space="space-1", org="org-1"),
        audit("a3", 7, "app-3", "app", "web", space="space-2", org="org-1", type="audit.app.stop"),
        audit("a4", 8, "app-4", "app", "api", space="space-3", org="org-2", type="audit.app.start"),
        # Seen again later: updated_at moves, created_at stays.
        audit("a1-again", 20, "app-1", "app", "web", space="space-1", org="org-1"),
    ])


def app_resource(guid, name, state, space, created, updated):
    return {
        "guid": guid, "created_at": stamp(created), "updated_at": stamp(updated), "name": name, "state": state,
        "relationships": {"space": {"data": {"guid": space}}},
        "metadata": {"labels": {}, "annotations": {}},
        "links": {"self": {"href": f"{BASE}/v3/apps/{guid}"}, "space": {"href": f"{BASE}/v3/spaces/{space}"}},
    }


def space_resource(guid, name, org, seen):
    return {
        "guid": guid, "created_at": stamp(seen[0]), "updated_at": stamp(seen[1]), "name": name,
        "relationships": {"organization": {"data": {"guid": org}}, "quota": {"data": None}},
        "metadata": {"labels": {}, "annotations": {}},
        "links": {"self": {"href": f"{BASE}/v3/spaces/{guid}"},
                  "organization": {"href": f"{BASE}/v3/organizations/{org}"}},
    }


def organization_resource(guid, name, seen):
    return {
        "guid": guid, "created_at": stamp(seen[0]), "updated_at": stamp(seen[1]), "name": name, "suspended": False,
        "relationships": {"quota": {"data": None}},
        "metadata": {"labels": {}, "annotations": {}},
        "links": {"self": {"href": f"{BASE}/v3/organizations/{guid}"}},
    }


def envelope(path, query, total, resources, pages=1):
    return {
        "pagination": {"total_results": total, "total_pages": pages,
                       "first": {"href": f"{BASE}{path}?{query.format(page=1)}"},
                       "last": {"href": f"{BASE}{path}?{query.format(page=pages)}"},
                       "next": None, "previous": None},
        "resources": resources,
    }


def test_apps_by_name_in_a_space_as_cf_events_asks(client, admin, world):
    body = get(client, admin, "/v3/apps?names=web&space_guids=space-1")
    assert body == envelope("/v3/apps", "names=web&page={page}&per_page=50&space_guids=space-1", 1, [
        app_resource("app-1", "web", "STARTED", "space-1", 5, 20)])
    assert list(body["resources"][0]) == ["guid", "created_at", "updated_at", "name", "state", "relationships",
                                          "metadata", "links"]


def test_an_app_never_started_or_stopped_is_stopped(client, admin, world):
    assert get(client, admin, "/v3/apps?names=worker")["resources"] == [
        app_resource("app-2", "worker", "STOPPED", "space-1", 6, 6)]


@pytest.mark.parametrize("query, expected", [
    ("", ["app-1", "app-2", "app-3", "app-4"]),  # in the order the store came to know them
    ("names=web", ["app-1", "app-3"]),
    ("names=web,worker&space_guids=space-1", ["app-1", "app-2"]),
    ("names=web&space_guids=space-1,space-2", ["app-1", "app-3"]),
    ("names=nope", []),
    ("names=", []),  # one empty name, which no app has
    ("guids=app-4,app-2", ["app-2", "app-4"]),
    ("organization_guids=org-2", ["app-4"]),
    ("organization_guids=org-1&names=web", ["app-1", "app-3"]),
    ("order_by=name", ["app-4", "app-1", "app-3", "app-2"]),  # api, web, web, worker: equal names by guid
    ("order_by=-name", ["app-2", "app-3", "app-1", "app-4"]),
    ("order_by=-created_at", ["app-4", "app-3", "app-2", "app-1"]),
    ("order_by=updated_at", ["app-2", "app-3", "app-4", "app-1"]),
    # created_at is when the store first saw an app, updated_at when it last did.
    (f"created_ats[lt]={stamp(7)}", ["app-1", "app-2"]),
    (f"updated_ats[gte]={stamp(8)}", ["app-1", "app-4"]),
])
def test_apps_filters_and_orders(client, admin, world, query, expected):
    assert guids(client, admin, f"/v3/apps?{query}") == expected


@pytest.mark.parametrize("query, expected", [
    # By the state each app shows (app-2's unknown state shows STOPPED), then by guid in the same direction.
    ("order_by=state", ["app-1", "app-4", "app-2", "app-3"]),
    ("order_by=-state", ["app-3", "app-2", "app-4", "app-1"]),
])
def test_apps_order_by_the_state_they_show(client, admin, world, query, expected):
    assert guids(client, admin, f"/v3/apps?{query}") == expected


def test_a_name_with_a_comma_is_sent_as_percent_2c(client, admin):
    # cf CLI v8 sends a comma inside a name as %2C, which arrives as %252C.
    write_audit(client, admin, [audit("e1", 0, "app-1", "app", "a,b", space="space-1", org="org-1"),
                                audit("e2", 1, "app-2", "app", "a", space="space-1", org="org-1")])
    assert guids(client, admin, "/v3/apps?names=a%252Cb") == ["app-1"]
    assert guids(client, admin, "/v3/apps?names=a,b") == ["app-2"]


def test_apps_pages(client, admin, world):
    body = get(client, admin, "/v3/apps?names=web&per_page=1")
    query = "names=web&page={}&per_page=1"
    assert body == {
        "pagination": {"total_results": 2, "total_pages": 2,
                       "first": {"href": f"{BASE}/v3/apps?{query.format(1)}"},
                       "last": {"href": f"{BASE}/v3/apps?{query.format(2)}"},
                       "next": {"href": f"{BASE}/v3/apps?{query.format(2)}"}, "previous": None},
        "resources": [app_resource("app-1", "web", "STARTED", "space-1", 5, 20)],
    }
    second = get(client, admin, body["pagination"]["next"]["href"])
    assert second["resources"] == [app_resource("app-3", "web", "STOPPED", "space-2", 7, 7)]
    assert (second["pagination"]["next"], second["pagination"]["previous"]) == (
        None, {"href": f"{BASE}/v3/apps?{query.format(1)}"})


def test_spaces_by_name_in_an_organization_as_cf_login_asks(client, admin, world):
    body = get(client, admin, "/v3/spaces?names=dev&organization_guids=org-2&page=1&per_page=1")
    assert body == envelope("/v3/spaces", "names=dev&organization_guids=org-2&page={page}&per_page=1", 1, [
        space_resource("space-3", "dev", "org-2", (4, 8))])
    assert list(body["resources"][0]) == ["guid", "created_at", "updated_at", "name", "relationships", "metadata",
                                          "links"]


@pytest.mark.parametrize("query, expected", [
    ("", ["space-1", "space-2", "space-3"]),
    ("names=dev", ["space-1", "space-3"]),
    ("organization_guids=org-1", ["space-1", "space-2"]),
    ("order_by=name&organization_guids=org-1", ["space-1", "space-2"]),
    ("order_by=name", ["space-1", "space-3", "space-2"]),  # dev, dev, prod
    ("order_by=-name", ["space-2", "space-3", "space-1"]),
    ("guids=space-2", ["space-2"]),
])
def test_spaces_filters_and_orders(client, admin, world, query, expected):
    assert guids(client, admin, f"/v3/spaces?{query}") == expected


def test_organizations_by_name_as_cf_login_asks(client, admin, world):
    body = get(client, admin, "/v3/organizations?names=globex&page=1&per_page=1")
    # org-2 is seen from its own event (1 s), from its space's (4 s) and its app's (8 s).
    assert body == envelope("/v3/organizations", "names=globex&page={page}&per_page=1", 1, [
        organization_resource("org-2", "globex", (1, 8))])
    assert list(body["resources"][0]) == ["guid", "created_at", "updated_at", "name", "suspended", "relationships",
                                          "metadata", "links"]


def test_organizations_by_name_order_over_pages(client, admin, world):
    # cf login without -o: every page of order_by=name.
    write_audit(client, admin, [audit("o3", 30, "org-3", "organization", "aardvark", org="org-3")])
    first = get(client, admin, "/v3/organizations?order_by=name&per_page=2")
    assert [r["name"] for r in first["resources"]] == ["aardvark", "acme"]
    # Written back with its sign, as CC writes every order_by.
    assert first["pagination"]["next"] == {"href": f"{BASE}/v3/organizations?order_by=%2Bname&page=2&per_page=2"}
    second = get(client, admin, first["pagination"]["next"]["href"])
    assert ([r["name"] for r in second["resources"]], second["pagination"]["next"]) == (["globex"], None)
    assert guids(client, admin, "/v3/organizations?order_by=-name") == ["org-2", "org-1", "org-3"]
    assert guids(client, admin, "/v3/organizations?names=acme,globex") == ["org-1", "org-2"]


def test_a_resource_never_named_is_named_by_its_guid(client, admin):
    write_audit(client, admin, [audit("e1", 0, "app-1", "app", "", space="space-1", org="org-1")])
    assert get(client, admin, "/v3/organizations")["resources"] == [organization_resource("org-1", "org-1", (0, 0))]
    assert get(client, admin, "/v3/spaces?names=space-1")["resources"] == [
        space_resource("space-1", "space-1", "org-1", (0, 0))]
    assert get(client, admin, "/v3/apps?names=app-1")["resources"] == [
        app_resource("app-1", "app-1", "STOPPED", "space-1", 0, 0)]


# Who sees what (V3.md 4, directory.py).

EVERYTHING = (["org-1", "org-2"], ["space-1", "space-2", "space-3"], ["app-1", "app-2", "app-3", "app-4"])


def seen_by(client, headers):
    return tuple(guids(client, headers, f"/v3/{collection}") for collection in ("organizations", "spaces", "apps"))


@pytest.mark.parametrize("scope", [ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR])
def test_global_roles_see_everything(client, auth, world, scope):
    assert seen_by(client, auth(scope, user_id="nobody")) == EVERYTHING


def grant(client, admin, role_type, target, user="reader"):
    relationship = "space" if role_type.startswith("space_") else "organization"
    response = client.post("/v3/roles", headers=admin, json={"type": role_type, "relationships": {
        "user": {"data": {"guid": user}}, relationship: {"data": {"guid": target}}}})
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("roles, expected", [
    pytest.param([], ([], [], []), id="no-role"),
    *(pytest.param([(role, "space-1")], (["org-1"], ["space-1"], ["app-1", "app-2"]), id=role)
      for role in ("space_developer", "space_auditor", "space_manager", "space_supporter")),
    *(pytest.param([(role, "org-1")], (["org-1"], [], []), id=role)
      for role in ("organization_user", "organization_auditor", "organization_billing_manager")),
    pytest.param([("organization_manager", "org-1")], (["org-1"], ["space-1", "space-2"], ["app-1", "app-2", "app-3"]),
                 id="organization_manager"),
    pytest.param([("organization_manager", "org-1"), ("space_developer", "space-3")], EVERYTHING,
                 id="manager-and-developer"),
    pytest.param([("organization_user", "org-2"), ("space_auditor", "space-2")],
                 (["org-1", "org-2"], ["space-2"], ["app-3"]), id="org-user-and-auditor-elsewhere"),
])
def test_a_user_sees_what_their_roles_reach(client, admin, auth, world, roles, expected):
    for role_type, target in roles:
        grant(client, admin, role_type, target)
    grant(client, admin, "space_developer", "space-3", user="someone-else")
    assert seen_by(client, auth(READ, user_id="reader")) == expected


def test_counts_and_pages_only_hold_what_the_user_sees(client, admin, auth, world):
    grant(client, admin, "space_developer", "space-1")
    body = get(client, auth(READ, user_id="reader"), "/v3/apps?names=web")
    assert (body["pagination"]["total_results"], [r["guid"] for r in body["resources"]]) == (1, ["app-1"])


def test_a_token_without_a_read_scope_is_not_authorized(client, auth, world):
    assert answer(client.get("/v3/apps", headers=auth("cf_events.write"))) == (403, {"errors": [{
        "detail": "You are not authorized to perform the requested action", "title": "CF-NotAuthorized",
        "code": 10003}]})


def bad_query(detail):
    return 400, {"errors": [{"detail": f"The query parameter is invalid: {detail}", "title": "CF-BadQueryParameter",
                             "code": 10005}]}


@pytest.mark.parametrize("collection, valid", [
    ("apps", "'page', 'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'names', 'organization_guids', "
             "'space_guids'"),
    ("spaces", "'page', 'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'names', "
               "'organization_guids'"),
    ("organizations", "'page', 'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'names'"),
])
def test_unknown_parameters_are_bad_query_parameters(client, admin, collection, valid):
    # CC's order of valid keys, less those of what the store cannot know (stacks, lifecycle, labels).
    assert answer(client.get(f"/v3/{collection}?foo=1", headers=admin)) == bad_query(
        f"Unknown query parameter(s): 'foo'. Valid parameters are: {valid}")


@pytest.mark.parametrize("collection, orders", [
    ("apps", "'created_at', 'updated_at', 'name', 'state'"),
    ("spaces", "'created_at', 'updated_at', 'name'"),
    ("organizations", "'created_at', 'updated_at', 'name'"),
])
def test_order_by_mistakes_are_bad_query_parameters(client, admin, collection, orders):
    assert answer(client.get(f"/v3/{collection}?order_by=guid", headers=admin)) == bad_query(
        f"Order by can only be: {orders}")


@pytest.mark.parametrize("query, detail", [
    ("page=0", "Page must be a positive integer"),
    ("per_page=5001", "Per page must be between 1 and 5000"),
    ("names[x]=web", "Names must be an array"),
])
def test_other_mistakes_are_bad_query_parameters(client, admin, query, detail):
    assert answer(client.get(f"/v3/apps?{query}", headers=admin)) == bad_query(detail)


# 3. Discovery.


def discovery_app(session_app, **config):
    """An app of its own configuration; nothing in the environment decides the links."""
    return make_app(session_app.config["SQLALCHEMY_DATABASE_URI"], EXTERNAL_URL="https://api.example.com",
                    UAA_URL=None, DOPPLER_LOGGING_ENDPOINT=None, APP_SSH_ENDPOINT=None, **config)


API = "https://api.example.com"
ROOT_LINKS = {
    "self": {"href": API},
    "cloud_controller_v3": {"href": f"{API}/v3", "meta": {"version": "3.228.0"}},
    "network_policy_v0": {"href": f"{API}/networking/v0/external"},
    "network_policy_v1": {"href": f"{API}/networking/v1/external"},
    # The built-in issuer is the login server.
    "login": {"href": API},
    "uaa": {"href": API},
    "credhub": None,
    "routing": None,
    "logging": None,
    "log_cache": None,
    "log_stream": None,
    "app_ssh": {"href": "ssh.api.example.com:2222",
                "meta": {"host_key_fingerprint": None, "oauth_client": "ssh-proxy"}},
}


def test_the_root_in_cc_order(session_app):
    body = discovery_app(session_app).test_client().get("/").get_json()
    assert body == {"links": {**ROOT_LINKS,
                              "cloud_controller_v2": {"href": f"{API}/v2", "meta": {"version": "2.164.0"}}}}
    assert list(body["links"]) == [
        "self", "cloud_controller_v3", "network_policy_v0", "network_policy_v1", "login", "uaa", "credhub", "routing",
        "logging", "log_cache", "log_stream", "app_ssh", "cloud_controller_v2"]


def test_the_root_without_v2(session_app):
    client = discovery_app(session_app, V2_API=False).test_client()
    body = client.get("/").get_json()
    assert body == {"links": ROOT_LINKS}
    assert list(body["links"]) == list(ROOT_LINKS)
    info = client.get("/v2/info")
    assert info.status_code == 200
    assert (info.get_json()["support"], info.get_json()["api_version"]) == ("CF API v2 is disabled", "")


def test_v2_info_names_v2_while_it_is_on(session_app):
    info = discovery_app(session_app).test_client().get("/v2/info").get_json()
    assert (info["support"], info["api_version"], info["authorization_endpoint"], info["token_endpoint"]) == (
        "", "2.164.0", API, API)


def test_the_root_names_a_configured_uaa_and_logging(session_app):
    app = make_app(session_app.config["SQLALCHEMY_DATABASE_URI"], EXTERNAL_URL=API, UAA_URL="https://uaa.example.com",
                   DOPPLER_LOGGING_ENDPOINT="wss://doppler.example.com:443", APP_SSH_ENDPOINT=None)
    links = app.test_client().get("/").get_json()["links"]
    assert (links["login"], links["uaa"], links["logging"]) == (
        {"href": "https://uaa.example.com"}, {"href": "https://uaa.example.com"},
        {"href": "wss://doppler.example.com:443"})


def test_the_root_without_external_url_uses_the_request_host(client):
    links = client.get("/").get_json()["links"]
    assert (links["self"], links["cloud_controller_v3"]["href"]) == ({"href": BASE}, f"{BASE}/v3")


def test_v3_lists_what_it_serves(session_app):
    body = discovery_app(session_app).test_client().get("/v3").get_json()
    assert body == {"links": {
        "self": {"href": f"{API}/v3"},
        "app_usage_events": {"href": f"{API}/v3/app_usage_events"},
        "apps": {"href": f"{API}/v3/apps"},
        "audit_events": {"href": f"{API}/v3/audit_events"},
        "info": {"href": f"{API}/v3/info"},
        "organizations": {"href": f"{API}/v3/organizations"},
        "roles": {"href": f"{API}/v3/roles"},
        "service_usage_events": {"href": f"{API}/v3/service_usage_events"},
        "spaces": {"href": f"{API}/v3/spaces"},
    }}
    assert list(body["links"]) == ["self", "app_usage_events", "apps", "audit_events", "info", "organizations",
                                   "roles", "service_usage_events", "spaces"]


def test_v3_info(session_app):
    response = discovery_app(session_app).test_client().get("/v3/info")
    body = response.get_json()
    from tests.ops.test_operations import expected_build, expected_version_number

    assert (response.status_code, body) == (200, {
        "build": expected_build(),
        "cli_version": {"minimum": "", "recommended": ""},
        "custom": {},
        "description": "Cloud Foundry audit and usage events",
        "name": "cf-events",
        "version": expected_version_number(),
        "osbapi_version": "2.15",
        "rate_limits": {"enabled": False, "general_limit": "", "reset_interval_in_minutes": ""},
        "links": {"self": {"href": f"{API}/v3/info"}, "support": {"href": ""}},
    })
    assert list(body) == ["build", "cli_version", "custom", "description", "name", "version", "osbapi_version",
                          "rate_limits", "links"]


def test_login_gives_the_prompts_cf_cli_asks_for(client):
    response = client.get("/login")
    assert (response.status_code, response.get_json()) == (200, {
        "app": {"version": "cf-events"},
        "prompts": {"username": ["text", "Email"], "password": ["password", "Password"]}})


def test_login_is_not_found_in_uaa_shape_without_the_issuer(session_app):
    app = discovery_app(session_app, TOKEN_ISSUER=False)
    response = app.test_client().get("/login")
    assert (response.status_code, response.get_json()) == (404, {
        "error": "not_found", "error_description": "Unknown request"})


@pytest.mark.parametrize("collection, kind", [("apps", "App"), ("spaces", "Space"), ("organizations", "Organization")])
def test_every_listed_resource_shows_at_its_own_link(client, admin, auth, world, collection, kind):
    listed = get(client, admin, f"/v3/{collection}")["resources"]
    assert listed
    for resource in listed:
        path = resource["links"]["self"]["href"].removeprefix(BASE)
        assert get(client, admin, path) == resource
    missing = client.get(f"/v3/{collection}/nope", headers=admin)
    assert answer(missing) == (404, {"errors": [{"detail": f"{kind} not found", "title": "CF-ResourceNotFound",
                                                 "code": 10010}]})
    # One the reader may not see is not found either.
    hidden = client.get(listed[0]["links"]["self"]["href"].removeprefix(BASE), headers=auth(READ, user_id="nobody"))
    assert answer(hidden)[0] == 404


def test_a_link_names_its_resource_in_a_uri_whatever_its_guid(client, admin):
    # An actee is any text the store holds, not a uuid: each link spells it as one segment of a URI.
    write_audit(client, admin, [audit("e1", 0, "app 1é?", "app", "web", space="space 1", org="org-1")])
    app = get(client, admin, "/v3/apps")["resources"][0]
    assert app["links"] == {"self": {"href": f"{BASE}/v3/apps/app%201%C3%A9%3F"},
                            "space": {"href": f"{BASE}/v3/spaces/space%201"}}
    assert get(client, admin, "/v3/apps/app%201%C3%A9%3F")["guid"] == "app 1é?"
