"""Reading audit events, whatever the dialect: filters and what a reader may see to a page of rows, or
one event; and pruning them.

The dialects differ in syntax, envelopes and order names only; what a filter means (filters.py) and
how a total is counted (event_counts.py) are decided here, once. What a reader may see is identity's
rule (identity/visibility.py): it comes in as a query condition.
"""
from sqlalchemy import delete, select

from app.base.extensions import db

from . import partitions
from .event_counts import event_page
from .filters import conditions
from .models import Event
from .pages import find_visible

# Every field a dialect may filter audit events on.
FIELDS = {name: getattr(Event, name) for name in (
    "guid", "timestamp", "type", "actor", "actor_type", "actor_name", "actee", "actee_type", "actee_name",
    "space_guid", "organization_guid")}

# The orders the dialects list events in; each ends in a unique column, so pages never overlap.
BY_TIME = (Event.timestamp, Event.id)  # v2 and v1 (SPEC 3)
BY_INSERTION = (Event.id,)  # v3's default (CC: id)
BY_TIME_THEN_GUID = (Event.timestamp, Event.guid)  # v3's order_by=created_at (CC's tie-break is guid)


def list_events(visible, filters, page, order=BY_TIME, sees_every_event=False):
    """(total, Rows) of the events meeting `visible` (what the reader may see) and `filters`, the `page` of
    them in `order`. `sees_every_event`: `visible` holds for every event, so the maintained counts apply."""
    where = [visible, *conditions(filters, FIELDS)]
    return event_page(sees_every_event, filters, where, order, page)


def find_event(guid, visible):
    """(the event `guid` or None, whether it meets `visible`)."""
    return find_visible(Event, guid, visible)


def prune_audit_events(cutoff, batch_size=1000, dry_run=False, progress=None):
    """Delete audit events whose timestamp is before `cutoff`, oldest first, in batches of short transactions;
    return how many. On PostgreSQL the months wholly before the cutoff are dropped once emptied (partitions.py)."""
    old = select(Event.id).where(Event.timestamp < cutoff).order_by(Event.timestamp, Event.id)
    if dry_run:
        return db.session.scalar(select(db.func.count()).select_from(old.subquery()))
    deleted = 0
    while True:
        ids = db.session.scalars(old.limit(batch_size)).all()
        if ids:
            db.session.execute(delete(Event).where(Event.id.in_(ids), Event.timestamp < cutoff))
        db.session.commit()
        deleted += len(ids)
        if progress:
            progress(len(ids))
        if len(ids) < batch_size:
            break
    if partitions.partitioned():
        partitions.detach_before(cutoff)
        partitions.drop_detached("events")
    return deleted
