"""The catalogue of event types: pure data checks, no database."""
import pytest

from app.api.v1.catalogue import event_categories_json, event_types_json
from app.store.catalogue import (
    CATEGORIES,
    CLOUD_CONTROLLER,
    EVENT_TYPES,
    JSON_TYPES,
    PRIVATE_DATA_HIDDEN,
    REDACTED,
    SCALINGO,
    Category,
    EventType,
    Field,
    Secret,
    check,
    redact,
)

CRASH = {"instance": "a1b2", "index": 0, "cell_id": "cell-1", "exit_status": 137,
         "exit_description": "out of memory", "reason": "CRASHED"}


def of(vocabulary):
    return [event_type for event_type in EVENT_TYPES.values() if event_type.vocabulary == vocabulary]


def test_both_vocabularies_are_complete():
    assert len(of(CLOUD_CONTROLLER)) >= 120
    assert len(of(SCALINGO)) >= 45
    assert {event_type.vocabulary for event_type in EVENT_TYPES.values()} == {CLOUD_CONTROLLER, SCALINGO}
    for name in ("audit.app.create", "audit.app.update", "audit.space.create", "audit.service_instance.create",
                 "audit.user.space_developer_add", "app.crash", "blob.remove_orphan", "new_app", "rename_app",
                 "transfer_app", "restart", "scale", "deployment", "run", "new_domain", "edit_domain",
                 "delete_domain", "new_addon", "upgrade_addon", "delete_addon", "database/add_feature",
                 "login_success", "complete_database_maintenance"):
        assert name in EVENT_TYPES


def test_names_ids_and_paths_are_unique_and_keyed_right():
    assert all(name == event_type.name for name, event_type in EVENT_TYPES.items())
    listing = event_types_json()
    assert len({entry["id"] for entry in listing}) == len({entry["name"] for entry in listing}) == len(EVENT_TYPES)
    for event_type in EVENT_TYPES.values():
        paths = [field.path for field in event_type.fields]
        assert len(paths) == len(set(paths)), event_type.name


def test_every_type_is_well_formed():
    category_ids = {category.id for category in CATEGORIES}
    for event_type in EVENT_TYPES.values():
        assert isinstance(event_type, EventType)
        assert event_type.category in category_ids, event_type.name
        assert event_type.display_name and event_type.display_name[0].isupper(), event_type.name
        paths = {field.path for field in event_type.fields}
        for field in event_type.fields:
            assert isinstance(field, Field) and field.type in JSON_TYPES, (event_type.name, field)
            parent = field.path.rpartition(".")[0].removesuffix("[]")
            assert not parent or parent in paths, (event_type.name, field.path)  # nested fields have a parent
        for secret in event_type.secrets:
            assert isinstance(secret, Secret) and secret.path in paths, (event_type.name, secret)
            assert secret.replacement in (PRIVATE_DATA_HIDDEN, REDACTED, "***")


def test_categories_are_one_shared_ordered_set():
    ids = [category.id for category in CATEGORIES]
    assert len(ids) == len(set(ids))
    assert all(isinstance(category, Category) for category in CATEGORIES)
    assert [category.position for category in CATEGORIES] == list(range(1, len(CATEGORIES) + 1))
    used = {(event_type.vocabulary, event_type.category) for event_type in EVENT_TYPES.values()}
    assert {category for _, category in used} == set(ids)  # no empty category
    shared = {category for vocabulary, category in used if vocabulary == CLOUD_CONTROLLER} & {
        category for vocabulary, category in used if vocabulary == SCALINGO}
    assert {"app", "process", "deployment", "variable"} <= shared
    assert EVENT_TYPES["scale"].category == EVENT_TYPES["audit.app.process.scale"].category


def test_listings():
    assert event_categories_json()[0] == {"id": "app", "name": "app", "display_name": "Applications", "position": 1}
    new_app = next(entry for entry in event_types_json() if entry["name"] == "new_app")
    assert new_app == {"id": "new_app", "name": "new_app", "category_id": "app", "display_name": "App created",
                       "description": "App created (scalingo event)", "vocabulary": "scalingo",
                       "fields": [{"name": "git_source", "type": "string", "required": False}]}
    crash = next(entry for entry in event_types_json() if entry["name"] == "app.crash")
    # Today's Diego never sends it.
    assert {"name": "exit_status", "type": "scalar", "required": False} in crash["fields"]
    assert {"name": "cell_id", "type": "string", "required": False} in crash["fields"]


def test_cc_facts_carry_over():
    update = EVENT_TYPES["audit.app.update"]
    assert Field("request", "object", True) in update.fields
    assert {"request.environment_json", "request.command", "request.docker_credentials",
            "request.environment_variables"} <= {secret.path for secret in update.secrets}
    # CC records the index from the URL, a string.
    assert EVENT_TYPES["audit.app.ssh-authorized"].fields == (Field("index", "scalar", True),)
    assert Secret("request.credentials", REDACTED) in EVENT_TYPES["audit.user_provided_service_instance.create"].secrets
    assert Secret("request.auth_password", REDACTED) in EVENT_TYPES["audit.service_broker.create"].secrets
    assert Secret("secret", REDACTED) in EVENT_TYPES["audit.service_dashboard_client.create"].secrets


def test_a_valid_event_passes():
    assert check("app.crash", CRASH) == []
    assert check("app.crash", {key: value for key, value in CRASH.items() if key != "cell_id"}) == []  # optional
    assert check("scale", {"previous_containers": {"web": 1}, "containers": {"web": 2}}) == []
    assert check("new_domain", {"hostname": "example.com", "ssl": False}) == []
    assert check("audit.app.start", None) == []


def test_check_catches_wrong_types_and_missing_required_fields():
    crash = {**CRASH, "exit_status": 1.5}
    del crash["reason"]
    assert check("app.crash", crash) == ["exit_status: Must be a string or an integer.",
                                         "reason: Missing data for required field."]
    assert check("scale", {"previous_containers": [1], "containers": {"web": 2}}) == [
        "previous_containers: Must be an object."]
    assert check("scale", {"previous_containers": {"web": 1}}) == ["containers: Missing data for required field."]
    assert check("new_domain", {"name": "example.com", "ssl": "yes"}) == ["ssl: Must be a boolean."]
    assert check("edit_domain", {"ssl": True, "old_ssl": False}) == ["hostname: Missing data for required field."]


def test_what_cc_and_diego_write_passes():
    # Diego's crash without exit_status (never sent today) or exit_description (older CCs).
    assert check("app.crash", {key: value for key, value in CRASH.items()
                               if key not in ("exit_status", "exit_description")}) == []
    assert check("audit.app.ssh-authorized", {"index": "2"}) == []
    # A broker's catalogue sync deletes services and plans with empty metadata.
    assert check("audit.service.delete", {}) == check("audit.service_plan.delete", {}) == []


def test_crashes_of_older_ccs_still_pass():
    # The 2014 API page shows "instance": 0 and "exit_status": "1".
    assert check("app.crash", {**CRASH, "instance": 0, "exit_status": "1"}) == []


def test_booleans_are_not_integers_nor_numbers():
    assert check("app.crash", {**CRASH, "index": True}) == ["index: Must be an integer."]
    assert check("add_credit", {"payment_method": "paypal", "amount": False}) == ["amount: Must be a number."]
    assert check("add_credit", {"payment_method": "paypal", "amount": 50}) == []
    assert check("new_domain", {"hostname": "example.com", "ssl": 1}) == ["ssl: Must be a boolean."]


def test_extra_keys_unknown_types_and_nulls_are_accepted():
    assert check("app.crash", {**CRASH, "crash_count": 3, "something_new": {"x": 1}}) == []
    assert check("no.such.type", {"anything": True}) == []
    assert check("no.such.type", None) == []
    # CC and Scalingo both write null for a value they do not have (a deployment's droplet, "all" containers).
    assert check("audit.app.deployment.cancel", {"deployment_guid": "d", "droplet_guid": None}) == []
    assert check("restart", {"scope": None}) == []


def test_nested_fields():
    assert check("audit.app.delete-request", {}) == []  # request absent: its recursive is not checked
    assert check("audit.app.delete-request", {"request": {"recursive": "yes"}}) == [
        "request.recursive: Must be a boolean."]
    assert check("audit.space.delete-request", {"request": {}}) == [
        "request.recursive: Missing data for required field."]
    assert check("transfer_app", {"old_owner": "johndoe"}) == [
        "old_owner: Must be an object.", "new_owner: Missing data for required field."]
    assert check("edit_variables", {"new_vars": [{"name": "A", "value": "1"}, {"name": 2, "value": "2"}, "C"]}) == [
        "new_vars[1].name: Must be a string.", "new_vars[2]: Must be an object."]


def test_datetimes_are_iso_8601_strings():
    maintenance = {"maintenance_id": "m", "addon_name": "Redis", "maintenance_type": "no-op",
                   "maintenance_window_in_hours": 8, "next_maintenance_window": "2023-09-14T21:00:00.000Z"}
    assert check("plan_database_maintenance", maintenance) == []
    for bad in ("next tuesday", 1694725200):
        assert check("plan_database_maintenance", {**maintenance, "next_maintenance_window": bad}) == [
            "next_maintenance_window: Must be an ISO 8601 date and time."]


def test_secrets_already_replaced_pass_the_type_check():
    hidden = {"request": {"environment_json": PRIVATE_DATA_HIDDEN, "instances": 2}}
    assert check("audit.app.update", hidden) == []
    assert check("audit.app.update", {"request": {"environment_json": ["A=b"]}}) == [
        "request.environment_json: Must be an object."]


def test_redact_app_update_environment():
    metadata = {"request": {"name": "web", "environment_json": {"DATABASE_URL": "postgres://u:p@db"},
                            "encrypted_environment_json": "c2VjcmV0"}, "manifest_triggered": True}
    assert redact("audit.app.update", metadata) == {
        "request": {"name": "web", "environment_json": PRIVATE_DATA_HIDDEN,
                    "encrypted_environment_json": PRIVATE_DATA_HIDDEN}, "manifest_triggered": True}
    assert metadata["request"]["environment_json"] == {"DATABASE_URL": "postgres://u:p@db"}  # a copy


def test_redact_service_secrets():
    upsi = {"request": {"name": "db", "credentials": {"uri": "postgres://u:p@db"}}}
    assert redact("audit.user_provided_service_instance.create", upsi) == {
        "request": {"name": "db", "credentials": REDACTED}}
    managed = {"request": {"name": "db", "parameters": {"admin_password": "x"}}}
    assert redact("audit.service_instance.create", managed) == {
        "request": {"name": "db", "parameters": PRIVATE_DATA_HIDDEN}}
    broker = {"request": {"name": "b", "authentication": {"type": "basic", "credentials": {"password": "pw"}}}}
    assert redact("audit.service_broker.create", broker)["request"]["authentication"] == {
        "type": "basic", "credentials": REDACTED}
    package = {"package_guid": "p", "request": {"type": "docker", "data": {"image": "i", "password": "pw"}}}
    assert redact("audit.app.package.create", package)["request"]["data"] == {"image": "i", "password": "***"}


def test_redact_scalingo_variables():
    assert redact("edit_variable", {"name": "A", "value": "new", "old_value": "old"}) == {
        "name": "A", "value": PRIVATE_DATA_HIDDEN, "old_value": PRIVATE_DATA_HIDDEN}
    bulk = {"new_vars": [{"name": "A", "value": "1"}], "deleted_vars": [{"name": "B", "value": "2"}]}
    assert redact("edit_variables", bulk) == {"new_vars": [{"name": "A", "value": PRIVATE_DATA_HIDDEN}],
                                              "deleted_vars": [{"name": "B", "value": PRIVATE_DATA_HIDDEN}]}


@pytest.mark.parametrize("type_name", ["no.such.type", "audit.app.start", "new_app"])
def test_the_universal_rule_holds_for_every_type(type_name):
    metadata = {"deep": [{"nested": {"secret": "s", "auth_password": "p"}}], "credentials": {"a": 1},
                "request": {"command": "rails s", "docker_credentials": {"password": "x"}, "name": "web"}}
    assert redact(type_name, metadata) == {
        "deep": [{"nested": {"secret": REDACTED, "auth_password": REDACTED}}], "credentials": REDACTED,
        "request": {"command": PRIVATE_DATA_HIDDEN, "docker_credentials": PRIVATE_DATA_HIDDEN, "name": "web"}}


def test_redact_replaces_only_what_is_present():
    assert redact("audit.app.update", {"request": {"name": "web"}}) == {"request": {"name": "web"}}
    assert redact("edit_variable", {"name": "A"}) == {"name": "A"}
    assert redact("audit.app.update", {}) == {}


@pytest.mark.parametrize("key", ["password", "passwd", "token", "api_key", "private_key", "client_secret",
                                 "DB_PASSWORD", "github-token", "Stripe_API_Key", "oauth_client_secret"])
def test_the_secrets_people_put_in_metadata_are_hidden_at_any_depth(key):
    metadata = {"deploy": {"steps": [{"env": {key: "hunter2", "region": "eu"}}]}, key: {"nested": "x"}}
    assert redact("audit.app.update", metadata) == {
        "deploy": {"steps": [{"env": {key: REDACTED, "region": "eu"}}]}, key: REDACTED}


@pytest.mark.parametrize("key", ["token_url", "passwordless", "tokens", "keyring", "username", "api_keys_count"])
def test_names_that_merely_contain_a_secret_word_are_kept(key):
    assert redact("audit.app.update", {key: "v"}) == {key: "v"}


def test_redact_keys_are_configurable_and_checked():
    import subprocess
    import sys

    script = ("from app.store.catalogue import redact, REDACTED; "
              "assert redact('x', {'ssn': 1, 'a': {'Card-Number': 2}, 'n': 3}) == "
              "{'ssn': REDACTED, 'a': {'Card-Number': REDACTED}, 'n': 3}")
    env = {"PATH": "/usr/bin:/bin", "REDACT_KEYS": "ssn, card-number"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    bad = subprocess.run([sys.executable, "-c", "import app.store.catalogue"], env={**env, "REDACT_KEYS": "a b"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "REDACT_KEYS must be comma-separated key names" in bad.stderr
