"""What every Casedesk form shares: crispy layout, the plain-words Admiralty scales, and
CaseRecordForm (a form on one record of one case). The text normalisers live in cases/text.py
and are importable from here too."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Layout, Submit
from django import forms
from django.contrib.auth import get_user_model
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ..enums import Credibility, Reliability
from .versioning import VersionedFormMixin


class CrispyModelForm(forms.ModelForm):
    submit_label = _("Save")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", self.submit_label))



# Plain-words meaning of the Admiralty (NATO) grades, shown beside the grade fields.
RELIABILITY_MEANING = {
    Reliability.A: _("No doubt about authenticity, trustworthiness or competence; a history of "
                     "complete reliability."),
    Reliability.B: _("Minor doubts; has given valid information most of the time."),
    Reliability.C: _("Some doubts, but has given valid information in the past."),
    Reliability.D: _("Significant doubts, though it has given valid information in the past."),
    Reliability.E: _("Lacks authenticity, trustworthiness and competence; a history of invalid "
                     "information."),
    Reliability.F: _("No basis to judge yet: a new or unknown source. This says nothing bad "
                     "about it."),
}
CREDIBILITY_MEANING = {
    Credibility.CONFIRMED: _("Confirmed by other independent sources; logical in itself and "
                             "consistent with what else we know."),
    Credibility.PROBABLY_TRUE: _("Not confirmed, but logical in itself and consistent with what "
                                 "else we know."),
    Credibility.POSSIBLY_TRUE: _("Not confirmed; reasonably logical and agrees with some of what "
                                 "else we know."),
    Credibility.DOUBTFUL: _("Not confirmed; possible but not logical, and nothing else bears it "
                            "out."),
    Credibility.IMPROBABLE: _("Not confirmed; not logical in itself and contradicted by other "
                              "information."),
    Credibility.CANNOT_BE_JUDGED: _("No basis to judge whether it is true."),
}


def _scale(title: str, meaning: dict) -> HTML:
    rows = format_html_join("", "<dt class=\"col-sm-4\">{}</dt><dd class=\"col-sm-8\">{}</dd>",
                            ((choice.label, text) for choice, text in meaning.items()))
    return HTML(format_html(
        '<details class="small mb-3"><summary>{}</summary><dl class="row mb-0 mt-2">{}</dl>'
        "</details>", title, rows))


class _UserChoiceField(forms.ModelChoiceField):
    """Users (assignees, members) by their name, then their username."""

    def label_from_instance(self, obj):
        full = obj.get_full_name()
        return f"{full} ({obj.get_username()})" if full else obj.get_username()


class _IncidentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.title} ({obj.when_display})"


def _members(case):
    return get_user_model().objects.filter(memberships__case=case).order_by("username")


class CaseRecordForm(VersionedFormMixin, CrispyModelForm):
    """Base of the workspace forms (see the comment above)."""

    def __init__(self, *args, case, access=None, **kwargs):
        self.case, self.access = case, access
        super().__init__(*args, **kwargs)
        self.limit_choices()
        self.helper = FormHelper(self)
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.render_hidden_fields = True  # the version token, a formset's ids
        self.helper.layout = self.get_layout()

    def limit_choices(self) -> None:
        """Point related-record fields at this case's records."""

    def clean(self):
        cleaned = super().clean()
        # Date-and-time inputs show minutes: a saved time with seconds comes back truncated.
        # Unless the user changed it, keep the saved value rather than rewrite it.
        for name, field in self.fields.items():
            saved = getattr(self.instance, name, None) if self.instance.pk else None
            value = cleaned.get(name)
            if (isinstance(field, forms.DateTimeField) and saved is not None
                    and value is not None and value == saved.replace(second=0, microsecond=0)):
                cleaned[name] = saved
        return cleaned

    def get_layout(self) -> Layout:
        return Layout(*self.fields)

    def _limit(self, name, queryset) -> None:
        if name in self.fields:
            self.fields[name].queryset = queryset
