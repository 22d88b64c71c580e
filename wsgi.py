"""The one module-level app: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from app import create_app

app = create_app()
