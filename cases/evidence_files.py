"""Handing out an evidence file: the one way its bytes leave Casedesk, for the pages and the
API alike. Each download is written to the file's chain of custody, and the answer is one a
browser will never render or cache, whatever the file holds."""

from django.http import FileResponse, Http404

from .models import CustodyEntry


def download_response(evidence, user) -> FileResponse:
    """The file as an attachment, its download logged as `user`'s; Http404 when storage has
    lost it. The caller has checked that `user` may read it."""
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
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
