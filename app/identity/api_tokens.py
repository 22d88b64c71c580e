"""API tokens: created for a user, shown once, stored as a hash, revocable."""
import hashlib
import secrets
import uuid

from sqlalchemy import select

from app.base.extensions import db
from app.store.writes import utcnow

from .models import ApiToken, User

PREFIX = "tk-us-"


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(user, name):
    """Return (record, token): the token itself exists only in this return value."""
    token = PREFIX + secrets.token_hex(32)
    record = ApiToken(guid=str(uuid.uuid4()), user_guid=user.guid, name=name, token_hash=token_hash(token),
                      created_at=utcnow())
    db.session.add(record)
    db.session.commit()
    return record, token


def active_api_token(token):
    """(user, record) of an unrevoked API token, or None."""
    return db.session.execute(
        select(User, ApiToken).join(ApiToken, ApiToken.user_guid == User.guid)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
    ).first()


def revoke_api_token(guid):
    """Revoke a token by its id; False when there is no such unrevoked token."""
    record = db.session.get(ApiToken, guid)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = utcnow()
    db.session.commit()
    return True
