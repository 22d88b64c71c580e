"""Presenting stored rows in a list: the Marshmallow schemas' output, without Marshmallow's per-row cost.

The schemas stay the one definition of the wire format (keys, order, attributes, formats), but
`schema.dump` costs about 25 µs an event, most of a 1000-row page's time. A Presenter reads a
schema once and keeps, for each field, its output key, the attribute it reads and a converter
doing what the field's own serialisation does for the values the store holds. Field kinds it does
not know are refused when it is built, so a schema change cannot silently bypass it; tests check
that it agrees with `schema.dump` for every schema it serves.
"""
import functools

from marshmallow import fields
from sqlalchemy.engine import Row

from app.base.fields import NullAsEmpty, Timestamp, format_timestamp


class SameAs(fields.Function):
    """A field whose output is always that of an earlier one (v3's updated_at is its created_at): the
    schema says how to compute it; a Presenter copies the other's output instead of computing it again."""

    def __init__(self, key, serialize, **kwargs):
        super().__init__(serialize, **kwargs)
        self.same_as = key


class Attributes(fields.Function):
    """An object of the record's attributes, by output key (v3's nested {"guid", "name"}): declared as
    data, so that a Presenter reads a page's Rows by position instead of calling a function a row."""

    def __init__(self, **keys):
        super().__init__(lambda record: {key: getattr(record, name) for key, name in keys.items()})
        self.keys = keys


class PerPage(fields.Function):
    """A Function field with work to do once a page rather than once a row (v3's links, which start
    with the service's address): `bind()` returns the function presenting one row of this page."""

    def __init__(self, bind, **kwargs):
        super().__init__(lambda record: bind()(record), **kwargs)
        self.bind = bind


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
        # (key, attribute, convert): a None attribute means convert takes the whole record, and
        # convert a str that the value is the output of that key.
        self._plan = []
        for name, field in schema.dump_fields.items():
            key = field.data_key or name
            if isinstance(field, SameAs):
                self._plan.append((key, None, field.same_as))
            elif isinstance(field, PerPage):
                self._plan.append((key, None, field))
            elif isinstance(field, Attributes):
                self._plan.append((key, tuple(field.keys.values()), tuple(field.keys)))
            elif isinstance(field, fields.Function):
                self._plan.append((key, None, field.serialize_func))
            elif isinstance(field, fields.Method):
                self._plan.append((key, None, getattr(schema, field.serialize_method_name)))
            else:
                self._plan.append((key, field.attribute or name, _converter(name, field)))

    def _bound(self):
        """The plan for one page: per-page fields bound once."""
        return [(key, attribute, convert.bind() if isinstance(convert, PerPage) else convert)
                for key, attribute, convert in self._plan]

    def __call__(self, record):
        output = {}
        for key, attribute, convert in self._bound():
            if attribute is None:
                output[key] = output[convert] if isinstance(convert, str) else convert(record)
            elif isinstance(attribute, tuple):
                output[key] = {name: getattr(record, source) for name, source in zip(convert, attribute, strict=True)}
            else:
                value = getattr(record, attribute)
                output[key] = value if convert is None else convert(value)
        return output

    def many(self, records):
        """Present a page of records. Rows (all of one select) go through a function compiled for their
        columns, which reads them by position and builds each resource as one dict display."""
        if not records or not all(isinstance(record, Row) for record in records):
            return [self(record) for record in records]
        make = self._compiled(records[0]._fields)
        present = make(*(convert.bind() for _, _, convert in self._plan if isinstance(convert, PerPage)))
        return [present(record) for record in records]

    @functools.cache  # noqa: B019  (one per schema and column layout: presenters live as long as the app)
    def _compiled(self, columns):
        """A function of the page's per-page functions, returning the function that presents one Row."""
        position = {name: index for index, name in enumerate(columns)}
        helpers, per_page, lines, items = {}, [], [], []
        variables = {}  # output key -> the local holding its value, for SameAs
        for number, (key, attribute, convert) in enumerate(self._plan):
            local = f"v{number}"
            if isinstance(convert, PerPage):
                per_page.append(f"p{number}")
                expression = f"p{number}(r)"
            elif attribute is None and isinstance(convert, str):
                expression = variables[convert]
            elif attribute is None:
                helpers[f"f{number}"] = convert
                expression = f"f{number}(r)"
            elif isinstance(attribute, tuple):
                expression = "{" + ", ".join(f"{name!r}: r[{position[source]}]"
                                             for name, source in zip(convert, attribute, strict=True)) + "}"
            elif convert is None:
                expression = f"r[{position[attribute]}]"
            else:
                helpers[f"f{number}"] = convert
                expression = f"f{number}(r[{position[attribute]}])"
            lines.append(f"        {local} = {expression}")
            variables[key] = local
            items.append(f"{key!r}: {local}")
        source = (f"def make({', '.join(per_page)}):\n    def present(r):\n" + "\n".join(lines)
                  + f"\n        return {{{', '.join(items)}}}\n    return present\n")
        namespace = dict(helpers)
        exec(compile(source, f"<presenter of {', '.join(columns)[:60]}>", "exec"), namespace)  # noqa: S102
        return namespace["make"]
