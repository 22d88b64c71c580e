"""Rows written straight into the store, for tests that read them back through the API."""
import uuid
from datetime import datetime, timedelta, timezone

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.base.extensions import db
from app.store.models import Event

BASE_TIME = datetime(2016, 6, 8, 16, 41, 23, tzinfo=timezone.utc)


class EventFactory(SQLAlchemyModelFactory):
    class Meta:
        model = Event
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"

    guid = factory.LazyFunction(lambda: str(uuid.uuid4()))
    created_at = factory.LazyFunction(lambda: datetime.now(timezone.utc))
    timestamp = factory.Sequence(lambda n: BASE_TIME + timedelta(seconds=n))
    type = "audit.app.update"
    actor = factory.LazyFunction(lambda: str(uuid.uuid4()))
    actor_type = "user"
    actor_name = "user@example.com"
    actor_username = "user"
    actee = factory.LazyFunction(lambda: str(uuid.uuid4()))
    actee_type = "app"
    actee_name = "my-app"
    data = factory.LazyFunction(dict)
    space_guid = factory.LazyFunction(lambda: str(uuid.uuid4()))
    organization_guid = factory.LazyFunction(lambda: str(uuid.uuid4()))
