"""POST/GET /v3/roles and GET/DELETE /v3/roles/{guid} (V3.md 5, research 6): CC's bodies and messages, and
one store of roles behind v2's role endpoints and v3's."""
import re
from datetime import datetime, timedelta, timezone

import pytest

from app.identity.tokens import ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE
from app.ops.cli import create_user
from tests.factories import EventFactory

BASE = "http://localhost"
TYPES = ('["organization_auditor", "organization_manager", "organization_billing_manager", "organization_user", '
         '"space_auditor", "space_manager", "space_developer", "space_supporter"]')
NOT_AUTHORIZED = (403, {"errors": [{"detail": "You are not authorized to perform the requested action",
                                    "title": "CF-NotAuthorized", "code": 10003}]})
ROLE_NOT_FOUND = (404, {"errors": [{"detail": "Role not found", "title": "CF-ResourceNotFound", "code": 10010}]})
WHOLE_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def answer(response):
    return response.status_code, response.get_json()


def unprocessable(detail):
    return 422, {"errors": [{"detail": detail, "title": "CF-UnprocessableEntity", "code": 10008}]}


def body_for(role_type, target, user=None, **user_data):
    """A POST /v3/roles body as cf CLI v8 marshals it: the user by guid, or by username (and origin)."""
    relationship = "space" if role_type.startswith("space_") else "organization"
    data = {"guid": user} if user is not None else user_data
    return {"type": role_type, "relationships": {"user": {"data": data}, relationship: {"data": {"guid": target}}}}


def create(client, headers, body):
    return client.post("/v3/roles", headers=headers, json=body)


def created(client, admin, role_type, target, user):
    response = create(client, admin, body_for(role_type, target, user))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def listed(client, headers, query=""):
    response = client.get(f"/v3/roles?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [(role["type"], role["relationships"]["user"]["data"]["guid"]) for role in response.get_json()["resources"]]


def name_space_and_org(client, admin):
    """Events that name space-1 "dev" and org-1 "acme" (the names duplicate-role messages give)."""
    events = [{"type": "audit.space.update", "actor": "a", "actor_type": "user", "actee": "space-1",
               "actee_type": "space", "actee_name": "dev", "space_guid": "space-1", "organization_guid": "org-1",
               "metadata": {"request": {}}},
              {"type": "audit.organization.update", "actor": "a", "actor_type": "user", "actee": "org-1",
               "actee_type": "organization", "actee_name": "acme", "organization_guid": "org-1",
               "metadata": {"request": {}}}]
    assert client.post("/v2/events", headers=admin, json=events).status_code == 201


def assert_recent(text):
    assert WHOLE_SECONDS.match(text), text
    when = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - when) < timedelta(minutes=1)


# 1. Creating roles.


def test_a_space_role_by_user_guid(client, admin):
    response = create(client, admin, body_for("space_developer", "space-1", "user-1"))
    role = response.get_json()
    assert response.status_code == 201
    assert role == {
        "guid": role["guid"],
        "created_at": role["created_at"],
        "updated_at": role["created_at"],
        "type": "space_developer",
        "relationships": {"user": {"data": {"guid": "user-1"}}, "space": {"data": {"guid": "space-1"}},
                          "organization": {"data": None}},
        "links": {"self": {"href": f"{BASE}/v3/roles/{role['guid']}"}, "user": {"href": f"{BASE}/v3/users/user-1"},
                  "space": {"href": f"{BASE}/v3/spaces/space-1"}},
    }
    assert list(role) == ["guid", "created_at", "updated_at", "type", "relationships", "links"]
    assert list(role["relationships"]) == ["user", "space", "organization"]
    assert list(role["links"]) == ["self", "user", "space"]
    assert_recent(role["created_at"])
    assert "Location" not in response.headers


def test_an_organization_role_by_username(app, client, admin):
    bob = create_user("bob", "secret-password", [READ])
    response = create(client, admin, body_for("organization_auditor", "org-1", username="bob"))
    role = response.get_json()
    assert response.status_code == 201, role
    assert role == {
        "guid": role["guid"],
        "created_at": role["created_at"],
        "updated_at": role["created_at"],
        "type": "organization_auditor",
        "relationships": {"user": {"data": {"guid": bob.guid}}, "organization": {"data": {"guid": "org-1"}},
                          "space": {"data": None}},
        "links": {"self": {"href": f"{BASE}/v3/roles/{role['guid']}"}, "user": {"href": f"{BASE}/v3/users/{bob.guid}"},
                  "organization": {"href": f"{BASE}/v3/organizations/org-1"}},
    }
    assert list(role["relationships"]) == ["user", "organization", "space"]
    # With the origin the built-in issuer's users have.
    response = create(client, admin, body_for("organization_user", "org-1", username="bob", origin="uaa"))
    assert (response.status_code, response.get_json()["relationships"]["user"]) == (201, {"data": {"guid": bob.guid}})


@pytest.mark.parametrize("user_data, detail", [
    ({"username": "nobody"}, "No user exists with the username 'nobody'."),
    ({"username": "nobody", "origin": "uaa"}, "No user exists with the username 'nobody' and origin 'uaa'."),
    ({"username": "bob", "origin": "ldap"}, "No user exists with the username 'bob' and origin 'ldap'."),
])
def test_an_unknown_username_is_unprocessable(app, client, admin, user_data, detail):
    create_user("bob", "secret-password", [READ])
    assert answer(create(client, admin, body_for("space_developer", "space-1", **user_data))) == unprocessable(detail)


def test_a_duplicate_space_role_names_user_and_space(app, client, admin):
    name_space_and_org(client, admin)
    create_user("bob", "secret-password", [READ])
    assert create(client, admin, body_for("space_developer", "space-1", username="bob")).status_code == 201
    expected = unprocessable("User 'bob' already has 'space_developer' role in space 'dev'.")
    assert answer(create(client, admin, body_for("space_developer", "space-1", username="bob"))) == expected


def test_a_duplicate_organization_role_names_user_and_organization(client, admin):
    name_space_and_org(client, admin)
    created(client, admin, "organization_manager", "org-1", "user-1")
    # A user the built-in issuer does not know is named by its guid.
    assert answer(create(client, admin, body_for("organization_manager", "org-1", "user-1"))) == unprocessable(
        "User 'user-1' already has 'organization_manager' role in organization 'acme'.")


def test_a_duplicate_in_an_unknown_space_names_it_by_guid(app, client, admin):
    bob = create_user("bob", "secret-password", [READ])
    created(client, admin, "space_auditor", "space-9", bob.guid)
    # Created by guid, reported by username (CC's presentation_name).
    assert answer(create(client, admin, body_for("space_auditor", "space-9", bob.guid))) == unprocessable(
        "User 'bob' already has 'space_auditor' role in space 'space-9'.")


def test_the_user_link_escapes_the_guid(client, admin):
    # CC writes /v3/users/<CGI.escape(guid)>: a ':' is %3A.
    role = created(client, admin, "space_developer", "space-1", "ldap:bob")
    assert role["links"]["user"] == {"href": f"{BASE}/v3/users/ldap%3Abob"}
    assert role["relationships"]["user"] == {"data": {"guid": "ldap:bob"}}


def test_the_same_user_and_target_may_hold_other_roles(client, admin):
    created(client, admin, "space_developer", "space-1", "user-1")
    created(client, admin, "space_auditor", "space-1", "user-1")
    created(client, admin, "space_developer", "space-2", "user-1")
    assert len(listed(client, admin)) == 3


SPACE = {"data": {"guid": "space-1"}}
ORG = {"data": {"guid": "org-1"}}
USER = {"data": {"guid": "user-1"}}
SHAPE = '"data": {"guid": "valid-guid"}'


@pytest.mark.parametrize("body, detail", [
    ({"type": "space_developer", "relationships": {"user": USER, "space": SPACE}, "foo": 1}, "Unknown field(s): 'foo'"),
    ({"relationships": {"user": USER, "space": SPACE}}, f"Type must be one of the allowed types {TYPES}"),
    ({"type": "space_owner", "relationships": {"user": USER, "space": SPACE}},
     f"Type must be one of the allowed types {TYPES}"),
    ({"type": "space_developer"}, "Relationships 'relationships' is not an object"),
    ({"type": "space_developer", "relationships": "x"}, "Relationships 'relationships' is not an object"),
    ({"type": "space_developer", "relationships": {}},
     "Relationships 'relationships' must include one or more valid relationships"),
    ({"type": "space_developer", "relationships": {"space": SPACE}},
     "Relationships User can't be blank, Relationships User must have a username or guid specified"),
    ({"type": "space_developer", "relationships": {"user": USER}},
     "Relationships must specify either a space or an organization."),
    ({"type": "space_developer", "relationships": {"user": USER, "space": SPACE, "organization": ORG}},
     "Relationships cannot specify both an organization and a space."),
    ({"type": "organization_user", "relationships": {"user": USER, "space": SPACE}},
     "Relationships Space cannot be provided with the organization role type: 'organization_user'."),
    ({"type": "space_developer", "relationships": {"user": USER, "organization": ORG}},
     "Relationships Organization cannot be provided with the space role type: 'space_developer'."),
    ({"type": "space_developer", "relationships": {"user": {"data": {"guid": "user-1", "username": "bob"}},
                                                   "space": SPACE}},
     "Relationships Username cannot be specified when identifying user by guid"),
    ({"type": "space_developer", "relationships": {"user": {"data": {"guid": "user-1", "origin": "uaa"}},
                                                   "space": SPACE}},
     "Relationships User origin cannot be specified without specifying the username"),
    ({"type": "space_developer", "relationships": {"user": USER, "space": {"guid": "space-1"}}},
     f'Relationships Space must be structured like this: "space: {{{SHAPE}}}"'),
    ({"type": "space_developer", "relationships": {"user": USER, "space": {"data": {"guid": 7}}}},
     f'Relationships Space must be structured like this: "space: {{{SHAPE}}}"'),
    # As CC's ToOneRelationshipValidator: a relationship is its data, and a target's data its guid, only.
    ({"type": "space_developer", "relationships": {"user": USER, "space": {"data": {"guid": "space-1", "x": 1}}}},
     f'Relationships Space must be structured like this: "space: {{{SHAPE}}}"'),
    ({"type": "space_developer", "relationships": {"user": USER, "space": {**SPACE, "links": {}}}},
     f'Relationships Space must be structured like this: "space: {{{SHAPE}}}"'),
    ({"type": "space_developer", "relationships": {"user": {"data": {"guid": "user-1", "x": 1}}, "space": SPACE}},
     f'Relationships User must be structured like this: "user: {{{SHAPE}}}"'),
    # A key counts by being there, as in CC, whatever its value.
    ({"type": "space_developer", "relationships": {"user": {"data": {"guid": None, "username": "bob"}},
                                                   "space": SPACE}},
     "Relationships Username cannot be specified when identifying user by guid"),
    # CC's NoAdditionalKeysValidator on the relationships.
    ({"type": "space_developer", "relationships": {"user": USER, "space": SPACE, "app": SPACE}},
     "Relationships Unknown field(s): 'app'"),
    # A null user is no user (it was a server error).
    ({"type": "space_developer", "relationships": {"user": None, "space": SPACE}},
     "Relationships User can't be blank, Relationships User must have a username or guid specified"),
    # Several mistakes, one error, in CC's validator order: fields, relationships, type.
    ({"foo": 1, "type": "nope"},
     f"Unknown field(s): 'foo', Relationships 'relationships' is not an object, Type must be one of the allowed "
     f"types {TYPES}"),
])
def test_validation_messages(client, admin, body, detail):
    assert answer(create(client, admin, body)) == unprocessable(detail)
    assert listed(client, admin) == []


@pytest.mark.parametrize("scope", [READ, ADMIN_READ_ONLY, GLOBAL_AUDITOR])
def test_only_admins_create_roles(client, admin, auth, scope):
    assert answer(create(client, auth(scope, user_id="someone"), body_for("space_developer", "space-1",
                                                                          "user-1"))) == NOT_AUTHORIZED
    # Before looking at the body.
    assert answer(create(client, auth(scope, user_id="someone"), {"foo": 1})) == NOT_AUTHORIZED
    assert listed(client, admin) == []


def test_an_organization_manager_does_not_create_roles_either(client, admin, auth):
    # CC lets org managers assign roles in their org; here v3 is admin only, as v2's role endpoints
    # (V3.md 5: deliberate difference).
    created(client, admin, "organization_manager", "org-1", "manager")
    response = create(client, auth(READ, user_id="manager"), body_for("organization_user", "org-1", "user-1"))
    assert answer(response) == NOT_AUTHORIZED


def test_a_token_without_a_read_scope_is_not_authorized(client, auth):
    assert answer(create(client, auth(WRITE), body_for("space_developer", "space-1", "user-1"))) == NOT_AUTHORIZED
    assert answer(client.get("/v3/roles", headers=auth(WRITE))) == NOT_AUTHORIZED


# 2. Listing and showing roles.


@pytest.fixture
def roles(client, admin):
    """Five roles, created in this order."""
    return {
        "r1": created(client, admin, "space_developer", "space-1", "user-1"),
        "r2": created(client, admin, "space_auditor", "space-1", "user-2"),
        "r3": created(client, admin, "organization_user", "org-1", "user-1"),
        "r4": created(client, admin, "organization_manager", "org-2", "user-2"),
        "r5": created(client, admin, "space_developer", "space-2", "user-2"),
    }


def link(query):
    return {"href": f"{BASE}/v3/roles?{query}"}


def test_the_list_envelope_always_carries_the_order(client, admin, roles):
    response = client.get("/v3/roles?per_page=2", headers=admin)
    body = response.get_json()
    # CC defaults roles to order_by=created_at and writes it in every link.
    assert body == {
        "pagination": {
            "total_results": 5,
            "total_pages": 3,
            "first": link("order_by=%2Bcreated_at&page=1&per_page=2"),
            "last": link("order_by=%2Bcreated_at&page=3&per_page=2"),
            "next": link("order_by=%2Bcreated_at&page=2&per_page=2"),
            "previous": None,
        },
        "resources": [roles["r1"], roles["r2"]],
    }
    last = client.get(body["pagination"]["last"]["href"], headers=admin).get_json()
    assert last["resources"] == [roles["r5"]]
    assert (last["pagination"]["next"], last["pagination"]["previous"]) == (
        None, link("order_by=%2Bcreated_at&page=2&per_page=2"))


def test_an_empty_list(client, admin):
    assert answer(client.get("/v3/roles", headers=admin)) == (200, {
        "pagination": {"total_results": 0, "total_pages": 1, "first": link("order_by=%2Bcreated_at&page=1&per_page=50"),
                       "last": link("order_by=%2Bcreated_at&page=1&per_page=50"), "next": None, "previous": None},
        "resources": []})


@pytest.mark.parametrize("query, expected", [
    ("", ["r1", "r2", "r3", "r4", "r5"]),
    ("types=space_developer", ["r1", "r5"]),
    ("types=space_developer,organization_user", ["r1", "r3", "r5"]),
    ("user_guids=user-1", ["r1", "r3"]),
    ("space_guids=space-1", ["r1", "r2"]),
    ("space_guids=space-1,space-2&types=space_developer", ["r1", "r5"]),
    # Only organization roles are in an organization (a space role names no organization).
    ("organization_guids=org-1,org-2", ["r3", "r4"]),
    ("organization_guids=org-2&user_guids=user-1", []),
    ("order_by=-created_at", ["r5", "r4", "r3", "r2", "r1"]),
    ("order_by=created_at&user_guids=user-2", ["r2", "r4", "r5"]),
])
def test_list_filters(client, admin, roles, query, expected):
    body = client.get(f"/v3/roles?{query}", headers=admin).get_json()
    assert body["resources"] == [roles[name] for name in expected]
    assert body["pagination"]["total_results"] == len(expected)


def test_guids_filter(client, admin, roles):
    query = f"guids={roles['r4']['guid']},{roles['r2']['guid']}"
    body = client.get(f"/v3/roles?{query}", headers=admin).get_json()
    assert body["resources"] == [roles["r2"], roles["r4"]]


def test_filters_are_repeated_in_the_links(client, admin, roles):
    body = client.get("/v3/roles?types=space_developer,space_auditor&user_guids=user-2&per_page=1",
                      headers=admin).get_json()
    assert body["pagination"]["next"] == link(
        "order_by=%2Bcreated_at&page=2&per_page=1&types=space_developer%2Cspace_auditor&user_guids=user-2")
    descending = client.get("/v3/roles?order_by=-created_at&per_page=1", headers=admin).get_json()
    assert descending["pagination"]["next"] == link("order_by=-created_at&page=2&per_page=1")


def test_a_role_is_shown_as_listed(client, admin, roles):
    for role in roles.values():
        assert answer(client.get(f"/v3/roles/{role['guid']}", headers=admin)) == (200, role)


def test_an_unknown_role_is_not_found(client, admin):
    assert answer(client.get("/v3/roles/nope", headers=admin)) == ROLE_NOT_FOUND


@pytest.mark.parametrize("scope", [ADMIN_READ_ONLY, GLOBAL_AUDITOR])
def test_global_readers_see_every_role(client, auth, roles, scope):
    headers = auth(scope, user_id="someone")
    assert len(listed(client, headers)) == 5
    assert client.get(f"/v3/roles/{roles['r4']['guid']}", headers=headers).status_code == 200


def test_a_user_sees_the_roles_of_their_spaces_and_organizations(client, admin, auth, roles):
    # user-1 holds roles in space-1 and org-1: it sees those of space-1 and org-1, including user-2's.
    user = auth(READ, user_id="user-1")
    assert listed(client, user) == [("space_developer", "user-1"), ("space_auditor", "user-2"),
                                    ("organization_user", "user-1")]
    assert answer(client.get(f"/v3/roles/{roles['r2']['guid']}", headers=user)) == (200, roles["r2"])
    # A role it may not read is not found, as an unknown one.
    assert answer(client.get(f"/v3/roles/{roles['r5']['guid']}", headers=user)) == ROLE_NOT_FOUND
    assert answer(client.get(f"/v3/roles/{roles['r4']['guid']}", headers=user)) == ROLE_NOT_FOUND
    assert listed(client, auth(READ, user_id="stranger")) == []


def test_an_organization_manager_sees_the_roles_of_its_spaces(client, admin, auth, roles):
    # CC's readable_roles: roles in the spaces the caller may read, and an organization manager reads every
    # space of its organization (research 6; directory.py shows them to it in /v3/spaces).
    name_space_and_org(client, admin)  # the store knows space-1 is in org-1
    created(client, admin, "organization_manager", "org-1", "boss")
    boss = auth(READ, user_id="boss")
    assert guids_of(client, boss, "/v3/spaces") == ["space-1"]
    assert listed(client, boss, "space_guids=space-1") == [("space_developer", "user-1"), ("space_auditor", "user-2")]
    assert answer(client.get(f"/v3/roles/{roles['r1']['guid']}", headers=boss)) == (200, roles["r1"])


def guids_of(client, headers, path):
    return [resource["guid"] for resource in client.get(path, headers=headers).get_json()["resources"]]


LIST_KEYS = ("'page', 'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'organization_guids', "
             "'space_guids', 'user_guids', 'types', 'include'")


@pytest.mark.parametrize("query, detail", [
    ("foo=1", f"Unknown query parameter(s): 'foo'. Valid parameters are: {LIST_KEYS}"),
    ("page=0", "Page must be a positive integer"),
    ("per_page=5001", "Per page must be between 1 and 5000"),
    ("order_by=type", "Order by can only be: 'created_at', 'updated_at'"),
    ("created_ats=yesterday", "Created ats has an invalid timestamp format. Timestamps should be formatted as "
                              "'YYYY-MM-DDThh:mm:ssZ'"),
    ("types[x]=space_developer", "Types must be an array"),
])
def test_list_parameter_errors_are_unprocessable_without_prefix(client, admin, query, detail):
    # CC's roles controller calls unprocessable!, not invalid_param! (research 1.6).
    assert answer(client.get(f"/v3/roles?{query}", headers=admin)) == unprocessable(detail)


def test_show_parameter_errors_are_unprocessable_without_prefix(client, admin, roles):
    # CC's RoleShowMessage takes only include; anything else is refused with 422 (research 1.6).
    response = client.get(f"/v3/roles/{roles['r1']['guid']}?foo=1", headers=admin)
    assert answer(response) == unprocessable("Unknown query parameter(s): 'foo'. Valid parameters are: 'include'")
    response = client.get(f"/v3/roles/{roles['r1']['guid']}?include=user,users,user", headers=admin)
    assert answer(response) == unprocessable(
        "Invalid included resource: 'users'. Valid included resources are: 'user', 'organization', 'space', "
        "Duplicate included resource: 'user'")


def test_include_adds_the_users_organizations_and_spaces_in_ccs_order(app, client, admin, roles):
    # cf CLI's space-users and org-users read usernames only from included.users.
    bob = create_user("bob", "pw", [])
    bobs = created(client, admin, "space_supporter", "space-1", bob.guid)
    EventFactory(type="audit.space.create", actee="space-1", actee_type="space", actee_name="dev",
                 space_guid="space-1", organization_guid="org-1")
    body = client.get("/v3/roles?include=space,user&space_guids=space-1&order_by=-created_at",
                      headers=admin).get_json()
    assert list(body) == ["pagination", "resources", "included"]
    assert list(body["included"]) == ["users", "spaces"]
    users = body["included"]["users"]
    assert [(user["guid"], user["username"], user["presentation_name"], user["origin"]) for user in users] == [
        (bob.guid, "bob", "bob", "uaa"), ("user-2", None, "user-2", None), ("user-1", None, "user-1", None)]
    assert list(users[0]) == ["guid", "created_at", "updated_at", "username", "presentation_name", "origin",
                              "metadata", "links"]
    assert [(space["guid"], space["name"]) for space in body["included"]["spaces"]] == [("space-1", "dev")]
    assert body["pagination"]["first"]["href"].endswith("include=space%2Cuser&order_by=-created_at&page=1&per_page=50"
                                                        "&space_guids=space-1")
    shown = client.get(f"/v3/roles/{bobs['guid']}?include=organization", headers=admin).get_json()
    assert shown["included"] == {"organizations": []}  # a space role names no organization


# 3. Deleting roles.


def test_an_admin_deletes_a_role(client, admin, roles):
    response = client.delete(f"/v3/roles/{roles['r1']['guid']}", headers=admin)
    # Done at once: 204 with no job to poll (both cf CLI and cloudfoundry-client take it).
    assert (response.status_code, response.data, response.headers.get("Location")) == (204, b"", None)
    assert answer(client.get(f"/v3/roles/{roles['r1']['guid']}", headers=admin)) == ROLE_NOT_FOUND
    assert len(listed(client, admin)) == 4
    assert answer(client.delete(f"/v3/roles/{roles['r1']['guid']}", headers=admin)) == ROLE_NOT_FOUND


def test_deleting_an_unknown_role_is_not_found(client, admin):
    assert answer(client.delete("/v3/roles/nope", headers=admin)) == ROLE_NOT_FOUND


@pytest.mark.parametrize("scope", [READ, ADMIN_READ_ONLY, GLOBAL_AUDITOR])
def test_others_may_not_delete(client, admin, auth, roles, scope):
    # user-1 reads r2 (a role of its space), but may not delete it.
    response = client.delete(f"/v3/roles/{roles['r2']['guid']}", headers=auth(scope, user_id="user-1"))
    assert answer(response) == NOT_AUTHORIZED
    assert len(listed(client, admin)) == 5


def test_a_role_the_caller_cannot_read_is_not_found_on_delete(client, admin, auth, roles):
    response = client.delete(f"/v3/roles/{roles['r5']['guid']}", headers=auth(READ, user_id="user-1"))
    assert answer(response) == ROLE_NOT_FOUND
    assert len(listed(client, admin)) == 5


# 4. One store behind v2 and v3.


def v2_holders(client, admin, path):
    body = client.get(path, headers=admin).get_json()
    return [resource["metadata"]["guid"] for resource in body["resources"]]


@pytest.mark.parametrize("v2_path, role_type, target", [
    ("/v2/spaces/space-1/developers/user-1", "space_developer", "space-1"),
    ("/v2/spaces/space-1/auditors/user-1", "space_auditor", "space-1"),
    ("/v2/spaces/space-1/managers/user-1", "space_manager", "space-1"),
    ("/v2/organizations/org-1/users/user-1", "organization_user", "org-1"),
    ("/v2/organizations/org-1/auditors/user-1", "organization_auditor", "org-1"),
    ("/v2/organizations/org-1/managers/user-1", "organization_manager", "org-1"),
    ("/v2/organizations/org-1/billing_managers/user-1", "organization_billing_manager", "org-1"),
])
def test_a_role_put_through_v2_is_a_v3_role(client, admin, v2_path, role_type, target):
    assert client.put(v2_path, headers=admin).status_code == 201
    target_filter = "space_guids" if role_type.startswith("space_") else "organization_guids"
    body = client.get(f"/v3/roles?{target_filter}={target}", headers=admin).get_json()
    assert [(r["type"], r["relationships"]["user"]["data"]["guid"]) for r in body["resources"]] == [
        (role_type, "user-1")]
    role = body["resources"][0]
    assert role["relationships"][role_type.split("_")[0]] == {"data": {"guid": target}}
    # v3 sees it as a role like its own: a second grant is a duplicate.
    assert create(client, admin, body_for(role_type, target, "user-1")).status_code == 422
    # And a v3 delete removes it from v2's lists.
    assert client.delete(f"/v3/roles/{role['guid']}", headers=admin).status_code == 204
    assert v2_holders(client, admin, v2_path.rsplit("/", 1)[0]) == []


@pytest.mark.parametrize("role_type, target, v2_list", [
    ("space_developer", "space-1", "/v2/spaces/space-1/developers"),
    ("space_auditor", "space-1", "/v2/spaces/space-1/auditors"),
    ("organization_user", "org-1", "/v2/organizations/org-1/users"),
    ("organization_billing_manager", "org-1", "/v2/organizations/org-1/billing_managers"),
])
def test_a_role_posted_through_v3_is_listed_and_removed_by_v2(client, admin, role_type, target, v2_list):
    created(client, admin, role_type, target, "user-1")
    assert v2_holders(client, admin, v2_list) == ["user-1"]
    # v2's PUT of the same role changes nothing (it is idempotent, as CC's).
    assert client.put(f"{v2_list}/user-1", headers=admin).status_code == 201
    assert len(listed(client, admin)) == 1
    assert client.delete(f"{v2_list}/user-1", headers=admin).status_code == 204
    assert listed(client, admin) == []


def test_a_space_supporter_is_a_v3_role_only(client, admin):
    # v2 has no supporters: the role is kept, and v2's lists of the space show none of it.
    created(client, admin, "space_supporter", "space-1", "user-1")
    assert listed(client, admin, "types=space_supporter") == [("space_supporter", "user-1")]
    for plural in ("developers", "auditors", "managers"):
        assert v2_holders(client, admin, f"/v2/spaces/space-1/{plural}") == []
