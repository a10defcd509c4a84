"""Configuration, read once from `TIEOUT_*` environment variables (see README)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.errors import BadInputError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_METRICS_PORTS = {"worker": 9100, "projector": 9101, "backup": 9102}
"""One /metrics port per kind of long-running process, so one host runs each with the
defaults. The API (`tieout serve`) serves /metrics on its own port."""


class Settings(BaseSettings):
    """Every setting Tieout reads. The README's configuration table lists them all."""

    model_config = SettingsConfigDict(env_prefix="TIEOUT_", extra="ignore")

    home: Path = Field(
        default=Path(".tieout"),
        description="Data directory: embedded PostgreSQL, local object store, backups.",
    )
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: start the embedded PostgreSQL under TIEOUT_HOME.",
    )
    object_store: str | None = Field(
        default=None,
        description="Where sources are stored: a directory or s3://bucket/prefix. "
        "Unset: TIEOUT_HOME/objects.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint override (MinIO, or a test server)."
    )
    log_level: str = Field(default="WARNING", description="Python logging level.")
    migrate: bool = Field(
        default=True,
        description="Create tables and apply migrations at start. Set false for processes that "
        "run as the least-privilege role; the owner runs `tieout db migrate` instead.",
    )
    db_pool_size: int = Field(default=5, ge=1, description="Connections in the database pool.")
    worker_concurrency: int = Field(
        default=2, ge=1, description="Jobs one worker process runs at the same time."
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A running job whose lease has not been heartbeated for this long is "
        "taken over: its attempt fails and the job is retried.",
    )
    heartbeat_seconds: float = Field(
        default=10.0, gt=0, description="How often a worker renews the leases it holds."
    )
    max_attempts: int = Field(
        default=3, ge=1, description="Failed attempts after which a job is dead-lettered."
    )
    retry_backoff_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Delay before the first retry; it doubles after each failed attempt.",
    )
    retry_backoff_max_seconds: float = Field(
        default=300.0, ge=0, description="The longest delay between retries."
    )
    decision_batch_size: int = Field(
        default=5000, ge=1, description="Decisions recorded per DecisionsRecorded event."
    )
    own_partition_rows: int = Field(
        default=50_000,
        ge=1,
        description="A job of at least this many decision rows gets a read-model partition "
        "of its own, its indexes built in one pass when it completes; smaller jobs share one "
        "table (docs/projections.md).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the /metrics endpoint of `tieout worker` and `tieout projector` "
        "(0: none). Unset: 9100 for a worker, 9101 for the projector and 9102 for the "
        "backup schedule, so that all run on one host with the defaults.",
    )
    poll_seconds: float = Field(
        default=1.0, gt=0, description="How often an idle worker looks for requested jobs."
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 key that signs chain seals and job commitments: base64 of its "
        "32-byte seed. Unset: a key made once and kept in TIEOUT_HOME/signing.key.",
    )
    signing_key_secret_id: str | None = Field(
        default=None,
        description="AWS Secrets Manager secret (name or ARN) holding TIEOUT_SIGNING_KEY's "
        "value, read at start when TIEOUT_SIGNING_KEY is unset.",
    )
    backup_store: str | None = Field(
        default=None,
        description="Where backups go: a directory or s3://bucket/prefix. "
        "Unset: TIEOUT_HOME/backups.",
    )
    backup_key: SecretStr | None = Field(
        default=None,
        description="AES-GCM key that encrypts backups: base64 of 16, 24 or 32 bytes. "
        "Unset: backups are not encrypted.",
    )
    backup_key_secret_id: str | None = Field(
        default=None,
        description="AWS Secrets Manager secret (name or ARN) holding TIEOUT_BACKUP_KEY's "
        "value, read when TIEOUT_BACKUP_KEY is unset.",
    )
    backup_interval_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often `tieout backup schedule` (and `tieout serve` on the embedded "
        "default) takes a snapshot: the recovery point. 0: serve takes none.",
    )
    backup_retention: str = Field(
        default="7,4,12,5",
        description="Snapshots kept by `tieout backup prune` and the schedule: the newest "
        "of each of the last N days, weeks, months and years.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret that signs and checks API bearer tokens. Unset: read from "
        "AWS Secrets Manager (TIEOUT_JWT_SECRET_ID), else a secret made once and kept in "
        "TIEOUT_HOME/jwt.secret.",
    )
    jwt_secret_id: str | None = Field(
        default=None,
        description="AWS Secrets Manager secret (name or ARN) holding the token secret; "
        "read through boto3's usual credentials and region, cached.",
    )
    jwt_secret_refresh_seconds: float = Field(
        default=300.0, gt=0, description="How long a secret read from Secrets Manager is kept."
    )
    secrets_endpoint_url: str | None = Field(
        default=None, description="Secrets Manager endpoint override (a test server)."
    )
    jwt_issuer: str = Field(default="tieout", description="The `iss` of issued tokens.")
    jwt_audience: str = Field(default="tieout-api", description="The `aud` of issued tokens.")
    token_ttl_seconds: int = Field(
        default=86_400, ge=60, description="Lifetime of the bearer tokens `tieout users` prints."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for rate limits shared by every API process. Unset: "
        "per-process limits.",
    )
    rate_limits: str = Field(
        default="login=20/60,jobs=600/60,uploads=60/60,reads=6000/60,writes=600/60",
        description="Requests per principal and tier, as `tier=count/seconds` (tiers: login "
        "(failed authentications, per client address), jobs, uploads, reads, writes).",
    )
    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="Largest JSON or ruleset body the API accepts."
    )
    max_upload_bytes: int = Field(
        default=1 << 30, ge=1024, description="Largest source upload the API accepts."
    )
    request_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="An API request (other than an upload) taking longer answers 503.",
    )
    upload_idle_seconds: float = Field(
        default=30.0,
        gt=0,
        description="An upload whose next chunk does not arrive within this is cut off (408).",
    )
    export_idle_seconds: float = Field(
        default=30.0,
        gt=0,
        description="An export whose client reads nothing for this long is cut off, so a "
        "client that stops reading holds no handler.",
    )
    header_timeout_seconds: float = Field(
        default=75.0,
        gt=0,
        description="A connection to `tieout serve` must send a whole request head within "
        "this of opening or of its previous answer, else it is closed (slow clients); "
        "also how long an idle keep-alive connection is kept. Behind a load balancer, "
        "keep it above the balancer's idle timeout.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            msg = f"{value!r} is not a logging level (one of {', '.join(LOG_LEVELS)})"
            raise ValueError(msg)
        return value.upper()

    def metrics_port_for(self, process: str) -> int:
        """TIEOUT_METRICS_PORT, or the default of this kind of process (0: none)."""
        if self.metrics_port is not None:
            return self.metrics_port
        return DEFAULT_METRICS_PORTS.get(process, 0)

    @property
    def object_store_location(self) -> str:
        """The configured object store, defaulting to a directory under TIEOUT_HOME."""
        return self.object_store or str(self.home / "objects")

    @property
    def backup_store_location(self) -> str:
        """The configured backup store, defaulting to a directory under TIEOUT_HOME."""
        return self.backup_store or str(self.home / "backups")


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Settings from the process environment, or from an explicit mapping (tests).

    A bad value is a `BadInputError` naming the variable, e.g.
    `TIEOUT_LEASE_SECONDS: Input should be a valid number`.
    """
    try:
        if env is None:
            return Settings()
        values = {
            key.removeprefix("TIEOUT_").lower(): value
            for key, value in env.items()
            if key.startswith("TIEOUT_")
        }
        return Settings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "TIEOUT_" + "_".join(str(part) for part in first["loc"]).upper()
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise BadInputError(f"{name}: {reason}") from None
