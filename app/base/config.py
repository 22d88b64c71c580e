"""Settings from the environment, checked once at start-up so a bad value fails fast."""
import os
import re


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the service refuses to start."""


# Shorter HMAC keys are guessable offline from any one token.
MIN_SECRET_LENGTH = 32


def database_url(value, instance_path):
    if not value:
        return "sqlite:///" + os.path.join(instance_path, "cf_events.sqlite3")
    scheme, separator, rest = value.partition("://")
    if not separator:
        raise ConfigError("DATABASE_URL must be a URL such as postgresql://user:password@host/database")
    # Heroku-style URLs say postgres://; SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql://.
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2"):
        return "postgresql+psycopg2://" + rest
    if scheme == "sqlite":
        return value
    raise ConfigError(f"DATABASE_URL must be a postgresql:// or sqlite:// URL, not {scheme}://")


# The development secret `make run` keeps in the instance folder (app/ops/embedded.py), which every
# `flask --app wsgi …` command of the same checkout then reads too.
KEPT_SECRET_FILE = "token_secret"


def kept_token_secret(environ, instance_path):
    """TOKEN_SECRET, or else the one `make run` kept, unless a UAA's keys are configured instead
    (a development secret must never quietly open HS256 next to them)."""
    if environ.get("TOKEN_SECRET") is not None or environ.get("TOKEN_PUBLIC_KEY") or environ.get("TOKEN_JWKS_FILE"):
        return environ.get("TOKEN_SECRET")
    try:
        with open(os.path.join(instance_path, KEPT_SECRET_FILE)) as file:
            return file.read().strip() or None
    except OSError:
        return None


def token_secret(value):
    if value is None:
        return None
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(f"TOKEN_SECRET must be at least {MIN_SECRET_LENGTH} characters long")
    return value


def integer(name, value, minimum, maximum):
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if not minimum <= number <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {number}")
    return number


def external_url(value):
    """The URL clients reach the service at (http or https, a host, maybe a path), without a trailing '/'."""
    if not value:
        return None
    scheme, separator, rest = value.partition("://")
    if scheme not in ("http", "https") or not separator or not rest.strip("/"):
        raise ConfigError(f"EXTERNAL_URL must be an http:// or https:// URL, not {value!r}")
    return value.rstrip("/")


def redact_keys(value):
    """REDACT_KEYS: more metadata keys to hide (comma-separated names of letters, digits, '_' and '-')."""
    keys = tuple(key.strip().lower().replace("-", "_") for key in (value or "").split(",") if key.strip())
    for key in keys:
        if not re.fullmatch(r"[a-z0-9_]{1,100}", key):
            raise ConfigError(f"REDACT_KEYS must be comma-separated key names, not {key!r}")
    return keys


def one_of(name, value, choices):
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def switch(name, value):
    if value not in ("on", "off"):
        raise ConfigError(f"{name} must be 'on' or 'off', not {value!r}")
    return value == "on"


# A batch of 1000 of the largest events Cloud Controller writes (an app update with its whole request,
# a few kB) fits several times over; a body beyond it is refused before it is read.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# The usage figures of a day are final once no late event can still change them: an hour after it.
DEFAULT_USAGE_SETTLING_SECONDS = 3600
# The metrics listener gunicorn.conf.py binds (0: none; /metrics then wants a token on the API's port).
DEFAULT_METRICS_PORT = 9180
# UAA's default is 12 hours; an hour bounds what a leaked token is worth, and every cf tool refreshes.
DEFAULT_ACCESS_TOKEN_VALIDITY = 3600


def from_environment(environ, instance_path):
    """Return the settings mapping read from `environ`."""
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(environ.get("DATABASE_URL"), instance_path),
        "TOKEN_SECRET": token_secret(kept_token_secret(environ, instance_path)),
        "TOKEN_PUBLIC_KEY": environ.get("TOKEN_PUBLIC_KEY"),
        "TOKEN_JWKS_FILE": environ.get("TOKEN_JWKS_FILE"),
        "TOKEN_ISSUER": switch("TOKEN_ISSUER", environ.get("TOKEN_ISSUER", "on")),
        "UAA_URL": environ.get("UAA_URL"),
        "EXTERNAL_URL": external_url(environ.get("EXTERNAL_URL")),
        "TRUSTED_PROXIES": integer("TRUSTED_PROXIES", environ.get("TRUSTED_PROXIES", "0"), 0, 10),
        "V2_API": switch("V2_API", environ.get("V2_API", "on")),
        "DOPPLER_LOGGING_ENDPOINT": environ.get("DOPPLER_LOGGING_ENDPOINT"),
        "APP_SSH_ENDPOINT": environ.get("APP_SSH_ENDPOINT"),
        "PORT": integer("PORT", environ.get("PORT", "8080"), 1, 65535),
        "MAX_BODY_BYTES": integer("MAX_BODY_BYTES", environ.get("MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES)),
                                  1024, 2**31 - 1),
        "ACCESS_TOKEN_VALIDITY": integer(
            "ACCESS_TOKEN_VALIDITY", environ.get("ACCESS_TOKEN_VALIDITY", str(DEFAULT_ACCESS_TOKEN_VALIDITY)),
            60, 7 * 24 * 3600),
        "USAGE_SETTLING_SECONDS": integer(
            "USAGE_SETTLING_SECONDS", environ.get("USAGE_SETTLING_SECONDS", str(DEFAULT_USAGE_SETTLING_SECONDS)),
            0, 31 * 24 * 3600),
        "USAGE_FOLD_ON_WRITE": switch("USAGE_FOLD_ON_WRITE", environ.get("USAGE_FOLD_ON_WRITE", "on")),
        "LOG_FORMAT": one_of("LOG_FORMAT", environ.get("LOG_FORMAT", "text"), ("text", "json")),
        "METRICS_PORT": integer("METRICS_PORT", environ.get("METRICS_PORT", str(DEFAULT_METRICS_PORT)), 0, 65535),
    }
