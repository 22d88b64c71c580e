"""The v2 dialect's blueprint, which its views register their routes on, and v2's answer for one record."""
from flask import Blueprint

from app.base.errors import ApiError

bp = Blueprint("v2", __name__, url_prefix="/v2")


def shown(found, guid):
    """v2's answer for one record (record, visible): 404 when there is none, 403 when the caller may not
    see it, as CC answers."""
    record, visible = found
    if record is None:
        raise ApiError("EventNotFound", guid)
    if not visible:
        raise ApiError("NotAuthorized")
    return record
