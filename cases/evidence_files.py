"""Handing out an evidence file: the one way its bytes leave Casedesk, for the pages and the
API alike. Each download is written to the file's chain of custody, and the answer is one a
browser will never render or cache, whatever the file holds."""

from django.http import FileResponse, Http404

from .deletion import evidence_is_purged
from .models import CustodyEntry

#: A thumbnail: the top of the picture (a screen's 4:3, where a page starts), this wide.
THUMBNAIL_WIDTH = 480


def thumbnail_cache_key(sha256: str) -> str:
    """Where a file's thumbnail is cached (views/evidence.py draws it; a purge drops it:
    manage.py purge_deleted_evidence)."""
    return f"evidence-thumbnail:{sha256}:{THUMBNAIL_WIDTH}"


class EvidencePurged(Exception):
    """The file was purged from storage (manage.py purge_deleted_evidence): its page and the
    API answer 410, each in its own form."""


def download_response(evidence, user) -> FileResponse:
    """The file as an attachment, its download logged as `user`'s; EvidencePurged when it was
    purged from storage, Http404 when storage has lost it. The caller has checked that
    `user` may read it."""
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        # Asked only when the file is missing: a download in force costs no query more.
        if evidence_is_purged(evidence):
            raise EvidencePurged from None
        raise Http404("The file is missing from storage.") from None
    CustodyEntry.objects.create(evidence=evidence, action=CustodyEntry.Action.DOWNLOADED,
                                actor=user)
    response = FileResponse(handle, as_attachment=True,
                            filename=evidence.original_name or f"evidence-{evidence.pk}",
                            content_type="application/octet-stream")
    # The stored type (detected from the content at upload, cases/uploads.py) is not sent:
    # octet-stream, nosniff and a sandbox leave the browser nothing to render.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
