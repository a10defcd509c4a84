"""Source: one registered input file, stored once as content-addressed Parquet."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from engine.domain.base import TieoutAggregate
from engine.domain.meta import EventMeta


def source_id(project_id: UUID, content_hash: str) -> UUID:
    """Sources are identified by project and content, so registering twice is a no-op."""
    return uuid5(NAMESPACE_URL, f"tieout:source:{project_id}:{content_hash}")


class Source(TieoutAggregate):
    """A registered input: its content hash, shape and where its Parquet copy lives."""

    class SourceRegistered(TieoutAggregate.Created):
        """Version 2 added `file_format` (the format of the file the user gave)."""

        class_version = 2

        project_id: UUID
        name: str
        content_hash: str
        file_hash: str
        file_format: str
        row_count: int
        columns: list[list[str]]
        location: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["file_format"] = "unknown"

    @staticmethod
    def create_id(project_id: UUID, content_hash: str) -> UUID:
        return source_id(project_id, content_hash)

    @event(SourceRegistered)
    def __init__(
        self,
        project_id: UUID,
        name: str,
        content_hash: str,
        file_hash: str,
        file_format: str,
        row_count: int,
        columns: list[list[str]],
        location: str,
        meta: EventMeta,
    ) -> None:
        del meta
        self.project_id = project_id
        self.name = name
        self.content_hash = content_hash
        self.file_hash = file_hash
        self.file_format = file_format
        self.row_count = row_count
        self.columns = columns
        self.location = location
