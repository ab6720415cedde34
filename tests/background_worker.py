"""Real worker processes for the background tests: `manage.py worker` in a subprocess, against
the test database.

PostgreSQL: the worker is pointed at the test database (test_<name>) by DATABASE_URL.
SQLite: the test database is in memory, which no other process can open, so for the test the
connection moves to a file copy of it (the sqlite3 backup API) and the worker opens that file.
The in-memory database is kept open meanwhile and comes back untouched afterwards. Both need a
transactional test: the worker sees only what is committed.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

PROJECT = Path(settings.BASE_DIR)


@contextmanager
def database_for_a_second_process(folder: Path):
    """Yields the DATABASE_URL under which another process sees this test's database."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        params = connection.settings_dict
        credentials = quote(params["USER"] or "", safe="")
        if params.get("PASSWORD"):
            credentials += ":" + quote(params["PASSWORD"], safe="")
        host = f"{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
        yield f"postgres://{credentials}@{host}/{params['NAME']}"
        return
    assert connection.vendor == "sqlite"
    assert not connection.in_atomic_block, "needs a transactional test (transaction=True)"
    path = folder / "test.sqlite3"
    memory = connection.connection
    copy = sqlite3.connect(path)
    memory.backup(copy)
    copy.close()
    name = connection.settings_dict["NAME"]
    # Closing the in-memory database would drop it, for every later test: set it aside open.
    connection.connection = None
    connection.settings_dict["NAME"] = str(path)
    try:
        yield f"sqlite:///{path}"
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
        connection.connection = memory


def start_worker(database_url: str, log_dir: Path, *options: str,
                 environment: dict | None = None) -> subprocess.Popen:
    """`manage.py worker`, polling every 50 ms, without the reloader or the start-up delay."""
    env = {**os.environ, "DATABASE_URL": database_url, "BACKGROUND_TEST_LOG_DIR": str(log_dir),
           **(environment or {})}
    # Its output goes to a file: a pipe nobody reads would block it once full.
    with (log_dir / "worker-output.txt").open("a") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--interval", "0.05", "--no-reload",
             "--no-startup-delay", *options],
            cwd=PROJECT, env=env, stdin=subprocess.DEVNULL, stdout=output,
            stderr=subprocess.STDOUT)


def stop_worker(process: subprocess.Popen) -> None:
    """Stops the worker as a service manager does: SIGTERM, after which it finishes its
    task."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(condition, timeout: float = 20.0, every: float = 0.05):
    """Polls `condition` until it returns something true; returns that, or fails."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {condition.__doc__ or condition}")
        time.sleep(every)
