"""v3's links: absolute, with the query keys sorted and escaped as CC writes them, and the list envelope."""
from math import ceil
from urllib.parse import quote_plus

from ..urls import base_url


def href(path, pairs):
    """{"href": …} for `path` with query `pairs` (key, value): each escaped as Ruby's CGI.escape does (a space
    is '+', ',' is %2C, '[' is %5B), the escaped pairs sorted, as ActiveSupport's to_query writes them."""
    query = "&".join(sorted(f"{quote_plus(key)}={quote_plus(str(value))}" for key, value in pairs))
    return {"href": f"{base_url()}{path}" + (f"?{query}" if query else "")}


def paginated(path, parsed, total, resources):
    """The v3 list body: pagination with first, last, next and previous links, and the resources.

    Links repeat the filters as parsed, page and per_page always, order_by only when it was sent.
    """
    total_pages = max(1, ceil(total / parsed.per_page))

    def page_link(page):
        return href(path, [("page", page), ("per_page", parsed.per_page), *parsed.echoed])

    # An empty page never points further (its rows may have gone since they were counted).
    following = page_link(parsed.page + 1) if parsed.page < total_pages and resources else None
    return {
        "pagination": {
            "total_results": total,
            "total_pages": total_pages,
            "first": page_link(1),
            "last": page_link(total_pages),
            "next": following,
            "previous": page_link(parsed.page - 1) if parsed.page > 1 else None,
        },
        "resources": resources,
    }
