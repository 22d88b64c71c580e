"""Bearer tokens on /v2/events: who is let in, with which scopes, and the exact refusals real clients react to."""
import base64
import json
import time

import jwt
import pytest

from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE
from tests.conftest import SECRET
from tests.factories import EventFactory

NOT_AUTHENTICATED = {"description": "Authentication error", "error_code": "CF-NotAuthenticated", "code": 10002}
INVALID_TOKEN = {"description": "Invalid Auth Token", "error_code": "CF-InvalidAuthToken", "code": 1000}
INSUFFICIENT_SCOPE = {"description": "Your token lacks the necessary scopes to access this resource.",
                      "error_code": "CF-InsufficientScope", "code": 10007}
NOT_AUTHORIZED = {"description": "You are not authorized to perform the requested action",
                  "error_code": "CF-NotAuthorized", "code": 10003}
OTHER_SECRET = "another-secret-that-is-also-long-enough"
NEW_EVENT = {"type": "audit.app.restage", "actor": "u1", "actor_type": "user", "actee": "app-1", "actee_type": "app",
             "guid": "written-by-test"}


def uaa_claims(**changes):
    """Claims laid out as UAA issues them; a key set to None is left out."""
    now = int(time.time())
    claims = {"jti": "jti-1", "user_id": "u1", "user_name": "alice", "email": "alice@example.com",
              "scope": [ADMIN], "aud": ["cloud_controller"], "client_id": "cf", "iat": now, "exp": now + 86400}
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def signed(claims, secret=SECRET):
    return jwt.encode(claims, secret, algorithm="HS256")


def b64url(document):
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def tampered(token):
    """The token with one character of its signature changed (not the last, whose low bits are padding)."""
    flipped = "B" if token[-5] == "A" else "A"
    return token[:-5] + flipped + token[-4:]


def unsigned(claims):
    """A token that names no algorithm at all, built by hand (PyJWT will not make one)."""
    return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims)}."


def answer(response):
    return response.status_code, response.get_json()


def list_with(client, authorization):
    return answer(client.get("/v2/events", headers={"Authorization": authorization}))


def guids(response):
    return {resource["metadata"]["guid"] for resource in response.get_json()["resources"]}


@pytest.fixture
def two_events(app):
    EventFactory(guid="event-1", space_guid="space-1", organization_guid="org-1")
    EventFactory(guid="event-2", space_guid="space-2", organization_guid="org-2")


# --- 401 ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("GET", "/v2/events"), ("GET", "/v2/events/event-1"),
                                          ("POST", "/v2/events"), ("DELETE", "/v2/events/event-1")])
def test_no_authorization_header_is_not_authenticated(client, two_events, method, path):
    assert answer(client.open(path, method=method, json=NEW_EVENT)) == (401, NOT_AUTHENTICATED)


def test_an_unauthenticated_write_is_refused_before_its_body_is_read(client):
    response = client.post("/v2/events", data=b"{not json", content_type="application/json")
    assert answer(response) == (401, NOT_AUTHENTICATED)


@pytest.mark.parametrize("authorization", [
    pytest.param("bearer " + signed(uaa_claims(exp=int(time.time()) - 60)), id="expired"),
    pytest.param("bearer " + signed(uaa_claims(), OTHER_SECRET), id="other-secret"),
    pytest.param("bearer " + unsigned(uaa_claims()), id="alg-none"),
    pytest.param("bearer " + tampered(signed(uaa_claims())), id="tampered-signature"),
    pytest.param("bearer " + signed(uaa_claims()).rpartition(".")[0] + ".", id="signature-stripped"),
    pytest.param("bearer " + signed(uaa_claims(aud=["uaa", "openid"])), id="wrong-audience"),
    pytest.param("bearer " + signed(uaa_claims(aud=None)), id="missing-audience"),
    pytest.param("bearer " + signed(uaa_claims(exp=None)), id="missing-exp"),
    pytest.param("bearer not-a-jwt", id="malformed"),
    pytest.param("bearer a.b.c", id="malformed-segments"),
    pytest.param("bearer " + b64url({"alg": "HS256"}), id="header-only"),
    pytest.param("bearer", id="scheme-only"),
    pytest.param("bearer    ", id="scheme-and-spaces"),
    pytest.param("Basic dXNlcjpwYXNz", id="basic-scheme"),
    pytest.param("Token " + signed(uaa_claims()), id="token-scheme"),
    pytest.param(signed(uaa_claims()), id="no-scheme"),
])
def test_a_bad_token_is_an_invalid_auth_token(client, two_events, authorization):
    assert list_with(client, authorization) == (401, INVALID_TOKEN)


def signed_with_header(claims, header):
    """A token signed with the secret whatever its header says (PyJWT refuses to make odd headers)."""
    import hashlib
    import hmac

    signing_input = f"{b64url(header)}.{b64url(claims)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


@pytest.mark.parametrize("header", [
    ["HS256"], {"alg": ["HS256"]}, {"alg": 256}, {"alg": None}, {"alg": {"name": "HS256"}}, {"alg": True},
    {"alg": "HS256", "kid": 1}, {"alg": "HS256", "kid": ["a"]}, {"alg": "HS256", "kid": {"a": 1}},
    {"alg": "RS256", "kid": ["a"]}, "HS256", 7, None, {"alg": "HS256", "crit": "exp"},
], ids=repr)
def test_a_malformed_jose_header_is_an_invalid_auth_token(client, two_events, header):
    assert list_with(client, "bearer " + signed_with_header(uaa_claims(), header)) == (401, INVALID_TOKEN)
    # The unsigned form of the report too.
    assert list_with(client, f"bearer {b64url(header)}.e30.") == (401, INVALID_TOKEN)


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["digits", "3.5e9", True, [1], {"t": 1}], ids=repr)
def test_a_time_claim_that_is_not_a_number_is_refused_on_first_sight(client, two_events, claim, value):
    wrong = str(int(time.time()) + 3600) if value == "digits" else value
    token = "bearer " + signed(uaa_claims(**{claim: wrong}))
    # Twice: the second use would come from the cache of verified claims.
    assert list_with(client, token) == (401, INVALID_TOKEN)
    assert list_with(client, token) == (401, INVALID_TOKEN)


@pytest.mark.parametrize("claim, value", [("user_id", ["u1"]), ("user_id", 7), ("user_id", "u\x00"),
                                          ("user_name", {"a": 1}), ("client_id", ["cf"]), ("email", 1),
                                          ("user_id", "u" * 256)])
def test_a_name_claim_that_is_not_a_storable_string_is_refused(client, two_events, claim, value):
    assert list_with(client, "bearer " + signed(uaa_claims(scope=[READ], **{claim: value}))) == (401, INVALID_TOKEN)


def test_a_token_that_expires_is_refused_with_the_exact_body_clients_refresh_on(client, two_events):
    response = client.get("/v2/events", headers={"Authorization": "bearer " + signed(uaa_claims(exp=1))})
    assert response.status_code == 401
    assert response.data == b'{"description":"Invalid Auth Token","error_code":"CF-InvalidAuthToken","code":1000}'


@pytest.mark.parametrize("scheme", ["Bearer", "BEARER", "bearer", "bEaReR"])
def test_the_scheme_is_case_insensitive(client, token, two_events, scheme):
    response = client.get("/v2/events", headers={"Authorization": f"{scheme} {token(ADMIN)}"})
    assert response.status_code == 200
    assert guids(response) == {"event-1", "event-2"}


def test_a_uaa_shaped_token_signed_with_the_secret_is_accepted(client, two_events):
    status, _ = list_with(client, "bearer " + signed(uaa_claims(scope=[READ, "openid"])))
    assert status == 200


# --- reading -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("scopes", [(WRITE,), ("openid", "uaa.user"), ()])
def test_a_token_without_a_read_scope_is_insufficient(client, two_events, scopes):
    headers = {"Authorization": "bearer " + signed(uaa_claims(scope=list(scopes)))}
    assert answer(client.get("/v2/events", headers=headers)) == (403, INSUFFICIENT_SCOPE)
    assert answer(client.get("/v2/events/event-1", headers=headers)) == (403, INSUFFICIENT_SCOPE)


@pytest.mark.parametrize("scope", [ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR])
def test_global_roles_see_every_event(client, auth, two_events, scope):
    response = client.get("/v2/events", headers=auth(scope))
    assert response.status_code == 200
    assert guids(response) == {"event-1", "event-2"}
    assert client.get("/v2/events/event-2", headers=auth(scope)).get_json()["metadata"]["guid"] == "event-2"


def test_a_read_user_without_roles_gets_an_empty_list(client, auth, two_events):
    assert answer(client.get("/v2/events", headers=auth(READ, user_id="nobody"))) == (200, {
        "total_results": 0, "total_pages": 0, "prev_url": None, "next_url": None, "resources": []})


def test_a_read_user_may_not_show_an_event_it_cannot_see(client, auth, two_events):
    assert answer(client.get("/v2/events/event-1", headers=auth(READ, user_id="nobody"))) == (403, NOT_AUTHORIZED)


# --- writing and deleting ----------------------------------------------------------------------------

@pytest.mark.parametrize("scope", [ADMIN, WRITE])
def test_writers_may_write(client, auth, admin, scope):
    assert client.post("/v2/events", json=NEW_EVENT, headers=auth(scope)).status_code == 201
    assert client.get("/v2/events/written-by-test", headers=admin).status_code == 200


@pytest.mark.parametrize("scope", [ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ])
def test_readers_may_not_write(client, auth, admin, scope):
    response = client.post("/v2/events", json=NEW_EVENT, headers=auth(scope))
    assert answer(response) == (403, INSUFFICIENT_SCOPE)
    assert client.get("/v2/events/written-by-test", headers=admin).status_code == 404


@pytest.mark.parametrize("scope", [WRITE, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ])
def test_only_admins_may_delete(client, auth, admin, two_events, scope):
    assert answer(client.delete("/v2/events/event-1", headers=auth(scope))) == (403, INSUFFICIENT_SCOPE)
    assert client.get("/v2/events/event-1", headers=admin).status_code == 200
    assert client.delete("/v2/events/event-1", headers=admin).status_code == 204


# --- the token command -------------------------------------------------------------------------------

def issued_by_cli(app, *args):
    result = app.test_cli_runner().invoke(args=["token", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_the_token_command_prints_a_uaa_shaped_token(app):
    before = int(time.time())
    printed = issued_by_cli(app, "--scope", READ, "--scope", WRITE, "--user-id", "user-42", "--user-name", "bob")
    claims = jwt.decode(printed, SECRET, algorithms=["HS256"], audience="cloud_controller")
    assert claims["user_id"] == "user-42"
    assert claims["user_name"] == "bob"
    assert isinstance(claims["email"], str) and "@" in claims["email"]
    assert claims["scope"] == [READ, WRITE]
    assert isinstance(claims["aud"], list) and "cloud_controller" in claims["aud"]
    assert before - 1 <= claims["iat"] <= int(time.time()) < claims["exp"]
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert isinstance(claims["client_id"], str) and claims["client_id"]


def test_the_service_accepts_the_printed_token_with_its_scope_and_user(app, client, admin, two_events):
    headers = {"Authorization": "bearer " + issued_by_cli(app, "--scope", READ, "--user-id", "user-42")}
    assert guids(client.get("/v2/events", headers=headers)) == set()
    response = client.put("/v2/spaces/space-2/developers/user-42", headers=admin)
    assert response.status_code == 201, response.get_json()
    assert guids(client.get("/v2/events", headers=headers)) == {"event-2"}
    assert answer(client.post("/v2/events", json=NEW_EVENT, headers=headers)) == (403, INSUFFICIENT_SCOPE)


def test_the_default_printed_token_is_an_admin_token(app, client, two_events):
    headers = {"Authorization": "bearer " + issued_by_cli(app)}
    assert guids(client.get("/v2/events", headers=headers)) == {"event-1", "event-2"}
    assert client.delete("/v2/events/event-1", headers=headers).status_code == 204
