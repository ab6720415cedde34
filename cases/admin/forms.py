"""The base form of every admin form of the back office: a version token (versions.py) and
the need-to-know rules for its fields (need_to_know.py)."""

from django import forms

from .need_to_know import WithheldFieldsFormMixin
from .versions import AdminVersionedFormMixin


class AdminRecordForm(AdminVersionedFormMixin, WithheldFieldsFormMixin, forms.ModelForm):
    pass


class ReadOnlyAdminForm(WithheldFieldsFormMixin, forms.ModelForm):
    """The form of an audit log's page or inline: shown, never saved, so no version."""
