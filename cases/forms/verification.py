"""The verification moves' inputs, and the claim page's forms for them.

`TransitionInput` and `ProposalInput` define once what a move takes, wherever it is made:
the claim page (below), the admin's actions (cases.admin.workflow_actions) and the API
(api.serializers builds its fields from them). The same input is refused with the same code
at each door: a status no move leads to (`invalid_choice`), a note or reason over
NOTE_MAX_LENGTH characters (`max_length`). Everything else is the workflow's to decide, with
its own codes (cases.workflow.Refusal); these only collect.
"""

from django import forms
from django.utils.functional import lazy
from django.utils.html import escape
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..workflow import MOVE_TARGETS, OVERRIDE_REASON_MIN_LENGTH, VERDICTS

# A move's note and an override's reason: room for any rationale, and a bound on what one
# request can add to the verification history, which is never deleted.
NOTE_MAX_LENGTH = 5000

# A help text with a number in it, put into words when the form is shown.
_override_help = lazy(lambda: gettext(
    "Only to confirm a claim without two independent sources: say why one source is enough, "
    "in at least %(count)d characters.") % {"count": OVERRIDE_REASON_MIN_LENGTH}, str)


class TransitionInput(forms.Form):
    """A change of a claim's status. Any status a move can lead to is accepted here: whether
    this user may make this move on this claim is the workflow's call, and its refusal says
    why better than "select a valid choice" would."""

    to_status = forms.ChoiceField(label=_("New status"),
                                  choices=[(s.value, s.label) for s in MOVE_TARGETS])
    note = forms.CharField(
        label=_("Note"), required=False, max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why. A verdict or a reopening needs a written rationale."))
    override_reason = forms.CharField(
        label=_("Single-source override"), required=False, max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}), help_text=_override_help())
    acknowledge_low_grade = forms.BooleanField(
        label=_("Confirm on a source graded E or F"), required=False,
        help_text=_("A claim confirmed on one source graded E (unreliable) or F (cannot be "
                    "judged) needs this tick."))


class ProposalInput(forms.Form):
    """A proposed verdict, for an editor who did not propose it to decide. The note is
    required by the workflow (`rationale_required`), as for a verdict."""

    verdict = forms.ChoiceField(
        label=_("Proposed verdict"), choices=[(s.value, s.label) for s in VERDICTS],
        help_text=_("Editors see your proposal; one who did not propose it decides."))
    note = forms.CharField(
        label=_("Note"), required=False, max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What supports this verdict."))


class TransitionForm(TransitionInput):
    """A verification move on a claim page. It offers the moves the workflow offers this user
    (`moves`); the workflow still decides, when it is made, whether the record supports it.
    With `support` (workflow.support_of), the override shows the sources a confirmation
    would rest on and their grades, and asks for the acknowledgement of an E or F grade
    when the workflow will want it."""

    def __init__(self, *args, moves=(), support=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_status"].widget.choices = [
            (m.to_status.value, _move_label(m)) for m in moves
        ]
        if not any(m.allows_override for m in moves):
            del self.fields["override_reason"]
        else:
            help_text = gettext("Only when confirming on one source, or on sources that "
                                "share an origin: say why that is enough here, in at least "
                                "%(count)d characters.") % {"count": OVERRIDE_REASON_MIN_LENGTH}
            if support is not None and support.sources:
                help_text += " " + gettext("Confirming would rest on: %(sources)s.") % {
                    "sources": _graded(support.sources)}
            self.fields["override_reason"].help_text = help_text
        if "override_reason" in self.fields and support is not None \
                and support.needs_acknowledgement:
            self.fields["acknowledge_low_grade"].help_text = gettext(
                "%(sources)s: tick to confirm on this source alone all the same.") % {
                "sources": _graded(support.low_grade_sources)}
        else:
            del self.fields["acknowledge_low_grade"]


def _graded(sources) -> str:
    # Help texts are shown as HTML: the names are the case's own text, escaped.
    return escape(", ".join(str(source) for source in sources))


def _move_label(move) -> str:
    if move.is_verdict:
        return gettext("Verdict: %(status)s") % {"status": str(move.to_status.label).lower()}
    if move.needs_note:
        return gettext("Reopen for review")
    return move.to_status.label


# The claim page takes a proposal's input as it is.
ProposeForm = ProposalInput
