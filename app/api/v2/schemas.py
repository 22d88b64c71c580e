"""The v2 wire format of audit events: what is read and what may be written."""
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validates_schema
from marshmallow.validate import Regexp

from app.base.fields import Guid, JsonObject, NullAsEmpty, Text, Timestamp, format_timestamp
from app.store.catalogue import check, conforms, redact

from ..presenters import Presenter
from ..v1.schemas import is_scalingo_event, scalingo_to_store

EVENT_TYPE = Regexp(r"^[a-z0-9][a-z0-9._/ -]*$", error="Must be lower case letters, digits and '._/ -'.")


class EventMetadataSchema(Schema):
    guid = fields.String()
    url = fields.Function(lambda event: f"/v2/events/{event.guid}")
    # CC creates an event at the instant it records (its created_at is its timestamp), and never
    # changes it; the time cf-events stored it is not part of the event, so a copy reads the same.
    created_at = Timestamp(attribute="timestamp")
    updated_at = fields.Function(lambda event: format_timestamp(event.timestamp))


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
    # CC's Event model requires these four to be present and not blank.
    type = Text(required=True, validate=EVENT_TYPE)
    actor = Text(required=True)
    actor_type = Text(required=True)
    # CC writes '' where it knows no name: a client's token has no user name (UserAuditInfo's
    # `|| ''`), and a broker acting has no user at all.
    actor_name = Text(allow_none=True, allow_empty=True, load_default=None)
    actor_username = Text(allow_none=True, allow_empty=True, load_default=None)
    actee = Text(required=True)
    actee_type = Text(required=True)
    actee_name = Text(allow_empty=True, load_default="")
    timestamp = Timestamp()
    metadata = JsonObject(load_default=dict, data_key="metadata", attribute="data")
    # Events of no space (buildpacks, brokers, plans, an organization's own) carry '' in CC and in our
    # own output; the store keeps NULL for them, so that q=space_guid: finds them.
    space_guid = Text(allow_none=True, allow_empty=True, load_default=None)
    organization_guid = Text(allow_none=True, allow_empty=True, load_default=None)
    # The 2014 API pages show it: derived from space_guid, checked against it, never stored.
    space_url = fields.String(load_only=True, allow_none=True)

    # Present only when a writer mixed both vocabularies; it always fails, saying so.
    vocabulary = fields.Raw(load_only=True, validate=lambda message: _refuse(message))

    @pre_load
    def _translate_scalingo(self, document, **kwargs):
        # Scalingo writers may send their own vocabulary (user, app_id, type_data, …): both
        # dialects write, and read, the one store.
        return scalingo_to_store(document) if is_scalingo_event(document) else document

    @staticmethod
    def needs_pre_load(document):
        """Whether the pre_load hook would change `document` (loading.FastLoader leaves such to load)."""
        return is_scalingo_event(document)

    @staticmethod
    def problems(event):
        """{field: [message]} of the whole-event rules, for the fields loaded (`event` by attribute)."""
        found = {}
        if event.get("space_url") and event["space_url"] != f"/v2/spaces/{event.get('space_guid') or ''}":
            found["space_url"] = ["Must be /v2/spaces/ followed by the event's space_guid."]
        # A known type's metadata must carry its fields with their JSON types; unknown types pass.
        metadata = [] if conforms(event.get("type"), event.get("data")) else check(event.get("type"), event.get("data"))
        if metadata:
            found["metadata"] = metadata
        return found

    @validates_schema
    def _check(self, event, **kwargs):
        problems = self.problems(event)
        if problems:
            raise ValidationError(problems)

    @staticmethod
    def stored(event):
        """The event as the store keeps it: no space_url, NULL for no space or organization, secrets hidden."""
        event.pop("space_url", None)
        for name in ("space_guid", "organization_guid"):
            if event[name] == "":
                event[name] = None
        event["data"] = redact(event["type"], event["data"])
        return event

    @post_load
    def _store(self, event, **kwargs):
        return self.stored(event)


def _refuse(message):
    # The translation of a Scalingo event sets a message; anything else sent under this key is unknown.
    raise ValidationError(message if isinstance(message, str) else "Unknown field.")


_metadata = Presenter(EventMetadataSchema())
_entity = Presenter(EventEntitySchema())


def present_events(events):
    """The v2 resources of stored events (ORM objects, or Rows of their attributes)."""
    return [{"metadata": metadata, "entity": entity}
            for metadata, entity in zip(_metadata.many(events), _entity.many(events), strict=True)]


def present_event(event):
    return present_events([event])[0]
