"""`manage.py worker`: runs background tasks from the database queue until stopped.

django_tasks_db's db_worker (every option of it: --interval, --batch, --max-tasks, --reload,
--queue-name…) with two additions: the worker is named host:pid:random, so a task's result
says which machine ran it, and it reclaims the tasks whose worker died (background/retries.py)
when it starts and every --reclaim-interval seconds. SIGTERM or Ctrl-C stops it after the task
it is running; a second Ctrl-C stops it at once.
"""

import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django.utils.module_loading import import_string
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from background.retries import reclaim_abandoned
from background.tasks import new_worker_id, set_worker_id

logger = logging.getLogger(__name__)


def reclaim() -> None:
    try:
        reclaim_abandoned()
    except Exception:  # the database is away for a moment: the next look will do
        logger.exception("Reclaiming abandoned tasks failed")
    finally:
        close_old_connections()


def start_schedules() -> None:
    """Calls each of settings.BACKGROUND_ON_WORKER_START: the recurring tasks (the watch of
    cited pages) make sure their next run is queued, so that starting any worker starts them,
    with nothing else to remember in production."""
    for path in settings.BACKGROUND_ON_WORKER_START:
        try:
            import_string(path)()
        except Exception:  # the database is away for a moment: the next worker start will do
            logger.exception("Starting %s failed", path)
        finally:
            close_old_connections()


def reclaim_every(seconds: float) -> None:
    while True:
        time.sleep(seconds)
        reclaim()


class Command(DatabaseWorkerCommand):
    help = ("Run a background worker: take tasks from the database queue and run them, one at "
            "a time. Run as many as you like, on any machine that reaches the database.")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(worker_id=new_worker_id())
        parser.add_argument(
            "--reclaim-interval", type=float, default=60.0,
            help="Seconds between looks for tasks whose worker died (default: %(default)s).")

    def handle(self, *args, reclaim_interval, **options):
        set_worker_id(options["worker_id"])
        watching_for_changes = options["reload"] and not options["batch"]
        # With --reload this process only watches the code; its child runs the tasks.
        if not watching_for_changes or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            reclaim()
            start_schedules()
            threading.Thread(target=reclaim_every, args=(reclaim_interval,),
                             name="reclaim-abandoned-tasks", daemon=True).start()
        return super().handle(*args, **options)
