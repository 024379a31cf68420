"""Errors a user can act on. The CLI prints `facesmith: error: <message>` and exits non-zero."""


class FacesmithError(Exception):
    """An expected failure with a one-line, actionable message (no traceback is shown)."""

    exit_code = 2


class InputError(FacesmithError):
    """The input (path, media file, faceset, model) cannot be used."""


class OutputError(FacesmithError):
    """The output location cannot be written."""

    exit_code = 3
