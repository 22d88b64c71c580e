"""v2 paging (SPEC 2.1, 2.2, 3): the CC-exact links, the list envelope, and the paging parameters."""
import json
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote

import pytest
from werkzeug.datastructures import MultiDict

from app.api.v2.paging import envelope, page_url, parse_paging
from tests.factories import EventFactory

EVENTS = "/v2/events"
ORDER_BY = ("timestamp", "id")
ENVELOPE_KEYS = ["total_results", "total_pages", "prev_url", "next_url", "resources"]
RESOURCE_KEYS = ["metadata", "entity"]
METADATA_KEYS = ["guid", "url", "created_at", "updated_at"]
ENTITY_KEYS = ["type", "actor", "actor_type", "actor_name", "actor_username", "actee", "actee_type", "actee_name",
               "timestamp", "metadata", "space_guid", "organization_guid"]
ERROR_KEYS = ["description", "error_code", "code"]
CONTENT_TYPE = "application/json;charset=utf-8"
# Stored times carry sub-second parts; the wire shows whole UTC seconds.
T = datetime(2016, 6, 8, 16, 41, 23, 250000, tzinfo=timezone.utc)
CREATED = datetime(2016, 6, 8, 17, 0, 0, 250000, tzinfo=timezone.utc)
METADATA = {"request": {"name": "my-app", "instances": 2}}


def paging_of(query="", max_per_page=100, order_by_allowed=ORDER_BY):
    """The paging of a request with this query string."""
    return parse_paging(MultiDict(parse_qsl(query, keep_blank_values=True)), max_per_page, order_by_allowed)


def events_link(query, page=2):
    return page_url(EVENTS, paging_of(query), page, ORDER_BY)


def make_event(guid, seconds, **fields):
    defaults = dict(
        type="audit.app.update", actor="user-guid", actor_type="user", actor_name="user@example.com",
        actor_username="user", actee="app-guid", actee_type="app", actee_name="my-app", data=METADATA,
        space_guid="space-guid", organization_guid="org-guid", created_at=CREATED,
    )
    return EventFactory(guid=guid, timestamp=T + timedelta(seconds=seconds), **{**defaults, **fields})


def resource(guid, timestamp, **entity):
    """The v2 resource SPEC 2.1 and 3 describe for an event made by make_event (created when it happened,
    whenever the store received it)."""
    return {
        "metadata": {"guid": guid, "url": f"/v2/events/{guid}", "created_at": timestamp, "updated_at": timestamp},
        "entity": {
            "type": "audit.app.update", "actor": "user-guid", "actor_type": "user", "actor_name": "user@example.com",
            "actor_username": "user", "actee": "app-guid", "actee_type": "app", "actee_name": "my-app",
            "timestamp": timestamp, "metadata": METADATA, "space_guid": "space-guid",
            "organization_guid": "org-guid", **entity,
        },
    }


R1 = resource("e1", "2016-06-08T16:41:23Z")
R2 = resource("e2", "2016-06-08T16:41:24Z")
# No space, no organization and no metadata render as "", "" and {}.
R3 = resource("e3", "2016-06-08T16:41:25Z", metadata={}, space_guid="", organization_guid="")


@pytest.fixture
def three_events(app):
    make_event("e1", 0)
    make_event("e2", 1)
    make_event("e3", 2, data={}, space_guid=None, organization_guid=None)


def get_body(client, headers, url):
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = json.loads(response.get_data(as_text=True))
    assert_key_order(body)
    return body


def assert_key_order(body):
    assert list(body) == ENVELOPE_KEYS
    for item in body["resources"]:
        assert list(item) == RESOURCE_KEYS
        assert list(item["metadata"]) == METADATA_KEYS
        assert list(item["entity"]) == ENTITY_KEYS


def page(total, pages, resources, prev_url=None, next_url=None):
    return {"total_results": total, "total_pages": pages, "prev_url": prev_url, "next_url": next_url,
            "resources": resources}


def error_body(response):
    body = json.loads(response.get_data(as_text=True))
    assert list(body) == ERROR_KEYS
    return body


def bad_query(description):
    return {"description": f"The query parameter is invalid: {description}", "error_code": "CF-BadQueryParameter",
            "code": 10005}


# --- the link builder --------------------------------------------------------------------------

def test_the_link_pinned_by_cc():
    paging = paging_of("results-per-page=1", max_per_page=10000, order_by_allowed=())
    link = page_url("/v2/app_usage_events", paging, 2, preserved={"after_guid": "X"})
    assert link == "/v2/app_usage_events?after_guid=X&order-direction=asc&page=2&results-per-page=1"


def test_a_link_always_names_page_size_and_direction_even_when_defaulted():
    assert events_link("") == "/v2/events?order-by=timestamp&order-by=id&order-direction=asc&page=2&results-per-page=50"


def test_link_keys_are_in_alphabetical_order():
    query = ("results-per-page=2&q=type:a&page=1&orphan-relations=1&order-direction=desc&inline-relations-depth=1"
             "&include-relations=x&exclude-relations=y")
    link = events_link(query)
    assert link == (
        "/v2/events?exclude-relations=y&include-relations=x&inline-relations-depth=1&order-by=timestamp&order-by=id"
        "&order-direction=desc&orphan-relations=1&page=2&q=type:a&results-per-page=2"
    )
    keys = [pair.split("=")[0] for pair in link.split("?")[1].split("&")]
    assert keys == sorted(keys)


def test_events_links_order_by_timestamp_then_id():
    assert events_link("").startswith("/v2/events?order-by=timestamp&order-by=id&order-direction=")
    # Whatever order-by the request named, the link names the order actually used.
    assert events_link("order-by=id") == events_link("")


def test_the_order_alias_becomes_order_direction_in_links():
    assert events_link("order=desc") == (
        "/v2/events?order-by=timestamp&order-by=id&order-direction=desc&page=2&results-per-page=50")
    assert events_link("order=desc&order-direction=asc") == (
        "/v2/events?order-by=timestamp&order-by=id&order-direction=asc&page=2&results-per-page=50")


def test_every_q_value_is_repeated_in_request_order():
    link = events_link("q=type:app.crash&q=actee:app-1&q=space_guid:s")
    assert "&q=type:app.crash&q=actee:app-1&q=space_guid:s&" in link


def test_an_escaped_semicolon_stays_escaped():
    assert "&q=actee:a%3B%3Bb%3Btype:c&" in events_link("q=" + quote("actee:a;;b;type:c", safe=""))


@pytest.mark.parametrize("value, encoded", [
    ("type IN a,b", "type%20IN%20a,b"),
    ("type:a;actee:b", "type:a%3Bactee:b"),
    ("timestamp<2016-06-08T16:41:23Z", "timestamp%3C2016-06-08T16:41:23Z"),
    ("timestamp>2016-06-08T16:41:23Z", "timestamp%3E2016-06-08T16:41:23Z"),
    ("timestamp>=2016-06-08T16:41:23Z", "timestamp%3E=2016-06-08T16:41:23Z"),
    ("timestamp:2016-06-08T20:41:23+04:00", "timestamp:2016-06-08T20:41:23%2B04:00"),
    ("actee:a&b", "actee:a%26b"),
    ("actee::,=@/?!$'()*", "actee::,=@/?!$'()*"),
    ("actee:AZaz09-._~", "actee:AZaz09-._~"),
])
def test_q_values_are_percent_encoded_as_cc_does(value, encoded):
    link = events_link("q=" + quote(value, safe=""))
    assert f"&q={encoded}&" in link


def test_inline_relations_depth_is_carried_only_when_requested():
    assert "inline-relations-depth" not in events_link("")
    assert events_link("inline-relations-depth=0").startswith("/v2/events?inline-relations-depth=0&order-by=")
    assert events_link("inline-relations-depth=3").startswith("/v2/events?inline-relations-depth=3&order-by=")


def test_relations_parameters_are_carried():
    link = events_link("exclude-relations=space&include-relations=app,space&orphan-relations=1")
    assert link == (
        "/v2/events?exclude-relations=space&include-relations=app,space&order-by=timestamp&order-by=id"
        "&order-direction=asc&orphan-relations=1&page=2&results-per-page=50"
    )


def test_after_guid_is_left_out_when_the_request_had_none():
    paging = paging_of("", max_per_page=10000, order_by_allowed=())
    link = page_url("/v2/app_usage_events", paging, 2, preserved={"after_guid": None})
    assert link == "/v2/app_usage_events?order-direction=asc&page=2&results-per-page=50"


def test_envelope_of_a_first_page():
    body = envelope(EVENTS, paging_of("results-per-page=2"), 3, ["r1", "r2"], ORDER_BY)
    assert body == page(3, 2, ["r1", "r2"], next_url=events_link("results-per-page=2"))
    assert list(body) == ENVELOPE_KEYS


def test_envelope_of_a_last_page():
    body = envelope(EVENTS, paging_of("results-per-page=2&page=2"), 3, ["r3"], ORDER_BY)
    assert body == page(3, 2, ["r3"], prev_url=events_link("results-per-page=2", page=1))


def test_envelope_of_a_page_past_the_end():
    body = envelope(EVENTS, paging_of("results-per-page=2&page=5"), 3, [], ORDER_BY)
    assert body == page(3, 2, [], prev_url=events_link("results-per-page=2", page=4))


def test_envelope_of_no_results():
    assert envelope(EVENTS, paging_of(""), 0, [], ORDER_BY) == page(0, 0, [])


def test_an_empty_page_never_points_further():
    body = envelope(EVENTS, paging_of("results-per-page=2"), 5, [], ORDER_BY)
    assert body["next_url"] is None


@pytest.mark.parametrize("total, per_page, pages", [(1, 1, 1), (2, 2, 1), (3, 2, 2), (100, 50, 2), (101, 50, 3)])
def test_total_pages_rounds_up(total, per_page, pages):
    body = envelope(EVENTS, paging_of(f"results-per-page={per_page}"), total, ["r"], ORDER_BY)
    assert body["total_pages"] == pages


# --- whole responses ---------------------------------------------------------------------------

def test_three_events_walk_two_pages_by_their_links(client, admin, three_events):
    first = get_body(client, admin, "/v2/events?results-per-page=2")
    assert first == page(3, 2, [R1, R2], next_url=(
        "/v2/events?order-by=timestamp&order-by=id&order-direction=asc&page=2&results-per-page=2"))
    second = get_body(client, admin, first["next_url"])
    assert second == page(3, 2, [R3], prev_url=(
        "/v2/events?order-by=timestamp&order-by=id&order-direction=asc&page=1&results-per-page=2"))
    assert get_body(client, admin, second["prev_url"]) == first


def test_descending_order_walks_newest_first(client, admin, three_events):
    first = get_body(client, admin, "/v2/events?results-per-page=2&order-direction=desc")
    assert first == page(3, 2, [R3, R2], next_url=(
        "/v2/events?order-by=timestamp&order-by=id&order-direction=desc&page=2&results-per-page=2"))
    second = get_body(client, admin, first["next_url"])
    assert second == page(3, 2, [R1], prev_url=(
        "/v2/events?order-by=timestamp&order-by=id&order-direction=desc&page=1&results-per-page=2"))


def test_a_page_past_the_end_is_empty_and_points_back(client, admin, three_events):
    body = get_body(client, admin, "/v2/events?results-per-page=2&page=3")
    assert body == page(3, 2, [], prev_url=(
        "/v2/events?order-by=timestamp&order-by=id&order-direction=asc&page=2&results-per-page=2"))


def test_no_results_is_an_empty_envelope(client, admin):
    assert get_body(client, admin, "/v2/events") == page(0, 0, [])


def test_filtered_to_nothing_is_an_empty_envelope(client, admin, three_events):
    assert get_body(client, admin, "/v2/events?q=type:app.crash&results-per-page=1") == page(0, 0, [])


def test_default_page_holds_everything(client, admin, three_events):
    assert get_body(client, admin, "/v2/events") == page(3, 1, [R1, R2, R3])


def test_order_is_an_alias_of_order_direction(client, admin, three_events):
    body = get_body(client, admin, "/v2/events?order=desc&results-per-page=2")
    assert body == get_body(client, admin, "/v2/events?order-direction=desc&results-per-page=2")
    assert body["resources"] == [R3, R2]


@pytest.mark.parametrize("order_by", ["order-by=timestamp", "order-by=id", "order-by=id&order-by=timestamp"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_order_by_timestamp_or_id_is_accepted_and_ignored(client, admin, three_events, order_by, direction):
    plain = get_body(client, admin, f"/v2/events?results-per-page=2&order-direction={direction}")
    assert get_body(client, admin, f"/v2/events?results-per-page=2&order-direction={direction}&{order_by}") == plain


@pytest.mark.parametrize("query", ["order-by=type", "order-by=timestamp&order-by=type"])
def test_order_by_another_column_is_refused(client, admin, query):
    response = client.get(f"/v2/events?{query}", headers=admin)
    assert response.status_code == 400
    assert error_body(response) == {"description": "Cannot order by: type", "error_code": "CF-OrderByParameterInvalid",
                                    "code": 10012}


@pytest.mark.parametrize("query, description", [
    ("results-per-page=101", "results_per_page must be <= 100"),
    ("order-direction=up", "order_direction must be 'asc' or 'desc' but was 'up'"),
    ("order=up", "order_direction must be 'asc' or 'desc' but was 'up'"),
    ("inline-relations-depth=4", "inline_relations_depth must be <= 3"),
])
def test_paging_parameter_errors_read_as_cc(client, admin, query, description):
    response = client.get(f"/v2/events?{query}", headers=admin)
    assert response.status_code == 400
    assert error_body(response) == bad_query(description)


@pytest.mark.parametrize("query, name", [
    ("results-per-page=0", "results_per_page"),
    ("results-per-page=-1", "results_per_page"),
    ("results-per-page=ten", "results_per_page"),
    ("results-per-page=1.5", "results_per_page"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=two", "page"),
    ("inline-relations-depth=-1", "inline_relations_depth"),
    ("inline-relations-depth=deep", "inline_relations_depth"),
    # An integer in a query is decimal digits, as the document says (int() would take all of these).
    ("page=%EF%BC%92", "page"),
    ("page=%202", "page"),
    ("page=%2B2", "page"),
    ("results-per-page=1_0", "results_per_page"),
    # order is order-direction's old name: checked alike, even beside order-direction (which wins).
    ("order-direction=asc&order=sideways", "order_direction"),
])
def test_out_of_range_or_non_integer_paging_values_are_bad_query_parameters(client, admin, query, name):
    response = client.get(f"/v2/events?{query}", headers=admin)
    assert response.status_code == 400
    body = error_body(response)
    assert (body["error_code"], body["code"]) == ("CF-BadQueryParameter", 10005)
    assert body["description"].startswith(f"The query parameter is invalid: {name} ")


@pytest.mark.parametrize("query", ["results-per-page=1", "results-per-page=100", "inline-relations-depth=0",
                                   "inline-relations-depth=3", "order-direction=asc", "order=asc"])
def test_paging_values_at_their_limits_are_accepted(client, admin, query):
    assert client.get(f"/v2/events?{query}", headers=admin).status_code == 200


def test_ties_on_timestamp_are_broken_by_id_in_both_directions(client, admin):
    # Inserted (so numbered) b, a, c: neither guid order nor chance can pass for id order.
    make_event("early", 0)
    for guid in ["b", "a", "c"]:
        make_event(guid, 1)
    make_event("late", 2)

    def guids(direction):
        body = get_body(client, admin, f"/v2/events?order-direction={direction}")
        return [item["metadata"]["guid"] for item in body["resources"]]

    assert guids("asc") == ["early", "b", "a", "c", "late"]
    assert guids("desc") == ["late", "c", "a", "b", "early"]


def test_ties_split_across_pages_neither_repeat_nor_skip(client, admin):
    for guid in ["b", "a", "c", "e", "d"]:
        make_event(guid, 0)
    seen, url = [], "/v2/events?results-per-page=2&order-direction=desc"
    while url:
        body = get_body(client, admin, url)
        seen += [item["metadata"]["guid"] for item in body["resources"]]
        url = body["next_url"]
    assert seen == ["d", "e", "c", "a", "b"]


def test_links_carry_the_filter_and_following_them_keeps_it(client, admin):
    make_event("first", 0, actee="app;1")
    make_event("other", 1, actee="app-2")
    make_event("second", 2, actee="app;1")
    body = get_body(client, admin, "/v2/events?q=actee:app;;1&q=type:audit.app.update&results-per-page=1")
    assert body["next_url"] == (
        "/v2/events?order-by=timestamp&order-by=id&order-direction=asc&page=2"
        "&q=actee:app%3B%3B1&q=type:audit.app.update&results-per-page=1"
    )
    assert [item["metadata"]["guid"] for item in body["resources"]] == ["first"]
    second = get_body(client, admin, body["next_url"])
    assert [item["metadata"]["guid"] for item in second["resources"]] == ["second"]
    assert second["next_url"] is None


@pytest.mark.parametrize("url", ["/v2/events", "/v2/events?pretty=1", "/v2/events?order-by=type",
                                 "/v2/events?q=colour:red"])
def test_content_type_is_cc_json(client, admin, url):
    assert client.get(url, headers=admin).headers["Content-Type"] == CONTENT_TYPE


@pytest.mark.parametrize("url", ["/v2/events", "/v2/events?page=0"])
def test_the_request_id_is_echoed(client, admin, url):
    response = client.get(url, headers={**admin, "X-VCAP-Request-ID": "cf-cli-request-42"})
    assert response.headers["X-VCAP-Request-ID"] == "cf-cli-request-42"


def test_a_request_without_an_id_gets_a_new_uuid(client, admin):
    ids = [client.get("/v2/events", headers=admin).headers["X-VCAP-Request-ID"] for _ in range(2)]
    assert [str(uuid.UUID(value)) for value in ids] == ids
    assert ids[0] != ids[1]


def test_pretty_output_is_indented_and_means_the_same(client, admin, three_events):
    plain = client.get("/v2/events?results-per-page=2", headers=admin).get_data(as_text=True)
    pretty = client.get("/v2/events?results-per-page=2&pretty=1", headers=admin).get_data(as_text=True)
    assert pretty != plain
    assert pretty.startswith("{\n  ")
    assert "\n      \"metadata\": {\n" in pretty
    assert json.loads(pretty) == json.loads(plain)
    assert_key_order(json.loads(pretty))


def test_pretty_is_not_carried_into_links(client, admin, three_events):
    body = get_body(client, admin, "/v2/events?results-per-page=2&pretty=1")
    assert body["next_url"] == (
        "/v2/events?order-by=timestamp&order-by=id&order-direction=asc&page=2&results-per-page=2")
