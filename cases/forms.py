"""Journalist-facing forms. Each lists its fields explicitly; model validation (clean())
is shared with the admin, which reuses the same ModelForm machinery."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from .enums import VerificationStatus
from .models import Case


class CrispyModelForm(forms.ModelForm):
    submit_label = "Save"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", self.submit_label))


class CaseForm(CrispyModelForm):
    class Meta:
        model = Case
        fields = ["title", "slug", "summary", "status", "sensitivity", "lead"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "sensitivity": "Restricted cases should have as few members as the work allows.",
        }

    def __init__(self, *args, lead_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        if lead_choices is not None:
            self.fields["lead"].queryset = lead_choices

    def clean_title(self):
        return " ".join(self.cleaned_data["title"].split())


class TransitionForm(forms.Form):
    """A verification move on a claim page. It offers the moves the workflow offers this user
    (`moves`); the workflow still decides, when it is made, whether the record supports it."""

    # Any status validates here: whether this user may make the move is the workflow's call,
    # and its refusal says why better than "select a valid choice" would.
    to_status = forms.ChoiceField(label="New status", choices=VerificationStatus.choices)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           max_length=5000,
                           help_text="Why. A verdict or a reopening needs a written rationale.")
    override_reason = forms.CharField(
        label="Single-source override", required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only when confirming on one source, or on sources that share an origin: "
                  "say why that is enough here.",
    )

    def __init__(self, *args, moves=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_status"].widget.choices = [
            (m.to_status.value, _move_label(m)) for m in moves
        ]
        if not any(m.allows_override for m in moves):
            del self.fields["override_reason"]


def _move_label(move) -> str:
    if move.is_verdict:
        return f"Verdict: {move.to_status.label.lower()}"
    if move.needs_note:
        return "Reopen for review"
    return move.to_status.label


class ProposeForm(forms.Form):
    verdict = forms.ChoiceField(
        choices=[(s.value, s.label) for s in VerificationStatus if s.is_final],
        help_text="Editors see your proposal; one who did not propose it decides.",
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000,
                           help_text="What supports this verdict.")
