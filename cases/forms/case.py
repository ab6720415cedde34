"""Forms on the case itself: creating and editing it, and its members."""


from crispy_forms.layout import Column, Field, Layout, Row
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..enums import Role
from ..identities import check_handler_grant
from ..models import (
    Case,
    Membership,
)
from ..models.case import LEAD_NOT_ELIGIBLE, LEAD_NOT_ELIGIBLE_MESSAGE
from ..text import one_line, tidy_text
from .base import CaseRecordForm, CrispyModelForm
from .versioning import VersionedFormMixin


class LeadField(forms.ModelChoiceField):
    """The lead, among the case's lead candidates. Any other choice gets the model's one
    answer for a lead who may not lead, whoever it names."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError:
            raise ValidationError(LEAD_NOT_ELIGIBLE_MESSAGE, code=LEAD_NOT_ELIGIBLE) from None


class CaseForm(CrispyModelForm):
    """A case's own fields. Its address (slug) is made by the server when the case is opened
    (Case._unique_slug): a chosen one could be refused as taken, which would tell an outsider
    that a case they cannot see exists. The lead is offered among the instance's lead
    candidates: opening a case (instance with `created_by`), that is its opener alone."""

    class Meta:
        model = Case
        fields = ["title", "summary", "status", "sensitivity", "lead"]
        field_classes = {"lead": LeadField}
        widgets = {"summary": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "sensitivity": _("Restricted cases should have as few members as the work "
                             "allows."),
            "lead": _("One of the case's reporters or editors. Opening a case, that is you: "
                      "add the team, then choose the lead."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = self.instance.lead_candidates().order_by("username")

    def clean_title(self):
        return " ".join(self.cleaned_data["title"].split())


def _last_editor_problem(membership, *, actor) -> str | None:
    """Why `membership` may not stop being an editor: a case always keeps one."""
    if membership.pk is None or membership.role != Role.EDITOR:
        return None
    others = (Membership.objects.filter(case_id=membership.case_id, role=Role.EDITOR)
              .exclude(pk=membership.pk))
    if others.exists():
        return None
    if actor is not None and membership.user_id == actor.pk:
        return gettext("You are the last editor of this case: make another member editor "
                       "before you step down.")
    return gettext("This is the case's last editor: make another member editor first.")


def _actor(access):
    return access.membership.user if access is not None else None


def _check_handler_grant(form, cleaned) -> None:
    """A second person grants the source-handler right (cases/identities.py)."""
    if not cleaned.get("can_handle_sources") or form.instance.user_id is None:
        return
    membership = Membership(pk=form.instance.pk, case=form.case, user_id=form.instance.user_id,
                            can_handle_sources=True)
    try:
        check_handler_grant(membership, actor=_actor(form.access),
                            was_handler=bool(form.instance.pk
                                             and form.instance.can_handle_sources))
    except ValidationError as exc:
        form.add_error(None, exc)


class MemberAddForm(CaseRecordForm):
    username = forms.CharField(label=_("Username"), max_length=150,
                               help_text=_("Their Casedesk username."))

    class Meta:
        model = Membership
        fields = ["role", "can_handle_sources"]

    def get_layout(self):
        return Layout(Row(Column("username"), Column("role")), "can_handle_sources")

    def clean_username(self):
        name = one_line(self.cleaned_data["username"])
        users = get_user_model().objects.filter(is_active=True)
        user = users.filter(username=name).first()
        if user is None:
            matches = list(users.filter(username__iexact=name)[:2])
            user = matches[0] if len(matches) == 1 else None
        if user is None:
            raise ValidationError(_("No active Casedesk account has this username."))
        if Membership.objects.filter(case=self.case, user=user).exists():
            raise ValidationError(
                _("%(username)s is already a member of this case; change their role in the "
                  "list below."), params={"username": user.get_username()})
        self.instance.user = user
        return user.get_username()

    def clean(self):
        cleaned = super().clean()
        _check_handler_grant(self, cleaned)
        return cleaned


class MembershipForm(CaseRecordForm):
    """A member's role and source-handler right (editors only)."""

    class Meta:
        model = Membership
        fields = ["role", "can_handle_sources"]

    def conflict_subject(self):
        return gettext("%(username)s's membership") % {
            "username": self.instance.user.get_username()}

    def get_layout(self):
        return Layout("role", "can_handle_sources")

    def clean_role(self):
        role = self.cleaned_data["role"]
        if role != Role.EDITOR:
            problem = _last_editor_problem(self.instance, actor=_actor(self.access))
            if problem:
                raise ValidationError(problem)
        return role

    def clean(self):
        cleaned = super().clean()
        _check_handler_grant(self, cleaned)
        return cleaned


class MemberRemoveForm(VersionedFormMixin, forms.Form):
    """Taking someone off the case. Versioned like an edit: a role changed meanwhile is
    reason enough to look again before removing them."""

    def __init__(self, *args, instance, case=None, access=None, **kwargs):
        self.instance, self.case, self.access = instance, case, access
        super().__init__(*args, **kwargs)

    def conflict_subject(self):
        return gettext("%(username)s's membership") % {
            "username": self.instance.user.get_username()}

    def clean(self):
        problem = _last_editor_problem(self.instance, actor=_actor(self.access))
        if problem:
            raise ValidationError(problem)
        return super().clean()


class CaseEditForm(VersionedFormMixin, CaseForm):
    """Editing a case (editors only): CaseForm with a version token. The address stays as
    it was made: links to the case keep working."""

    def __init__(self, *args, case, access=None, **kwargs):
        self.case, self.access = case, access
        super().__init__(*args, **kwargs)
        self.helper.layout = Layout(
            "title", "summary",
            Row(Column("status"), Column("sensitivity"), Column("lead")),
            Field("version"),
        )

    def clean_summary(self):
        return tidy_text(self.cleaned_data["summary"])
