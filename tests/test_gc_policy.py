"""A server worker freezes what it loaded and collects its young generation less often
(config/gc_policy.py), once gunicorn has loaded the app in it."""

import gc
import runpy
from pathlib import Path

import pytest

from config import gc_policy

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def restored_collector():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settling_freezes_what_is_loaded_and_raises_the_young_threshold(restored_collector):
    gc.unfreeze()
    middle, full = gc.get_threshold()[1:]

    gc_policy.settle_after_startup()

    assert gc.get_freeze_count() > 1000  # the modules, classes and functions loaded so far
    assert gc.get_threshold() == (gc_policy.YOUNG_THRESHOLD, middle, full)


def test_gunicorn_settles_each_worker_once_it_has_loaded_the_app(restored_collector):
    gc.unfreeze()
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    settings["post_worker_init"](worker=None)

    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold()[0] == gc_policy.YOUNG_THRESHOLD
