"""Retention: old events go, cursors keep working, running apps and existing instances keep their latest event."""
from datetime import datetime, timedelta, timezone

import pytest

from app.store.audit_events import prune_audit_events
from app.store.models import AppUsageEvent, ServiceUsageEvent
from app.usage.retention import prune_command, prune_usage_stream
from tests.api.v2.test_usage_events import app_event, guids, service_event, write
from tests.factories import EventFactory

NOW = datetime.now(timezone.utc)
CUTOFF = NOW - timedelta(days=31)


def days_ago(days):
    return (NOW - timedelta(days=days)).isoformat()


@pytest.fixture
def stream(client, admin):
    """Old events of a stopped app and of a running one, then young events."""
    write(client, admin, "/v2/app_usage_events", [
        app_event("stopped-1", app_guid="stopped", created_at=days_ago(90)),
        app_event("running-1", app_guid="running", created_at=days_ago(80)),
        app_event("stopped-2", "STOPPED", app_guid="stopped", created_at=days_ago(70)),
        app_event("running-2", app_guid="running", created_at=days_ago(60)),
        app_event("young-1", app_guid="other", created_at=days_ago(5)),
        app_event("young-2", "STOPPED", app_guid="other", created_at=days_ago(1)),
    ])


def listed(client, admin, query=""):
    body = client.get(f"/v2/app_usage_events?results-per-page=100{query}", headers=admin).get_json()
    return body["total_results"], guids(body)


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_old_events_go_but_the_latest_of_a_running_app_stays(app, client, admin, stream, batch_size):
    assert prune_usage_stream(AppUsageEvent, CUTOFF, batch_size) == (3, 1)
    assert listed(client, admin) == (3, ["running-2", "young-1", "young-2"])


def test_pruned_guids_still_work_as_cursors_with_exact_totals(app, client, admin, stream):
    prune_usage_stream(AppUsageEvent, CUTOFF)
    assert listed(client, admin, "&after_guid=stopped-1") == (3, ["running-2", "young-1", "young-2"])
    assert listed(client, admin, "&after_guid=stopped-2") == (3, ["running-2", "young-1", "young-2"])
    assert listed(client, admin, "&after_guid=running-2") == (2, ["young-1", "young-2"])
    pages = [client.get(f"/v2/app_usage_events?results-per-page=2&order-direction=desc&page={page}",
                        headers=admin).get_json() for page in (1, 2)]
    assert [guids(page) for page in pages] == [["young-2", "young-1"], ["running-2"]]
    assert {page["total_results"] for page in pages} == {3}


def test_a_dry_run_deletes_nothing(app, client, admin, stream):
    assert prune_usage_stream(AppUsageEvent, CUTOFF, dry_run=True) == (3, 1)
    assert listed(client, admin)[0] == 6


def test_pruning_stops_at_the_first_young_event(app, client, admin):
    write(client, admin, "/v2/app_usage_events", [
        app_event("old-1", app_guid="a", created_at=days_ago(90)),
        app_event("young", "STOPPED", app_guid="b", created_at=days_ago(1)),
        app_event("old-but-later", "STOPPED", app_guid="a", created_at=days_ago(90)),
    ])
    assert prune_usage_stream(AppUsageEvent, CUTOFF) == (1, 0)
    assert listed(client, admin) == (2, ["young", "old-but-later"])


def test_service_instances_that_exist_keep_their_latest_event(app, client, admin):
    write(client, admin, "/v2/service_usage_events", [
        service_event("kept", instance="exists", created_at=days_ago(60)),
        service_event("gone-1", instance="gone", created_at=days_ago(60)),
        service_event("gone-2", "DELETED", instance="gone", created_at=days_ago(50)),
    ])
    assert prune_usage_stream(ServiceUsageEvent, CUTOFF) == (2, 1)
    body = client.get("/v2/service_usage_events?after_guid=gone-1", headers=admin).get_json()
    assert guids(body) == []
    assert guids(client.get("/v2/service_usage_events", headers=admin).get_json()) == ["kept"]


def test_purge_after_pruning_invalidates_pruned_cursors(app, client, admin, stream):
    prune_usage_stream(AppUsageEvent, CUTOFF)
    client.post("/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps", headers=admin)
    assert client.get("/v2/app_usage_events?after_guid=stopped-1", headers=admin).status_code == 400


def test_audit_events_older_than_the_cutoff_go(app, client, admin):
    EventFactory(guid="old", timestamp=NOW - timedelta(days=40))
    EventFactory(guid="new", timestamp=NOW - timedelta(days=2))
    assert prune_audit_events(CUTOFF, dry_run=True) == 1
    assert prune_audit_events(CUTOFF, batch_size=1) == 1
    body = client.get("/v2/events", headers=admin).get_json()
    assert [resource["metadata"]["guid"] for resource in body["resources"]] == ["new"]


def test_the_command(app, client, admin, stream):
    runner = app.test_cli_runner()
    result = runner.invoke(prune_command, ["--dry-run", "--audit-days", "0"])
    assert result.exit_code == 0, result.output
    assert "app usage events: would delete 3, kept 1" in result.output
    assert "audit events: kept forever" in result.output
    result = runner.invoke(args=["events", "prune"])
    assert "app usage events: deleted 3, kept 1" in result.output
    assert listed(client, admin)[0] == 3
