"""Why a snapshot is refused: one readable line, and nothing written."""

from __future__ import annotations

from engine.errors import BadInputError


class SnapshotError(BadInputError):
    """A snapshot is damaged, truncated, reordered, foreign or under another key."""
