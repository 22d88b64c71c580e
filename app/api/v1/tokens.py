"""POST /v1/tokens/exchange: an API token (HTTP Basic, empty user) for an hour-long bearer token."""
from flask import current_app, request

from app.base.errors import ApiError
from app.identity.api_tokens import active_api_token
from app.identity.tokens import issue_token

from ..responses import json_response
from .blueprint import bp

EXCHANGED_TOKEN_SECONDS = 3600


@bp.post("/tokens/exchange")
def exchange_token():
    if not current_app.config["TOKEN_ISSUER"]:
        raise ApiError("NotFound")
    credentials = request.authorization
    found = None
    if credentials is not None and credentials.type == "basic" and credentials.password:
        found = active_api_token(credentials.password)
    if found is None:
        raise ApiError("InvalidAuthToken")
    user, api_token = found
    # Revoking the API token (or deleting its user) ends the bearer token too.
    token = issue_token(current_app.config["TOKEN_SECRET"], user.scopes.split(), user_id=user.guid,
                        user_name=user.username, email=user.email, client_id="scalingo",
                        expires_in=EXCHANGED_TOKEN_SECONDS, revocable=True, api_token=api_token.guid)
    return json_response({"token": token})
