"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class FlowerEdgeError(Exception):
    """A problem the user can fix. The message is one line and names the fix."""

    exit_code = 1


class UsageError(FlowerEdgeError):
    """A bad flag or argument value (exit code 2, like click's own usage errors)."""

    exit_code = 2


class DataError(FlowerEdgeError):
    """Unreadable, missing or malformed data."""


class BundleError(FlowerEdgeError):
    """A model bundle that is missing, corrupt or inconsistent."""


def one_line(text: str) -> str:
    """Collapse a message to a single line, for terminal output."""
    return " ".join(str(text).split())
