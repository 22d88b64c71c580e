"""The catalogue's model: an event type, its fields and its secrets; the categories both vocabularies share;
the texts secrets are replaced by and the rule for secret keys; and the grammar the two type tables
(cloud_controller.py, scalingo.py) are written in.

Field specs are compact strings: whitespace-separated `path[?][:type]` tokens, where the type defaults
to "string" and a trailing "?" marks the field optional. Paths are dotted ("request.recursive");
"name[]" steps into each element of an array ("new_vars[].value"), as Scalingo's tables write it.
"""
import os
from dataclasses import dataclass
from functools import cached_property, lru_cache

from app.base.config import redact_keys

CLOUD_CONTROLLER = "cloud_controller"
SCALINGO = "scalingo"

# CC's replacement texts (app/presenters/helpers/censorship.rb).
PRIVATE_DATA_HIDDEN = "[PRIVATE DATA HIDDEN]"
REDACTED = "[REDACTED]"
REDACTED_CREDENTIAL = "***"

# The universal rule, which redaction.py applies to every type, known or not: CC hides an app's environment,
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


def declare(vocabulary, name, category, display_name, spec="", secrets=()):
    """A type as a row of its table declares it: its spec parsed, its secrets those the row names and
    those the universal rule implies of its fields."""
    fields = _fields(spec)
    explicit = tuple(Secret(path, replacement) for path, replacement in secrets)
    implied = tuple(s for s in _implied_secrets(fields) if s.path not in {e.path for e in explicit})
    return EventType(name, vocabulary, category, display_name, fields, explicit + implied)
