"""The capture tests' shared fixtures, a pytest plugin: each tests/test_capture*.py names it
(`pytest_plugins = ["tests.capture_fixtures"]`); their helpers are in tests/capture_helpers.py.

Nothing here is autouse: a plugin's fixtures are seen by every test once it is loaded, so
each capture test module names the settings it runs with (`pytestmark =
pytest.mark.usefixtures("live_capture_settings")` or "stored_capture_settings").

- `pages` (the test page server on 127.0.0.1, tests/pages/server.py, one per module),
  `elsewhere` (one on 127.0.0.2, loopback and not allowed), `tsa` (the test Time-Stamp
  Authority, tests/tsa.py, one per module);
- `live_capture_settings`: captures reach 127.0.0.1 with Debian's Chromium and are
  timestamped by `tsa`; `stored_capture_settings`: no TSA (captures made by the test);
- `handler`: a reporter of the case who handles its sources.
"""

from __future__ import annotations

import pytest

from cases.enums import Role
from cases.models import Membership

from .capture_helpers import CHROMIUM
from .pages.server import PageServer
from .tsa import TestTSA, require_openssl


@pytest.fixture(scope="module")
def pages():
    with PageServer("127.0.0.1") as server:
        yield server


@pytest.fixture
def elsewhere():
    """A server on 127.0.0.2: loopback, and not in CAPTURE_ALLOWED_HOSTS."""
    with PageServer("127.0.0.2") as server:
        yield server


@pytest.fixture(scope="module")
def tsa():
    require_openssl()
    with TestTSA() as authority:
        yield authority


@pytest.fixture
def live_capture_settings(settings, tsa):
    """Captures as the worker makes them in the tests: 127.0.0.1 allowed, no proxy, Debian's
    Chromium, timestamps from the test TSA, a citation's save queueing its capture."""
    settings.CAPTURE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CAPTURE_PROXY = ""
    settings.CAPTURE_CHROMIUM = CHROMIUM
    settings.CAPTURE_TSA_URL = [tsa.url]
    settings.CAPTURE_TSA_CA_FILE = tsa.ca_file
    settings.CAPTURE_ON_SAVE = True
    return settings


@pytest.fixture
def stored_capture_settings(settings):
    """Captures made by the test (capture_result), no TSA asked unless a test does."""
    settings.CAPTURE_ON_SAVE = True
    settings.CAPTURE_TSA_URL = []
    return settings


@pytest.fixture
def handler(make_member):
    user = make_member(Role.REPORTER, username="handler")
    Membership.objects.filter(user=user).update(can_handle_sources=True)
    return user
