"""The one error type users see, and the exit codes every entry point shares."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """Bad input or a missing prerequisite: one line saying what, where and the fix.

    Raised anywhere in the library; rendered once at the edge (task layer or
    script main) as `error: <message>` on stderr with exit code 2.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def render(err: UserError) -> str:
    """The single line printed for a user error."""
    return f"error: {err.message}"
