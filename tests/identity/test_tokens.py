"""Token verification with a UAA's keys, the built-in issuer, and discovery."""
import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.base.config import ConfigError
from app.identity.tokens import ADMIN, READ
from app.ops.cli import create_user
from tests.conftest import SECRET, make_app

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def uaa_claims(**changes):
    now = int(time.time())
    claims = {"jti": "j1", "user_id": "u1", "user_name": "alice", "email": "alice@example.com", "scope": [ADMIN],
              "aud": ["cloud_controller"], "client_id": "cf", "iat": now, "exp": now + 600}
    return {**claims, **changes}


def bearer(token):
    return {"Authorization": f"bearer {token}"}


def status_with(app, token):
    return app.test_client().get("/v2/events", headers=bearer(token)).status_code


@pytest.fixture
def uaa_app(session_app, tmp_path):
    """An app that trusts a UAA's RSA key (PEM) and an EC key (JWKS, by kid), and no HS256 secret."""
    jwks = {"keys": [
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key())), "kid": "rsa-1", "alg": "RS256"},
        {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key())), "kid": "ec-1", "alg": "ES256"},
    ]}
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks))
    return make_app(session_app.config["SQLALCHEMY_DATABASE_URI"], TOKEN_SECRET=None,
                    TOKEN_JWKS_FILE=str(jwks_file))


def test_rs256_and_es256_tokens_from_the_uaa_are_accepted(uaa_app):
    assert status_with(uaa_app, jwt.encode(uaa_claims(), RSA_KEY, "RS256", headers={"kid": "rsa-1"})) == 200
    assert status_with(uaa_app, jwt.encode(uaa_claims(), EC_KEY, "ES256", headers={"kid": "ec-1"})) == 200


@pytest.mark.parametrize("make_token", [
    pytest.param(lambda: jwt.encode(uaa_claims(), RSA_KEY, "RS256", headers={"kid": "ec-1"}), id="key-of-other-kid"),
    pytest.param(lambda: jwt.encode(uaa_claims(exp=int(time.time()) - 5), RSA_KEY, "RS256",
                                    headers={"kid": "rsa-1"}), id="expired"),
    pytest.param(lambda: jwt.encode(uaa_claims(nbf=int(time.time()) + 600), RSA_KEY, "RS256",
                                    headers={"kid": "rsa-1"}), id="not-yet-valid"),
    pytest.param(lambda: jwt.encode(uaa_claims(aud=["uaa"]), RSA_KEY, "RS256", headers={"kid": "rsa-1"}),
                 id="wrong-audience"),
    pytest.param(lambda: jwt.encode(uaa_claims(), SECRET, "HS256"), id="hs256-when-no-secret-is-configured"),
    pytest.param(lambda: _tampered(jwt.encode(uaa_claims(scope=[READ]), RSA_KEY, "RS256", headers={"kid": "rsa-1"})),
                 id="tampered"),
    pytest.param(lambda: _unsigned(uaa_claims()), id="alg-none"),
    pytest.param(lambda: _hmac_signed_with(public_pem(RSA_KEY), uaa_claims()), id="algorithm-confusion"),
])
def test_bad_uaa_tokens_are_invalid(uaa_app, make_token):
    response = uaa_app.test_client().get("/v2/events", headers=bearer(make_token()))
    assert (response.status_code, response.get_json()) == (401, {
        "description": "Invalid Auth Token", "error_code": "CF-InvalidAuthToken", "code": 1000})


def _segment(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _tampered(token):
    header, _, signature = token.split(".")
    return ".".join([header, _segment(uaa_claims(scope=[ADMIN])), signature])


def _unsigned(claims):
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."


def _hmac_signed_with(key_text, claims):
    """An HS256 token keyed with the public key's PEM text: the classic algorithm-confusion attack."""
    import hashlib
    import hmac

    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': 'rsa-1'})}.{_segment(claims)}"
    signature = hmac.new(key_text.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_a_pem_public_key_is_enough(session_app):
    app = make_app(session_app.config["SQLALCHEMY_DATABASE_URI"], TOKEN_SECRET=None,
                   TOKEN_PUBLIC_KEY=public_pem(EC_KEY).replace("\n", "\\n"))
    assert status_with(app, jwt.encode(uaa_claims(), EC_KEY, "ES256")) == 200
    assert status_with(app, jwt.encode(uaa_claims(), RSA_KEY, "RS256")) == 401


@pytest.mark.parametrize("config, message", [
    ({"TOKEN_SECRET": None}, "no token keys"),
    ({"TOKEN_PUBLIC_KEY": "not a key"}, "TOKEN_PUBLIC_KEY is not a PEM public key"),
    ({"TOKEN_JWKS_FILE": "/nonexistent/jwks.json"}, "TOKEN_JWKS_FILE could not be read"),
])
def test_bad_key_configuration_fails_fast(session_app, config, message):
    with pytest.raises(ConfigError, match=message):
        make_app(session_app.config["SQLALCHEMY_DATABASE_URI"], **config)


# The built-in issuer.

CF_CLIENT = {"Authorization": "Basic " + base64.b64encode(b"cf:").decode()}


@pytest.fixture
def alice(app):
    return create_user("alice", "wonderland", [READ, ADMIN], email="alice@example.com")


def token_request(client, headers=CF_CLIENT, **form):
    return client.post("/oauth/token", data=form, headers=headers)


def test_password_grant_issues_uaa_shaped_tokens(client, alice):
    response = token_request(client, grant_type="password", username="alice", password="wonderland", scope="")
    body = response.get_json()
    assert response.status_code == 200
    assert list(body) == ["access_token", "token_type", "refresh_token", "expires_in", "scope", "jti"]
    assert (body["token_type"], body["scope"], body["expires_in"]) == ("bearer", f"{READ} {ADMIN}", 3600)
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], audience="cloud_controller")
    assert (claims["user_id"], claims["user_name"], claims["email"], claims["scope"], claims["jti"]) == (
        alice.guid, "alice", "alice@example.com", [READ, ADMIN], body["jti"])
    assert client.get("/v2/events", headers=bearer(body["access_token"])).status_code == 200
    # A refresh token is not a bearer token.
    assert client.get("/v2/events", headers=bearer(body["refresh_token"])).status_code == 401


def test_requested_scopes_narrow_the_token(client, alice):
    body = token_request(client, grant_type="password", username="alice", password="wonderland",
                         scope=READ).get_json()
    assert body["scope"] == READ
    refused = token_request(client, grant_type="password", username="alice", password="wonderland",
                            scope="cloud_controller.global_auditor")
    assert (refused.status_code, refused.get_json()["error"]) == (400, "invalid_scope")


def test_refresh_grant_issues_a_new_access_token(client, alice):
    first = token_request(client, grant_type="password", username="alice", password="wonderland").get_json()
    response = token_request(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert response.status_code == 200
    second = response.get_json()
    assert second["access_token"] != first["access_token"] and second["refresh_token"]
    bad = token_request(client, grant_type="refresh_token", refresh_token=first["access_token"])
    assert (bad.status_code, bad.get_json()) == (401, {"error": "invalid_token",
                                                       "error_description": "Invalid refresh token"})


def test_client_credentials_grant(client, app):
    result = app.test_cli_runner().invoke(args=["clients", "create", "collector", "--secret", "s3cret",
                                                "--scope", "cloud_controller.admin_read_only"])
    assert result.exit_code == 0, result.output
    collector = {"Authorization": "Basic " + base64.b64encode(b"collector:s3cret").decode()}
    body = token_request(client, collector, grant_type="client_credentials").get_json()
    assert "refresh_token" not in body
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], audience="cloud_controller")
    assert (claims["client_id"], claims["scope"], "user_id" in claims) == (
        "collector", ["cloud_controller.admin_read_only"], False)
    assert client.get("/v2/app_usage_events", headers=bearer(body["access_token"])).status_code == 200
    # The cf client may not use client_credentials, and a wrong secret is refused.
    assert token_request(client, grant_type="client_credentials").get_json()["error"] == "invalid_client"
    wrong = {"Authorization": "Basic " + base64.b64encode(b"collector:nope").decode()}
    assert token_request(client, wrong, grant_type="client_credentials").status_code == 401


@pytest.mark.parametrize("form, headers, status, error", [
    ({"grant_type": "password", "username": "alice", "password": "nope"}, CF_CLIENT, 401, "unauthorized"),
    ({"grant_type": "password", "username": "nobody", "password": "x"}, CF_CLIENT, 401, "unauthorized"),
    ({"grant_type": "implicit"}, CF_CLIENT, 400, "unsupported_grant_type"),
    ({"grant_type": "password", "username": "alice", "password": "wonderland"}, {}, 401, "unauthorized"),
])
def test_token_errors_have_uaa_shape(client, alice, form, headers, status, error):
    response = token_request(client, headers, **form)
    assert response.status_code == status
    assert list(response.get_json()) == ["error", "error_description"]
    assert response.get_json()["error"] == error


def test_repeated_failed_logins_are_slowed_down(client, alice):
    for _ in range(3):
        assert token_request(client, grant_type="password", username="alice", password="bad").status_code == 401
    token_request(client, grant_type="password", username="alice", password="bad")
    # Now even the right password must wait.
    response = token_request(client, grant_type="password", username="alice", password="wonderland")
    assert response.status_code == 401
    assert response.get_json()["error_description"].startswith("Too many failed logins: try again in ")


def test_the_issuer_is_off_when_a_uaa_is_configured(uaa_app):
    response = uaa_app.test_client().post("/oauth/token", data={"grant_type": "password"}, headers=CF_CLIENT)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_users_create_command(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "bob", "--password", "pw", "--scope", READ])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    body = token_request(client, grant_type="password", username="bob", password="pw").get_json()
    assert body["scope"] == READ


def test_the_access_token_lifetime_is_configurable(client, app, alice, monkeypatch):
    monkeypatch.setitem(app.config, "ACCESS_TOKEN_VALIDITY", 600)
    body = token_request(client, grant_type="password", username="alice", password="wonderland").get_json()
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], audience="cloud_controller")
    assert body["expires_in"] == 600 and claims["exp"] - claims["iat"] == 600


@pytest.mark.parametrize("value, message", [("59", "between 60 and"), ("soon", "must be a number")])
def test_a_bad_access_token_lifetime_stops_the_service(session_app, monkeypatch, value, message):
    monkeypatch.setenv("ACCESS_TOKEN_VALIDITY", value)
    with pytest.raises(ConfigError, match=message):
        make_app(session_app.config["SQLALCHEMY_DATABASE_URI"])


def test_deleting_a_user_revokes_its_tokens_at_once(client, app, alice):
    body = token_request(client, grant_type="password", username="alice", password="wonderland").get_json()
    assert client.get("/v2/events", headers=bearer(body["access_token"])).status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "delete", "alice"])
    assert result.exit_code == 0, result.output
    # The access token verified a moment ago (and kept in the cache of verified claims) is dead,
    response = client.get("/v2/events", headers=bearer(body["access_token"]))
    assert (response.status_code, response.get_json()["code"]) == (401, 1000)
    # and so is its refresh token.
    refreshed = token_request(client, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert (refreshed.status_code, refreshed.get_json()["error"]) == (401, "invalid_token")
    assert app.test_cli_runner().invoke(args=["users", "delete", "alice"]).exit_code != 0


def test_a_user_made_again_under_the_same_name_does_not_revive_old_tokens(client, app, alice):
    old = token_request(client, grant_type="password", username="alice", password="wonderland").get_json()
    app.test_cli_runner().invoke(args=["users", "delete", "alice"])
    create_user("alice", "wonderland", [READ])
    assert client.get("/v2/events", headers=bearer(old["access_token"])).status_code == 401


def test_tokens_for_users_the_issuer_does_not_know_are_not_revocable(client, app):
    # `flask token` signs for any user id (and tests do); there is no user to delete.
    printed = app.test_cli_runner().invoke(args=["token", "--user-id", "someone"]).output.strip()
    assert client.get("/v2/events", headers=bearer(printed)).status_code == 200


# Discovery.

ROOT_LINKS = {
    "self": {"href": "https://events.example.com"},
    "cloud_controller_v3": {"href": "https://events.example.com/v3", "meta": {"version": "3.228.0"}},
    "network_policy_v0": {"href": "https://events.example.com/networking/v0/external"},
    "network_policy_v1": {"href": "https://events.example.com/networking/v1/external"},
    "login": {"href": "https://events.example.com"},
    "uaa": {"href": "https://events.example.com"},
    "credhub": None, "routing": None, "logging": None, "log_cache": None, "log_stream": None,
    "app_ssh": {"href": "ssh.events.example.com:2222", "meta": {"host_key_fingerprint": None,
                                                                "oauth_client": "ssh-proxy"}},
    "cloud_controller_v2": {"href": "https://events.example.com/v2", "meta": {"version": "2.164.0"}},
}


def test_root_links_point_at_the_api_and_the_issuer(client):
    body = client.get("/", base_url="https://events.example.com").get_json()
    assert body == {"links": ROOT_LINKS}
    assert list(body["links"]) == list(ROOT_LINKS)  # CC's order


def test_with_v2_off_the_root_names_no_v2(session_app):
    app = make_app(session_app.config["SQLALCHEMY_DATABASE_URI"], V2_API=False)
    client = app.test_client()
    body = client.get("/", base_url="https://events.example.com").get_json()
    assert body == {"links": {key: value for key, value in ROOT_LINKS.items() if key != "cloud_controller_v2"}}
    info = client.get("/v2/info").get_json()
    assert (info["support"], info["api_version"]) == ("CF API v2 is disabled", "")


def test_v2_info_names_every_endpoint_a_cli_needs(client):
    body = client.get("/v2/info", base_url="https://events.example.com").get_json()
    assert body["authorization_endpoint"] == body["token_endpoint"] == "https://events.example.com"
    assert body["api_version"] == "2.164.0"
    for key in ("doppler_logging_endpoint", "app_ssh_endpoint"):
        assert isinstance(body[key], str) and body[key]


def test_discovery_names_the_external_uaa(session_app):
    app = make_app(session_app.config["SQLALCHEMY_DATABASE_URI"], UAA_URL="https://uaa.example.com")
    body = app.test_client().get("/").get_json()
    assert body["links"]["login"] == body["links"]["uaa"] == {"href": "https://uaa.example.com"}
