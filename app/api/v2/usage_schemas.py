"""The v2 wire format of app and service usage events: what is read and what may be written."""
from urllib.parse import urlsplit, urlunsplit

from marshmallow import RAISE, Schema, fields, post_load
from marshmallow.validate import OneOf, Range

from app.base.fields import Guid, Integer, Text, Timestamp
from app.store.streams import APP_STATES, SERVICE_INSTANCE_TYPES, SERVICE_STATES

from ..presenters import Presenter

REDACTED_CREDENTIAL = "***"
# Counts and sizes are stored as 32-bit integers.
COUNT = Range(min=0, max=2**31 - 1)


def obfuscate_url_credentials(url):
    """Hide the user and password of a URL (a custom buildpack's, say), as CC does."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.username and not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{REDACTED_CREDENTIAL}:{REDACTED_CREDENTIAL}@{host}"))


def _integer(**kwargs):
    return Integer(strict=True, validate=COUNT, **kwargs)


def _optional_text(**kwargs):
    return Text(allow_none=True, allow_empty=True, load_default=None, **kwargs)


def usage_metadata_schema(stream):
    """The metadata of a usage event of `stream` ("app_usage_events" or "service_usage_events")."""

    class UsageMetadataSchema(Schema):
        guid = fields.String()
        url = fields.Function(lambda event: f"/v2/{stream}/{event.guid}")
        created_at = Timestamp()

    return UsageMetadataSchema()


class AppUsageEventEntitySchema(Schema):
    """An app usage event's entity, in CC's key order."""

    state = fields.String()
    previous_state = fields.String()
    memory_in_mb_per_instance = fields.Integer()
    previous_memory_in_mb_per_instance = fields.Integer()
    instance_count = fields.Integer()
    previous_instance_count = fields.Integer()
    app_guid = fields.String()
    app_name = fields.String()
    space_guid = fields.String()
    space_name = fields.String()
    org_guid = fields.String()
    buildpack_guid = fields.String()
    buildpack_name = fields.String()
    package_state = fields.String()
    previous_package_state = fields.String()
    parent_app_guid = fields.String()
    parent_app_name = fields.String()
    process_type = fields.String()
    task_name = fields.String()
    task_guid = fields.String()


class ServiceUsageEventEntitySchema(Schema):
    """A service usage event's entity, in CC's key order."""

    state = fields.String()
    org_guid = fields.String()
    space_guid = fields.String()
    space_name = fields.String()
    service_instance_guid = fields.String()
    service_instance_name = fields.String()
    service_instance_type = fields.String()
    service_plan_guid = fields.String()
    service_plan_name = fields.String()
    service_guid = fields.String()
    service_label = fields.String()
    service_broker_name = fields.String()
    service_broker_guid = fields.String()


class AppUsageEventWriteSchema(Schema):
    """One app usage event as a platform component writes it (POST /v2/app_usage_events)."""

    class Meta:
        unknown = RAISE

    guid = Guid()
    created_at = Timestamp()
    state = Text(required=True, validate=OneOf(APP_STATES))
    previous_state = _optional_text(max_length=50)
    memory_in_mb_per_instance = _integer(required=True)
    previous_memory_in_mb_per_instance = _integer(allow_none=True, load_default=None)
    instance_count = _integer(required=True)
    previous_instance_count = _integer(allow_none=True, load_default=None)
    # Task and staging events have no process: CC writes "" for their app guid.
    app_guid = Text(required=True, allow_empty=True)
    app_name = Text(required=True, allow_empty=True)
    space_guid = Text(required=True)
    space_name = Text(required=True)
    org_guid = Text(required=True)
    buildpack_guid = _optional_text()
    buildpack_name = _optional_text(max_length=2048)
    package_state = _optional_text(max_length=50)
    previous_package_state = _optional_text(max_length=50)
    parent_app_guid = _optional_text()
    parent_app_name = _optional_text()
    process_type = _optional_text()
    task_name = _optional_text()
    task_guid = _optional_text()

    @staticmethod
    def stored(event):
        """The event as the store keeps it: a buildpack URL's credentials hidden."""
        if event.get("buildpack_name"):
            event["buildpack_name"] = obfuscate_url_credentials(event["buildpack_name"])
        return event

    @post_load
    def _obfuscate(self, event, **kwargs):
        return self.stored(event)


class ServiceUsageEventWriteSchema(Schema):
    """One service usage event as a platform component writes it (POST /v2/service_usage_events)."""

    class Meta:
        unknown = RAISE

    guid = Guid()
    created_at = Timestamp()
    state = Text(required=True, validate=OneOf(SERVICE_STATES))
    org_guid = Text(required=True)
    space_guid = Text(required=True)
    space_name = Text(required=True)
    service_instance_guid = Text(required=True)
    service_instance_name = Text(required=True)
    service_instance_type = Text(required=True, validate=OneOf(SERVICE_INSTANCE_TYPES))
    service_plan_guid = _optional_text()
    service_plan_name = _optional_text()
    service_guid = _optional_text()
    service_label = _optional_text()
    service_broker_name = _optional_text()
    service_broker_guid = _optional_text()


ENTITY_SCHEMAS = {"app_usage_events": AppUsageEventEntitySchema(),
                  "service_usage_events": ServiceUsageEventEntitySchema()}


def usage_presenter(stream):
    """The function presenting stored usage events of `stream` (ORM objects or Rows) as v2 resources."""
    metadata, entity = Presenter(usage_metadata_schema(stream)), Presenter(ENTITY_SCHEMAS[stream])

    def present_many(events):
        return [{"metadata": m, "entity": e}
                for m, e in zip(metadata.many(events), entity.many(events), strict=True)]

    return present_many
