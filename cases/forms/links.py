"""The forms that link a case to another case and an incident to another incident, and
remove a link. Each lists its fields; what may be linked is cases.links' rule, and the
choices offer only records of cases the user may link (everything else is refused as if it
did not exist, with code `link_target_not_found`)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..enums import IncidentLinkKind, Role
from ..links import LINK_TARGET_NOT_FOUND, MESSAGES, NOTE_MAX_LENGTH
from ..models import Case, CaseLink, Incident
from .widgets import CaseSelect


class VisibleChoiceField(forms.ModelChoiceField):
    """A record among those offered; anything else, whether it exists or not, gets one
    answer, so that trying ids reveals nothing."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError:
            raise forms.ValidationError(MESSAGES[LINK_TARGET_NOT_FOUND],
                                        code=LINK_TARGET_NOT_FOUND) from None


def _note_field():
    return forms.CharField(label=_("Note"), required=False, max_length=NOTE_MAX_LENGTH,
                           widget=forms.Textarea(attrs={"rows": 2}))


class CaseLinkForm(forms.Form):
    # Written directly, not through Django's option template: a chief editor's thousand cases.
    to_case = VisibleChoiceField(label=_("Linked case"), queryset=Case.objects.none(),
                                 widget=CaseSelect,
                                 help_text=_("One of the cases where you are a reporter or "
                                             "editor."))
    note = _note_field()

    field_order = ["to_case", "note"]

    def __init__(self, *args, case, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_case"].queryset = (Case.objects.where_role_at_least(user, Role.REPORTER)
                                           .exclude(pk=case.pk).order_by("title", "pk"))


class IncidentLinkForm(forms.Form):
    to_incident = VisibleChoiceField(
        label=_("Linked incident"), queryset=Incident.objects.none(),
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text=_("The incident's number: the one in its address, as in …/incidents/12/…; "
                    "it may be in another case of yours."))
    kind = forms.ChoiceField(label=_("How they are linked"), choices=IncidentLinkKind.choices,
                             initial=IncidentLinkKind.RELATED)
    note = _note_field()

    field_order = ["to_incident", "kind", "note"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_incident"].queryset = Incident.objects.visible_to(user)


class LinkRemoveForm(forms.Form):
    """Which link to remove: one of those shown to the user on this record."""

    link = VisibleChoiceField(queryset=CaseLink.objects.none(), widget=forms.HiddenInput)

    field_order = ["link"]

    def __init__(self, *args, links, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["link"].queryset = links


__all__ = ["CaseLinkForm", "IncidentLinkForm", "LinkRemoveForm"]
