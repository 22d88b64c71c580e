"""GET /v1/events, /v1/apps/{app}/events and /v1/apps/{app}/events/{id}: newest first."""
from datetime import timedelta
from math import ceil

from flask import request
from marshmallow import ValidationError
from sqlalchemy import select

from app.base.errors import ApiError
from app.base.extensions import db
from app.base.fields import is_storable
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ
from app.identity.visibility import sees_every_event, visible_events
from app.store.audit_events import list_events
from app.store.filters import During, OneOf
from app.store.models import Event
from app.store.pages import PageRequest
from app.store.writes import utcnow

from ..auth import require_scope
from ..responses import json_response
from .blueprint import bp
from .schemas import PagingSchema, present_scalingo_event, present_scalingo_events

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})
NEWEST_FIRST = (Event.timestamp.desc(), Event.id.desc())
# `from` lists every event of the last hours in one page: at most this many.
MAX_FROM_EVENTS = 10_000
_paging = PagingSchema()


def _paging_arguments():
    try:
        return _paging.load(request.args)
    except ValidationError as error:
        fields = {name: list(messages) for name, messages in error.messages.items()}
        description = "; ".join(f"{name} {messages[0]}" for name, messages in fields.items())
        raise ApiError("UnprocessableEntity", description, fields=fields) from None


def resolve_app(identity, app):
    """The guid of the app named by `app` (its guid, or its name) among the events the caller may see."""
    if not is_storable(app):
        raise ApiError("AppNotFound", app)
    visible = visible_events(identity)
    by_guid = select(Event.actee).where(Event.actee_type == "app", Event.actee == app, visible).limit(1)
    guid = db.session.scalar(by_guid)
    if guid is None:
        # By name: the app that most recently bore it (names are frozen in each event).
        by_name = select(Event.actee).where(Event.actee_type == "app", Event.actee_name == app, visible)
        guid = db.session.scalar(by_name.order_by(*NEWEST_FIRST).limit(1))
    if guid is None:
        raise ApiError("AppNotFound", app)
    return guid


def _events_page(identity, app_guid=None):
    """The visible events (of one app), newest first, and Scalingo's pagination of them."""
    arguments = _paging_arguments()
    visible, every = visible_events(identity), sees_every_event(identity)
    filters = []
    if app_guid is not None:
        filters += [OneOf("actee", frozenset({app_guid})), OneOf("actee_type", frozenset({"app"}))]
    if arguments["from_"] is not None:
        # The last N hours, all of them (up to a bound), as one page.
        filters.append(During("timestamp", utcnow() - timedelta(hours=arguments["from_"]), None))
        total, events = list_events(visible, filters, PageRequest(0, MAX_FROM_EVENTS, descending=True),
                                    sees_every_event=every)
        return events, {"prev_page": None, "current_page": 1, "next_page": None,
                        "total_pages": 1 if events else 0, "total_count": total}
    page, per_page = arguments["page"], arguments["per_page"]
    total, events = list_events(visible, filters, PageRequest((page - 1) * per_page, per_page, descending=True),
                                sees_every_event=every)
    total_pages = ceil(total / per_page)
    return events, {"prev_page": page - 1 if page > 1 else None, "current_page": page,
                    "next_page": page + 1 if page < total_pages else None,
                    "total_pages": total_pages, "total_count": total}


def _listing(identity, app_guid=None):
    events, pagination = _events_page(identity, app_guid)
    return json_response({"events": present_scalingo_events(events), "meta": {"pagination": pagination}})


@bp.get("/events")
def list_all_events():
    identity = require_scope(READERS)
    return _listing(identity)


@bp.get("/apps/<app>/events")
def list_app_events(app):
    identity = require_scope(READERS)
    return _listing(identity, resolve_app(identity, app))


@bp.get("/apps/<app>/events/<event_id>")
def show_app_event(app, event_id):
    identity = require_scope(READERS)
    guid = resolve_app(identity, app)
    event = is_storable(event_id) and db.session.scalar(select(Event).where(
        Event.guid == event_id, Event.actee == guid, visible_events(identity)))
    if not event:
        raise ApiError("EventNotFound", event_id)
    return json_response({"event": present_scalingo_event(event)})
