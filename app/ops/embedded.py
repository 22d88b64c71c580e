"""`make run`: the service on the embedded SQLite default, migrated, with demo data, under gunicorn.

Keeps a generated development TOKEN_SECRET in instance/ when none is set, so tokens printed by
one run still work in the next.
"""
import os
import secrets
import shutil
import socket
import sys
from datetime import datetime, timedelta, timezone

from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.base import config
from app.base.extensions import db
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE, issue_token
from app.store.models import Event

from .cli import create_user
from .demo import load_demo_events

ADMIN_SCOPES = [ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE]
# The checkout's instance/ (app/ops/ is two levels below the checkout), as Flask's instance_path for wsgi.py.
INSTANCE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "instance")


def kept_secret(name):
    """A random secret generated once and kept in instance/ (readable by its owner only)."""
    path = os.path.join(INSTANCE, name)
    if not os.path.exists(path):
        os.makedirs(INSTANCE, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            # Hex: nothing in it a shell or a URL would misread.
            file.write(secrets.token_hex(16 if name.endswith("password") else 32))
    with open(path) as file:
        return file.read().strip()


def prepare(app):
    """Migrate to head, load the demo data into an empty store, and (re)create the admin user; return it."""
    with app.app_context():
        upgrade()
        if db.session.scalar(select(func.count()).select_from(Event)) == 0:
            audit, usage = load_demo_events()
            print(f"Loading demo data: {audit} audit events, {usage} app and service usage events.", flush=True)
        admin = create_user("admin", kept_secret("admin_password"), ADMIN_SCOPES)
        db.session.expunge(admin)
        db.engine.dispose()
    return admin


def admin_token(secret, admin):
    """The admin user's own token, as logging in as admin gives it (the same identity, and revocable)."""
    return issue_token(secret, [ADMIN], user_id=admin.guid, user_name=admin.username, email=admin.email,
                       expires_in=12 * 3600, revocable=True)


def port_is_free(port):
    try:
        with socket.create_server(("127.0.0.1", port)):
            return True
    except OSError:
        return False


def banner(base, database, token, password):
    """What make run prints before serving: where everything is, and how to get in."""
    this_month = datetime.now(timezone.utc).date().replace(day=1)
    last_month = f"start={(this_month - timedelta(days=1)).replace(day=1)}&end={this_month - timedelta(days=1)}"
    return (
        f"\ncf-events on {base} ({database})\n\n"
        f"Console:  {base}/console/  log in as user admin, password {password}\n"
        f"API docs: {base}/docs  (the OpenAPI document: {base}/openapi.json)\n\n"
        f"Admin token (12 hours; more with `flask --app wsgi token --help`; or log in as admin with\n"
        f"POST {base}/oauth/token):\n{token}\n\n"
        f"Try:\n"
        f"  curl -H 'Authorization: bearer {token}' '{base}/v2/events?q=type:app.crash&results-per-page=5&pretty=1'\n"
        f"  curl -H 'Authorization: bearer {token}' '{base}/v2/events?order-direction=desc&results-per-page=3'\n"
        f"  curl -H 'Authorization: bearer {token}' '{base}/app_usages?{last_month}&order_by=-total_instance_hours'\n"
    )


def main():
    os.environ.setdefault("TOKEN_SECRET", kept_secret(config.KEPT_SECRET_FILE))
    try:
        app = create_app()
    except config.ConfigError as error:
        raise SystemExit(f"cf-events: {error}") from None
    port = app.config["PORT"]
    if not port_is_free(port):  # said first, rather than after the banner by each failing worker
        raise SystemExit(f"cf-events: port {port} is in use; stop what holds it, or choose another: make run PORT=8081")
    token = admin_token(app.config["TOKEN_SECRET"], prepare(app))
    print(banner(f"http://127.0.0.1:{port}", app.config["SQLALCHEMY_DATABASE_URI"], token,
                 kept_secret("admin_password")), flush=True)
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    # The production settings (gunicorn.conf.py) without nginx in front: fine on loopback, but not
    # proof against slow clients (README). Two workers suit the two-core machines this runs on;
    # SQLite in WAL mode lets them share the file.
    os.execv(gunicorn, [gunicorn, "--config", os.path.join(os.path.dirname(INSTANCE), "gunicorn.conf.py"),
                        "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"])


if __name__ == "__main__":
    main()
