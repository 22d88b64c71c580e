"""The apps, spaces and organizations the store knows from its events (models.KnownResource): what cf CLI
v8 looks up by name. What each reader may see of them is identity's rule (visibility.visible_resources)."""
from types import SimpleNamespace

from sqlalchemy import and_, func, select

from app.base.extensions import read

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
def list_known(kind, visible, filters, page, order_by=None):
    """(total, Rows) of the known resources of `kind` meeting `visible` (what the reader may see) and `filters`."""
    where = [KnownResource.kind == kind, visible, *conditions(filters, FIELDS)]
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


def find_known(kind, guid, visible):
    """The known resource `guid` of `kind`, if it meets `visible`."""
    return read(select(*record_columns(KnownResource)).where(
        KnownResource.kind == kind, KnownResource.guid == guid, visible)).first()


def names_of(kind, guids):
    """{guid: name} of known resources (a guid it does not know is its own name)."""
    known = dict(read(select(KnownResource.guid, KnownResource.name).where(
        and_(KnownResource.kind == kind, KnownResource.guid.in_(list(guids))))).all())
    return {guid: known.get(guid, guid) for guid in guids}
