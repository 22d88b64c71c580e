"""v3 query parameters as CC reads them: comma lists, time filters with relational operators, order_by,
page and per_page; every mistake of one request is reported together, in one error.

An endpoint declares its parameters with a `ListQuery`; `parse` checks a request's arguments against
it and returns a `Parsed`, or raises ParameterErrors with CC's messages in the order CC's validators
run (app/messages/list_message.rb, base_message.rb, validators.rb). Each endpoint decides the status:
400 on audit events and resources, 422 on usage events and roles, as CC answers.
"""
import re
from typing import NamedTuple
from urllib.parse import unquote

from app.base.fields import is_storable, parse_time
from app.store.filters import ONE_SECOND, AtSeconds, During, NoneOf, OneOf

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 5000
# A raw '+' in a URL arrives as a space, so " created_at" was "+created_at" (CC refuses it: deliberate
# difference).
_ORDER = re.compile(r"([+ -]?)(\w+)")
_BRACKETED = re.compile(r"([^\[\]]+)\[([^\[\]]*)\]")
# CC's only time format: whole seconds, UTC, 'Z' (TimestampValidator).
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
# A comma and the whitespace after it, as CC splits (/,\s*/: Ruby's \s is these six, Python's is all of Unicode's).
LIST_SPACE = r" \t\n\v\f\r"
LIST_SEPARATOR = f",[{LIST_SPACE}]*"
_LIST_SEPARATOR = re.compile(LIST_SEPARATOR)
_WHOLE_NUMBER = re.compile(r"[0-9]+")
RELATIONAL = ("lt", "lte", "gt", "gte")


class ParameterErrors(ValueError):
    """What is wrong with a request's parameters: CC's messages, in CC's order, joined as CC joins them."""

    def __init__(self, messages):
        super().__init__(messages)
        self.messages = messages

    def __str__(self):
        return ", ".join(self.messages)


class ListQuery(NamedTuple):
    """The parameters of one list endpoint.

    `times` and `lists` map parameters to store fields (filters.py), in CC's order of allowed keys (a
    time parameter mapped to None is one CC lists but refuses); `excludable` lists take `[not]`;
    `orders` are the order_by names; `singles` take one value as is (after_guid). `keys` is CC's list
    of valid parameters, which the unknown-parameter message names.
    """

    lists: dict
    times: dict = {"created_ats": "created_at", "updated_ats": "updated_at"}
    orders: tuple = ("created_at", "updated_at")
    excludable: frozenset = frozenset()
    singles: tuple = ()
    includes: tuple = ()  # what `include` may name (roles: user, organization, space)
    max_per_page: int = MAX_PER_PAGE
    default_order: str = "as stored"  # the order without order_by, in words (for the OpenAPI document)

    @property
    def keys(self):
        # CC's ListMessage allows page, per_page, order_by, the times and guids; each endpoint's own
        # keys follow (a usage stream's after_guid before its other lists, include last).
        own = [key for key in self.lists if key != "guids"]
        return ["page", "per_page", "order_by", *self.times, *(["guids"] if "guids" in self.lists else []),
                *self.singles, *own, *(["include"] if self.includes else [])]


class Parsed(NamedTuple):
    page: int
    per_page: int
    order_by: tuple | None  # (name, descending), or None for the default order
    filters: list  # filters.py specs
    echoed: list  # (key, value) pairs the paging links repeat, as parsed
    singles: dict
    includes: tuple = ()

    @property
    def offset(self):
        return (self.page - 1) * self.per_page


def humanized(key):
    """An attribute as CC's messages name it: created_ats -> "Created ats"."""
    return key.replace("_", " ").capitalize()


def _quoted(keys):
    return ", ".join(f"'{key}'" for key in keys)


def split_key(key):
    """("created_ats", "lt") for "created_ats[lt]"; (key, None) for a key without brackets."""
    match = _BRACKETED.fullmatch(key)
    return (match.group(1), match.group(2)) if match else (key, None)


def split_list(value):
    """A comma list as CC splits it: at each comma and the whitespace after it, empty pieces kept, each
    piece percent-decoded once more (so a comma inside a value is sent as %252C)."""
    return [unquote(piece) for piece in _LIST_SEPARATOR.split(value)]


def joined_list(values):
    """A list as CC's links write it back: its own commas as %2C."""
    return ",".join(value.replace(",", "%2C") for value in values)


def _integer(args, key, maximum, messages):
    if key not in args:
        return None
    text = args.get(key)
    # CC reads "10abc" as 10; any text that is not a whole number is refused here (deliberate difference).
    if not _WHOLE_NUMBER.fullmatch(text) or int(text) < 1:
        messages.append(f"{humanized(key)} must be a positive integer")
    elif maximum is not None and int(text) > maximum:
        messages.append(f"{humanized(key)} must be between 1 and {maximum}")
    else:
        return int(text)
    return None


def _time(text, key, messages):
    """The time `text` names, or None with CC's message when it is not 'YYYY-MM-DDThh:mm:ssZ'."""
    if _TIMESTAMP.fullmatch(text):
        try:
            return parse_time(text)
        except ValueError:  # not a day, or outside the times the store holds
            pass
    messages.append(f"{humanized(key)} has an invalid timestamp format. Timestamps should be formatted as "
                    "'YYYY-MM-DDThh:mm:ssZ'")
    return None


def _occurrences(args, key):
    """(raw key, operator, value) of each distinct key `key` or `key[op]` in `args`: a key sent twice
    keeps its last value, as Rack keeps it."""
    for raw_key in dict.fromkeys(args):
        base, operator = split_key(raw_key)
        if base == key:
            yield raw_key, operator, args.getlist(raw_key)[-1]


def _time_filters(args, key, field, messages, echoed):
    specs = []
    for raw_key, operator, value in _occurrences(args, key):
        if operator is None:
            values = split_list(value)
            moments = [_time(piece, key, messages) for piece in values]
            specs.append(AtSeconds(field, tuple(moment for moment in moments if moment)))
            echoed.append((key, joined_list(values)))
            continue
        if operator not in RELATIONAL:
            messages.append(f"{humanized(key)} Invalid relational operator: '{operator}'")
        if "," in value:
            messages.append(f"{humanized(key)} only accepts one value when using a relational operator")
            continue
        moment = _time(value, key, messages)
        if moment is None or operator not in RELATIONAL:
            continue
        specs.append({"lt": During(field, None, moment), "lte": During(field, None, moment + ONE_SECOND),
                      "gt": During(field, moment + ONE_SECOND, None), "gte": During(field, moment, None)}[operator])
        echoed.append((raw_key, value))
    return specs


class _ListMessages:
    def __init__(self):
        self.operators, self.arrays = [], []


def _list_filters(args, key, field, query, messages, echoed):
    """The filters of list parameter `key`; messages of a malformed one go to `messages` (an operator's
    mistake, which CC checks first) or `messages.arrays` (a value that is not a list)."""
    specs = []
    for raw_key, operator, value in _occurrences(args, key):
        if operator == "":
            # key[]=a: CC reads the array as the text '["a"]', which matches nothing; so does this.
            value = "[" + ", ".join(f'"{piece}"' for piece in args.getlist(raw_key)) + "]"
        elif operator is not None and not (operator == "not" and key in query.excludable):
            if key in query.excludable:
                messages.operators.append(f"{humanized(key)} {key} has an invalid operator")
            else:
                messages.arrays.append(f"{humanized(key)} must be an array")
            continue
        values = split_list(value)
        # A value the store could not hold (a NUL sent as %2500) is in no row: it never reaches SQL, which
        # would refuse it.
        held = frozenset(value for value in values if is_storable(value))
        specs.append(NoneOf(field, held) if operator == "not" else OneOf(field, held))
        echoed.append((f"{key}[not]" if operator == "not" else key, joined_list(values)))
    return specs


def parse_include(args, allowed, messages, echoed=None):
    """The resources `include` asks for, in its order; CC's messages for unknown or repeated ones."""
    if "include" not in args:
        return ()
    asked = split_list(args.get("include"))
    for name in asked:
        if name not in allowed:
            messages.append(f"Invalid included resource: '{name}'. Valid included resources are: {_quoted(allowed)}")
    for name in dict.fromkeys(name for name in asked if asked.count(name) > 1):
        messages.append(f"Duplicate included resource: '{name}'")
    if echoed is not None:
        echoed.append(("include", joined_list(asked)))
    return tuple(dict.fromkeys(name for name in asked if name in allowed))


def parse_show(args, includes):
    """The parameters of a show endpoint that takes only `include`; ParameterErrors if wrong."""
    messages = []
    unknown = [key for key in dict.fromkeys(split_key(key)[0] for key in args) if key != "include"]
    if unknown:
        messages.append(f"Unknown query parameter(s): {_quoted(unknown)}. Valid parameters are: 'include'")
    parsed = parse_include(args, includes, messages)
    if messages:
        raise ParameterErrors(messages)
    return parsed


def parse(args, query):
    """The request's parameters (`args`, its query MultiDict) read by `query`; ParameterErrors if wrong."""
    messages, echoed, filters = [], [], []
    page = _integer(args, "page", None, messages) or 1
    per_page = _integer(args, "per_page", query.max_per_page, messages) or DEFAULT_PER_PAGE
    order_by = None
    if args.get("order_by"):
        match = _ORDER.fullmatch(args.get("order_by"))
        if match and match.group(2) in query.orders:
            order_by = (match.group(2), match.group(1) == "-")
            # Written back with an explicit sign, as CC does.
            echoed.append(("order_by", ("-" if order_by[1] else "+") + order_by[0]))
        else:
            messages.append(f"Order by can only be: {_quoted(query.orders)}")
    for key, field in query.times.items():
        if field is None:
            if any(split_key(raw_key)[0] == key for raw_key in args):
                messages.append(f"Filtering by '{key}' is not allowed on this resource.")
            continue
        filters += _time_filters(args, key, field, messages, echoed)
    # CC checks guids with the parameters every list has, then the unknown ones, then target_guids'
    # operator, then whether the other lists are lists.
    first, later = _ListMessages(), _ListMessages()
    for key, field in query.lists.items():
        filters += _list_filters(args, key, field, query, first if key == "guids" else later, echoed)
    messages += first.operators + first.arrays
    unknown = [base for base in dict.fromkeys(split_key(key)[0] for key in args) if base not in query.keys]
    if unknown:
        messages.append(f"Unknown query parameter(s): {_quoted(unknown)}. Valid parameters are: {_quoted(query.keys)}")
    messages += later.operators + later.arrays
    includes = parse_include(args, query.includes, messages, echoed) if query.includes else ()
    singles = {key: args.get(key) for key in query.singles if key in args}
    echoed += singles.items()
    if messages:
        raise ParameterErrors(messages)
    return Parsed(page, per_page, order_by, filters, echoed, singles, includes)
