"""The compiled loader and the catalogue's quick conformance check say exactly what the schemas say.

Random documents around valid ones (a key dropped, a value replaced by any JSON, an unknown key, the
metadata of another type) go through FastLoader and through schema.load: both load the same event,
or both refuse it with the same messages.
"""
import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from app.api.v2.schemas import EventWriteSchema
from app.api.v2.usage_schemas import AppUsageEventWriteSchema, ServiceUsageEventWriteSchema
from app.store.catalogue import EVENT_TYPES, check, conforms
from app.store.loading import FastLoader
from tests.store.test_round_trip import catalogue_events, usage_events

APPS, SERVICES = usage_events()
CASES = [(EventWriteSchema(), catalogue_events()), (AppUsageEventWriteSchema(), APPS),
         (ServiceUsageEventWriteSchema(), SERVICES)]
LOADERS = [(schema, FastLoader(schema), valid) for schema, valid in CASES]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.sampled_from(["", "\x00", "x" * 256, "\ud800", "2016-06-08T16:41:23Z",
                                              "9999-12-31T23:59:59Z", "STARTED", "managed_service_instance",
                                              "[PRIVATE DATA HIDDEN]", "a.b:c-d"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6)


@st.composite
def documents(draw):
    schema, loader, valid = draw(st.sampled_from(LOADERS))
    document = copy.deepcopy(draw(st.sampled_from(valid)))
    document.pop("guid", None) if draw(st.booleans()) else None
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["drop", "replace", "add", "metadata", "type"]))
        keys = sorted(document)
        if action == "drop" and keys:
            document.pop(draw(st.sampled_from(keys)))
        elif action == "replace" and keys:
            document[draw(st.sampled_from(keys))] = draw(json_values)
        elif action == "add":
            document[draw(st.sampled_from(["colour", "space_url", "vocabulary", "user", "metadata"]))] = draw(
                json_values)
        elif action == "metadata" and isinstance(document.get("metadata"), dict) and document["metadata"]:
            path = document["metadata"]
            key = draw(st.sampled_from(sorted(path)))
            if isinstance(path[key], dict) and path[key] and draw(st.booleans()):
                path = path[key]
                key = draw(st.sampled_from(sorted(path)))
            path[key] = draw(json_values)
        elif action == "type" and "type" in document:
            document["type"] = draw(st.sampled_from(sorted(EVENT_TYPES)))
    return schema, loader, document


def outcome(load, document):
    try:
        return "loaded", load(copy.deepcopy(document))
    except ValidationError as error:
        return "refused", error.messages


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_the_fast_loader_loads_and_refuses_as_the_schema_does(case):
    schema, loader, document = case
    assert outcome(loader.load_one, document) == outcome(schema.load, document)


def test_the_valid_events_take_the_fast_path(monkeypatch):
    # Loaded without the schema: else the tests above would compare the schema with itself.
    for schema, loader, valid in LOADERS:
        monkeypatch.setattr(schema, "load", lambda *args, **kwargs: (_ for _ in ()).throw(AssertionError("slow")))
        assert len(loader.load(valid)) == len(valid)


@st.composite
def metadata_of_some_type(draw):
    name = draw(st.sampled_from(sorted(EVENT_TYPES)))
    data = {}
    for field in EVENT_TYPES[name].fields:
        if draw(st.integers(0, 3)) == 0:
            continue
        parent = data
        for key in field.parents:
            parent = parent.setdefault(key.removesuffix("[]"), {}) if isinstance(parent, dict) else parent
        if isinstance(parent, dict):
            parent[field.key] = draw(json_values)
    return name, data


@settings(max_examples=1500, deadline=None)
@given(metadata_of_some_type())
def test_conforms_is_check_finding_nothing(case):
    name, data = case
    assert conforms(name, data) == (check(name, data) == [])
