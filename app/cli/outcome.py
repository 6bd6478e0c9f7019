"""Exit codes of a job over many inputs (annotate, with or without Ray): the library says what failed."""
from __future__ import annotations

from app.cli.options import EXIT_OK, EXIT_PARTIAL_FAILURE, EXIT_USER_ERROR
from centernet.jobs.annotate import JobResult


def job_exit_code(result: JobResult) -> int:
    """0 when every input succeeded, 1 when some failed, 2 when all failed (as `detect`)."""
    failed = len(result.failed)
    if not failed:
        return EXIT_OK
    return EXIT_USER_ERROR if failed == len(result.results) else EXIT_PARTIAL_FAILURE
