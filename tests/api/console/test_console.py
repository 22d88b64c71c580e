"""The console's files, and the v3 extension it reads its overview from (app/api/v3/stats.py): whole JSON
answers for hand-made data, the visibility of the audit event list, and the errors in v3's shape."""
import pathlib
import random
from datetime import datetime, time, timedelta, timezone

import pytest

from app.api import console
from app.base.extensions import db
from app.identity.tokens import ADMIN, GLOBAL_AUDITOR, READ
from app.store.catalogue import CATEGORIES
from tests.factories import EventFactory

TODAY = datetime.now(timezone.utc).date()
MIDNIGHT = datetime.combine(TODAY, time(), timezone.utc)
CATEGORY_LIST = [{"id": c.id, "name": c.name} for c in sorted(CATEGORIES, key=lambda c: c.position)] + [
    {"id": "other", "name": "Other"}]
USER = "auditor-1"


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def day(n):
    """The date n days before today, as the answers write it."""
    return (TODAY - timedelta(days=n)).isoformat()


@pytest.fixture
def events(app):
    """Crashes of two apps in two spaces, a start, an unknown type, and an event too old for the range."""
    common = {"actee_type": "app", "organization_guid": "org-1"}
    for n, (type_, app_, space, at) in enumerate([
            ("app.crash", "app-a", "space-1", MIDNIGHT + timedelta(hours=1)),
            ("app.crash", "app-a", "space-1", MIDNIGHT + timedelta(hours=2)),
            ("app.crash", "app-a", "space-1", MIDNIGHT - timedelta(hours=3)),
            ("app.crash", "app-b", "space-2", MIDNIGHT + timedelta(hours=3)),
            ("audit.app.start", "app-b", "space-2", MIDNIGHT - timedelta(hours=20)),
            ("x.custom.thing", "app-a", "space-1", MIDNIGHT + timedelta(minutes=5)),
            ("app.crash", "app-a", "space-1", MIDNIGHT - timedelta(days=40))]):
        EventFactory(guid=f"e-{n}", type=type_, actee=app_, actee_name=app_.replace("app-", "web-"), space_guid=space,
                     timestamp=at, **common)


def get(client, headers, path, status=200):
    response = client.get(path, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    return response.get_json()


@pytest.mark.parametrize("scope", [ADMIN, GLOBAL_AUDITOR])
def test_daily_counts_by_category(client, auth, events, scope):
    body = get(client, auth(scope), "/v3/audit_event_stats/daily?days=3")
    assert body == {
        "since": iso(MIDNIGHT - timedelta(days=2)), "until": iso(MIDNIGHT + timedelta(days=1)),
        "categories": CATEGORY_LIST,
        "days": [{"date": day(2), "total": 0, "by_category": {}},
                 {"date": day(1), "total": 2, "by_category": {"process": 1, "app": 1}},
                 {"date": day(0), "total": 4, "by_category": {"process": 3, "other": 1}}],
    }


def test_daily_counts_agree_with_the_audit_event_list(client, admin, events):
    body = get(client, admin, "/v3/audit_event_stats/daily")
    assert len(body["days"]) == 30 and body["days"][-1]["date"] == day(0)
    listed = get(client, admin, f"/v3/audit_events?created_ats[gte]={body['since']}&per_page=1")
    assert sum(d["total"] for d in body["days"]) == listed["pagination"]["total_results"] == 6


def test_top_targets(client, admin, events):
    body = get(client, admin, "/v3/audit_event_stats/top_targets?days=2")
    assert body == {
        "since": iso(MIDNIGHT - timedelta(days=1)), "until": iso(MIDNIGHT + timedelta(days=1)),
        "types": ["app.crash"], "dates": [day(1), day(0)],
        "resources": [{"guid": "app-a", "type": "app", "name": "web-a", "total": 3, "daily": [1, 2]},
                      {"guid": "app-b", "type": "app", "name": "web-b", "total": 1, "daily": [0, 1]}],
    }
    body = get(client, admin, "/v3/audit_event_stats/top_targets?days=60&limit=1&types=app.crash,audit.app.start")
    assert body["types"] == ["app.crash", "audit.app.start"] and len(body["dates"]) == 60
    assert [(t["guid"], t["total"]) for t in body["resources"]] == [("app-a", 4)]


def test_a_space_auditor_gets_figures_of_their_space_only(client, admin, auth, events):
    response = client.put(f"/v2/spaces/space-2/auditors/{USER}", headers=admin)
    assert response.status_code == 201
    headers = auth(READ, user_id=USER)
    body = get(client, headers, "/v3/audit_event_stats/daily?days=3")
    assert body["days"] == [{"date": day(2), "total": 0, "by_category": {}},
                            {"date": day(1), "total": 1, "by_category": {"app": 1}},
                            {"date": day(0), "total": 1, "by_category": {"process": 1}}]
    listed = get(client, headers, f"/v3/audit_events?created_ats[gte]={body['since']}&per_page=1")
    assert listed["pagination"]["total_results"] == 2
    top = get(client, headers, "/v3/audit_event_stats/top_targets")
    assert [(t["guid"], t["total"]) for t in top["resources"]] == [("app-b", 1)]
    # No role, nothing.
    nobody = auth(READ, user_id="nobody")
    assert all(d["total"] == 0 for d in get(client, nobody, "/v3/audit_event_stats/daily")["days"])
    assert get(client, nobody, "/v3/audit_event_stats/top_targets")["resources"] == []


def test_one_apps_usage_states(client, admin, auth):
    written = []
    for n, state in enumerate(["STARTED", "STOPPED"]):
        event = {"guid": f"u-{n}", "state": state, "memory_in_mb_per_instance": 256, "instance_count": 2,
                 "app_guid": "app-a", "app_name": "web", "space_guid": "space-1", "space_name": "dev",
                 "org_guid": "org-1", "process_type": "web", "parent_app_guid": "app-a", "parent_app_name": "web",
                 "created_at": f"2026-01-0{n + 1}T00:00:00Z"}
        assert client.post("/v2/app_usage_events", json=event, headers=admin).status_code == 201
        written.append(get(client, admin, f"/v3/app_usage_events/u-{n}"))
    client.post("/v2/app_usage_events", json={**event, "guid": "other", "app_guid": "app-z"}, headers=admin)
    assert get(client, admin, "/v3/app_usage_states/app-a") == {"resources": written[::-1]}
    assert get(client, admin, "/v3/app_usage_states/app-a?per_page=1") == {"resources": written[1:]}
    # Usage events are for platform-wide readers only, as /v3/app_usage_events shows them.
    assert get(client, auth(READ, user_id=USER), "/v3/app_usage_states/app-a") == {"resources": []}


@pytest.mark.parametrize("path, detail", [
    ("/v3/audit_event_stats/daily?days=0", "days must be a whole number from 1 to 366"),
    ("/v3/audit_event_stats/daily?days=367", "days must be a whole number from 1 to 366"),
    ("/v3/audit_event_stats/daily?days=%D9%A3", "days must be a whole number from 1 to 366"),
    ("/v3/audit_event_stats/daily?types=app.crash",
     "Unknown query parameter(s): 'types'. Valid parameters are: 'days'"),
    ("/v3/audit_event_stats/top_targets?limit=101", "limit must be a whole number from 1 to 100"),
    ("/v3/audit_event_stats/top_targets?types=", "types must be a comma list of event types"),
    ("/v3/app_usage_states/app-a?per_page=5001", "per_page must be a whole number from 1 to 5000"),
])
def test_bad_parameters_are_v3_errors(client, admin, path, detail):
    assert get(client, admin, path, 400) == {"errors": [{
        "detail": f"The query parameter is invalid: {detail}", "title": "CF-BadQueryParameter", "code": 10005}]}


def test_they_need_a_read_scope(client, auth):
    for path in ("/v3/audit_event_stats/daily", "/v3/audit_event_stats/top_targets", "/v3/app_usage_states/a"):
        assert get(client, {}, path, 401)["errors"][0]["title"] == "CF-NotAuthenticated"
        assert get(client, auth("openid"), path, 403)["errors"][0]["title"] == "CF-NotAuthorized"


def test_the_console_is_served_from_the_package_with_a_strict_policy(client):
    static = pathlib.Path(console.__file__).parent / "static"
    assert sorted(p.name for p in static.iterdir()) == sorted([*console.ASSETS, console.SHELL])
    shell = client.get("/console/")
    assert shell.status_code == 200 and shell.mimetype == "text/html"
    assert "default-src 'self'" in shell.headers["Content-Security-Policy"]
    page = shell.get_data(as_text=True)
    assert "http://" not in page and "https://" not in page
    for name, content_type in console.ASSETS.items():
        asset = client.get(f"/console/{name}")
        assert (asset.status_code, asset.headers["Content-Type"]) == (200, content_type), name
        assert asset.data == (static / name).read_bytes()
        # No CDN: nothing is imported or fetched from another origin.
        assert b"//cdn" not in asset.data and b"import('http" not in asset.data
        again = client.get(f"/console/{name}", headers={"If-None-Match": asset.headers["ETag"]})
        assert again.status_code == 304
    assert client.get("/console/missing.js").get_json()["error_code"] == "CF-NotFound"


def test_the_top_crashes_from_the_counts_equal_a_pass_over_the_crashes(client, admin, monkeypatch):
    """For a platform-wide reader the crash ranking is read from the counts by actee and day (no statement
    reads the events), and equals the ranking read from the crashes themselves, after writes, renames and
    deletes; types outside the counted ones are read from the events."""
    from sqlalchemy import event as sql_event

    from app.api.v3 import stats

    rnd = random.Random(4)
    crashes = [{"guid": f"c-{n}", "type": rnd.choice(["app.crash", "audit.app.process.crash", "audit.app.update"]),
                "actor": "u", "actor_type": "user", "actee": f"app-{rnd.randrange(6)}", "actee_type": "app",
                "actee_name": rnd.choice(["web", "api", ""]), "space_guid": "space-1", "organization_guid": "org-1",
                "timestamp": iso(MIDNIGHT - timedelta(days=rnd.randrange(-1, 40), seconds=rnd.randrange(86400))),
                "metadata": {"request": {}}} for n in range(300)]
    for event in crashes:
        if event["type"] != "audit.app.update":
            event["metadata"] = {"instance": "i", "index": 0, "exit_status": 1, "exit_description": "x",
                                 "reason": "CRASHED", "version": "v1"}
    assert client.post("/v2/events", json=crashes, headers=admin).status_code == 201
    for guid in ("c-1", "c-2", "c-3"):
        assert client.delete(f"/v2/events/{guid}", headers=admin).status_code == 204
    statements = []
    sql_event.listen(db.engines[None], "before_cursor_execute",
                     lambda conn, cursor, statement, *rest: statements.append(statement))
    for query in ("", "?days=3", "?days=366&limit=100", "?types=audit.app.process.crash,app.crash&days=45"):
        statements.clear()
        counted = get(client, admin, f"/v3/audit_event_stats/top_targets{query}")
        assert counted["resources"] and not [s for s in statements if " events" in s], statements
        with monkeypatch.context() as patch:
            patch.setattr(stats, "CRASH_TYPES", frozenset())
            assert get(client, admin, f"/v3/audit_event_stats/top_targets{query}") == counted
    statements.clear()
    get(client, admin, "/v3/audit_event_stats/top_targets?types=app.crash,audit.app.update")
    assert [s for s in statements if "FROM events" in s]


def _crashes(rnd, apps, weights, count):
    """`count` crashes of `apps` (drawn with `weights`) over the last 400 days, under changing names."""
    crashes = []
    for n in range(count):
        crashes.append({
            "guid": f"c-{n}", "type": rnd.choice(["app.crash", "audit.app.process.crash"]), "actor": "u",
            "actor_type": "user", "actee": rnd.choices(apps, weights)[0], "actee_type": "app",
            "actee_name": rnd.choice(["web", "api", ""]), "space_guid": "space-1", "organization_guid": "org-1",
            "timestamp": iso(MIDNIGHT - timedelta(days=rnd.randrange(-1, 400), seconds=rnd.randrange(86400))),
            "metadata": {"instance": "i", "index": 0, "exit_status": 1, "exit_description": "x",
                         "reason": "CRASHED", "version": "v1"}})
    return crashes


@pytest.mark.parametrize("spread", ["a few apps crash most", "every app alike"])
def test_the_top_crashes_from_each_months_most_crashing_equal_a_pass_over_the_crashes(client, admin, monkeypatch,
                                                                                      spread):
    """The ranking starts from each month's few most crashing apps (stats.LISTED_PER_PLACE for each place asked
    for, made small here so that the lists leave most apps out). Where the lists decide, that is the whole
    work (two statements);
    where crashes are spread evenly they cannot, and every app's days are summed. Either way the answer is
    the pass over the crashes', after renames and deletes, for windows that cut months."""
    from sqlalchemy import event as sql_event

    from app.api.v3 import stats

    rnd = random.Random(7)
    apps = [f"app-{n:02}" for n in range(40)]
    weights = [1 / (rank + 1) ** 3 for rank in range(40)] if spread.startswith("a few") else [1] * 40
    crashes = _crashes(rnd, apps, weights, 1500)
    for start in range(0, len(crashes), 500):
        assert client.post("/v2/events", json=crashes[start:start + 500], headers=admin).status_code == 201
    for guid in ("c-1", "c-2", "c-3", "c-4"):
        assert client.delete(f"/v2/events/{guid}", headers=admin).status_code == 204
    monkeypatch.setattr(stats, "LISTED_PER_PLACE", 2)  # of 40 apps, lists of 2, 4, 2 and 60
    statements = []
    sql_event.listen(db.engines[None], "before_cursor_execute",
                     lambda conn, cursor, statement, *rest: statements.append(statement))
    decided = []
    for query in ("?days=366&limit=5", "?days=45&limit=2", "?days=100&types=app.crash&limit=1", "?days=366&limit=30"):
        statements.clear()
        counted = get(client, admin, f"/v3/audit_event_stats/top_targets{query}")
        assert counted["resources"] and not [s for s in statements if " events" in s], statements
        # The lists, then the candidates' days; or else (the lists hopeless, or the candidates' totals short of
        # what the others may have) every target's sum and the top ones' days.
        selects = sum(s.lstrip().startswith("SELECT") for s in statements)
        assert selects in (2, 3, 4), statements
        decided.append(selects == 2)
        with monkeypatch.context() as patch:
            patch.setattr(stats, "CRASH_TYPES", frozenset())
            assert get(client, admin, f"/v3/audit_event_stats/top_targets{query}") == counted, query
    # The lists decide every ranking of the skewed spread; of the even spread's, only the one whose lists (60 a
    # month) hold every app, so that nothing is left out of them.
    assert decided == ([True] * 4 if spread.startswith("a few") else [False, False, False, True])
