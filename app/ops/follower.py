"""`flask events follow`: keep a complete, exact copy of a foundation's Cloud Controller events.

Three streams are followed: audit events (/v3/audit_events, or /v2/events), app usage events and
service usage events (/v3/…_usage_events?after_guid=, or v2's). Everything is stored through the
write path, idempotent by guid, with the upstream's guids and times, so a copy reads as the original.

Neither of CC's orders can be trusted to the last event: its audit events are not in commit order ("do
not rely on timestamps to sequence events") and its usage streams skip events that commit late
(SPEC 4.1). So each cycle reads again an overlap (default 10 minutes of event time) behind what it has
seen: the audit events from an overlap before the newest time stored (by time, a second at a time, so
that rows deleted upstream cannot shift a page), the usage streams after a guid an overlap behind their
head. What was seen is replayed, at no cost but the reading; an event committed up to an overlap late
is found. The position moves in the transaction that stores the page it covers.

An upstream purge-and-reseed makes it refuse the follower's after_guid: the stream is read again from
its first event (what was stored stays: apps that were started stay known, which CC itself forgets).
Several followers may run at once: a lock per stream (PostgreSQL's advisory locks; on SQLite a file
lock) lets one at a time work on it.

The next page's URL is known from a page alone, not from its storing: while a page is stored (this
thread waits on the database), a thread of its own fetches, decodes and prepares the next (Prefetch),
one page ahead, never more. Pages are still stored one at a time and in order, by this thread only.
"""
import contextlib
import fcntl
import logging
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from hashlib import blake2b
from urllib.parse import urlencode

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError
from sqlalchemy import select, text, update

from app.api.v2.schemas import EventWriteSchema
from app.api.v2.usage_schemas import AppUsageEventWriteSchema, ServiceUsageEventWriteSchema
from app.base.extensions import db
from app.base.fields import parse_time
from app.store.loading import FastLoader
from app.store.models import AppUsageEvent, Event, FollowerPosition, ServiceUsageEvent
from app.store.writes import prepare, store, utcnow

from .upstream import CursorGone, Fatal, Upstream, absolute

log = logging.getLogger(__name__)
DEFAULT_OVERLAP = timedelta(minutes=10)
V3_PAGE = 5000


class UpstreamEventSchema(EventWriteSchema):
    """An upstream CC's audit event: as the write API checks it, but for the catalogue's rules, which must
    never make the copy lose an event CC wrote (the copy is of what CC wrote, not of what it should)."""

    @staticmethod
    def problems(event):
        return {}


def _v3_audit(resource):
    """A /v3/audit_events resource as the write path takes it (V3.md 1.5). v3 shows no actor_username:
    it is stored empty, never invented."""
    actor, target = resource.get("actor") or {}, resource.get("target") or {}
    return {"guid": resource["guid"], "type": resource["type"], "actor": actor.get("guid"),
            "actor_type": actor.get("type"), "actor_name": actor.get("name"), "actor_username": "",
            "actee": target.get("guid"), "actee_type": target.get("type"), "actee_name": target.get("name") or "",
            "timestamp": resource["created_at"], "metadata": resource.get("data") or {},
            "space_guid": (resource.get("space") or {}).get("guid"),
            "organization_guid": (resource.get("organization") or {}).get("guid")}


def _pair(resource, key):
    value = resource.get(key) or {}
    return value.get("current"), value.get("previous")


def _v3_app_usage(resource):
    """A /v3/app_usage_events resource as the write path takes it (V3.md 2): the process is v2's app."""
    state, previous_state = _pair(resource, "state")
    memory, previous_memory = _pair(resource, "memory_in_mb_per_instance")
    instances, previous_instances = _pair(resource, "instance_count")
    app, process = resource.get("app") or {}, resource.get("process") or {}
    space, buildpack, task = (resource.get(key) or {} for key in ("space", "buildpack", "task"))
    return {"guid": resource["guid"], "created_at": resource["created_at"], "state": state,
            "previous_state": previous_state, "memory_in_mb_per_instance": memory,
            "previous_memory_in_mb_per_instance": previous_memory, "instance_count": instances,
            "previous_instance_count": previous_instances, "app_guid": process.get("guid") or "",
            "app_name": app.get("name") or "", "space_guid": space.get("guid"), "space_name": space.get("name"),
            "org_guid": (resource.get("organization") or {}).get("guid"), "buildpack_guid": buildpack.get("guid"),
            "buildpack_name": buildpack.get("name"), "parent_app_guid": app.get("guid"),
            "parent_app_name": app.get("name"), "process_type": process.get("type"), "task_guid": task.get("guid"),
            "task_name": task.get("name")}


def _v3_service_usage(resource):
    space, instance, plan, offering, broker = (resource.get(key) or {} for key in (
        "space", "service_instance", "service_plan", "service_offering", "service_broker"))
    return {"guid": resource["guid"], "created_at": resource["created_at"], "state": resource.get("state"),
            "org_guid": (resource.get("organization") or {}).get("guid"), "space_guid": space.get("guid"),
            "space_name": space.get("name"), "service_instance_guid": instance.get("guid"),
            "service_instance_name": instance.get("name"), "service_instance_type": instance.get("type"),
            "service_plan_guid": plan.get("guid"), "service_plan_name": plan.get("name"),
            "service_guid": offering.get("guid"), "service_label": offering.get("name"),
            "service_broker_guid": broker.get("guid"), "service_broker_name": broker.get("name")}


def _v2(resource, time_field=None):
    """A v2 resource as the write path takes it: its entity and guid (and its time, for usage events)."""
    item = {**resource["entity"], "guid": resource["metadata"]["guid"]}
    if time_field:
        item[time_field] = resource["metadata"][time_field]
    return item


@dataclass(frozen=True)
class Stream:
    name: str
    model: type
    loader: FastLoader
    time_field: str
    v3_path: str
    v2_path: str
    v2_per_page: int
    from_v3: object
    from_v2: object

    @property
    def by_cursor(self):
        return self.model is not Event


STREAMS = (
    Stream("audit_events", Event, FastLoader(UpstreamEventSchema()), "timestamp", "/v3/audit_events", "/v2/events",
           100, _v3_audit, _v2),
    Stream("app_usage_events", AppUsageEvent, FastLoader(AppUsageEventWriteSchema()), "created_at",
           "/v3/app_usage_events", "/v2/app_usage_events", 10000, _v3_app_usage,
           lambda resource: _v2(resource, "created_at")),
    Stream("service_usage_events", ServiceUsageEvent, FastLoader(ServiceUsageEventWriteSchema()), "created_at",
           "/v3/service_usage_events", "/v2/service_usage_events", 100, _v3_service_usage,
           lambda resource: _v2(resource, "created_at")),
)


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Page:
    """One upstream page, whichever dialect: its resources, their times, the link to the next."""

    def __init__(self, body, dialect, api):
        self.resources = body.get("resources") or []
        if dialect == "v3":
            following = (body.get("pagination") or {}).get("next") or {}
            self.next = following.get("href")
            self.total = (body.get("pagination") or {}).get("total_results")
        else:
            self.next = absolute(api, body["next_url"]) if body.get("next_url") else None
            self.total = body.get("total_results")

    def time_of(self, resource, dialect, stream):
        if dialect == "v3" or stream.by_cursor:
            value = resource["created_at"] if dialect == "v3" else resource["metadata"]["created_at"]
        else:
            value = resource["entity"]["timestamp"]
        return parse_time(value.replace("Z", "+00:00"))


class Prefetch:
    """One page fetched, decoded and made ready to store (Follower._fetch) in a thread of its own, while the
    caller stores the page before it. `result()` is the page, or raises what fetching it raised (a
    CursorGone, a Fatal) where a fetch in the caller's thread would have. `abandon()` stops it: an
    upstream's retries end at their next try, and nothing it did needs undoing (it writes nothing)."""

    def __init__(self, fetch, url):
        self.stop, self.done = threading.Event(), threading.Event()
        self.page = self.error = None
        app = current_app._get_current_object()

        def run():
            try:
                with app.app_context():
                    self.page = fetch(url, self.stop)
            except BaseException as error:  # handed to the caller by result()
                self.error = error
            finally:
                self.done.set()

        # A daemon: a follower stopped by ^C while the upstream is down exits without waiting for it.
        self.thread = threading.Thread(target=run, name="follow-fetch", daemon=True)
        self.thread.start()

    def result(self):
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.page

    def abandon(self, wait=True):
        self.stop.set()
        if wait:
            self.thread.join()


class Follower:
    """Follows the streams of one upstream (an upstream.Upstream) into this store."""

    def __init__(self, upstream, dialect=None, overlap=DEFAULT_OVERLAP, report=None, page_size=V3_PAGE):
        self.upstream, self.overlap, self.page_size = upstream, overlap, page_size
        self.report = report or (lambda stream, stored, seen, total: None)
        upstream.discover()
        if dialect and dialect not in upstream.dialects:
            raise Fatal(f"{upstream.api} does not serve {dialect} (it serves {', '.join(upstream.dialects)})")
        self.dialect = dialect or upstream.dialects[0]

    def cycle(self):
        """Read each stream up to its head, once; {stream: events stored}. A stream another follower is
        working on is left to it."""
        stored = {}
        for stream in STREAMS:
            with stream_lock(stream.name) as held:
                if not held:
                    stored[stream.name] = None
                    continue
                try:
                    stored[stream.name] = (self._follow_cursor if stream.by_cursor else self._follow_times)(stream)
                    _reached_head(stream)
                except Exception as error:
                    db.session.rollback()
                    _note_error(stream, self.upstream.api, self.dialect, error)
                    raise
        return stored

    # --- the audit events: by time, a second at a time ---------------------------------------------
    def _times_url(self, stream, since):
        if self.dialect == "v3":
            query = [("order_by", "created_at"), ("per_page", self.page_size)]
            if since:
                query.append(("created_ats[gte]", _iso(since)))
            return f"{stream.v3_path}?{urlencode(sorted(query))}"
        query = [("order-direction", "asc"), ("results-per-page", min(self.page_size, stream.v2_per_page))]
        if since:
            query.append(("q", f"timestamp>={_iso(since)}"))
        return f"{stream.v2_path}?{urlencode(sorted(query))}"

    def _follow_times(self, stream):
        position = _position(stream, self.upstream.api, self.dialect)
        since = position.newest_at - self.overlap if position.newest_at else None
        since = since.replace(microsecond=0) if since else None
        stored, seen, total = 0, 0, None
        pending = self._prefetch(stream, self._times_url(stream, since))
        try:
            while pending:
                page = pending.result()
                total = total if total is not None else page.total
                url = None
                if page.next and page.resources:
                    last = page.time_of(page.resources[-1], self.dialect, stream).replace(microsecond=0)
                    if since is None or last > since:
                        # A query of its own from the last second: no page of it can shift under deletes.
                        since, url = last, self._times_url(stream, last)
                    else:
                        url = page.next  # more than a page in one second: its pages, as the upstream links them
                # The next page is fetched while this one is stored.
                pending = self._prefetch(stream, url) if url else None
                stored += self._store(stream, page, position)
                seen += len(page.resources)
                self.report(stream.name, stored, seen, total)
        except BaseException as error:
            if pending:
                pending.abandon(wait=isinstance(error, Exception))
            raise
        return stored

    # --- the usage streams: after a guid an overlap behind the head --------------------------------
    def _cursor_url(self, stream, after):
        if self.dialect == "v3":
            query = [("per_page", self.page_size)] + ([("after_guid", after)] if after else [])
            return f"{stream.v3_path}?{urlencode(sorted(query))}"
        query = [("results-per-page", min(self.page_size, stream.v2_per_page))] + (
            [("after_guid", after)] if after else [])
        return f"{stream.v2_path}?{urlencode(sorted(query))}"

    def _follow_cursor(self, stream):
        position = _position(stream, self.upstream.api, self.dialect)
        after, resume = position.resume_after, position.resume_after
        recent = deque()  # (guid, time) of what was read since `resume`
        stored = seen = 0
        total = None
        pending = self._prefetch(stream, self._cursor_url(stream, after))
        try:
            while True:
                try:
                    # Asked for once the page before it was stored (as when fetched one after the other).
                    page = pending.result()
                except CursorGone:
                    log.warning("%s: %s no longer knows %s, its stream was purged and reseeded upstream: reading "
                                "it again from its first event (what was stored stays)", stream.name,
                                self.upstream.api, after)
                    after = resume = None
                    recent.clear()
                    pending = self._prefetch(stream, self._cursor_url(stream, after))
                    continue
                total = total if total is not None else page.total
                for resource in page.resources:
                    guid = resource["guid"] if self.dialect == "v3" else resource["metadata"]["guid"]
                    moment = page.time_of(resource, self.dialect, stream)
                    recent.append((guid, moment))
                    while recent and recent[0][1] <= moment - self.overlap:
                        resume = recent.popleft()[0]
                if page.resources:
                    after = recent[-1][0]
                more = bool(page.next and page.resources)
                # The page after this one is fetched while this one is stored.
                pending = self._prefetch(stream, self._cursor_url(stream, after)) if more else None
                stored += self._store(stream, page, position, resume_after=resume, head=after)
                seen += len(page.resources)
                self.report(stream.name, stored, seen, total)
                if not more:
                    return stored
        except BaseException as error:
            if pending:
                pending.abandon(wait=isinstance(error, Exception))
            raise

    # --- fetching (in a Prefetch's thread) and storing (in the caller's) ------------------------------
    def _prefetch(self, stream, url):
        return Prefetch(lambda url, stop: self._fetch(stream, url, stop), url)

    def _fetch(self, stream, url, stop=None):
        """A page, with what storing it needs made ready without the database: its events validated and
        prepared for the write (writes.prepare), and their times."""
        page = Page(self.upstream.get(url, stop=stop), self.dialect, self.upstream.api)
        convert = stream.from_v3 if self.dialect == "v3" else stream.from_v2
        items = []
        for resource in page.resources:
            try:
                items.append(stream.loader.load_one(convert(resource)))
            except (ValidationError, KeyError, TypeError, AttributeError) as error:
                # The upstream sent what the store cannot hold: said, and skipped.
                log.error("%s: cannot store %s: %s", stream.name, resource.get("guid") or resource.get(
                    "metadata", {}).get("guid"), error)
        page.times = [page.time_of(resource, self.dialect, stream) for resource in page.resources]
        page.batch = prepare(stream.model, items, stream.time_field) if items else None
        return page

    def _store(self, stream, page, position, **moved):
        """Store a page's events and move the position in the same transaction; the events stored new."""

        def move(new_guids=()):
            newest = max(page.times, default=None)
            if newest and (position.newest_at is None or newest > position.newest_at):
                position.newest_at = newest
            for key, value in moved.items():
                setattr(position, key, value)
            position.stored = (position.stored or 0) + len(new_guids)
            position.updated_at = utcnow()
            position.last_error = None
            db.session.add(position)

        if page.batch is None:
            move()
            db.session.commit()
            return 0
        written = store(page.batch, before_commit=move, refuse_conflicts=False)
        for guid in written.conflicts:
            log.error("%s: %s is stored with other content than the upstream's: kept as stored", stream.name, guid)
        return len(written.new_guids)


def _position(stream, upstream, dialect):
    position = db.session.get(FollowerPosition, stream.name)
    if position is None:
        position = FollowerPosition(stream=stream.name, upstream=upstream, dialect=dialect, stored=0,
                                    updated_at=utcnow())
    elif position.upstream != upstream or position.dialect != dialect:
        # Another upstream, or another dialect's guids and pages: the positions mean nothing here.
        position.upstream, position.dialect, position.resume_after, position.head = upstream, dialect, None, None
    # No transaction left open while the upstream is read: SQLite refuses a reader's later write when
    # another writer came in between, where it would wait for a fresh one.
    db.session.commit()
    return position


def _reached_head(stream):
    """The stream was read to the upstream's head: what `lag` counts from."""
    # A write first, not a read then a write: SQLite refuses the write of a reader another writer
    # (the other stream's follower, or a fold) came before.
    db.session.commit()
    db.session.execute(update(FollowerPosition).where(FollowerPosition.stream == stream.name)
                       .values(last_success_at=utcnow()))
    db.session.commit()


def _note_error(stream, upstream, dialect, error):
    position = _position(stream, upstream, dialect)
    position.last_error = f"{type(error).__name__}: {error}"[:2048]
    position.updated_at = utcnow()
    db.session.add(position)
    db.session.commit()


@contextlib.contextmanager
def stream_lock(name):
    """Whether this process holds the stream (while in the block): one follower works on a stream at a time."""
    if db.engine.dialect.name == "postgresql":
        key = int.from_bytes(blake2b(f"cf-events follow {name}".encode(), digest_size=8).digest(), "big", signed=True)
        # A connection of its own: the lock lasts while this follower works on the stream, whatever
        # its transactions do meanwhile.
        with db.engine.engine.connect() as connection:
            held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            try:
                yield held
            finally:
                if held:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    path = os.path.join(os.path.dirname(db.engine.engine.url.database or ".") or ".", f".follow-{name}.lock")
    with open(path, "a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def positions():
    """Every stream's position, for `follow --status`."""
    return {position.stream: position for position in db.session.scalars(select(FollowerPosition))}



# --- the command --------------------------------------------------------------------------------------
def _lag(position, now):
    """How long ago the stream was last read to the upstream's head."""
    return "-" if position.last_success_at is None else f"{(now - position.last_success_at).total_seconds():,.0f} s"


def print_status(echo):
    now, found = utcnow(), positions()
    if not found:
        echo("no stream followed yet")
        return
    for stream in STREAMS:
        position = found.get(stream.name)
        if position is None:
            echo(f"{stream.name}: not followed yet")
            continue
        where = (f"after {position.resume_after or '(the start)'}, head {position.head or '-'}" if stream.by_cursor
                 else "from an overlap before the newest event")
        newest = _iso(position.newest_at) if position.newest_at else "-"
        success = _iso(position.last_success_at) if position.last_success_at else "never"
        echo(f"{stream.name}: {position.upstream} ({position.dialect}); {where}; newest event {newest}; "
             f"lag {_lag(position, now)}; {position.stored:,} stored; last success {success}"
             + (f"; last error: {position.last_error}" if position.last_error else ""))


class Progress:
    """A bar per stream while catching up on a terminal; else nothing (the cycle's line says it all)."""

    def __init__(self, enabled):
        self.enabled, self.bars, self.started = enabled, {}, time.monotonic()

    def __call__(self, stream, stored, seen, total):
        if not self.enabled or not total:
            return
        bar = self.bars.get(stream)
        if bar is None:
            bar = self.bars[stream] = click.progressbar(length=total, label=stream.ljust(22), file=sys.stderr,
                                                        show_pos=True, item_show_func=lambda rate: rate)
            bar.__enter__()
            bar.done = 0
        rate = seen / max(time.monotonic() - self.started, 1e-6)
        bar.update(seen - bar.done, f"{rate:,.0f}/s")
        bar.done = seen

    def close(self):
        for bar in self.bars.values():
            bar.__exit__(None, None, None)
        self.bars.clear()


@click.command("follow")
@click.option("--api", envvar="FOLLOW_API", help="The upstream Cloud Controller API URL. [env FOLLOW_API]")
@click.option("--client-id", envvar="FOLLOW_CLIENT_ID", help="A UAA client with cloud_controller.admin_read_only "
              "or cloud_controller.global_auditor. [env FOLLOW_CLIENT_ID]")
@click.option("--client-secret", envvar="FOLLOW_CLIENT_SECRET", help="Its secret. [env FOLLOW_CLIENT_SECRET]")
@click.option("--once", is_flag=True, envvar="FOLLOW_ONCE", help="Catch up, then exit (for cron).")
@click.option("--interval", type=click.FloatRange(min=1), default=60, show_default=True, envvar="FOLLOW_INTERVAL",
              help="Seconds between cycles of the long-running mode.")
@click.option("--overlap", type=click.FloatRange(min=0), default=DEFAULT_OVERLAP.total_seconds(), show_default=True,
              envvar="FOLLOW_OVERLAP", help="Seconds of event time read again each cycle, for late commits.")
@click.option("--dialect", type=click.Choice(["v3", "v2"]), envvar="FOLLOW_DIALECT",
              help="Read the upstream's v3 or v2 API (default: v3 when it serves it).")
@click.option("--page-size", type=click.IntRange(1, V3_PAGE), default=V3_PAGE, show_default=True,
              envvar="FOLLOW_PAGE_SIZE", help="Events asked for a page (v2 takes at most 100 audit events a page).")
@click.option("--status", is_flag=True, help="Print each stream's position, lag and last success, and exit.")
@with_appcontext
def follow_command(api, client_id, client_secret, once, interval, overlap, dialect, page_size, status):
    """Follow a Cloud Controller: store its audit and usage events, and keep them past its pruning."""
    if status:
        print_status(click.echo)
        return
    missing = [name for name, value in (("--api", api), ("--client-id", client_id),
                                        ("--client-secret", client_secret)) if not value]
    if missing:
        raise click.UsageError(f"{', '.join(missing)} missing (or FOLLOW_API, FOLLOW_CLIENT_ID, FOLLOW_CLIENT_SECRET)")
    progress = Progress(sys.stderr.isatty())
    try:
        upstream = Upstream(api, client_id, client_secret, retries=8 if once else None,
                            log=lambda message: click.echo(f"follow: {message}", err=True))
        follower = Follower(upstream, dialect=dialect, overlap=timedelta(seconds=overlap), report=progress,
                            page_size=page_size)
        while True:
            stored = follower.cycle()
            progress.close()
            now, found = utcnow(), positions()
            click.echo("follow: " + "; ".join(
                f"{name} {'held by another follower' if count is None else f'+{count:,}'}, lag "
                f"{_lag(found[name], now) if name in found else '-'}" for name, count in stored.items()), err=True)
            if once:
                return
            time.sleep(interval)
    except Fatal as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        click.echo("follow: stopped; the next run resumes where the last commit left off", err=True)
    finally:
        progress.close()
