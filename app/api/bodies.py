"""Request bodies as JSON, strictly: what every dialect's write endpoints read."""
import json
import math

import orjson

from app.base.codec import may_hold_long_integer
from app.base.errors import ApiError

from .limits import read_body


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond the range of a JSON number")
    return value


def parse_json(text):
    """Parse a request's JSON strictly: Python reads NaN, Infinity and 1e999 (as infinity), but they
    are not JSON numbers; PostgreSQL's jsonb refuses them and no JSON reader could read them back."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def parse_json_fast(text):
    """parse_json, by orjson when it would read the same (several times faster for a large batch): not
    for text with an integer orjson would round, nor for any text orjson refuses, whose reason
    parse_json gives."""
    if not may_hold_long_integer(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return parse_json(text)


def read_json():
    """The request body's JSON document (null when empty); 400 MessageParseError when it is not JSON."""
    try:
        return parse_json_fast(read_body() or b"null")
    except (ValueError, RecursionError) as error:
        reason = str(error) if isinstance(error, ValueError) else "nested too deeply"
        raise ApiError("MessageParseError", reason) from None
