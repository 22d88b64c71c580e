"""Who may see which events: one query condition, used by every reader of the store."""
from sqlalchemy import false, true

from .auth import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR

# These roles see every event of the platform.
GLOBAL_READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR})


def visible_events(identity):
    """The condition an event must meet for `identity` to see it."""
    if identity.has_any(GLOBAL_READERS):
        return true()
    # Space and organization roles are not stored yet: other readers see no event.
    return false()


def visible_usage_events(identity):
    """The condition a usage event must meet for `identity` to see it: only global roles do."""
    return true() if identity.has_any(GLOBAL_READERS) else false()
