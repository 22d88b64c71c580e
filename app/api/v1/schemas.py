"""The v1 (Scalingo) wire format of audit events, and its paging parameters."""
from datetime import timezone

from marshmallow import EXCLUDE, Schema, fields
from marshmallow.validate import Range

from app.base.fields import Integer

from ..presenters import Presenter

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


_present = Presenter(ScalingoEventSchema())


def present_scalingo_events(events):
    # Absent, not null: a Scalingo event has no user when no user acted, and no app fields
    # when it is not about an app.
    return [{key: value for key, value in event.items() if value is not None} for event in _present.many(events)]


def present_scalingo_event(event):
    return present_scalingo_events([event])[0]


class PagingSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = Integer(load_default=1, validate=Range(min=1, error="must be greater than or equal to 1"),
                          error_messages={"invalid": "must be an integer"})
    per_page = Integer(load_default=DEFAULT_PER_PAGE,
                              validate=Range(min=1, max=MAX_PER_PAGE, error="must be between {min} and {max}"),
                              error_messages={"invalid": "must be an integer"})
    # The last N hours, instead of pages.
    from_ = Integer(data_key="from", load_default=None,
                           validate=Range(min=1, max=MAX_FROM_HOURS, error="must be between {min} and {max}"),
                           error_messages={"invalid": "must be an integer"})


# The keys only a Scalingo-shaped event has; an event written with any of them is read as one.
SCALINGO_KEYS = frozenset({"id", "user", "app_id", "app_name", "type_data", "created_at"})
USER_KEYS = ("username", "email", "id")
STORE_ACTOR_KEYS = frozenset({"actor", "actor_type", "actor_name", "actor_username", "actee", "actee_type",
                              "actee_name", "timestamp", "metadata", "guid"})
STORE_KEYS = STORE_ACTOR_KEYS | {"type", "space_guid", "organization_guid", "space_url"}


def is_scalingo_event(document):
    return isinstance(document, dict) and not SCALINGO_KEYS.isdisjoint(document)


def scalingo_to_store(document):
    """Translate a Scalingo-shaped event into the store's fields (the inverse of present_scalingo_event).

    user -> actor fields, app -> actee, type_data -> metadata, id -> guid, created_at -> timestamp.
    An event no user caused names the addon that did, or the platform; an event about no app is
    about its user, or else about its actor. Without type_data, the other keys are the type's data,
    as the 2015 API wrote them (`command` beside `type` of a run). Otherwise unknown keys are kept, so
    that validation names them; so is a mixture of both vocabularies, as a `vocabulary` entry.
    """
    event = {key: value for key, value in document.items() if key not in SCALINGO_KEYS}
    if "type_data" not in document:
        type_data_2015 = {key: event.pop(key) for key in list(event) if key not in STORE_KEYS}
        if type_data_2015:
            document = {**document, "type_data": type_data_2015}
    mixed = sorted(STORE_ACTOR_KEYS.intersection(document))
    if mixed:
        # Left for validation to report, with the event's index in a batch.
        event["vocabulary"] = f"Scalingo fields cannot be mixed with {', '.join(mixed)}."
    user, type_data = document.get("user"), document.get("type_data", {})
    for source, target in (("id", "guid"), ("created_at", "timestamp"), ("type_data", "metadata")):
        if source in document:
            event[target] = document[source]
    # Every key written is kept or refused, never dropped: a user has only Scalingo's three keys, and an
    # app's name is the name of app_id.
    if user is not None and not (isinstance(user, dict) and set(user) <= set(USER_KEYS)):
        event["vocabulary"] = "user must be an object with username, email and id."
    if "app_name" in document and "app_id" not in document:
        event["vocabulary"] = "app_name is the name of app_id, which is missing."
    if isinstance(user, dict):
        event.update(actor=user.get("id"), actor_type="user", actor_name=user.get("email"),
                     actor_username=user.get("username"))
    elif isinstance(type_data, dict) and type_data.get("addon_provider") is not None:
        event.update(actor=type_data["addon_provider"], actor_type="addon")
    else:
        event.update(actor="scalingo", actor_type="system")
    if "app_id" in document:
        event.update(actee=document["app_id"], actee_type="app", actee_name=_or_empty(document.get("app_name")))
    elif isinstance(user, dict):
        event.update(actee=user.get("id"), actee_type="user", actee_name=_or_empty(user.get("username")))
    else:
        # About no app and by no user (a platform event, as /v1 shows CC's broker events): about its actor.
        event.update(actee=event["actor"], actee_type=event["actor_type"], actee_name="")
    return event


def _or_empty(name):
    """A name as the store keeps it: "" for none (any other value is checked as a name is)."""
    return "" if name is None else name
