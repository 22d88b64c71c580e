"""`flask events import FILE --kind ...`: load newline-delimited JSON events through the write path."""
import json
import sys
import uuid
from pathlib import Path

import click
from flask.cli import with_appcontext
from marshmallow import ValidationError

from .api.v2.bodies import describe_errors
from .api.v2.schemas import EventWriteSchema
from .api.v2.usage_schemas import AppUsageEventWriteSchema, ServiceUsageEventWriteSchema
from .bodies import parse_json
from .errors import ApiError
from .models import AppUsageEvent, Event, ServiceUsageEvent
from .writes import MAX_BATCH, write_events

KINDS = {
    "audit": (Event, EventWriteSchema(), "timestamp"),
    "app-usage": (AppUsageEvent, AppUsageEventWriteSchema(), "created_at"),
    "service-usage": (ServiceUsageEvent, ServiceUsageEventWriteSchema(), "created_at"),
}
# A line without a guid gets one derived from its content, so that running the import again
# replays it instead of storing it a second time. (Identical guid-less lines are therefore one event.)
IMPORT_NAMESPACE = uuid.UUID("5d0c4f7e-2b7a-4c1e-9a51-3f0f1e6d2c8a")


def load_line(line, schema):
    """Return (item, reasons): the validated object of one line, or why it is refused."""
    try:
        # Decoded here, not by json (which guesses UTF-16 for some bad bytes); -sig drops a leading BOM.
        document = parse_json(line.decode("utf-8-sig"))
    except (ValueError, RecursionError) as error:
        return None, [f"invalid JSON: {error if isinstance(error, ValueError) else 'nested too deeply'}"]
    if not isinstance(document, dict):
        return None, ["not a JSON object"]
    try:
        item = schema.load(document)
    except ValidationError as error:
        return None, list(describe_errors(error.messages))
    item.setdefault("guid", str(uuid.uuid5(IMPORT_NAMESPACE, json.dumps(document, sort_keys=True))))
    return item, []


class Tally:
    def __init__(self, model, time_field):
        self.model, self.time_field = model, time_field
        self.written = self.present = 0
        self.rejected = {}

    def reject(self, number, reasons):
        self.rejected.setdefault(number, []).extend(reasons)

    def write(self, batch):
        """Write (line number, item) pairs in one transaction; on a conflict, line by line, so only
        the conflicting lines are lost."""
        try:
            written = write_events(self.model, [item for _, item in batch], self.time_field)
        except ApiError as error:
            if error.name != "EventConflict":
                raise
            if len(batch) == 1:
                self.reject(batch[0][0], [error.description])
            else:
                for line in batch:
                    self.write([line])
            return
        self.written += len(written.new_guids)
        self.present += len(batch) - len(written.new_guids)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True, type=click.Choice(list(KINDS)), help="What the file holds.")
@with_appcontext
def import_command(file, kind):
    """Import newline-delimited JSON events (one write-API object a line); safe to run again."""
    model, schema, time_field = KINDS[kind]
    tally, batch = Tally(model, time_field), []
    # The bar goes to stderr so that the summary on stdout can be read by a script.
    with file.open("rb") as lines, click.progressbar(
        length=file.stat().st_size, label=f"importing {file.name}", file=sys.stderr
    ) as bar:
        for number, line in enumerate(lines, start=1):
            bar.update(len(line))
            if not line.strip():
                continue
            item, reasons = load_line(line, schema)
            if reasons:
                tally.reject(number, reasons)
                continue
            batch.append((number, item))
            if len(batch) == MAX_BATCH:
                tally.write(batch)
                batch = []
        if batch:
            tally.write(batch)
    click.echo(f"written: {tally.written}")
    click.echo(f"already present: {tally.present}")
    click.echo(f"rejected: {len(tally.rejected)}")
    for number in sorted(tally.rejected):
        for reason in tally.rejected[number]:
            click.echo(f"line {number}: {reason}")
    if tally.rejected:
        sys.exit(1)
