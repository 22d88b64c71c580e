"""The apps, spaces and organizations the store knows from its events (models.KnownResource): what cf CLI
v8 looks up by name, and what each reader may see of them."""
from types import SimpleNamespace

from sqlalchemy import and_, func, or_, select, true

from app.base.extensions import read
from app.identity.visibility import GLOBAL_READERS, targets_of

from .filters import conditions
from .models import KnownResource, record_columns
from .pages import fetch_page

FIELDS = {
    "guid": KnownResource.guid,
    "name": KnownResource.name,
    "space_guid": KnownResource.space_guid,
    "organization_guid": KnownResource.organization_guid,
    "created_at": KnownResource.first_seen_at,
    "updated_at": KnownResource.last_seen_at,
}
ORDERS = {
    None: (KnownResource.first_seen_at, KnownResource.guid),  # CC: creation order
    "created_at": (KnownResource.first_seen_at, KnownResource.guid),
    "updated_at": (KnownResource.last_seen_at, KnownResource.guid),
    "name": (KnownResource.name, KnownResource.guid),
    # As shown: an app no start or stop has been seen of is stopped.
    "state": (func.coalesce(KnownResource.state, "STOPPED"), KnownResource.guid),
}
# Organization managers see every space of their organizations, as in CC.
SPACE_SEEING_ORGANIZATION_ROLES = ("manager",)


def visible(identity, kind):
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


def list_known(identity, kind, filters, page, order_by=None):
    """(total, Rows) of the known resources of `kind` that `identity` may see, meeting `filters`."""
    where = [KnownResource.kind == kind, visible(identity, kind), *conditions(filters, FIELDS)]
    return fetch_page(KnownResource, where, ORDERS[order_by], page)


def known_or_named(kind, guids, seen_at):
    """The known resources `guids` of `kind`; one the store has never seen stands in by its guid, as
    seen at `seen_at` (a role may name a space no event has shown yet)."""
    rows = {row.guid: row for row in read(select(*record_columns(KnownResource)).where(
        KnownResource.kind == kind, KnownResource.guid.in_(list(guids)))).all()}
    return [rows.get(guid) or SimpleNamespace(kind=kind, guid=guid, name=guid, named_at=None, space_guid=None,
                                              organization_guid=None, state=None, state_at=None,
                                              first_seen_at=seen_at, last_seen_at=seen_at)
            for guid in guids]


def find_known(identity, kind, guid):
    """The known resource `guid` of `kind`, if `identity` may see it."""
    return read(select(*record_columns(KnownResource)).where(
        KnownResource.kind == kind, KnownResource.guid == guid, visible(identity, kind))).first()


def names_of(kind, guids):
    """{guid: name} of known resources (a guid it does not know is its own name)."""
    known = dict(read(select(KnownResource.guid, KnownResource.name).where(
        and_(KnownResource.kind == kind, KnownResource.guid.in_(list(guids))))).all())
    return {guid: known.get(guid, guid) for guid in guids}
