"""GET /v3/audit_events and /v3/audit_events/{guid} (V3.md 1 and 5): the resource and the envelope as CC
presents them, every filter, the orders, paging by next links, the errors in v3's shape, and who sees
which events, role by role and on random platforms (where v2's rule, without supporters, is checked too).
"""
import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from app.base.extensions import db
from app.identity.models import Role
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE, issue_token
from tests.conftest import SECRET
from tests.factories import EventFactory

EVENTS = "/v3/audit_events"
BASE = "http://localhost"
RESOURCE_KEYS = ["guid", "created_at", "updated_at", "type", "actor", "target", "data", "space", "organization",
                 "links"]
# Stored times have sub-second parts; v3 shows whole seconds.
T = datetime(2016, 6, 8, 16, 41, 23, 250000, tzinfo=timezone.utc)
VALID = ("Valid parameters are: 'page', 'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'types', "
         "'target_guids', 'space_guids', 'organization_guids', "
         "'actor_guids', 'actor_names', 'actor_types', 'target_types', 'target_names'")
USER = "user-a"


def body_of(response, status=200):
    assert response.status_code == status, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def error(detail, title, code):
    return {"errors": [{"detail": detail, "title": title, "code": code}]}


def bad_query(detail):
    return error(f"The query parameter is invalid: {detail}", "CF-BadQueryParameter", 10005)


NOT_FOUND = error("Event not found", "CF-ResourceNotFound", 10010)


def listed(client, headers, query=""):
    """The guids of the events a one-page list answers, in its order."""
    body = body_of(client.get(f"{EVENTS}?{query}", headers=headers))
    guids = [resource["guid"] for resource in body["resources"]]
    # A platform-wide reader's totals may come from the maintained counts: they must agree.
    assert (body["pagination"]["total_results"], body["pagination"]["total_pages"]) == (len(guids), 1)
    return guids


# --- the resource and the envelope -----------------------------------------------------------------

REQUEST = {"request": {"recursive": True}}


def make_event(guid, seconds=0, **fields):
    defaults = dict(
        type="audit.app.update", actor="user-guid", actor_type="user", actor_name="user@example.com",
        actor_username="user", actee="app-guid", actee_type="app", actee_name="my-app",
        data=REQUEST, space_guid="space-guid", organization_guid="org-guid",
    )
    return EventFactory(guid=guid, timestamp=T + timedelta(seconds=seconds), **{**defaults, **fields})


def resource(guid, time, space="space-guid", organization="org-guid", data=REQUEST):
    """The v3 resource (V3.md 1.5) of an event made by make_event; actor_username is v2's only."""
    return {
        "guid": guid, "created_at": time, "updated_at": time, "type": "audit.app.update",
        "actor": {"guid": "user-guid", "type": "user", "name": "user@example.com"},
        "target": {"guid": "app-guid", "type": "app", "name": "my-app"},
        "data": data,
        # No space or organization is null in v3 (v2 shows "").
        "space": {"guid": space} if space else None,
        "organization": {"guid": organization} if organization else None,
        "links": {"self": {"href": f"{BASE}/v3/audit_events/{guid}"}},
    }


def test_an_event_as_cc_presents_it(client, admin):
    make_event("event-1")
    body = body_of(client.get(f"{EVENTS}/event-1", headers=admin))
    assert body == resource("event-1", "2016-06-08T16:41:23Z")
    assert list(body) == RESOURCE_KEYS
    assert list(body["actor"]) == list(body["target"]) == ["guid", "type", "name"]


def test_no_space_no_organization_and_no_data(client, admin):
    make_event("platform-event", data={}, space_guid=None, organization_guid=None)
    make_event("org-event", space_guid=None)
    assert body_of(client.get(f"{EVENTS}/platform-event", headers=admin)) == resource(
        "platform-event", "2016-06-08T16:41:23Z", space=None, organization=None, data={})
    assert body_of(client.get(f"{EVENTS}/org-event", headers=admin)) == resource(
        "org-event", "2016-06-08T16:41:23Z", space=None)


def test_the_list_envelope(client, admin):
    make_event("e1", 0)
    make_event("e2", 1)
    make_event("e3", 2)
    first = body_of(client.get(f"{EVENTS}?per_page=2", headers=admin))
    assert first == {
        "pagination": {
            "total_results": 3, "total_pages": 2,
            "first": {"href": f"{BASE}/v3/audit_events?page=1&per_page=2"},
            "last": {"href": f"{BASE}/v3/audit_events?page=2&per_page=2"},
            "next": {"href": f"{BASE}/v3/audit_events?page=2&per_page=2"},
            "previous": None,
        },
        "resources": [resource("e1", "2016-06-08T16:41:23Z"), resource("e2", "2016-06-08T16:41:24Z")],
    }
    assert list(first) == ["pagination", "resources"]
    assert list(first["pagination"]) == ["total_results", "total_pages", "first", "last", "next", "previous"]
    assert [list(item) for item in first["resources"]] == [RESOURCE_KEYS] * 2
    second = body_of(client.get(first["pagination"]["next"]["href"], headers=admin))
    assert second["pagination"]["next"] is None
    assert second["pagination"]["previous"] == {"href": f"{BASE}/v3/audit_events?page=1&per_page=2"}
    assert second["resources"] == [resource("e3", "2016-06-08T16:41:25Z")]


def test_an_empty_list(client, admin):
    assert body_of(client.get(f"{EVENTS}?types=audit.app.create&order_by=-created_at", headers=admin)) == {
        "pagination": {
            "total_results": 0, "total_pages": 1,
            "first": {"href": f"{BASE}/v3/audit_events?order_by=-created_at&page=1&per_page=50&types=audit.app.create"},
            "last": {"href": f"{BASE}/v3/audit_events?order_by=-created_at&page=1&per_page=50&types=audit.app.create"},
            "next": None, "previous": None,
        },
        "resources": [],
    }


# --- filters ------------------------------------------------------------------------------------------

@pytest.fixture
def platform(app):
    """Five events across two orgs, each told apart by some field."""
    EventFactory(guid="e1", type="audit.app.update", actor="user-1", actor_type="user", actor_name="alice",
                 actee="app-1", actee_type="app", actee_name="web", space_guid="s1", organization_guid="o1")
    EventFactory(guid="e2", type="audit.app.create", actor="user-2", actor_type="user", actor_name="bob",
                 actee="app-2", actee_type="app", actee_name="worker", space_guid="s2", organization_guid="o1")
    EventFactory(guid="e3", type="audit.space.create", actor="client-1", actor_type="system", actor_name="ci",
                 actee="s3", actee_type="space", actee_name="dev", space_guid="s3", organization_guid="o2")
    EventFactory(guid="e4", type="audit.organization.update", actor="user-1", actor_type="user", actor_name="alice",
                 actee="o2", actee_type="organization", actee_name="org-two", space_guid=None, organization_guid="o2")
    EventFactory(guid="e5", type="audit.app.update", actor="user-2", actor_type="user", actor_name="bob",
                 actee="app-5", actee_type="app", actee_name="blue,green", space_guid="s2", organization_guid="o1")


@pytest.mark.parametrize("query, expected", [
    ("types=audit.app.update", ["e1", "e5"]),
    ("types=audit.app.create,audit.space.create", ["e2", "e3"]),
    ("types=audit.app.create,%20audit.space.create", ["e2", "e3"]),  # a comma and spaces
    ("types=audit.app.create+,audit.space.create", ["e3"]),  # a space before the comma is the value's
    ("types=", []),
    ("types=,", []),
    ("target_guids=app-1,app-2", ["e1", "e2"]),
    ("target_guids%5Bnot%5D=app-1,app-2", ["e3", "e4", "e5"]),
    ("target_guids[not]=o2", ["e1", "e2", "e3", "e5"]),
    ("space_guids=s1,s3", ["e1", "e3"]),
    ("organization_guids=o2", ["e3", "e4"]),
    ("guids=e2,e4,nope", ["e2", "e4"]),
    ("actor_guids=user-1", ["e1", "e4"]),
    ("actor_names=bob", ["e2", "e5"]),
    ("actor_types=system", ["e3"]),
    ("target_types=organization,space", ["e3", "e4"]),
    ("target_names=web,worker", ["e1", "e2"]),
    # A comma inside a value travels as %252C.
    ("target_names=blue%252Cgreen", ["e5"]),
    ("target_names=blue,green", []),
    # ANDed across parameters.
    ("types=audit.app.update,audit.app.create&space_guids=s2", ["e2", "e5"]),
    ("organization_guids=o1&actor_guids=user-1", ["e1"]),
    ("organization_guids=o1&target_guids%5Bnot%5D=app-1&actor_names=bob&types=audit.app.update", ["e5"]),
    ("space_guids=s1&organization_guids=o2", []),
])
def test_filters(client, admin, platform, query, expected):
    assert listed(client, admin, query) == expected


@pytest.fixture
def four_moments(app):
    """Events at 16:41:23.25, 16:41:24 sharp, 16:41:25.75 and an hour later: sub-second parts a whole-second
    filter must see through, and a second's first instant, which belongs to it and not to the one before."""
    EventFactory(guid="at-23", timestamp=T)
    EventFactory(guid="at-24", timestamp=T.replace(second=24, microsecond=0))
    EventFactory(guid="at-25", timestamp=T + timedelta(seconds=2.5))
    EventFactory(guid="later", timestamp=T + timedelta(hours=1))


@pytest.mark.parametrize("key", ["created_ats", "updated_ats"])
@pytest.mark.parametrize("query, expected", [
    ("{key}=2016-06-08T16:41:23Z", ["at-23"]),
    ("{key}=2016-06-08T16:41:23Z,2016-06-08T16:41:25Z", ["at-23", "at-25"]),
    ("{key}=2016-06-08T16:41:22Z", []),
    ("{key}%5Blt%5D=2016-06-08T16:41:24Z", ["at-23"]),
    ("{key}%5Blte%5D=2016-06-08T16:41:24Z", ["at-23", "at-24"]),
    ("{key}%5Bgt%5D=2016-06-08T16:41:24Z", ["at-25", "later"]),
    ("{key}%5Bgte%5D=2016-06-08T16:41:24Z", ["at-24", "at-25", "later"]),
    ("{key}[gte]=2016-06-08T16:41:24Z&{key}[lt]=2016-06-08T16:41:25Z", ["at-24"]),
    ("{key}[gt]=2016-06-08T16:41:23Z&{key}[lte]=2016-06-08T17:41:23Z", ["at-24", "at-25", "later"]),
    ("{key}[gt]=2016-06-08T16:41:25Z&{key}[lt]=2016-06-08T16:41:25Z", []),
])
def test_time_filters(client, admin, four_moments, key, query, expected):
    assert listed(client, admin, query.format(key=key)) == expected


def test_created_ats_and_updated_ats_filter_the_same_time(client, admin, four_moments):
    query = "created_ats[gte]=2016-06-08T16:41:24Z&updated_ats[lt]=2016-06-08T16:41:25Z"
    assert listed(client, admin, query) == ["at-24"]


def test_time_filters_combine_with_the_others(client, admin, four_moments):
    EventFactory(guid="crash-at-24", type="audit.app.crash", timestamp=T + timedelta(seconds=1.5))
    assert listed(client, admin, "created_ats=2016-06-08T16:41:24Z") == ["at-24", "crash-at-24"]
    assert listed(client, admin, "created_ats=2016-06-08T16:41:24Z&types=audit.app.crash") == ["crash-at-24"]


# --- order and paging ----------------------------------------------------------------------------------

@pytest.fixture
def out_of_order(app):
    """Written in an order their times disagree with; three share one instant, written b, a, c."""
    EventFactory(guid="late", timestamp=T + timedelta(seconds=10))
    EventFactory(guid="tie-b", timestamp=T + timedelta(seconds=5))
    EventFactory(guid="early", timestamp=T)
    EventFactory(guid="tie-a", timestamp=T + timedelta(seconds=5))
    EventFactory(guid="tie-c", timestamp=T + timedelta(seconds=5))


@pytest.mark.parametrize("query, expected", [
    ("", ["late", "tie-b", "early", "tie-a", "tie-c"]),  # the order they were written (CC: id)
    ("order_by=", ["late", "tie-b", "early", "tie-a", "tie-c"]),
    ("order_by=created_at", ["early", "tie-a", "tie-b", "tie-c", "late"]),
    ("order_by=%2Bcreated_at", ["early", "tie-a", "tie-b", "tie-c", "late"]),
    ("order_by=+created_at", ["early", "tie-a", "tie-b", "tie-c", "late"]),  # a raw '+': deliberate difference
    ("order_by=-created_at", ["late", "tie-c", "tie-b", "tie-a", "early"]),
    ("order_by=updated_at", ["early", "tie-a", "tie-b", "tie-c", "late"]),
    ("order_by=-updated_at", ["late", "tie-c", "tie-b", "tie-a", "early"]),
])
def test_orders(client, admin, out_of_order, query, expected):
    assert listed(client, admin, query) == expected


@pytest.fixture
def three_days(app):
    """Seventeen events over three UTC days, written out of time order, pairs sharing an instant; the
    targets of all but the first day are named "my,app"."""
    written = []
    for day in (2, 0, 1):
        for n in range(6 if day != 1 else 5):
            at = T + timedelta(days=day, seconds=n // 2)  # pairs share an instant
            kind = "audit.app.update" if n % 3 else "audit.app.crash"
            written.append(EventFactory(guid=f"d{day}-{n}", timestamp=at, type=kind, actee=f"app-{n % 2}",
                                        actee_name="my,app" if day else "my-app"))
    return written


def follow(client, headers, url):
    """Every event of a listing, page by page, by the next links."""
    guids = []
    while url:
        body = body_of(client.get(url, headers=headers))
        guids += [resource["guid"] for resource in body["resources"]]
        url = body["pagination"]["next"] and body["pagination"]["next"]["href"]
    return guids


def by_time(events, descending=False):
    return sorted(events, key=lambda event: (event.timestamp, event.guid), reverse=descending)


@pytest.mark.parametrize("query, expected", [
    ("", lambda rows: [row.guid for row in rows]),  # as written
    ("order_by=created_at", lambda rows: [row.guid for row in by_time(rows)]),
    ("order_by=-created_at", lambda rows: [row.guid for row in by_time(rows, descending=True)]),
    # The counts may skip whole days for a platform-wide reader filtering by type.
    ("order_by=-created_at&types=audit.app.update",
     lambda rows: [row.guid for row in by_time(rows, descending=True) if row.type == "audit.app.update"]),
    ("order_by=created_at&types=audit.app.update,audit.app.crash",
     lambda rows: [row.guid for row in by_time(rows)]),
    # Page 2 must still exclude (CC's own link forgets to).
    ("target_guids%5Bnot%5D=app-0,nope", lambda rows: [row.guid for row in rows if row.actee != "app-0"]),
    ("target_names=my%252Capp,other&order_by=-updated_at",
     lambda rows: [row.guid for row in by_time(rows, descending=True) if row.actee_name == "my,app"]),
])
@pytest.mark.parametrize("per_page", [1, 4])
def test_following_next_links_gives_every_event_once(client, admin, three_days, query, expected, per_page):
    want = expected(three_days)
    assert len(want) > 5  # more than one page at every per_page
    assert follow(client, admin, f"{EVENTS}?per_page={per_page}&{query}") == want


# --- errors ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, detail", [
    ("page=0", "Page must be a positive integer"),
    ("per_page=5001", "Per page must be between 1 and 5000"),
    ("per_page=10abc", "Per page must be a positive integer"),
    ("order_by=timestamp", "Order by can only be: 'created_at', 'updated_at'"),
    ("created_ats=2016-06-08T16:41:23.000Z",
     "Created ats has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'"),
    ("created_ats[lt]=2016-06-08T16:41:23Z,2016-06-09T16:41:23Z",
     "Created ats only accepts one value when using a relational operator"),
    ("created_ats[ne]=2016-06-08T16:41:23Z", "Created ats Invalid relational operator: 'ne'"),
    ("target_guids[is]=app-1", "Target guids target_guids has an invalid operator"),
    ("types[x]=audit.app.update", "Types must be an array"),
    ("q=type:audit.app.update&label_selector=env", f"Unknown query parameter(s): 'q', 'label_selector'. {VALID}"),
    # One error for every mistake, joined.
    ("foo=1&page=0&order_by=name", "Page must be a positive integer, Order by can only be: 'created_at', "
                                   f"'updated_at', Unknown query parameter(s): 'foo'. {VALID}"),
])
def test_bad_query_parameters(client, admin, query, detail):
    body = body_of(client.get(f"{EVENTS}?{query}", headers=admin), 400)
    assert body == bad_query(detail)
    assert list(body["errors"][0]) == ["detail", "title", "code"]


def test_an_unknown_event_is_not_found(client, admin):
    assert body_of(client.get(f"{EVENTS}/no-such-event", headers=admin), 404) == NOT_FOUND


@pytest.mark.parametrize("path", [EVENTS, f"{EVENTS}/event-1"])
def test_no_token_is_not_authenticated(client, path):
    make_event("event-1")
    assert body_of(client.get(path), 401) == error("Authentication error", "CF-NotAuthenticated", 10002)


@pytest.mark.parametrize("authorization", [
    "bearer not-a-jwt",
    "bearer " + issue_token("another-secret-that-is-also-long-enough", [ADMIN], user_id="u1"),
    "bearer " + issue_token(SECRET, [ADMIN], user_id="u1", expires_in=-120),
])
@pytest.mark.parametrize("path", [EVENTS, f"{EVENTS}/event-1"])
def test_a_bad_token_is_an_invalid_auth_token(client, path, authorization):
    make_event("event-1")
    response = client.get(path, headers={"Authorization": authorization})
    assert body_of(response, 401) == error("Invalid Auth Token", "CF-InvalidAuthToken", 1000)


@pytest.mark.parametrize("path", [EVENTS, f"{EVENTS}/event-1"])
def test_a_token_without_a_read_scope_is_not_authorized(client, auth, path):
    make_event("event-1")
    # v3 has no scope error of its own (v2 answers CF-InsufficientScope 10007).
    assert body_of(client.get(path, headers=auth(WRITE)), 403) == error(
        "You are not authorized to perform the requested action", "CF-NotAuthorized", 10003)


# --- who sees what (V3.md 5) -------------------------------------------------------------------------------

def grant(client, admin, role_type, target_guid, user_guid=USER):
    target = "space" if role_type.startswith("space_") else "organization"
    response = client.post("/v3/roles", headers=admin, json={
        "type": role_type, "relationships": {"user": {"data": {"guid": user_guid}},
                                             target: {"data": {"guid": target_guid}}}})
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.fixture
def five_events(app):
    """CC's fixture (two spaces of org A, one of org B), an event of org A whose space is unknown, and one
    of the platform itself."""
    EventFactory(guid="in-space-a", space_guid="space-a", organization_guid="org-a")
    EventFactory(guid="in-space-b", space_guid="space-b", organization_guid="org-a")
    EventFactory(guid="in-org-b", space_guid="space-c", organization_guid="org-b")
    EventFactory(guid="org-a-only", space_guid=None, organization_guid="org-a")
    EventFactory(guid="platform", space_guid=None, organization_guid=None)


EVERY_EVENT = ["in-space-a", "in-space-b", "in-org-b", "org-a-only", "platform"]


@pytest.mark.parametrize("scope", [ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR])
def test_global_roles_see_everything(client, auth, five_events, scope):
    assert listed(client, auth(scope, user_id=USER)) == EVERY_EVENT
    assert body_of(client.get(f"{EVENTS}/platform", headers=auth(scope, user_id=USER)))["guid"] == "platform"


@pytest.mark.parametrize("role_type, target, expected", [
    ("space_developer", "space-a", ["in-space-a"]),
    ("space_auditor", "space-a", ["in-space-a"]),
    ("space_supporter", "space-a", ["in-space-a"]),
    ("organization_auditor", "org-a", ["in-space-a", "in-space-b", "org-a-only"]),
    ("organization_manager", "org-a", []),
    ("organization_billing_manager", "org-a", []),
    ("organization_user", "org-a", []),
    ("space_manager", "space-a", []),
])
def test_the_role_matrix(client, admin, auth, five_events, role_type, target, expected):
    grant(client, admin, role_type, target)
    reader = auth(READ, user_id=USER)
    body = body_of(client.get(EVENTS, headers=reader))
    assert [resource["guid"] for resource in body["resources"]] == expected
    assert body["pagination"]["total_results"] == len(expected)
    for guid in EVERY_EVENT:
        response = client.get(f"{EVENTS}/{guid}", headers=reader)
        if guid in expected:
            assert body_of(response)["guid"] == guid
        else:
            # The same answer as for an event that does not exist: v3 reveals nothing.
            assert body_of(response, 404) == NOT_FOUND


def test_no_role_sees_nothing(client, auth, five_events):
    reader = auth(READ, user_id=USER)
    assert body_of(client.get(EVENTS, headers=reader)) == {
        "pagination": {"total_results": 0, "total_pages": 1,
                       "first": {"href": f"{BASE}/v3/audit_events?page=1&per_page=50"},
                       "last": {"href": f"{BASE}/v3/audit_events?page=1&per_page=50"},
                       "next": None, "previous": None},
        "resources": [],
    }
    assert body_of(client.get(f"{EVENTS}/in-space-a", headers=reader), 404) == NOT_FOUND


def test_roles_rows_grant_as_the_api_does(client, auth, five_events):
    db.session.add(Role(target_type="space", target_guid="space-b", role="supporter", user_guid=USER,
                        created_at=T))
    db.session.add(Role(target_type="organization", target_guid="org-b", role="auditor", user_guid=USER,
                        created_at=T))
    db.session.commit()
    assert listed(client, auth(READ, user_id=USER)) == ["in-space-b", "in-org-b"]


def test_roles_of_another_user_grant_nothing(client, admin, auth, five_events):
    grant(client, admin, "space_developer", "space-a", user_guid="someone-else")
    assert listed(client, auth(READ, user_id=USER)) == []


def test_visibility_combines_with_filters(client, admin, auth, five_events):
    grant(client, admin, "organization_auditor", "org-a")
    reader = auth(READ, user_id=USER)
    assert listed(client, reader, "space_guids=space-b,space-c") == ["in-space-b"]
    assert listed(client, reader, "organization_guids=org-b") == []


def v2_listed(client, headers):
    body = body_of(client.get("/v2/events?results-per-page=100", headers=headers))
    return [resource["metadata"]["guid"] for resource in body["resources"]]


def test_v2_shows_a_supporter_nothing(client, admin, auth, five_events):
    # v2 has no supporter role (SPEC 7): only v3 lets supporters read their spaces' events.
    grant(client, admin, "space_supporter", "space-a")
    reader = auth(READ, user_id=USER)
    assert v2_listed(client, reader) == []
    assert listed(client, reader) == ["in-space-a"]
    grant(client, admin, "space_developer", "space-b")
    assert v2_listed(client, reader) == ["in-space-b"]
    assert listed(client, reader) == ["in-space-a", "in-space-b"]


# --- random platforms ------------------------------------------------------------------------------------

SPACE_READERS = {"v3": {"space_developer", "space_auditor", "space_supporter"},
                 "v2": {"space_developer", "space_auditor"}}
# Seeds whose platforms pass the check at the top of test_random_platforms.
SEEDS = [1, 5, 13]
ROLE_TYPES = ["space_developer", "space_auditor", "space_supporter", "space_manager", "organization_auditor",
              "organization_manager", "organization_billing_manager", "organization_user"]


def sees(dialect, scope, roles, event):
    """V3.md 5 (and SPEC 7 for v2), written out once more: may a reader with `scope` and `roles`
    ({(role type, target guid)}) see the event (space guid, org guid)?"""
    space, organization = event
    if scope != READ:
        return True
    return any(space is not None and target == space and role in SPACE_READERS[dialect]
               or organization is not None and target == organization and role == "organization_auditor"
               for role, target in roles)


def random_platform(rng):
    """({event guid: (space guid, org guid)}, {user: (scope, {(role type, target guid)})}) of a random
    platform: a few orgs and spaces, events across them, users with random roles and sometimes a global scope."""
    orgs = [f"org-{o}" for o in range(rng.randint(1, 4))]
    spaces = {f"{org}-space-{s}": org for org in orgs for s in range(rng.randint(1, 3))}
    events = {}
    for number in range(rng.randint(30, 80)):
        space = rng.choice(list(spaces))
        shape = rng.random()
        # Mostly space events; some of an org only, of the platform only, or of a space whose org is unknown.
        events[f"event-{number}"] = ((space, spaces[space]) if shape < 0.7 else (None, spaces[space]) if shape < 0.85
                                     else (None, None) if shape < 0.95 else (space, None))
    users = {}
    for number in range(rng.randint(6, 10)):
        roles = set()
        for _ in range(rng.randint(0, 4)):
            role_type = rng.choice(ROLE_TYPES)
            roles.add((role_type, rng.choice(list(spaces) if role_type.startswith("space_") else orgs)))
        users[f"user-{number}"] = (rng.choice([READ] * 5 + [ADMIN_READ_ONLY, GLOBAL_AUDITOR]), roles)
    return events, users


@pytest.mark.parametrize("seed", SEEDS)
def test_random_platforms(client, admin, auth, seed):
    """Each user sees, in v3 and in v2, exactly the events the rules let them see."""
    events, users = random_platform(random.Random(seed))
    # The seeds make platforms where the rules matter: readers who see some events but not all, and one
    # whom v2 and v3 answer differently (a supporter).
    seen = [{guid for guid, where in events.items() if sees("v3", *users[user], where)} for user in users]
    assert any(0 < len(guids) < len(events) for guids in seen)
    assert any(sees("v3", *users[user], where) != sees("v2", *users[user], where)
               for user in users for where in events.values())
    for guid, (space, organization) in events.items():
        EventFactory(guid=guid, space_guid=space, organization_guid=organization)
    for user, (_, roles) in users.items():
        for role_type, target in roles:
            grant(client, admin, role_type, target, user_guid=user)
    for user, (scope, roles) in users.items():
        headers = auth(scope, user_id=user)
        v3 = set(listed(client, headers, "per_page=5000"))
        v2 = set(v2_listed(client, headers))
        for guid, where in events.items():
            assert (guid in v3) == sees("v3", scope, roles, where), (user, scope, roles, guid, where)
            assert (guid in v2) == sees("v2", scope, roles, where), (user, scope, roles, guid, where)
