"""Identity's tables: the issuer's users and clients, API tokens, and roles in spaces and organizations."""
import uuid

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.base.extensions import db
from app.base.types import UTCDateTime
from app.store.models import Guid, Name


class Role(db.Model):
    """A user's role in a space or an organization, managed as in CC: v2's PUT /v2/spaces/{guid}/auditors/{user}
    and v3's POST /v3/roles write the same rows.

    Space roles are developer, auditor, manager and supporter; organization roles user, auditor,
    manager and billing_manager (v3's types are the target type and the role: space_supporter).
    """

    __tablename__ = "roles"

    target_type: Mapped[str] = mapped_column(String(16), primary_key=True)  # "space" or "organization"
    target_guid: Mapped[str] = mapped_column(Guid, primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_guid: Mapped[str] = mapped_column(Guid, primary_key=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    # v3 names a role by a guid of its own (GET /v3/roles/{guid}).
    guid: Mapped[str] = mapped_column(Guid, unique=True, default=lambda: str(uuid.uuid4()))

    # Visibility asks "which spaces and orgs may this user read?" on every request.
    __table_args__ = (Index("ix_roles_user_guid_role", "user_guid", "role"),)


class User(db.Model):
    """A user of the built-in token issuer (embedded default and tests; production uses a UAA)."""

    __tablename__ = "users"

    guid: Mapped[str] = mapped_column(Guid, primary_key=True)
    username: Mapped[str] = mapped_column(Name, unique=True)
    email: Mapped[str] = mapped_column(Name)
    password_hash: Mapped[str] = mapped_column(String(512))
    scopes: Mapped[str] = mapped_column(String(2048))  # space-separated, as in a token response
    # Failed logins since the last success: each one doubles the wait before the next try.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, nullable=False)


class Client(db.Model):
    """An OAuth client of the built-in issuer; `cf` (no secret) is the one the cf CLI uses."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(Name, primary_key=True)
    secret_hash: Mapped[str | None] = mapped_column(String(512))
    scopes: Mapped[str] = mapped_column(String(2048))  # for client_credentials tokens
    grant_types: Mapped[str] = mapped_column(String(255))  # space-separated
    created_at = mapped_column(UTCDateTime, nullable=False)


class ApiToken(db.Model):
    """A long-lived API token a user exchanges for an hour-long bearer token (POST /v1/tokens/exchange).

    Only a SHA-256 of the token is kept: it is random and long, so a slow password hash adds nothing,
    and a leaked table yields no usable token.
    """

    __tablename__ = "api_tokens"

    guid: Mapped[str] = mapped_column(Guid, primary_key=True)
    user_guid: Mapped[str] = mapped_column(Guid, db.ForeignKey("users.guid", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Name)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    revoked_at = mapped_column(UTCDateTime)
