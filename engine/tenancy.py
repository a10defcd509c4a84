"""Tenancy commands: organizations, users, API keys, project ownership and membership,
and the one access check every project-scoped request goes through.

A caller is a `Principal` (a user or an API key) in one organization. `authorize` loads the
organization and decides with `engine.domain.org.effective_role`: a project the caller
cannot see raises `NotFoundError` (the same answer as a project that does not exist), a
visible project with a role that does not allow the operation raises `ForbiddenError`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from engine.application import Tieout
from engine.cache import TtlCache
from engine.domain.meta import EventMeta
from engine.domain.org import (
    ALLOWED,
    ApiKey,
    Operation,
    Organization,
    Role,
    User,
    check_allowed,
    effective_role,
    normalize_email,
    organization_id,
    user_id,
)
from engine.domain.project import Project
from engine.errors import BadInputError, ConflictError, NotFoundError, TieoutError

KEY_PREFIX = "tieout_"
AggregateT = TypeVar("AggregateT")
SAVE_ATTEMPTS = 5  # an organization's stream is shared by its projects: retry a lost race


_OrgChange = Callable[[Organization], None]


class AuthenticationError(TieoutError):
    """The credentials name no active user or key (the caller learns nothing more)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user or an API key, its organization and organization-wide role."""

    kind: str  # "user" or "apikey"
    id: UUID
    org_id: UUID
    role: Role
    name: str  # the user's email, the key's name

    @property
    def actor(self) -> str:
        """How events name the caller (EventMeta.actor)."""
        return f"{self.kind}:{self.name}"

    @property
    def member_id(self) -> UUID | None:
        """The id project membership is keyed by; API keys act across their organization."""
        return self.id if self.kind == "user" else None


@dataclass(frozen=True)
class Member:
    email: str
    role: str


@dataclass(frozen=True)
class IssuedKey:
    """An API key as issued: its id, and its full text, shown this once."""

    id: UUID
    token: str


def key_token(key: UUID, secret: str) -> str:
    return f"{KEY_PREFIX}{key.hex}_{secret}"


def secret_digest(secret: str) -> str:
    """Keys carry 256 random bits, so a plain SHA-256 is as good as a slow hash here."""
    return hashlib.sha256(secret.encode()).hexdigest()


CACHE_SECONDS = 1.0
"""How long a process answers from its own copy of a caller's user, key and organization.
Changes made in this process apply at once; changes made by another process (a revoked
key, a removed member) within this time."""


class Tenancy:
    """The tenancy commands and the access check, over the application's event store."""

    def __init__(self, app: Tieout, cache_seconds: float = CACHE_SECONDS) -> None:
        self.app = app
        self._principals: TtlCache[Principal] = TtlCache(cache_seconds, 100_000)
        self._orgs: TtlCache[Organization] = TtlCache(cache_seconds, 10_000)

    # Operator commands (the CLI): no principal, the operator is trusted.

    def create_user(self, email: str, role: Role, org_name: str, meta: EventMeta) -> User:
        """Create a user (and its organization if new); an existing user gets `role`."""
        clean = normalize_email(email)
        org = self._organization_named(org_name, meta)
        try:
            user = self._load(User, user_id(clean), "user")
        except NotFoundError:
            user = User(org_id=org.id, email=clean, role=role.value, meta=meta)
        if user.org_id != org.id:
            raise ConflictError(f"user {clean} belongs to another organization")
        user.grant(role, meta)
        self.app.save(org, user)
        self._principals.forget(("user", user.id))
        self._orgs.forget(org.id)
        return user

    def issue_api_key(self, org_name: str, role: Role, name: str, meta: EventMeta) -> IssuedKey:
        org = self._organization_named(org_name, meta)
        secret = secrets.token_urlsafe(32)
        key = ApiKey(
            org_id=org.id,
            name=name,
            role=role.value,
            secret_sha256=secret_digest(secret),
            meta=meta,
        )
        self.app.save(org, key)
        return IssuedKey(key.id, key_token(key.id, secret))

    def revoke_api_key(self, key: UUID, reason: str, meta: EventMeta) -> None:
        found = self._load(ApiKey, key, "API key")
        found.revoke(reason, meta)
        self.app.save(found)
        self._principals.clear()  # the cache is keyed by the key's digest, not its id

    # Authentication

    def user_principal(self, user: UUID) -> Principal:
        return self._principals.get(("user", user), lambda: self._user_principal(user))

    def _user_principal(self, user: UUID) -> Principal:
        try:
            found = self._load(User, user, "user")
        except NotFoundError:
            raise AuthenticationError("unknown user") from None
        return Principal("user", found.id, found.org_id, found.role, found.email)

    def key_principal(self, token: str) -> Principal:
        """The principal of an API key's full text (`tieout_<id>_<secret>`)."""
        digest = secret_digest(token)  # the cache never holds a key's text
        return self._principals.get(("key", digest), lambda: self._key_principal(token))

    def _key_principal(self, token: str) -> Principal:
        key_hex, _, secret = token.removeprefix(KEY_PREFIX).partition("_")
        try:
            key = self._load(ApiKey, UUID(hex=key_hex), "API key")
        except (ValueError, NotFoundError):
            raise AuthenticationError("unknown API key") from None
        if key.revoked or not hmac.compare_digest(key.secret_sha256, secret_digest(secret)):
            raise AuthenticationError("unknown API key")
        return Principal("apikey", key.id, key.org_id, key.role, key.name)

    # Authorization

    def authorize(self, principal: Principal, project_id: UUID, operation: Operation) -> Role:
        """The caller's role in the project, if it may do `operation` there."""
        org = self._organization(principal.org_id)
        role = effective_role(org, project_id, principal.role, principal.member_id)
        if role is None:
            raise NotFoundError(f"project {project_id} not found")
        check_allowed(role, operation)
        return role

    def visible_projects(self, principal: Principal, operation: Operation) -> list[UUID]:
        """Every project of the caller's organization where it may do `operation`."""
        org = self._organization(principal.org_id)
        found = []
        for project_id in org.projects:
            role = effective_role(org, project_id, principal.role, principal.member_id)
            if role is not None and operation in ALLOWED[role]:
                found.append(project_id)
        return found

    # Projects and members

    def create_project(self, principal: Principal, name: str, meta: EventMeta) -> UUID:
        """Create a project in the caller's organization; a user creating it becomes its admin."""
        check_allowed(principal.role, Operation.CREATE_PROJECT)
        clean = name.strip()
        if not clean:
            raise BadInputError("name: must not be empty")
        project = Project(name=clean, meta=meta)
        for _ in range(SAVE_ATTEMPTS):
            org = self._load(Organization, principal.org_id, "organization")
            org.add_project(project.id, meta)
            if principal.member_id is not None:
                org.add_member(project.id, principal.member_id, Role.ADMIN, meta)
            try:
                self.app.save(org, project)
            except IntegrityError:
                continue
            self._orgs.forget(org.id)
            return project.id
        raise ConflictError("the organization changed concurrently; try again")

    def project(self, principal: Principal, project_id: UUID) -> Project:
        self.authorize(principal, project_id, Operation.READ)
        return self.app.get_project(project_id)

    def projects(self, principal: Principal) -> list[Project]:
        return [
            self.app.get_project(project_id)
            for project_id in self.visible_projects(principal, Operation.READ)
        ]

    def add_member(
        self, principal: Principal, project_id: UUID, email: str, role: Role, meta: EventMeta
    ) -> Member:
        """Add (or change the role of) a member: a user of the caller's organization."""
        self.authorize(principal, project_id, Operation.MANAGE_MEMBERS)
        user = self._user_in_org(principal.org_id, email)
        self._update_org(principal.org_id, lambda org: org.add_member(project_id, user, role, meta))
        return Member(normalize_email(email), role.value)

    def remove_member(
        self, principal: Principal, project_id: UUID, email: str, meta: EventMeta
    ) -> None:
        self.authorize(principal, project_id, Operation.MANAGE_MEMBERS)
        user = self._user_in_org(principal.org_id, email)
        self._update_org(principal.org_id, lambda org: org.remove_member(project_id, user, meta))

    def members(self, principal: Principal, project_id: UUID) -> list[Member]:
        self.authorize(principal, project_id, Operation.READ)
        org = self._organization(principal.org_id)
        found = [
            Member(self._load(User, user, "user").email, role.value)
            for user, role in org.projects[project_id].items()
        ]
        return sorted(found, key=lambda member: member.email)

    # Helpers

    def _organization(self, org_id: UUID) -> Organization:
        """The organization, as of at most CACHE_SECONDS ago (never mutated: a copy is
        loaded for every change)."""
        return self._orgs.get(org_id, lambda: self._load(Organization, org_id, "organization"))

    def _organization_named(self, name: str, meta: EventMeta) -> Organization:
        clean = name.strip()
        if not clean:
            raise BadInputError("org: must not be empty")
        try:
            return self._load(Organization, organization_id(clean), "organization")
        except NotFoundError:
            return Organization(name=clean, meta=meta)

    def _user_in_org(self, org_id: UUID, email: str) -> UUID:
        """The user with this email in the organization; users of other organizations are
        reported exactly as users that do not exist."""
        clean = normalize_email(email)
        try:
            user = self._load(User, user_id(clean), "user")
        except NotFoundError:
            user = None
        if user is None or user.org_id != org_id:
            raise BadInputError(f"email: no user {clean} in your organization")
        return user.id

    def _update_org(self, org_id: UUID, change: _OrgChange) -> None:
        for _ in range(SAVE_ATTEMPTS):
            org = self._load(Organization, org_id, "organization")
            change(org)
            try:
                self.app.save(org)
            except IntegrityError:
                continue
            self._orgs.forget(org_id)
            return
        raise ConflictError("the organization changed concurrently; try again")

    def _load(self, kind: type[AggregateT], aggregate_id: UUID, label: str) -> AggregateT:
        try:
            found: object = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"{label} {aggregate_id} not found") from None
        if not isinstance(found, kind):
            raise NotFoundError(f"{label} {aggregate_id} not found")
        return found
