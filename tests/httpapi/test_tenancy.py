"""Tenancy on the in-memory event store: who sees which project, with which role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from engine.application import Tieout
from engine.domain.meta import event_meta
from engine.domain.org import ForbiddenError, Operation, Role
from engine.errors import BadInputError, NotFoundError
from engine.memory import InMemoryFencedRecorder
from engine.tenancy import AuthenticationError, Principal, Tenancy
from snapshots.stores import LocalObjectStore

META = event_meta(actor="cli:test", causation="test")


@pytest.fixture
def tenancy(tmp_path: Path) -> Iterator[Tenancy]:
    app = Tieout(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        LocalObjectStore(str(tmp_path)),
        lambda _: InMemoryFencedRecorder(),
    )
    yield Tenancy(app)
    app.close()


def user(tenancy: Tenancy, email: str, role: Role, org: str = "acme") -> Principal:
    return tenancy.user_principal(tenancy.create_user(email, role, org, META).id)


def test_members_see_their_projects_and_others_see_nothing(tenancy: Tenancy) -> None:
    admin = user(tenancy, "boss@acme.test", Role.ADMIN)
    analyst = user(tenancy, "ann@acme.test", Role.ANALYST)
    auditor = user(tenancy, "aud@acme.test", Role.AUDITOR)
    outsider = user(tenancy, "eve@evil.test", Role.ADMIN, org="evil")
    project = tenancy.create_project(admin, "Bank", META)

    assert [found.id for found in tenancy.projects(admin)] == [project]
    assert tenancy.projects(analyst) == []
    assert [found.id for found in tenancy.projects(auditor)] == [project]
    assert tenancy.projects(outsider) == []
    with pytest.raises(NotFoundError):
        tenancy.project(outsider, project)
    with pytest.raises(NotFoundError):
        tenancy.authorize(analyst, project, Operation.READ)
    with pytest.raises(ForbiddenError):
        tenancy.authorize(auditor, project, Operation.WRITE)

    tenancy.add_member(admin, project, "ANN@acme.test", Role.VIEWER, META)
    assert tenancy.authorize(analyst, project, Operation.READ) == Role.VIEWER
    with pytest.raises(ForbiddenError):
        tenancy.authorize(analyst, project, Operation.WRITE)
    members = {(member.email, member.role) for member in tenancy.members(admin, project)}
    assert members == {("boss@acme.test", "admin"), ("ann@acme.test", "viewer")}
    tenancy.remove_member(admin, project, "ann@acme.test", META)
    with pytest.raises(NotFoundError):
        tenancy.authorize(analyst, project, Operation.READ)


def test_a_user_of_another_org_cannot_be_added_and_is_not_revealed(tenancy: Tenancy) -> None:
    admin = user(tenancy, "boss@acme.test", Role.ADMIN)
    user(tenancy, "eve@evil.test", Role.ADMIN, org="evil")
    project = tenancy.create_project(admin, "Bank", META)
    with pytest.raises(BadInputError) as foreign:
        tenancy.add_member(admin, project, "eve@evil.test", Role.VIEWER, META)
    with pytest.raises(BadInputError) as missing:
        tenancy.add_member(admin, project, "nobody@acme.test", Role.VIEWER, META)
    assert str(foreign.value).replace("eve@evil.test", "X") == str(missing.value).replace(
        "nobody@acme.test", "X"
    )


def test_api_keys_authenticate_until_revoked(tenancy: Tenancy) -> None:
    issued = tenancy.issue_api_key("acme", Role.ANALYST, "loader", META)
    principal = tenancy.key_principal(issued.token)
    assert (principal.kind, principal.role, principal.actor) == (
        "apikey",
        Role.ANALYST,
        "apikey:loader",
    )
    with pytest.raises(AuthenticationError):
        tenancy.key_principal(issued.token[:-2] + "xx")
    with pytest.raises(AuthenticationError):
        tenancy.key_principal("tieout_nothex_secret")
    tenancy.revoke_api_key(issued.id, "rotated", META)
    with pytest.raises(AuthenticationError):
        tenancy.key_principal(issued.token)


def test_viewers_cannot_create_projects(tenancy: Tenancy) -> None:
    viewer = user(tenancy, "vic@acme.test", Role.VIEWER)
    with pytest.raises(ForbiddenError):
        tenancy.create_project(viewer, "Nope", META)


def test_another_projects_source_is_not_found_in_the_words_of_a_missing_one(
    tenancy: Tenancy, tmp_path: Path
) -> None:
    ours = tenancy.create_project(user(tenancy, "boss@acme.test", Role.ADMIN), "Bank", META)
    evil = user(tenancy, "eve@evil.test", Role.ADMIN, org="evil")
    theirs = tenancy.create_project(evil, "Loot", META)
    csv = tmp_path / "loot.csv"
    csv.write_text("txn_id,amount\n1,5\n", encoding="utf-8")
    source = tenancy.app.register_source_file(theirs, csv, META)
    with pytest.raises(NotFoundError) as foreign:
        tenancy.app.get_source(ours, source)
    nowhere = uuid4()
    with pytest.raises(NotFoundError) as missing:
        tenancy.app.get_source(ours, nowhere)
    assert str(foreign.value).replace(str(source), "X") == str(missing.value).replace(
        str(nowhere), "X"
    )
