"""Who may see which events: one query condition per record kind, used by every reader of the store."""
from sqlalchemy import and_, false, or_, select, true

from .auth import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR
from .errors import ApiError
from .extensions import db
from .fields import is_storable
from .models import Event, Role

# These roles see every event of the platform.
GLOBAL_READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR})
# As in CC: space developers and auditors read their spaces' events, org auditors their orgs';
# managers manage people, not apps, and read no events.
SPACE_READER_ROLES = ("developer", "auditor")
ORGANIZATION_READER_ROLES = ("auditor",)


def _targets(user_guid, target_type, roles):
    return select(Role.target_guid).where(
        and_(Role.user_guid == user_guid, Role.role.in_(roles), Role.target_type == target_type)
    )


def sees_every_event(identity):
    """Whether `identity` may see every audit event of the platform (so counts of all events apply to it)."""
    return identity.has_any(GLOBAL_READERS)


def visible_events(identity):
    """The condition an audit event must meet for `identity` to see it."""
    if sees_every_event(identity):
        return true()
    if not identity.user_id:
        return false()
    return or_(
        Event.space_guid.in_(_targets(identity.user_id, "space", SPACE_READER_ROLES)),
        Event.organization_guid.in_(_targets(identity.user_id, "organization", ORGANIZATION_READER_ROLES)),
    )


def visible_usage_events(identity):
    """The condition a usage event must meet for `identity` to see it: only global roles do."""
    return true() if identity.has_any(GLOBAL_READERS) else false()


def shown(model, guid, visible):
    """The record `guid` of `model` for a show endpoint: 404 when there is none, 403 when `visible` fails.

    One query answers both, so a record's existence is only revealed as CC reveals it.
    """
    found = is_storable(guid) and db.session.execute(
        select(model, visible.label("visible")).where(model.guid == guid)
    ).first()
    if not found:
        raise ApiError("EventNotFound", guid)
    if not found.visible:
        raise ApiError("NotAuthorized")
    return found[0]
