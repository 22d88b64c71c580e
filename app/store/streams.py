"""Usage-stream rules shared by purge-and-reseed and retention: which apps run, which instances exist."""
from sqlalchemy import delete, func, insert, select, update

from app.base.extensions import db
from app.usage.metering import fold_pending

from .cursor import lock_stream, take_positions
from .models import AppUsageEvent, PrunedUsageEvent, ServiceUsageEvent, UsageStream
from .writes import utcnow

APP_STATES = ("STARTED", "STOPPED", "BUILDPACK_SET", "TASK_STARTED", "TASK_STOPPED", "STAGING_STARTED",
              "STAGING_STOPPED")
SERVICE_STATES = ("CREATED", "DELETED", "UPDATED")
SERVICE_INSTANCE_TYPES = ("managed_service_instance", "user_provided_service_instance")
# The states that start and stop an app process (the others describe tasks, staging, buildpacks).
PROCESS_STATES = ("STARTED", "STOPPED")
# Every field a dialect may filter a usage stream on.
STREAM_FIELDS = {
    AppUsageEvent: {name: getattr(AppUsageEvent, name) for name in ("guid", "created_at")},
    ServiceUsageEvent: {name: getattr(ServiceUsageEvent, name) for name in (
        "guid", "created_at", "service_instance_type", "service_guid")},
}


def latest_started_app_events():
    """The latest STARTED/STOPPED event of each app process, where that latest event is STARTED."""
    latest = (
        select(func.max(AppUsageEvent.id))
        .where(AppUsageEvent.state.in_(PROCESS_STATES), AppUsageEvent.app_guid != "")
        .group_by(AppUsageEvent.app_guid)
    )
    return select(AppUsageEvent).where(AppUsageEvent.id.in_(latest), AppUsageEvent.state == "STARTED")


def latest_existing_instance_events():
    """The latest event of each service instance, where that latest event is not DELETED."""
    latest = select(func.max(ServiceUsageEvent.id)).group_by(ServiceUsageEvent.service_instance_guid)
    return select(ServiceUsageEvent).where(ServiceUsageEvent.id.in_(latest), ServiceUsageEvent.state != "DELETED")


def _reseeded_app_event(event, now):
    # As CC reseeds: the app's current figures, also as its "previous" ones, guid = the app's guid.
    return {
        "guid": event.app_guid, "created_at": now, "state": "STARTED", "previous_state": "STARTED",
        "memory_in_mb_per_instance": event.memory_in_mb_per_instance,
        "previous_memory_in_mb_per_instance": event.memory_in_mb_per_instance,
        "instance_count": event.instance_count, "previous_instance_count": event.instance_count,
        "app_guid": event.app_guid, "app_name": event.app_name, "space_guid": event.space_guid,
        "space_name": event.space_name, "org_guid": event.org_guid, "buildpack_guid": event.buildpack_guid,
        "buildpack_name": event.buildpack_name, "package_state": event.package_state,
        "previous_package_state": "UNKNOWN", "parent_app_guid": event.parent_app_guid,
        "parent_app_name": event.parent_app_name, "process_type": event.process_type,
    }


def _reseeded_service_event(event, now):
    columns = ("org_guid", "space_guid", "space_name", "service_instance_guid", "service_instance_name",
               "service_instance_type", "service_plan_guid", "service_plan_name", "service_guid", "service_label",
               "service_broker_name", "service_broker_guid")
    return {"guid": event.service_instance_guid, "created_at": now, "state": "CREATED",
            **{column: getattr(event, column) for column in columns}}


RESEED = {
    AppUsageEvent: (latest_started_app_events, _reseeded_app_event),
    ServiceUsageEvent: (latest_existing_instance_events, _reseeded_service_event),
}


def purge_and_reseed(model):
    """Replace a usage stream by one event per running app (or existing instance), in one transaction.

    Positions go on from the stream's last one, and nothing below them remains: every earlier
    cursor, pruned ones included, becomes unknown (400), so collectors know to start over.
    """
    stream = model.__tablename__
    latest, reseeded = RESEED[model]
    try:
        lock_stream(stream)  # first: no writer may slip in between
        fold_pending(model, limit=None)  # the rollups keep what the purge deletes
        now = utcnow()
        rows = [reseeded(event, now) for event in db.session.scalars(latest().order_by(model.id)).all()]
        db.session.execute(delete(model))
        db.session.execute(delete(PrunedUsageEvent).where(PrunedUsageEvent.stream == stream))
        first = take_positions(stream, len(rows))
        for position, row in enumerate(rows, start=first):
            row["id"] = position
        if rows:
            db.session.execute(insert(model), rows)
        db.session.execute(update(UsageStream).where(UsageStream.name == stream).values(horizon=first))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return len(rows)
