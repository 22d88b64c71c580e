"""The one module-level app: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from app import create_app
from app.base.config import ConfigError

try:
    app = create_app()
except ConfigError as error:  # a setting to fix: one line, not a traceback
    raise SystemExit(f"cf-events: {error}") from None
