"""Thin handlers, one module per resource: parse, one call off the event loop, serialize."""
