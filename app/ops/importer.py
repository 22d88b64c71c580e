"""`flask events import FILE --kind ...`: load newline-delimited JSON events through the write path.

Lines are parsed by orjson where it reads what the write API would (bodies.parse_json_fast), loaded by
the write schemas' compiled checks (loading.py) and written in chunks of IMPORT_BATCH, which the write
path copies to PostgreSQL (staging.py): the validation is the API's, at the speed of a bulk load.
"""
import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import click
import orjson
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from app.api.bodies import parse_json_fast
from app.api.v2.bodies import describe_errors
from app.api.v2.schemas import EventWriteSchema
from app.api.v2.usage_schemas import AppUsageEventWriteSchema, ServiceUsageEventWriteSchema
from app.base.errors import ApiError
from app.store.loading import loader_for
from app.store.models import AppUsageEvent, Event, ServiceUsageEvent
from app.store.writes import prepare, store, uuid7, write_events

KINDS = {
    "audit": (Event, EventWriteSchema, "timestamp"),
    "app-usage": (AppUsageEvent, AppUsageEventWriteSchema, "created_at"),
    "service-usage": (ServiceUsageEvent, ServiceUsageEventWriteSchema, "created_at"),
}
# Rows a transaction writes: large enough that COPY and the triggers pay off, small enough that an
# interrupted import loses little and a conflict's line-by-line retry stays short.
IMPORT_BATCH = 10_000
# The time part of the guid of a line that names no time: then its content alone makes the guid.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def line_guid(document, item, time_field):
    """The guid of a line written without one: time-ordered (UUIDv7, from the event's time when it names
    one) and derived from the line's content, so that running the import again replays it instead of
    storing it twice. (Identical guid-less lines are therefore one event.)"""
    digest = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS, default=str)).digest()
    return uuid7(item.get(time_field) or EPOCH, digest)


def load_line(line, loader, time_field):
    """Return (item, reasons): the validated object of one line, or why it is refused."""
    line = line.removeprefix(b"\xef\xbb\xbf")  # a BOM
    try:
        # Checked here, not by json (which guesses UTF-16 for some bad bytes).
        line.decode("utf-8")
        document = parse_json_fast(line)
    except json.JSONDecodeError as error:
        # The decoder counts lines and columns within this one line: say where in the line it is.
        return None, [f"invalid JSON at character {error.pos + 1} of the line: {error.msg}"]
    except (ValueError, RecursionError) as error:
        return None, [f"invalid JSON: {error if isinstance(error, ValueError) else 'nested too deeply'}"]
    if not isinstance(document, dict):
        return None, ["not a JSON object"]
    try:
        item = loader.load_one(document)
    except ValidationError as error:
        return None, list(describe_errors(error.messages))
    if "guid" not in item:
        item["guid"] = line_guid(document, item, time_field)
    return item, []


class Tally:
    def __init__(self, model, time_field):
        self.model, self.time_field = model, time_field
        self.written = self.present = 0
        self.stored_through = 0  # every line up to this one is committed (or rejected)
        self.rejected = {}

    def reject(self, number, reasons):
        self.rejected.setdefault(number, []).extend(reasons)

    def prepare(self, batch):
        """The Python half of writing (line number, item) pairs (writes.prepare), or None when the batch holds
        two different events of one guid (then write sorts it out)."""
        try:
            return prepare(self.model, [item for _, item in batch], self.time_field)
        except ApiError as error:
            if error.name != "EventConflict":
                raise
            return None

    def write(self, batch, prepared=None):
        """Write (line number, item) pairs in one transaction; on a conflict, in halves down to single
        lines, so only the conflicting lines are lost."""
        try:
            written = store(prepared) if prepared else write_events(
                self.model, [item for _, item in batch], self.time_field)
        except ApiError as error:
            if error.name != "EventConflict":
                raise
            if len(batch) == 1:
                self.reject(batch[0][0], [error.description])
            else:
                half = len(batch) // 2
                self.write(batch[:half])
                self.write(batch[half:])
            return
        self.written += len(written.new_guids)
        self.present += len(batch) - len(written.new_guids)
        self.stored_through = max(self.stored_through, batch[-1][0])


class Writer:
    """Stores chunks in a thread of its own, one at a time and in order, while the caller reads, checks and
    prepares the next: the database stores on its own core while this process works on the other. Only
    the database half runs in that thread: its Python half would take the GIL from the reading thread,
    and the two would go at half speed each."""

    def __init__(self, app, tally):
        self.app, self.tally = app, tally
        self.pool, self.pending = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import"), None

    def _write(self, batch, prepared):
        with self.app.app_context():
            self.tally.write(batch, prepared)

    def write(self, batch):
        prepared = self.tally.prepare(batch)
        self.wait()
        self.pending = self.pool.submit(self._write, batch, prepared)

    def wait(self):
        if self.pending is not None:
            self.pending.result()  # raises what the write raised
            self.pending = None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        try:
            if error is None:
                self.wait()
        finally:
            self.pool.shutdown(wait=True)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True, type=click.Choice(list(KINDS)), help="What the file holds.")
@with_appcontext
def import_command(file, kind):
    """Import newline-delimited JSON events (one write-API object a line); safe to run again."""
    model, schema_class, time_field = KINDS[kind]
    loader = loader_for(schema_class)
    tally, batch = Tally(model, time_field), []
    # One chunk is written (by the database, on its own core) while the next is read and checked (in
    # this process): one writer, so that chunks are stored in the file's order.
    writer = Writer(current_app._get_current_object(), tally)
    # The bar goes to stderr so that the summary on stdout can be read by a script.
    try:
        with writer, file.open("rb") as lines, click.progressbar(
            length=file.stat().st_size, label=f"importing {file.name}", file=sys.stderr
        ) as bar:
            for number, line in enumerate(lines, start=1):
                bar.update(len(line))
                if not line.strip():
                    continue
                item, reasons = load_line(line, loader, time_field)
                if reasons:
                    tally.reject(number, reasons)
                    continue
                batch.append((number, item))
                if len(batch) == IMPORT_BATCH:
                    writer.write(batch)
                    batch = []
            if batch:
                writer.write(batch)
    except KeyboardInterrupt:
        # The chunk being written was let finish (the writer waits for it): it is all or nothing anyway.
        click.echo(f"\ninterrupted: lines 1 to {tally.stored_through} are stored ({tally.written} written, "
                   f"{tally.present} already present); run the same command again to resume", err=True)
        sys.exit(130)
    click.echo(f"written: {tally.written}")
    click.echo(f"already present: {tally.present}")
    click.echo(f"rejected: {len(tally.rejected)}")
    for number in sorted(tally.rejected):
        for reason in tally.rejected[number]:
            click.echo(f"line {number}: {reason}")
    if tally.rejected:
        sys.exit(1)

