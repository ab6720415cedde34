"""config/production_env.py: the throwaway production environment `make bench`, `make scan`
and `make fuzz` run with is production's, as `manage.py check --deploy` judges it, in a fresh
process."""

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from config.production_env import throwaway_production_env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)


def environment(tmp_path, **kwargs) -> dict[str, str]:
    return throwaway_production_env(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        static_root=tmp_path / "static",
        evidence_root=tmp_path / "evidence",
        https_origin="https://127.0.0.1:8799",
        # A cache every worker shares (the check reads the setting; nothing connects to it).
        cache_url="redis://127.0.0.1:6379/0",
        **kwargs)


def test_production_env_passes_check_deploy(tmp_path):
    result = check_deploy(environment(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_production_env_ignores_weakened_knobs_of_the_callers_environment(tmp_path):
    """A developer's shell (DEBUG on, HSTS off, the published key) does not leak into it."""
    shell = {**os.environ, "DEBUG": "true", "SECURE_HSTS_SECONDS": "0",
             "SESSION_COOKIE_SECURE": "false", "CASEDESK_REQUIRE_2FA": "false",
             "CASEDESK_ENCRYPTION_KEYS": settings.CASEDESK_DEVELOPMENT_ENCRYPTION_KEY,
             "SECRET_KEY": "casedesk-local-development-only-not-for-production"}
    env = environment(tmp_path, base=shell)

    assert {name: env.get(name) for name in ("DEBUG", "SECURE_HSTS_SECONDS",
                                             "SESSION_COOKIE_SECURE",
                                             "CASEDESK_REQUIRE_2FA")} == {
        "DEBUG": "false", "SECURE_HSTS_SECONDS": None, "SESSION_COOKIE_SECURE": None,
        "CASEDESK_REQUIRE_2FA": None}
    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_env_makes_new_keys_for_each_run(tmp_path):
    first, second = environment(tmp_path), environment(tmp_path)

    assert first["SECRET_KEY"] != second["SECRET_KEY"]
    assert len(first["SECRET_KEY"]) >= 50
    assert first["CASEDESK_ENCRYPTION_KEYS"] != second["CASEDESK_ENCRYPTION_KEYS"]
    assert settings.CASEDESK_DEVELOPMENT_ENCRYPTION_KEY not in first["CASEDESK_ENCRYPTION_KEYS"]
    key = Fernet(first["CASEDESK_ENCRYPTION_KEYS"])  # one key, in the format settings.py reads
    assert key.decrypt(key.encrypt(b"Zhelobtsova")) == b"Zhelobtsova"


def test_production_env_sets_the_callers_overrides_last(tmp_path):
    env = environment(tmp_path, settings_module="fuzz.settings", AXES_FAILURE_LIMIT="100000",
                      SECURE_SSL_REDIRECT="false")

    assert env["DJANGO_SETTINGS_MODULE"] == "fuzz.settings"
    assert env["AXES_FAILURE_LIMIT"] == "100000"
    assert env["SECURE_SSL_REDIRECT"] == "false"
    assert env["ALLOWED_HOSTS"] == "127.0.0.1"
    assert env["CSRF_TRUSTED_ORIGINS"] == "https://127.0.0.1:8799"


@pytest.mark.parametrize("tool", ["scan", "fuzz"])
def test_scan_and_fuzz_environments_pass_check_deploy(tmp_path, tool):
    """The servers `make scan` and `make fuzz` attack are production's (each adds only what its
    module docstring explains)."""
    if tool == "scan":
        from scan.run import production_env

        env = production_env(tmp_path, 8799)
    else:
        from fuzz.server import production_env

        env = production_env(tmp_path, port=8798, database_url="postgres://127.0.0.1/fuzz",
                             cache_url="redis://127.0.0.1:6379/12", password="not-used")

    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
