"""Presenting stored rows in a list: the Marshmallow schemas' output, without Marshmallow's per-row cost.

The schemas stay the one definition of the wire format (keys, order, attributes, formats), but
`schema.dump` costs about 25 µs an event, most of a 1000-row page's time. A Presenter reads a
schema once and keeps, for each field, its output key, the attribute it reads and a converter
doing what the field's own serialisation does for the values the store holds. Field kinds it does
not know are refused when it is built, so a schema change cannot silently bypass it; tests check
that it agrees with `schema.dump` for every schema it serves.
"""
from marshmallow import fields
from sqlalchemy.engine import Row

from .fields import NullAsEmpty, Timestamp, format_timestamp


def _empty_if_none(value):
    return "" if value is None else value


# Most specific first. None: the stored value is already what the field would output (a str, an
# int, a JSON object, or None).
_CONVERTERS = (
    (Timestamp, format_timestamp),
    (NullAsEmpty, _empty_if_none),
    (fields.String, None),
    (fields.Integer, None),
    (fields.Dict, None),
)


def _converter(name, field):
    if isinstance(field, fields.Integer) and field.as_string:
        raise TypeError(f"{name}: Integer(as_string=True) is not supported")
    if isinstance(field, fields.Dict) and (field.key_field or field.value_field):
        raise TypeError(f"{name}: a Dict with key or value fields is not supported")
    for kind, convert in _CONVERTERS:
        if isinstance(field, kind):
            return convert
    raise TypeError(f"{name}: {type(field).__name__} fields are not supported; teach presenters.py how to output it")


class Presenter:
    """`presenter(record)` == `schema.dump(record)` for a stored record (an ORM object or a Row)."""

    def __init__(self, schema):
        # (key, attribute, convert): a None attribute means convert takes the whole record.
        self._plan = []
        for name, field in schema.dump_fields.items():
            key = field.data_key or name
            if isinstance(field, fields.Function):
                self._plan.append((key, None, field.serialize_func))
            elif isinstance(field, fields.Method):
                self._plan.append((key, None, getattr(schema, field.serialize_method_name)))
            else:
                self._plan.append((key, field.attribute or name, _converter(name, field)))

    def __call__(self, record):
        output = {}
        for key, attribute, convert in self._plan:
            if attribute is None:
                output[key] = convert(record)
            else:
                value = getattr(record, attribute)
                output[key] = value if convert is None else convert(value)
        return output

    def many(self, records):
        """Present a page of records; Rows (all of one select) are read by position, which is much faster."""
        if not records or not all(isinstance(record, Row) for record in records):
            return [self(record) for record in records]
        position = {name: index for index, name in enumerate(records[0]._fields)}
        plan = [(key, None if attribute is None else position[attribute], convert)
                for key, attribute, convert in self._plan]
        page = []
        for record in records:
            output = {}
            for key, index, convert in plan:
                if index is None:
                    output[key] = convert(record)
                else:
                    value = record[index]
                    output[key] = value if convert is None else convert(value)
            page.append(output)
        return page
