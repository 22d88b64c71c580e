"""The usage rollups' tables: each meter's state, its closed segments, their monthly sums per meter, per-day
sums of each series, and the fold's position in each stream (metering.py)."""
from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.base.extensions import db
from app.base.types import BigId
from app.store.models import Guid, Name


class UsageFold(db.Model):
    """How far a usage stream is folded into the rollups: every event up to `position`, none after."""

    __tablename__ = "usage_folds"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    # The latest time the folded events take effect at (None before the first): /usage_availability.
    folded_until: Mapped[int | None] = mapped_column(BigInteger)


class UsageMeter(db.Model):
    """Something that runs and is metered: an app process, a task, or a service instance.

    Its open segment (`since` and the figures) is what it runs with now; the names are the latest its
    events gave. Organization, space and parent are those of the open (or last) segment.
    """

    __tablename__ = "usage_meters"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "app", "task", "service"
    guid: Mapped[str] = mapped_column(Guid, primary_key=True)  # the process, task or service instance
    org_guid: Mapped[str] = mapped_column(Guid)
    space_guid: Mapped[str] = mapped_column(Guid)
    space_name: Mapped[str | None] = mapped_column(Name)
    name: Mapped[str | None] = mapped_column(Name)  # app name, task name, service instance name
    # The parent app (processes, tasks) or the service (service instances).
    parent_guid: Mapped[str | None] = mapped_column(Guid)
    parent_name: Mapped[str | None] = mapped_column(Name)
    detail: Mapped[str | None] = mapped_column(Name)  # process type, or service instance type
    # No event of this meter takes effect before this (an event's time never goes back: metering.py).
    last_at: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[int | None] = mapped_column(BigInteger)  # when it first ran (a service instance's creation)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)  # when it last stopped (or was deleted)
    since: Mapped[int | None] = mapped_column(BigInteger)  # the open segment's start; None when not running
    instances: Mapped[int | None] = mapped_column(Integer)
    memory_in_mb: Mapped[int | None] = mapped_column(Integer)
    plan_guid: Mapped[str | None] = mapped_column(Guid)
    plan_name: Mapped[str | None] = mapped_column(Name)

    __table_args__ = (
        # An organization's meters, and those running before a moment (its reports).
        Index("ix_usage_meters_org_guid_kind_since", "org_guid", "kind", "since"),
        Index("ix_usage_meters_kind_since", "kind", "since"),
    )


class UsageSegment(db.Model):
    """A closed stretch of a meter's run with one set of figures, from `started` to `stopped`."""

    __tablename__ = "usage_segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    guid: Mapped[str] = mapped_column(Guid)
    org_guid: Mapped[str] = mapped_column(Guid)
    space_guid: Mapped[str] = mapped_column(Guid)
    parent_guid: Mapped[str | None] = mapped_column(Guid)
    instances: Mapped[int] = mapped_column(Integer)
    memory_in_mb: Mapped[int] = mapped_column(Integer)
    plan_guid: Mapped[str | None] = mapped_column(Guid)
    plan_name: Mapped[str | None] = mapped_column(Name)
    started: Mapped[int] = mapped_column(BigInteger)
    stopped: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        # An organization's reports: the segments that end after the period starts.
        Index("ix_usage_segments_org_guid_kind_stopped", "org_guid", "kind", "stopped"),
        # A day's starts and stops, when its peak is worked out again (metering.py).
        Index("ix_usage_segments_kind_started", "kind", "started"),
        Index("ix_usage_segments_kind_stopped", "kind", "stopped"),
    )


class UsageMonth(db.Model):
    """The seconds an app process's closed segments with one set of figures ran in one calendar month (UTC),
    in the organization of those segments: a month of an organization's app report is a row per process and
    figures (metering.MONTHLY_KINDS), whatever the number of its segments. Kept by the fold, in its transaction.
    """

    __tablename__ = "usage_months"

    org_guid: Mapped[str] = mapped_column(Guid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    month = mapped_column(Date, primary_key=True)  # its first day
    guid: Mapped[str] = mapped_column(Guid, primary_key=True)
    instances: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    memory_in_mb: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seconds: Mapped[int] = mapped_column(BigInteger)


class UsageDay(db.Model):
    """One day of one series (metering.SERIES): how its level changed that day, in a few sums.

    `net` is the level's change over the day; `area` the sum of each change times the seconds left in
    the day, so that the day's instance-seconds are (level at its start) x 86400 + area; `starts` counts
    runs begun. `peak_before` is the highest level, relative to the day's start, at any moment before
    `last_at` (the day's latest change; None when no level held before it), so the day's peak is
    max(peak_before, net). The `mb_` columns are the same sums for memory (MB x instances).
    """

    __tablename__ = "usage_days"

    series: Mapped[str] = mapped_column(String(300), primary_key=True)
    day = mapped_column(Date, primary_key=True)
    starts: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)
    area: Mapped[int] = mapped_column(BigInteger)
    mb_net: Mapped[int] = mapped_column(BigInteger)
    mb_area: Mapped[int] = mapped_column(BigInteger)
    peak_before: Mapped[int | None] = mapped_column(BigInteger)
    last_at: Mapped[int] = mapped_column(BigInteger)
