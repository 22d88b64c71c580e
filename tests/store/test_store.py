"""The store itself: migrations agree with the models, and tests are isolated from each other."""
import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from app.base.extensions import db
from app.store.models import Event
from tests.factories import EventFactory

# What migration 0017 makes on PostgreSQL only, and the models (which describe SQLite's one table) leave out:
# the months' partitions, the guid claims that stand for the unique guid, and the index finding a guid.
POSTGRESQL_PARTITIONING = {"event_guids", "ix_events_guid", "uq_events_guid", "usage_guids",
                           "ix_app_usage_events_guid", "uq_app_usage_events_guid", "ix_service_usage_events_guid",
                           "uq_service_usage_events_guid"}
PARTITION = re.compile(r"^(events_y\d{4}m\d{2}|(app|service)_usage_events_(p\d{6}|kept))")


def _described_by_the_models(object_, name, type_, reflected, compare_to):
    if db.engine.dialect.name != "postgresql":
        return True
    return name not in POSTGRESQL_PARTITIONING and not (type_ in ("table", "index") and PARTITION.match(name or ""))


def test_migrations_at_head_match_the_models(app):
    context = MigrationContext.configure(db.session.connection(), opts={
        "compare_type": True, "include_object": _described_by_the_models})
    assert compare_metadata(context, db.metadata) == []


def test_usage_streams_start_at_zero(app):
    rows = db.session.execute(db.text("SELECT name, last_id, horizon FROM usage_streams ORDER BY name")).all()
    assert [tuple(row) for row in rows] == [("app_usage_events", 0, 1), ("service_usage_events", 0, 1)]


# The two tests below run in this order: the first commits, the second must not see it.
ISOLATION_GUID = "isolation-probe"


def test_isolation_a_commit_in_one_test(app, client, admin):
    EventFactory(guid=ISOLATION_GUID)
    db.session.commit()
    assert client.get(f"/v2/events/{ISOLATION_GUID}", headers=admin).status_code == 200


def test_isolation_is_invisible_in_the_next(app, client, admin):
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0
    assert client.get(f"/v2/events/{ISOLATION_GUID}", headers=admin).status_code == 404
