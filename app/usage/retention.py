"""Retention of the usage streams, and `flask events prune`: deletes that keep cursors working, open states
computable (SPEC 4.2) and the usage rollups whole, since nothing is deleted before it is folded.

Deletes go in small batches, each its own short transaction, so that pollers and writers are
never held up for long.
"""
import sys
from datetime import timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import delete, func, insert, select, update

from app.base.extensions import db
from app.store import partitions
from app.store.audit_events import prune_audit_events
from app.store.cursor import lock_stream, take_positions
from app.store.models import AppUsageEvent, Event, PrunedUsageEvent, ServiceUsageEvent, UsageStream
from app.store.streams import latest_existing_instance_events, latest_started_app_events
from app.store.writes import utcnow

from .metering import catch_up, fold_pending

# The events a usage stream keeps past its cutoff: without them the duration of an app that is
# still started (or an instance that still exists) could no longer be computed.
KEEPERS = {AppUsageEvent: latest_started_app_events, ServiceUsageEvent: latest_existing_instance_events}


def _old_run(model, cutoff, horizon, limit=None):
    """The events from `horizon` up to the first young one (created_at is written by the writers, so
    it is not strictly ordered by position: stopping at the first young event keeps everything after
    it), and whether a young one was reached."""
    statement = select(model.id, model.guid, model.created_at).where(model.id >= horizon).order_by(model.id)
    rows = db.session.execute(statement.limit(limit) if limit else statement).all()
    for index, row in enumerate(rows):
        if row.created_at >= cutoff:
            return rows[:index], row.id
    return rows, None


def _drop_whole_ranges(model, cutoff, keepers, progress):
    """PostgreSQL: drop the stream's oldest ranges of positions (partitions.py) while every event in them is older
    than `cutoff`, their kept events moved aside; return how many events went, and how many were kept. Each
    range's tombstones are written first, then it goes in one short transaction under the stream's lock, its
    events folded first."""
    stream = model.__tablename__
    deleted = kept = 0
    for whole in partitions.usage_ranges(stream):
        last_id = db.session.scalar(select(UsageStream.last_id).where(UsageStream.name == stream))
        young = select(model.id).where(model.id >= whole.low, model.id < whole.high, model.created_at >= cutoff)
        # A range still being written, or holding a young event, stops the walk: what is after it stays.
        if whole.high > last_id + 1 or db.session.scalar(young.limit(1)) is not None:
            break
        partitions.tombstone_range(stream, whole, keepers)
        held = db.session.scalar(select(func.count()).select_from(model).where(model.id >= whole.low,
                                                                                model.id < whole.high))
        staying = len(partitions.kept_in(whole, keepers))
        partitions.retrying(lambda whole=whole: _drop_range(model, whole, keepers))
        deleted, kept = deleted + held - staying, kept + staying
        if progress:
            progress(held)
    partitions.drop_detached(stream)
    return deleted, kept


def _drop_range(model, whole, keepers):
    lock_stream(model.__tablename__)
    fold_pending(model, limit=None)  # what was written since the catch-up, under the stream's lock
    partitions.drop_range(model.__tablename__, whole, keepers)


def prune_usage_stream(model, cutoff, batch_size=1000, dry_run=False, progress=None):
    """Delete `model`'s events created before `cutoff`, oldest positions first; return (deleted, kept).

    Every deleted guid leaves a tombstone, so it still works as after_guid, and the stream's horizon
    moves past it, so counts above the horizon stay arithmetic. Nothing is deleted before it is folded
    into the usage rollups, so no report changes.
    """
    stream = model.__tablename__
    if not dry_run:
        catch_up(model)
    keepers = set(db.session.scalars(KEEPERS[model]().with_only_columns(model.id)).all())
    deleted = kept = 0
    if partitions.partitioned() and not dry_run:
        deleted, kept = _drop_whole_ranges(model, cutoff, keepers, progress)
    while True:
        lock_stream(stream)  # held for this one batch
        horizon = db.session.scalar(select(UsageStream.horizon).where(UsageStream.name == stream))
        old, young = _old_run(model, cutoff, horizon, None if dry_run else batch_size)
        doomed = [row for row in old if row.id not in keepers]
        deleted, kept = deleted + len(doomed), kept + len(old) - len(doomed)
        if progress:
            progress(len(old))
        if dry_run or not old:
            db.session.rollback()
            return deleted, kept
        if doomed:
            fold_pending(model, limit=None)  # what was written since the catch-up, under the stream's lock
            db.session.execute(insert(PrunedUsageEvent),
                               [{"stream": stream, "guid": row.guid, "id": row.id} for row in doomed])
            db.session.execute(delete(model).where(model.id.in_([row.id for row in doomed])))
        new_horizon = young if young is not None else old[-1].id + 1
        db.session.execute(update(UsageStream).where(UsageStream.name == stream).values(horizon=new_horizon))
        db.session.commit()
        if young is not None:
            return deleted, kept


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


@click.command("prune")
@click.option("--app-usage-days", default=31, show_default=True, help="Keep app usage events this long (0: forever).")
@click.option("--service-usage-days", default=31, show_default=True, help="The same for service usage events.")
@click.option("--audit-days", default=31, show_default=True, help="The same for audit events.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@with_appcontext
def prune_command(app_usage_days, service_usage_days, audit_days, batch_size, dry_run):
    """Delete old events, keeping cursors valid and the latest event of running apps and instances."""
    now = utcnow()
    verb = "would delete" if dry_run else "deleted"
    for label, days, model in (("app usage events", app_usage_days, AppUsageEvent),
                               ("service usage events", service_usage_days, ServiceUsageEvent),
                               ("audit events", audit_days, Event)):
        if days <= 0:
            click.echo(f"{label}: kept forever")
            continue
        cutoff = now - timedelta(days=days)
        with click.progressbar(length=0, label=f"pruning {label}", file=sys.stderr) as bar:
            if model is Event:
                deleted = prune_audit_events(cutoff, batch_size, dry_run, bar.update)
                click.echo(f"{label}: {verb} {deleted}")
            else:
                folded = 0 if dry_run else catch_up(model)
                deleted, kept = prune_usage_stream(model, cutoff, batch_size, dry_run, bar.update)
                folding = "" if dry_run else f" (first folded {folded} more into the usage rollups)"
                click.echo(f"{label}: {verb} {deleted}, kept {kept} of running apps or existing instances{folding}")
