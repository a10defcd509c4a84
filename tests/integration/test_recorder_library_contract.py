"""The fenced recorder keeps every guarantee of the library's PostgreSQL recorder.

`PostgresFencedRecorder` overrides `insert_events` (no pipeline mode) and adds
`insert_fenced`; eventsourcing's own `ApplicationRecorderTestCase` runs here against it, so
an override cannot break what subscribers rely on: gap-free, contiguous notification ids
under concurrent writers, selection by topic and position, and conflict detection.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase
from psycopg.conninfo import conninfo_to_dict

from projections.job_recorder import PostgresFencedRecorder


class TestFencedRecorderPassesTheLibraryContract(
    ApplicationRecorderTestCase[PostgresFencedRecorder]
):
    datastore: PostgresDatastore

    @pytest.fixture(autouse=True)
    def _datastore(self, database_url: str) -> Iterator[None]:
        parts = conninfo_to_dict(database_url)
        self.datastore = PostgresDatastore(
            dbname=str(parts["dbname"]),
            host=str(parts.get("host") or "127.0.0.1"),
            port=str(parts.get("port") or "5432"),
            user=str(parts.get("user") or "postgres"),
            password=str(parts.get("password") or ""),
            pool_size=4,
            max_overflow=12,
        )
        yield
        self.datastore.close()

    def create_recorder(self) -> PostgresFencedRecorder:
        recorder = PostgresFencedRecorder(self.datastore, events_table_name="stored_events")
        recorder.create_table()
        return recorder
