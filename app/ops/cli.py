"""Command-line tools: `flask --app wsgi token|users|clients ...` (migrations: `flask --app wsgi db ...`)."""
import uuid

import click
from flask import current_app
from sqlalchemy import delete, select

from app.base import version
from app.base.extensions import db
from app.identity.api_tokens import create_api_token, revoke_api_token
from app.identity.issuer import hash_secret
from app.identity.models import ApiToken, Client, Role, User
from app.identity.tokens import issue_token
from app.store.writes import utcnow
from app.usage.metering import fold_command
from app.usage.retention import prune_command

from .follower import follow_command
from .importer import import_command
from .serving import nginx_config


@click.command("token")
@click.option("--scope", "scopes", multiple=True, default=["cloud_controller.admin"], show_default=True,
              help="A scope to grant; repeat for several.")
@click.option("--user-id", default="admin", show_default=True, help="The user the token speaks for.")
@click.option("--user-name", default=None, help="The user's name (default: the user id).")
@click.option("--email", default=None, help="The user's email (default: <user-name>@example.com).")
@click.option("--client", "client_only", is_flag=True, help="A client-credentials token, with no user.")
@click.option("--expires-in", default=3600 * 12, show_default=True, help="Seconds until it expires.")
def token_command(scopes, user_id, user_name, email, client_only, expires_in):
    """Print a token signed with TOKEN_SECRET, for local use."""
    if not current_app.config.get("TOKEN_SECRET"):
        raise click.ClickException("TOKEN_SECRET is not set: there is nothing to sign tokens with")
    click.echo(issue_token(current_app.config["TOKEN_SECRET"], scopes, user_id=None if client_only else user_id,
                           user_name=user_name, email=email, expires_in=expires_in))


@click.command("version")
def version_command():
    """Print the package version and the commit it was built from."""
    click.echo(f"cf-events {version.build()}")


@click.group("users")
def users_group():
    """Users of the built-in token issuer."""


def create_user(name, password, scopes, email=None):
    """Create a user of the built-in issuer, or reset the password and scopes of an existing one."""
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None:
        user = User(guid=str(uuid.uuid4()), username=name, failed_logins=0, created_at=utcnow())
        db.session.add(user)
    user.email = email or user.email or f"{name}@example.com"
    user.password_hash = hash_secret(password)
    user.scopes = " ".join(scopes)
    db.session.commit()
    return user


@users_group.command("create")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--scope", "scopes", multiple=True, default=["cloud_controller.read"], show_default=True,
              help="A scope the user may be granted; repeat for several.")
@click.option("--email", default=None)
def create_user_command(name, password, scopes, email):
    """Create a user (or reset an existing one's password and scopes)."""
    user = create_user(name, password, scopes, email)
    click.echo(f"user {user.username} ({user.guid}) with scopes {user.scopes}")


def _table(rows, headers):
    """Rows as aligned columns under `headers` (what an operator reads; never a secret in it)."""
    rows = [[("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _when(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


@users_group.command("list")
def list_users_command():
    """List the users: name, id, email, scopes, creation time (never a password)."""
    users = db.session.scalars(select(User).order_by(User.username)).all()
    _table([(user.username, user.guid, user.email, user.scopes, _when(user.created_at)) for user in users],
           ["NAME", "ID", "EMAIL", "SCOPES", "CREATED"])


@users_group.command("delete")
@click.argument("name")
def delete_user_command(name):
    """Delete a user; its access, refresh and API tokens stop working at once, and its roles go."""
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None:
        raise click.ClickException(f"no user {name!r}")
    # API tokens go with the user (their foreign key cascades); revocable tokens name a user who is gone.
    db.session.execute(delete(Role).where(Role.user_guid == user.guid))
    db.session.delete(user)
    db.session.commit()
    click.echo(f"user {name} ({user.guid}) deleted; its tokens no longer work")


@click.group("clients")
def clients_group():
    """OAuth clients of the built-in token issuer."""


@clients_group.command("create")
@click.argument("client_id")
@click.option("--secret", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--scope", "scopes", multiple=True, help="A scope of its client_credentials tokens; repeat.")
@click.option("--grant-type", "grant_types", multiple=True, default=["client_credentials"], show_default=True,
              type=click.Choice(["client_credentials", "password", "refresh_token"]))
def create_client_command(client_id, secret, scopes, grant_types):
    """Create a client (or reset an existing one)."""
    client = create_client(client_id, secret, scopes, grant_types)
    click.echo(f"client {client.client_id} with grant types {client.grant_types} and scopes {client.scopes}")


@clients_group.command("list")
def list_clients_command():
    """List the clients: id, grant types, scopes, whether it has a secret, creation time (never the secret)."""
    clients = db.session.scalars(select(Client).order_by(Client.client_id)).all()
    _table([(client.client_id, client.grant_types, client.scopes, "yes" if client.secret_hash else "no",
             _when(client.created_at)) for client in clients], ["CLIENT", "GRANT TYPES", "SCOPES", "SECRET", "CREATED"])


def create_client(client_id, secret, scopes, grant_types=("client_credentials",)):
    """Create a client of the built-in issuer, or reset an existing one."""
    client = db.session.get(Client, client_id) or Client(client_id=client_id, created_at=utcnow())
    client.secret_hash = hash_secret(secret) if secret else None
    client.scopes = " ".join(scopes)
    client.grant_types = " ".join(grant_types)
    db.session.add(client)
    db.session.commit()
    return client


@click.group("tokens")
def tokens_group():
    """API tokens, exchanged for bearer tokens at POST /v1/tokens/exchange."""


@tokens_group.command("create")
@click.option("--user", "username", required=True, help="The user the token acts for.")
@click.option("--name", default="api token", show_default=True, help="A label to recognise it by.")
def create_token_command(username, name):
    """Create an API token; it is shown once, alone on the last line."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username!r}: create it with `flask users create`")
    record, token = create_api_token(user, name)
    click.echo(f"API token {record.guid} for {user.username}; keep it now, it is not shown again:")
    click.echo(token)


@tokens_group.command("list")
@click.option("--all", "everything", is_flag=True, help="Revoked tokens too.")
def list_tokens_command(everything):
    """List API tokens: id, user, name, creation and revocation times (never the token)."""
    query = select(ApiToken, User.username).join(User, User.guid == ApiToken.user_guid).order_by(ApiToken.created_at)
    if not everything:
        query = query.where(ApiToken.revoked_at.is_(None))
    _table([(token.guid, username, token.name, _when(token.created_at), _when(token.revoked_at))
            for token, username in db.session.execute(query)], ["ID", "USER", "NAME", "CREATED", "REVOKED"])


@tokens_group.command("revoke")
@click.argument("token_id")
def revoke_token_command(token_id):
    """Revoke an API token by its id."""
    if not revoke_api_token(token_id):
        raise click.ClickException(f"no active API token {token_id}")
    click.echo(f"API token {token_id} revoked")


@click.group("events")
def events_group():
    """Load and prune the event store."""


events_group.add_command(import_command)
events_group.add_command(follow_command)
events_group.add_command(prune_command)
events_group.add_command(fold_command)


@click.command("nginx-config")
@click.option("--listen", default="80", show_default=True, help="What nginx listens on (a port, or address:port).")
@click.option("--upstream", default="127.0.0.1:8000", show_default=True,
              help="Where gunicorn listens (address:port, or unix:/path/to.sock).")
def nginx_config_command(listen, upstream):
    """Print the nginx server block that fronts gunicorn in production (see README)."""
    click.echo(nginx_config(listen, upstream, current_app.config["MAX_BODY_BYTES"]), nl=False)


def init_app(app):
    for command in (version_command, token_command, users_group, clients_group, tokens_group, events_group,
                    nginx_config_command):
        app.cli.add_command(command)
