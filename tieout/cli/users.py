"""`tieout users` and `tieout apikeys`: the operator's way in to the API.

Each command prints what it made and, as its last line, the credential to send as
`Authorization: Bearer ...`, so a script can take it with `tail -n 1`.
"""

from __future__ import annotations

import click

from engine.domain.org import Role, normalize_email, parse_role, user_id
from tieout.cli.context import cli_meta, container, parse_id
from tieout.cli.root import cli

ROLES = tuple(role.value for role in Role)
DEFAULT_ORG = "default"


@cli.group()
def users() -> None:
    """Users of the HTTP API and their bearer tokens."""


@users.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="Organization-wide role.")
@click.option("--org", default=DEFAULT_ORG, show_default=True, help="Organization (made if new).")
def create_user(email: str, role: str, org: str) -> None:
    """Create a user (an existing one gets ROLE); prints a bearer token as the last line."""
    with container() as built:
        user = built.tenancy.create_user(email, parse_role(role), org, cli_meta("users.create"))
        click.echo(f"user {user.email} ({user.role.value}) in {org}: {user.id}")
        click.echo(built.tokens.issue(user.id))


@users.command("token")
@click.argument("email")
@click.option("--ttl", type=click.IntRange(60), default=None, help="Lifetime in seconds.")
def user_token(email: str, ttl: int | None) -> None:
    """A new bearer token for an existing user (TIEOUT_TOKEN_TTL_SECONDS by default)."""
    with container() as built:
        principal = built.tenancy.user_principal(user_id(normalize_email(email)))
        click.echo(built.tokens.issue(principal.id, ttl))


@cli.group()
def apikeys() -> None:
    """API keys for services: an organization-wide role, stored hashed."""


@apikeys.command("create")
@click.option("--org", default=DEFAULT_ORG, show_default=True, help="Organization (made if new).")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default="service", show_default=True, help="Shown as the events' actor.")
def create_key(org: str, role: str, name: str) -> None:
    """Issue an API key; prints its id, then the key itself (shown only this once)."""
    with container() as built:
        issued = built.tenancy.issue_api_key(
            org, parse_role(role), name, cli_meta("apikeys.create")
        )
    click.echo(f"API key {issued.id} ({role}) in {org}")
    click.echo(issued.token)


@apikeys.command("revoke")
@click.argument("key_id")
@click.option("--reason", default="revoked by an operator", show_default=True)
def revoke_key(key_id: str, reason: str) -> None:
    """Revoke an API key at once: it authenticates nothing from now on."""
    with container() as built:
        built.tenancy.revoke_api_key(parse_id(key_id, "key"), reason, cli_meta("apikeys.revoke"))
    click.echo(f"revoked {key_id}")
