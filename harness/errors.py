"""Exceptions that mean "the user can fix this" (exit code 2) vs. a failed run."""


class UserError(Exception):
    """Bad input a user can fix: printed as one message, exit code 2, never a traceback."""


class DataError(UserError):
    """A dataset file is missing or corrupt."""


class StageFailed(RuntimeError):
    """A stage could not produce a result (e.g. a non-finite loss); the suite goes on."""
