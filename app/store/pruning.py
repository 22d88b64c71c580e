"""`flask events prune`: retention that keeps cursors working and open states computable (SPEC 4.2).

Deletes go in small batches, each its own short transaction, so that pollers and writers are
never held up for long.
"""
import sys
from datetime import timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import delete, insert, select, update

from app.base.extensions import db
from app.usage.metering import catch_up, fold_pending

from .cursor import lock_stream
from .models import AppUsageEvent, Event, PrunedUsageEvent, ServiceUsageEvent, UsageStream
from .streams import latest_existing_instance_events, latest_started_app_events
from .writes import utcnow

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


def prune_audit_events(cutoff, batch_size=1000, dry_run=False, progress=None):
    """Delete audit events whose timestamp is before `cutoff`, oldest first; return how many."""
    old = select(Event.id).where(Event.timestamp < cutoff).order_by(Event.timestamp, Event.id)
    if dry_run:
        return db.session.scalar(select(db.func.count()).select_from(old.subquery()))
    deleted = 0
    while True:
        ids = db.session.scalars(old.limit(batch_size)).all()
        if ids:
            db.session.execute(delete(Event).where(Event.id.in_(ids)))
        db.session.commit()
        deleted += len(ids)
        if progress:
            progress(len(ids))
        if len(ids) < batch_size:
            return deleted


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
