"""The composition root: the one place that builds concrete adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eventsourcing.postgres import PostgresApplicationRecorder

from engine.application import Tieout
from engine.ports import JobQueue, ObjectStore
from projections.job_queue import PostgresJobQueue
from snapshots.stores import open_object_store
from tieout.database import database_url, eventsourcing_env, migrate_if_allowed, schema_lock
from tieout.settings import Settings, load_settings


@dataclass
class Container:
    """Everything a process needs, built once and closed once."""

    settings: Settings
    database_url: str
    app: Tieout
    object_store: ObjectStore
    queue: JobQueue

    def close(self) -> None:
        self.app.close()


def bootstrap(settings: Settings | None = None) -> Container:
    """Connect (starting the embedded server if configured so), migrate, build the app."""
    settings = settings or load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    url = database_url(settings)
    store = open_object_store(
        settings.object_store_location, s3_endpoint_url=settings.s3_endpoint_url
    )
    with schema_lock(url):
        app = Tieout(eventsourcing_env(url, settings), store)
        migrate_if_allowed(url, settings)
    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        msg = f"expected a PostgreSQL event store, got {type(recorder).__name__}"
        raise TypeError(msg)
    return Container(
        settings=settings,
        database_url=url,
        app=app,
        object_store=store,
        queue=PostgresJobQueue(recorder.datastore),
    )
