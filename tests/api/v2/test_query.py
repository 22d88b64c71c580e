"""The v2 `q` filter (SPEC 2.3): its grammar, and what each clause finds on /v2/events."""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from app.api.v2.query import Clause, parse, parse_timestamp, split_clauses
from app.base.errors import ApiError
from tests.factories import EventFactory

EVENT_KEYS = {"timestamp", "type", "actee", "space_guid", "organization_guid"}
ERROR_KEYS = ["description", "error_code", "code"]
# Three events one second apart, each a quarter of a second into its second: whole-second
# rules and plain comparisons give different answers on them.
T = datetime(2016, 6, 8, 16, 41, 23, 250000, tzinfo=timezone.utc)
SECONDS = {"t0": T, "t1": T + timedelta(seconds=1), "t2": T + timedelta(seconds=2)}


def bad_query(description):
    return {"description": f"The query parameter is invalid: {description}", "error_code": "CF-BadQueryParameter",
            "code": 10005}


def refused(q_values, allowed=EVENT_KEYS):
    with pytest.raises(ApiError) as raised:
        parse(q_values, allowed)
    return raised.value


def listed(client, admin, query):
    response = client.get(f"/v2/events?{query}", headers=admin)
    assert response.status_code == 200, response.get_json()
    return {resource["metadata"]["guid"] for resource in response.get_json()["resources"]}


def assert_bad_query(response, name):
    assert response.status_code == 400
    body = json.loads(response.get_data(as_text=True))
    assert body == bad_query(name)
    assert list(body) == ERROR_KEYS


# --- the grammar -------------------------------------------------------------------------------

def test_semicolon_separates_clauses():
    assert split_clauses(["type:a;actee:b"]) == ["type:a", "actee:b"]


def test_every_q_value_contributes_its_clauses():
    assert split_clauses(["type:a;actee:b", "space_guid:c"]) == ["type:a", "actee:b", "space_guid:c"]


def test_double_semicolon_is_a_literal_semicolon():
    assert split_clauses(["actee:a;;b;type:c"]) == ["actee:a;b", "type:c"]


def test_a_trailing_empty_clause_is_ignored():
    assert split_clauses(["type:a;"]) == ["type:a"]


def test_an_empty_q_is_no_filter():
    assert split_clauses([""]) == []
    assert parse([""], EVENT_KEYS) == []


@pytest.mark.parametrize("text, clause", [
    ("type:app.crash", Clause("type", ":", "app.crash")),
    ("timestamp>=2016-06-08T16:41:23Z", Clause("timestamp", ">=", "2016-06-08T16:41:23Z")),
    ("timestamp<=2016-06-08T16:41:23Z", Clause("timestamp", "<=", "2016-06-08T16:41:23Z")),
    ("timestamp<2016-06-08T16:41:23Z", Clause("timestamp", "<", "2016-06-08T16:41:23Z")),
    ("timestamp>2016-06-08T16:41:23Z", Clause("timestamp", ">", "2016-06-08T16:41:23Z")),
    ("type IN audit.app.create,app.crash", Clause("type", " IN ", "audit.app.create,app.crash")),
])
def test_each_operator_splits_a_clause(text, clause):
    assert parse([text], EVENT_KEYS) == [clause]


@pytest.mark.parametrize("text, clause", [
    ("timestamp:2016-06-08T16:41:23Z", Clause("timestamp", ":", "2016-06-08T16:41:23Z")),
    ("type:a>=b<c", Clause("type", ":", "a>=b<c")),
    ("type>=a:b", Clause("type", ">=", "a:b")),
    ("type<a:b", Clause("type", "<", "a:b")),
    ("type IN a:b,c", Clause("type", " IN ", "a:b,c")),
    ("type:a IN b", Clause("type", ":", "a IN b")),
])
def test_a_clause_splits_at_the_leftmost_operator(text, clause):
    assert parse([text], EVENT_KEYS) == [clause]


def test_an_empty_value_is_kept_as_empty():
    assert parse(["space_guid:"], EVENT_KEYS) == [Clause("space_guid", ":", "")]


@pytest.mark.parametrize("text, key", [
    ("Type:a", "Type"),
    ("TYPE:a", "TYPE"),
    (" type:a", " type"),
    ("type :a", "type "),
    ("actor:a", "actor"),
    ("guid:a", "guid"),
])
def test_keys_are_compared_exactly(text, key):
    error = refused([text])
    assert (error.name, error.status, error.description) == (
        "BadQueryParameter", 400, f"The query parameter is invalid: {key}")


def test_a_refused_key_in_a_later_clause_is_named():
    assert refused(["type:a;colour:red"]).description == "The query parameter is invalid: colour"


def test_an_empty_key_is_refused_with_an_empty_name():
    error = refused([":abc"])
    assert (error.name, error.description) == ("BadQueryParameter", "The query parameter is invalid: ")


@pytest.mark.parametrize("text", ["type", "type=a", "type in a,b"])
def test_a_clause_without_an_operator_is_refused(text):
    error = refused([text])
    assert (error.name, error.description) == ("BadQueryParameter", f"The query parameter is invalid: {text}")


@pytest.mark.parametrize("value", [
    "2016-06-08T16:41:23Z",
    "2016-06-08T16:41:23+00:00",
    "2016-06-08T12:41:23-04:00",
    "2016-06-08T20:41:23+04:00",
    "2016-06-08 12:41:23-04:00",
    # A raw '+' in a URL arrives as a space.
    "2016-06-08T20:41:23 04:00",
    "2016-06-08 20:41:23 04:00",
    # Without an offset a time is UTC.
    "2016-06-08T16:41:23",
    "2016-06-08 16:41:23",
    # ISO 8601's other offsets, and a fraction of the second.
    "2016-06-08T20:41:23+04",
    "2016-06-08T20:41:23+0400",
    "2016-06-08T20:41:23.999999+04:00",
])
def test_timestamp_formats_name_the_same_second(value):
    assert parse_timestamp(value) == datetime(2016, 6, 8, 16, 41, 23, tzinfo=timezone.utc)


@pytest.fixture
def local_zone_west_of_utc(monkeypatch):
    """The process's local time zone set to UTC-7, so that 'local' and 'UTC' differ."""
    monkeypatch.setenv("TZ", "CFT+07")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("value", ["2016-06-08T16:41:23", "2016-06-08 16:41:23"])
def test_a_time_without_an_offset_is_utc_whatever_the_local_zone(local_zone_west_of_utc, value):
    assert parse_timestamp(value) == datetime(2016, 6, 8, 16, 41, 23, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", [
    "yesterday", "2016-13-01T00:00:00Z", "2016-06-08T25:00:00Z", "1465404083", "2016-06-08T16:41:23Zulu",
    # The grammar the document states (fields.time_pattern), not all Python reads: no padding, no other
    # separator, no date alone, no week or basic format, and seconds always.
    " 2016-06-08T16:41:23Z", "2016-06-08T16:41:23Z ", "2016-06-08x16:41:23", "2016-06-08", "2016-06-08T16:41",
    "2016-W23-3T16:41:23", "20160608T164123", "2016-06-08t16:41:23z", "2016-06-08T16:41:23+04:00:30",
])
def test_a_value_that_is_not_a_time_is_refused_by_name(value):
    with pytest.raises(ApiError) as raised:
        parse_timestamp(value)
    assert (raised.value.name, raised.value.description) == (
        "BadQueryParameter", f"The query parameter is invalid: {value}")


# --- filtering /v2/events ----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["type", "actee", "space_guid", "organization_guid"])
def test_each_string_key_matches_exactly(client, admin, key):
    EventFactory(guid="exact", **{key: "app.crash"})
    EventFactory(guid="longer", **{key: "app.crash.extra"})
    EventFactory(guid="prefixed", **{key: "audit.app.crash"})
    EventFactory(guid="other-case", **{key: "App.Crash"})
    assert listed(client, admin, f"q={key}:app.crash") == {"exact"}
    assert listed(client, admin, f"q={key}:app") == set()
    assert listed(client, admin, f"q={key}:app.crash%25") == set()
    assert listed(client, admin, f"q={key}:app_crash") == set()


def test_the_timestamp_key_matches_its_second(client, admin):
    make_three_seconds()
    assert listed(client, admin, "q=timestamp:2016-06-08T16:41:24Z") == {"t1"}


def test_in_matches_any_of_its_strings(client, admin):
    EventFactory(guid="create", type="audit.app.create")
    EventFactory(guid="crash", type="app.crash")
    EventFactory(guid="update", type="audit.app.update")
    assert listed(client, admin, "q=type%20IN%20audit.app.create,app.crash") == {"create", "crash"}
    assert listed(client, admin, "q=type%20IN%20app.crash") == {"crash"}
    # No trimming: " app.crash" is not "app.crash".
    assert listed(client, admin, "q=type%20IN%20audit.app.create,%20app.crash") == {"create"}


def test_several_q_parameters_are_anded(client, admin):
    EventFactory(guid="both", type="app.crash", actee="app-1")
    EventFactory(guid="type-only", type="app.crash", actee="app-2")
    EventFactory(guid="actee-only", type="audit.app.update", actee="app-1")
    assert listed(client, admin, "q=type:app.crash&q=actee:app-1") == {"both"}


def test_clauses_of_one_q_are_anded(client, admin):
    EventFactory(guid="both", type="app.crash", actee="app-1")
    EventFactory(guid="type-only", type="app.crash", actee="app-2")
    EventFactory(guid="actee-only", type="audit.app.update", actee="app-1")
    assert listed(client, admin, "q=type:app.crash;actee:app-1") == {"both"}
    assert listed(client, admin, "q=type:app.crash%3Bactee:app-1") == {"both"}


def test_double_semicolon_matches_a_value_containing_a_semicolon(client, admin):
    EventFactory(guid="with-semicolon", actee="app;1")
    EventFactory(guid="plain", actee="app")
    assert listed(client, admin, "q=actee:app;;1") == {"with-semicolon"}
    assert listed(client, admin, "q=actee:app;;1;type:audit.app.update") == {"with-semicolon"}


def test_an_empty_q_lists_everything(client, admin):
    EventFactory(guid="a")
    EventFactory(guid="b")
    assert listed(client, admin, "q=") == {"a", "b"}


@pytest.mark.parametrize("key", ["space_guid", "organization_guid"])
def test_an_empty_value_finds_events_without_one(client, admin, key):
    EventFactory(guid="without", **{key: None})
    EventFactory(guid="with", **{key: "guid-1"})
    assert listed(client, admin, f"q={key}:") == {"without"}


def test_an_empty_value_on_a_required_field_finds_nothing(client, admin):
    EventFactory(guid="a")
    assert listed(client, admin, "q=type:") == set()
    assert listed(client, admin, "q=actee:") == set()
    assert listed(client, admin, "q=timestamp:") == set()


def make_three_seconds():
    for guid, moment in SECONDS.items():
        EventFactory(guid=guid, timestamp=moment)


@pytest.mark.parametrize("clause, expected", [
    # T+1s is the whole second [16:41:24, 16:41:25); the events sit at .250 of 23, 24 and 25.
    ("timestamp:2016-06-08T16:41:24Z", {"t1"}),
    ("timestamp>=2016-06-08T16:41:24Z", {"t1", "t2"}),
    ("timestamp<=2016-06-08T16:41:24Z", {"t0", "t1"}),
    ("timestamp<2016-06-08T16:41:24Z", {"t0"}),
    ("timestamp>2016-06-08T16:41:24Z", {"t2"}),
    ("timestamp%20IN%202016-06-08T16:41:23Z,2016-06-08T16:41:25Z", {"t0", "t2"}),
    ("timestamp%20IN%202016-06-08T16:41:24Z", {"t1"}),
])
def test_each_timestamp_operator_names_whole_seconds(client, admin, clause, expected):
    make_three_seconds()
    assert listed(client, admin, f"q={clause}") == expected


@pytest.mark.parametrize("value", [
    "2016-06-08T12:41:24-04:00",
    "2016-06-08%2012:41:24-04:00",
    # Sent unencoded, '+04:00' arrives as ' 04:00'.
    "2016-06-08T20:41:24+04:00",
    "2016-06-08T20:41:24%2B04:00",
    "2016-06-08T16:41:24",
])
def test_timestamp_values_in_other_forms_name_the_same_second(client, admin, value):
    make_three_seconds()
    assert listed(client, admin, f"q=timestamp:{value}") == {"t1"}


def test_timestamp_ranges_combine(client, admin):
    make_three_seconds()
    query = "q=timestamp>=2016-06-08T16:41:24Z&q=timestamp<=2016-06-08T16:41:25Z"
    assert listed(client, admin, query) == {"t1", "t2"}


@pytest.mark.parametrize("operator", [":", ">=", "<=", "<", ">"])
def test_a_value_that_is_not_a_time_is_a_bad_query_parameter(client, admin, operator):
    response = client.get(f"/v2/events?q=timestamp{operator}yesterday", headers=admin)
    assert_bad_query(response, "yesterday")


def test_a_value_in_a_timestamp_list_that_is_not_a_time_is_a_bad_query_parameter(client, admin):
    response = client.get("/v2/events?q=timestamp%20IN%202016-06-08T16:41:24Z,yesterday", headers=admin)
    assert response.status_code == 400
    assert response.get_json()["error_code"] == "CF-BadQueryParameter"


@pytest.mark.parametrize("query, key", [
    ("q=actor:x", "actor"),
    ("q=Type:app.crash", "Type"),
    ("q=type:app.crash;colour:red", "colour"),
    ("q=type:app.crash&q=guid:x", "guid"),
    ("q=:abc", ""),
])
def test_an_unknown_key_is_a_bad_query_parameter(client, admin, query, key):
    assert_bad_query(client.get(f"/v2/events?{query}", headers=admin), key)
