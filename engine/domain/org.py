"""Tenancy: organizations own projects; users and API keys act inside one organization.

An organization's stream records which projects it owns and who is a member of each;
a user's stream its organization-wide role; an API key's stream its role and the hash of
its secret (the secret itself is shown once and never stored).

Roles: `admin` (everything in the organization), `analyst` (reads and writes the projects
it is a member of), `auditor` (reads everything in the organization, audit included,
writes nothing), `viewer` (reads the projects it is a member of). An API key acts with
its role across its organization's projects. Access is decided by `effective_role`; an
object the caller cannot see answers `NotFoundError`, never a hint that it exists.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from engine.domain.base import TieoutAggregate
from engine.domain.meta import EventMeta
from engine.errors import BadInputError, ConflictError, TieoutError


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    VIEWER = "viewer"


class Operation(StrEnum):
    """What a caller may do to a project (or, for `CREATE_PROJECT`, to its organization)."""

    READ = "read"
    WRITE = "write"
    MANAGE_MEMBERS = "manage_members"
    AUDIT = "audit"
    CREATE_PROJECT = "create_project"


ALLOWED: dict[Role, frozenset[Operation]] = {
    Role.ADMIN: frozenset(Operation),
    Role.ANALYST: frozenset({Operation.READ, Operation.WRITE, Operation.CREATE_PROJECT}),
    Role.AUDITOR: frozenset({Operation.READ, Operation.AUDIT}),
    Role.VIEWER: frozenset({Operation.READ}),
}
"""The authorization matrix: what each role may do where it has access at all."""

ORG_WIDE = frozenset({Role.ADMIN, Role.AUDITOR})
"""Roles that see every project of their organization without being members."""


def audits_organization(role: Role) -> bool:
    """Whether an organization-wide role reads its organization's own events (users, API
    keys, the organization's stream) beside its projects': admins and auditors. A user who
    administers a project as its member audits that project only."""
    return role in ORG_WIDE and Operation.AUDIT in ALLOWED[role]


class ForbiddenError(TieoutError):
    """The caller can see the object but its role does not allow the operation."""


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise BadInputError(f"role: {text!r} is not one of {known}") from None


def normalize_email(text: str) -> str:
    email = text.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(char.isspace() for char in email):
        raise BadInputError(f"email: {text!r} is not an email address")
    return email


def organization_id(name: str) -> UUID:
    """Organizations are named; the same name is the same organization."""
    return uuid5(NAMESPACE_URL, f"tieout:org:{name.strip().lower()}")


def user_id(email: str) -> UUID:
    """An email address names one user, in one organization."""
    return uuid5(NAMESPACE_URL, f"tieout:user:{email}")


class Organization(TieoutAggregate):
    """A tenant: its projects and each project's members (user id -> role)."""

    class OrganizationCreated(TieoutAggregate.Created):
        name: str

    class ProjectAdded(TieoutAggregate.Event):
        project_id: UUID

    class MemberAdded(TieoutAggregate.Event):
        project_id: UUID
        user_id: UUID
        role: str

    class MemberRemoved(TieoutAggregate.Event):
        project_id: UUID
        user_id: UUID

    @staticmethod
    def create_id(name: str) -> UUID:
        return organization_id(name)

    @event(OrganizationCreated)
    def __init__(self, name: str, meta: EventMeta) -> None:
        del meta
        self.name = name
        self.projects: dict[UUID, dict[UUID, Role]] = {}

    def add_project(self, project_id: UUID, meta: EventMeta) -> None:
        if project_id in self.projects:
            raise ConflictError(f"project {project_id} already belongs to {self.name}")
        self._project_added(project_id=project_id, meta=meta)

    def add_member(self, project_id: UUID, user: UUID, role: Role, meta: EventMeta) -> None:
        """Make `user` a member with `role`; a member again with another role is updated."""
        if self.projects[project_id].get(user) != role:
            self._member_added(project_id=project_id, user_id=user, role=role.value, meta=meta)

    def remove_member(self, project_id: UUID, user: UUID, meta: EventMeta) -> None:
        if user not in self.projects[project_id]:
            raise BadInputError(f"user {user} is not a member of project {project_id}")
        self._member_removed(project_id=project_id, user_id=user, meta=meta)

    @event(ProjectAdded)
    def _project_added(self, project_id: UUID, meta: EventMeta) -> None:
        del meta
        self.projects[project_id] = {}

    @event(MemberAdded)
    def _member_added(self, project_id: UUID, user_id: UUID, role: str, meta: EventMeta) -> None:
        del meta
        self.projects[project_id][user_id] = Role(role)

    @event(MemberRemoved)
    def _member_removed(self, project_id: UUID, user_id: UUID, meta: EventMeta) -> None:
        del meta
        self.projects[project_id].pop(user_id, None)


class User(TieoutAggregate):
    """A person who signs in with a bearer token; belongs to one organization."""

    class UserCreated(TieoutAggregate.Created):
        org_id: UUID
        email: str
        role: str

    class RoleGranted(TieoutAggregate.Event):
        role: str

    @staticmethod
    def create_id(email: str) -> UUID:
        return user_id(email)

    @event(UserCreated)
    def __init__(self, org_id: UUID, email: str, role: str, meta: EventMeta) -> None:
        del meta
        self.org_id = org_id
        self.email = email
        self.role = Role(role)

    def grant(self, role: Role, meta: EventMeta) -> None:
        if role != self.role:
            self._granted(role=role.value, meta=meta)

    @event(RoleGranted)
    def _granted(self, role: str, meta: EventMeta) -> None:
        del meta
        self.role = Role(role)


class ApiKey(TieoutAggregate):
    """A service's credential: its role in its organization and the SHA-256 of its secret."""

    class ApiKeyIssued(TieoutAggregate.Created):
        org_id: UUID
        name: str
        role: str
        secret_sha256: str

    class ApiKeyRevoked(TieoutAggregate.Event):
        reason: str

    @event(ApiKeyIssued)
    def __init__(
        self, org_id: UUID, name: str, role: str, secret_sha256: str, meta: EventMeta
    ) -> None:
        del meta
        self.org_id = org_id
        self.name = name
        self.role = Role(role)
        self.secret_sha256 = secret_sha256
        self.revoked = False

    def revoke(self, reason: str, meta: EventMeta) -> None:
        if self.revoked:
            raise ConflictError(f"API key {self.id} is already revoked")
        self._revoked(reason=reason, meta=meta)

    @event(ApiKeyRevoked)
    def _revoked(self, reason: str, meta: EventMeta) -> None:
        del reason, meta
        self.revoked = True


def effective_role(
    org: Organization, project_id: UUID, role: Role, member: UUID | None
) -> Role | None:
    """The role a caller acts with in a project, or None when it cannot see the project.

    `member` is the user's id (None for an API key, which acts across its organization).
    """
    if project_id not in org.projects:
        return None
    if role in ORG_WIDE or member is None:
        return role
    return org.projects[project_id].get(member)


def check_allowed(role: Role, operation: Operation) -> None:
    if operation not in ALLOWED[role]:
        raise ForbiddenError(f"role {role.value} may not {operation.value.replace('_', ' ')}")
