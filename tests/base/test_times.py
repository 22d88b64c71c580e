"""The times the store holds: refused beyond them on write and in filters, survived by every reader."""
from datetime import datetime, timezone

import pytest

from tests.api.v2.test_usage_events import app_event
from tests.factories import EventFactory
from tests.store.test_writes import app_update

RANGE_MESSAGE = "Must be between 1970-01-01T00:00:00Z and 9998-12-31T23:59:59Z."


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "9999-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                                    "0001-01-01T00:00:00Z", "9998-12-31T23:30:00-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_time_the_store_cannot_hold_is_refused_on_write_naming_the_field(client, admin, moment):
    response = client.post("/v2/events", json=app_update(timestamp=moment), headers=admin)
    assert response.status_code == 422
    assert response.get_json()["description"] == f"timestamp: {RANGE_MESSAGE}"
    usage = client.post("/v2/app_usage_events", json=app_event("u-1", created_at=moment), headers=admin)
    assert (usage.status_code, usage.get_json()["description"]) == (422, f"created_at: {RANGE_MESSAGE}")


@pytest.mark.parametrize("moment", ["1970-01-01T00:00:00Z", "9998-12-31T23:59:59.999999Z", "2016-06-08T16:41:23Z"])
def test_the_edges_of_the_range_are_accepted_and_listed(client, admin, moment):
    assert client.post("/v2/events", json=app_update(timestamp=moment), headers=admin).status_code == 201
    for query in ("", "q=type:audit.app.update", "q=timestamp>=1970-01-01T00:00:00Z", "order-direction=desc",
                  "q=timestamp<=9998-12-31T23:59:59Z&page=1"):
        response = client.get(f"/v2/events?{query}", headers=admin)
        assert (response.status_code, response.get_json()["total_results"]) == (200, 1), query


@pytest.mark.parametrize("clause, value", [
    ("timestamp<0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ("timestamp>=0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ("timestamp:0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ("timestamp>9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ("timestamp<=9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ("timestamp>=9999-01-01T00:00:00Z", "9999-01-01T00:00:00Z"),
    ("timestamp<1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
    ("timestamp IN 2016-06-08T16:41:23Z,9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ("timestamp>0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00+01:00"),
    ("timestamp<9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59-01:00"),
])
def test_a_filter_time_the_store_cannot_hold_is_a_bad_query_parameter(client, admin, clause, value):
    response = client.get("/v2/events", query_string={"q": clause}, headers=admin)
    assert (response.status_code, response.get_json()) == (400, {
        "description": f"The query parameter is invalid: {value}", "error_code": "CF-BadQueryParameter",
        "code": 10005})


# Stored by an older version, or by an operator's SQL: every time Python can name.
EXTREMES = [datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), datetime(1, 1, 1, tzinfo=timezone.utc),
            datetime(9999, 12, 31, tzinfo=timezone.utc), datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone.utc)]


@pytest.fixture
def extreme_events(app):
    for n, moment in enumerate(EXTREMES):
        EventFactory(guid=f"extreme-{n}", timestamp=moment, type="audit.app.update", space_guid="space-x",
                     organization_guid="org-x")
    EventFactory(guid="ordinary", type="audit.app.update", space_guid="space-x", organization_guid="org-x")


@pytest.mark.parametrize("query", [
    "", "order-direction=desc", "q=type:audit.app.update", "q=type:audit.app.update&order-direction=desc&page=2&"
    "results-per-page=2", "page=3&results-per-page=2", "q=timestamp>=2016-01-01T00:00:00Z",
    "q=timestamp<2016-01-01T00:00:00Z&order-direction=desc", "q=space_guid:space-x&page=2&results-per-page=1",
    "q=organization_guid:org-x", "q=timestamp>9998-12-30T00:00:00Z", "q=type:audit.app.update;"
    "timestamp>9998-12-30T00:00:00Z&order-direction=desc",
])
def test_every_reader_survives_any_stored_time(client, admin, extreme_events, query):
    response = client.get(f"/v2/events?{query}", headers=admin)
    assert response.status_code == 200, response.get_json()
    for path in ("/v1/events", "/v1/events?page=2&per_page=2", "/v2/events/extreme-0", "/v2/events/extreme-1"):
        assert client.get(path, headers=admin).status_code == 200


def test_extreme_stored_times_are_listed_in_order(client, admin, extreme_events):
    listed = client.get("/v2/events?results-per-page=100", headers=admin).get_json()
    assert [r["entity"]["timestamp"] for r in listed["resources"]][::4] == ["0001-01-01T00:00:00Z",
                                                                          "9999-12-31T23:59:59Z"]
    assert listed["total_results"] == 5
