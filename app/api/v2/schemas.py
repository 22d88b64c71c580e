"""The v2 wire format of audit events: what is read and what may be written."""
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validates_schema
from marshmallow.validate import Regexp

from ...catalogue import check, redact
from ...fields import Guid, JsonObject, NullAsEmpty, Text, Timestamp, format_timestamp
from ...presenters import Presenter
from ..v1.schemas import is_scalingo_event, scalingo_to_store

EVENT_TYPE = Regexp(r"^[a-z0-9][a-z0-9._/ -]*$", error="Must be lower case letters, digits and '._/ -'.")


class EventMetadataSchema(Schema):
    guid = fields.String()
    url = fields.Function(lambda event: f"/v2/events/{event.guid}")
    created_at = Timestamp()
    # Events are never changed after they are written.
    updated_at = fields.Function(lambda event: format_timestamp(event.created_at))


class EventEntitySchema(Schema):
    """An audit event's entity, in CC's key order."""

    type = fields.String()
    actor = fields.String()
    actor_type = fields.String()
    actor_name = fields.String()
    actor_username = fields.String()
    actee = fields.String()
    actee_type = fields.String()
    actee_name = fields.String()
    timestamp = Timestamp()
    metadata = fields.Dict(attribute="data")
    space_guid = NullAsEmpty()
    organization_guid = NullAsEmpty()


class EventWriteSchema(Schema):
    """One audit event as a platform component writes it (POST /v2/events)."""

    class Meta:
        unknown = RAISE

    guid = Guid()
    type = Text(required=True, validate=EVENT_TYPE)
    actor = Text(required=True)
    actor_type = Text(required=True)
    actor_name = Text(allow_none=True, load_default=None)
    actor_username = Text(allow_none=True, load_default=None)
    actee = Text(required=True)
    actee_type = Text(required=True)
    actee_name = Text(allow_empty=True, load_default="")
    timestamp = Timestamp()
    metadata = JsonObject(load_default=dict, data_key="metadata", attribute="data")
    space_guid = Text(allow_none=True, load_default=None)
    organization_guid = Text(allow_none=True, load_default=None)

    # Present only when a writer mixed both vocabularies; it always fails, saying so.
    vocabulary = fields.Raw(load_only=True, validate=lambda message: _refuse(message))

    @pre_load
    def _translate_scalingo(self, document, **kwargs):
        # Scalingo writers may send their own vocabulary (user, app_id, type_data, …): both
        # dialects write, and read, the one store.
        return scalingo_to_store(document) if is_scalingo_event(document) else document

    @validates_schema
    def _check_known_type(self, event, **kwargs):
        # A known type's metadata must carry its fields with their JSON types; unknown types pass.
        problems = check(event.get("type"), event.get("data"))
        if problems:
            raise ValidationError(problems, "metadata")

    @post_load
    def _redact(self, event, **kwargs):
        event["data"] = redact(event["type"], event["data"])
        return event


def _refuse(message):
    raise ValidationError(message)


_metadata = Presenter(EventMetadataSchema())
_entity = Presenter(EventEntitySchema())


def present_events(events):
    """The v2 resources of stored events (ORM objects, or Rows of their attributes)."""
    return [{"metadata": metadata, "entity": entity}
            for metadata, entity in zip(_metadata.many(events), _entity.many(events), strict=True)]


def present_event(event):
    return present_events([event])[0]
