"""An evidence file's page (what it is, its hashes, its capture, its chain of custody) and
the file itself, to the members of its case.

The files of a protected source's capture are for the case's source handlers only
(capture.domain.withheld_from): anyone else gets the 404 of a missing file.

A file purged from storage (manage.py purge_deleted_evidence) keeps its page, which says so;
its download answers that page with 410 Gone, its thumbnail 404.
"""

import io

from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from PIL import Image, UnidentifiedImageError

from capture.domain import withheld_from
from capture.models import CaptureFile

from ..deletion import evidence_is_purged
from ..evidence_files import (
    THUMBNAIL_WIDTH,
    EvidencePurged,
    download_response,
    thumbnail_cache_key,
)
from ..models import CustodyEntry, Evidence
from .case_page import case_view

#: The stored types a thumbnail is made of (detected from the content when stored).
THUMBNAIL_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
THUMBNAIL_CACHE_SECONDS = 24 * 60 * 60


def capture_of(evidence):
    """The capture `evidence` is a file of, or None (read with select_related)."""
    try:
        return evidence.capture_file.capture
    except CaptureFile.DoesNotExist:
        return None


def _evidence_for(case_page, pk, *related) -> Evidence:
    evidence = get_object_or_404(
        Evidence.objects.of_case(case_page.case).select_related("capture_file__capture",
                                                                *related),
        pk=pk)
    capture = capture_of(evidence)
    if capture is not None and withheld_from(capture,
                                             handler=case_page.access.can_handle_sources):
        raise Http404("No such evidence.")
    return evidence


@case_view(tab="evidence")
def evidence_detail(request, case_page, pk):
    """What a member may know of an evidence file: its hashes, what it is evidence of, the
    capture it belongs to, and its whole chain of custody."""
    evidence = _evidence_for(case_page, pk, "claim", "incident", "created_by", "captured_by")
    return _detail_page(case_page, evidence)


def _detail_page(case_page, evidence, status=200):
    capture = capture_of(evidence)
    capture_files = []
    if capture is not None:
        capture_files = list(capture.files.select_related("evidence").order_by("role"))
    custody = list(evidence.custody.select_related("actor").order_by("at", "pk"))
    purged = next((entry for entry in reversed(custody)
                   if entry.action == CustodyEntry.Action.PURGED), None)
    return case_page.render("cases/evidence_detail.html", {
        "evidence": evidence,
        "custody": custody,
        "purged": purged,
        "capture": capture,
        "capture_details": capture.details if capture is not None else None,
        "capture_files": capture_files,
        "has_thumbnail": purged is None and evidence.content_type in THUMBNAIL_TYPES,
    }, status=status)


@case_view(tab="evidence")
def evidence_download(request, case_page, pk):
    """Stream an evidence file to a member of its case, logging the access in its custody.
    With `?thumbnail=1`, a small picture of an image's top instead (see `_thumbnail`)."""
    evidence = _evidence_for(case_page, pk)
    if request.GET.get("thumbnail"):
        if evidence_is_purged(evidence):
            raise Http404("The file was purged from storage.")
        return _thumbnail(evidence)
    try:
        return download_response(evidence, request.user)
    except EvidencePurged:
        return _detail_page(case_page, evidence, status=410)  # its page says so


def _thumbnail(evidence) -> HttpResponse:
    """A JPEG made here of the top of an image (a capture's full-page screenshot shows the
    page as it opens), for a page to show under its `img-src 'self'`. It is a picture drawn
    from the evidence, not a copy of it: the custody log records the files themselves
    leaving Casedesk (downloads), not pages that show a preview. Made once per file (its
    SHA-256: stored files are never replaced)."""
    if evidence.content_type not in THUMBNAIL_TYPES:
        raise Http404("No thumbnail for this kind of file.")
    key = thumbnail_cache_key(evidence.sha256)
    data = cache.get(key)
    if data is None:
        data = _draw_thumbnail(evidence)
        cache.set(key, data, THUMBNAIL_CACHE_SECONDS)
    response = HttpResponse(data, content_type="image/jpeg")
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _draw_thumbnail(evidence) -> bytes:
    try:
        with evidence.file.open("rb") as handle, Image.open(handle) as image:
            width, height = image.size
            top = image.crop((0, 0, width, min(height, width * 3 // 4)))
            top.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH))
            out = io.BytesIO()
            top.convert("RGB").save(out, "JPEG", quality=80)
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        raise Http404("This file cannot be shown as a picture.") from None
    return out.getvalue()
