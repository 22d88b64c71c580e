"""Command-line tools: `flask --app wsgi token|demo ...` (migrations come as `flask --app wsgi db ...`)."""
import click
from flask import current_app

from .auth import issue_token


@click.command("token")
@click.option("--scope", "scopes", multiple=True, default=["cloud_controller.admin"], show_default=True,
              help="A scope to grant; repeat for several.")
@click.option("--user-id", default="admin", show_default=True, help="The user the token speaks for.")
@click.option("--user-name", default=None, help="The user's name (default: the user id).")
@click.option("--email", default=None, help="The user's email (default: <user-name>@example.com).")
@click.option("--client", "client_only", is_flag=True, help="A client-credentials token, with no user.")
@click.option("--expires-in", default=3600 * 12, show_default=True, help="Seconds until it expires.")
def token_command(scopes, user_id, user_name, email, client_only, expires_in):
    """Print a signed token for local use."""
    click.echo(
        issue_token(
            current_app.config["TOKEN_SECRET"],
            scopes,
            user_id=None if client_only else user_id,
            user_name=user_name,
            email=email,
            expires_in=expires_in,
        )
    )


def init_app(app):
    app.cli.add_command(token_command)
