"""Reading audit events, whatever the dialect: filters and a reader to a page of rows, or one event.

The dialects differ in syntax, envelopes and order names only; what a reader may see
(visibility.py), what a filter means (filters.py) and how a total is counted (event_counts.py)
are decided here, once.
"""
from app.identity.visibility import find_visible, sees_every_event, visible_events

from .event_counts import event_page
from .filters import conditions
from .models import Event

# Every field a dialect may filter audit events on.
FIELDS = {name: getattr(Event, name) for name in (
    "guid", "timestamp", "type", "actor", "actor_type", "actor_name", "actee", "actee_type", "actee_name",
    "space_guid", "organization_guid")}

# The orders the dialects list events in; each ends in a unique column, so pages never overlap.
BY_TIME = (Event.timestamp, Event.id)  # v2 and v1 (SPEC 3)
BY_INSERTION = (Event.id,)  # v3's default (CC: id)
BY_TIME_THEN_GUID = (Event.timestamp, Event.guid)  # v3's order_by=created_at (CC's tie-break is guid)


def list_events(identity, filters, page, order=BY_TIME, dialect="v2"):
    """(total, Rows) of the events `identity` may see meeting `filters`, the `page` of them in `order`."""
    where = [visible_events(identity, dialect), *conditions(filters, FIELDS)]
    return event_page(sees_every_event(identity), filters, where, order, page)


def find_event(identity, guid, dialect="v2"):
    """(the event `guid` or None, whether `identity` may see it)."""
    return find_visible(Event, guid, visible_events(identity, dialect))
