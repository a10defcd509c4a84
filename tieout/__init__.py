"""Tieout: an event-sourced reconciliation engine."""

__version__ = "0.1.0"
