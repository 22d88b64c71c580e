"""Loading written events at the speed of a bulk import: the write schemas' own rules, compiled.

`schema.load` costs a few hundred microseconds an event, more than everything else an import or a
batched write does together. A FastLoader reads a write schema once and keeps, for each field, the
checks its Marshmallow field and validators make; an item that passes them all is loaded by them, and
one that does not (a mistake, an unusual input, anything the compiled checks do not know) is loaded
by `schema.load` itself. So an accepted event is exactly what the schema would make of it, and a
refused one carries the schema's own messages; tests compare the two over random inputs.

A write schema may declare, as static methods: `needs_pre_load(document)` (its pre_load hook would
change the document: left to the schema), `problems(event)` (its whole-event rules) and
`stored(event)` (its post_load).
"""
import functools

from marshmallow import ValidationError, fields
from marshmallow.utils import missing
from marshmallow.validate import OneOf, Range, Regexp

from app.base.fields import (
    GUID_PATTERN,
    TIME_FORM,
    Guid,
    JsonObject,
    Text,
    Timestamp,
    check_json,
    check_text,
    parse_time,
)


class _Schema(Exception):
    """This item is the schema's to load."""


def _text_check(field):
    max_length, allow_empty = field.max_length, field.allow_empty
    pattern = GUID_PATTERN if isinstance(field, Guid) else None

    def load(value):
        if type(value) is not str or (value == "" and not allow_empty):
            raise _Schema
        try:
            check_text(value, max_length)
        except ValidationError:
            raise _Schema from None
        if pattern is not None and not pattern.match(value):
            raise _Schema
        return value

    return load


def _timestamp(value):
    if type(value) is not str or not TIME_FORM.fullmatch(value):
        raise _Schema
    try:
        return parse_time(value)
    except ValueError:
        raise _Schema from None


def _json_object(value):
    if type(value) is not dict:
        raise _Schema
    try:
        check_json(value)
    except ValidationError:
        raise _Schema from None
    return value


def _strict_integer(value):
    if type(value) is not int:
        raise _Schema
    return value


def _plain_string(value):
    if type(value) is not str:
        raise _Schema
    return value


def _kind_check(field):
    """The check of the field's own kind, or None for a kind this does not know."""
    if isinstance(field, Text):
        return _text_check(field)
    if isinstance(field, Timestamp):
        return _timestamp
    if isinstance(field, JsonObject):
        return _json_object
    if isinstance(field, fields.Integer) and field.strict:
        return _strict_integer
    if type(field) is fields.String:
        return _plain_string
    return None


def _validator_check(validator):
    if isinstance(validator, Regexp):
        return lambda value: validator.regex.match(value) is not None
    if isinstance(validator, OneOf):
        choices = frozenset(validator.choices)
        return lambda value: value in choices
    if isinstance(validator, Range) and validator.min_inclusive and validator.max_inclusive:
        low, high = validator.min, validator.max
        return lambda value: (low is None or value >= low) and (high is None or value <= high)
    return None


def _field_loader(field):
    """load(value) of one present value, raising _Schema for anything not plainly valid."""
    kind = _kind_check(field)
    checks = [_validator_check(validator) for validator in field.validators]
    if kind is None or None in checks:
        def refuse(value):
            raise _Schema
        return refuse
    allow_none = field.allow_none

    def load(value):
        if value is None:
            if allow_none:
                return None
            raise _Schema
        value = kind(value)
        for valid in checks:
            if not valid(value):
                raise _Schema
        return value

    return load


@functools.cache
def loader_for(schema_class):
    """The one FastLoader of a write schema class."""
    return FastLoader(schema_class())


class FastLoader:
    """`loader.load(items)` == `schema.load(items, many=True)`, fast for the items writers send."""

    def __init__(self, schema):
        self.schema = schema
        self.needs_pre_load = getattr(schema, "needs_pre_load", lambda document: False)
        self.problems = getattr(schema, "problems", lambda event: {})
        self.stored = getattr(schema, "stored", lambda event: event)
        # (data key, attribute, load, required, default)
        self.fields = []
        for name, field in schema.load_fields.items():
            default = field.load_default
            self.fields.append((field.data_key or name, field.attribute or name, _field_loader(field),
                                field.required, default))
        self.known_keys = frozenset(key for key, *_ in self.fields)

    def _fast(self, document):
        if type(document) is not dict or not self.known_keys.issuperset(document) or self.needs_pre_load(document):
            raise _Schema
        event = {}
        for key, attribute, load, required, default in self.fields:
            value = document.get(key, missing)
            if value is missing:
                if required:
                    raise _Schema
                if default is not missing:
                    event[attribute] = default() if callable(default) else default
                continue
            event[attribute] = load(value)
        if self.problems(event):
            raise _Schema
        return self.stored(event)

    def load_one(self, document):
        """The loaded event; ValidationError with the schema's messages when it is refused."""
        try:
            return self._fast(document)
        except _Schema:
            return self.schema.load(document)

    def load(self, documents):
        """schema.load(documents, many=True): the loaded items, or one ValidationError indexed by item."""
        loaded, errors = [], {}
        for index, document in enumerate(documents):
            try:
                loaded.append(self.load_one(document))
            except ValidationError as error:
                errors[index] = error.messages
        if errors:
            raise ValidationError(errors)
        return loaded
