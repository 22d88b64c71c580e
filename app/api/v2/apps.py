"""GET /v2/spaces/{guid}/apps?q=name:X: the app lookup cf CLI v6 makes before `cf events APP`.

cf-events has no apps table; it knows apps from their audit events (actee) and usage events,
each naming the app's guid, name and space. An app is listed under the name it had last.
"""
from flask import request
from sqlalchemy import func, literal, select, union_all

from ...auth import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, require_scope
from ...extensions import db
from ...fields import format_timestamp
from ...models import AppUsageEvent, Event
from ...responses import json_response
from ...visibility import visible_events, visible_usage_events
from . import bp
from .paging import envelope, parse_paging
from .query import parse

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})


def _sightings(identity, space_guid):
    """Every (guid, name, time) at which the caller may see an app of the space named."""
    from_audit = select(Event.actee.label("guid"), Event.actee_name.label("name"), Event.timestamp.label("at")).where(
        Event.actee_type == "app", Event.space_guid == space_guid, visible_events(identity))
    from_usage = select(AppUsageEvent.app_guid, AppUsageEvent.app_name, AppUsageEvent.created_at).where(
        AppUsageEvent.space_guid == space_guid, AppUsageEvent.app_guid != "", visible_usage_events(identity))
    return union_all(from_audit, from_usage).subquery()


def known_apps(identity, space_guid, names):
    """The apps of a space the caller may see, with their latest name, first and last sighting."""
    seen = _sightings(identity, space_guid)
    latest = (
        select(seen.c.guid, seen.c.name, func.row_number().over(
            partition_by=seen.c.guid, order_by=seen.c.at.desc()).label("newest"))
        .subquery()
    )
    spans = select(seen.c.guid, func.min(seen.c.at).label("first"), func.max(seen.c.at).label("last")).group_by(
        seen.c.guid).subquery()
    statement = (
        select(latest.c.guid, latest.c.name, spans.c.first, spans.c.last)
        .join(spans, spans.c.guid == latest.c.guid)
        .where(latest.c.newest == literal(1))
        .order_by(spans.c.first, latest.c.guid)
    )
    if names is not None:
        statement = statement.where(latest.c.name.in_(names))
    return db.session.execute(statement).all()


def _app_resource(app, space_guid):
    return {
        "metadata": {"guid": app.guid, "url": f"/v2/apps/{app.guid}", "created_at": format_timestamp(app.first),
                     "updated_at": format_timestamp(app.last)},
        "entity": {"name": app.name, "space_guid": space_guid, "space_url": f"/v2/spaces/{space_guid}",
                   "events_url": f"/v2/apps/{app.guid}/events"},
    }


@bp.get("/spaces/<space_guid>/apps")
def list_space_apps(space_guid):
    identity = require_scope(READERS)
    paging = parse_paging(request.args, 100)
    names = None
    for clause in parse(paging.q, {"name"}):
        values = clause.value.split(",") if clause.operator == " IN " else [clause.value]
        names = set(values) if names is None else names & set(values)
    apps = known_apps(identity, space_guid, names)
    page = apps[paging.offset:paging.offset + paging.results_per_page]
    resources = [_app_resource(app, space_guid) for app in page]
    return json_response(envelope(f"/v2/spaces/{space_guid}/apps", paging, len(apps), resources))
