"""Secrets in audit-event metadata are replaced on write, so no reader can ever receive them."""

PRIVATE_DATA_HIDDEN = "[PRIVATE DATA HIDDEN]"
REDACTED = "[REDACTED]"

# Request fields CC hides in audit events (an app's environment, start command, registry login).
PRIVATE_REQUEST_FIELDS = frozenset({"environment_json", "command", "docker_credentials", "environment_variables"})
# Fields that are secret wherever they appear (service credentials, broker passwords).
SECRET_FIELDS = frozenset({"credentials", "auth_password", "secret"})


def _redact_secrets(value):
    if isinstance(value, dict):
        return {key: REDACTED if key in SECRET_FIELDS else _redact_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_secrets(item) for item in value]
    return value


def redact_metadata(metadata):
    """Return a copy of an audit event's metadata with its secret values replaced."""
    redacted = _redact_secrets(metadata)
    request = redacted.get("request")
    if isinstance(request, dict):
        redacted["request"] = {
            key: PRIVATE_DATA_HIDDEN if key in PRIVATE_REQUEST_FIELDS else item for key, item in request.items()
        }
    return redacted
