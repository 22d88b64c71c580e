"""The v1 (Scalingo) wire format of audit events, and its paging parameters."""
from datetime import timezone

from marshmallow import EXCLUDE, Schema, fields
from marshmallow.validate import Range

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
MAX_FROM_HOURS = 72


def format_time(value):
    """Scalingo's time format: ISO 8601 with milliseconds and an offset (UTC here)."""
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")


class ScalingoEventSchema(Schema):
    """An audit event as Scalingo shows it: `user` only for user actors, app fields only for app actees."""

    id = fields.String(attribute="guid")
    created_at = fields.Function(lambda event: format_time(event.timestamp))
    user = fields.Method("_user")
    app_id = fields.Method("_app_id")
    app_name = fields.Method("_app_name")
    type = fields.String()
    type_data = fields.Dict(attribute="data")

    def _user(self, event):
        if event.actor_type != "user":
            return None
        return {"username": event.actor_username, "email": event.actor_name, "id": event.actor}

    def _app_id(self, event):
        return event.actee if event.actee_type == "app" else None

    def _app_name(self, event):
        return event.actee_name if event.actee_type == "app" else None


_event_schema = ScalingoEventSchema()


def present_scalingo_event(event):
    # Absent, not null: a Scalingo event has no user when no user acted, and no app fields
    # when it is not about an app.
    return {key: value for key, value in _event_schema.dump(event).items() if value is not None}


class PagingSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=Range(min=1, error="must be greater than or equal to 1"),
                          error_messages={"invalid": "must be an integer"})
    per_page = fields.Integer(load_default=DEFAULT_PER_PAGE,
                              validate=Range(min=1, max=MAX_PER_PAGE, error="must be between {min} and {max}"),
                              error_messages={"invalid": "must be an integer"})
    # The last N hours, instead of pages.
    from_ = fields.Integer(data_key="from", load_default=None,
                           validate=Range(min=1, max=MAX_FROM_HOURS, error="must be between {min} and {max}"),
                           error_messages={"invalid": "must be an integer"})
