"""Who sees which events: CC's role matrix, role management, and a randomised property check."""
import random

import pytest

from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ
from tests.factories import EventFactory

USER = "user-a"


def as_user(auth, user_guid=USER):
    return auth(READ, user_id=user_guid)


def grant(client, admin, collection, guid, plural, user_guid=USER):
    response = client.put(f"/v2/{collection}/{guid}/{plural}/{user_guid}", headers=admin)
    assert response.status_code == 201, response.get_json()
    return response


def listed(client, headers, query=""):
    body = client.get(f"/v2/events{query}", headers=headers).get_json()
    return {resource["metadata"]["guid"] for resource in body["resources"]}


@pytest.fixture
def three_events(app):
    """CC's fixture: events in two spaces of org A and one in org B."""
    EventFactory(guid="in-space-a", space_guid="space-a", organization_guid="org-a")
    EventFactory(guid="in-space-b", space_guid="space-b", organization_guid="org-a")
    EventFactory(guid="in-org-b", space_guid="space-c", organization_guid="org-b")


@pytest.mark.parametrize("scope", [ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR])
def test_global_roles_see_everything(client, auth, three_events, scope):
    assert listed(client, auth(scope)) == {"in-space-a", "in-space-b", "in-org-b"}


@pytest.mark.parametrize("collection, guid, plural, expected", [
    ("organizations", "org-b", "auditors", {"in-org-b"}),
    ("spaces", "space-a", "auditors", {"in-space-a"}),
    ("spaces", "space-a", "developers", {"in-space-a"}),
    ("spaces", "space-a", "managers", set()),
    ("organizations", "org-a", "managers", set()),
])
def test_cc_role_matrix(client, admin, auth, three_events, collection, guid, plural, expected):
    grant(client, admin, collection, guid, plural)
    headers = as_user(auth)
    assert listed(client, headers) == expected
    body = client.get("/v2/events", headers=headers).get_json()
    assert body["total_results"] == len(expected)


def test_a_user_without_roles_sees_an_empty_list(client, auth, three_events):
    body = client.get("/v2/events", headers=as_user(auth)).get_json()
    assert body == {"total_results": 0, "total_pages": 0, "prev_url": None, "next_url": None, "resources": []}


def test_showing_an_invisible_event_is_not_authorized(client, admin, auth, three_events):
    grant(client, admin, "spaces", "space-a", "developers")
    headers = as_user(auth)
    assert client.get("/v2/events/in-space-a", headers=headers).status_code == 200
    response = client.get("/v2/events/in-space-b", headers=headers)
    assert (response.status_code, response.get_json()) == (403, {
        "description": "You are not authorized to perform the requested action",
        "error_code": "CF-NotAuthorized", "code": 10003})


def test_roles_of_another_user_grant_nothing(client, admin, auth, three_events):
    grant(client, admin, "spaces", "space-a", "developers", user_guid="someone-else")
    assert listed(client, as_user(auth)) == set()


def test_visibility_combines_with_filters(client, admin, auth, three_events):
    grant(client, admin, "organizations", "org-a", "auditors")
    assert listed(client, as_user(auth), "?q=space_guid:space-b") == {"in-space-b"}
    assert listed(client, as_user(auth), "?q=organization_guid:org-b") == set()


def test_granting_is_idempotent_and_revoking_takes_effect(client, admin, auth, three_events):
    grant(client, admin, "spaces", "space-a", "auditors")
    second = grant(client, admin, "spaces", "space-a", "auditors")
    assert second.get_json() == {
        "metadata": {"guid": "space-a", "url": "/v2/spaces/space-a"},
        "entity": {"developers_url": "/v2/spaces/space-a/developers", "auditors_url": "/v2/spaces/space-a/auditors",
                   "managers_url": "/v2/spaces/space-a/managers"},
    }
    holders = client.get("/v2/spaces/space-a/auditors", headers=admin).get_json()
    assert [resource["metadata"]["guid"] for resource in holders["resources"]] == [USER]
    assert holders["resources"][0]["metadata"]["url"] == f"/v2/users/{USER}"
    for _ in range(2):
        assert client.delete(f"/v2/spaces/space-a/auditors/{USER}", headers=admin).status_code == 204
    assert listed(client, as_user(auth)) == set()
    assert client.get("/v2/spaces/space-a/auditors", headers=admin).get_json()["total_results"] == 0


@pytest.mark.parametrize("scope", [ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ])
def test_only_admins_manage_roles(client, auth, scope):
    response = client.put(f"/v2/spaces/space-a/developers/{USER}", headers=auth(scope))
    assert (response.status_code, response.get_json()["error_code"]) == (403, "CF-InsufficientScope")
    response = client.delete(f"/v2/spaces/space-a/developers/{USER}", headers=auth(scope))
    assert response.status_code == 403


def test_organizations_have_no_developers(client, admin):
    response = client.put(f"/v2/organizations/org-a/developers/{USER}", headers=admin)
    assert (response.status_code, response.get_json()["error_code"]) == (404, "CF-NotFound")


def test_no_user_ever_sees_an_event_outside_their_spaces_and_orgs(client, admin, auth):
    """Random platforms, random roles: what each user receives is exactly what their roles allow."""
    rng = random.Random(20161)
    orgs = {f"org-{o}": [f"org-{o}-space-{s}" for s in range(3)] for o in range(3)}
    spaces = [(org, space) for org, org_spaces in orgs.items() for space in org_spaces]
    for number in range(40):
        org, space = rng.choice(spaces)
        EventFactory(guid=f"event-{number}", organization_guid=org,
                     space_guid=None if rng.random() < 0.2 else space)
    events = {f"event-{n}": None for n in range(40)}
    body = client.get("/v2/events?results-per-page=100", headers=admin).get_json()
    for resource in body["resources"]:
        entity = resource["entity"]
        events[resource["metadata"]["guid"]] = (entity["organization_guid"], entity["space_guid"])
    users = [f"user-{n}" for n in range(6)]
    readable = {user: (set(), set()) for user in users}  # (spaces, orgs) each user may read
    for user in users:
        for _ in range(rng.randint(0, 4)):
            if rng.random() < 0.5:
                _, space = rng.choice(spaces)
                plural = rng.choice(["developers", "auditors", "managers"])
                grant(client, admin, "spaces", space, plural, user)
                if plural != "managers":
                    readable[user][0].add(space)
            else:
                org = rng.choice(list(orgs))
                plural = rng.choice(["auditors", "managers"])
                grant(client, admin, "organizations", org, plural, user)
                if plural == "auditors":
                    readable[user][1].add(org)
    for user in users:
        my_spaces, my_orgs = readable[user]
        expected = {guid for guid, (org, space) in events.items() if space in my_spaces or org in my_orgs}
        assert listed(client, auth(READ, user_id=user), "?results-per-page=100") == expected
