"""The catalogue of known audit event types of both vocabularies, as data: validation (`check`, `conforms`)
and redaction (`redact`) are read from this one table, as are the /v1/event_types and /v1/event_categories
listings (api/v1/catalogue.py), so a type is described once and nowhere else.

- model.py: an event type, its fields and secrets, the categories, the rule for secret keys, and the grammar
  of the field specs the two tables are written in;
- cloud_controller.py: Cloud Controller's types, from CC's own code, and how their required keys were decided;
- scalingo.py: Scalingo's types, from its reference, and how their required fields were decided;
- event_types.py: EVENT_TYPES, both tables by name;
- checks.py: what a known type's metadata lacks or holds of the wrong type;
- redaction.py: the copy of metadata with every secret replaced by its text.
"""
from .checks import check, conforms
from .event_types import EVENT_TYPES
from .model import (
    CATEGORIES,
    CLOUD_CONTROLLER,
    JSON_TYPES,
    PRIVATE_DATA_HIDDEN,
    REDACTED,
    REDACTED_CREDENTIAL,
    SCALINGO,
    Category,
    EventType,
    Field,
    Secret,
    is_secret_key,
)
from .redaction import redact

__all__ = [
    "CATEGORIES", "CLOUD_CONTROLLER", "EVENT_TYPES", "JSON_TYPES", "PRIVATE_DATA_HIDDEN", "REDACTED",
    "REDACTED_CREDENTIAL", "SCALINGO", "Category", "EventType", "Field", "Secret", "check", "conforms",
    "is_secret_key", "redact",
]
