"""Cloud Controller's audit event types, and the metadata keys each carries: from CC's own list
(app/repositories/event_types.rb) and the repositories that write them (app/repositories/*.rb).

How "required" was decided: required when every code path of today's CC that records the type writes the key
(`request` of audit.app.update, `route_guid` of map-route); optional when a path leaves it out (app.crash's
`cell_id` is absent when Diego does not send it: CC slices the payload) or it is conditional
(`manifest_triggered`). Keys inside `request` are whatever the API request carried, so they are optional
unless CC builds the request hash itself (`request.recursive`). JSON null is accepted for every field,
required or not (checks.py).
"""
from .model import CLOUD_CONTROLLER, PRIVATE_DATA_HIDDEN, REDACTED_CREDENTIAL, declare

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

_ROWS = [
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

# CC's types, in CC's order.
TYPES = [declare(CLOUD_CONTROLLER, *row) for row in _ROWS]
