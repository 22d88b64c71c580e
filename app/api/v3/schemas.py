"""The v3 wire format (CC's v3 presenters), in CC's key order."""
from urllib.parse import quote

from marshmallow import Schema, fields

from app.base.fields import Timestamp, format_timestamp

from ..presenters import Attributes, PerPage, Presenter, SameAs
from ..urls import base_url


def _segment(text):
    """`text` as one segment of a URI: a guid is any text the store holds (CC's are uuids, which need nothing;
    CC escapes a user's, a ':' as %3A, as this does everything but letters, digits and '_.-~')."""
    return quote(text, safe="")


def link(*parts):
    """{"href": …} of a path under /v3, at the service's address as this request reached it."""
    return {"href": "/".join((base_url(), "v3", *map(_segment, parts)))}


def _links(collection):
    def bind():
        prefix = f"{base_url()}/v3/{collection}/"
        return lambda record: {"self": {"href": prefix + _segment(record.guid)}}

    return PerPage(bind)


def _pair(current, previous):
    return Attributes(current=current, previous=previous)


class AuditEventSchema(Schema):
    guid = fields.String()
    created_at = Timestamp(attribute="timestamp")
    updated_at = SameAs("created_at", lambda e: format_timestamp(e.timestamp))
    type = fields.String()
    actor = Attributes(guid="actor", type="actor_type", name="actor_name")
    target = Attributes(guid="actee", type="actee_type", name="actee_name")
    data = fields.Dict(attribute="data")
    # No space or organization is null here (v2 shows "").
    space = fields.Function(lambda e: {"guid": e.space_guid} if e.space_guid else None)
    organization = fields.Function(lambda e: {"guid": e.organization_guid} if e.organization_guid else None)
    links = _links("audit_events")


class AppUsageEventSchema(Schema):
    guid = fields.String()
    created_at = Timestamp()
    updated_at = SameAs("created_at", lambda e: format_timestamp(e.created_at))
    state = _pair("state", "previous_state")
    app = Attributes(guid="parent_app_guid", name="parent_app_name")
    # A task's or a staging's event has no process: CC writes "" for its app guid, and shows null.
    process = fields.Function(lambda e: {"guid": e.app_guid or None, "type": e.process_type})
    space = Attributes(guid="space_guid", name="space_name")
    organization = Attributes(guid="org_guid")
    # The name as stored: credentials in a buildpack's URL were hidden on write (CC's v3 shows them).
    buildpack = Attributes(guid="buildpack_guid", name="buildpack_name")
    task = Attributes(guid="task_guid", name="task_name")
    memory_in_mb_per_instance = _pair("memory_in_mb_per_instance", "previous_memory_in_mb_per_instance")
    instance_count = _pair("instance_count", "previous_instance_count")
    links = _links("app_usage_events")


class ServiceUsageEventSchema(Schema):
    guid = fields.String()
    created_at = Timestamp()
    updated_at = SameAs("created_at", lambda e: format_timestamp(e.created_at))
    state = fields.String()
    space = Attributes(guid="space_guid", name="space_name")
    organization = Attributes(guid="org_guid")
    service_instance = Attributes(guid="service_instance_guid", name="service_instance_name",
                                  type="service_instance_type")
    service_plan = Attributes(guid="service_plan_guid", name="service_plan_name")
    service_offering = Attributes(guid="service_guid", name="service_label")
    service_broker = Attributes(guid="service_broker_guid", name="service_broker_name")
    links = _links("service_usage_events")


def _metadata(_record):
    # The store knows no labels or annotations.
    return {"labels": {}, "annotations": {}}


def _to_one(guid):
    return {"data": {"guid": guid} if guid else None}


def _link_to(key, collection, guid):
    """{key: link} of a related resource, or nothing without one (cloudfoundry-client refuses a null link)."""
    return {key: link(collection, guid)} if guid else {}


class AppSchema(Schema):
    """An app as the store knows it (directory.py); as cf CLI v8 reads one (V3.md 4)."""

    guid = fields.String()
    created_at = Timestamp(attribute="first_seen_at")
    updated_at = fields.Function(lambda r: format_timestamp(r.last_seen_at))
    name = fields.String()
    # An app no start or stop has been seen of is taken as stopped.
    state = fields.Function(lambda r: r.state or "STOPPED")
    relationships = fields.Function(lambda r: {"space": _to_one(r.space_guid)})
    metadata = fields.Function(_metadata)
    links = fields.Function(lambda r: {"self": link("apps", r.guid), **_link_to("space", "spaces", r.space_guid)})


class SpaceSchema(Schema):
    guid = fields.String()
    created_at = Timestamp(attribute="first_seen_at")
    updated_at = fields.Function(lambda r: format_timestamp(r.last_seen_at))
    name = fields.String()
    relationships = fields.Function(lambda r: {"organization": _to_one(r.organization_guid), "quota": _to_one(None)})
    metadata = fields.Function(_metadata)
    links = fields.Function(lambda r: {"self": link("spaces", r.guid),
                                       **_link_to("organization", "organizations", r.organization_guid)})


class OrganizationSchema(Schema):
    guid = fields.String()
    created_at = Timestamp(attribute="first_seen_at")
    updated_at = fields.Function(lambda r: format_timestamp(r.last_seen_at))
    name = fields.String()
    suspended = fields.Function(lambda r: False)
    relationships = fields.Function(lambda r: {"quota": _to_one(None)})
    metadata = fields.Function(_metadata)
    links = fields.Function(lambda r: {"self": link("organizations", r.guid)})


def _role_relationships(role):
    other = "organization" if role.target_type == "space" else "space"
    return {"user": _to_one(role.user_guid), role.target_type: _to_one(role.target_guid), other: _to_one(None)}


def _role_links(role):
    return {"self": link("roles", role.guid), "user": link("users", role.user_guid),
            **_link_to(role.target_type, f"{role.target_type}s", role.target_guid)}


class RoleSchema(Schema):
    guid = fields.String()
    created_at = Timestamp()
    updated_at = fields.Function(lambda r: format_timestamp(r.created_at))
    type = fields.Function(lambda r: f"{r.target_type}_{r.role}")
    relationships = fields.Function(_role_relationships)
    links = fields.Function(_role_links)


class UserSchema(Schema):
    """A user a role names: the built-in issuer's (its username, origin uaa), or one of a UAA the store
    does not know (no username; presented by its guid)."""

    guid = fields.String()
    created_at = Timestamp()
    updated_at = fields.Function(lambda r: format_timestamp(r.created_at))
    username = fields.String()
    presentation_name = fields.Function(lambda r: r.username or r.guid)
    origin = fields.String()
    metadata = fields.Function(_metadata)
    links = fields.Function(lambda r: {"self": link("users", r.guid)})


present_audit_events = Presenter(AuditEventSchema()).many
present_app_usage_events = Presenter(AppUsageEventSchema()).many
present_service_usage_events = Presenter(ServiceUsageEventSchema()).many
present_apps = Presenter(AppSchema()).many
present_spaces = Presenter(SpaceSchema()).many
present_organizations = Presenter(OrganizationSchema()).many
present_roles = Presenter(RoleSchema()).many
present_users = Presenter(UserSchema()).many
