"""The Usage Service's dialect: usage reports over the rollups (usage/reports.py), as JSON or CSV."""
from .views import bp  # noqa: F401
