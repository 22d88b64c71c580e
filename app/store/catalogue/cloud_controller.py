"""The catalogue of known audit event types of both vocabularies, as data.

Cloud Controller's types, and the metadata keys each carries, come from CC's own list
(app/repositories/event_types.rb) and the repositories that write them (app/repositories/*.rb);
Scalingo's types and their `type_data` fields come from reference/scalingo-events-v1-current.txt.
Validation (`check`), redaction (`redact`) and the /v1/event_types and /v1/event_categories listings
are all read from this one table, so a type is described once and nowhere else.

Field specs are compact strings: whitespace-separated `path[?][:type]` tokens, where the type defaults
to "string" and a trailing "?" marks the field optional. Paths are dotted ("request.recursive");
"name[]" steps into each element of an array ("new_vars[].value"), as Scalingo's tables write it.

How "required" was decided:
- CC: required when every code path of today's CC that records the type writes the key
  (`request` of audit.app.update, `route_guid` of map-route); optional when a path leaves it out
  (app.crash's `cell_id` is absent when Diego does not send it: CC slices the payload) or it is
  conditional (`manifest_triggered`). Keys inside `request` are whatever the API request carried,
  so they are optional unless CC builds the request hash itself (`request.recursive`).
- Scalingo: required unless the reference marks the field optional or conditional ("if user exists",
  "if an addon restarted the app"), or one of the reference's own examples for the type leaves it out.
  Scalingo's examples are what its API is known to have sent, so they win over its tables, even where
  they look like slips (`name` for hostname in new_domain, `value` for amount in add_credit,
  `linker_username` for unlinker_username, another type's data under rename_app, new_addon,
  edit_variable and run): every example event of the reference is accepted as written.
- JSON null is accepted for every field, present or not required: CC writes null for absent values
  (a deployment's droplet_guid, a mapping's weight, a purge's request) and Scalingo does as well
  (`scope: null` means all, an HDS contact's address_line2).
"""
import os
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache

from app.base.config import redact_keys

CLOUD_CONTROLLER = "cloud_controller"
SCALINGO = "scalingo"

# CC's replacement texts (app/presenters/helpers/censorship.rb).
PRIVATE_DATA_HIDDEN = "[PRIVATE DATA HIDDEN]"
REDACTED = "[REDACTED]"
REDACTED_CREDENTIAL = "***"

# The rule of app/redaction.py, which holds for every type, known or not: CC hides an app's environment,
# start command and registry login in a request; credentials and passwords are secret wherever they appear.
PRIVATE_REQUEST_FIELDS = ("environment_json", "command", "docker_credentials", "environment_variables")
# Keys whose values are secret wherever they appear: CC's own, and what people put in metadata. A key is
# secret when it is one of them or ends in one ("db_password", "github-token"), in any case; REDACT_KEYS
# (comma-separated) adds more. Read once, at start, so that the checks and the listing agree with it.
DEFAULT_SECRET_FIELDS = ("credentials", "auth_password", "secret", "password", "passwd", "token", "api_key",
                         "private_key", "client_secret")
SECRET_FIELDS = DEFAULT_SECRET_FIELDS + redact_keys(os.environ.get("REDACT_KEYS"))


@lru_cache(maxsize=8192)
def is_secret_key(key):
    normal = key.lower().replace("-", "_")
    return any(normal == name or normal.endswith("_" + name) for name in SECRET_FIELDS)

JSON_TYPES = ("string", "boolean", "integer", "float", "scalar", "object", "array", "datetime")


@dataclass(frozen=True)
class Field:
    path: str
    type: str
    required: bool

    # Split once: check() runs for every written event.
    @cached_property
    def key(self):
        return self.path.rpartition(".")[2]

    @cached_property
    def parents(self):
        return tuple(self.path.split(".")[:-1])


@dataclass(frozen=True)
class Secret:
    path: str
    replacement: str

    @cached_property
    def segments(self):
        return self.path.split(".")


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    position: int


@dataclass(frozen=True)
class EventType:
    name: str
    vocabulary: str
    category: str
    display_name: str
    fields: tuple
    secrets: tuple

    @cached_property
    def secret_paths(self):
        return frozenset(secret.path for secret in self.secrets)


# One set for both vocabularies: where the two platforms have the same kind of event (an app's restart,
# a scale, a run and a task), it lands in the same category.
CATEGORIES = tuple(Category(id_, name, position) for position, (id_, name) in enumerate((
    ("app", "Applications"),
    ("process", "Processes and containers"),
    ("deployment", "Deployments and builds"),
    ("variable", "Environment variables"),
    ("route", "Routes"),
    ("domain", "Domains"),
    ("service", "Service instances and bindings"),
    ("addon", "Addons and databases"),
    ("marketplace", "Service marketplace"),
    ("collaborator", "Collaborators"),
    ("user", "User roles"),
    ("space", "Spaces"),
    ("organization", "Organizations"),
    ("log_drain", "Log drains"),
    ("scm", "Source code integration"),
    ("billing", "Billing"),
    ("account", "Account and security"),
    ("platform", "Platform"),
), start=1))


def _fields(spec):
    fields = []
    for token in spec.split():
        path, _, type_ = token.partition(":")
        optional = path.endswith("?")
        fields.append(Field(path.rstrip("?"), type_ or "string", not optional))
    return tuple(fields)


def _implied_secrets(fields):
    """The universal rule applied to a type's declared fields, so that its listing names them."""
    for field in fields:
        segments = field.path.split(".")
        if is_secret_key(segments[-1]):
            yield Secret(field.path, REDACTED)
        elif len(segments) == 2 and segments[0] == "request" and segments[1] in PRIVATE_REQUEST_FIELDS:
            yield Secret(field.path, PRIVATE_DATA_HIDDEN)


def _type(vocabulary, name, category, display_name, spec="", secrets=()):
    fields = _fields(spec)
    explicit = tuple(Secret(path, replacement) for path, replacement in secrets)
    implied = tuple(s for s in _implied_secrets(fields) if s.path not in {e.path for e in explicit})
    return EventType(name, vocabulary, category, display_name, fields, explicit + implied)


# --- Cloud Controller -------------------------------------------------------------------------------
# Requests of app create/update, v2 and v3 keys (CC records what the request carried).
APP_REQUEST = (
    "request:object request.name? request.space_guid? request.stack_guid? request.state? request.instances?:integer "
    "request.memory?:integer request.disk_quota?:integer request.buildpack? request.docker_image? "
    "request.health_check_type? request.health_check_timeout?:integer request.health_check_http_endpoint? "
    "request.enable_ssh?:boolean request.diego?:boolean request.production?:boolean request.ports?:array "
    "request.lifecycle?:object request.relationships?:object request.metadata?:object "
    "request.environment_json?:object request.encrypted_environment_json? request.environment_variables?:object "
    "request.command? request.docker_credentials?:object"
)
# CC's AppEventRepository also censors the encrypted environment (CENSORED_FIELDS).
APP_SECRETS = (("request.encrypted_environment_json", PRIVATE_DATA_HIDDEN),)
MANIFEST = "manifest_triggered?:boolean"
PROCESS = "process_guid process_type"
# Diego's payloads (crashed, rescheduling, readiness changed); CC adds the process `version`.
# Older CCs wrote the instance as a number and the exit status as a string (see the 2014 API page):
# both spellings are accepted, so history imports. Today's Diego never sends exit_status (tps'
# watcher.go leaves it unset, and its struct omits it empty), and CCs before 2021 stored Diego's
# payload as it came, which may lack exit_description.
CRASH = "instance:scalar index:integer cell_id? exit_status?:scalar exit_description? reason"
MAPPING = "route_guid app_port:integer route_mapping_guid? destination_guid process_type weight:integer protocol? " \
    "route_options?:object " + MANIFEST
ROUTE_REQUEST = "request:object request.host? request.domain_guid? request.space_guid? request.path? " \
    "request.port?:integer request.relationships?:object request.metadata?:object request.options?:object"
SPACE_REQUEST = "request:object request.name? request.organization_guid? request.allow_ssh?:boolean " \
    "request.relationships?:object request.metadata?:object"
ORG_REQUEST = "request:object request.name? request.status? request.quota_definition_guid? " \
    "request.suspended?:boolean request.metadata?:object"
BUILDPACK_REQUEST = "request:object request.name? request.stack? request.position?:integer request.enabled?:boolean " \
    "request.locked?:boolean request.lifecycle? request.metadata?:object"
BROKER_REQUEST = "request:object request.name? request.broker_url? request.url? request.auth_username? " \
    "request.auth_password? request.space_guid? request.authentication?:object request.authentication.type? " \
    "request.authentication.credentials?:object request.relationships?:object request.metadata?:object"
INSTANCE_REQUEST = "request:object request.name? request.service_plan_guid? request.space_guid? " \
    "request.parameters?:object request.tags?:array request.type? request.relationships?:object " \
    "request.metadata?:object request.maintenance_info?:object"
# CC hides a managed instance's parameters (ServiceEventRepository#with_parameters_redacted).
INSTANCE_SECRETS = (("request.parameters", PRIVATE_DATA_HIDDEN),)
UPSI_REQUEST = "request:object request.name? request.credentials?:object request.syslog_drain_url? " \
    "request.route_service_url? request.tags?:array request.space_guid? request.type? request.relationships?:object " \
    "request.metadata?:object"
BINDING_REQUEST = "request:object request.app_guid? request.service_instance_guid? request.route_guid? request.name? " \
    "request.type? request.parameters?:object request.relationships?:object request.metadata?:object " \
    "request.data?:object " + MANIFEST
# CC hides a binding request's `data` (censor_request_attributes in the binding repositories).
BINDING_SECRETS = (("request.data", PRIVATE_DATA_HIDDEN),)
VISIBILITY_REQUEST = "request:object request.service_plan_guid? request.organization_guid? request.type? " \
    "request.organizations?:array"
NAMED_REQUEST = "request:object request.name? request.metadata?:object"
# A broker's catalogue sync records the changed columns of the service or plan.
SERVICE_CHANGES = "label? description? active?:boolean bindable?:boolean"
PLAN_CHANGES = "name? description? free?:boolean active?:boolean public?:boolean"
ROLE = "request:object"

_CC = [
    ("audit.app.create", "app", "App created", APP_REQUEST, APP_SECRETS),
    ("audit.app.update", "app", "App updated", APP_REQUEST + " " + MANIFEST, APP_SECRETS),
    ("audit.app.delete-request", "app", "App deletion requested", "request?:object request.recursive?:boolean"),
    ("audit.app.start", "app", "App started"),
    ("audit.app.restart", "app", "App restarted"),
    ("audit.app.restage", "app", "App restaged"),
    # Stopping as part of a deletion says so; `reason` is what cf CLI shows.
    ("audit.app.stop", "app", "App stopped", "delete_triggered?:boolean reason?"),
    ("audit.app.package.create", "deployment", "Package created",
     "package_guid request:object request.type? request.data?:object request.data.image? request.data.username? "
     "request.data.password? request.source_package_guid?", (("request.data.password", REDACTED_CREDENTIAL),)),
    ("audit.app.package.upload", "deployment", "Package uploaded", "package_guid"),
    ("audit.app.package.download", "deployment", "Package downloaded", "package_guid"),
    ("audit.app.package.delete", "deployment", "Package deleted", "package_guid"),
    ("audit.app.process.create", "process", "Process created", PROCESS + " " + MANIFEST),
    ("audit.app.process.update", "process", "Process updated",
     PROCESS + " request:object request.command? request.metadata?:object " + MANIFEST),
    ("audit.app.process.delete", "process", "Process deleted", PROCESS),
    ("audit.app.process.rescheduling", "process", "Process instance rescheduled",
     "instance index:integer cell_id reason version"),
    ("audit.app.process.crash", "process", "Process instance crashed",
     CRASH + " crash_count?:integer crash_timestamp?:integer version"),
    ("audit.app.process.terminate_instance", "process", "Process instance terminated",
     PROCESS + " process_index:integer"),
    ("audit.app.process.scale", "process", "Process scaled",
     PROCESS + " request:object request.instances?:integer request.memory_in_mb?:integer request.disk_in_mb?:integer "
     "request.log_rate_limit_in_bytes_per_second?:integer " + MANIFEST),
    ("audit.app.process.ready", "process", "Process instance ready",
     "instance index:integer cell_id? ready:boolean version"),
    ("audit.app.process.not-ready", "process", "Process instance not ready",
     "instance index:integer cell_id? ready:boolean version"),
    ("audit.app.droplet.create", "deployment", "Droplet created",
     "droplet_guid package_guid? request?:object request.source_droplet_guid?"),
    ("audit.app.droplet.upload", "deployment", "Droplet uploaded", "droplet_guid"),
    ("audit.app.droplet.download", "deployment", "Droplet downloaded", "droplet_guid"),
    ("audit.app.droplet.delete", "deployment", "Droplet deleted", "droplet_guid"),
    ("audit.app.droplet.mapped", "deployment", "Droplet set as current", "request:object request.droplet_guid?"),
    ("audit.app.task.create", "process", "Task created",
     "task_guid request:object request.name? request.memory_in_mb?:integer request.command?"),
    ("audit.app.task.cancel", "process", "Task cancelled",
     "task_guid request:object request.name? request.memory_in_mb?:integer request.command?"),
    ("audit.app.map-route", "route", "Route mapped to app", MAPPING),
    ("audit.app.unmap-route", "route", "Route unmapped from app", MAPPING),
    ("audit.app.build.create", "deployment", "Build created", "build_guid package_guid"),
    ("audit.app.build.staged", "deployment", "Build staged", "build_guid package_guid droplet_guid buildpacks:array"),
    ("audit.app.build.failed", "deployment", "Build failed", "build_guid package_guid error_id error_message"),
    ("audit.app.environment.show", "variable", "App environment viewed"),
    ("audit.app.environment_variables.show", "variable", "App environment variables viewed"),
    ("audit.app.revision.create", "deployment", "Revision created", "revision_guid revision_version:integer"),
    ("audit.app.revision.environment_variables.show", "variable", "Revision environment variables viewed",
     "revision_guid revision_version:integer"),
    ("audit.app.deployment.cancel", "deployment", "Deployment cancelled", "deployment_guid droplet_guid"),
    ("audit.app.deployment.create", "deployment", "Deployment created",
     "deployment_guid droplet_guid type revision_guid request:object strategy"),
    ("audit.app.deployment.continue", "deployment", "Deployment continued", "deployment_guid droplet_guid"),
    # Copying bits records one event on each app: the source names its destination and vice versa.
    ("audit.app.copy-bits", "deployment", "App bits copied", "destination_guid? source_guid?"),
    ("audit.app.upload-bits", "deployment", "App bits uploaded", "package_guid"),
    # The manifest is recorded as YAML text, its `env` already hidden by CC.
    ("audit.app.apply_manifest", "app", "Manifest applied", "request:object request.manifest"),
    # The index as CC read it from the URL: a string ("2").
    ("audit.app.ssh-authorized", "process", "SSH access granted", "index:scalar"),
    ("audit.app.ssh-unauthorized", "process", "SSH access denied", "index:scalar"),
    ("audit.buildpack.create", "platform", "Buildpack created", BUILDPACK_REQUEST),
    ("audit.buildpack.update", "platform", "Buildpack updated", BUILDPACK_REQUEST),
    ("audit.buildpack.delete", "platform", "Buildpack deleted"),
    ("audit.buildpack.upload", "platform", "Buildpack uploaded", "request:object"),
    ("audit.service.create", "marketplace", "Service created", SERVICE_CHANGES),
    ("audit.service.update", "marketplace", "Service updated", SERVICE_CHANGES),
    # A broker's catalogue sync deletes services and plans with empty metadata.
    ("audit.service.delete", "marketplace", "Service deleted", "request?:object request.purge?:boolean"),
    ("audit.service_broker.create", "marketplace", "Service broker created", BROKER_REQUEST),
    ("audit.service_broker.update", "marketplace", "Service broker updated", BROKER_REQUEST),
    ("audit.service_broker.delete", "marketplace", "Service broker deleted", "request:object"),
    ("audit.service_plan.create", "marketplace", "Service plan created", PLAN_CHANGES),
    ("audit.service_plan.update", "marketplace", "Service plan updated", PLAN_CHANGES),
    ("audit.service_plan.delete", "marketplace", "Service plan deleted", "request?:object"),
    ("audit.service_instance.create", "service", "Service instance created", INSTANCE_REQUEST, INSTANCE_SECRETS),
    ("audit.service_instance.update", "service", "Service instance updated", INSTANCE_REQUEST, INSTANCE_SECRETS),
    ("audit.service_instance.delete", "service", "Service instance deleted", INSTANCE_REQUEST, INSTANCE_SECRETS),
    ("audit.service_instance.start_create", "service", "Service instance creation started", INSTANCE_REQUEST,
     INSTANCE_SECRETS),
    ("audit.service_instance.start_update", "service", "Service instance update started", INSTANCE_REQUEST,
     INSTANCE_SECRETS),
    ("audit.service_instance.start_delete", "service", "Service instance deletion started", INSTANCE_REQUEST,
     INSTANCE_SECRETS),
    ("audit.service_instance.bind_route", "service", "Route bound to service instance",
     "request:object request.route_guid"),
    ("audit.service_instance.unbind_route", "service", "Route unbound from service instance",
     "request:object request.route_guid"),
    ("audit.service_instance.share", "service", "Service instance shared", "target_space_guids:array"),
    ("audit.service_instance.unshare", "service", "Service instance unshared", "target_space_guid"),
    ("audit.service_instance.purge", "service", "Service instance purged", INSTANCE_REQUEST, INSTANCE_SECRETS),
    ("audit.service_instance.show", "service", "Service instance viewed", INSTANCE_REQUEST, INSTANCE_SECRETS),
    ("audit.service_binding.create", "service", "Service binding created", BINDING_REQUEST, BINDING_SECRETS),
    ("audit.service_binding.update", "service", "Service binding updated", BINDING_REQUEST, BINDING_SECRETS),
    ("audit.service_binding.delete", "service", "Service binding deleted",
     "request:object request.app_guid request.service_instance_guid request.route_guid?"),
    ("audit.service_binding.start_create", "service", "Service binding creation started", BINDING_REQUEST,
     BINDING_SECRETS),
    ("audit.service_binding.start_delete", "service", "Service binding deletion started",
     "request:object request.app_guid request.service_instance_guid request.route_guid?"),
    ("audit.service_binding.show", "service", "Service binding viewed",
     "request:object request.service_instance_guid request.app_guid?"),
    ("audit.service_key.create", "service", "Service key created", BINDING_REQUEST, BINDING_SECRETS),
    ("audit.service_key.update", "service", "Service key updated", BINDING_REQUEST, BINDING_SECRETS),
    # CC's v2 path records a key's deletion with an empty request.
    ("audit.service_key.delete", "service", "Service key deleted",
     "request:object request.service_instance_guid? request.app_guid? request.route_guid?"),
    ("audit.service_key.start_create", "service", "Service key creation started", BINDING_REQUEST, BINDING_SECRETS),
    ("audit.service_key.start_delete", "service", "Service key deletion started",
     "request:object request.service_instance_guid? request.app_guid? request.route_guid?"),
    ("audit.service_key.show", "service", "Service key viewed", "request:object request.service_instance_guid"),
    ("audit.service_plan_visibility.create", "marketplace", "Service plan visibility created", VISIBILITY_REQUEST),
    ("audit.service_plan_visibility.update", "marketplace", "Service plan visibility updated", VISIBILITY_REQUEST),
    ("audit.service_plan_visibility.delete", "marketplace", "Service plan visibility deleted", VISIBILITY_REQUEST),
    ("audit.service_route_binding.create", "service", "Service route binding created", BINDING_REQUEST,
     BINDING_SECRETS),
    ("audit.service_route_binding.update", "service", "Service route binding updated", BINDING_REQUEST,
     BINDING_SECRETS),
    ("audit.service_route_binding.delete", "service", "Service route binding deleted",
     "request:object request.route_guid request.service_instance_guid request.app_guid?"),
    ("audit.service_route_binding.start_create", "service", "Service route binding creation started",
     BINDING_REQUEST, BINDING_SECRETS),
    ("audit.service_route_binding.start_delete", "service", "Service route binding deletion started",
     "request:object request.route_guid request.service_instance_guid request.app_guid?"),
    ("audit.user_provided_service_instance.create", "service", "User-provided service instance created",
     UPSI_REQUEST),
    ("audit.user_provided_service_instance.update", "service", "User-provided service instance updated",
     UPSI_REQUEST),
    ("audit.user_provided_service_instance.delete", "service", "User-provided service instance deleted",
     UPSI_REQUEST),
    ("audit.user_provided_service_instance.show", "service", "User-provided service instance viewed",
     UPSI_REQUEST),
    ("audit.route.create", "route", "Route created", ROUTE_REQUEST + " " + MANIFEST),
    ("audit.route.update", "route", "Route updated", ROUTE_REQUEST),
    ("audit.route.delete-request", "route", "Route deletion requested", "request:object request.recursive:boolean"),
    ("audit.route.share", "route", "Route shared", "target_space_guids:array"),
    ("audit.route.unshare", "route", "Route unshared", "target_space_guid"),
    ("audit.route.transfer-owner", "route", "Route ownership transferred", "target_space_guid"),
    ("audit.route_policy.create", "route", "Route policy created", "request:object"),
    ("audit.route_policy.update", "route", "Route policy updated", "request:object"),
    ("audit.route_policy.delete", "route", "Route policy deleted"),
    ("audit.organization.create", "organization", "Organization created", ORG_REQUEST),
    ("audit.organization.update", "organization", "Organization updated", ORG_REQUEST),
    ("audit.organization.delete-request", "organization", "Organization deletion requested",
     "request:object request.recursive?:boolean"),
    ("audit.organization_quota.create", "organization", "Organization quota created", NAMED_REQUEST),
    ("audit.organization_quota.update", "organization", "Organization quota updated", NAMED_REQUEST),
    ("audit.organization_quota.delete", "organization", "Organization quota deleted"),
    ("audit.organization_quota.apply", "organization", "Organization quota applied",
     "organization_guid organization_name"),
    ("audit.space.create", "space", "Space created", SPACE_REQUEST),
    ("audit.space.update", "space", "Space updated", SPACE_REQUEST),
    ("audit.space.delete-request", "space", "Space deletion requested", "request:object request.recursive:boolean"),
    ("audit.space_quota.create", "space", "Space quota created", NAMED_REQUEST),
    ("audit.space_quota.update", "space", "Space quota updated", NAMED_REQUEST),
    ("audit.space_quota.delete", "space", "Space quota deleted"),
    ("audit.space_quota.apply", "space", "Space quota applied", "space_guid space_name"),
    ("audit.space_quota.remove", "space", "Space quota removed", "space_guid space_name"),
    ("audit.stack.create", "platform", "Stack created", NAMED_REQUEST + " request.description?"),
    ("audit.stack.update", "platform", "Stack updated", NAMED_REQUEST + " request.description?"),
    ("audit.stack.delete", "platform", "Stack deleted"),
    ("audit.user.space_auditor_add", "user", "Space auditor role granted", ROLE),
    ("audit.user.space_auditor_remove", "user", "Space auditor role revoked", ROLE),
    ("audit.user.space_supporter_add", "user", "Space supporter role granted", ROLE),
    ("audit.user.space_supporter_remove", "user", "Space supporter role revoked", ROLE),
    ("audit.user.space_developer_add", "user", "Space developer role granted", ROLE),
    ("audit.user.space_developer_remove", "user", "Space developer role revoked", ROLE),
    ("audit.user.space_manager_add", "user", "Space manager role granted", ROLE),
    ("audit.user.space_manager_remove", "user", "Space manager role revoked", ROLE),
    # A broker's dashboard client: CC records its secret as already redacted, and only when it has a redirect.
    ("audit.service_dashboard_client.create", "marketplace", "Service dashboard client created",
     "secret? redirect_uri?"),
    ("audit.service_dashboard_client.delete", "marketplace", "Service dashboard client deleted",
     "secret? redirect_uri?"),
    ("audit.user.organization_user_add", "user", "Organization user role granted", ROLE),
    ("audit.user.organization_user_remove", "user", "Organization user role revoked", ROLE),
    ("audit.user.organization_auditor_add", "user", "Organization auditor role granted", ROLE),
    ("audit.user.organization_auditor_remove", "user", "Organization auditor role revoked", ROLE),
    ("audit.user.organization_billing_manager_add", "user", "Organization billing manager role granted", ROLE),
    ("audit.user.organization_billing_manager_remove", "user", "Organization billing manager role revoked", ROLE),
    ("audit.user.organization_manager_add", "user", "Organization manager role granted", ROLE),
    ("audit.user.organization_manager_remove", "user", "Organization manager role revoked", ROLE),
    # CC's two non-audit types: an app instance's exit as Diego reports it, and the blobstore's cleanup.
    ("app.crash", "process", "App instance crashed", CRASH),
    ("blob.remove_orphan", "platform", "Orphaned blob removed"),
]

# --- Scalingo ---------------------------------------------------------------------------------------
DOMAIN = "hostname ssl:boolean"
ADDON = "addon_provider_name plan_name resource_id"
# new_domain's and new_addon's examples leave out what their tables require.
NEW_DOMAIN = "hostname? name? ssl:boolean"
NEW_ADDON = "addon_provider_name plan_name? resource_id"
DB_FEATURE = "feature addon_provider_name addon_provider_id addon_uuid remote_ip"
ADDON_DRAIN = "url addon_uuid addon_name"
SCM_LINK = (
    "repo_name linker_username source branch auto_deploy:boolean auto_deploy_review_apps:boolean "
    "delete_on_close:boolean delete_stale:boolean hours_before_delete_on_close:integer "
    "hours_before_delete_stale:integer creation_from_forks_allowed:boolean"
)
REVIEW_APP = "review_app_name source_repo_name source_repo_url pr_name pr_number:integer pr_url " \
    "pr_comes_from_a_fork:boolean"
REMOTE_IP = "remote_ip"
MAINTENANCE = "maintenance_id addon_name maintenance_type maintenance_window_in_hours:integer " \
    "next_maintenance_window:datetime"
# An app's environment variables are secrets: CC hides them (environment_json, environment_variables),
# so the same values written in Scalingo's words are hidden the same way.
VARIABLE_SECRETS = (("value", PRIVATE_DATA_HIDDEN),)
EDITED_VARIABLE_SECRETS = (("value", PRIVATE_DATA_HIDDEN), ("old_value", PRIVATE_DATA_HIDDEN))
BULK_VARIABLE_SECRETS = tuple((path, PRIVATE_DATA_HIDDEN) for path in (
    "new_vars[].value", "updated_vars[].value", "updated_vars[].old_value", "deleted_vars[].value"))

_SCALINGO = [
    ("new_app", "app", "App created", "git_source?"),
    ("rename_app", "app", "App renamed", "old_name? new_name?"),
    ("transfer_app", "app", "App transferred",
     "old_owner:object old_owner.id old_owner.email old_owner.username "
     "new_owner:object new_owner.id new_owner.email new_owner.username"),
    # An addon restarting the app names itself and no user; a user's restart leaves the addon out.
    ("restart", "app", "App restarted", "scope:array addon_provider?"),
    ("scale", "process", "App scaled", "previous_containers:object containers:object"),
    # The reference's list example shows a deployment with only these five of its fields.
    ("deployment", "deployment", "App deployed",
     "deployment_id deployment_type? pusher git_ref git_ref_url? status stack? duration:integer "
     "finished_at?:datetime last_commits?:object last_commits.commits:array last_commits.remaining:integer"),
    # The list example of the current page shows a run with another type's data.
    ("run", "process", "One-off container run",
     "command? audit_log_id? audit_log_size?:integer detached?:boolean"),
    ("new_domain", "domain", "Domain added", NEW_DOMAIN),
    ("edit_domain", "domain", "Domain edited", DOMAIN + " old_ssl:boolean"),
    ("delete_domain", "domain", "Domain removed", "hostname"),
    ("new_addon", "addon", "Addon added", NEW_ADDON),
    ("upgrade_addon", "addon", "Addon plan changed", "addon_provider_name old_plan_name new_plan_name resource_id"),
    ("delete_addon", "addon", "Addon removed", ADDON),
    ("database/add_feature", "addon", "Database feature enabled", DB_FEATURE),
    ("database/remove_feature", "addon", "Database feature disabled", DB_FEATURE),
    # An invitation names an id and a username only when the invitee already has an account.
    ("new_collaborator", "collaborator", "Collaborator invited",
     "collaborator:object collaborator.id? collaborator.username? collaborator.email"),
    ("accept_collaborator", "collaborator", "Collaborator joined",
     "collaborator:object collaborator.id collaborator.email collaborator.username collaborator.inviter:object "
     "collaborator.inviter.email collaborator.inviter.username"),
    ("delete_collaborator", "collaborator", "Collaborator removed",
     "collaborator:object collaborator.id collaborator.email collaborator.username"),
    ("new_variable", "variable", "Variable added", "name value", VARIABLE_SECRETS),
    ("edit_variable", "variable", "Variable edited", "name? value? old_value?", EDITED_VARIABLE_SECRETS),
    # A bulk edit carries the lists it touched (the reference's example has no deleted_vars); its example
    # also swaps which list has old_value, so old_value is optional.
    ("edit_variables", "variable", "Variables edited",
     "new_vars?:array new_vars[].name new_vars[].value updated_vars?:array updated_vars[].name "
     "updated_vars[].old_value? updated_vars[].value deleted_vars?:array deleted_vars[].name deleted_vars[].value",
     BULK_VARIABLE_SECRETS),
    ("delete_variable", "variable", "Variable removed", "name value", VARIABLE_SECRETS),
    ("add_credit", "billing", "Credit added", "payment_method amount?:float value?:float"),
    # The table nests the profile under billing_profile, the example does not: nothing of it is required
    # but its type, and only a card has a stripe part.
    ("add_payment_method", "billing", "Payment method added",
     "billing_profile?:object billing_profile.company? billing_profile.vat_number? billing_profile.payment_method_type "
     "billing_profile.stripe?:object billing_profile.stripe.brand billing_profile.stripe.last4 "
     "billing_profile.stripe.exp"),
    ("add_voucher", "billing", "Voucher added", "code"),
    ("new_log_drain", "log_drain", "Log drain added", "url"),
    ("delete_log_drain", "log_drain", "Log drain removed", "url"),
    ("new_addon_log_drain", "log_drain", "Addon log drain added", ADDON_DRAIN),
    ("delete_addon_log_drain", "log_drain", "Addon log drain removed", ADDON_DRAIN),
    ("link_scm", "scm", "Repository linked", SCM_LINK),
    ("update_scm", "scm", "Repository link updated", SCM_LINK),
    ("unlink_scm", "scm", "Repository unlinked", "repo_name unlinker_username? linker_username? source"),
    ("create_review_app", "scm", "Review app created", REVIEW_APP + " review_app_url"),
    # The table leaves the review app's URL out, the example has it.
    ("destroy_review_app", "scm", "Review app destroyed", REVIEW_APP + " review_app_url?"),
    ("login_success", "account", "Logged in", REMOTE_IP),
    ("login_failure", "account", "Login failed", REMOTE_IP),
    ("password_reset_query", "account", "Password reset requested", REMOTE_IP),
    ("password_reset_success", "account", "Password reset", REMOTE_IP),
    ("login_lock", "account", "Account locked", REMOTE_IP),
    ("login_unlock_success", "account", "Account unlocked", REMOTE_IP),
    ("create_data_access_consent", "account", "Data access consent given",
     "end_at:datetime databases:boolean containers:boolean remote_ip"),
    # The reference's table lost the name of the `email` row; its example has it.
    ("edit_hds_contact", "app", "HDS contact edited",
     "name email phone_number company address_line1 address_line2 address_city address_zip address_country notes "
     "remote_ip"),
    ("stack_changed", "app", "Stack changed",
     "previous_stack_id current_stack_id previous_stack_name current_stack_name"),
    ("plan_database_maintenance", "addon", "Database maintenance planned", MAINTENANCE),
    ("start_database_maintenance", "addon", "Database maintenance started", MAINTENANCE),
    ("complete_database_maintenance", "addon", "Database maintenance completed", MAINTENANCE),
]

EVENT_TYPES = {
    row[0]: _type(vocabulary, *row)
    for vocabulary, rows in ((CLOUD_CONTROLLER, _CC), (SCALINGO, _SCALINGO))
    for row in rows
}


# --- validation -------------------------------------------------------------------------------------
def _is_datetime(value):
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


# Booleans are ints in Python but not integers in JSON.
_TYPE_CHECKS = {
    "string": (lambda value: isinstance(value, str), "Must be a string."),
    "boolean": (lambda value: isinstance(value, bool), "Must be a boolean."),
    "integer": (lambda value: isinstance(value, int) and not isinstance(value, bool), "Must be an integer."),
    "float": (lambda value: isinstance(value, int | float) and not isinstance(value, bool), "Must be a number."),
    "scalar": (lambda value: isinstance(value, str | int) and not isinstance(value, bool),
               "Must be a string or an integer."),
    "object": (lambda value: isinstance(value, dict), "Must be an object."),
    "array": (lambda value: isinstance(value, list), "Must be an array."),
    "datetime": (_is_datetime, "Must be an ISO 8601 date and time."),
}
NOT_AN_OBJECT = "Must be an object."
MISSING = "Missing data for required field."


def _places(container, segments, shown):
    """Where a path's last key would live: (shown path, parent dict) for each parent that is an object.

    Parents that are absent or of another type are skipped (their own field reports them); an array
    step ("name[]") yields one place per element, and an element that is not an object is reported as
    (shown path of the element, None).
    """
    head, *rest = segments
    if not rest:
        yield f"{shown}{head}", container
        return
    if head.endswith("[]"):
        key = head[:-2]
        items = container.get(key)
        if isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    yield from _places(item, rest, f"{shown}{key}[{index}].")
                else:
                    yield f"{shown}{key}[{index}]", None
        return
    child = container.get(head)
    if isinstance(child, dict):
        yield from _places(child, rest, f"{shown}{head}.")


def _places_of(data, field):
    """_places for a field, without the generator's cost for the usual path that steps into no array."""
    segments = field.path.split(".") if "[]" in field.path else None
    if segments:
        return _places(data, segments, "")
    parent = data
    for key in field.parents:
        parent = parent.get(key)
        if not isinstance(parent, dict):
            return ()
    return ((field.path, parent),)


def check(type_name, data):
    """Messages for the wrongly typed and the missing required fields of a known type's metadata/type_data."""
    event_type = EVENT_TYPES.get(type_name)
    if event_type is None:
        return []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return []
    secret_paths = event_type.secret_paths
    messages = []
    for field in event_type.fields:
        is_valid, complaint = _TYPE_CHECKS[field.type]
        for shown, parent in _places_of(data, field):
            if parent is None:
                message = f"{shown}: {NOT_AN_OBJECT}"
            elif field.key not in parent:
                message = f"{shown}: {MISSING}" if field.required else None
            else:
                value = parent[field.key]
                # A secret may arrive already replaced by its text, whatever its own type.
                if value is None or (field.path in secret_paths and isinstance(value, str)) or is_valid(value):
                    message = None
                else:
                    message = f"{shown}: {complaint}"
            if message and message not in messages:
                messages.append(message)
    return messages


def _groups(event_type):
    """The type's fields by the path of the object that holds them: {parents: (required keys, {key: (is
    valid, may be a secret's text)})}; None when a field steps into arrays (conforms defers to check)."""
    if any("[]" in field.path for field in event_type.fields):
        return None
    groups = {}
    for field in event_type.fields:
        required, typed = groups.setdefault(field.parents, (set(), {}))
        if field.required:
            required.add(field.key)
        typed.setdefault(field.key, []).append((_TYPE_CHECKS[field.type][0], field.path in event_type.secret_paths))
    return {parents: (frozenset(required), typed) for parents, (required, typed) in groups.items()}


_GROUPS = {name: _groups(event_type) for name, event_type in EVENT_TYPES.items()}


def conforms(type_name, data):
    """Whether check(type_name, data) would find nothing, answered without building its messages: the
    write path asks this of every event, and most conform."""
    groups = _GROUPS.get(type_name, {})
    if groups is None:
        return not check(type_name, data)
    if not groups or not isinstance(data, dict | None):
        return True
    data = data or {}
    for parents, (required, typed) in groups.items():
        parent = data
        for key in parents:
            parent = parent.get(key)
            if not isinstance(parent, dict):
                break
        else:
            if not required.issubset(parent):
                return False
            for key in typed.keys() & parent.keys():
                value = parent[key]
                # A secret may arrive already replaced by its text, whatever its own type.
                if value is not None and not all((may_be_text and isinstance(value, str)) or valid(value)
                                                 for valid, may_be_text in typed[key]):
                    return False
    return True


# --- redaction --------------------------------------------------------------------------------------
def _replace(container, segments, replacement):
    head, *rest = segments
    if head.endswith("[]"):
        items = container.get(head[:-2])
        if rest and isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    _replace(item, rest, replacement)
    elif not rest:
        if head in container:
            container[head] = replacement
    elif isinstance(container.get(head), dict):
        _replace(container[head], rest, replacement)


def _copy(value):
    """A deep copy of parsed JSON (dicts, lists, scalars): copy.deepcopy costs several times more."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _redact_secret_keys(value):
    if isinstance(value, dict):
        return {key: REDACTED if isinstance(key, str) and is_secret_key(key) else _redact_secret_keys(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_secret_keys(item) for item in value]
    return value


def redact(type_name, data):
    """A copy of the metadata/type_data with every secret replaced by its text, for any type."""
    if not isinstance(data, dict):
        return _copy(data)
    # The copy hides every secret-named key as it goes; then the type's own secret paths.
    redacted = _redact_secret_keys(data)
    event_type = EVENT_TYPES.get(type_name)
    for secret in event_type.secrets if event_type else ():
        _replace(redacted, secret.segments, secret.replacement)
    request = redacted.get("request")
    if isinstance(request, dict):
        for key in PRIVATE_REQUEST_FIELDS:
            if key in request:
                request[key] = PRIVATE_DATA_HIDDEN
    return redacted


# --- listings ---------------------------------------------------------------------------------------
def event_types_json():
    """The catalogue for GET /v1/event_types: CC's types in CC's order, then Scalingo's in the reference's."""
    return [
        {
            "id": event_type.name,
            "name": event_type.name,
            "category_id": event_type.category,
            "display_name": event_type.display_name,
            "description": f"{event_type.display_name} ({event_type.vocabulary} event)",
            "vocabulary": event_type.vocabulary,
            "fields": [{"name": field.path, "type": field.type, "required": field.required}
                       for field in event_type.fields],
        }
        for event_type in EVENT_TYPES.values()
    ]


def event_categories_json():
    """The categories for GET /v1/event_categories, in display order."""
    # Scalingo's client reads `name` as the identifier and `display_name` as the label.
    return [{"id": category.id, "name": category.id, "display_name": category.name, "position": category.position}
            for category in sorted(CATEGORIES, key=lambda category: category.position)]
