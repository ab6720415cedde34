"""The claim page's verification forms; the workflow decides, these only collect."""


from django import forms
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from ..enums import VerificationStatus
from ..workflow import OVERRIDE_REASON_MIN_LENGTH


class TransitionForm(forms.Form):
    """A verification move on a claim page. It offers the moves the workflow offers this user
    (`moves`); the workflow still decides, when it is made, whether the record supports it.
    With `support` (workflow.support_of), the override shows the sources a confirmation
    would rest on and their grades, and asks for the acknowledgement of an E or F grade
    when the workflow will want it."""

    # Any status validates here: whether this user may make the move is the workflow's call,
    # and its refusal says why better than "select a valid choice" would.
    to_status = forms.ChoiceField(label="New status", choices=VerificationStatus.choices)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           max_length=5000,
                           help_text="Why. A verdict or a reopening needs a written rationale.")
    override_reason = forms.CharField(
        label="Single-source override", required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    acknowledge_low_grade = forms.BooleanField(
        label=_("Confirm on a source graded E or F"), required=False)

    def __init__(self, *args, moves=(), support=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_status"].widget.choices = [
            (m.to_status.value, _move_label(m)) for m in moves
        ]
        if not any(m.allows_override for m in moves):
            del self.fields["override_reason"]
        else:
            help_text = _("Only when confirming on one source, or on sources that share an "
                          "origin: say why that is enough here, in at least %(count)d "
                          "characters.") % {"count": OVERRIDE_REASON_MIN_LENGTH}
            if support is not None and support.sources:
                help_text += " " + _("Confirming would rest on: %(sources)s.") % {
                    "sources": _graded(support.sources)}
            self.fields["override_reason"].help_text = help_text
        if "override_reason" in self.fields and support is not None \
                and support.needs_acknowledgement:
            self.fields["acknowledge_low_grade"].help_text = _(
                "%(sources)s: tick to confirm on this source alone all the same.") % {
                "sources": _graded(support.low_grade_sources)}
        else:
            del self.fields["acknowledge_low_grade"]


def _graded(sources) -> str:
    # Help texts are shown as HTML: the names are the case's own text, escaped.
    return escape(", ".join(str(source) for source in sources))


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


# --- The workspace's record forms -----------------------------------------------------------
#
# Every form below knows its case (`case=`) and the user's access (`access=`), offers related
# records (incidents, claims, sources, members) of that case only, lays itself out with
# crispy, carries a version token (cases.concurrency) and leaves the <form> tag and the
# buttons to the page, which may hold several forms (a claim and its citations). The models'
# clean() still checks that related records belong to the same case, for every write path.
