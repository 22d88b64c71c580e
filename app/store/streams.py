"""Usage-stream rules shared by purge-and-reseed and retention (usage/retention.py): which apps run, which
instances exist."""
from sqlalchemy import func, select

from .models import AppUsageEvent, ServiceUsageEvent

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
