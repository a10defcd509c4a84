"""Turning pydantic validation errors into one line that names the bad field."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

OPS = ("equals", "within", "within_days", "similar")
_FRIENDLY = {
    "extra_forbidden": "unknown field",
    "missing": "required",
}

_SHAPES = {
    "tuple_type": "a list",
    "list_type": "a list",
    "model_type": "a mapping",
    "dict_type": "a mapping",
}
_SHOWN = 40  # at most this many characters of a bad value


def describe_validation_error(exc: ValidationError) -> str:
    """The first error of `exc` as `rules[2].when[1].op: unknown op 'near'`."""
    error = exc.errors(include_url=False)[0]
    path = field_path(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "union_tag_invalid":
        expected = ", ".join(OPS)
        return f"{path}.op: unknown op {ctx.get('tag')!r} (expected one of: {expected})"
    if kind == "union_tag_not_found":
        return f"{path}.op: required (one of: {', '.join(OPS)})"
    if kind in _SHAPES:
        message = _shape_message(kind, error["input"])
    else:
        message = _FRIENDLY.get(kind) or _message(error)
    return f"{path}: {message}" if path else f"ruleset: {message}"


def field_path(loc: tuple[int | str, ...]) -> str:
    """('rules', 2, 'when', 1, 'similar', 'min') -> 'rules[2].when[1].min'."""
    parts: list[str] = []
    previous: int | str | None = None
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif not (item in OPS and isinstance(previous, int)):
            parts.append(f".{item}" if parts else item)
        previous = item
    return "".join(parts)


def _message(error: ErrorDetails) -> str:
    text = error["msg"].removeprefix("Value error, ")
    if error["type"] in {"literal_error", "enum"}:
        text = f"{text}, got {error['input']!r}"
    return text


def _shape_message(kind: str, given: object) -> str:
    """`expected a list, got null`: YAML's `when:` with nothing after it is null."""
    if given is None:
        got = "null (nothing)"
    elif isinstance(given, dict):
        got = "a mapping"
    elif isinstance(given, list | tuple):
        got = "a list"
    else:
        text = repr(given)
        got = text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."
    return f"expected {_SHAPES[kind]}, got {got}"
