"""Aggregates the operator console needs and CC's v3 has no endpoint for (an extension of this service).

GET /v3/audit_event_stats/daily
    Audit events per UTC day and catalogue category over the last `days` days (default 30, at most 366),
    today included: {"since", "until", "categories": [{"id", "name"}], "days": [{"date", "total",
    "by_category": {category: n}}]}, every day of the range listed, oldest first. Types the catalogue does
    not know count under "other".
GET /v3/audit_event_stats/top_targets
    The `limit` (default 10, at most 100) targets with most events of `types` (default app.crash) over the
    same range, most first, each with its events per day for a sparkline: {"since", "until", "types",
    "dates", "resources": [{"guid", "type", "name", "total", "daily": [n per date]}]}.
GET /v3/app_usage_states/{guid}
    The app's usage events (its web process's, whose guid is the app's, as CC writes them), newest first,
    at most `per_page` (default 500, at most 5000), in /v3/app_usage_events' format: {"resources": [...]}.
    /v3/app_usage_events itself has no app filter.

Visibility is exactly the audit event list's (visibility.visible_events, v3's rule) and, for usage, the
usage list's: a space auditor's figures are over the events they may list, and nothing else.

Cost on a large store (tests/store/test_plans.py holds the plans to index scans):
- daily, for a platform-wide reader: a sum over event_counts_by_day's rows of the range (types × days),
  never the events. For any other reader: the events of their spaces and organizations in the range,
  read through the (space_guid | organization_guid, timestamp) indexes.
- top_targets, for a platform-wide reader ranking crashes (models.CRASH_TYPES): each month's most crashing
  targets (event_counts_by_actee_month, ranked by its index), then the range's days of the few of them that
  can be in the top (event_counts_by_actee_day): a few dozen lists and targets, whatever the range and the
  store. Should the lists not decide (crashes spread evenly over many targets), a sum per target over the
  counts by actee and day of the range, then the days of the top ones; never the events. Otherwise the events of
  `types` in the range, read through the (type, timestamp) index: proportional to them, not to the store.
- app_usage_states: one range of the (app_guid, id) index.
"""
from datetime import datetime, time, timedelta, timezone

from flask import request
from sqlalchemy import BigInteger, Date, cast, func, select, tuple_, union_all

from app.base.errors import ApiError
from app.base.extensions import db, read
from app.base.fields import is_storable
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ
from app.identity.visibility import sees_every_event, visible_events, visible_usage_events
from app.store.catalogue import CATEGORIES, EVENT_TYPES
from app.store.models import (
    CRASH_TYPES,
    AppUsageEvent,
    Event,
    EventCountByActeeDay,
    EventCountByActeeMonth,
    EventCountByDay,
    record_columns,
)
from app.usage.metering import next_month

from ..auth import require_scope
from ..responses import json_response
from .blueprint import bp
from .params import split_list
from .schemas import present_app_usage_events

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})
MAX_DAYS, DEFAULT_DAYS = 366, 30
MAX_LIMIT, DEFAULT_LIMIT = 100, 10
# The console's top crashing apps: each month's LISTED_PER_PLACE × limit most crashing are read, and at most
# MAX_CANDIDATES of them summed over the range's days; beyond that, every app's are.
LISTED_PER_PLACE, MAX_CANDIDATES = 4, 1000
MAX_USAGE, DEFAULT_USAGE = 5000, 500
OTHER = {"id": "other", "name": "Other"}
CATEGORY_OF = {name: event_type.category for name, event_type in EVENT_TYPES.items()}


def _arguments(allowed):
    """The request's arguments, each known and given once; v3's 400 otherwise, naming the valid ones."""
    unknown = [key for key in request.args if key not in allowed]
    if unknown:
        raise ApiError("BadQueryParameter", "Unknown query parameter(s): " + ", ".join(f"'{key}'" for key in unknown)
                       + ". Valid parameters are: " + ", ".join(f"'{key}'" for key in allowed))
    return request.args


def _whole(args, key, default, maximum):
    text = args.get(key)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= maximum:
        raise ApiError("BadQueryParameter", f"{key} must be a whole number from 1 to {maximum}")
    return int(text)


def today():
    """The current UTC day (a function, so that tests can move the clock to their data)."""
    return datetime.now(timezone.utc).date()


def _range(args):
    """[since, until): the last `days` UTC days, today included, as whole days (so the counts answer)."""
    days = _whole(args, "days", DEFAULT_DAYS, MAX_DAYS)
    tomorrow = datetime.combine(today() + timedelta(days=1), time(), timezone.utc)
    return tomorrow - timedelta(days=days), tomorrow


def _dates(since, until):
    return [(since + timedelta(days=n)).date() for n in range((until - since).days)]


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_day(column):
    """The UTC day of a timestamp column, as the counts' triggers take it (migrations 0005, 0006)."""
    if db.session.connection().dialect.name == "sqlite":
        return func.substr(column, 1, 10)  # UTC text, "YYYY-MM-DD hh:mm:ss…"
    return cast(func.timezone("UTC", column), Date)


def _day_key(value):
    return value if isinstance(value, str) else value.isoformat()


@bp.get("/audit_event_stats/daily")
def audit_event_stats_daily():
    """Audit events per day and category (extension): from the maintained counts for platform-wide readers."""
    identity = require_scope(READERS)
    since, until = _range(_arguments(("days",)))
    if sees_every_event(identity):
        statement = (select(EventCountByDay.day, EventCountByDay.type, cast(func.sum(EventCountByDay.n), BigInteger))
                     .where(EventCountByDay.day >= since.date(), EventCountByDay.day < until.date())
                     .group_by(EventCountByDay.day, EventCountByDay.type))
    else:
        day = _utc_day(Event.timestamp)
        statement = (select(day, Event.type, func.count())
                     .where(visible_events(identity, "v3"), Event.timestamp >= since, Event.timestamp < until)
                     .group_by(day, Event.type))
    dates = _dates(since, until)
    days = {date_.isoformat(): {"date": date_.isoformat(), "total": 0, "by_category": {}} for date_ in dates}
    for date_, type_, n in read(statement).all():
        entry = days.get(_day_key(date_))
        if entry is None or not n:
            continue
        category = CATEGORY_OF.get(type_, OTHER["id"])
        entry["total"] += n
        entry["by_category"][category] = entry["by_category"].get(category, 0) + n
    categories = [{"id": c.id, "name": c.name} for c in sorted(CATEGORIES, key=lambda c: c.position)] + [OTHER]
    return json_response({"since": _iso(since), "until": _iso(until), "categories": categories,
                          "days": list(days.values())})


def _ranked(totals, limit):
    """The `limit` first of (guid, type, name, total) rows: most events first, then by name and guid."""
    return sorted(totals, key=lambda row: (-row[3], row[2] or "", row[0], row[1]))[:limit]


def _month_starts(since, until):
    """The first days of the UTC months that [since, until) touches."""
    month, months = since.date().replace(day=1), []
    while month < until.date():
        months.append(month)
        month = next_month(month)
    return months


def _crash_candidates(types, since, until, limit):
    """(the targets that may be among the `limit` most crashing of [since, until), the most any other target can
    have), from each month's most crashing (the counts by actee and month); None when the lists cannot tell.

    A target in no list has at most, in each month and type, that list's last count: the sum of those is
    `unlisted`. Listed targets are bounded alike, below by their counts of the months the range holds whole
    and above by their listed counts (or the list's last). Only those whose upper bound reaches the
    `limit`-th lower bound can be in the top; and the top is theirs alone if its last total exceeds `unlisted`
    (checked by the caller, once their totals are known; hopeless already if the `limit`-th upper bound does not).
    """
    counts, size = EventCountByActeeMonth, LISTED_PER_PLACE * limit
    months = _month_starts(since, until)
    lists = [select(counts.type, counts.month, counts.actee, counts.actee_type, counts.n)
             .where(counts.type == type_, counts.month == month, counts.n > 0)
             .order_by(counts.n.desc()).limit(size).subquery()
             for type_ in types for month in months]
    listed = {}
    for type_, month, guid, actee_type, n in read(union_all(*(select(*list_.c) for list_ in lists))).all():
        listed.setdefault((type_, _day_key(month)), {})[(guid, actee_type)] = n
    last = {key: (min(rows.values()) if len(rows) == size else 0) for key, rows in listed.items()}
    unlisted = sum(last.values())
    whole = {_day_key(month) for month in months
             if month >= since.date() and next_month(month) <= until.date()}
    bounds = {}
    for key, rows in listed.items():
        for target, n in rows.items():
            lower, upper = bounds.get(target, (0, 0))
            bounds[target] = (lower + (n if key[1] in whole else 0), upper + n - last[key])
    # Every list a target is missing from adds its last count to the target's upper bound.
    bounds = {target: (lower, upper + unlisted) for target, (lower, upper) in bounds.items()}
    if unlisted and (len(bounds) < limit or sorted((upper for _, upper in bounds.values()))[-limit] <= unlisted):
        return None
    threshold = sorted((lower for lower, _ in bounds.values()), reverse=True)[limit - 1] \
        if len(bounds) >= limit else 0
    candidates = [target for target, (_, upper) in bounds.items() if upper >= threshold]
    return (candidates, unlisted) if len(candidates) <= MAX_CANDIDATES else None


def _top_crashes(types, since, until, limit):
    """The `limit` targets with most crashes of `types` in [since, until), and their (guid, type, day, n), from
    the maintained counts, never the crashes: the few targets the months' lists leave possible
    (_crash_candidates) when they decide, else every target (a row each) before the days of the top ones."""
    counts = EventCountByActeeDay
    target = (counts.actee, counts.actee_type)
    where = [counts.type.in_(types), counts.day >= since.date(), counts.day < until.date(),
             counts.n > 0]  # a name whose events were all deleted is gone
    events = cast(func.sum(counts.n), BigInteger)
    name = func.max(func.nullif(counts.actee_name, ""))
    found = _crash_candidates(types, since, until, limit)
    if found:
        candidates, unlisted = found
        days = read(select(*target, counts.day, events, name).where(*where, tuple_(*target).in_(candidates))
                    .group_by(*target, counts.day)).all() if candidates else []
        ranked = _ranked(_totals(days).values(), limit)
        if not unlisted or (len(ranked) == limit and ranked[-1][3] > unlisted):
            return ranked, days
    ranked = _ranked(read(select(*target, name, events).where(*where).group_by(*target)).all(), limit)
    top = tuple_(*target).in_([(guid, type_) for guid, type_, _, _ in ranked])
    return ranked, read(select(*target, counts.day, events).where(*where, top).group_by(*target, counts.day)).all() \
        if ranked else []


def _totals(days):
    """{(guid, type): (guid, type, greatest name, total)} of (guid, type, day, n, name) rows."""
    totals = {}
    for guid, type_, _, n, name in days:
        _, _, known, total = totals.get((guid, type_), (guid, type_, None, 0))
        totals[(guid, type_)] = (guid, type_, max(filter(None, (known, name)), default=None), total + n)
    return totals


@bp.get("/audit_event_stats/top_targets")
def audit_event_stats_top_targets():
    """The targets with most events of some types (extension): app.crash by default, per day for sparklines."""
    identity = require_scope(READERS)
    args = _arguments(("types", "days", "limit"))
    since, until = _range(args)
    limit = _whole(args, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    types = [name for name in split_list(args.get("types", "app.crash")) if name]
    if not types or not all(is_storable(name) for name in types):
        raise ApiError("BadQueryParameter", "types must be a comma list of event types")
    if sees_every_event(identity) and CRASH_TYPES.issuperset(types):
        ranked, days = _top_crashes(types, since, until, limit)
    else:
        # One pass over the range's events of these types (through the index on type and time), by target
        # and day; totals and names added up here.
        target, day = (Event.actee, Event.actee_type), _utc_day(Event.timestamp)
        days = read(select(*target, day, func.count(), func.max(func.nullif(Event.actee_name, "")))
                    .where(visible_events(identity, "v3"), Event.type.in_(types), Event.timestamp >= since,
                           Event.timestamp < until)
                    .group_by(*target, day)).all()
        ranked = _ranked(_totals(days).values(), limit)
    dates = [date_.isoformat() for date_ in _dates(since, until)]
    daily = {(guid, type_, _day_key(date_)): n for guid, type_, date_, n, *_ in days}
    ranked = [{"guid": guid, "type": type_, "name": name, "total": total,
               "daily": [daily.get((guid, type_, date_), 0) for date_ in dates]}
              for guid, type_, name, total in ranked]
    return json_response({"since": _iso(since), "until": _iso(until), "types": types, "dates": dates,
                          "resources": ranked})


@bp.get("/app_usage_states/<guid>")
def app_usage_states(guid):
    """One app's usage events, newest first (extension): what /v3/app_usage_events lists, for one app."""
    identity = require_scope(READERS)
    per_page = _whole(_arguments(("per_page",)), "per_page", DEFAULT_USAGE, MAX_USAGE)
    if not is_storable(guid):
        raise ApiError("ResourceNotFound", "App not found")
    rows = read(select(*record_columns(AppUsageEvent))
                .where(visible_usage_events(identity), AppUsageEvent.app_guid == guid)
                .order_by(AppUsageEvent.id.desc()).limit(per_page)).all()
    return json_response({"resources": present_app_usage_events(rows)})
