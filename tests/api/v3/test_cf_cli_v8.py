"""cf CLI v8's `cf api`, `cf login -o -s`, `cf target` and `cf events APP`, replayed request for request.

The CLI cannot be installed here, so `CfCli` below sends what cf CLI v8.18.4 sends (V3.md 6; its
sources: command/v7/{api,login,target,events}_command.go, actor/v7action, api/cloudcontroller/ccv3,
api/uaa, util/configv3): the same paths, query keys sorted and escaped as Go's url.Values.Encode, the
same headers, and its token rule: before every request it refreshes a token that expires within a
minute. It reads from the answers only what the CLI reads, and fails where the CLI would fail.
"""
import base64
import json
import re
import time
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
import requests

from app.identity.roles import grant
from app.identity.tokens import ADMIN, READ
from app.ops.cli import create_user
from tests.factories import BASE_TIME, EventFactory

CLI_VERSION = "8.18.4+3fcd823a8.2025-11-10"
USER_AGENT = f"cf/{CLI_VERSION} (go1.24.9; amd64 linux)"
MINIMUM_V3 = (3, 99, 0)
ORG, SPACE, APP = "org-guid-1", "space-guid-1", "app-guid-1"
# What `cf events` renders of an event's data (command/v7/events_command.go), in its order.
DESCRIBED_KEYS = ("index", "reason", "cell_id", "instance", "exit_description", "exit_status", "recursive",
                  "disk_quota", "instances", "memory", "state", "command", "environment_json")


class CliFailure(Exception):
    """Where the CLI would stop with an error."""


def claims_of(token):
    """The CLI decodes the access token itself, unverified (jws.ParseJWT)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class CfCli:
    def __init__(self, api):
        self.api = api
        self.requests = []  # (method, path and query) of every request sent, in order
        self.refreshes = 0
        self.clock = time.time  # what the CLI reads the time from (a test moves it on)
        self.token_type = self.access_token = self.refresh_token = None

    def _send(self, method, url, **kwargs):
        response = requests.request(method, url, timeout=10, allow_redirects=False, **kwargs)
        self.requests.append((method, url.removeprefix(self.api)))
        return response

    # `cf api URL`: one GET of the root, nothing else.
    def set_api(self):
        root = self._send("GET", self.api, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        if root.status_code != 200:
            raise CliFailure(f"Request error: {root.status_code}")
        links = root.json()["links"]
        if root.json().get("cf_on_k8s"):
            raise CliFailure("would switch to Kubernetes authentication")
        version = links["cloud_controller_v3"]["meta"]["version"]
        if tuple(int(part) for part in version.split(".")) < MINIMUM_V3:
            raise CliFailure(f"Your targeted API's version ({version}) is less than the minimum supported")
        self.login_url = links["login"]["href"]
        return links

    def _uaa(self, method, path, **kwargs):
        headers = {"Accept": "application/json", "Connection": "close", "User-Agent": USER_AGENT, **kwargs.pop(
            "headers", {})}
        return self._send(method, self.login_url + path, headers=headers, **kwargs)

    def _take_tokens(self, response):
        if response.status_code != 200:
            raise CliFailure(f"Credentials were rejected: {response.status_code} {response.text}")
        body = response.json()
        self.token_type, self.access_token = body["token_type"], body["access_token"]
        self.refresh_token = body["refresh_token"]
        claims = claims_of(self.access_token)
        # util/configv3 type-asserts these to strings when user_name is there, and panics otherwise.
        if "user_name" in claims and not all(isinstance(claims.get(key), str)
                                             for key in ("user_name", "user_id", "origin")):
            raise CliFailure("panic: interface conversion in decodeUserFromJWT")

    # `cf login`: prompts, the password grant, then the org and space lookups.
    def login(self, username, password, org=None, space=None):
        self.set_api()
        # The UAA wrapper sends the cached token, empty before login, on requests without a body.
        prompts = self._uaa("GET", "/login", headers={"Authorization": ""}).json()["prompts"]
        if set(prompts) - {"username", "password", "passcode"}:
            raise CliFailure(f"would ask interactively for {sorted(set(prompts) - {'username', 'password'})}")
        assert all(kind in ("text", "password") for kind, _ in prompts.values())
        form = urlencode(sorted({"grant_type": "password", "password": password, "username": username}.items()))
        self._take_tokens(self._uaa("POST", "/oauth/token", data=form, headers={
            "Authorization": "Basic Y2Y6", "Content-Type": "application/x-www-form-urlencoded"}))
        return self.target(org, space)

    def _refresh_if_expiring(self):
        expires = claims_of(self.access_token).get("exp", 0)
        if expires - self.clock() < 60:
            self.refreshes += 1
            form = urlencode(sorted({"grant_type": "refresh_token", "refresh_token": self.refresh_token}.items()))
            self._take_tokens(self._uaa("POST", "/oauth/token", data=form, headers={
                "Authorization": "Basic Y2Y6", "Content-Type": "application/x-www-form-urlencoded"}))

    def _cc(self, url):
        self._refresh_if_expiring()
        response = self._send("GET", url, headers={
            "Authorization": f"{self.token_type} {self.access_token}", "Accept": "application/json",
            "Content-Type": "application/json", "User-Agent": USER_AGENT})
        if response.status_code != 200:
            raise CliFailure(f"{response.status_code}: {response.json()['errors'][0]['detail']}")
        return response.json()

    def _list(self, path, **query):
        """MakeListRequest: one page when `page` is asked for, else every page by pagination.next.href."""
        url = f"{self.api}{path}?{urlencode(sorted(query.items()))}"
        resources = []
        while url:
            body = self._cc(url)
            resources += body["resources"]
            url = None if "page" in query else (body["pagination"]["next"] or {}).get("href")
        return resources

    # `cf target -o ORG -s SPACE`
    def target(self, org, space):
        orgs = self._list("/v3/organizations", names=org, page=1, per_page=1)
        if not orgs:
            raise CliFailure(f"Organization '{org}' not found.")
        spaces = self._list("/v3/spaces", names=space, organization_guids=orgs[0]["guid"], page=1, per_page=1)
        if not spaces:
            raise CliFailure(f"Space '{space}' not found.")
        self.org, self.space = orgs[0], spaces[0]
        return orgs[0]["name"], spaces[0]["name"]

    # `cf events APP`
    def events(self, app_name):
        apps = self._list("/v3/apps", names=app_name, space_guids=self.space["guid"])
        if not apps:
            raise CliFailure(f"App '{app_name}' not found.")
        events = self._list("/v3/audit_events", order_by="-created_at", page=1, target_guids=apps[0]["guid"])
        return [self._row(event) for event in events]

    @staticmethod
    def _row(event):
        """The CLI's table row: time (its created_at is a Go time.Time, RFC 3339), event, actor, description."""
        moment = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
        data = event["data"].get("request", event["data"])
        described = ", ".join(f"{key}: {data[key]}" for key in DESCRIBED_KEYS if key in data)
        return moment, event["type"], event["actor"]["name"], described


@pytest.fixture
def platform(app, live_url):
    """An org and a space with names, alice (a space developer there), and 60 events of the app `web`."""
    alice = create_user("alice", "wonderland", [READ], email="alice@example.com")
    EventFactory(type="audit.organization.create", actee=ORG, actee_type="organization", actee_name="acme",
                 space_guid=None, organization_guid=ORG, timestamp=BASE_TIME)
    EventFactory(type="audit.space.create", actee=SPACE, actee_type="space", actee_name="prod", space_guid=SPACE,
                 organization_guid=ORG, timestamp=BASE_TIME)
    for n in range(60):
        EventFactory(guid=f"web-{n:02d}", type="audit.app.update" if n % 3 else "app.crash", actee=APP,
                     actee_type="app", actee_name="web", actor_name="alice@example.com", space_guid=SPACE,
                     organization_guid=ORG, timestamp=BASE_TIME + timedelta(minutes=n + 1),
                     data={"request": {"instances": n}} if n % 3 else {"index": 0, "exit_status": 137,
                                                                       "reason": "CRASHED"})
    EventFactory(guid="other-app", actee="app-guid-2", actee_name="api", space_guid=SPACE, organization_guid=ORG)
    grant("organization", ORG, "user", alice.guid)
    grant("space", SPACE, "developer", alice.guid)
    return live_url


def test_cf_login_target_and_events_show_the_apps_50_newest_events(platform):
    cli = CfCli(platform)
    assert cli.login("alice", "wonderland", org="acme", space="prod") == ("acme", "prod")
    rows = cli.events("web")
    assert [row[1] for row in rows[:3]] == ["audit.app.update", "audit.app.update", "app.crash"]
    assert len(rows) == 50
    assert [row[0] for row in rows] == [BASE_TIME + timedelta(minutes=n + 1) for n in reversed(range(10, 60))]
    assert rows[0][3] == "instances: 59" and rows[2][3] == "index: 0, reason: CRASHED, exit_status: 137"
    assert {row[2] for row in rows} == {"alice@example.com"}
    assert cli.requests == [
        ("GET", ""),
        ("GET", "/login"),
        ("POST", "/oauth/token"),
        ("GET", "/v3/organizations?names=acme&page=1&per_page=1"),
        ("GET", f"/v3/spaces?names=prod&organization_guids={ORG}&page=1&per_page=1"),
        ("GET", f"/v3/apps?names=web&space_guids={SPACE}"),
        ("GET", f"/v3/audit_events?order_by=-created_at&page=1&target_guids={APP}"),
    ]
    assert cli.refreshes == 0


def test_cf_target_afterwards_finds_the_same_org_and_space(platform):
    cli = CfCli(platform)
    cli.login("alice", "wonderland", org="acme", space="prod")
    assert cli.target("acme", "prod") == ("acme", "prod")
    with pytest.raises(CliFailure, match="Organization 'nope' not found."):
        cli.target("nope", "prod")
    with pytest.raises(CliFailure, match="App 'nope' not found."):
        cli.events("nope")


def test_a_token_about_to_expire_is_refreshed_once_before_the_next_request(platform, app, monkeypatch):
    cli = CfCli(platform)
    cli.login("alice", "wonderland", org="acme", space="prod")
    assert cli.refreshes == 0
    # The CLI's clock moves on to within its one-minute margin of its token's hour; the fresh token lasts two,
    # so the requests that follow need no other, however slow the machine.
    lasted = app.config["ACCESS_TOKEN_VALIDITY"]
    monkeypatch.setitem(app.config, "ACCESS_TOKEN_VALIDITY", 2 * lasted)
    cli.clock = lambda: time.time() + lasted - 30
    assert len(cli.events("web")) == 50
    assert cli.refreshes == 1
    assert [request for request in cli.requests if request[1] == "/oauth/token"] == [("POST", "/oauth/token")] * 2


def test_a_user_who_may_not_read_the_space_sees_no_app(platform):
    create_user("bob", "builder", [READ])
    cli = CfCli(platform)
    with pytest.raises(CliFailure, match="Organization 'acme' not found."):
        cli.login("bob", "builder", org="acme", space="prod")


def test_the_cli_refuses_an_api_below_its_minimum(platform, monkeypatch):
    from app.api import discovery

    monkeypatch.setattr(discovery, "V3_API_VERSION", "3.98.0")
    with pytest.raises(CliFailure, match=re.escape("(3.98.0) is less than the minimum supported")):
        CfCli(platform).set_api()


def test_an_admin_token_from_the_token_command_works_as_the_cli_sends_it(platform, token):
    cli = CfCli(platform)
    cli.set_api()
    cli.token_type, cli.access_token = "bearer", token(ADMIN)
    cli.org, cli.space = {"guid": ORG}, {"guid": SPACE}
    assert len(cli.events("web")) == 50
