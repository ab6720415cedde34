"""Checking what is stored against what was recorded: `manage.py verify_evidence`.

Every evidence file is read again and hashed; its SHA-256 and size must be those recorded
when it was stored. Every done capture must still have its four files; its manifest file
must hash to the manifest SHA-256 the timestamp covers, and list the SHA-256 each of the
other files has now; its WACZ's own hashes (datapackage.json) must hold; and its timestamp
token must verify over that SHA-256 against the chain kept with it. A capture without a
timestamp (no TSA configured, or none answered) is reported as such, without failing.

Findings name records by id, file name and case, never by a captured address.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from cases.models import Evidence

from . import errors
from .archive import check_wacz
from .errors import TimestampError
from .models import Capture, CaptureFile
from .timestamps import verify_token

FILE_MISSING = "file_missing"
SIZE_MISMATCH = "size_mismatch"
MANIFEST_MISMATCH = "manifest_mismatch"
CAPTURE_INCOMPLETE = "capture_incomplete"
WACZ_INVALID = "wacz_invalid"
NOT_TIMESTAMPED = "not_timestamped"


@dataclass(frozen=True)
class Finding:
    code: str
    subject: str
    message: str
    fatal: bool = True

    def __str__(self):
        return f"{'MISMATCH' if self.fatal else 'NOTE'} [{self.code}] {self.subject}: " \
               f"{self.message}"


@dataclass
class Report:
    evidence_checked: int = 0
    captures_checked: int = 0
    timestamps_verified: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(finding.fatal for finding in self.findings)


def _evidence_subject(evidence) -> str:
    name = f" “{evidence.original_name}”" if evidence.original_name else ""
    return f"evidence {evidence.pk}{name} of case {evidence.case.slug}"


def _hash(evidence) -> tuple[str, int] | None:
    digest, size = hashlib.sha256(), 0
    try:
        with evidence.file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    except (FileNotFoundError, ValueError, OSError):
        return None
    return digest.hexdigest(), size


def verify(case=None) -> Report:
    """Check every evidence file and capture (of `case`, or of every case)."""
    report = Report()
    evidence_rows = Evidence.objects.select_related("case").order_by("pk")
    captures = (Capture.objects.filter(status=Capture.Status.DONE).select_related("case")
                .prefetch_related("files__evidence").order_by("pk"))
    if case is not None:
        evidence_rows, captures = evidence_rows.of_case(case), captures.of_case(case)
    digests: dict[int, str | None] = {}
    for evidence in evidence_rows.iterator(chunk_size=200):
        report.evidence_checked += 1
        subject = _evidence_subject(evidence)
        if not evidence.file:
            digests[evidence.pk] = None
            report.findings.append(Finding(FILE_MISSING, subject, "no file is recorded."))
            continue
        hashed = _hash(evidence)
        if hashed is None:
            digests[evidence.pk] = None
            report.findings.append(Finding(FILE_MISSING, subject,
                                           "the file is missing from storage."))
            continue
        digest, size = hashed
        digests[evidence.pk] = digest
        if digest != evidence.sha256:
            report.findings.append(Finding(
                errors.HASH_MISMATCH, subject,
                f"SHA-256 is {digest}, {evidence.sha256} was recorded when it was stored."))
        elif size != evidence.size:
            report.findings.append(Finding(
                SIZE_MISMATCH, subject, f"{size} bytes, {evidence.size} were recorded."))
    for capture in captures:
        report.captures_checked += 1
        _verify_capture(capture, digests, report)
    return report


#: The files of a capture of a page, and of an address that served a file (capture/engine.py).
PAGE_ROLES = (CaptureFile.Role.ARCHIVE, CaptureFile.Role.SCREENSHOT, CaptureFile.Role.PDF,
              CaptureFile.Role.MANIFEST)
FILE_ROLES = (CaptureFile.Role.ARCHIVE, CaptureFile.Role.FILE, CaptureFile.Role.MANIFEST)


def expected_roles(capture: Capture) -> tuple[str, ...]:
    """The files `capture` must have, by what its manifest says it captured."""
    manifest = capture.details.get("manifest") or {}
    return FILE_ROLES if manifest.get("kind") == "file" else PAGE_ROLES


def _verify_capture(capture: Capture, digests: dict, report: Report) -> None:
    subject = f"capture {capture.pk} of case {capture.case.slug}"
    files = {f.role: f.evidence for f in capture.files.all()}
    missing = [role for role in expected_roles(capture) if role not in files]
    if missing:
        report.findings.append(Finding(CAPTURE_INCOMPLETE, subject,
                                       f"its {', '.join(missing)} evidence is gone."))
    manifest_evidence = files.get(CaptureFile.Role.MANIFEST)
    if manifest_evidence is not None:
        digest = digests.get(manifest_evidence.pk)
        if digest is None and manifest_evidence.pk not in digests:
            digest = (_hash(manifest_evidence) or (None,))[0]
        if digest is not None and digest != capture.manifest_sha256:
            report.findings.append(Finding(
                MANIFEST_MISMATCH, subject,
                f"the manifest file's SHA-256 is {digest}, the timestamped one "
                f"{capture.manifest_sha256}."))
        elif digest is not None:
            _check_listed_files(capture, manifest_evidence, files, digests, subject, report)
    archive = files.get(CaptureFile.Role.ARCHIVE)
    if archive is not None and digests.get(archive.pk, "") is not None:
        try:
            with archive.file.open("rb") as handle:
                problems = check_wacz(handle)
        except (FileNotFoundError, OSError, ValueError):
            problems = []  # reported as a missing file above
        for problem in problems:
            report.findings.append(Finding(WACZ_INVALID, subject, f"its WACZ: {problem}."))
    if capture.timestamp_token:
        try:
            verify_token(bytes(capture.timestamp_token), capture.manifest_sha256,
                         capture.tsa_chain_pem)
            report.timestamps_verified += 1
        except TimestampError as exc:
            report.findings.append(Finding(exc.code, subject, exc.message))
    else:
        why = f" ({capture.timestamp_error})" if capture.timestamp_error else ""
        report.findings.append(Finding(NOT_TIMESTAMPED, subject,
                                       f"it has no RFC 3161 timestamp{why}.", fatal=False))


def _check_listed_files(capture, manifest_evidence, files, digests, subject, report) -> None:
    try:
        with manifest_evidence.file.open("rb") as handle:
            listed = {entry["name"]: entry["sha256"]
                      for entry in json.loads(handle.read())["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        report.findings.append(Finding(MANIFEST_MISMATCH, subject,
                                       "its manifest cannot be read."))
        return
    for role, evidence in files.items():
        if role == CaptureFile.Role.MANIFEST:
            continue
        expected = listed.get(evidence.original_name)
        digest = digests.get(evidence.pk)
        if expected is None:
            report.findings.append(Finding(
                MANIFEST_MISMATCH, subject,
                f"its manifest does not list {_evidence_subject(evidence)}."))
        elif digest is not None and digest != expected:
            report.findings.append(Finding(
                MANIFEST_MISMATCH, subject,
                f"{_evidence_subject(evidence)} has SHA-256 {digest}, its manifest says "
                f"{expected}."))
