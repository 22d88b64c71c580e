"""The operator console end to end, in a real browser: Debian's headless Chromium driven by playwright-core
(tests/js/console/console.mjs), against the app behind a live HTTP server holding the demo platform.

Each scenario logs in through the console's own form, does what an operator does, and reports what the page
showed; the figures are then compared with the public API's answers for the same user. Chromium is required:
a missing one fails these tests (`make system-packages` installs it), it never skips them. Each scenario
leaves a screenshot in test-artifacts/console/ for a person to look at.
"""
import csv
import io
import itertools
import json
import os
import shutil
import subprocess
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.base.extensions import db
from app.identity.tokens import ADMIN, READ
from app.ops.cli import create_user
from app.ops.demo import ORGS, load_demo_events
from app.store.models import Event
from tests import REPOSITORY

ROOT = REPOSITORY
SCRIPT = ROOT / "tests" / "js" / "console" / "console.mjs"
ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NOW = datetime.now(timezone.utc).replace(microsecond=0)
PASSWORD = "console-test-password"


def test_chromium_and_playwright_are_installed():
    """Without them every scenario would fail with a less helpful message; this names what is missing."""
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: `make system-packages` installs Debian's chromium"
    assert (ROOT / "tests/js/node_modules/playwright-core").is_dir(), "run `npm ci --prefix tests/js`"
    assert shutil.which("node"), "node is missing"


@pytest.fixture
def platform(app, client, admin):
    """The demo platform of `make run` (45 days up to now), an admin and a space auditor who log in."""
    load_demo_events(now=NOW)
    create_user("admin", PASSWORD, [ADMIN])
    auditor = create_user("auditor", PASSWORD, [READ])
    space, org = db.session.execute(select(Event.space_guid, Event.organization_guid).where(
        Event.type == "app.crash").group_by(Event.space_guid, Event.organization_guid)
        .order_by(func.count().desc(), Event.space_guid).limit(1)).one()
    response = client.put(f"/v2/spaces/{space}/auditors/{auditor.guid}", headers=admin)
    assert response.status_code == 201, response.get_json()
    return {"space": space, "org": org, "auditor": auditor.guid}


def run(scenario, live_url, backend, **arguments):
    """Run one scenario in Chromium; what the page showed, as JSON. Its screenshot goes to ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / f"{scenario}-{backend}.png"
    arguments.setdefault("username", "admin")
    arguments.setdefault("password", PASSWORD)
    done = subprocess.run(["node", str(SCRIPT), scenario, live_url, str(screenshot), json.dumps(arguments)],
                          capture_output=True, text=True, timeout=120, cwd=SCRIPT.parent,
                          env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1", "CHROMIUM": CHROMIUM})
    assert done.returncode == 0, f"{scenario} failed (screenshot: {screenshot}):\n{done.stderr}\n{done.stdout}"
    assert screenshot.exists()
    seen = json.loads(done.stdout)
    assert seen.pop("foreign") == [], "the console fetched something from elsewhere"
    assert seen.pop("errors") == [], "the page logged errors"
    return seen


def api(client, headers, path):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.get_data(as_text=True))
    return response.get_json()


def since_30_days():
    return (datetime.combine(NOW.date() - timedelta(days=29), datetime.min.time())).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_log_in_and_the_overview_matches_the_api(platform, live_url, backend, client, admin):
    seen = run("overview", live_url, backend)
    assert seen["heading"] == "Overview: the last 30 days" and seen["user"] == "admin"
    since = since_30_days()
    listed = api(client, admin, f"/v3/audit_events?created_ats[gte]={since}&per_page=1")
    assert seen["total"] == listed["pagination"]["total_results"] > 0
    assert seen["crashes"] == api(client, admin, "/v3/audit_events?types=app.crash&per_page=1")[
        "pagination"]["total_results"]
    assert seen["bars"] > 0
    assert 0 < len(seen["top"]) <= 10
    for row in seen["top"]:
        guid = row["href"].removeprefix("#/apps/")
        # Which app of that name: its space and organization, by name, their guids on hover.
        space = api(client, admin, f"/v3/apps/{guid}")["relationships"]["space"]["data"]["guid"]
        org = api(client, admin, f"/v3/spaces/{space}")["relationships"]["organization"]["data"]["guid"]
        assert row["space"] == {"text": api(client, admin, f"/v3/spaces/{space}")["name"], "title": space}, row
        assert row["org"] == {"text": api(client, admin, f"/v3/organizations/{org}")["name"], "title": org}, row
        crashes = api(client, admin, f"/v3/audit_events?types=app.crash&target_guids={guid}"
                                     f"&created_ats[gte]={since}&per_page=1")["pagination"]["total_results"]
        assert row["count"] == crashes, row
        assert row["sparkline"].startswith(f"{crashes} crashes")
    # The demo has apps of one name in several organizations: the rows tell them apart.
    assert len({row["name"] for row in seen["top"]}) < len(seen["top"])
    assert len({(row["name"], row["space"]["text"], row["org"]["text"]) for row in seen["top"]}) == len(seen["top"])
    assert [row["count"] for row in seen["top"]] == sorted((row["count"] for row in seen["top"]), reverse=True)
    newest = api(client, admin, "/v3/audit_events?types=app.crash&order_by=-created_at&per_page=10")["resources"]
    assert [row[3] for row in seen["latest"]] == [event["data"]["exit_description"] for event in newest]


def test_filter_events_by_type_and_app_and_page_through_them(platform, live_url, backend, client, admin):
    # The app with the most events of one type, so that there are several pages of 50.
    app_name = db.session.execute(select(Event.actee_name).where(Event.type == "audit.app.update")
                                  .group_by(Event.actee_name).order_by(func.count().desc()).limit(1)).scalar_one()
    seen = run("events", live_url, backend, type="audit.app.update", app=app_name)
    guids = [app["guid"] for app in api(client, admin, f"/v3/apps?names={app_name}")["resources"]]
    expected = api(client, admin, f"/v3/audit_events?types=audit.app.update&target_guids={','.join(guids)}"
                                  "&order_by=-created_at&per_page=50&page=2")
    total = expected["pagination"]["total_results"]
    assert total > 50, "the data should need more than one page"
    assert seen["first"]["position"] == f"Page 1 of {expected['pagination']['total_pages']} · {total:,} events"
    assert seen["second"]["position"].startswith("Page 2 of ")
    assert "type=audit.app.update" in seen["first"]["hash"] and f"app={app_name}" in seen["first"]["hash"]
    assert "page=2" in seen["second"]["hash"]
    assert len(seen["first"]["rows"]) == 50
    assert {row[1] for row in seen["first"]["rows"] + seen["second"]["rows"]} == {"App updated"}
    assert [row[0] for row in seen["second"]["rows"]] == [
        event["created_at"].replace("T", " ") for event in expected["resources"]]
    assert seen["reloaded"]["rows"] == seen["second"]["rows"]
    assert seen["reloaded"]["typeChosen"] == "audit.app.update"
    # The type select shows its chosen option whole, and any other (it has a row of its own); no control of
    # the form runs into another (From and Until into the Filter button, as they did).
    form = seen["form"]
    assert form["chosen"] <= form["select"] and form["longest"] <= form["select"], form
    assert {"f-type", "f-since", "f-until", "Filter"} <= set(form["controls"])
    pairs = itertools.combinations(form["controls"].items(), 2)
    overlapping = [(name, other) for (name, box), (other, against) in pairs
                   if box["left"] < against["right"] and against["left"] < box["right"]
                   and box["top"] < against["bottom"] and against["top"] < box["bottom"]]
    assert overlapping == [], form["controls"]
    # The heading a page moves to is ringed for keyboard users only (:focus-visible).
    assert seen["rings"] == {"opened": {"focused": "H1", "outline": "none"},
                             "keyboard": {"focused": "H1", "outline": "3px solid"},
                             "mouse": {"focused": "H1", "outline": "none"}}


def names(client, headers, collection, guids):
    """Names by guid, as /v3/{collection} shows them to these headers' user."""
    listed = api(client, headers, f"/v3/{collection}?guids={','.join(set(guids))}&per_page=5000")["resources"]
    return {resource["guid"]: resource["name"] for resource in listed}


def test_open_an_event(platform, live_url, backend, client, admin):
    unknown = [str(uuid.uuid4()) for _ in range(230)]
    seen = run("event", live_url, backend, type="app.crash", unknownGuids=unknown)
    guid = seen["hash"].removeprefix("#/events/")
    event = api(client, admin, f"/v3/audit_events/{guid}")
    assert event["type"] == "app.crash" and seen["heading"] == "App instance crashed"
    assert seen["metadata"] == event["data"]
    before = api(client, admin, f"/v3/audit_events?target_guids={event['target']['guid']}"
                                f"&created_ats[lt]={event['created_at']}&order_by=-created_at&per_page=5")
    assert [row[0] for row in seen["before"] if row != ["Nothing to show."]] == [
        e["created_at"].replace("T", " ") for e in before["resources"]]
    # Spaces and organizations are shown by name: the list with the guid on hover, the event with both.
    listed = api(client, admin, "/v3/audit_events?types=app.crash&order_by=-created_at&per_page=50")["resources"]
    assert [[space["title"], org["title"]] for space, org in seen["listed"]] == [
        [e["space"]["guid"], e["organization"]["guid"]] for e in listed]
    spaces = names(client, admin, "spaces", [e["space"]["guid"] for e in listed])
    orgs = names(client, admin, "organizations", [e["organization"]["guid"] for e in listed])
    assert [[space["text"], org["text"]] for space, org in seen["listed"]] == [
        [spaces[e["space"]["guid"]], orgs[e["organization"]["guid"]]] for e in listed]
    assert set(spaces.values()) <= {name for names in ORGS.values() for name in names}
    assert set(orgs.values()) <= set(ORGS)
    space, org = event["space"]["guid"], event["organization"]["guid"]
    assert seen["details"]["Space"] == f"{spaces[space]} ({space})"
    assert seen["details"]["Organization"] == f"{orgs[org]} ({org})"
    # Looked up in batches that keep request lines short; guids nobody knows stay unnamed.
    assert seen["looked"] == spaces
    assert len(seen["asked"]) >= 3 and max(seen["asked"]) <= 100
    assert sum(seen["asked"]) == len(spaces) + len(unknown)


def test_an_app_timeline_shows_its_crashes(platform, live_url, backend, client, admin):
    top = api(client, admin, "/v3/audit_event_stats/top_targets?limit=1")["resources"][0]
    seen = run("timeline", live_url, backend, app=top["guid"])
    crashes = api(client, admin, f"/v3/audit_events?types=app.crash&target_guids={top['guid']}&per_page=500")
    assert len(seen["crashes"]) == crashes["pagination"]["total_results"] > 0
    assert seen["heading"] == "App instance crashed"
    assert seen["focused"].startswith("Crash of instance")
    assert seen["opened"] == seen["crashes"][0]["href"]
    assert seen["spans"] > 0, "the usage stream's STARTED spans are drawn"
    # Six axis labels, left to right, none overlapping the next; no text of the chart cut at its edge.
    axis = seen["axis"]
    assert len(axis) == 6 and seen["texts"]["cut"] == []
    for label, following in itertools.pairwise(axis):
        assert label["right"] <= following["left"], (label, following)


def test_an_organizations_usage_report_and_its_csv_and_the_live_stream(platform, live_url, backend, client, admin,
                                                                      token):
    # Last month: closed, so its figures no longer move while the page and the test both read them (the
    # demo's 45 days always cover part of it).
    end = NOW.replace(day=1) - timedelta(days=1)
    month = end.strftime("%Y-%m")
    org_name = api(client, admin, f"/v3/organizations/{platform['org']}")["name"]
    space_name = api(client, admin, f"/v3/spaces/{platform['space']}")["name"]
    guid = f"usage-console-{uuid.uuid4()}"
    new_event = {"guid": guid, "state": "STARTED", "previous_state": "STOPPED", "memory_in_mb_per_instance": 128,
                 "instance_count": 1, "app_guid": "console-app", "app_name": "console-app",
                 "space_guid": platform["space"], "space_name": space_name, "org_guid": platform["org"],
                 "process_type": "web", "parent_app_guid": "console-app", "parent_app_name": "console-app"}
    # Recorded last, but dated years ago (as an import may write one): the head of the stream all the same.
    # (In an organization of its own, so that the month's report stays the demo's.)
    imported = {**new_event, "guid": f"imported-{uuid.uuid4()}", "created_at": "2020-01-01T00:00:00Z",
                "org_guid": "imported-org", "space_guid": "imported-space", "space_name": "imported"}
    assert client.post("/v2/app_usage_events", json=imported, headers=admin).status_code == 201
    seen = run("usage", live_url, backend, orgName=org_name, spaceName=space_name, month=month, newEvent=new_event,
               writerToken=token(ADMIN))
    stream = api(client, admin, "/v3/app_usage_events?per_page=5000")
    assert stream["pagination"]["total_pages"] == 1
    recorded = [event["guid"] for event in stream["resources"] if event["guid"] != guid]
    assert seen["head"] == recorded[::-1][:20]
    assert seen["head"][0] == imported["guid"]
    query = f"start={month}-01&end={end:%Y-%m-%d}"
    report = api(client, admin, f"/organizations/{platform['org']}/app_usages?{query}")
    hours = {}
    for row in report["app_usages"]:
        instance_hours = row["instance_count"] * row["duration_in_seconds"] / 3600
        hours[row["space_name"]] = hours.get(row["space_name"], 0) + instance_hours
    assert {row[0]: float(row[2]) for row in seen["table"]} == pytest.approx(hours, abs=0.01)
    assert seen["summary"].startswith(f"{month} in organization {org_name}: {len(hours)} spaces")
    # Both charts name each space and write its figure, each whole, inside the chart.
    assert seen["charts"] == {"count": 4 * len(hours), "cut": []}
    # One space: its row alone.
    assert [row[0] for row in seen["spaceTable"]] == [space_name]
    assert float(seen["spaceTable"][0][2]) == pytest.approx(hours[space_name], abs=0.01)
    assert seen["spaceSummary"].startswith(f"{month} in organization {org_name}, space {space_name}: 1 spaces")
    # The CSV is the report's own, as /organizations/{org}/app_usages?format=csv answers it (before the new event).
    rows = list(csv.DictReader(io.StringIO(seen["csv"])))
    assert [row["app_guid"] for row in rows] == [row["app_guid"] for row in report["app_usages"]]
    assert seen["filename"] == f"app_usages-{platform['org']}-{month}.csv"
    assert seen["posted"] == 201 and seen["top"] == guid and seen["after"] == seen["before"] + 1
    assert seen["streamSpace"] == {"text": space_name, "title": platform["space"]}
    assert f"org={platform['org']}" in seen["hash"] and f"month={month}" in seen["hash"]
    assert f"space={platform['space']}" in seen["hash"]


def test_every_page_fits_a_phone(platform, live_url, backend, client, admin):
    top = api(client, admin, "/v3/audit_event_stats/top_targets?limit=1")["resources"][0]
    month = (NOW.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    seen = run("phone", live_url, backend, phone=True, app=top["guid"], org=platform["org"], month=month)
    # Each page at 390×844 (screenshots phone-<backend>-<page>.png): nothing wider than the screen, so
    # nothing scrolls sideways (wide tables and the timeline scroll in their own boxes).
    pages = seen["pages"]
    assert list(pages) == ["login", "overview", "events", "event", "timeline", "usage"]
    assert {name: size for name, size in pages.items() if size["scrollWidth"] > size["clientWidth"]} == {}
    assert {size["clientWidth"] for size in pages.values()} == {390}


def test_a_space_auditor_sees_only_their_spaces_events(platform, live_url, backend, client, auth):
    seen = run("auditor", live_url, backend, username="auditor")
    headers = auth(READ, user_id=platform["auditor"])
    listed = api(client, headers, f"/v3/audit_events?created_ats[gte]={since_30_days()}&per_page=1")
    assert seen["total"] == listed["pagination"]["total_results"] > 0
    everything = api(client, auth(ADMIN), f"/v3/audit_events?created_ats[gte]={since_30_days()}&per_page=1")
    assert seen["total"] < everything["pagination"]["total_results"]
    # By name, as the API lets them see their own space and its organization.
    space = api(client, headers, f"/v3/spaces/{platform['space']}")
    org = api(client, headers, f"/v3/organizations/{platform['org']}")
    assert org["name"] in ORGS and space["name"] != platform["space"]
    assert seen["rows"] and {(row[4], row[5]) for row in seen["rows"]} == {(space["name"], org["name"])}
    total = api(client, headers, "/v3/audit_events?per_page=1")["pagination"]["total_results"]
    assert seen["position"].endswith(f"{total:,} events")


def test_a_page_left_before_its_answers_arrive_never_draws_over_the_next(live_url, backend, platform):
    seen = run("slowOverview", live_url, backend)
    assert seen == {"held": 2, "heading": "Events", "hash": "#/events", "selected": "app.crash", "overviewShown": 0}
