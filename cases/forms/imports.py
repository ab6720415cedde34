"""The import page's upload form: what to import and the file."""

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from ..uploads import max_upload_bytes

IMPORT_KINDS = [
    ("incidents", _("Incidents (CSV or Excel)")),
    ("sources", _("Sources (CSV or Excel)")),
    ("claims", _("Claims with their citations (CSV or Excel)")),
    ("case", _("A whole case exported from Casedesk (JSON), into this empty case")),
]
TABLE_EXTENSIONS = (".csv", ".xlsx", ".txt")
ACCEPTED_EXTENSIONS = {"incidents": TABLE_EXTENSIONS, "sources": TABLE_EXTENSIONS,
                       "claims": TABLE_EXTENSIONS, "case": (".json",)}


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=IMPORT_KINDS,
                             widget=forms.RadioSelect, initial="incidents")
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8) or Excel .xlsx with the column names in the first row, or a "
                    "Casedesk case export (.json). Nothing is written until you confirm the "
                    "preview."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt,.json"}),
    )

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if kinds is not None:
            self.fields["kind"].choices = [c for c in IMPORT_KINDS if c[0] in kinds]

    def clean(self):
        cleaned = super().clean()
        upload, kind = cleaned.get("file"), cleaned.get("kind")
        if upload is None or kind is None:
            return cleaned
        limit = max_upload_bytes()
        if upload.size is not None and upload.size > limit:
            self.add_error("file", ValidationError(
                _("This file is %(size)s; files up to %(limit)s are accepted. Split it into "
                  "several files."),
                code="size", params={"size": filesizeformat(upload.size),
                                     "limit": filesizeformat(limit)}))
            return cleaned
        name = (upload.name or "").lower()
        if not name.endswith(ACCEPTED_EXTENSIONS[kind]):
            allowed = ", ".join(ACCEPTED_EXTENSIONS[kind])
            self.add_error("file", ValidationError(
                _("For this kind of import the file must end in %(extensions)s."), code="type",
                params={"extensions": allowed}))
        return cleaned
