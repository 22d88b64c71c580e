"""redact: a copy of an event's metadata/type_data with every secret replaced by its text. The universal rule
(model.py: secret keys, a request's private fields) holds for every type, known or not; a known type's own
secret paths (EVENT_TYPES) are replaced as well."""
from .event_types import EVENT_TYPES
from .model import PRIVATE_DATA_HIDDEN, PRIVATE_REQUEST_FIELDS, REDACTED, is_secret_key


def _replace(container, segments, replacement):
    head, *rest = segments
    if head.endswith("[]"):
        items = container.get(head[:-2])
        if rest and isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    _replace(item, rest, replacement)
    elif not rest:
        if head in container:
            container[head] = replacement
    elif isinstance(container.get(head), dict):
        _replace(container[head], rest, replacement)


def _copy(value):
    """A deep copy of parsed JSON (dicts, lists, scalars): copy.deepcopy costs several times more."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _redact_secret_keys(value):
    if isinstance(value, dict):
        return {key: REDACTED if isinstance(key, str) and is_secret_key(key) else _redact_secret_keys(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_secret_keys(item) for item in value]
    return value


def redact(type_name, data):
    """A copy of the metadata/type_data with every secret replaced by its text, for any type."""
    if not isinstance(data, dict):
        return _copy(data)
    # The copy hides every secret-named key as it goes; then the type's own secret paths.
    redacted = _redact_secret_keys(data)
    event_type = EVENT_TYPES.get(type_name)
    for secret in event_type.secrets if event_type else ():
        _replace(redacted, secret.segments, secret.replacement)
    request = redacted.get("request")
    if isinstance(request, dict):
        for key in PRIVATE_REQUEST_FIELDS:
            if key in request:
                request[key] = PRIVATE_DATA_HIDDEN
    return redacted
