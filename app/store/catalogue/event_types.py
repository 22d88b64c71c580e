"""EVENT_TYPES: the known types of both vocabularies, by name: Cloud Controller's in CC's order, then
Scalingo's in the reference's (the order the /v1/event_types listing keeps)."""
from . import cloud_controller, scalingo

EVENT_TYPES = {event_type.name: event_type for event_type in (*cloud_controller.TYPES, *scalingo.TYPES)}
