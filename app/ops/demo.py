"""Demo data for the embedded default: a few thousand audit events of a small, plausible platform, the
app usage events of its apps and their tasks, and its service instances' usage events."""
import random
import uuid
from datetime import datetime, timedelta, timezone

from app.store.models import AppUsageEvent, Event, ServiceUsageEvent
from app.store.writes import MAX_BATCH, write_events

ORGS = {"acme": ["dev", "staging", "prod"], "globex": ["dev", "prod"], "initech": ["sandbox", "prod"]}
APPS = ["web", "api", "worker", "billing", "search", "notifier", "reports", "auth-proxy"]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
CRASHES = [
    (137, "APP/PROC/WEB: Exited with status 137 (out of memory)"),
    (1, "APP/PROC/WEB: Exited with status 1"),
    (255, "Instance never healthy after 1m0s: Failed to make TCP connection to port 8080"),
]


def _guid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _user_actor(user):
    return {"actor": user["guid"], "actor_type": "user", "actor_name": user["email"], "actor_username": user["name"]}


def _app_lifecycle(rng, app, user_of, start, end):
    """The events of one app, from its creation to now (or its deletion)."""
    target = {"actee": app["guid"], "actee_type": "app", "actee_name": app["name"],
              "space_guid": app["space"], "organization_guid": app["org"]}
    moment = start
    events = [{"type": "audit.app.create", "timestamp": moment, **_user_actor(user_of()), **target,
               "metadata": {"request": {"name": app["name"], "instances": 1, "memory": 256, "state": "STOPPED",
                                        "environment_json": {"DATABASE_URL": "postgres://secret@db/app"}}}}]
    instances, memory = 1, 256
    while True:
        moment += timedelta(minutes=rng.expovariate(1 / 240))
        if moment >= end:
            return events
        roll = rng.random()
        if roll < 0.45:
            instances, memory = rng.choice([1, 2, 3, 4]), rng.choice([256, 512, 1024])
            request = {"instances": instances, "memory": memory}
            if rng.random() < 0.3:
                request["environment_json"] = {"FEATURE_FLAG": "on"}
            events.append({"type": "audit.app.update", "timestamp": moment, **_user_actor(user_of()), **target,
                           "metadata": {"request": request}})
        elif roll < 0.75:
            kind = rng.choice(["audit.app.start", "audit.app.stop", "audit.app.restart"])
            events.append({"type": kind, "timestamp": moment, **_user_actor(user_of()), **target, "metadata": {}})
        elif roll < 0.995:
            status, description = rng.choice(CRASHES)
            events.append({"type": "app.crash", "timestamp": moment, "actor": app["guid"], "actor_type": "app",
                           "actor_name": app["name"], **target, "metadata": {
                               "instance": _guid(rng), "index": rng.randrange(instances), "cell_id": _guid(rng),
                               "exit_status": status, "exit_description": description, "reason": "CRASHED"}})
        else:
            events.append({"type": "audit.app.delete-request", "timestamp": moment, **_user_actor(user_of()),
                           **target, "metadata": {"request": {"recursive": True}}})
            return events


# (label, service guid, broker, plans): each plan is (guid, name).
SERVICES = [("postgres", "6b2e1c8a-3f1d-4c55-9a43-2f7d3a1c0001", "data-broker",
             [("6b2e1c8a-3f1d-4c55-9a43-2f7d3a1c0101", "small"), ("6b2e1c8a-3f1d-4c55-9a43-2f7d3a1c0102", "large")]),
            ("redis", "6b2e1c8a-3f1d-4c55-9a43-2f7d3a1c0002", "data-broker",
             [("6b2e1c8a-3f1d-4c55-9a43-2f7d3a1c0201", "cache")])]
TASKS = ["db-migrate", "nightly-report"]


def demo_events(seed=2016, now=None, days=45):
    """The demo's events as write-API dicts, oldest first; the same seed gives the same platform."""
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    start = now - timedelta(days=days)
    users = [{"guid": _guid(rng), "name": name, "email": f"{name}@example.com"} for name in USERS]
    events = []
    for org_name, space_names in ORGS.items():
        org = _guid(rng)
        # Named by its creation event, as on a foundation; its creator is not drawn, so that the platform that
        # follows stays the one the seed always gave.
        events.append({"type": "audit.organization.create", "timestamp": start, **_user_actor(users[0]),
                       "actee": org, "actee_type": "organization", "actee_name": org_name,
                       "organization_guid": org, "metadata": {"request": {"name": org_name}}})
        for space_name in space_names:
            space = _guid(rng)
            creator = rng.choice(users)
            events.append({"type": "audit.space.create", "timestamp": start, **_user_actor(creator),
                           "actee": space, "actee_type": "space", "actee_name": space_name,
                           "space_guid": space, "organization_guid": org,
                           "metadata": {"request": {"name": space_name, "organization_guid": org}}})
            for app_name in rng.sample(APPS, rng.randint(3, 6)):
                # Names differ from space to space, as on a platform where each is its own deployment.
                app = {"guid": _guid(rng), "name": f"{app_name}-{space_name}", "space": space, "org": org}
                born = start + timedelta(hours=rng.uniform(1, 24 * 7))
                events += _app_lifecycle(rng, app, lambda: rng.choice(users), born, now)
    for event in events:
        event["guid"] = _guid(rng)
    return sorted(events, key=lambda event: event["timestamp"])


USAGE_STATES = {"audit.app.start": "STARTED", "audit.app.restart": "STARTED", "audit.app.stop": "STOPPED",
                "audit.app.delete-request": "STOPPED"}


def demo_usage_events(events):
    """The app usage events the demo's starts and stops imply, with each app's latest size."""
    sizes, states, usage = {}, {}, []
    space_names = {event["actee"]: event["actee_name"] for event in events if event["type"] == "audit.space.create"}
    for event in events:
        if event["type"] in ("audit.app.create", "audit.app.update"):
            request = event["metadata"].get("request", {})
            size = sizes.setdefault(event["actee"], {"instances": 1, "memory": 256})
            size.update({key: request[key] for key in ("instances", "memory") if key in request})
        state = USAGE_STATES.get(event["type"])
        if state is None or (state == "STOPPED" and states.get(event["actee"]) != "STARTED"):
            continue
        size = sizes.get(event["actee"], {"instances": 1, "memory": 256})
        usage.append({
            "guid": f"usage-{event['guid']}", "created_at": event["timestamp"].isoformat(), "state": state,
            "previous_state": states.get(event["actee"], "STOPPED"), "memory_in_mb_per_instance": size["memory"],
            "instance_count": size["instances"], "app_guid": event["actee"], "app_name": event["actee_name"],
            "space_guid": event["space_guid"], "space_name": space_names[event["space_guid"]],
            "org_guid": event["organization_guid"],
            "buildpack_name": "ruby_buildpack", "package_state": "STAGED", "process_type": "web",
            "parent_app_guid": event["actee"], "parent_app_name": event["actee_name"],
        })
        states[event["actee"]] = state
    return usage


def demo_task_usage_events(usage, now, seed=2016):
    """Task runs of some running apps: each a TASK_STARTED and, unless it still runs, a TASK_STOPPED."""
    rng = random.Random(seed + 1)
    started = {event["app_guid"]: event for event in usage if event["state"] == "STARTED"}
    tasks = []
    for app in rng.sample(sorted(started.values(), key=lambda event: event["app_guid"]), k=min(6, len(started))):
        moment = datetime.fromisoformat(app["created_at"])
        while (moment := moment + timedelta(hours=rng.uniform(6, 30))) < now:
            run = {"task_guid": _guid(rng), "task_name": rng.choice(TASKS), "memory_in_mb_per_instance": 512,
                   "instance_count": 1, "app_guid": "", "app_name": "", "process_type": None,
                   "parent_app_guid": app["app_guid"], "parent_app_name": app["app_name"],
                   **{key: app[key] for key in ("space_guid", "space_name", "org_guid")}}
            tasks.append({**run, "guid": _guid(rng), "state": "TASK_STARTED", "created_at": moment.isoformat()})
            stopped = moment + timedelta(minutes=rng.uniform(1, 90))
            if stopped < now:
                tasks.append({**run, "guid": _guid(rng), "state": "TASK_STOPPED", "created_at": stopped.isoformat()})
    return tasks


def demo_service_usage_events(events, now, seed=2016):
    """One or two service instances per space, some moved to another plan, some deleted."""
    rng = random.Random(seed + 2)
    usage = []
    for space in (event for event in events if event["type"] == "audit.space.create"):
        for number in range(rng.randint(1, 2)):
            label, service_guid, broker, plans = rng.choice(SERVICES)
            instance = {"service_instance_guid": _guid(rng), "service_instance_name": f"{label}-{number + 1}",
                        "service_instance_type": "managed_service_instance", "service_guid": service_guid,
                        "service_label": label, "service_broker_name": broker, "service_broker_guid": None,
                        "org_guid": space["organization_guid"], "space_guid": space["actee"],
                        "space_name": space["actee_name"]}
            moment = space["timestamp"] + timedelta(hours=rng.uniform(1, 72))
            plan = rng.choice(plans)
            for state in ("CREATED", "UPDATED", "DELETED"):
                if moment >= now:
                    break
                if state == "UPDATED":
                    plan = rng.choice(plans)
                usage.append({**instance, "guid": _guid(rng), "state": state, "created_at": moment.isoformat(),
                              "service_plan_guid": plan[0], "service_plan_name": plan[1]})
                moment += timedelta(days=rng.uniform(3, 40))
    return sorted(usage, key=lambda event: event["created_at"])


def load_demo_events(**kwargs):
    """Write the demo's events through the write path (redacted like any other); return the counts."""
    from app.api.v2.schemas import EventWriteSchema
    from app.api.v2.usage_schemas import AppUsageEventWriteSchema, ServiceUsageEventWriteSchema
    from app.store.loading import loader_for

    now = kwargs.setdefault("now", datetime.now(timezone.utc))
    events = demo_events(**kwargs)
    usage = demo_usage_events(events)
    usage = sorted(usage + demo_task_usage_events(usage, now), key=lambda event: event["created_at"])
    services = demo_service_usage_events(events, now)
    audit = [dict(event, timestamp=event["timestamp"].isoformat()) for event in events]
    for model, schema, time_field, items in ((Event, EventWriteSchema, "timestamp", audit),
                                             (AppUsageEvent, AppUsageEventWriteSchema, "created_at", usage),
                                             (ServiceUsageEvent, ServiceUsageEventWriteSchema, "created_at", services)):
        for first in range(0, len(items), MAX_BATCH):
            write_events(model, loader_for(schema).load(items[first:first + MAX_BATCH]), time_field=time_field)
    return len(audit), len(usage) + len(services)
