"""Request bodies of the v2 write API: one JSON object, or an array of up to MAX_BATCH of them."""
from marshmallow import ValidationError

from app.base.errors import ApiError
from app.store.loading import loader_for
from app.store.writes import MAX_BATCH

from ..bodies import read_json
from ..responses import json_response


def describe_errors(messages, prefix=""):
    """Flatten marshmallow's nested messages into "field: message" strings, one per problem."""
    for key, value in messages.items():
        name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else key)
        name = name.replace("._schema", "").replace("_schema", "body")
        if isinstance(value, dict):
            yield from describe_errors(value, name)
        else:
            for message in value:
                yield f"{name}: {message}"


def load_write_body(schema_class):
    """Return (items, is_batch): the validated objects of the body, or raise one error naming every bad field."""
    document = read_json()
    is_batch = isinstance(document, list)
    if not (isinstance(document, dict) or (is_batch and 1 <= len(document) <= MAX_BATCH)):
        raise ApiError(
            "UnprocessableEntity", f"The body must be a JSON object or an array of 1 to {MAX_BATCH} JSON objects."
        )
    try:
        items = loader_for(schema_class).load(document if is_batch else [document])
    except ValidationError as error:
        # Errors are indexed by item, except those a schema raises for the whole batch.
        messages = error.messages if is_batch else error.messages.get(0, error.messages)
        raise ApiError("UnprocessableEntity", "; ".join(describe_errors(messages))) from None
    return items, is_batch


def written_response(written, is_batch, present_many):
    """201 with what was stored (200 when every event was a replay), as one resource or an array."""
    status = 201 if written.created else 200
    resources = present_many(written.rows)
    if is_batch:
        return json_response(resources, status)
    return json_response(resources[0], status, headers={"Location": resources[0]["metadata"]["url"]})
