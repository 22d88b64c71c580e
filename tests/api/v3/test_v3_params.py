"""v3 query parameters and paging links (V3.md 1.1-1.4, research 1-3): how CC's list messages split
comma lists, read time filters and paging, report every mistake of a request in CC's order, and how
the paging links write the request back. No database: the parser sees a request's decoded arguments.
"""
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
from werkzeug.datastructures import MultiDict

from app.api.v3.audit_events import QUERY
from app.api.v3.links import href, paginated
from app.api.v3.params import ParameterErrors, parse, split_list
from app.store.filters import AtSeconds, During, NoneOf, OneOf
from tests.conftest import make_app

T = datetime(2016, 6, 8, 16, 41, 23, tzinfo=timezone.utc)
T_TEXT = "2016-06-08T16:41:23Z"
ONE_SECOND = timedelta(seconds=1)
FORMAT = "has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'"
# CC's ten keys of EventsListMessage, in allowed_keys order, then our extensions.
VALID = ("Valid parameters are: 'page', 'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'types', "
         "'target_guids', 'space_guids', 'organization_guids', "
         "'actor_guids', 'actor_names', 'actor_types', 'target_types', 'target_names'")
EVENTS = "/v3/audit_events"


def parsed(*pairs):
    """The audit-events parse of a request whose (already URL-decoded) arguments are `pairs`."""
    return parse(MultiDict(list(pairs)), QUERY)


def messages(*pairs):
    with pytest.raises(ParameterErrors) as raised:
        parsed(*pairs)
    return raised.value.messages


def filters(*pairs):
    return parsed(*pairs).filters


@pytest.fixture(scope="module")
def plain_app():
    return make_app("sqlite://")


@pytest.fixture
def request_context(plain_app):
    """A request to the service as a client reaches it without EXTERNAL_URL: links start http://localhost."""
    with plain_app.test_request_context(EVENTS):
        yield


def page_of(*pairs, total, resources=("r",)):
    return paginated(EVENTS, parsed(*pairs), total, list(resources))["pagination"]


def link_query(*pairs):
    """The query string of the first-page link of a request with `pairs` (a one-event result)."""
    link = page_of(*pairs, total=1)["first"]["href"]
    assert link.startswith("http://localhost/v3/audit_events?")
    return link.split("?", 1)[1]


# --- comma lists ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, pieces", [
    ("a,b", ["a", "b"]),
    ("a, b", ["a", "b"]),
    ("a,   b", ["a", "b"]),
    ("a,\tb", ["a", "b"]),  # CC's /,\s*/: any whitespace after the comma
    ("a ,b", ["a ", "b"]),  # ...but none before it
    (" a", [" a"]),  # nor around the whole value
    ("a", ["a"]),
    ("", [""]),
    ("a,,b", ["a", "", "b"]),
    ("a,", ["a", ""]),
    (",", ["", ""]),
    # The URL's decoding already happened: a literal %2C is what %252C on the wire became, and is one
    # piece's own comma (CC's second unescape).
    ("a%2Cb,c", ["a,b", "c"]),
    ("100%25", ["100%"]),
    ("a+b", ["a+b"]),  # Addressable's unescape leaves '+' alone; the URL's '+' was a space already
    # Ruby's \s is six characters, Python's all of Unicode's whitespace: CC's are the separator's.
    ("a,\vb", ["a", "b"]),
    ("a,\xa0b", ["a", "\xa0b"]),
    ("a,\u2003b", ["a", "\u2003b"]),
    ("a,\x1cb", ["a", "\x1cb"]),
])
def test_split_list(value, pieces):
    assert split_list(value) == pieces


def test_a_value_the_store_cannot_hold_is_in_no_row():
    # %2500 on the wire is %00 in the query, and a NUL once the list decodes it: it never reaches SQL.
    assert filters(("guids", "a,%00"), ("target_guids[not]", "b%00c,d")) == [
        OneOf("guid", frozenset({"a"})), NoneOf("actee", frozenset({"d"}))]


@pytest.mark.parametrize("path", ["/v3/audit_events", "/v3/apps", "/v3/roles", "/v3/app_usage_events"])
def test_a_nul_sent_encoded_in_a_list_is_no_server_error(client, admin, path):
    response = client.get(f"{path}?guids=%2500", headers=admin)
    assert (response.status_code, response.get_json()["pagination"]["total_results"]) == (200, 0)


def test_an_empty_list_is_one_empty_value_that_matches_nothing():
    assert filters(("types", "")) == [OneOf("type", frozenset({""}))]


def test_each_list_names_its_field():
    assert set(filters(("types", "a,b"), ("target_guids", "t"), ("space_guids", "s"), ("organization_guids", "o"),
                   ("guids", "g"), ("actor_guids", "u"), ("actor_names", "alice"), ("actor_types", "user"),
                   ("target_types", "app"), ("target_names", "web"))) == {
        OneOf("guid", frozenset({"g"})), OneOf("type", frozenset({"a", "b"})), OneOf("actee", frozenset({"t"})),
        OneOf("space_guid", frozenset({"s"})), OneOf("organization_guid", frozenset({"o"})),
        OneOf("actor", frozenset({"u"})), OneOf("actor_name", frozenset({"alice"})),
        OneOf("actor_type", frozenset({"user"})), OneOf("actee_type", frozenset({"app"})),
        OneOf("actee_name", frozenset({"web"})),
    }


def test_a_repeated_key_keeps_its_last_value():
    # Rack builds a hash: `types=a&types=b` is types=b to CC, not "a and b" (research 1.1).
    assert filters(("types", "a"), ("types", "b")) == [OneOf("type", frozenset({"b"}))]


# --- brackets --------------------------------------------------------------------------------------

@pytest.mark.parametrize("operator, spec", [
    ("lt", During("timestamp", None, T)),
    ("lte", During("timestamp", None, T + ONE_SECOND)),  # the whole second T is in
    ("gt", During("timestamp", T + ONE_SECOND, None)),  # the whole second T is out
    ("gte", During("timestamp", T, None)),
])
@pytest.mark.parametrize("key", ["created_ats", "updated_ats"])
def test_relational_operators(key, operator, spec):
    # In this store both keys filter the one time an event shows (V3.md 1.2).
    assert filters((f"{key}[{operator}]", T_TEXT)) == [spec]


def test_relational_operators_combine():
    # Each is one more condition on the time: ANDed.
    assert set(filters(("created_ats[gte]", T_TEXT), ("created_ats[lt]", "2016-06-08T16:42:00Z"))) == {
        During("timestamp", T, None), During("timestamp", None, datetime(2016, 6, 8, 16, 42, tzinfo=timezone.utc))}


def test_equality_is_a_list_of_whole_seconds():
    assert filters(("created_ats", f"{T_TEXT}, 2016-06-09T00:00:00Z")) == [
        AtSeconds("timestamp", (T, datetime(2016, 6, 9, tzinfo=timezone.utc)))]
    assert filters(("updated_ats", T_TEXT)) == [AtSeconds("timestamp", (T,))]


@pytest.mark.parametrize("text", ["1970-01-01T00:00:00Z", "9998-12-31T23:59:59Z"])
def test_the_first_and_last_storable_seconds_are_accepted(text):
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert filters(("created_ats", text)) == [AtSeconds("timestamp", (moment,))]
    assert filters(("created_ats[lte]", text)) == [During("timestamp", None, moment + ONE_SECOND)]


@pytest.mark.parametrize("text", [
    "2016-06-08T16:41:23.5Z",  # fractions
    "2016-06-08T16:41:23+00:00",  # an offset
    "2016-06-08T16:41:23+0000",
    "2016-06-08T16:41:23",  # no Z
    "2016-06-08 16:41:23Z",
    "2016-06-08",
    "2016-02-30T00:00:00Z",  # not a day
    "2016-06-08T24:00:00Z",
    "1969-12-31T23:59:59Z",  # outside the times the store holds
    "9999-01-01T00:00:00Z",
    "",
])
def test_a_bad_timestamp(text):
    assert messages(("created_ats", text)) == [f"Created ats {FORMAT}"]
    assert messages(("created_ats[lt]", text)) == [f"Created ats {FORMAT}"]
    assert messages(("updated_ats[gte]", text)) == [f"Updated ats {FORMAT}"]


def test_each_bad_timestamp_of_a_list_has_its_message():
    # CC's full_messages keep duplicates.
    assert messages(("created_ats", f"bad,{T_TEXT},worse")) == [f"Created ats {FORMAT}"] * 2


def test_a_relational_operator_takes_one_value():
    # CC says so and checks no format: neither value is looked at.
    assert messages(("created_ats[lt]", f"{T_TEXT},bad")) == [
        "Created ats only accepts one value when using a relational operator"]
    assert messages(("updated_ats[gt]", "a, b")) == [
        "Updated ats only accepts one value when using a relational operator"]


def test_an_unknown_relational_operator():
    assert messages(("created_ats[foo]", T_TEXT)) == ["Created ats Invalid relational operator: 'foo'"]
    assert messages(("created_ats[eq]", T_TEXT)) == ["Created ats Invalid relational operator: 'eq'"]
    # CC goes on checking the value after a bad operator.
    assert messages(("created_ats[foo]", "bad")) == [
        "Created ats Invalid relational operator: 'foo'", f"Created ats {FORMAT}"]


def test_target_guids_not_excludes():
    assert filters(("target_guids[not]", "a, b")) == [NoneOf("actee", frozenset({"a", "b"}))]
    # [""] counts as present: it excludes the empty target only (CC: exclude(actee: [""])).
    assert filters(("target_guids[not]", "")) == [NoneOf("actee", frozenset({""}))]


def test_target_guids_takes_no_other_operator():
    assert messages(("target_guids[foo]", "a")) == ["Target guids target_guids has an invalid operator"]


@pytest.mark.parametrize("key, message", [
    ("types", "Types must be an array"),
    ("space_guids", "Space guids must be an array"),
    ("organization_guids", "Organization guids must be an array"),
    ("guids", "Guids must be an array"),
    ("actor_names", "Actor names must be an array"),
])
def test_a_list_with_an_operator_is_not_an_array(key, message):
    assert messages((f"{key}[x]", "a")) == [message]


def test_empty_brackets_match_nothing():
    # CC reads types[]=a as the Array ["a"], whose to_s '["a"]' becomes the one value it looks for.
    assert filters(("types[]", "a")) == [OneOf("type", frozenset({'["a"]'}))]
    assert set(filters(("types[]", "a"), ("types[]", "b"))) == {OneOf("type", frozenset({'["a"', '"b"]'}))}


# --- page, per_page, order_by -------------------------------------------------------------------

def test_the_defaults():
    assert parsed()[:3] == (1, 50, None)
    assert parsed().filters == []


@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "1.5",
                                   "10abc"])  # CC reads 10abc as 10; refused here (deliberate difference)
def test_page_must_be_a_positive_integer(value):
    assert messages(("page", value)) == ["Page must be a positive integer"]


@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "10abc"])
def test_per_page_must_be_a_positive_integer(value):
    assert messages(("per_page", value)) == ["Per page must be a positive integer"]


def test_per_page_is_at_most_5000():
    assert messages(("per_page", "5001")) == ["Per page must be between 1 and 5000"]
    assert parsed(("per_page", "5000")).per_page == 5000
    assert parsed(("page", "3"), ("per_page", "1"))[:2] == (3, 1)


@pytest.mark.parametrize("value, order_by", [
    ("created_at", ("created_at", False)),
    ("+created_at", ("created_at", False)),
    (" created_at", ("created_at", False)),  # a raw '+', decoded: CC refuses it (deliberate difference)
    ("-created_at", ("created_at", True)),
    ("updated_at", ("updated_at", False)),
    ("-updated_at", ("updated_at", True)),
])
def test_order_by(value, order_by):
    assert parsed(("order_by", value)).order_by == order_by


@pytest.mark.parametrize("value", ["name", "timestamp", "id", "guid", "created_at ", "--created_at", "+-created_at",
                                   "*created_at", "created_at,guid", "Created_at", "created_at\n"])
def test_order_by_names(value):
    assert messages(("order_by", value)) == ["Order by can only be: 'created_at', 'updated_at'"]


def test_an_empty_order_by_is_the_default_order():
    assert parsed(("order_by", "")).order_by is None


# --- mistakes, together -------------------------------------------------------------------------------

EVERY_MISTAKE = [
    ("page", "0"), ("per_page", "5001"), ("order_by", "name"), ("created_ats[lt]", "a,b"), ("updated_ats", "bad"),
    ("guids[x]", "g"), ("foo", "1"), ("target_guids[foo]", "t"), ("types[x]", "a"), ("space_guids[x]", "s"),
    ("organization_guids[x]", "o"),
]


@pytest.mark.parametrize("pairs", [EVERY_MISTAKE, EVERY_MISTAKE[::-1]], ids=["in-order", "reversed"])
def test_messages_come_in_cc_validator_order_whatever_the_request_order(pairs):
    # ListMessage's validators first (page, per_page, order_by, times, guids), then EventsListMessage's:
    # unknown keys, the target_guids operator, the array checks (research 1.4).
    assert messages(*pairs) == [
        "Page must be a positive integer",
        "Per page must be between 1 and 5000",
        "Order by can only be: 'created_at', 'updated_at'",
        "Created ats only accepts one value when using a relational operator",
        f"Updated ats {FORMAT}",
        "Guids must be an array",
        f"Unknown query parameter(s): 'foo'. {VALID}",
        "Target guids target_guids has an invalid operator",
        "Types must be an array",
        "Space guids must be an array",
        "Organization guids must be an array",
    ]


def test_the_messages_are_joined_with_a_comma():
    with pytest.raises(ParameterErrors) as raised:
        parsed(("page", "0"), ("bar", "1"))
    assert str(raised.value) == f"Page must be a positive integer, Unknown query parameter(s): 'bar'. {VALID}"


def test_unknown_keys_are_named_once_in_request_order():
    assert messages(("zeta", "1"), ("page", "1"), ("alpha", "2"), ("zeta", "3")) == [
        f"Unknown query parameter(s): 'zeta', 'alpha'. {VALID}"]


@pytest.mark.parametrize("key, named", [("foo[bar]", "foo"), ("label_selector", "label_selector"),
                                        ("after_guid", "after_guid"), ("include", "include"), ("q", "q")])
def test_what_audit_events_do_not_take(key, named):
    assert messages((key, "x")) == [f"Unknown query parameter(s): '{named}'. {VALID}"]


# --- links -----------------------------------------------------------------------------------------------

def test_an_href_sorts_and_escapes_as_cc(request_context):
    assert href(EVENTS, [("types", "a b"), ("page", 1), ("created_ats[lt]", "2016-06-08T16:41:23Z"),
                         ("created_ats", "x")]) == {"href": (
        # Sorted as escaped "key=value" strings: '%' sorts before '='.
        "http://localhost/v3/audit_events?created_ats%5Blt%5D=2016-06-08T16%3A41%3A23Z&created_ats=x&page=1"
        "&types=a+b")}


@pytest.mark.parametrize("value, escaped", [
    ("a b", "a+b"), ("a,b", "a%2Cb"), ("[x]", "%5Bx%5D"), ("16:41", "16%3A41"), ("+created_at", "%2Bcreated_at"),
    ("a%2Cb", "a%252Cb"), ("a/b", "a%2Fb"), ("a&b=c", "a%26b%3Dc"), ("é", "%C3%A9"), ("a-b_c.d~e", "a-b_c.d~e"),
])
def test_values_are_escaped_as_cgi_escape_does(request_context, value, escaped):
    assert href(EVENTS, [("x", value)]) == {"href": f"http://localhost/v3/audit_events?x={escaped}"}


def test_a_link_without_a_query_has_no_question_mark(request_context):
    assert href("/v3/audit_events/e-1", []) == {"href": "http://localhost/v3/audit_events/e-1"}


def test_page_and_per_page_are_always_in_the_links(request_context):
    assert link_query() == "page=1&per_page=50"
    assert link_query(("per_page", "7")) == "page=1&per_page=7"
    # Written as the integers read: page=03 links to page=4.
    assert page_of(("page", "03"), ("per_page", "02"), total=10)["next"] == {
        "href": "http://localhost/v3/audit_events?page=4&per_page=2"}


@pytest.mark.parametrize("value, written", [
    ("created_at", "order_by=%2Bcreated_at"), ("+created_at", "order_by=%2Bcreated_at"),
    (" created_at", "order_by=%2Bcreated_at"), ("-created_at", "order_by=-created_at"),
    ("updated_at", "order_by=%2Bupdated_at"), ("-updated_at", "order_by=-updated_at"),
])
def test_order_by_is_written_with_its_sign(request_context, value, written):
    assert link_query(("order_by", value)) == f"{written}&page=1&per_page=50"


def test_order_by_is_left_out_unless_sent(request_context):
    assert "order_by" not in link_query(("order_by", ""))
    assert "order_by" not in link_query(("types", "a"))


@pytest.mark.parametrize("pairs, query", [
    # Lists are written back from their parsed values: rejoined with ',', each piece's own commas as
    # %2C, which the escaping turns into %252C.
    ([("types", "a, b")], "page=1&per_page=50&types=a%2Cb"),
    ([("types", "a%2Cb,c")], "page=1&per_page=50&types=a%252Cb%2Cc"),
    ([("types", "")], "page=1&per_page=50&types="),
    ([("created_ats[lt]", T_TEXT)], "created_ats%5Blt%5D=2016-06-08T16%3A41%3A23Z&page=1&per_page=50"),
    ([("created_ats", f"{T_TEXT}, {T_TEXT}")],
     "created_ats=2016-06-08T16%3A41%3A23Z%2C2016-06-08T16%3A41%3A23Z&page=1&per_page=50"),
    # Where CC writes target_guids%5Bnot%5D%5B%5D=a&... (which stops excluding on page 2), one value
    # (deliberate difference).
    ([("target_guids[not]", "a,b")], "page=1&per_page=50&target_guids%5Bnot%5D=a%2Cb"),
    ([("target_names", "my app"), ("actor_names", "alice@example.com"), ("target_guids", "t")],
     "actor_names=alice%40example.com&page=1&per_page=50&target_guids=t&target_names=my+app"),
    ([("types[]", "a"), ("types[]", "b")], "page=1&per_page=50&types=%5B%22a%22%2C%22b%22%5D"),
])
def test_filters_are_written_back_as_parsed(request_context, pairs, query):
    assert link_query(*pairs) == query


@pytest.mark.parametrize("pairs", [
    [("types", "a%2Cb, c")], [("target_guids[not]", "x, y%2Cz")], [("created_ats[gte]", T_TEXT)],
    [("created_ats", T_TEXT), ("updated_ats[lt]", T_TEXT), ("order_by", "-created_at")],
    [("actor_names", "a b+c")],
])
def test_a_link_followed_asks_for_the_same_events(request_context, pairs):
    # parse_qsl decodes as Rack does ('+' is a space, %XX once), so this is what the next request reads.
    link = urlsplit(page_of(*pairs, total=100, resources=range(50))["next"]["href"])
    followed = parsed(*parse_qsl(link.query, keep_blank_values=True))
    assert (followed.filters, followed.order_by, followed.page) == (parsed(*pairs).filters, parsed(*pairs).order_by,
                                                                    2)


def test_the_envelope_of_v3_md():
    with make_app("sqlite://", EXTERNAL_URL="https://cf-events.example").test_request_context(EVENTS):
        assert paginated(EVENTS, parsed(("per_page", "2")), 3, ["r1", "r2"]) == {
            "pagination": {
                "total_results": 3, "total_pages": 2,
                "first": {"href": "https://cf-events.example/v3/audit_events?page=1&per_page=2"},
                "last": {"href": "https://cf-events.example/v3/audit_events?page=2&per_page=2"},
                "next": {"href": "https://cf-events.example/v3/audit_events?page=2&per_page=2"},
                "previous": None,
            },
            "resources": ["r1", "r2"],
        }


def test_pagination_key_order(request_context):
    body = paginated(EVENTS, parsed(), 0, [])
    assert list(body) == ["pagination", "resources"]
    assert list(body["pagination"]) == ["total_results", "total_pages", "first", "last", "next", "previous"]


def pages(pagination):
    """Each link's page number (None for no link)."""
    def number(link):
        return None if link is None else int(dict(parse_qsl(urlsplit(link["href"]).query))["page"])
    return {key: number(pagination[key]) for key in ("first", "last", "next", "previous")}


def test_no_events_is_still_one_page(request_context):
    pagination = page_of(total=0, resources=())
    assert (pagination["total_results"], pagination["total_pages"]) == (0, 1)
    assert pages(pagination) == {"first": 1, "last": 1, "next": None, "previous": None}


@pytest.mark.parametrize("page, total, expected", [
    (1, 5, {"first": 1, "last": 3, "next": 2, "previous": None}),
    (2, 5, {"first": 1, "last": 3, "next": 3, "previous": 1}),
    (3, 5, {"first": 1, "last": 3, "next": None, "previous": 2}),
    (3, 6, {"first": 1, "last": 3, "next": None, "previous": 2}),
    (1, 2, {"first": 1, "last": 1, "next": None, "previous": None}),
])
def test_next_and_previous(request_context, page, total, expected):
    pagination = page_of(("page", str(page)), ("per_page", "2"), total=total)
    assert pagination["total_pages"] == expected["last"]
    assert pages(pagination) == expected


def test_past_the_end_there_is_a_previous_page(request_context):
    pagination = page_of(("page", "5"), ("per_page", "2"), total=3, resources=())
    assert pages(pagination) == {"first": 1, "last": 2, "next": None, "previous": 4}


def test_external_url_is_the_base():
    with make_app("sqlite://", EXTERNAL_URL="https://events.example.com").test_request_context(
            EVENTS, base_url="http://10.0.0.5:8080"):
        assert href(EVENTS, [("page", 1)]) == {"href": "https://events.example.com/v3/audit_events?page=1"}


def probe_app(**config):
    """The app with one extra route that answers an href, to see the base a real request gets."""
    app = make_app("sqlite://", **config)
    app.add_url_rule("/probe", "probe", lambda: href(EVENTS, [("page", 1)]))
    return app


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "events.example.com"}


def test_forwarded_headers_are_believed_from_a_trusted_proxy():
    client = probe_app(TRUSTED_PROXIES=1).test_client()
    response = client.get("/probe", headers=FORWARDED, base_url="http://10.0.0.5:8080")
    assert response.get_json() == {"href": "https://events.example.com/v3/audit_events?page=1"}


def test_forwarded_headers_are_ignored_without_a_trusted_proxy():
    client = probe_app().test_client()
    response = client.get("/probe", headers=FORWARDED, base_url="http://10.0.0.5:8080")
    assert response.get_json() == {"href": "http://10.0.0.5:8080/v3/audit_events?page=1"}
