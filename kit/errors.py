"""Input that cannot be used at all. Everything else is a Problem."""

from __future__ import annotations


class KitError(Exception):
    """A condition that stops the command: one zh message, a stable code, exit 2."""

    code = "kit-error"
    exit_status = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class WorkbookNotFound(KitError):
    code = "file-not-found"


class ResidentNotFound(KitError):
    code = "resident-not-found"


class UnreadableWorkbook(KitError):
    code = "unreadable-workbook"


class EncryptedWorkbook(KitError):
    code = "encrypted-workbook"


class LimitExceeded(KitError):
    """A reading limit (kit/limits.py) was reached; key names the kit.toml setting, if any."""

    code = "limit-exceeded"

    def __init__(self, message: str, key: str | None = None, actual: float | None = None,
                 limit: float | None = None):
        super().__init__(message)
        self.key, self.actual, self.limit = key, actual, limit


class UnsafeWorkbook(KitError):
    """XML that no spreadsheet program writes (a DTD, entity declarations, sizes that lie)."""

    code = "unsafe-workbook"


class MacroWorkbook(KitError):
    """Macros (VBA) hidden in a file whose name says it has none."""

    code = "macro-workbook"


class MissingSheet(KitError):
    code = "missing-sheet"


class MissingColumns(KitError):
    code = "missing-columns"


class ProjectError(KitError):
    code = "project-error"


class OutputError(KitError):
    code = "output-error"


class BuildRunning(KitError):
    code = "build-running"
