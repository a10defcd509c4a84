"""Domain errors. Entry points map them to exit codes and HTTP statuses."""


class TieoutError(Exception):
    """Base of every error Tieout raises on purpose."""


class BadInputError(TieoutError):
    """The caller gave something Tieout cannot use: a bad file, rule or argument.

    The message is one readable line that names the bad field or file.
    """


class NotFoundError(TieoutError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class ConflictError(TieoutError):
    """The command contradicts the current state (a stale lease, a finished job)."""
