"""The audit index records the organization of events that belong to no project (users, API
keys, the organization's own stream), so that an organization's admins and auditors read
them and no other organization does; at the query layer and across the migration."""

from __future__ import annotations

from uuid import UUID

import psycopg

from engine.domain.meta import event_meta
from engine.domain.org import Role, organization_id
from projections.audit_query import AuditFilters
from projections.catalog import AuditPage
from projections.database import migrate
from projections.projector import catch_up, rebuild
from tieout.bootstrap import Container

OPERATOR = event_meta(actor="cli:test", causation="test")
ACME, EVIL = organization_id("acme"), organization_id("evil")
ORG_EVENTS = {"OrganizationCreated", "UserCreated", "RoleGranted", "ApiKeyIssued", "ApiKeyRevoked"}


def two_organizations(container: Container) -> UUID:
    """Users and keys in acme and evil (one role changed, one key revoked); a project of
    acme's. Returns the project."""
    tenancy = container.tenancy
    for org in ("acme", "evil"):
        tenancy.create_user(f"boss@{org}.test", Role.ADMIN, org, OPERATOR)
        tenancy.create_user(f"ann@{org}.test", Role.VIEWER, org, OPERATOR)
        tenancy.create_user(f"ann@{org}.test", Role.AUDITOR, org, OPERATOR)  # RoleGranted
        key = tenancy.issue_api_key(org, Role.ANALYST, f"loader-{org}", OPERATOR)
        tenancy.revoke_api_key(key.id, "rotated", OPERATOR)
    boss = tenancy.user_principal(organization_user(container))
    project = tenancy.create_project(boss, "Bank", OPERATOR)
    catch_up(container.projections, timeout_seconds=60)
    return project


def organization_user(container: Container) -> UUID:
    return container.tenancy.create_user("boss@acme.test", Role.ADMIN, "acme", OPERATOR).id


def org_rows(container: Container, org: UUID | None, project: UUID | None = None) -> list[str]:
    """(event type, originator) of what the audit page shows an auditor of `org`."""
    page = AuditPage(AuditFilters(project_id=project, limit=1000))
    projects = [project] if project else []
    return [
        f"{row.event_type}:{row.originator_id}"
        for row in container.catalog.audit_page(projects, page, org)
    ]


def originators(container: Container, org: UUID) -> set[UUID]:
    """The streams that belong to `org` outside its projects: its own, its users', its keys'."""
    with psycopg.connect(container.database_url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT originator_id FROM tieout_audit_index"
            " WHERE org_id = %s AND project_id IS NULL",
            (org,),
        ).fetchall()
    return {row[0] for row in rows}


def test_an_organization_reads_its_own_project_less_events_and_no_others(
    container: Container,
) -> None:
    two_organizations(container)
    acme = org_rows(container, ACME)
    evil = org_rows(container, EVIL)
    assert {entry.split(":")[0] for entry in acme} == ORG_EVENTS
    assert {entry.split(":")[0] for entry in evil} == ORG_EVENTS
    assert not set(acme) & set(evil)
    assert len(acme) == len(evil) == 6  # the org, 2 users, a role granted, a key and its end
    assert org_rows(container, None) == []  # no organization, no project: nothing
    acme_streams = originators(container, ACME)
    assert ACME in acme_streams
    assert EVIL not in acme_streams
    assert not acme_streams & originators(container, EVIL)


def test_the_organization_joins_the_events_of_its_projects_unless_one_is_named(
    container: Container,
) -> None:
    project = two_organizations(container)
    page = AuditPage(AuditFilters(limit=1000))
    both = {row.event_type for row in container.catalog.audit_page([project], page, ACME)}
    assert both >= ORG_EVENTS | {"ProjectCreated", "ProjectAdded", "MemberAdded"}
    named = {entry.split(":")[0] for entry in org_rows(container, ACME, project)}
    assert named >= {"ProjectCreated", "ProjectAdded", "MemberAdded"}
    assert not named & ORG_EVENTS


def test_rebuild_gives_the_same_organizations(container: Container) -> None:
    two_organizations(container)
    before = org_rows(container, ACME), org_rows(container, EVIL)
    rebuild(container.projections)
    assert (org_rows(container, ACME), org_rows(container, EVIL)) == before


def test_the_migration_indexes_the_log_again_to_record_organizations(
    container: Container,
) -> None:
    """An index made before organizations were recorded (no `org_id`) is emptied with its
    position when the column is added, and the projector fills it again from the log."""
    two_organizations(container)
    url = container.database_url
    with psycopg.connect(url) as conn:
        conn.execute("DROP INDEX tieout_audit_index_org")
        conn.execute("ALTER TABLE tieout_audit_index DROP COLUMN org_id")
        indexed = conn.execute("SELECT count(*) FROM tieout_audit_index").fetchone()
    assert indexed is not None
    assert indexed[0] > 0
    migrate(url)
    with psycopg.connect(url) as conn:
        emptied = conn.execute(
            "SELECT (SELECT count(*) FROM tieout_audit_index),"
            " (SELECT count(*) FROM tieout_audit_index_tracking)"
        ).fetchone()
    assert emptied == (0, 0)
    catch_up(container.projections, timeout_seconds=60)
    assert len(org_rows(container, ACME)) == 6
    migrate(url)  # applied already: nothing is emptied again
    assert len(org_rows(container, ACME)) == 6
