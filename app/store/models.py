"""The event store's tables: columns, indexes and constraints only."""
from functools import cache

from sqlalchemy import BigInteger, Date, Index, Integer, String, inspect
from sqlalchemy.orm import Mapped, mapped_column

from app.base.extensions import db
from app.base.types import BigId, Json, UTCDateTime

Guid = String(255)
Name = String(255)


class Event(db.Model):
    """An audit event, served by /v2/events and the /v1 dialect.

    Events are immutable, so there is no updated_at column: the v2 `updated_at` is `created_at`.
    Missing space and organization are NULL (rendered ""), so that `q=space_guid:` finds them.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    guid: Mapped[str] = mapped_column(Guid, unique=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    timestamp = mapped_column(UTCDateTime, nullable=False)
    type: Mapped[str] = mapped_column(Name)
    actor: Mapped[str] = mapped_column(Guid)
    actor_type: Mapped[str] = mapped_column(Name)
    actor_name: Mapped[str | None] = mapped_column(Name)
    actor_username: Mapped[str | None] = mapped_column(Name)
    actee: Mapped[str] = mapped_column(Guid)
    actee_type: Mapped[str] = mapped_column(Name)
    actee_name: Mapped[str] = mapped_column(Name)
    # `metadata` is reserved on declarative models.
    data = mapped_column("metadata", Json, nullable=False)
    space_guid: Mapped[str | None] = mapped_column(Guid)
    organization_guid: Mapped[str | None] = mapped_column(Guid)

    # One index per /v2/events filter, each ending in the list order (timestamp, id), so a
    # filtered page is a range scan of one index in either direction.
    __table_args__ = (
        Index("ix_events_timestamp_id", "timestamp", "id"),
        Index("ix_events_type_timestamp_id", "type", "timestamp", "id"),
        Index("ix_events_actee_timestamp_id", "actee", "timestamp", "id"),
        Index("ix_events_space_guid_timestamp_id", "space_guid", "timestamp", "id"),
        Index("ix_events_organization_guid_timestamp_id", "organization_guid", "timestamp", "id"),
        # v3's actor_guids and actor_names ("what did this user do?", CC issues #1046, #577).
        Index("ix_events_actor_timestamp_id", "actor", "timestamp", "id"),
        Index("ix_events_actor_name_timestamp_id", "actor_name", "timestamp", "id"),
    )


class EventCountByDay(db.Model):
    """How many audit events of each type have a timestamp on each UTC day.

    Kept exact by triggers on events (migration 0005), whoever writes or deletes: totals of
    /v2/events come from here instead of a COUNT over millions of rows, and a deep page skips
    whole days instead of OFFSET-scanning them (see event_counts.py).
    """

    __tablename__ = "event_counts_by_day"

    type: Mapped[str] = mapped_column(Name, primary_key=True)
    day = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    # Bounds of the ids of the day's events of the type (migration 0010): deletes leave them wider,
    # never narrower, so an event of the day always lies within them.
    first_id: Mapped[int | None] = mapped_column(BigInteger)
    last_id: Mapped[int | None] = mapped_column(BigInteger)


class EventCountByTarget(db.Model):
    """How many audit events of each type each space, organization, actee, actor and actor name has
    (same triggers)."""

    __tablename__ = "event_counts_by_target"

    # "space", "organization", "actee", "actor" or "actor_name"
    target_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    target_guid: Mapped[str] = mapped_column(Guid, primary_key=True)
    type: Mapped[str] = mapped_column(Name, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


# The types counted by actee and day (migration 0013): the console ranks apps by their crashes.
CRASH_TYPES = frozenset({"app.crash", "audit.app.process.crash"})


class EventCountByActeeDay(db.Model):
    """How many crashes (CRASH_TYPES) each actee, as named by the events, had on each UTC day (triggers of
    migration 0013): the console's ranking of the apps that crash most reads these, not the crashes."""

    __tablename__ = "event_counts_by_actee_day"

    type: Mapped[str] = mapped_column(Name, primary_key=True)
    day = mapped_column(Date, primary_key=True)
    actee: Mapped[str] = mapped_column(Guid, primary_key=True)
    actee_type: Mapped[str] = mapped_column(Name, primary_key=True)
    actee_name: Mapped[str] = mapped_column(Name, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)

    # The days of the top apps (migration 0014), once they are ranked.
    __table_args__ = (Index("ix_event_counts_by_actee_day_actee", "actee", "actee_type", "type", "day"),)


class EventCountByActeeMonth(db.Model):
    """How many crashes (CRASH_TYPES) each actee had in each UTC month (triggers of migration 0016), found
    by size within a month: each month's most crashing apps, which bound what any other app can have."""

    __tablename__ = "event_counts_by_actee_month"

    type: Mapped[str] = mapped_column(Name, primary_key=True)
    month = mapped_column(Date, primary_key=True)
    actee: Mapped[str] = mapped_column(Guid, primary_key=True)
    actee_type: Mapped[str] = mapped_column(Name, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)

    # Read backwards: each month's most crashing first.
    __table_args__ = (Index("ix_event_counts_by_actee_month_ranked", "type", "month", "n"),)


class UsageStream(db.Model):
    """A usage-event stream's positions: the last one handed out, and where the unbroken run starts.

    Usage-event ids are positions taken from this row, not from a sequence. A writer bumps the
    row in the same transaction as its inserts and holds the row lock until it commits, so
    positions become visible in the order they were handed out and without gaps: a reader
    that has seen position N has seen every committed position below N (SPEC 4.1).

    Every position from `horizon` to `last_id` holds an event; below the horizon only the few
    events retention kept remain. Counts and page offsets above the horizon are arithmetic.
    """

    __tablename__ = "usage_streams"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    horizon: Mapped[int] = mapped_column(BigInteger)
    # PostgreSQL: the positions a partition of the stream's table holds (migration 0018).
    partition_width: Mapped[int] = mapped_column(BigInteger, server_default="1000000")


class PrunedUsageEvent(db.Model):
    """Where a pruned usage event stood, so that its guid still works as an after_guid cursor."""

    __tablename__ = "pruned_usage_events"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    guid: Mapped[str] = mapped_column(Guid, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger)


class AppUsageEvent(db.Model):
    __tablename__ = "app_usage_events"

    # The stream position (see UsageStream): the cursor order of after_guid.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guid: Mapped[str] = mapped_column(Guid, unique=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    state: Mapped[str] = mapped_column(String(50))
    previous_state: Mapped[str | None] = mapped_column(String(50))
    memory_in_mb_per_instance: Mapped[int] = mapped_column(Integer)
    previous_memory_in_mb_per_instance: Mapped[int | None] = mapped_column(Integer)
    instance_count: Mapped[int] = mapped_column(Integer)
    previous_instance_count: Mapped[int | None] = mapped_column(Integer)
    app_guid: Mapped[str] = mapped_column(Guid)
    app_name: Mapped[str] = mapped_column(Name)
    space_guid: Mapped[str] = mapped_column(Guid)
    space_name: Mapped[str] = mapped_column(Name)
    org_guid: Mapped[str] = mapped_column(Guid)
    buildpack_guid: Mapped[str | None] = mapped_column(Guid)
    buildpack_name: Mapped[str | None] = mapped_column(String(2048))
    package_state: Mapped[str | None] = mapped_column(String(50))
    previous_package_state: Mapped[str | None] = mapped_column(String(50))
    parent_app_guid: Mapped[str | None] = mapped_column(Guid)
    parent_app_name: Mapped[str | None] = mapped_column(Name)
    process_type: Mapped[str | None] = mapped_column(Name)
    task_name: Mapped[str | None] = mapped_column(Name)
    task_guid: Mapped[str | None] = mapped_column(Guid)

    __table_args__ = (
        # Retention cuts by age; purge-and-reseed and retention look up each app's latest event.
        Index("ix_app_usage_events_created_at", "created_at"),
        Index("ix_app_usage_events_app_guid_id", "app_guid", "id"),
    )


class ServiceUsageEvent(db.Model):
    __tablename__ = "service_usage_events"

    # The stream position (see UsageStream): the cursor order of after_guid.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guid: Mapped[str] = mapped_column(Guid, unique=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    state: Mapped[str] = mapped_column(String(50))
    org_guid: Mapped[str] = mapped_column(Guid)
    space_guid: Mapped[str] = mapped_column(Guid)
    space_name: Mapped[str] = mapped_column(Name)
    service_instance_guid: Mapped[str] = mapped_column(Guid)
    service_instance_name: Mapped[str] = mapped_column(Name)
    service_instance_type: Mapped[str] = mapped_column(Name)
    service_plan_guid: Mapped[str | None] = mapped_column(Guid)
    service_plan_name: Mapped[str | None] = mapped_column(Name)
    service_guid: Mapped[str | None] = mapped_column(Guid)
    service_label: Mapped[str | None] = mapped_column(Name)
    service_broker_name: Mapped[str | None] = mapped_column(Name)
    service_broker_guid: Mapped[str | None] = mapped_column(Guid)

    __table_args__ = (
        Index("ix_service_usage_events_created_at", "created_at"),
        Index("ix_service_usage_events_service_instance_guid_id", "service_instance_guid", "id"),
        # The q filters of /v2/service_usage_events, in cursor order.
        Index("ix_service_usage_events_service_instance_type_id", "service_instance_type", "id"),
        Index("ix_service_usage_events_service_guid_id", "service_guid", "id"),
    )


class KnownResource(db.Model):
    """An app, space or organization as the store knows it from its events and usage events.

    Kept by triggers on every event table (migration 0009), whoever writes: the name is the one the
    newest event carrying a name gives, an app's state that of its newest start or stop; an app's
    space and a space's organization never change in Cloud Foundry. cf CLI v8 looks apps, spaces and organizations up
    by name (GET /v3/apps?names=), which no scan of millions of events could answer in time.
    """

    __tablename__ = "known_resources"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "app", "space" or "organization"
    guid: Mapped[str] = mapped_column(Guid, primary_key=True)
    # The guid until an event names it (named_at is when the name was given): a name is always there
    # to look up by, through its index.
    name: Mapped[str] = mapped_column(Name)
    named_at = mapped_column(UTCDateTime)
    space_guid: Mapped[str | None] = mapped_column(Guid)
    organization_guid: Mapped[str | None] = mapped_column(Guid)
    state: Mapped[str | None] = mapped_column(String(16))  # an app's: STARTED or STOPPED
    state_at = mapped_column(UTCDateTime)
    first_seen_at = mapped_column(UTCDateTime, nullable=False)
    last_seen_at = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        # Looked up by name (GET /v3/apps?names=), and listed by space or organization.
        Index("ix_known_resources_kind_name", "kind", "name"),
        Index("ix_known_resources_kind_space_guid", "kind", "space_guid"),
        Index("ix_known_resources_kind_organization_guid", "kind", "organization_guid"),
    )


class FollowerPosition(db.Model):
    """Where the follower of an upstream Cloud Controller is in one of its streams (follower.py).

    Moved in the transaction that stores the events it covers, so a follower killed at any instant
    resumes where its last commit left it, with nothing lost and nothing stored twice.
    """

    __tablename__ = "follower_positions"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)  # "audit_events", "app_usage_events", …
    upstream: Mapped[str] = mapped_column(String(2048))  # the API it follows
    dialect: Mapped[str] = mapped_column(String(8))  # "v3" or "v2"
    # Usage streams: the guid a cycle reads after (an overlap behind the head), and the head's guid.
    resume_after: Mapped[str | None] = mapped_column(Guid)
    head: Mapped[str | None] = mapped_column(Guid)
    # Every stream: the newest event time stored (audit: a cycle reads from an overlap before it).
    newest_at = mapped_column(UTCDateTime)
    stored: Mapped[int] = mapped_column(BigInteger, default=0)  # events this follower stored
    last_success_at = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(2048))
    updated_at = mapped_column(UTCDateTime, nullable=False)


# --- usage rollups (metering.py): what the usage streams add up to, kept as they are folded ------------
# Times here are whole seconds since the epoch (UTC): the reports' arithmetic is on integers, in SQL
# and in Python alike, whichever the database.

@cache
def record_columns(model):
    """The table columns of `model`, labelled with its attribute names (`metadata` reads as `data`).

    Selecting these gives plain Rows that present like the ORM objects, without the cost of
    building objects: list pages use them.
    """
    return tuple(attr.columns[0].label(attr.key) for attr in inspect(model).column_attrs)
