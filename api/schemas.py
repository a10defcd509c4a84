"""The API's request and response models: validation, and the OpenAPI document's schemas.

Every list answers `Page` (`items`, `next_cursor`); `limit` defaults to 100, at most 1,000.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from engine.domain.job import STATUSES
from engine.domain.review import REASON_CODES
from engine.errors import BadInputError

ItemT = TypeVar("ItemT")
RoleName = Literal["admin", "analyst", "auditor", "viewer"]
JobStatus = Literal["requested", "running", "completed", "failed", "dead_lettered", "cancelled"]
ReasonCode = Literal["timing", "bank_error", "missing_entry", "duplicate", "write_off", "other"]
assert set(JobStatus.__args__) == set(STATUSES)  # type: ignore[attr-defined]  # noqa: S101
assert set(ReasonCode.__args__) == set(REASON_CODES)  # type: ignore[attr-defined]  # noqa: S101


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Bodies


class CreateProject(Strict):
    name: str = Field(min_length=1, max_length=200)


class AddMember(Strict):
    email: str = Field(min_length=3, max_length=320)
    role: RoleName


class CreateJob(Strict):
    project_id: UUID
    left_source_id: UUID
    right_source_id: UUID
    ruleset_version: int = Field(ge=1)


class CancelJob(Strict):
    reason: str = Field(default="cancelled through the API", max_length=500)


# Queries


class PageQuery(Strict):
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=200)


class SourceQuery(Strict):
    name: str = Field(min_length=1, max_length=200)


class JobListQuery(PageQuery):
    project_id: UUID | None = None
    status: JobStatus | None = None


class AuditQuery(PageQuery):
    project_id: UUID | None = None
    aggregate_id: UUID | None = None
    actor: str | None = Field(default=None, max_length=320)
    type: str | None = Field(default=None, max_length=200)
    request_id: str | None = Field(default=None, max_length=128)
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None


class ResultsQuery(PageQuery):
    status: str | None = Field(default=None, max_length=50)
    rule: str | None = Field(default=None, max_length=200)
    review_status: str | None = Field(default=None, max_length=50)
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    max_confidence: float | None = Field(default=None, ge=0, le=1)


class UnmatchedQuery(PageQuery):
    side: Literal["left", "right"] | None = None
    age: Literal["0-7", "8-30", "31-90", "90+"] | None = None
    reason: str | None = Field(default=None, max_length=200)
    as_of: date | None = None


class StatsQuery(Strict):
    as_of: date | None = None


class ExportQuery(Strict):
    format: Literal["csv", "parquet"]
    what: Literal["decisions", "unmatched"] = "decisions"


class HistoryQuery(Strict):
    as_of: AwareDatetime
    limit: int = Field(default=100, ge=0, le=1000)


class DiffQuery(Strict):
    limit: int = Field(default=100, ge=0, le=1000)


class ReviewQueueQuery(PageQuery):
    order: Literal["confidence", "amount"] = "confidence"


class Comment(Strict):
    comment: str = Field(default="", max_length=2000)


class ManualMatch(Comment):
    left_ids: list[str] = Field(default_factory=list, max_length=10_000)
    right_ids: list[str] = Field(default_factory=list, max_length=10_000)


class RevertAuto(Comment):
    rule: str | None = Field(default=None, max_length=200)


class Explanation(Strict):
    side: Literal["left", "right"]
    id: str = Field(min_length=1, max_length=500)
    reason: ReasonCode
    note: str = Field(default="", max_length=2000)


# Answers


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


class Created(BaseModel):
    id: UUID


class ProjectOut(BaseModel):
    """A project as `tieout projects list --json` prints it, with the caller's view."""

    project_id: UUID
    name: str
    created_at: datetime
    id: UUID = Field(description="The same as project_id.")
    latest_ruleset_version: int
    role: RoleName = Field(description="The caller's role in this project.")


class MemberOut(BaseModel):
    email: str
    role: RoleName


class SourceOut(BaseModel):
    id: UUID
    name: str
    rows: int
    sha256: str = Field(description="SHA-256 of the bytes uploaded.")
    content_hash: str = Field(description="SHA-256 of the stored Parquet copy.")
    format: str
    columns: list[list[str]]


class RulesetVersion(BaseModel):
    version: int
    digest: str


class RulesetOut(RulesetVersion):
    ruleset: dict[str, Any]


class RulesetEntry(RulesetVersion):
    """A ruleset version as `tieout rulesets list --json` prints it."""

    project_id: UUID
    published_at: datetime
    published_by: str


class JobAccepted(BaseModel):
    id: UUID
    status: JobStatus


class JobEntry(BaseModel):
    """A job as `tieout jobs list --json` prints it."""

    id: UUID
    project_id: UUID
    status: JobStatus
    attempts: int
    failures: int
    worker: str
    phase: str
    rows_processed: int
    rows_total: int
    heartbeat_age_seconds: float | None
    last_error: str
    created_at: datetime


class JobDetail(JobEntry):
    """A job as `tieout jobs show --json` prints it."""

    ruleset_version: int
    left_source_id: UUID
    right_source_id: UUID
    idempotency_key: str
    failures_history: list[dict[str, Any]]
    counts: dict[str, Any] | None
    decisions_hash: str | None
    inputs_hash: str | None


class AuditEvent(BaseModel):
    """An event as `tieout audit events --json` prints it."""

    model_config = ConfigDict(extra="allow")

    notification_id: int
    originator_id: UUID
    event_type: str
    actor: str
    request_id: str


class Loose(BaseModel):
    """An answer shaped as the CLI's `--json` of the same read (see docs/api.md)."""

    model_config = ConfigDict(extra="allow")


class Stats(Loose):
    job_id: UUID
    status: str
    as_of: date


class History(Loose):
    job_id: UUID
    as_of: datetime
    status: str


class Replay(Loose):
    job_id: UUID
    identical: bool


class Diff(Loose):
    job_id: UUID
    counts: dict[str, int]


class ActionRecorded(BaseModel):
    action_id: str


class Health(BaseModel):
    status: str
    jobs: dict[str, int] = Field(description="Jobs by status.")
    counts: dict[str, int] = Field(
        description="pending, running, completed_today, failed_today, dead_letters (UTC days)."
    )


# Cursors: opaque to clients, checked on the way back in.


def encode_cursor(kind: str, values: list[Any]) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadInputError("cursor: not a cursor this API gave out") from None
    if not isinstance(found, list) or not found or found[0] != kind:
        raise BadInputError("cursor: not a cursor this API gave out")
    return found[1:]
