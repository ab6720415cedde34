"""Import into a case and export out of it.

Import (incidents, sources, claims with their citations, a whole case) is upload → preview →
confirm, for the case's reporters and editors (404 for anyone else, as for the record
forms). The upload is checked in full and kept on the server, encrypted, under a signed token
(cases.imports.stage_upload); the preview lists every row with an error beside its errors,
and the confirmation reads the file from the server, never from the browser, checks it again
against the case as it is now, and writes every row or none.

Export is for every member: incidents as CSV or XLSX, the whole case as JSON, GeoJSON and
ClaimReview JSON-LD, streamed (cases/exports.py). No export carries a protected identity.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

from .. import exports, imports
from ..enums import Role
from ..forms.imports import IMPORT_KINDS, ImportUploadForm
from .case_page import case_view

KIND_DESTINATION = {"incidents": "timeline", "sources": "source_list", "claims": "claims_board",
                    "case": "case_overview"}


@case_view(tab="transfer")
def export_case(request, case_page):
    """The export page, or with ?format= one export as a download."""
    access = case_page.access
    name = request.GET.get("format")
    if not name:
        return case_page.render("cases/export_list.html", {
            "formats": [(key, label) for key, (label, _ct, _ext) in exports.EXPORTS.items()]})
    if name not in exports.EXPORTS:
        raise Http404("No such export format.")
    _label, content_type, _ext = exports.EXPORTS[name]
    filename = exports.filename(access.case, name)
    if name == "xlsx":
        return FileResponse(exports.incidents_xlsx(access.case), as_attachment=True,
                            filename=filename, content_type=content_type)
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in exports.export_chunks(access.case, name,
                                                                 user=request.user)),
        content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def column_help() -> list[dict]:
    """Each table import's columns as its importer reads them (the importer's own `columns`:
    names, aliases, whether required, a description), so that the page's help is what the
    importer reads."""
    return [{"kind": kind, "label": label, "columns": imports.IMPORTERS[kind].columns}
            for kind, label in IMPORT_KINDS
            if issubclass(imports.IMPORTERS[kind], imports.TabularImporter)]


def _import_form_page(case_page, form, *, status=200):
    return case_page.render("cases/import_form.html",
                            {"form": form, "column_help": column_help()}, status=status)


@case_view(tab="transfer", methods=["GET", "POST"], min_role=Role.REPORTER)
def import_upload(request, case_page):
    access = case_page.access
    if request.method != "POST":
        initial = {"kind": request.GET.get("kind")} if request.GET.get("kind") in KIND_DESTINATION \
            else None
        return _import_form_page(case_page, ImportUploadForm(initial=initial))
    form = ImportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_form_page(case_page, form, status=400)
    kind, upload = form.cleaned_data["kind"], form.cleaned_data["file"]
    data = upload.read()
    try:
        report = imports.check_file(kind, access, request.user, data, upload.name)
    except imports.FileRefused as exc:
        form.add_error("file", ValidationError(str(exc), code=exc.code))
        return _import_form_page(case_page, form, status=400)
    token = None
    if report.ok:
        token = imports.stage_upload(data, case=access.case, user=request.user, kind=kind,
                                     name=upload.name)
    return _preview(case_page, report, kind=kind, name=upload.name, token=token)


def _imported(kind: str, count: int) -> str:
    """The success message of an import, for its count (the number is put in by the caller,
    grouped in the reader's way)."""
    if kind == "claims":
        # %(count)s is "3 claims and 5 citations" (_claims_and_citations).
        return gettext("Imported %(count)s from “%(name)s”.")
    if kind == "incidents":
        return ngettext("Imported %(count)s incident from “%(name)s”.",
                        "Imported %(count)s incidents from “%(name)s”.", count)
    if kind == "sources":
        return ngettext("Imported %(count)s source from “%(name)s”.",
                        "Imported %(count)s sources from “%(name)s”.", count)
    return ngettext("Imported %(count)s record from “%(name)s”.",
                    "Imported %(count)s records from “%(name)s”.", count)


def _claims_and_citations(importer, report) -> str:
    """What a claims file holds, in words: "3 claims and 5 citations"."""
    counts = report.counts
    return gettext("%(claims)s and %(citations)s") % {
        "claims": importer.counted(counts.get("claims", 0)),
        "citations": importer.counted_citations(counts.get("citations", 0))}


def _preview(case_page, report, *, kind, name, token, status=200):
    importer = imports.importer_for(kind, case_page.access, case_page.request.user)
    return case_page.render("cases/import_preview.html", {
        "report": report, "kind": kind, "noun": importer.noun, "file_name": name,
        "token": token,
        "holds": _claims_and_citations(importer, report) if kind == "claims" else "",
    }, status=status)


@case_view(tab="transfer", methods=["POST"], min_role=Role.REPORTER)
def import_confirm(request, case_page):
    access = case_page.access
    try:
        data, info = imports.read_staged(request.POST.get("token", ""), case=access.case,
                                         user=request.user)
    except imports.StagingExpired:
        messages.error(request, gettext("This preview has expired or was already imported: "
                                        "upload the file again."))
        return redirect("cases:import_upload", access.case.slug)
    kind, name = info["k"], info["n"]
    try:
        report = imports.import_file(kind, access, request.user, data, name)
    except imports.FileRefused as exc:
        imports.discard_staged(info)
        messages.error(request, str(exc))
        return redirect("cases:import_upload", access.case.slug)
    if not report.ok:
        # The case changed since the preview (a source name taken meanwhile…): nothing was
        # written; show why, and let them upload again.
        imports.discard_staged(info)
        return _preview(case_page, report, kind=kind, name=name, token=None, status=409)
    imports.discard_staged(info)
    if kind == "claims":
        count = _claims_and_citations(imports.importer_for(kind, access, request.user), report)
    else:
        count = number_format(report.written, force_grouping=True)
    messages.success(request, _imported(kind, report.written) % {"count": count, "name": name})
    return redirect(reverse(f"cases:{KIND_DESTINATION[kind]}", args=[access.case.slug]))
