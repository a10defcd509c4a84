"""What the handlers call: each method checks access through `Tenancy`, then makes one call
into the application or a query. Synchronous: handlers run them off the event loop
(docs/adr/0002). Errors are the domain's; the error middleware gives them statuses.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from engine.cache import TtlCache
from engine.domain.meta import EventMeta
from engine.domain.org import Operation, Role, audits_organization
from engine.errors import NotFoundError
from engine.ingest import open_upload
from engine.tenancy import Principal
from projections.audit_query import AuditFilters
from projections.catalog import AuditPage
from projections.job_views import entry_view, job_view
from tieout.bootstrap import Container

JOB_STATUS_SECONDS = 1.0
"""How long a job's view is served from memory while clients poll it."""


class ApiServices:
    def __init__(self, container: Container) -> None:
        self.container = container
        self.app = container.app
        self.tenancy = container.tenancy
        self.catalog = container.catalog
        self._job_projects: TtlCache[UUID] = TtlCache(float("inf"), 100_000)
        self._job_views: TtlCache[dict[str, Any]] = TtlCache(JOB_STATUS_SECONDS, 10_000)

    def check(self, principal: Principal, project_id: UUID, operation: Operation) -> None:
        """Refuse early (before an upload is read) what the call itself would refuse."""
        self.tenancy.authorize(principal, project_id, operation)

    # Projects and members

    def create_project(self, principal: Principal, name: str, meta: EventMeta) -> UUID:
        return self.tenancy.create_project(principal, name, meta)

    def projects(self, principal: Principal) -> list[dict[str, Any]]:
        return [
            self.project(principal, project_id)
            for project_id in self.tenancy.visible_projects(principal, Operation.READ)
        ]

    def project(self, principal: Principal, project_id: UUID) -> dict[str, Any]:
        """The project as `tieout projects list --json` shows it (`project_id`, `name`,
        `created_at`), with `id` (the same as `project_id`), its latest ruleset version and
        the caller's role in it."""
        role = self.tenancy.authorize(principal, project_id, Operation.READ)
        project = self.app.get_project(project_id)
        return {
            "project_id": project.id,
            "name": project.name,
            "created_at": project.created_on.isoformat(),
            "id": project.id,
            "latest_ruleset_version": project.latest_ruleset_version,
            "role": role.value,
        }

    def add_member(
        self, principal: Principal, project_id: UUID, email: str, role: str, meta: EventMeta
    ) -> dict[str, Any]:
        member = self.tenancy.add_member(principal, project_id, email, Role(role), meta)
        return {"email": member.email, "role": member.role}

    def remove_member(
        self, principal: Principal, project_id: UUID, email: str, meta: EventMeta
    ) -> None:
        self.tenancy.remove_member(principal, project_id, email, meta)

    def members(self, principal: Principal, project_id: UUID) -> list[dict[str, Any]]:
        found = self.tenancy.members(principal, project_id)
        return [{"email": member.email, "role": member.role} for member in found]

    # Sources

    def register_source(
        self,
        principal: Principal,
        project_id: UUID,
        spooled: Path,
        name: str,
        file_format: str,
        meta: EventMeta,
    ) -> dict[str, Any]:
        """Register an upload spooled to `spooled` (a scratch file the caller removes)."""
        self.tenancy.authorize(principal, project_id, Operation.WRITE)
        with open_upload(spooled, file_format) as upload:
            source = self.app.register_source(project_id, replace(upload, name=name), meta)
        return self._source_view(project_id, source)

    def sources(
        self, principal: Principal, project_id: UUID, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        """A page of the project's sources, newest first, as `tieout sources list --json`."""
        self.tenancy.authorize(principal, project_id, Operation.READ)
        return self.container.results.sources(project_id, limit, cursor).as_json()

    def _source_view(self, project_id: UUID, source_id: UUID) -> dict[str, Any]:
        source = self.app.get_source(project_id, source_id)
        return {
            "id": source.id,
            "name": source.name,
            "rows": source.row_count,
            "sha256": source.file_hash,
            "content_hash": source.content_hash,
            "format": source.file_format,
            "columns": source.columns,
        }

    # Rulesets

    def publish_ruleset(
        self, principal: Principal, project_id: UUID, text: str, meta: EventMeta
    ) -> int:
        self.tenancy.authorize(principal, project_id, Operation.WRITE)
        return self.app.publish_ruleset(project_id, text, meta)

    def rulesets(self, principal: Principal, project_id: UUID) -> list[dict[str, Any]]:
        """The project's ruleset versions, oldest first, as `tieout rulesets list --json`
        (from the read models, like the sources)."""
        self.tenancy.authorize(principal, project_id, Operation.READ)
        return self.container.results.rulesets(project_id)

    def ruleset(self, principal: Principal, project_id: UUID, version: int) -> dict[str, Any]:
        self.tenancy.authorize(principal, project_id, Operation.READ)
        project = self.app.get_project(project_id)
        if version not in project.rulesets:
            raise NotFoundError(f"ruleset version {version} not found")
        return {
            "version": version,
            "digest": project.ruleset_digests[version],
            "ruleset": project.rulesets[version],
        }

    # Jobs

    def request_job(
        self, principal: Principal, body: dict[str, Any], key: str, meta: EventMeta
    ) -> dict[str, Any]:
        """Request a job. With an idempotency key, the same body returns the first job (in
        its current status) and another body is a conflict (`Tieout.request_job`)."""
        project_id = body["project_id"]
        self.tenancy.authorize(principal, project_id, Operation.WRITE)
        job, status = self.app.request_job_status(
            project_id,
            body["left_source_id"],
            body["right_source_id"],
            body["ruleset_version"],
            meta,
            idempotency_key=key,
        )
        return {"id": job, "status": status}

    def jobs(
        self,
        principal: Principal,
        project_id: UUID | None,
        statuses: tuple[str, ...],
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        projects = self._readable(principal, project_id, Operation.READ)
        found = self.catalog.job_page(projects, statuses, after, limit)
        return [entry_view(entry) for entry in found]

    def job(self, principal: Principal, job: UUID) -> dict[str, Any]:
        """The job's view; hot jobs are served from memory for up to JOB_STATUS_SECONDS
        (after the access check, which is never cached)."""
        self._authorize_job(principal, job, Operation.READ)
        return self._job_views.get(job, lambda: job_view(self.app, self.container.queue, job))

    def cancel_job(self, principal: Principal, job: UUID, reason: str, meta: EventMeta) -> None:
        self._authorize_job(principal, job, Operation.WRITE)
        self.app.cancel_job(job, reason, meta)

    def _authorize_job(self, principal: Principal, job: UUID, operation: Operation) -> None:
        project = self._job_projects.get(job, lambda: self.app.get_job(job).project_id)
        try:
            self.tenancy.authorize(principal, project, operation)
        except NotFoundError:
            raise NotFoundError(f"job {job} not found") from None

    # Audit and health

    def audit_events(
        self, principal: Principal, filters: AuditFilters, page: AuditPage
    ) -> list[dict[str, Any]]:
        projects = self._readable(principal, filters.project_id, Operation.AUDIT)
        org = principal.org_id if audits_organization(principal.role) else None
        return [row.as_json() for row in self.catalog.audit_page(projects, page, org)]

    def health(self) -> dict[str, Any]:
        """Jobs by status now, and the day's counts (pending, running, completed and failed
        today, dead letters)."""
        stats = self.container.queue.stats(())
        return {"status": "ok", "jobs": stats.jobs_by_status, "counts": self.catalog.job_counts()}

    def _readable(
        self, principal: Principal, project_id: UUID | None, operation: Operation
    ) -> list[UUID]:
        if project_id is None:
            return self.tenancy.visible_projects(principal, operation)
        self.tenancy.authorize(principal, project_id, operation)
        return [project_id]
