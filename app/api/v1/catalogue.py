"""GET /v1/event_types and /v1/event_categories: the catalogue of both vocabularies, public."""
from app.store.catalogue import event_categories_json, event_types_json

from ..responses import json_response
from .blueprint import bp


@bp.get("/event_types")
def list_event_types():
    return json_response({"event_types": event_types_json()})


@bp.get("/event_categories")
def list_event_categories():
    return json_response({"event_categories": event_categories_json()})
