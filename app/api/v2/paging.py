"""v2 paging: the parameters, the list envelope and its CC-exact links."""
from functools import cache
from math import ceil
from typing import NamedTuple
from urllib.parse import quote

from marshmallow import EXCLUDE, Schema, ValidationError, fields
from marshmallow.validate import OneOf, Range

from app.base.errors import ApiError
from app.base.fields import Integer
from app.store.pages import PageRequest

DEFAULT_PER_PAGE = 50
MAX_INLINE_RELATIONS_DEPTH = 3
# Characters a CC paging link keeps literal besides letters, digits and "-._~"; everything else
# is percent-encoded (a space as %20, ';' as %3B, a literal '+' as %2B so it is not read as a space).
LINK_SAFE = ":,=@/?!$'()*"
# Parameters that have no effect here but are carried into paging links, as CC does.
RELATIONS_PARAMS = ("exclude-relations", "include-relations", "orphan-relations")


class Paging(NamedTuple):
    page: int
    results_per_page: int
    order_direction: str
    inline_relations_depth: int | None
    q: list
    relations: dict  # name -> raw value, for the links

    @property
    def offset(self):
        return (self.page - 1) * self.results_per_page

    @property
    def request(self):
        """The rows this page holds, for the dialect-neutral readers."""
        return PageRequest(self.offset, self.results_per_page, self.order_direction == "desc")


def _integer(data_key, name, minimum, maximum=None, **kwargs):
    """An integer parameter whose errors read as CC's ("results_per_page must be <= 100")."""
    validators = [Range(min=minimum, error=f"{name} must be >= {{min}}")]
    if maximum is not None:
        validators.append(Range(max=maximum, error=f"{name} must be <= {{max}}"))
    return Integer(
        data_key=data_key, validate=validators, error_messages={"invalid": f"{name} must be an integer"}, **kwargs
    )


ORDER_DIRECTIONS = OneOf(["asc", "desc"], error="order_direction must be 'asc' or 'desc' but was '{input}'")


class PagingSchema(Schema):
    """The paging parameters every list endpoint shares; see _paging_schema for the page size."""

    class Meta:
        unknown = EXCLUDE

    page = _integer("page", "page", 1, load_default=1)
    order_direction = fields.String(data_key="order-direction", load_default="asc", validate=ORDER_DIRECTIONS)
    # The old API docs call it "order": read alike, and order-direction wins when both come.
    order = fields.String(load_default=None, validate=ORDER_DIRECTIONS,
                          metadata={"description": "The old name of order-direction"})
    inline_relations_depth = _integer(
        "inline-relations-depth", "inline_relations_depth", 0, MAX_INLINE_RELATIONS_DEPTH, load_default=None
    )


@cache
def _paging_schema(max_per_page):
    """The paging schema of an endpoint whose pages hold at most `max_per_page` rows."""

    class EndpointPagingSchema(PagingSchema):
        results_per_page = _integer(
            "results-per-page", "results_per_page", 1, max_per_page, load_default=DEFAULT_PER_PAGE
        )

    return EndpointPagingSchema()


# The first invalid parameter in this order is the one reported.
_FIELD_ORDER = ("page", "results-per-page", "order-direction", "order", "inline-relations-depth")


def parse_paging(args, max_per_page, order_by_allowed=()):
    """Validate the paging parameters of a request (`args` is its query MultiDict)."""
    raw = {key: args.get(key) for key in _FIELD_ORDER if key in args}
    try:
        loaded = _paging_schema(max_per_page).load(raw)
    except ValidationError as error:
        first = next(key for key in _FIELD_ORDER if key in error.messages)
        raise ApiError("BadQueryParameter", error.messages[first][0]) from None
    for column in args.getlist("order-by"):
        if column not in order_by_allowed:
            raise ApiError("OrderByParameterInvalid", column)
    return Paging(
        page=loaded["page"],
        results_per_page=loaded["results_per_page"],
        order_direction=loaded["order_direction"] if "order-direction" in raw else loaded["order"] or "asc",
        inline_relations_depth=loaded["inline_relations_depth"],
        q=args.getlist("q"),
        relations={name: args.get(name) for name in RELATIONS_PARAMS if name in args},
    )


def page_url(path, paging, page, order_by=(), preserved=None):
    """A CC paging link: a relative path, query keys sorted, every q value repeated."""
    params = {
        "page": [page],
        "results-per-page": [paging.results_per_page],
        "order-direction": [paging.order_direction],
        "q": paging.q,
        "order-by": list(order_by),
        **{name: [value] for name, value in paging.relations.items()},
        **{name: [value] for name, value in (preserved or {}).items() if value is not None},
    }
    if paging.inline_relations_depth is not None:
        params["inline-relations-depth"] = [paging.inline_relations_depth]
    query = "&".join(
        f"{quote(name, safe=LINK_SAFE)}={quote(str(value), safe=LINK_SAFE)}"
        for name in sorted(params)
        for value in params[name]
    )
    return f"{path}?{query}"


def envelope(path, paging, total, resources, order_by=(), preserved=None):
    """The v2 list body. `resources` are the presented rows of this page."""
    total_pages = ceil(total / paging.results_per_page)
    prev_url = next_url = None
    if paging.page > 1:
        prev_url = page_url(path, paging, paging.page - 1, order_by, preserved)
    # An empty page never points further (the rows may have gone since they were counted).
    if paging.page < total_pages and resources:
        next_url = page_url(path, paging, paging.page + 1, order_by, preserved)
    return {
        "total_results": total,
        "total_pages": total_pages,
        "prev_url": prev_url,
        "next_url": next_url,
        "resources": resources,
    }
