"""The evidence upload check on a form (cases/uploads.py is the check itself)."""

from django.core.files.uploadedfile import UploadedFile

from ..uploads import accept_attribute, clean_upload, help_text


class EvidenceUploadFormMixin:
    """For every ModelForm of Evidence that takes a file (the workspace's EvidenceForm, the
    admin's): the one check of cases.uploads, beside the file field."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("file")
        if field is not None:
            field.help_text = help_text()
            field.widget.attrs.setdefault("accept", accept_attribute())

    def clean_file(self):
        file = self.cleaned_data.get("file")
        if isinstance(file, UploadedFile):  # a new upload, not the stored file
            return clean_upload(file)
        return file
