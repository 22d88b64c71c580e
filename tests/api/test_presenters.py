"""The compiled presenters say exactly what the Marshmallow schemas say, for every stored shape."""
from datetime import datetime, timezone

import pytest
from marshmallow import Schema, fields
from sqlalchemy import select

from app.api.presenters import Presenter
from app.api.v1.schemas import ScalingoEventSchema, present_scalingo_event
from app.api.v2.schemas import EventEntitySchema, EventMetadataSchema, present_event
from app.api.v2.usage_schemas import ENTITY_SCHEMAS, usage_metadata_schema, usage_presenter
from app.api.v3.schemas import AppUsageEventSchema, AuditEventSchema, ServiceUsageEventSchema
from app.base.extensions import db
from app.store.models import AppUsageEvent, Event, ServiceUsageEvent, record_columns

WHEN = datetime(2026, 3, 1, 12, 30, 45, 678000, tzinfo=timezone.utc)

FULL_EVENT = dict(
    guid="e-full", created_at=WHEN, timestamp=WHEN, type="app.crash", actor="a-1", actor_type="app",
    actor_name="web", actor_username="someone", actee="a-1", actee_type="app", actee_name="web",
    data={"exit_status": 137, "nested": {"list": [1, 2.5, None, "x"]}, "ünïcode": "✓"},
    space_guid="s-1", organization_guid="o-1",
)
# Every nullable column empty: what CC renders as "" (space, organization) and what it leaves null.
SPARSE_EVENT = dict(
    guid="e-sparse", created_at=WHEN, timestamp=WHEN, type="audit.user.login", actor="u-1", actor_type="user",
    actor_name=None, actor_username=None, actee="u-1", actee_type="user", actee_name="", data={},
    space_guid=None, organization_guid=None,
)
FULL_APP_USAGE = dict(
    id=1, guid="au-full", created_at=WHEN, state="STARTED", previous_state="STOPPED", memory_in_mb_per_instance=512,
    previous_memory_in_mb_per_instance=256, instance_count=2, previous_instance_count=1, app_guid="a-1",
    app_name="web", space_guid="s-1", space_name="dev", org_guid="o-1", buildpack_guid="b-1",
    buildpack_name="ruby", package_state="STAGED", previous_package_state="PENDING", parent_app_guid="a-0",
    parent_app_name="parent", process_type="web", task_name="migrate", task_guid="t-1",
)
SPARSE_APP_USAGE = dict(
    id=2, guid="au-sparse", created_at=WHEN, state="TASK_STARTED", memory_in_mb_per_instance=0, instance_count=0,
    app_guid="", app_name="", space_guid="s-1", space_name="dev", org_guid="o-1",
)
FULL_SERVICE_USAGE = dict(
    id=1, guid="su-full", created_at=WHEN, state="CREATED", org_guid="o-1", space_guid="s-1", space_name="dev",
    service_instance_guid="i-1", service_instance_name="db", service_instance_type="managed_service_instance",
    service_plan_guid="p-1", service_plan_name="small", service_guid="svc-1", service_label="postgres",
    service_broker_name="broker", service_broker_guid="br-1",
)
SPARSE_SERVICE_USAGE = dict(
    id=2, guid="su-sparse", created_at=WHEN, state="DELETED", org_guid="o-1", space_guid="s-1", space_name="dev",
    service_instance_guid="i-2", service_instance_name="ups", service_instance_type="user_provided_service_instance",
)

CASES = {
    Event: [FULL_EVENT, SPARSE_EVENT],
    AppUsageEvent: [FULL_APP_USAGE, SPARSE_APP_USAGE],
    ServiceUsageEvent: [FULL_SERVICE_USAGE, SPARSE_SERVICE_USAGE],
}


def schemas_of(model):
    """(schema, presenter) pairs that present `model`'s rows."""
    if model is Event:
        return [(schema, Presenter(schema)) for schema in (EventMetadataSchema(), EventEntitySchema(),
                                                             ScalingoEventSchema(), AuditEventSchema())]
    stream = model.__tablename__
    v3 = AppUsageEventSchema() if model is AppUsageEvent else ServiceUsageEventSchema()
    return [(schema, Presenter(schema)) for schema in (usage_metadata_schema(stream), ENTITY_SCHEMAS[stream], v3)]


def stored_records(model):
    """Each case as the ORM object the write path returns and as the Row a list page reads."""
    objects = [model(**values) for values in CASES[model]]
    db.session.add_all(objects)
    db.session.commit()
    db.session.expire_all()
    guids = [values["guid"] for values in CASES[model]]
    orm = db.session.scalars(select(model).where(model.guid.in_(guids)).order_by(model.guid)).all()
    rows = db.session.execute(select(*record_columns(model)).where(model.guid.in_(guids)).order_by(model.guid)).all()
    return orm, rows


@pytest.mark.parametrize("model", list(CASES), ids=lambda model: model.__tablename__)
def test_presenters_agree_with_the_schemas(app, model):
    orm, rows = stored_records(model)
    # v3's links need the address the request came to.
    context = app.test_request_context("/v3/audit_events", base_url="https://events.example.com")
    context.push()
    assert len(orm) == len(rows) == len(CASES[model])
    for schema, present in schemas_of(model):
        for obj, row in zip(orm, rows, strict=True):
            expected = schema.dump(obj)
            # Same keys, same order, same values: the key order is part of CC's contract.
            assert list(present(obj).items()) == list(expected.items())
            assert list(present(row).items()) == list(expected.items())
            assert schema.dump(row) == expected
        # A page of Rows is read by position: the same output, in the same order.
        assert [list(p.items()) for p in present.many(rows)] == [list(schema.dump(o).items()) for o in orm]
        assert present.many(list(orm)) == [schema.dump(o) for o in orm]
    context.pop()


def test_the_v2_and_v1_resources(app):
    orm, rows = stored_records(Event)
    full = next(row for row in rows if row.guid == "e-full")
    resource = present_event(full)
    assert resource["metadata"] == {"guid": "e-full", "url": "/v2/events/e-full", "created_at": "2026-03-01T12:30:45Z",
                                    "updated_at": "2026-03-01T12:30:45Z"}
    assert resource["entity"]["metadata"] == FULL_EVENT["data"]
    sparse = next(row for row in rows if row.guid == "e-sparse")
    assert present_event(sparse)["entity"]["space_guid"] == ""
    assert present_event(sparse)["entity"]["actor_name"] is None
    assert "app_id" not in present_scalingo_event(sparse) and "user" in present_scalingo_event(sparse)
    usage = usage_presenter("service_usage_events")(stored_records(ServiceUsageEvent)[1])[0]
    assert usage["metadata"]["url"] == "/v2/service_usage_events/su-full"


def test_an_unknown_field_kind_is_refused():
    class WithAList(Schema):
        tags = fields.List(fields.String())

    class WithAStringInteger(Schema):
        count = fields.Integer(as_string=True)

    for schema in (WithAList(), WithAStringInteger()):
        with pytest.raises(TypeError):
            Presenter(schema)
