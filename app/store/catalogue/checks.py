"""What a known type's metadata/type_data lacks or holds of the wrong JSON type, read from EVENT_TYPES:
check (the messages) and conforms (whether there are none, answered quicker).

JSON null is accepted for every field, present or not required: CC writes null for absent values (a
deployment's droplet_guid, a mapping's weight, a purge's request) and Scalingo does as well (`scope: null`
means all, an HDS contact's address_line2). A type the catalogue does not know is not checked.
"""
from datetime import datetime

from .event_types import EVENT_TYPES


def _is_datetime(value):
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


# Booleans are ints in Python but not integers in JSON.
_TYPE_CHECKS = {
    "string": (lambda value: isinstance(value, str), "Must be a string."),
    "boolean": (lambda value: isinstance(value, bool), "Must be a boolean."),
    "integer": (lambda value: isinstance(value, int) and not isinstance(value, bool), "Must be an integer."),
    "float": (lambda value: isinstance(value, int | float) and not isinstance(value, bool), "Must be a number."),
    "scalar": (lambda value: isinstance(value, str | int) and not isinstance(value, bool),
               "Must be a string or an integer."),
    "object": (lambda value: isinstance(value, dict), "Must be an object."),
    "array": (lambda value: isinstance(value, list), "Must be an array."),
    "datetime": (_is_datetime, "Must be an ISO 8601 date and time."),
}
NOT_AN_OBJECT = "Must be an object."
MISSING = "Missing data for required field."


def _places(container, segments, shown):
    """Where a path's last key would live: (shown path, parent dict) for each parent that is an object.

    Parents that are absent or of another type are skipped (their own field reports them); an array
    step ("name[]") yields one place per element, and an element that is not an object is reported as
    (shown path of the element, None).
    """
    head, *rest = segments
    if not rest:
        yield f"{shown}{head}", container
        return
    if head.endswith("[]"):
        key = head[:-2]
        items = container.get(key)
        if isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    yield from _places(item, rest, f"{shown}{key}[{index}].")
                else:
                    yield f"{shown}{key}[{index}]", None
        return
    child = container.get(head)
    if isinstance(child, dict):
        yield from _places(child, rest, f"{shown}{head}.")


def _places_of(data, field):
    """_places for a field, without the generator's cost for the usual path that steps into no array."""
    segments = field.path.split(".") if "[]" in field.path else None
    if segments:
        return _places(data, segments, "")
    parent = data
    for key in field.parents:
        parent = parent.get(key)
        if not isinstance(parent, dict):
            return ()
    return ((field.path, parent),)


def check(type_name, data):
    """Messages for the wrongly typed and the missing required fields of a known type's metadata/type_data."""
    event_type = EVENT_TYPES.get(type_name)
    if event_type is None:
        return []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return []
    secret_paths = event_type.secret_paths
    messages = []
    for field in event_type.fields:
        is_valid, complaint = _TYPE_CHECKS[field.type]
        for shown, parent in _places_of(data, field):
            if parent is None:
                message = f"{shown}: {NOT_AN_OBJECT}"
            elif field.key not in parent:
                message = f"{shown}: {MISSING}" if field.required else None
            else:
                value = parent[field.key]
                # A secret may arrive already replaced by its text, whatever its own type.
                if value is None or (field.path in secret_paths and isinstance(value, str)) or is_valid(value):
                    message = None
                else:
                    message = f"{shown}: {complaint}"
            if message and message not in messages:
                messages.append(message)
    return messages


def _groups(event_type):
    """The type's fields by the path of the object that holds them: {parents: (required keys, {key: (is
    valid, may be a secret's text)})}; None when a field steps into arrays (conforms defers to check)."""
    if any("[]" in field.path for field in event_type.fields):
        return None
    groups = {}
    for field in event_type.fields:
        required, typed = groups.setdefault(field.parents, (set(), {}))
        if field.required:
            required.add(field.key)
        typed.setdefault(field.key, []).append((_TYPE_CHECKS[field.type][0], field.path in event_type.secret_paths))
    return {parents: (frozenset(required), typed) for parents, (required, typed) in groups.items()}


_GROUPS = {name: _groups(event_type) for name, event_type in EVENT_TYPES.items()}


def conforms(type_name, data):
    """Whether check(type_name, data) would find nothing, answered without building its messages: the
    write path asks this of every event, and most conform."""
    groups = _GROUPS.get(type_name, {})
    if groups is None:
        return not check(type_name, data)
    if not groups or not isinstance(data, dict | None):
        return True
    data = data or {}
    for parents, (required, typed) in groups.items():
        parent = data
        for key in parents:
            parent = parent.get(key)
            if not isinstance(parent, dict):
                break
        else:
            if not required.issubset(parent):
                return False
            for key in typed.keys() & parent.keys():
                value = parent[key]
                # A secret may arrive already replaced by its text, whatever its own type.
                if value is not None and not all((may_be_text and isinstance(value, str)) or valid(value)
                                                 for valid, may_be_text in typed[key]):
                    return False
    return True
