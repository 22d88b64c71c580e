"""Roles in spaces and organizations: one store behind v2's and v3's role endpoints, read by visibility."""
from sqlalchemy import case, delete, select, true

from app.base.extensions import db, dialect_insert
from app.store.models import KnownResource
from app.store.writes import utcnow

from .models import Role
from .visibility import GLOBAL_READERS, targets_of, visible_resources

# Each target's roles (v3's role types are "<target>_<role>": space_supporter).
ROLES = {"space": ("developer", "auditor", "manager", "supporter"),
         "organization": ("user", "auditor", "manager", "billing_manager")}
TYPES = {f"{target_type}_{role}": (target_type, role) for target_type, roles in ROLES.items() for role in roles}

# The fields a reader may filter roles on (filters.py), as v3 names them.
FIELDS = {
    "guid": Role.guid,
    "created_at": Role.created_at,
    "updated_at": Role.created_at,  # a role never changes
    "user_guid": Role.user_guid,
    "type": Role.target_type + "_" + Role.role,
    "space_guid": case((Role.target_type == "space", Role.target_guid)),
    "organization_guid": case((Role.target_type == "organization", Role.target_guid)),
}


def role_type(role):
    return f"{role.target_type}_{role.role}"


def find_role(target_type, target_guid, role, user_guid):
    return db.session.scalar(select(Role).where(
        Role.target_type == target_type, Role.target_guid == target_guid, Role.role == role,
        Role.user_guid == user_guid))


def grant(target_type, target_guid, role, user_guid):
    """(the role, whether this call created it): granting a role the user holds already changes nothing.

    Written first, then read: two grants of one role at once store it once (the second skips it at the
    primary key), and on SQLite a transaction that writes first waits for the write lock, where one that
    read first would be refused it ("database is locked").
    """
    insert_or_skip = dialect_insert(Role.__table__).on_conflict_do_nothing().returning(Role.guid)
    created = db.session.execute(insert_or_skip, {
        "target_type": target_type, "target_guid": target_guid, "role": role, "user_guid": user_guid,
        "created_at": utcnow()}).first()
    db.session.commit()
    return find_role(target_type, target_guid, role, user_guid), created is not None


def revoke(target_type, target_guid, role, user_guid):
    db.session.execute(delete(Role).where(
        Role.target_type == target_type, Role.target_guid == target_guid, Role.role == role,
        Role.user_guid == user_guid))
    db.session.commit()


def readable_roles(identity):
    """The roles `identity` may see: every role for the global roles; else the roles of the spaces and
    organizations it may see (visibility.py: where it holds a role, and an organization manager's spaces),
    as CC's roles_controller reads them."""
    if identity.has_any(GLOBAL_READERS):
        return true()
    spaces = select(KnownResource.guid).where(KnownResource.kind == "space", visible_resources(identity, "space"))
    in_space = Role.target_guid.in_(targets_of(identity.user_id, "space")) | Role.target_guid.in_(spaces)
    in_organization = Role.target_guid.in_(targets_of(identity.user_id, "organization"))
    return ((Role.target_type == "space") & in_space) | ((Role.target_type == "organization") & in_organization)
