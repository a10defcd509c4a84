"""Credentials never reach the log: after API keys are issued and revoked and users are
created (and use their tokens), no stored event, and no row of any table, holds a key's
secret or a token. Only the secret's SHA-256 is recorded."""

from __future__ import annotations

import psycopg
from api_helpers import OPERATOR, Client, bearer
from psycopg import sql

from engine.domain.org import Role
from engine.tenancy import KEY_PREFIX, secret_digest
from projections.projector import catch_up
from tieout.bootstrap import Container


def secret_of(token: str) -> str:
    """`tieout_<key id>_<secret>`: the secret (which may itself hold `_`)."""
    return token.removeprefix(KEY_PREFIX).partition("_")[2]


def stored_states(url: str) -> list[bytes]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT state FROM tieout_events ORDER BY notification_id")
        return [bytes(row[0]) for row in rows.fetchall()]


def every_row_as_text(url: str) -> list[str]:
    """Every row of every table of the database, as PostgreSQL prints it (bytea as hex)."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        found: list[str] = []
        for schema, table in tables:
            query = sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(schema, table))
            found.extend(row[0] for row in conn.execute(query).fetchall())
    return found


async def test_no_secret_is_ever_stored(client: Client, container: Container) -> None:
    tenancy = container.tenancy
    keys = [tenancy.issue_api_key("acme", role, f"svc-{role}", OPERATOR) for role in Role]
    tenancy.revoke_api_key(keys[0].id, "rotated", OPERATOR)
    tokens = []
    for number, role in enumerate(Role):
        user = tenancy.create_user(f"user{number}@acme.test", role, "acme", OPERATOR)
        tokens.append(container.tokens.issue(user.id))
    for credential in [key.token for key in keys[1:]] + tokens:
        made = await client.post("/api/projects", json={"name": "p"}, headers=bearer(credential))
        assert made.status in {201, 403}, await made.text()
    catch_up(container.projections, timeout_seconds=60)

    secrets = [secret_of(key.token) for key in keys]
    forbidden = [key.token for key in keys] + secrets + tokens
    states = stored_states(container.database_url)
    # the states are plain enough to search: what is meant to be there is found
    for key in keys:
        digest = secret_digest(secret_of(key.token)).encode()
        assert sum(digest in state for state in states) == 1
    assert not [text for text in forbidden for state in states if text.encode() in state]
    rows = every_row_as_text(container.database_url)
    assert rows
    in_hex = [text.encode().hex() for text in forbidden]
    assert not [text for text in forbidden + in_hex for row in rows if text in row]
