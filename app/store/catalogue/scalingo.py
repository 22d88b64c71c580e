"""Scalingo's event types and their `type_data` fields, from reference/scalingo-events-v1-current.txt.

How "required" was decided: required unless the reference marks the field optional or conditional ("if user
exists", "if an addon restarted the app"), or one of the reference's own examples for the type leaves it out.
Scalingo's examples are what its API is known to have sent, so they win over its tables, even where they look
like slips (`name` for hostname in new_domain, `value` for amount in add_credit, `linker_username` for
unlinker_username, another type's data under rename_app, new_addon, edit_variable and run): every example
event of the reference is accepted as written. JSON null is accepted for every field, required or not
(checks.py).
"""
from .model import PRIVATE_DATA_HIDDEN, SCALINGO, declare

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

_ROWS = [
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

# Scalingo's types, in the reference's order.
TYPES = [declare(SCALINGO, *row) for row in _ROWS]
