"""Every route of the API in one table: method, path, handler, rate tier, the models of its
query, body and answer. The app registers them, the guard middleware reads their tier
(None: public, no credentials), and the OpenAPI document is generated from them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from api.handlers import audit, jobs, ops, projects, results, reviews, rulesets, sources
from api.handlers.docs import docs_page, openapi_document
from api.schemas import (
    ActionRecorded,
    AddMember,
    AuditEvent,
    AuditQuery,
    CancelJob,
    Comment,
    Created,
    CreateJob,
    CreateProject,
    Diff,
    DiffQuery,
    Explanation,
    ExportQuery,
    Health,
    History,
    HistoryQuery,
    JobAccepted,
    JobDetail,
    JobEntry,
    JobListQuery,
    ManualMatch,
    MemberOut,
    Page,
    PageQuery,
    ProjectOut,
    Replay,
    ResultsQuery,
    RevertAuto,
    ReviewQueueQuery,
    RulesetEntry,
    RulesetOut,
    RulesetVersion,
    SourceOut,
    SourceQuery,
    Stats,
    StatsQuery,
    UnmatchedQuery,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RULESET_TYPES = ("application/yaml", "application/json", "text/plain")
UPLOAD_TYPES = tuple(sources.UPLOAD_TYPES)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tier: str | None
    """Rate tier (`reads`, `writes`, `jobs`, `uploads`); None: public."""
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    content: tuple[str, ...] = ()
    """Media types of a body that is not JSON (uploads, rulesets)."""
    answer: Any = None
    streamed: bool = False
    """Streams its body or its answer: no request timeout (an idle timeout applies)."""
    cached: bool = False
    """A completed job's read: a strong ETag, and 304 for `If-None-Match`."""
    produces: tuple[str, ...] = ()
    """Media types of an answer that is not JSON (exports)."""

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


P = "/api/projects/{project_id}"
J = "/api/reconciliation/jobs"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/health", ops.health, "Liveness and job counts", None, answer=Health),
    Route("GET", "/api/ready", ops.ready, "Database reachable, projections caught up", None),
    Route("GET", "/metrics", ops.metrics, "Prometheus metrics", None),
    Route("GET", "/api/openapi.json", openapi_document, "This API's OpenAPI document", None),
    Route("GET", "/api/docs", docs_page, "This API's documentation page", None),
    Route(
        "POST", "/api/projects", projects.create_project, "Create a project", "writes",
        status=201, body=CreateProject, answer=Created,
    ),
    Route(
        "GET", "/api/projects", projects.list_projects, "Projects the caller can see", "reads",
        query=PageQuery, answer=Page[ProjectOut],
    ),
    Route("GET", P, projects.get_project, "One project", "reads", answer=ProjectOut),
    Route(
        "POST", f"{P}/members", projects.add_member, "Add a member, or change a member's role",
        "writes", status=201, body=AddMember, answer=MemberOut,
    ),
    Route(
        "DELETE", f"{P}/members/{{email}}", projects.remove_member,
        "Remove a member (admins)", "writes", status=204,
    ),
    Route(
        "GET", f"{P}/members", projects.list_members, "A project's members", "reads",
        query=PageQuery, answer=Page[MemberOut],
    ),
    Route(
        "POST", f"{P}/sources", sources.upload_source, "Register a source (the file is the body)",
        "uploads", status=201, query=SourceQuery, content=UPLOAD_TYPES, answer=SourceOut,
        streamed=True,
    ),
    Route(
        "GET", f"{P}/sources", sources.list_sources, "A project's sources, newest first",
        "reads", query=PageQuery, answer=Page[dict[str, Any]],
    ),
    Route(
        "POST", f"{P}/rulesets", rulesets.publish_ruleset, "Publish a ruleset (YAML or JSON)",
        "writes", status=201, content=RULESET_TYPES, answer=RulesetVersion,
    ),
    Route(
        "GET", f"{P}/rulesets", rulesets.list_rulesets, "A project's ruleset versions", "reads",
        query=PageQuery, answer=Page[RulesetEntry],
    ),
    Route(
        "GET", f"{P}/rulesets/{{version}}", rulesets.get_ruleset, "One ruleset version", "reads",
        answer=RulesetOut,
    ),
    Route(
        "POST", J, jobs.create_job, "Request a reconciliation (Idempotency-Key honoured)",
        "jobs", status=202, body=CreateJob, answer=JobAccepted,
    ),
    Route(
        "GET", J, jobs.list_jobs, "Jobs of the caller's projects, newest first", "reads",
        query=JobListQuery, answer=Page[JobEntry],
    ),
    Route("GET", f"{J}/{{job_id}}", jobs.get_job, "One job", "reads", answer=JobDetail),
    Route(
        "POST", f"{J}/{{job_id}}/cancel", jobs.cancel_job, "Cancel a job", "writes",
        body=CancelJob, answer=JobAccepted,
    ),
    Route(
        "GET", f"{J}/{{job_id}}/results", results.results, "A job's decisions, a page",
        "reads", query=ResultsQuery, answer=Page[dict[str, Any]], cached=True,
    ),
    Route(
        "GET", f"{J}/{{job_id}}/unmatched", results.unmatched, "A job's unmatched items",
        "reads", query=UnmatchedQuery, answer=Page[dict[str, Any]], cached=True,
    ),
    Route(
        "GET", f"{J}/{{job_id}}/stats", results.stats, "Counts, amounts, open items by age",
        "reads", query=StatsQuery, answer=Stats, cached=True,
    ),
    Route(
        "GET", f"{J}/{{job_id}}/export", results.export, "The decisions as CSV or Parquet",
        "reads", query=ExportQuery, streamed=True, cached=True,
        produces=("text/csv", "application/x-parquet"),
    ),
    Route(
        "GET", f"{J}/{{job_id}}/history", results.history, "The job as of a moment, from the log",
        "reads", query=HistoryQuery, answer=History,
    ),
    Route(
        "POST", f"{J}/{{job_id}}/rerun", results.rerun, "The proof of replay: match again",
        "jobs", answer=Replay,
    ),
    Route(
        "POST", f"{J}/{{job_id}}/diff", results.diff, "What a ruleset would change (the body)",
        "jobs", query=DiffQuery, content=RULESET_TYPES, answer=Diff,
    ),
    Route(
        "GET", f"{J}/{{job_id}}/review-queue", reviews.review_queue,
        "Decisions awaiting a person", "reads", query=ReviewQueueQuery,
        answer=Page[dict[str, Any]],
    ),
    Route(
        "POST", f"{J}/{{job_id}}/decisions/{{group}}/{{decision:confirm|reject|unmatch}}",
        reviews.decide_group, "Confirm, reject or unmatch a group", "writes", status=201,
        body=Comment, answer=ActionRecorded,
    ),
    Route(
        "POST", f"{J}/{{job_id}}/manual-matches", reviews.manual_match,
        "Match open items by hand", "writes", status=201, body=ManualMatch,
        answer=ActionRecorded,
    ),
    Route(
        "POST", f"{J}/{{job_id}}/revert-auto", reviews.revert_auto,
        "Undo undecided automatic matches (of a rule)", "writes", status=201, body=RevertAuto,
        answer=ActionRecorded,
    ),
    Route(
        "POST", f"{J}/{{job_id}}/approvals/{{action}}/{{verdict:approve|decline}}",
        reviews.settle_action, "Approve or decline a pending action", "writes", status=201,
        body=Comment, answer=ActionRecorded,
    ),
    Route(
        "POST", f"{J}/{{job_id}}/exceptions", reviews.explain_item,
        "Explain an open item (reason code and note)", "writes", status=201,
        body=Explanation, answer=ActionRecorded,
    ),
    Route(
        "GET", "/api/audit/events", audit.audit_events, "The audit log, newest first", "reads",
        query=AuditQuery, answer=Page[AuditEvent],
    ),
)  # fmt: skip

BY_HANDLER: dict[Handler, Route] = {route.handler: route for route in ROUTES}


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
