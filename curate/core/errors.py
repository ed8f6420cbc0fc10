"""The one small hierarchy of errors the library raises.

Every message says what was wrong, where (file, line, field) and what to do. Only the CLI turns
these into exit codes.
"""

from __future__ import annotations


class CurateError(Exception):
    """Base class: anything curate reports to a user as a clear message."""

    exit_code = 1


class ConfigError(CurateError):
    """`curate.toml` (or a command-line option) is wrong."""

    exit_code = 2


class WorkspaceError(CurateError):
    """The workspace is missing, damaged or locked by another process."""


class WorkspaceLocked(WorkspaceError):
    """Another curate process holds the workspace lock."""


class MissingTableError(WorkspaceError):
    """A table the command needs has not been written yet; the message says what writes it."""

    def __init__(self, table: str, how: str, needed_by: str | None = None):
        self.table = table
        before = f" before `{needed_by}`" if needed_by else ""
        super().__init__(f"no {table} table yet: {how}{before}")


class InputError(CurateError):
    """An input file is missing, unreadable, or in no format curate knows."""

    exit_code = 3


class UnknownFormat(InputError):
    """No log format matches the file."""


class ExportError(CurateError):
    """The export cannot be written as asked."""


class TooFewExamples(ExportError):
    """Fewer examples than a fine-tuning service accepts (OpenAI: 10)."""


class QueueError(CurateError):
    """Argilla could not be reached, refused us, or holds a dataset that does not fit."""


class StackError(CurateError):
    """The local stack could not be installed, started or reached."""


class RowError(Exception):
    """One input row could not be read; it goes to quarantine with this reason.

    Not a CurateError: it never reaches the user on its own, only as a counted quarantine row.
    """
