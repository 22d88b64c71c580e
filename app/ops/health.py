"""Liveness and readiness, for load balancers and orchestrators: public, small, and never a 500."""
import os
from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app

from app.api.responses import json_response
from app.base.extensions import db

bp = Blueprint("health", __name__)


@cache
def migration_heads(directory):
    return frozenset(ScriptDirectory(directory).get_heads())


def _migrations_directory():
    return os.path.join(os.path.dirname(current_app.root_path), "migrations")


@bp.get("/healthz")
def healthz():
    """The process answers: nothing else is touched, so a database outage never restarts it."""
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready to serve: the database answers and its schema is the code's (migrations at head)."""
    checks = {}
    try:
        current = frozenset(MigrationContext.configure(db.session.connection()).get_current_heads())
        checks["database"] = "ok"
        heads = migration_heads(_migrations_directory())
        checks["migrations"] = "ok" if current == heads else (
            f"at {', '.join(sorted(current)) or 'nothing'}, expected {', '.join(sorted(heads))}")
    except Exception as error:  # any failure to reach the database means "not ready", never a 500
        db.session.rollback()
        checks["database"] = f"unavailable ({type(error).__name__})"
        checks["migrations"] = "unknown"
    ready = all(value == "ok" for value in checks.values())
    return json_response({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)
