"""The analyst's queries over the read models: the one layer the CLI and the API call.

Every list is a keyset page (`Page`: items and an opaque `next_cursor`) ordered on an
indexed key, so a page deep in ten million decisions costs what the first one does.
Cursors are signed (HMAC-SHA256 with a key the database holds, so every process accepts
every other's) and bound to the job and the filters they were made for: a forged,
edited or transplanted cursor is bad input, never a wrong page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import polars as pl
from eventsourcing.postgres import PostgresDatastore

from engine.errors import BadInputError, NotFoundError
from projections.names import (
    APPLICATION_NAME,
    CURSOR_KEY_TABLE,
    DECISIONS_TABLE,
    EVENTS_TABLE,
    JOBS_TABLE,
    PROJECTS_TABLE,
    RESULTS_TRACKING_TABLE,
    RULESETS_TABLE,
    SOURCES_TABLE,
    UNMATCHED_TABLE,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000
EXPORT_PAGE = 50_000
SIDES = ("left", "right")
AGE_BUCKETS: dict[str, tuple[int, int | None]] = {
    "0-7": (0, 7),
    "8-30": (8, 30),
    "31-90": (31, 90),
    "90+": (91, None),
}
DECISION_FIELDS = (
    "row_no, group_id, left_id, right_id, rule, confidence, status, review_status, "
    "left_amount, right_amount"
)
UNMATCHED_FIELDS = "row_no, side, item_id, reason, amount, item_date"
EXPORT_SCHEMAS: dict[str, dict[str, Any]] = {
    "decisions": {
        "row_no": pl.Int64,
        "group_id": pl.String,
        "left_id": pl.String,
        "right_id": pl.String,
        "rule": pl.String,
        "confidence": pl.Float64,
        "status": pl.String,
        "review_status": pl.String,
        "left_amount": pl.Float64,
        "right_amount": pl.Float64,
    },
    "unmatched": {
        "row_no": pl.Int64,
        "side": pl.String,
        "item_id": pl.String,
        "reason": pl.String,
        "amount": pl.Float64,
        "item_date": pl.Date,
    },
}
QUEUE_CONDITION = (
    "review_status = 'pending_approval' OR (status = 'suggested' AND review_status = 'none')"
)
"""The predicate of the review queue's partial indexes (0005_review.sql), spelled alike."""
QUEUE_ORDERS = {
    "confidence": "(-confidence)",
    "amount": "(-greatest(abs(coalesce(left_amount, 0)), abs(coalesce(right_amount, 0))))",
}
GROUP_CATEGORIES = ("auto", "suggested", "confirmed", "rejected", "manual", "pending", "unmatched")
GROUP_CATEGORY = (
    "CASE WHEN review_status = 'none' AND status = 'matched' THEN 'auto' "
    "WHEN review_status = 'none' THEN 'suggested' "
    "WHEN review_status = 'pending_approval' THEN 'pending' ELSE review_status END"
)
ITEM_CATEGORY = (
    "CASE WHEN status = 'manual' THEN 'manual' "
    "WHEN status = 'suggested' AND review_status = 'none' THEN 'suggested' ELSE 'matched' END"
)
JOB_FIELDS = (
    "job_id, project_id, status, left_source_id, right_source_id, ruleset_version, "
    "idempotency_key, attempts, failures, created_at, claimed_at, finished_at, counts, "
    "decisions_hash, inputs_hash, engine_version, last_error"
)


@dataclass(frozen=True)
class Page:
    """One page of a list: `{"items": [...], "next_cursor": ...}` (None: the last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None

    def as_json(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


@dataclass(frozen=True)
class DecisionFilters:
    """Every filter is optional; the ones given must all hold. Confidence bounds include."""

    status: str | None = None
    rule: str | None = None
    review_status: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_confidence", "max_confidence"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise BadInputError(f"{name}: must be between 0 and 1, not {value}")
        low, high = self.min_confidence, self.max_confidence
        if low is not None and high is not None and low > high:
            raise BadInputError("min_confidence: must not be above max_confidence")


@dataclass(frozen=True)
class UnmatchedFilters:
    """`age` is a bucket of `AGE_BUCKETS`, counted in days from `as_of` (default today)."""

    side: str | None = None
    age: str | None = None
    reason: str | None = None
    as_of: date | None = None

    def __post_init__(self) -> None:
        if self.side is not None and self.side not in SIDES:
            raise BadInputError(f"side: {self.side!r} is not one of left, right")
        if self.age is not None and self.age not in AGE_BUCKETS:
            known = ", ".join(AGE_BUCKETS)
            raise BadInputError(f"age: {self.age!r} is not one of {known}")


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit: must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit


class Cursors:
    """Signs and opens cursors: base64url of `{"k": key, "s": scope}` plus an HMAC tag."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def make(self, scope: str, key: list[Any]) -> str:
        body = json.dumps({"k": key, "s": scope}, separators=(",", ":")).encode()
        tag = hmac.new(self.secret, body, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(tag + body).decode().rstrip("=")

    def open(self, scope: str, cursor: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, TypeError):
            raise BadInputError("cursor: not a cursor of this list") from None
        tag, body = raw[:16], raw[16:]
        expected = hmac.new(self.secret, body, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(tag, expected):
            raise BadInputError("cursor: not a cursor of this list") from None
        found = json.loads(body)
        if found.get("s") != scope:
            raise BadInputError("cursor: made for another job or other filters") from None
        key = found.get("k")
        if not isinstance(key, list):
            raise BadInputError("cursor: not a cursor of this list")
        return key


def scope_of(kind: str, owner: object, filters: object) -> str:
    """What a cursor is valid for: the list, its owner (job, project) and its filters."""
    values = asdict(filters) if is_dataclass(filters) and not isinstance(filters, type) else filters
    described = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(f"{kind}|{owner}|{described}".encode()).hexdigest()[:24]


class ResultQueries:
    """The analyst's reads, over the container's connection pool."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        self._cursors: Cursors | None = None

    # Jobs, projects, sources, rulesets

    def job(self, job_id: UUID) -> dict[str, Any]:
        """The job's row; NotFoundError when the read models do not hold it (yet)."""
        rows = self._fetch(f"SELECT {JOB_FIELDS} FROM {JOBS_TABLE} WHERE job_id = %s", (job_id,))
        if not rows:
            raise NotFoundError(f"job {job_id} not found")
        return _job_item(rows[0])

    def jobs(
        self,
        project_id: UUID | None = None,
        status: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page:
        """Jobs, newest first."""
        check_limit(limit)
        scope = scope_of("jobs", project_id, {"status": status})
        where, params = ["TRUE"], {"limit": limit + 1, "project": project_id, "status": status}
        if project_id is not None:
            where.append("project_id = %(project)s")
        if status is not None:
            where.append("status = %(status)s")
        if cursor:
            created, job = self._open(scope, cursor)
            where.append("(created_at, job_id) < (%(created)s::timestamptz, %(job)s::uuid)")
            params |= {"created": created, "job": job}
        rows = self._fetch(
            f"SELECT {JOB_FIELDS} FROM {JOBS_TABLE} WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, job_id DESC LIMIT %(limit)s",
            params,
        )
        return self._page(
            rows,
            limit,
            scope,
            lambda row: [row["created_at"].isoformat(), str(row["job_id"])],
            _job_item,
        )

    def projects(
        self, name: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page:
        """Projects by name (then id); `name` keeps those whose name starts with it."""
        check_limit(limit)
        scope = scope_of("projects", None, {"name": name})
        where = ["TRUE"]
        params: dict[str, Any] = {"limit": limit + 1}
        if name:
            where.append("name >= %(name)s AND name < %(name)s || chr(1114111)")
            params["name"] = name
        if cursor:
            last_name, last_id = self._open(scope, cursor)
            where.append("(name, project_id) > (%(last_name)s, %(last_id)s::uuid)")
            params |= {"last_name": last_name, "last_id": last_id}
        rows = self._fetch(
            f"SELECT project_id, name, created_at FROM {PROJECTS_TABLE} "
            f"WHERE {' AND '.join(where)} ORDER BY name, project_id LIMIT %(limit)s",
            params,
        )
        return self._page(
            rows, limit, scope, lambda row: [row["name"], str(row["project_id"])], _plain
        )

    def sources(
        self, project_id: UUID, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page:
        """A project's sources, newest first."""
        check_limit(limit)
        scope = scope_of("sources", project_id, {})
        where, params = ["project_id = %(project)s"], {"project": project_id, "limit": limit + 1}
        if cursor:
            at, source = self._open(scope, cursor)
            where.append("(registered_at, source_id) < (%(at)s::timestamptz, %(source)s::uuid)")
            params |= {"at": at, "source": source}
        rows = self._fetch(
            "SELECT source_id, project_id, name, file_format, content_hash, file_hash, "
            f"row_count, columns, registered_at, registered_by FROM {SOURCES_TABLE} "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY registered_at DESC, source_id DESC LIMIT %(limit)s",
            params,
        )
        return self._page(
            rows,
            limit,
            scope,
            lambda row: [row["registered_at"].isoformat(), str(row["source_id"])],
            _plain,
        )

    def rulesets(self, project_id: UUID) -> list[dict[str, Any]]:
        """A project's ruleset versions, oldest first (without their bodies)."""
        rows = self._fetch(
            "SELECT project_id, version, digest, published_at, published_by "
            f"FROM {RULESETS_TABLE} WHERE project_id = %s ORDER BY version",
            (project_id,),
        )
        return [_plain(row) for row in rows]

    def ruleset(self, project_id: UUID, version: int) -> dict[str, Any]:
        rows = self._fetch(
            "SELECT project_id, version, digest, ruleset, published_at, published_by "
            f"FROM {RULESETS_TABLE} WHERE project_id = %s AND version = %s",
            (project_id, version),
        )
        if not rows:
            raise NotFoundError(f"ruleset version {version} not found in project {project_id}")
        return _plain(rows[0])

    # A job's decisions and unmatched items

    def decisions(
        self,
        job_id: UUID,
        filters: DecisionFilters | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page:
        """A job's decision rows, highest confidence first (then row order)."""
        filters = filters or DecisionFilters()
        check_limit(limit)
        scope = scope_of("decisions", job_id, filters)
        where = ["job_id = %(job)s"]
        params: dict[str, Any] = {"job": job_id, "limit": limit + 1}
        for name in ("status", "rule", "review_status"):
            value = getattr(filters, name)
            if value is not None:
                where.append(f"{name} = %({name})s")
                params[name] = value
        if filters.min_confidence is not None:
            where.append("-confidence <= %(neg_min)s")
            params["neg_min"] = -filters.min_confidence
        if filters.max_confidence is not None:
            where.append("-confidence >= %(neg_max)s")
            params["neg_max"] = -filters.max_confidence
        if cursor:
            confidence, row_no = self._open(scope, cursor)
            where.append("(-confidence, row_no) > (%(neg_c)s::float8, %(row)s::bigint)")
            params |= {"neg_c": -float(confidence), "row": int(row_no)}
        rows = self._fetch(
            f"SELECT {DECISION_FIELDS} FROM {DECISIONS_TABLE} WHERE {' AND '.join(where)} "
            "ORDER BY -confidence, row_no LIMIT %(limit)s",
            params,
        )
        if not rows:
            self.job(job_id)  # an empty page of a job, or no such job: say which
        return self._page(
            rows, limit, scope, lambda row: [row["confidence"], row["row_no"]], _plain
        )

    def unmatched(
        self,
        job_id: UUID,
        filters: UnmatchedFilters | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page:
        """A job's unmatched items in row order, with their age in days as of `as_of`."""
        filters = filters or UnmatchedFilters()
        check_limit(limit)
        as_of = filters.as_of or date.today()  # noqa: DTZ011 - a calendar date, the user's
        scope = scope_of("unmatched", job_id, filters)
        where = ["job_id = %(job)s"]
        params: dict[str, Any] = {"job": job_id, "limit": limit + 1, "as_of": as_of}
        if filters.side is not None:
            where.append("side = %(side)s")
            params["side"] = filters.side
        if filters.reason is not None:
            where.append("reason = %(reason)s")
            params["reason"] = filters.reason
        if filters.age is not None:
            youngest, oldest = AGE_BUCKETS[filters.age]
            where.append("item_date <= %(newest)s")
            params["newest"] = as_of - timedelta(days=youngest)
            if oldest is not None:
                where.append("item_date >= %(oldest)s")
                params["oldest"] = as_of - timedelta(days=oldest)
        if cursor:
            (row_no,) = self._open(scope, cursor)
            where.append("row_no > %(row)s")
            params["row"] = int(row_no)
        rows = self._fetch(
            f"SELECT {UNMATCHED_FIELDS}, (%(as_of)s::date - item_date) AS age_days "
            f"FROM {UNMATCHED_TABLE} WHERE {' AND '.join(where)} "
            "ORDER BY row_no LIMIT %(limit)s",
            params,
        )
        if not rows:
            self.job(job_id)  # an empty page of a job, or no such job: say which
        return self._page(rows, limit, scope, lambda row: [row["row_no"]], _unmatched_item)

    def stats(self, job_id: UUID, as_of: date | None = None) -> dict[str, Any]:
        """Counts by rule and status, amounts matched and open per side, open items by age."""
        job = self.job(job_id)
        as_of = as_of or date.today()  # noqa: DTZ011 - a calendar date, the user's
        by_rule = self._fetch(
            f"SELECT rule, status, count(*) AS rows, count(DISTINCT group_id) AS groups "
            f"FROM {DECISIONS_TABLE} WHERE job_id = %s GROUP BY rule, status ORDER BY 1, 2",
            (job_id,),
        )
        matched = self._fetch(
            "SELECT (SELECT sum(left_amount) FROM (SELECT DISTINCT ON (left_id) left_amount "
            f"FROM {DECISIONS_TABLE} WHERE job_id = %(job)s ORDER BY left_id) l) AS left, "
            "(SELECT sum(right_amount) FROM (SELECT DISTINCT ON (right_id) right_amount "
            f"FROM {DECISIONS_TABLE} WHERE job_id = %(job)s ORDER BY right_id) r) AS right",
            {"job": job_id},
        )[0]
        open_items = self._fetch(
            "SELECT side, count(*) AS items, sum(amount) AS amount, "
            + ", ".join(
                f'count(*) FILTER (WHERE {_age_condition(bucket)}) AS "{bucket}"'
                for bucket in AGE_BUCKETS
            )
            + f" FROM {UNMATCHED_TABLE} WHERE job_id = %(job)s GROUP BY side ORDER BY side",
            {"job": job_id, "as_of": as_of},
        )
        return {
            "job_id": job["id"],
            "status": job["status"],
            "as_of": as_of.isoformat(),
            "by_rule": [_plain(row) for row in by_rule],
            "amount_matched": {"left": matched["left"], "right": matched["right"]},
            "unmatched": {
                row["side"]: {
                    "items": row["items"],
                    "amount": row["amount"],
                    "by_age": {bucket: row[bucket] for bucket in AGE_BUCKETS},
                }
                for row in open_items
            },
        }

    # The review workflow (docs/review.md)

    def review_queue(
        self,
        job_id: UUID,
        order: str = "confidence",
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page:
        """Decision rows awaiting a person: undecided suggestions and pending actions,
        highest confidence (or amount) first."""
        check_limit(limit)
        if order not in QUEUE_ORDERS:
            raise BadInputError(f"order: {order!r} is not one of {', '.join(QUEUE_ORDERS)}")
        self.job(job_id)
        scope = scope_of("review_queue", job_id, {"order": order})
        key = QUEUE_ORDERS[order]
        where = [f"job_id = %(job)s AND ({QUEUE_CONDITION})"]
        params: dict[str, Any] = {"job": job_id, "limit": limit + 1}
        if cursor:
            value, row_no = self._open(scope, cursor)
            where.append(f"({key}, row_no) > (%(value)s::float8, %(row)s::bigint)")
            params |= {"value": float(value), "row": int(row_no)}
        rows = self._fetch(
            f"SELECT {DECISION_FIELDS}, action_id, {key} AS sort_key FROM {DECISIONS_TABLE} "
            f"WHERE {' AND '.join(where)} ORDER BY {key}, row_no LIMIT %(limit)s",
            params,
        )
        return self._page(rows, limit, scope, lambda row: [row["sort_key"], row["row_no"]], _queued)

    def exception_queue(
        self,
        job_id: UUID,
        as_of: date | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page:
        """A job's open items, oldest first (undated last), with age, reason code and
        assignee."""
        check_limit(limit)
        self.job(job_id)
        as_of = as_of or date.today()  # noqa: DTZ011 - a calendar date, the user's
        scope = scope_of("exceptions", job_id, {})
        where = ["job_id = %(job)s AND state = 'open'"]
        params: dict[str, Any] = {"job": job_id, "limit": limit + 1, "as_of": as_of}
        if cursor:
            item_date, row_no = self._open(scope, cursor)
            if item_date is None:
                where.append("item_date IS NULL AND row_no > %(row)s")
            else:
                where.append(
                    "((item_date, row_no) > (%(date)s::date, %(row)s::bigint) OR item_date IS NULL)"
                )
            params |= {"date": item_date, "row": int(row_no)}
        rows = self._fetch(
            f"SELECT {UNMATCHED_FIELDS}, reason_code, note, explained_by, assignee, "
            "(%(as_of)s::date - item_date) AS age_days "
            f"FROM {UNMATCHED_TABLE} WHERE {' AND '.join(where)} "
            "ORDER BY item_date NULLS LAST, row_no LIMIT %(limit)s",
            params,
        )
        return self._page(
            rows,
            limit,
            scope,
            lambda row: [_json_value(row["item_date"]), row["row_no"]],
            _unmatched_item,
        )

    def review_stats(self, job_id: UUID) -> dict[str, Any]:
        """Groups by review outcome, and items by where they stand: matched + suggested +
        manual + open = the job's rows."""
        job = self.job(job_id)
        groups = self._fetch(
            f"SELECT {GROUP_CATEGORY} AS category, count(DISTINCT group_id) AS groups "
            f"FROM {DECISIONS_TABLE} WHERE job_id = %s GROUP BY 1",
            (job_id,),
        )
        items = self._fetch(
            f"SELECT {ITEM_CATEGORY} AS category, "
            "count(DISTINCT left_id) + count(DISTINCT right_id) AS items "
            f"FROM {DECISIONS_TABLE} WHERE job_id = %s AND review_status NOT IN "
            "('rejected', 'unmatched') GROUP BY 1",
            (job_id,),
        )
        open_items = self._fetch(
            f"SELECT count(*) AS items FROM {UNMATCHED_TABLE} WHERE job_id = %s AND state = 'open'",
            (job_id,),
        )
        by_group = dict.fromkeys(GROUP_CATEGORIES, 0) | {
            row["category"]: row["groups"] for row in groups
        }
        by_item = dict.fromkeys(("matched", "suggested", "manual"), 0) | {
            row["category"]: row["items"] for row in items
        }
        by_item["open"] = open_items[0]["items"]
        return {"job_id": job["id"], "groups": by_group, "items": by_item}

    def export_pages(
        self, job_id: UUID, kind: str, page_rows: int = EXPORT_PAGE
    ) -> Iterator[pl.DataFrame]:
        """A job's decisions (`kind` "decisions") or unmatched items, in row order, a page
        at a time: memory stays that of one page, however large the job."""
        self.job(job_id)
        table, fields = (
            (DECISIONS_TABLE, DECISION_FIELDS)
            if kind == "decisions"
            else (UNMATCHED_TABLE, UNMATCHED_FIELDS)
        )
        after = -1
        while True:
            rows = self._fetch(
                f"SELECT {fields} FROM {table} WHERE job_id = %s AND row_no > %s "
                "ORDER BY row_no LIMIT %s",
                (job_id, after, page_rows),
            )
            if not rows:
                return
            after = rows[-1]["row_no"]
            yield pl.DataFrame(rows, schema=EXPORT_SCHEMAS[kind])

    def lag(self) -> int:
        """Events in the log that the read models do not hold yet (the whole log before the
        tracking table exists, on a database an older version made)."""
        head = self._fetch(
            "SELECT coalesce(max(notification_id), 0) AS head, "
            f"to_regclass(%s) IS NOT NULL AS tracked FROM {EVENTS_TABLE}",
            (RESULTS_TRACKING_TABLE,),
        )[0]
        if not head["tracked"]:
            return int(head["head"])
        position = self._fetch(
            f"SELECT coalesce(max(notification_id), 0) AS position FROM {RESULTS_TRACKING_TABLE} "
            "WHERE application_name = %s",
            (APPLICATION_NAME,),
        )[0]
        return max(int(head["head"]) - int(position["position"]), 0)

    # Helpers

    def _fetch(self, sql: str, params: Any) -> list[dict[str, Any]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            # Never a prepared statement: each query is planned for its own values, so
            # that a job's own partition and its partial indexes for the filter's value are
            # chosen (projections/job_partitions.py), where a generic plan could choose
            # neither.
            curs.execute(sql.encode(), params, prepare=False)
            return [dict(row) for row in curs.fetchall()]

    def _open(self, scope: str, cursor: str) -> list[Any]:
        return self._cursor_signer().open(scope, cursor)

    def _page(
        self,
        rows: list[dict[str, Any]],
        limit: int,
        scope: str,
        key: Any,
        shape: Any,
    ) -> Page:
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = self._cursor_signer().make(scope, key(rows[-1])) if more else None
        return Page([shape(row) for row in rows], next_cursor)

    def _cursor_signer(self) -> Cursors:
        if self._cursors is None:
            rows = self._fetch(f"SELECT key FROM {CURSOR_KEY_TABLE}", ())
            self._cursors = Cursors(rows[0]["key"].encode())
        return self._cursors


def _age_condition(bucket: str) -> str:
    youngest, oldest = AGE_BUCKETS[bucket]
    condition = f"(%(as_of)s::date - item_date) >= {youngest}"
    if oldest is not None:
        condition += f" AND (%(as_of)s::date - item_date) <= {oldest}"
    return condition


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready values: ids and times as text."""
    return {name: _json_value(value) for name, value in row.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _job_item(row: dict[str, Any]) -> dict[str, Any]:
    item = _plain(row)
    item["id"] = item.pop("job_id")
    return item


def _queued(row: dict[str, Any]) -> dict[str, Any]:
    item = _plain(row)
    del item["sort_key"]
    if item["action_id"] is None:
        del item["action_id"]
    return item


def _unmatched_item(row: dict[str, Any]) -> dict[str, Any]:
    item = _plain(row)
    item["id"] = item.pop("item_id")
    item["date"] = item.pop("item_date")
    return item
