"""The browser's upload, kept on the server between the preview and the confirmation:
encrypted (it may hold a source's identity), named by a signed token good for one user, case
and kind, for STAGING_MAX_AGE seconds. The confirmation reads the file from here, never from
the browser."""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from pathlib import Path

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core import signing

from ..crypto import multi_fernet

STAGING_SALT = "casedesk.imports.staging"
STAGING_MAX_AGE = 60 * 60  # seconds a preview can be confirmed after the upload


def staging_dir():
    folder = Path(getattr(settings, "CASEDESK_IMPORT_STAGING_DIR", None)
                  or Path(tempfile.gettempdir()) / "casedesk-import-staging")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def stage_upload(data: bytes, *, case, user, kind: str, name: str) -> str:
    """Keep an uploaded file on the server until its preview is confirmed, and return the
    signed token that names it. The file is encrypted (it may hold a source's identity) and
    is good for STAGING_MAX_AGE seconds, for this user, case and kind only: the confirmation
    reads the file from here, never from the browser."""
    _remove_expired_staging()
    file_id = uuid.uuid4().hex
    path = staging_dir() / file_id
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(multi_fernet().encrypt(data))
    return signing.dumps({"f": file_id, "c": case.pk, "u": user.pk, "k": kind, "n": name[:200]},
                         salt=STAGING_SALT, compress=True)


class StagingExpired(Exception):
    """The confirmation's token names no staged file it may read: forged, another user's or
    case's, too old, or already imported."""

    code = "preview_expired"


def read_staged(token: str, *, case, user) -> tuple[bytes, dict]:
    """The staged file and its description, or StagingExpired (a forged, foreign or old
    token, or a file already imported)."""
    try:
        info = signing.loads(token or "", salt=STAGING_SALT, max_age=STAGING_MAX_AGE)
    except signing.BadSignature:
        raise StagingExpired() from None
    if (not isinstance(info, dict) or info.get("c") != case.pk or info.get("u") != user.pk
            or not re.fullmatch(r"[0-9a-f]{32}", str(info.get("f")))):
        raise StagingExpired()
    path = staging_dir() / info["f"]
    try:
        data = multi_fernet().decrypt(path.read_bytes(), ttl=STAGING_MAX_AGE)
    except (OSError, InvalidToken):
        raise StagingExpired() from None
    return data, info


def discard_staged(token_info: dict) -> None:
    path = staging_dir() / token_info["f"]
    path.unlink(missing_ok=True)


def _remove_expired_staging() -> None:
    cutoff = time.time() - STAGING_MAX_AGE
    for path in staging_dir().iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue

