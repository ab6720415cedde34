"""What the import and export commands share: who runs them, in which case, on which file."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.http import Http404
from django.template.defaultfilters import filesizeformat

from ...access import get_case_for_user
from ...enums import Role
from ...uploads import max_upload_bytes


def access_for(slug: str, username: str, *, min_role: Role):
    """The case and the user's membership, with the same rule as the pages: an import needs a
    reporter or editor of the case, an export any member. The history names this user."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"No active user “{username}”.")
    try:
        return get_case_for_user(user, slug, min_role=min_role), user
    except Http404:
        raise CommandError(
            f"“{username}” is not a {min_role.label.lower()} (or above) of a case "
            f"“{slug}”.") from None


def read_file(path: Path) -> bytes:
    """The file's bytes, or a CommandError saying why it cannot be read. A file over the
    upload limit is refused as in the browser, before it is read into memory."""
    limit = max_upload_bytes()
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
    if len(data) > limit:
        raise CommandError(f"{path} is larger than {filesizeformat(limit)}, the most an import "
                           "accepts: split it into several files.")
    return data
