"""GET /v1/event_types and /v1/event_categories: the catalogue of both vocabularies, public, in the shape of
the v1 dialect (the store's catalogue holds the types, these listings their wire shape)."""
from app.store.catalogue import CATEGORIES, EVENT_TYPES

from ..responses import json_response
from .blueprint import bp


def event_types_json():
    """The catalogue for GET /v1/event_types: CC's types in CC's order, then Scalingo's in the reference's."""
    return [
        {
            "id": event_type.name,
            "name": event_type.name,
            "category_id": event_type.category,
            "display_name": event_type.display_name,
            "description": f"{event_type.display_name} ({event_type.vocabulary} event)",
            "vocabulary": event_type.vocabulary,
            "fields": [{"name": field.path, "type": field.type, "required": field.required}
                       for field in event_type.fields],
        }
        for event_type in EVENT_TYPES.values()
    ]


def event_categories_json():
    """The categories for GET /v1/event_categories, in display order."""
    # Scalingo's client reads `name` as the identifier and `display_name` as the label.
    return [{"id": category.id, "name": category.id, "display_name": category.name, "position": category.position}
            for category in sorted(CATEGORIES, key=lambda category: category.position)]


@bp.get("/event_types")
def list_event_types():
    return json_response({"event_types": event_types_json()})


@bp.get("/event_categories")
def list_event_categories():
    return json_response({"event_categories": event_categories_json()})
