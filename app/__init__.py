"""cf-events: Cloud Foundry audit and usage events over one event store."""
import os

from flask import Flask

from app.base import config as settings


def create_app(config=None):
    """Build the application; `config` (a mapping) overrides settings read from the environment."""
    # No static folder: nothing here is served from files (Flask would add a route for one).
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(settings.from_environment(os.environ, app.instance_path))
    app.config.update(config or {})
    register_settings(app)
    register_extensions(app)
    register_responses(app)
    register_operations(app)
    register_limits(app)
    register_blueprints(app)
    register_usage(app)
    register_commands(app)
    return app


def register_settings(app):
    from app.base.database import load_stored_json
    from app.base.metrics import engine_options
    from app.identity.tokens import TokenKeys

    keys = TokenKeys.from_config(app.config)
    app.extensions["token_keys"] = keys
    # The built-in issuer signs with TOKEN_SECRET; it is off in production, where a UAA's keys
    # are configured instead.
    app.config["TOKEN_ISSUER"] = bool(app.config.get("TOKEN_ISSUER", True) and keys.secret and not keys.external)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "json_deserializer": load_stored_json,
        **engine_options(app.config["SQLALCHEMY_DATABASE_URI"]),
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }


def register_extensions(app):
    from app.base import database  # noqa: F401  (connection set-up for SQLite)
    from app.base.extensions import db, migrate

    db.init_app(app)
    migrations = os.path.join(os.path.dirname(app.root_path), "migrations")
    migrate.init_app(app, db, directory=migrations, render_as_batch=True, compare_type=True)


def register_responses(app):
    from app.api import errors, responses, urls

    errors.init_app(app)
    responses.init_app(app)
    urls.init_app(app)


def register_operations(app):
    """Request logs and metrics first, so that they see every request, even one refused by the limits."""
    from app.ops import logs, metrics

    logs.init_app(app)
    metrics.init_app(app)


def register_limits(app):
    from app.api import limits

    limits.init_app(app)


def register_blueprints(app):
    from app.api.console import bp as console
    from app.api.discovery import bp as discovery
    from app.api.oauth import bp as oauth
    from app.api.openapi import bp as openapi
    from app.api.reports import bp as usage_reports
    from app.api.v1 import bp as v1
    from app.api.v2 import bp as v2
    from app.api.v3 import bp as v3
    from app.ops.health import bp as health
    from app.ops.metrics import bp as metrics

    app.register_blueprint(discovery)
    app.register_blueprint(v1)
    app.register_blueprint(v2)
    app.register_blueprint(v3)
    app.register_blueprint(usage_reports)
    app.register_blueprint(oauth)
    app.register_blueprint(openapi)
    app.register_blueprint(console)
    app.register_blueprint(health)
    app.register_blueprint(metrics)


def register_usage(app):
    from app.usage import metering

    metering.init_app(app)


def register_commands(app):
    from app.ops import cli

    cli.init_app(app)
