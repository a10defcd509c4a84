"""The operational endpoints' old home: `create_app` now lives in api.app and the handlers in
api.handlers.ops; both names stay importable from here."""

from __future__ import annotations

from api.app import create_app
from api.handlers.ops import READY_MAX_LAG, health, metrics, ready
from api.keys import CONTAINER, METRICS

__all__ = ["CONTAINER", "METRICS", "READY_MAX_LAG", "create_app", "health", "metrics", "ready"]
