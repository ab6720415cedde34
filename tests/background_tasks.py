"""Tasks the background tests queue. The worker process imports them from here by path, so
they live in a module, not in a test. Each attempt appends a line to a file named by its
argument in BACKGROUND_TEST_LOG_DIR, which the test reads: when each attempt ran, in what
order the tasks ran."""

import os
import time
from pathlib import Path

from background import PermanentFailure, task


def log_attempt(name: str, line: str = "") -> int:
    """Appends `<time> <line>` to the log `name`; returns how many attempts it now holds."""
    path = Path(os.environ["BACKGROUND_TEST_LOG_DIR"]) / name
    with path.open("a") as log:
        log.write(f"{time.time()} {line}\n")
    return len(path.read_text().splitlines())


def read_log(folder: Path, name: str) -> list[tuple[float, str]]:
    path = folder / name
    if not path.exists():
        return []
    return [(float(when), what) for when, _, what in
            (line.partition(" ") for line in path.read_text().splitlines())]


@task(max_attempts=1)
def add(a: int, b: int) -> int:
    return a + b


@task(max_attempts=2, backoff_seconds=0)
def record_run(log: str, label: str = "") -> str:
    log_attempt(log, label)
    return label


@task(max_attempts=3, backoff_seconds=0.5)
def always_fails(log: str) -> None:
    attempt = log_attempt(log)
    raise RuntimeError(f"the source site answered 503 (attempt {attempt})")


@task(max_attempts=3, backoff_seconds=0.2)
def fails_once(log: str) -> dict:
    attempt = log_attempt(log)
    if attempt == 1:
        raise ConnectionError("connection reset by peer")
    return {"attempts": attempt}


@task(max_attempts=5, backoff_seconds=0.2)
def refuses(log: str) -> None:
    log_attempt(log)
    raise PermanentFailure("citation 7 no longer exists")


@task(max_attempts=3, backoff_seconds=0)
def returns_text(log: str) -> str:
    log_attempt(log)
    return "a sentence a user wrote, which must not be stored"
