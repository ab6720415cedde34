from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from ..models import CustodyEntry, Evidence
from .case_page import case_view


@case_view(tab="evidence")
def evidence_download(request, case_page, pk):
    """Stream an evidence file to a member of its case, logging the access in its custody."""
    evidence = get_object_or_404(Evidence.objects.of_case(case_page.case), pk=pk)
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    CustodyEntry.objects.create(evidence=evidence, action=CustodyEntry.Action.DOWNLOADED,
                                actor=request.user)
    response = FileResponse(handle, as_attachment=True,
                            filename=evidence.original_name or f"evidence-{evidence.pk}",
                            content_type="application/octet-stream")
    # Never rendered by the browser, never cached. The stored type (detected from the content
    # at upload, cases/uploads.py) is not sent: octet-stream and nosniff leave the browser
    # nothing to render, whatever the file holds.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
