"""A throwaway production environment: the variables config/settings.py reads, set as a
deployment sets them, with keys made for one run. `make bench`, `make scan` and `make fuzz`
start their servers and management commands with it, so that what they measure or attack is
production's configuration, not the laptop demo's.

It lives beside settings.py because it names the variables settings.py reads, and in the
installed `config` package so that bench/, scan/ (run as a script) and fuzz/ all import it
the same way. It imports nothing from Django: building the environment configures nothing.

What it sets:
- DEBUG off, so every production default of settings.py applies (HTTPS redirect, HSTS,
  Secure cookies, WhiteNoise's manifest storage).
- A new random SECRET_KEY and a new Fernet key as CASEDESK_ENCRYPTION_KEYS (settings.py reads
  a comma-separated list; the first key encrypts), never the development key, which
  `check --deploy` refuses (cases/crypto.py, casedesk.E002). Nothing encrypted by an earlier
  run can be read back: each run's data is its own.
- ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS (for an HTTPS origin), the database, the cache (a shared
  one, as production has: `check --deploy` warns without it), STATIC_ROOT and EVIDENCE_ROOT.
- Whatever the caller's own environment says about the production knobs that weaken a
  deployment (DEBUG, the SECURE_*, SESSION_* and CSRF_* settings, the second-factor
  requirement, the demo switch, DJANGO_ALLOW_ASYNC_UNSAFE) is dropped: a developer's shell
  does not change what is tested.

A caller's deviations from production (the scan's raised lockout limit, the bench's plain
HTTP) are passed as `overrides` and explained where they are made.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

# The settings (config/settings.py) whose production value comes from DEBUG being off or from
# their absence; inherited values are dropped.
_PRODUCTION_KNOBS = frozenset({
    "DEBUG", "SECRET_KEY", "CASEDESK_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
    "CASEDESK_REQUIRE_2FA", "CASEDESK_ALLOW_DEMO",
    # Django's own switch that lets the ORM run beside an event loop: the browser tests set
    # it for their process, and `check --deploy` rightly refuses it in a deployment.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
})
_PRODUCTION_KNOB_PREFIXES = ("SECURE_", "SESSION_", "CSRF_COOKIE_")


def new_encryption_key() -> str:
    """A Fernet key (32 random bytes, URL-safe base64), as CASEDESK_ENCRYPTION_KEYS holds."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def throwaway_production_env(
    *,
    database_url: str,
    static_root: Path,
    evidence_root: Path | None = None,
    hosts: tuple[str, ...] = ("127.0.0.1",),
    https_origin: str | None = None,
    cache_url: str | None = None,
    settings_module: str = "config.settings",
    base: Mapping[str, str] | None = None,
    **overrides: str,
) -> dict[str, str]:
    """The environment of a throwaway production instance.

    `https_origin` (e.g. https://127.0.0.1:8799) is the origin the instance serves, trusted
    for CSRF. `cache_url` names the shared cache; without it each process keeps its own, as
    only a single-process run may. `base` is the environment to start from (default: this
    process's, for PATH and the virtualenv), less the production knobs it sets.
    `overrides` are set last, unchanged."""
    inherited = {name: value for name, value in (os.environ if base is None else base).items()
                 if name not in _PRODUCTION_KNOBS
                 and not name.startswith(_PRODUCTION_KNOB_PREFIXES)}
    env = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CASEDESK_ENCRYPTION_KEYS": new_encryption_key(),
        "ALLOWED_HOSTS": ",".join(hosts),
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(static_root),
    }
    if https_origin:
        env["CSRF_TRUSTED_ORIGINS"] = https_origin
    if evidence_root is not None:
        env["EVIDENCE_ROOT"] = str(evidence_root)
    if cache_url:
        env["CACHE_URL"] = cache_url
    env.update(overrides)
    return env
