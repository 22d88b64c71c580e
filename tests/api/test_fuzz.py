"""No input reaches a 500: random query strings (and path segments) against every GET route.

Keys are drawn from every parameter any dialect reads and from random text; values from what those
parameters expect (numbers, times, q clauses, guids), edge cases and random unicode, each piece
percent-encoded or not at random, with malformed escapes too. Every answer must be below 500 and
parse as JSON in the route's dialect (a success may have the type /openapi.json gives it: /docs is
HTML). On PostgreSQL, whose text refuses what SQLite stores.
"""
import json
import string
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api import openapi
from app.identity.tokens import ADMIN, READ
from tests.api.test_limits import SAMPLE_ARGUMENTS, built, routes
from tests.conftest import make_app
from tests.dialects import assert_error_shape
from tests.factories import EventFactory

EXAMPLES_PER_ROUTE = 150
PARAMETERS = ["q", "page", "results-per-page", "order-direction", "order", "order-by", "inline-relations-depth",
              "exclude-relations", "include-relations", "orphan-relations", "after_guid", "pretty", "per_page", "from",
              "page[", "q[]", "types", "created_ats", "created_ats[gte]", "order_by", "guids", "label_selector"]
TIMES = ["2016-06-08T16:41:23Z", "2016-06-08 16:41:23-04:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
         "2016-13-45T99:99:99Z", "1e9", "now", "2016-06-08T16:41:23.123456+14:00", "-1"]
Q_KEYS = ["timestamp", "type", "actee", "space_guid", "organization_guid", "service_guid", "service_instance_type",
          "name", "Type", " type", ""]
OPERATORS = [":", ">=", "<=", "<", ">", " IN ", "::", ";", ";;", "IN"]
EDGES = ["", "0", "-1", "1", "50", "100", "101", "10000", "10001", str(2**63), str(2**64), "1.5", "1e3", "NaN",
         "asc", "desc", "up", "timestamp", "id", "true", "null", "[]", "{}", "%", "%00", "%zz", "%ff", "\x00", "\ud800",
         "é", "ß", "\u2028", "🙂", "x" * 300, "event-1", "usage-1", "app-1", "space-1"]


RAW = "".join(c for c in string.punctuation if c not in "&#") + string.ascii_letters + string.digits


def encoded(text):
    """`text` percent-encoded, or partly (a raw '%' makes malformed escapes), or with '+' for spaces: what a
    careless client might send. Lone surrogates go out as the invalid UTF-8 they would be."""
    def escape(safe):
        return quote(text, safe=safe, errors="surrogatepass")
    return st.sampled_from([escape(""), escape(":,;<>=[]"), escape(RAW), escape(RAW + " ").replace(" ", "+")])


q_values = st.builds(lambda key, op, value: f"{key}{op}{value}", st.sampled_from(Q_KEYS), st.sampled_from(OPERATORS),
                     st.one_of(st.sampled_from(EDGES + TIMES), st.text(max_size=20)))
values = st.one_of(st.sampled_from(EDGES), st.sampled_from(TIMES), q_values, st.text(max_size=40),
                   st.integers(min_value=-10, max_value=2**70).map(str))
keys = st.one_of(st.sampled_from(PARAMETERS), st.text(alphabet=string.printable + "é\x00", max_size=12))
pairs = st.lists(st.tuples(keys, values), max_size=6)


@st.composite
def query_strings(draw):
    pieces = []
    for key, value in draw(pairs):
        pieces.append(f"{draw(encoded(key))}={draw(encoded(value))}" if draw(st.booleans()) or value
                      else draw(encoded(key)))
    return "&".join(pieces)


# A path segment as a client might send it; '?' and '#' always escaped, or they would end the path.
segments = st.one_of(st.sampled_from(list(SAMPLE_ARGUMENTS.values())), st.sampled_from(EDGES),
                     st.text(min_size=1, max_size=30)).flatmap(encoded).map(
    lambda segment: segment.replace("?", "%3F").replace("#", "%23") or "x")


def assert_answer_in_dialect(response, path, documented_types=()):
    assert response.status_code < 500, (path, response.status_code, response.data[:300])
    if response.status_code < 400 and response.mimetype in documented_types and response.mimetype != "application/json":
        return  # /docs, its files, /metrics: as the OpenAPI document says
    assert response.headers["Content-Type"] == "application/json;charset=utf-8", path
    body = json.loads(response.data)
    if response.status_code >= 400:
        assert_error_shape(path, body)


@pytest.fixture
def fuzzed_store(app):
    for n in range(3):
        EventFactory(guid=f"event-{n}", actee="app-1", actee_name="web", space_guid="space-1",
                     organization_guid="org-1")


FUZZED_APP = make_app("sqlite://")
GET_ROUTES = [rule for rule, methods, _ in routes(FUZZED_APP) if "GET" in methods]
DOCUMENT = openapi.build(FUZZED_APP)


def documented_types(rule):
    """The content types the OpenAPI document gives the answers of GET `rule`."""
    operations = [DOCUMENT["paths"].get(path, {}).get("get", {}) for path in openapi.openapi_paths(rule)]
    return {content_type for operation in operations for response in operation.get("responses", {}).values()
            for content_type in response.get("content", {})}


@pytest.mark.postgres_only
@pytest.mark.parametrize("rule", GET_ROUTES, ids=[rule.rule for rule in GET_ROUTES])
def test_no_query_string_reaches_a_500(client, auth, fuzzed_store, rule):
    headers = [auth(ADMIN), auth(READ, user_id="reader-1")]
    content_types = documented_types(rule)

    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(query=query_strings(), segment_values=st.fixed_dictionaries(
        {name: segments for name in sorted(rule.arguments - set(rule.defaults or {}))}),
        reader=st.sampled_from([0, 1]))
    def check(query, segment_values, reader):
        path = built(rule, **segment_values)
        response = client.get(path, query_string=query, headers=headers[reader])
        assert_answer_in_dialect(response, path, content_types)

    check()
