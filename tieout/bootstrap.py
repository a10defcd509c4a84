"""The composition root: the one place that builds concrete adapters.

Every entry point (the CLI's commands, `tieout serve`, `tieout worker`, `tieout projector`)
calls `bootstrap()` and gets a `Container`: the connection pool, the application, the job
queue, the object store, the query services and the registry of projections. No other
module constructs a datastore, a recorder, an application or a projection runner
(tests/unit/test_composition_root.py enforces it). See docs/architecture.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.projection import ProjectionRunner
from eventsourcing.utils import Environment

from engine.application import Tieout
from engine.commitment import Signer
from engine.ports import JobQueue, ObjectStore
from engine.tenancy import Tenancy
from projections.activity import ActivityQueries
from projections.audit import TieoutLog
from projections.audit_query import AuditQueries
from projections.catalog import Catalog
from projections.database import eventsourcing_env, migrate, schema_lock
from projections.event_log import PostgresEventLog
from projections.job_queue import PostgresJobQueue
from projections.job_recorder import PostgresFencedRecorder
from projections.lag import ProjectionLags
from projections.names import EVENTS_TABLE
from projections.owed_indexes import OwedIndexBuilds
from projections.registry import REGISTERED, CatchUpView, ProjectionSpec, Runner
from projections.results_query import ResultQueries
from snapshots.stores import open_object_store
from tieout.embedded import embedded_database_url
from tieout.keys import signing_key
from tieout.secrets import SecretsManagerSecret, SecretSource, StaticSecret, file_secret
from tieout.settings import Settings, load_settings
from tieout.tokens import Tokens

NO_CREATE = {"CREATE_TABLE": "n"}
PROJECTOR_POOL_SIZE = 2  # per pool: the log (its LISTEN connection and reads), the view


@dataclass
class Container:
    """Everything a process needs, built once and closed once."""

    settings: Settings
    database_url: str
    app: Tieout
    object_store: ObjectStore
    queue: JobQueue
    audit: AuditQueries
    catalog: Catalog
    tenancy: Tenancy
    tokens: Tokens
    results: ResultQueries
    lags: ProjectionLags
    activity: ActivityQueries
    projections: Projections
    signer: Signer
    event_log: PostgresEventLog
    backup_store: ObjectStore

    def close(self) -> None:
        self.projections.owed.close()  # review indexes it started (owed_indexes.py)
        self.app.close()


def bootstrap(settings: Settings | None = None, process: str = "cli") -> Container:
    """Connect (starting the embedded server if configured so), migrate, build everything.

    `process` names the connections in `pg_stat_activity` (`tieout-<process>`).
    """
    settings = settings or load_settings()
    configure_logging(settings)
    url = database_url(settings)
    store = open_object_store(
        settings.object_store_location, s3_endpoint_url=settings.s3_endpoint_url
    )
    signer = signing_key(settings)
    env = eventsourcing_env(url, pool_size=settings.db_pool_size, create_tables=settings.migrate)
    connection_name = f"tieout-{process}"
    projector_env = env | {
        "POSTGRES_POOL_SIZE": str(PROJECTOR_POOL_SIZE),
        "POSTGRES_MAX_OVERFLOW": str(PROJECTOR_POOL_SIZE),
    }
    with schema_lock(url):
        app = Tieout(env, store, lambda factory: _fenced_recorder(factory, connection_name))
        if settings.migrate:
            migrate(url)
            create_tracking_tables(url, projector_env, REGISTERED)
    datastore = _datastore(app)
    return Container(
        settings=settings,
        database_url=url,
        app=app,
        object_store=store,
        queue=PostgresJobQueue(datastore),
        audit=AuditQueries(datastore),
        catalog=Catalog(datastore),
        tenancy=Tenancy(app),
        tokens=_tokens(settings),
        results=ResultQueries(datastore),
        lags=ProjectionLags(datastore, REGISTERED),
        activity=ActivityQueries(datastore),
        projections=Projections(
            projector_env, REGISTERED, connection_name, signer, settings.own_partition_rows
        ),
        signer=signer,
        event_log=PostgresEventLog(datastore),
        backup_store=open_object_store(
            settings.backup_store_location, s3_endpoint_url=settings.s3_endpoint_url
        ),
    )


def configure_logging(settings: Settings) -> None:
    """The one logging set-up of every process: TIEOUT_LOG_LEVEL, one line per record."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def _tokens(settings: Settings) -> Tokens:
    secret: SecretSource
    if settings.jwt_secret is not None:
        secret = StaticSecret(settings.jwt_secret.get_secret_value().encode())
    elif settings.jwt_secret_id:
        secret = SecretsManagerSecret(
            settings.jwt_secret_id,
            settings.jwt_secret_refresh_seconds,
            endpoint_url=settings.secrets_endpoint_url,
        )
    else:
        secret = file_secret(settings.home)
    return Tokens(secret, settings.jwt_issuer, settings.jwt_audience, settings.token_ttl_seconds)


def database_url(settings: Settings) -> str:
    """The configured server, or the embedded one under TIEOUT_HOME."""
    if settings.database_url:
        return settings.database_url
    return embedded_database_url(settings.home)


def _fenced_recorder(
    factory: InfrastructureFactory[Any], connection_name: str
) -> ApplicationRecorder:
    if not isinstance(factory, PostgresFactory):
        msg = f"expected a PostgreSQL event store, got {type(factory).__name__}"
        raise TypeError(msg)
    _name_connections(factory.datastore, connection_name)
    recorder = PostgresFencedRecorder(factory.datastore, events_table_name=EVENTS_TABLE)
    if factory.env_create_table():
        recorder.create_table()
    return recorder


def _datastore(app: Application[UUID]) -> PostgresDatastore:
    datastore = getattr(app.recorder, "datastore", None)
    if not isinstance(datastore, PostgresDatastore):
        msg = f"expected a PostgreSQL event store, got {type(app.recorder).__name__}"
        raise TypeError(msg)
    return datastore


def _name_connections(datastore: Any, name: str) -> None:
    """Name the pool's new connections (`application_name` in `pg_stat_activity`), unless
    the operator named them with libpq's PGAPPNAME."""
    kwargs = datastore.pool.kwargs if isinstance(datastore, PostgresDatastore) else None
    if isinstance(kwargs, dict) and "PGAPPNAME" not in os.environ:
        kwargs["application_name"] = name


def create_tracking_tables(
    url: str, env: dict[str, str], specs: tuple[ProjectionSpec, ...]
) -> None:
    """Each view's tracking table, made once under the schema lock: projector threads and
    catch-up commands creating them at the same moment collide in the catalog. One query
    finds the missing ones, so a start-up with every table in place opens no pool."""
    tables = [f"{spec.projection.name}_tracking" for spec in specs]
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT t FROM unnest(%s::text[]) t WHERE to_regclass(t) IS NULL", (tables,)
        ).fetchall()
    missing = {row[0] for row in found}
    for spec, table in zip(specs, tables, strict=True):
        if table not in missing:
            continue
        factory = InfrastructureFactory[Any].construct(
            Environment(spec.projection.name, env | {"CREATE_TABLE": "y"})
        )
        try:
            factory.tracking_recorder(spec.view)
        finally:
            factory.close()


class Projections:
    """The registry of projections at run time: builds each one's log, view and runner.

    Each `opened` block and each runner has its own two small pools, so a projector
    thread, a catch-up command and the API never wait on one another's connections.
    """

    def __init__(
        self,
        env: dict[str, str],
        specs: tuple[ProjectionSpec, ...],
        connection_name: str,
        signer: Signer,
        own_partition_rows: int,
    ) -> None:
        self.env = env
        self.specs = specs
        self.connection_name = connection_name
        self.signer = signer
        self.own_partition_rows = own_partition_rows
        # the review indexes of published jobs, built on a thread of this process; what a
        # process before it left owed is looked for once, at the first results view
        self.owed = OwedIndexBuilds(self._build_owed)
        self._looked_for_owed = False

    def named(self, name: str) -> ProjectionSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.specs)
        raise KeyError(f"no projection {name!r} (known: {known})")

    @contextmanager
    def opened(self, spec: ProjectionSpec) -> Iterator[tuple[Application[UUID], CatchUpView]]:
        # Every table was created under the schema lock (`create_tracking_tables`);
        # CREATE ... IF NOT EXISTS from several threads at once fails in the catalog.
        log = TieoutLog(self.env | NO_CREATE)
        _name_connections(_datastore(log), self.connection_name)
        try:
            factory = InfrastructureFactory[Any].construct(
                Environment(spec.projection.name, self.env | NO_CREATE)
            )
            try:
                view: Any = factory.tracking_recorder(spec.view)
                _name_connections(view.datastore, self.connection_name)
                self._configure(view)
                yield log, view
            finally:
                factory.close()
        finally:
            log.close()

    def runner(self, spec: ProjectionSpec) -> Runner:
        runner: Runner = ProjectionRunner(
            application_class=TieoutLog,
            projection_class=spec.projection,
            view_class=spec.view,
            env=self.env | NO_CREATE,  # bootstrap created the tables
        )
        _name_connections(getattr(runner.app.recorder, "datastore", None), self.connection_name)
        _name_connections(getattr(runner.view, "datastore", None), self.connection_name)
        self._configure(runner.view)
        return runner

    def _configure(self, view: object) -> None:
        """Views that sign (the hash chain's seals) get the deployment's key; the results
        view gets its partition threshold."""
        use_signer = getattr(view, "use_signer", None)
        if callable(use_signer):
            use_signer(self.signer)
        use_own_partition_rows = getattr(view, "use_own_partition_rows", None)
        if callable(use_own_partition_rows):
            use_own_partition_rows(self.own_partition_rows)
        use_owed_index_builds = getattr(view, "use_owed_index_builds", None)
        if callable(use_owed_index_builds):
            use_owed_index_builds(self.owed.owe)
            if not self._looked_for_owed:
                self._looked_for_owed = True
                self.owed.owe()

    def _build_owed(self) -> int:
        """Every review index owed, built on a results view of its own connections."""
        built = 0
        for spec in self.specs:
            if hasattr(spec.view, "build_owed_indexes"):
                with self.opened(spec) as (_, view):
                    built += int(cast("Any", view).build_owed_indexes())
        return built
