"""Asking for a capture, making it, and storing it as evidence of the citation's case.

- `request_capture(citation, user, trigger=…)`: checks that the user may have this
  citation captured and records the request (a queued Capture). The queue itself is
  capture/tasks.py's; the citation-save hook, the button and the API call this.
- `run_capture(capture_id)`: what a worker does with a queued capture, in its own process:
  reads the address with the requester's rights, captures the page (capture/engine.py),
  has the manifest timestamped (capture/timestamps.py) and stores it. Idempotent: a capture
  already done is returned as it is.
- `store_capture(citation_id, requested_by_id, result)`: the files as Evidence of the case,
  linked to the citation's claim or incident, each with its custody log (who asked, which
  worker captured, when, the hashes), the timestamp verified before it is kept. Storing the
  same result again returns the capture stored the first time.

A protected source's address (Citation.protected_url, cases/identities.py) is captured only
when one of the case's source handlers asks for it: fetching it announces the newsroom's
interest to whoever runs that server. A save of the citation does not capture it, nor does
anyone else's request (code `capture_protected_address`). Asking for a capture adds evidence
to the case, so it needs a reporter's or an editor's role (`capture_not_allowed`).

Who sees a capture: `withheld_from(capture, handler=…)` (a protected source's capture, its
details and its files, is for the case's handlers only) and `evidence_visible_to(user)` (the
evidence a user may list and download, those files left out for anyone else).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from background import worker_id
from cases.access import rights_in_case
from cases.enums import Role
from cases.models import Citation, CustodyEntry, Evidence, Membership
from cases.uploads import PDF, PNG, Kind, UploadInfo

from . import errors
from .engine import (
    ROLE_ARCHIVE,
    ROLE_FILE,
    ROLE_MANIFEST,
    ROLE_PDF,
    ROLE_SCREENSHOT,
    CaptureResult,
    capture_page,
    sha256_of,
)
from .errors import CaptureError, TimestampError
from .models import Capture, CaptureFile
from .network import Limits
from .timestamps import stamp, verify_token

WACZ = Kind("a WACZ web archive", "application/wacz", ("wacz",))
MANIFEST = Kind("a capture manifest", "application/json", ("json",))
KINDS = {ROLE_ARCHIVE: WACZ, ROLE_SCREENSHOT: PNG, ROLE_PDF: PDF, ROLE_MANIFEST: MANIFEST}
# Stored with each file (Evidence.description), in the language the worker runs in.
DESCRIPTIONS = {
    ROLE_ARCHIVE: gettext_lazy("Web capture: archive of everything the browser loaded (WACZ, "
                               "replayable)"),
    ROLE_SCREENSHOT: gettext_lazy("Web capture: full-page screenshot (PNG)"),
    ROLE_PDF: gettext_lazy("Web capture: the page as rendered, printed to PDF"),
    ROLE_MANIFEST: gettext_lazy("Web capture: manifest (each file's name, size and SHA-256; "
                                "the address; the time)"),
    ROLE_FILE: gettext_lazy("Web capture: the file the address served, as served"),
}
# Failures worth another attempt (the task framework retries them with backoff); refusals
# and the rest are final.
TRANSIENT = frozenset({errors.TIMEOUT, errors.CONNECTION_FAILED, errors.DNS_FAILURE,
                       errors.BROWSER_FAILED, errors.PACKAGING_FAILED})


def capture_options() -> dict:
    """capture_page()'s keyword arguments from the CAPTURE_* settings."""
    return {
        "allowed_hosts": settings.CAPTURE_ALLOWED_HOSTS,
        "proxy": settings.CAPTURE_PROXY or None,
        "limits": Limits(total_seconds=float(settings.CAPTURE_TIMEOUT_SECONDS),
                         max_bytes=settings.CAPTURE_MAX_BYTES,
                         max_resources=settings.CAPTURE_MAX_RESOURCES),
        "chromium": settings.CAPTURE_CHROMIUM,
    }


# --- who may have what captured ---------------------------------------------------------------

def _case_id(citation) -> int:
    target = citation.claim if citation.claim_id else citation.incident
    return target.case_id


def capture_address(citation, user, *, trigger: str) -> tuple[str, bool]:
    """(the address to capture, whether it is a protected source's), for `user` asking for
    a capture of `citation` by `trigger`; a CaptureError with its code when they may not.

    A citation belongs to its claim's (or incident's) case, which is its source's case
    (Citation.clean), so one membership answers all three questions: may they see it,
    may they add evidence to it, do they handle its sources."""
    rights = rights_in_case(user, _case_id(citation)) if user is not None else None
    if rights is None:
        raise CaptureError(errors.NOT_ALLOWED,
                           _("Only a member of the citation's case can have it captured."))
    role, handler = rights
    # A capture adds evidence to the case: a writer's act, as an upload is.
    if not role.at_least(Role.REPORTER):
        raise CaptureError(errors.NOT_ALLOWED,
                           _("Viewers can read this case; having a page captured needs a "
                             "reporter's or an editor's role."))
    if citation.url:
        return citation.url, False
    if not citation.protected_url:
        raise CaptureError(errors.NO_ADDRESS, _("This citation has no address to capture."))
    if trigger != Capture.Trigger.REQUESTED or not handler:
        raise CaptureError(
            errors.PROTECTED_ADDRESS,
            _("This address points at a protected source: only a source handler of the case "
              "can have it captured, by asking for it (visiting it announces our interest)."))
    return citation.protected_url, True


#: Refusals about who asks (answered 403 by the pages and the API); the others are about the
#: citation or its address (400).
ASKER_REFUSALS = frozenset({errors.NOT_ALLOWED, errors.PROTECTED_ADDRESS})


def request_capture(citation, user, *, trigger: str = Capture.Trigger.REQUESTED,
                    unless_captured: bool = False) -> Capture | None:
    """Record a request for a capture of `citation` (status queued). A capture of it that is
    already queued or running is returned instead of a second one. With `unless_captured`
    (a saved citation), None instead when one is queued or running, or when its address
    already has a capture that is done: nothing new was asked for.

    Two queries when it records one: the requester's membership and the captures pending
    (one read for both questions), then the insert. Inside a caller's transaction it adds
    no savepoint of its own."""
    _address, protected = capture_address(citation, user, trigger=trigger)
    pending = Q(status__in=[Capture.Status.QUEUED, Capture.Status.RUNNING])
    if unless_captured and citation.url:
        pending |= Q(status=Capture.Status.DONE, url=citation.url)
    with transaction.atomic(savepoint=False):
        existing = (Capture.objects.select_for_update().filter(citation=citation)
                    .filter(pending).order_by().first())
        if existing is not None:
            return None if unless_captured else existing
        capture = Capture(case_id=_case_id(citation), citation=citation, requested_by=user,
                          trigger=trigger, protected=protected)
        if not protected:
            capture.url = citation.url
        capture.save()
    return capture


# --- who sees it -------------------------------------------------------------------------------

#: Evidence that is a file of a protected source's capture (for the case's handlers only).
PROTECTED_CAPTURE_FILES = Q(capture_file__capture__protected=True)


def evidence_visible_to(user):
    """The evidence of `user`'s cases, less the files of protected sources' captures in
    the cases where they are not a source handler (a queryset, no query of its own)."""
    if not getattr(user, "is_authenticated", False):
        return Evidence.objects.none()
    handled = Membership.objects.filter(user=user, can_handle_sources=True).values("case_id")
    return Evidence.objects.visible_to(user).exclude(
        PROTECTED_CAPTURE_FILES & ~Q(case_id__in=handled))


def withheld_from(capture, *, handler: bool) -> bool:
    """Whether `capture` is kept from a reader: a capture of a protected source's address
    (its details and its files: the screenshot shows the page) is for the case's source
    handlers only, as the address is (cases/identities.py)."""
    return capture.protected and not handler


# --- making it --------------------------------------------------------------------------------

def _fail(capture: Capture, exc: CaptureError) -> None:
    Capture.objects.filter(pk=capture.pk).exclude(status=Capture.Status.DONE).update(
        status=Capture.Status.FAILED, failure_code=exc.code, failure_reason=exc.message,
        finished_at=timezone.now())
    capture.refresh_from_db()


def run_capture(capture_id: int, *, options: dict | None = None) -> Capture:
    """Make the queued capture `capture_id` and store it. Returns the capture, done or
    failed (with its code and reason). A failure worth retrying is raised again after it
    is recorded, so that the task framework tries again; a refusal is not."""
    with transaction.atomic():
        capture = Capture.objects.select_for_update(of=("self",)).select_related(
            "citation", "citation__claim", "citation__incident", "requested_by").get(
            pk=capture_id)
        if capture.status == Capture.Status.DONE:
            return capture
        capture.status = Capture.Status.RUNNING
        capture.worker = worker_id()
        capture.started_at = timezone.now()
        capture.attempts += 1
        capture.failure_code = capture.failure_reason = ""
        capture.save(update_fields=["status", "worker", "started_at", "attempts",
                                    "failure_code", "failure_reason"])
    try:
        if capture.citation is None:
            raise CaptureError(errors.NO_ADDRESS, _("The citation was deleted."))
        # With the requester's rights as they are now: a handler right withdrawn since the
        # request stops the capture of a protected address.
        address, _protected = capture_address(capture.citation, capture.requested_by,
                                     trigger=capture.trigger)
        result = capture_page(address, **(options or capture_options()))
    except CaptureError as exc:
        _fail(capture, exc)
        if exc.code in TRANSIENT:
            raise
        return capture
    with result:
        if settings.CAPTURE_TSA_URL:
            try:
                result.timestamp = stamp(result.manifest_bytes, settings.CAPTURE_TSA_URL,
                                         ca_file=settings.CAPTURE_TSA_CA_FILE or None)
            except TimestampError as exc:
                # The capture is kept: the page may be gone by the next attempt. The
                # missing timestamp is recorded and reported by verify_evidence.
                result.timestamp_error = exc.message
        try:
            return store_capture(capture.citation_id, capture.requested_by_id, result,
                                 capture_id=capture.pk)
        except CaptureError as exc:
            _fail(capture, exc)
            raise


# --- storing it -------------------------------------------------------------------------------

def _check_files(result: CaptureResult) -> None:
    """The files on disk are those the manifest lists, byte for byte."""
    listed = {entry["name"]: entry["sha256"] for entry in result.manifest["files"]}
    for captured in result.files:
        digest, size = sha256_of(captured.path)
        expected = (result.manifest_sha256 if captured.role == ROLE_MANIFEST
                    else listed.get(captured.name))
        if digest != captured.sha256 or digest != expected or size != captured.size:
            raise CaptureError(errors.HASH_MISMATCH,
                               _("The %(role)s file changed after it was captured.")
                               % {"role": captured.role})


def _custody_note(capture: Capture, result: CaptureResult, user) -> str:
    asked_by = user.get_full_name() or user.get_username()
    return _("Captured from the web by worker %(worker)s at %(when)s UTC (capture %(number)s), "
             "asked for by %(who)s. Manifest SHA-256: %(sha256)s.") % {
        "worker": capture.worker or result.worker,
        "when": f"{result.captured_at:%Y-%m-%d %H:%M:%S}", "number": capture.pk,
        "who": asked_by, "sha256": result.manifest_sha256}


def store_capture(citation_id: int, requested_by_id: int, result: CaptureResult, *,
                  capture_id: int | None = None) -> Capture:
    """Store `result` as the capture of citation `citation_id` asked for by user
    `requested_by_id` (the queued `capture_id`, or a new capture). Idempotent: the same
    result, or a capture already done, is returned as stored."""
    user = get_user_model().objects.get(pk=requested_by_id)
    citation = Citation.objects.select_related("claim", "incident").get(pk=citation_id)
    _check_files(result)
    timestamp = result.timestamp
    timestamp_error = result.timestamp_error
    verified_at = None
    if timestamp is not None:
        try:
            verify_token(timestamp.token, result.manifest_sha256, timestamp.chain_pem)
            verified_at = timezone.now()
        except TimestampError as exc:
            timestamp, timestamp_error = None, exc.message
    with transaction.atomic():
        same = Capture.objects.filter(manifest_sha256=result.manifest_sha256).first()
        if same is not None:
            return same
        if capture_id is not None:
            capture = Capture.objects.select_for_update().get(pk=capture_id)
            if capture.status == Capture.Status.DONE:
                return capture
        else:
            capture = Capture(case_id=_case_id(citation), citation=citation,
                              requested_by=user, protected=not citation.url,
                              started_at=result.captured_at, attempts=1)
        capture.status = Capture.Status.DONE
        capture.failure_code = capture.failure_reason = ""
        capture.worker = capture.worker or result.worker
        capture.captured_at = result.captured_at
        capture.finished_at = timezone.now()
        capture.http_status = result.http_status
        capture.set_details(url=result.url, final_url=result.final_url, title=result.title,
                            response_headers=[list(pair) for pair in result.response_headers],
                            manifest=result.manifest, refused=result.refused)
        capture.manifest_sha256 = result.manifest_sha256
        if timestamp is not None:
            capture.timestamp_token = timestamp.token
            capture.tsa_chain_pem = timestamp.chain_pem
            capture.tsa_url = timestamp.tsa_url
            capture.timestamped_at = timestamp.gen_time
            capture.verified_at = verified_at
        capture.timestamp_error = timestamp_error or ""
        capture.save()

        note = _custody_note(capture, result, user)
        origin = "" if capture.protected or len(result.final_url) > 500 else result.final_url
        for captured in result.files:
            _store_file(capture, citation, user, captured, note, origin, result)
        if capture.verified_at is not None:
            manifest = capture.files.get(role=CaptureFile.Role.MANIFEST).evidence
            CustodyEntry.objects.create(
                evidence=manifest, action=CustodyEntry.Action.HASH_VERIFIED, actor=user,
                note=_("RFC 3161 timestamp over this manifest's SHA-256 (%(sha256)s) by "
                       "%(tsa)s, certifying %(certified)s UTC, verified against the TSA's "
                       "certificate chain (%(signer)s).") % {
                    "sha256": result.manifest_sha256, "tsa": capture.tsa_url,
                    "certified": f"{capture.timestamped_at:%Y-%m-%d %H:%M:%S}",
                    "signer": timestamp.signer})
    return capture


def _store_file(capture, citation, user, captured, note, origin, result) -> Evidence:
    # A served file's type is detected from its content when it is stored (Evidence.save),
    # as for any file that did not come through the upload check.
    kind = KINDS.get(captured.role)
    description = str(DESCRIPTIONS[captured.role])
    if not capture.protected and result.title:
        description = _("%(description)s: “%(title)s”") % {"description": description,
                                                          "title": result.title[:200]}
    evidence = Evidence(case_id=capture.case_id, claim_id=citation.claim_id,
                        incident_id=citation.incident_id, created_by=user, captured_by=user,
                        captured_at=result.captured_at, origin_url=origin,
                        original_name=captured.name, description=description)
    with captured.path.open("rb") as handle:
        content = File(handle, name=captured.name)
        # Evidence.save() takes the detected type and the hash as collected from here, as
        # for an upload (cases/uploads.py).
        if kind is not None:
            content.upload_info = UploadInfo(kind=kind, original_sha256=captured.sha256,
                                             original_size=captured.size)
        evidence.file = content
        evidence.save()
    if evidence.sha256 != captured.sha256:
        raise CaptureError(errors.HASH_MISMATCH,
                           _("The %(role)s file was stored with another SHA-256.")
                           % {"role": captured.role})
    evidence.start_custody(user, note)
    CaptureFile.objects.create(capture=capture, evidence=evidence, role=captured.role)
    return evidence


# --- a timestamp obtained later -----------------------------------------------------------------

def awaiting_timestamp():
    """The done captures kept without a timestamp (no TSA answered when they were stored)."""
    return Capture.objects.filter(status=Capture.Status.DONE, timestamp_token__isnull=True) \
        .exclude(manifest_sha256="")


def timestamp_later(capture_id: int) -> Capture:
    """Have the manifest of done capture `capture_id`, kept without a timestamp, timestamped
    now (CAPTURE_TSA_URL), verified and kept as if it had been at capture time. The token
    certifies the time it was obtained, not the time of capture: the custody entry says
    both. Idempotent: a capture that has a timestamp is returned as it is. Raises
    TimestampError when no TSA answers (the task retries; the reason is kept on the
    capture, which verify_evidence reports), CaptureError (hash_mismatch) when the stored
    manifest is no longer the one captured."""
    capture = Capture.objects.select_related("requested_by").get(pk=capture_id)
    if capture.timestamp_token or capture.status != Capture.Status.DONE:
        return capture
    manifest = capture.files.select_related("evidence").get(
        role=CaptureFile.Role.MANIFEST).evidence
    with manifest.file.open("rb") as handle:
        data = handle.read()
    if sha256_bytes(data) != capture.manifest_sha256:
        raise CaptureError(errors.HASH_MISMATCH,
                           _("The stored manifest no longer has the SHA-256 captured; it is "
                             "not timestamped."))
    try:
        timestamp = stamp(data, settings.CAPTURE_TSA_URL,
                          ca_file=settings.CAPTURE_TSA_CA_FILE or None)
        verify_token(timestamp.token, capture.manifest_sha256, timestamp.chain_pem)
    except TimestampError as exc:
        Capture.objects.filter(pk=capture.pk, timestamp_token__isnull=True).update(
            timestamp_error=exc.message)
        raise
    with transaction.atomic():
        capture = Capture.objects.select_for_update().select_related("requested_by").get(
            pk=capture_id)
        if capture.timestamp_token:
            return capture
        capture.timestamp_token = timestamp.token
        capture.tsa_chain_pem = timestamp.chain_pem
        capture.tsa_url = timestamp.tsa_url
        capture.timestamped_at = timestamp.gen_time
        capture.verified_at = timezone.now()
        capture.timestamp_error = ""
        capture.save(update_fields=["timestamp_token", "tsa_chain_pem", "tsa_url",
                                    "timestamped_at", "verified_at", "timestamp_error"])
        CustodyEntry.objects.create(
            evidence=manifest, action=CustodyEntry.Action.HASH_VERIFIED,
            actor=capture.requested_by,
            note=_("RFC 3161 timestamp over this manifest's SHA-256 (%(sha256)s) by %(tsa)s, "
                   "certifying %(certified)s UTC, verified against the TSA's certificate "
                   "chain (%(signer)s). Obtained after the capture of %(captured)s UTC, when "
                   "no Time-Stamp Authority had answered: it proves the files existed by "
                   "the time it certifies.") % {
                "sha256": capture.manifest_sha256, "tsa": capture.tsa_url,
                "certified": f"{capture.timestamped_at:%Y-%m-%d %H:%M:%S}",
                "signer": timestamp.signer,
                "captured": f"{capture.captured_at:%Y-%m-%d %H:%M:%S}"})
    return capture


def sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
