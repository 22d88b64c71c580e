"""Who may see what: one query condition per record kind, used by every reader of the store.

The dialects differ in one thing only: v3 has the space supporter role, who reads their spaces'
events (V3.md 5); v2 has no such role (SPEC 7). Everything else is one rule.
"""
from sqlalchemy import and_, false, or_, select, true

from app.base.extensions import db
from app.store.models import Event, KnownResource

from .models import Role
from .tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, USAGE_AUDIT

# These roles see every event of the platform.
GLOBAL_READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR})
# As in CC: space developers, auditors (and in v3 supporters) read their spaces' events, org auditors
# their orgs'; managers, billing managers and org users manage people or money, not apps, and read none.
SPACE_READER_ROLES = {"v2": ("developer", "auditor"), "v3": ("developer", "auditor", "supporter")}
ORGANIZATION_READER_ROLES = ("auditor",)


def targets_of(user_guid, target_type, roles=None):
    """The guids of the spaces (or organizations) where the user holds one of `roles` (any role: None)."""
    conditions = [Role.user_guid == user_guid, Role.target_type == target_type]
    if roles is not None:
        conditions.append(Role.role.in_(roles))
    return select(Role.target_guid).where(and_(*conditions))


def sees_every_event(identity):
    """Whether `identity` may see every audit event of the platform (so counts of all events apply to it)."""
    return identity.has_any(GLOBAL_READERS)


def visible_events(identity, dialect="v2"):
    """The condition an audit event must meet for `identity` to see it, by `dialect`'s rule."""
    if sees_every_event(identity):
        return true()
    if not identity.user_id:
        return false()
    return or_(
        Event.space_guid.in_(targets_of(identity.user_id, "space", SPACE_READER_ROLES[dialect])),
        Event.organization_guid.in_(targets_of(identity.user_id, "organization", ORGANIZATION_READER_ROLES)),
    )


# Organization managers see every space of their organizations, as in CC.
SPACE_SEEING_ORGANIZATION_ROLES = ("manager",)


def visible_resources(identity, kind):
    """The condition a known resource of `kind` must meet for `identity` to see it (V3.md 4): an
    organization or space they hold a role in (or hold one in a space of), an app of a space they read;
    organization managers read every space of their organizations, as in CC."""
    if identity.has_any(GLOBAL_READERS):
        return true()
    user = identity.user_id
    spaces = targets_of(user, "space")
    managed = targets_of(user, "organization", SPACE_SEEING_ORGANIZATION_ROLES)
    if kind == "organization":
        of_spaces = select(KnownResource.organization_guid).where(KnownResource.kind == "space",
                                                                  KnownResource.guid.in_(spaces))
        return or_(KnownResource.guid.in_(targets_of(user, "organization")), KnownResource.guid.in_(of_spaces))
    in_space = KnownResource.guid if kind == "space" else KnownResource.space_guid
    return or_(in_space.in_(spaces), KnownResource.organization_guid.in_(managed))


def visible_usage_events(identity):
    """The condition a usage event must meet for `identity` to see it: only global roles do."""
    return true() if identity.has_any(GLOBAL_READERS) else false()


# The Usage Service's rule: the global readers and its own auditors read every report; an org's billing
# managers (who pay for it) and auditors read their org's, with an ordinary cloud_controller.read token.
USAGE_REPORT_READERS = GLOBAL_READERS | {USAGE_AUDIT}
ORGANIZATION_USAGE_ROLES = ("billing_manager", "auditor")


def reads_usage_reports(identity, org_guid=None):
    """Whether `identity` may read the platform's usage reports (`org_guid`: that organization's)."""
    if identity.has_any(USAGE_REPORT_READERS):
        return True
    if org_guid is None or not identity.user_id or not identity.has_any({READ}):
        return False
    holds = targets_of(identity.user_id, "organization", ORGANIZATION_USAGE_ROLES).where(Role.target_guid == org_guid)
    return db.session.execute(holds.limit(1)).first() is not None
