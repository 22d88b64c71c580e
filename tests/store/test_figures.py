"""Every writer and deleter keeps the figures beside the rows whole (the triggers of migrations 0009 and 0010):
after each step the counts equal a recount from the events, and known_resources a refold of every row
(tests/figures.py)."""
import random
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from app.ops.importer import import_command
from app.store.audit_events import prune_audit_events
from tests.figures import assert_figures_exact

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
PURGES = ("/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps",
          "/v2/service_usage_events/destructively_purge_all_and_reseed_existing_instances")


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def audit_events(rnd, prefix, count):
    """Events of a few apps, spaces and organizations, renamed now and then, at distinct times (some earlier
    than events already written, as a late writer's)."""
    events = []
    for n in range(count):
        app = rnd.randrange(4)
        events.append({
            "guid": f"{prefix}-{n}", "type": rnd.choice(["audit.app.start", "audit.app.stop", "audit.app.update",
                                                         "app.crash", "audit.space.create"]),
            "actor": f"user-{rnd.randrange(3)}", "actor_type": "user", "actor_name": rnd.choice([None, "alice"]),
            "actee": f"app-{app}", "actee_type": rnd.choice(["app", "app", "app", "route"]),
            "actee_name": rnd.choice(["", f"web-{app}", f"api-{app}"]),
            "space_guid": rnd.choice([None, f"space-{app % 2}"]), "organization_guid": rnd.choice([None, "org-1"]),
            "timestamp": iso(T0 + timedelta(seconds=rnd.randrange(100_000), microseconds=n)),
            "metadata": {"request": {}}})
    for event in events:
        if event["type"] == "audit.space.create":
            event.update(actee=event["space_guid"] or "space-9", actee_type="space", actee_name="dev",
                         metadata={"request": {"name": "dev"}})
        if event["type"] == "app.crash":  # counted by actee and day too
            event["metadata"] = {"instance": "i-1", "index": 0, "exit_status": 1, "exit_description": "x",
                                 "reason": "CRASHED"}
        if event["organization_guid"] is None:
            event["space_guid"] = None  # a space is always in its organization
    return events


def app_usage_events(rnd, prefix, count):
    return [{"guid": f"{prefix}-{n}", "state": rnd.choice(["STARTED", "STOPPED", "BUILDPACK_SET"]),
             "memory_in_mb_per_instance": 256, "instance_count": 1, "app_guid": f"process-{n % 5}",
             "app_name": "web", "parent_app_guid": f"app-{n % 5}", "parent_app_name": rnd.choice(["", f"app {n % 5}"]),
             "space_guid": "space-1", "space_name": rnd.choice(["dev", "development"]), "org_guid": "org-1",
             "process_type": "web", "created_at": iso(T0 + timedelta(seconds=rnd.randrange(100_000), microseconds=n))}
            for n in range(count)]


def service_usage_events(rnd, prefix, count):
    return [{"guid": f"{prefix}-{n}", "state": "CREATED", "org_guid": "org-2", "space_guid": f"space-{n % 3}",
             "space_name": f"space {n % 3}", "service_instance_guid": f"si-{n}", "service_instance_name": "db",
             "service_instance_type": "managed_service_instance",
             "created_at": iso(T0 + timedelta(seconds=rnd.randrange(100_000), microseconds=n))}
            for n in range(count)]


def test_every_writer_keeps_the_figures_whole(app, client, admin, tmp_path):
    rnd = random.Random(21)
    first = audit_events(rnd, "one", 80)
    # One event, a small batch (an INSERT of values), and copied batches (from 50 rows: straight, then staged).
    for body in (first[0], first[:10], first[:60], first[40:80] + audit_events(rnd, "two", 30)):
        assert client.post("/v2/events", json=body, headers=admin).status_code in (200, 201)
        assert_figures_exact()
    for path, make in (("/v2/app_usage_events", app_usage_events), ("/v2/service_usage_events",
                                                                     service_usage_events)):
        for body in (make(rnd, "u", 1)[0], make(rnd, "v", 8), make(rnd, "w", 70)):
            assert client.post(path, json=body, headers=admin).status_code == 201
        assert_figures_exact()
    lines = tmp_path / "events.ndjson"
    lines.write_bytes(b"\n".join(orjson.dumps(event) for event in first[70:] + audit_events(rnd, "three", 120)))
    result = app.test_cli_runner().invoke(import_command, [str(lines), "--kind", "audit"])
    assert "written: 120" in result.output, result.output
    assert_figures_exact()
    assert client.delete("/v2/events/one-3", headers=admin).status_code == 204
    assert_figures_exact()
    prune_audit_events(T0 + timedelta(hours=10), batch_size=13)
    assert_figures_exact()
    for path in PURGES:
        assert client.post(path, headers=admin).status_code == 204
    assert_figures_exact()


@pytest.mark.parametrize("sign", [1, -1])
def test_a_batch_meeting_every_key_twice_is_summed_once(app, client, admin, sign):
    """Two events of one key in one batch make one upsert row (an upsert may not touch a row twice)."""
    event = audit_events(random.Random(3), "twin", 1)[0]
    twins = [event, {**event, "guid": "twin-b"}]
    assert client.post("/v2/events", json=twins if sign > 0 else twins[::-1], headers=admin).status_code == 201
    assert_figures_exact()


def test_of_two_sightings_at_one_moment_the_one_stored_later_wins(client, admin):
    events = app_usage_events(random.Random(5), "tie", 2)
    for n, (event, state) in enumerate(zip(events, ("STARTED", "STOPPED"), strict=True)):
        event.update(created_at=iso(T0), app_guid="process-0", parent_app_guid="app-0", parent_app_name=f"name {n}",
                     state=state)
        assert client.post("/v2/app_usage_events", json=event, headers=admin).status_code == 201
    app = client.get("/v3/apps/app-0", headers=admin).get_json()
    assert (app["name"], app["state"]) == ("name 1", "STOPPED")
