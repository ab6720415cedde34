"""The workspace's create and edit forms: incidents, sources (with a protected source's
identity, for its handlers only), claims with their citations, evidence uploads, tasks,
requests for comment, the case itself and its members.

Each page is a RecordFormView, a CasePageView: it is entered through case_view, so that
outsiders, and members below the page's `min_role`, get 404 on GET and POST alike; it offers
related records of this case only; and it handles POSTs with versioning.NoLostUpdatesMixin:
one transaction that locks the record, refuses a form opened on an older version (saying
what changed and who changed it), validates, and saves. The same class serves a record's
"new" URL (no pk) and its "edit" URL (pk).
"""

from django.contrib import messages
from django.db.models import Case as CaseWhen
from django.db.models import IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from ..enums import Role
from ..forms import (
    CaseEditForm,
    ClaimForm,
    CommentRequestForm,
    EvidenceForm,
    IncidentForm,
    MemberAddForm,
    MemberRemoveForm,
    MembershipForm,
    SourceForm,
    SourceIdentityForm,
    TaskForm,
    citation_formset,
)
from ..models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    Evidence,
    IdentityReveal,
    Incident,
    Membership,
    RevealChannel,
    Source,
    SourceIdentity,
    Task,
)
from .case_page import CasePageView
from .versioning import NoLostUpdatesMixin


class RecordFormView(NoLostUpdatesMixin, CasePageView):
    """Create (no `pk` in the URL) or edit (`pk`) one record of a case."""

    model = None
    form_class = None
    template_name = None
    min_role = Role.REPORTER
    list_url_name = None  # where to go after saving
    # The page's heading, and the message after saving, per kind of record: Russian words
    # agree with the record's gender, so each is a whole sentence of its own.
    new_heading = edit_heading = ""
    added_message = saved_message = ""  # with %(name)s, the record

    @property
    def creating(self) -> bool:
        return "pk" not in self.kwargs

    # --- the record

    def get_queryset(self):
        return self.model.objects.of_case(self.case)

    def get_object(self, *, lock=False):
        if self.creating:
            return self.new_object()
        queryset = self.get_queryset()
        if lock:
            queryset = queryset.select_for_update(of=("self",))
        return get_object_or_404(queryset, pk=self.kwargs["pk"])

    def new_object(self):
        return self.model(case=self.case, created_by=self.request.user)

    # --- the forms

    def form_kwargs(self) -> dict:
        return {"case": self.case, "access": self.access}

    def get_forms(self, obj, data=None, files=None) -> dict:
        return {"form": self.form_class(data, files, instance=obj, **self.form_kwargs())}

    def save_forms(self, obj, forms):
        return forms["form"].save()

    # --- the page

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        return self.render_forms(obj, self.get_forms(obj))

    def get_context(self, obj) -> dict:
        return {}

    def render_forms(self, obj, forms, *, conflicts=(), status=200):
        return self.case_page.render(self.template_name, {
            "object": obj, "creating": self.creating, "conflicts": conflicts,
            "heading": self.heading(obj), "cancel_url": self.cancel_url(obj),
            "form_action": self.form_action(obj), **forms,
            **self.get_context(obj),
        }, status=status)

    def form_action(self, obj) -> str:
        return self.request.path

    def heading(self, obj) -> str:
        return str(self.new_heading if self.creating else self.edit_heading)

    def cancel_url(self, obj) -> str:
        return reverse(f"cases:{self.list_url_name}", args=[self.case.slug])

    def success_url(self, obj) -> str:
        return reverse(f"cases:{self.list_url_name}", args=[self.case.slug])

    def success_message(self, obj) -> str:
        message = self.added_message if self.creating else self.saved_message
        return str(message) % {"name": obj}

    def forms_saved(self, obj):
        messages.success(self.request, self.success_message(obj))
        return redirect(self.success_url(obj))


class IncidentFormView(RecordFormView):
    model = Incident
    form_class = IncidentForm
    template_name = "cases/incident_form.html"
    tab = "timeline"
    list_url_name = "timeline"
    new_heading, edit_heading = _("New incident"), _("Edit incident")
    added_message = _("Incident “%(name)s” added to the timeline.")
    saved_message = _("Incident “%(name)s” saved.")


# An error report (the admins' error email) lists a request's POST data: never an identity,
# of which a protected source's address is part.
@method_decorator(sensitive_post_parameters("identity-real_name", "identity-contact",
                                            "identity-private_notes", "url"), name="dispatch")
class SourceFormView(RecordFormView):
    """A source's public fields for every reporter; its identity for source handlers only."""

    model = Source
    form_class = SourceForm
    template_name = "cases/source_form.html"
    tab = "sources"
    list_url_name = "source_list"
    new_heading, edit_heading = _("New source"), _("Edit source")
    added_message = _("Source “%(name)s” added.")
    saved_message = _("Source “%(name)s” saved.")

    def get_forms(self, obj, data=None, files=None):
        identity = None
        if self.access.can_handle_sources:
            if obj.pk is not None:
                identities = SourceIdentity.objects.filter(source=obj)
                if data is not None:
                    identities = identities.select_for_update()
                identity = identities.first()
            # Linked both ways: the source form shows the address it holds, and the
            # source's save writes a protected address into this same record.
            identity = identity or SourceIdentity()
            identity.source = obj
        forms = super().get_forms(obj, data, files)
        if identity is not None:
            forms["identity_form"] = SourceIdentityForm(
                data, files, instance=identity, prefix="identity", **self.form_kwargs())
        return forms

    def render_forms(self, obj, forms, **kwargs):
        # Showing a handler the form of a saved identity shows them who the source is (on a
        # refused save too, with the saved values beside the fields): the reveal log says so.
        identity_form = forms.get("identity_form")
        if identity_form is not None and identity_form.instance.pk is not None:
            IdentityReveal.objects.record(self.request.user, [obj], RevealChannel.SOURCE_PAGE)
        return super().render_forms(obj, forms, **kwargs)

    def save_forms(self, obj, forms):
        source = forms["form"].save()
        identity_form = forms.get("identity_form")
        if (identity_form is not None
                and not getattr(identity_form.instance, "saved_with_source", False)
                and (identity_form.instance.pk or not identity_form.is_empty())):
            identity = identity_form.save(commit=False)
            identity.source = source
            identity.save()
        return source


# The citations' addresses may be a protected source's (handlers only): not in error reports.
@method_decorator(sensitive_post_parameters(), name="dispatch")
class ClaimFormView(RecordFormView):
    """A claim and its citations, saved together or not at all."""

    model = Claim
    form_class = ClaimForm
    template_name = "cases/claim_form.html"
    tab = "claims"
    list_url_name = "claims_board"
    new_heading, edit_heading = _("New claim"), _("Edit claim")
    added_message, saved_message = _("Claim added."), _("Claim saved.")

    def get_forms(self, obj, data=None, files=None):
        forms = super().get_forms(obj, data, files)
        citations = Citation.objects.order_by("published_at", "pk")
        if data is not None:
            citations = citations.select_for_update(of=("self",))
        formset_class = citation_formset(extra=3 if obj.pk is None else 2)
        forms["citations"] = formset_class(data, files, instance=obj, queryset=citations,
                                           prefix="citations", **self.form_kwargs())
        return forms

    def save_forms(self, obj, forms):
        form, citations = forms["form"], forms["citations"]
        creating = obj.pk is None
        if creating:
            form.save()  # the citations need the claim's id
        for citation in citations.save(commit=False):
            if citation.pk is None:
                citation.created_by = self.request.user
            citation.save()
        for citation in citations.deleted_objects:
            citation.delete()
        # An edit saves the claim last, even when only its citations changed: its version
        # moves, so a colleague editing it at the same time is told.
        return obj if creating else form.save()

    def cancel_url(self, obj):
        if obj.pk is not None:
            return reverse("cases:claim_detail", args=[self.case.slug, obj.pk])
        return super().cancel_url(obj)

    def success_url(self, obj):
        return reverse("cases:claim_detail", args=[self.case.slug, obj.pk])


class EvidenceFormView(RecordFormView):
    """Uploading evidence. The form checks the file and removes an image's metadata
    (cases.uploads); its hash is computed as it is stored (Evidence.save) and its chain of
    custody starts here."""

    model = Evidence
    form_class = EvidenceForm
    template_name = "cases/evidence_form.html"
    tab = "evidence"
    list_url_name = "evidence_list"

    def new_object(self):
        return Evidence(case=self.case, created_by=self.request.user,
                        captured_by=self.request.user)

    def save_forms(self, obj, forms):
        evidence = forms["form"].save()
        evidence.start_custody(self.request.user,
                                gettext("Uploaded in the case workspace."))
        return evidence

    def heading(self, obj):
        return gettext("Upload evidence")

    def success_message(self, obj):
        values = {"name": obj, "hash": obj.sha256[:12]}
        if obj.metadata_removed:
            return gettext("Evidence “%(name)s” stored (SHA-256 %(hash)s…). Metadata removed "
                           "before storing: %(removed)s.") % {
                **values, "removed": ", ".join(obj.metadata_removed)}
        return gettext("Evidence “%(name)s” stored (SHA-256 %(hash)s…).") % values


class TaskFormView(RecordFormView):
    model = Task
    form_class = TaskForm
    template_name = "cases/task_form.html"
    tab = "tasks"
    list_url_name = "task_list"
    new_heading, edit_heading = _("New task"), _("Edit task")
    added_message = _("Task “%(name)s” added.")
    saved_message = _("Task “%(name)s” saved.")


class CommentRequestFormView(RecordFormView):
    model = CommentRequest
    form_class = CommentRequestForm
    template_name = "cases/commentrequest_form.html"
    tab = "timeline"
    list_url_name = "timeline"

    def new_object(self):
        return CommentRequest(case=self.case, created_by=self.request.user,
                              asked_by=self.request.user)

    new_heading = _("New request for comment")
    edit_heading = _("Edit request for comment")

    def success_message(self, obj):
        if self.creating:
            return gettext("Request for comment to %(party)s recorded.") % {"party": obj.party}
        return gettext("Request for comment to %(party)s saved.") % {"party": obj.party}


class CaseEditView(RecordFormView):
    """The case's own fields (editors only)."""

    model = Case
    form_class = CaseEditForm
    template_name = "cases/case_form.html"
    tab = "overview"
    min_role = Role.EDITOR
    list_url_name = "case_overview"

    @property
    def creating(self):
        return False

    def get_object(self, *, lock=False):
        if lock:
            return Case.objects.select_for_update().get(pk=self.case.pk)
        return self.case

    def success_url(self, obj):
        return reverse("cases:case_overview", args=[obj.slug])  # the slug may have changed

    edit_heading = _("Edit case")
    saved_message = _("Case “%(name)s” saved.")


# --- Members (editors only) -----------------------------------------------------------------

def _role(membership) -> str:
    """A member's role inside a sentence ("added as reporter")."""
    return str(membership.get_role_display()).lower()


class MembershipViewMixin:
    """Membership changes serialise on the case row: the "a case keeps one editor" rule and
    "one membership per person" hold even when two editors act at once."""

    model = Membership
    template_name = "cases/membership_form.html"
    tab = "overview"
    min_role = Role.EDITOR
    list_url_name = "member_list"

    def get_queryset(self):
        return Membership.objects.filter(case=self.case).select_related("user")

    def get_object(self, *, lock=False):
        if lock:
            Case.objects.select_for_update().filter(pk=self.case.pk).first()
        return super().get_object(lock=lock)

    def new_object(self):
        return Membership(case=self.case, added_by=self.request.user)

    def heading(self, obj):
        if self.creating:
            return gettext("Members")
        return gettext("Member: %(username)s") % {"username": obj.user.get_username()}

    def cancel_url(self, obj):
        if self.creating:
            return reverse("cases:case_overview", args=[self.case.slug])
        return reverse("cases:member_list", args=[self.case.slug])

    def get_context(self, obj):
        editors_first = CaseWhen(When(role=Role.EDITOR, then=Value(0)),
                                 When(role=Role.REPORTER, then=Value(1)), default=Value(2),
                                 output_field=IntegerField())
        return {"members": self.get_queryset().order_by(editors_first, "user__username")}

    def after_change(self, membership, *, removed=False):
        """Where to go after a change: acting on oneself may end one's editor rights."""
        me = self.request.user
        if membership.user_id == me.pk and (removed or membership.role != Role.EDITOR):
            if removed:
                return redirect("cases:case_list")
            return redirect("cases:case_overview", slug=self.case.slug)
        return redirect("cases:member_list", slug=self.case.slug)


class MemberListView(MembershipViewMixin, RecordFormView):
    """The case's members, and the form that adds one."""

    form_class = MemberAddForm

    def forms_saved(self, obj):
        messages.success(self.request, gettext("%(username)s added as %(role)s.") % {
            "username": obj.user.get_username(), "role": _role(obj)})
        return redirect("cases:member_list", slug=self.case.slug)


class MemberEditView(MembershipViewMixin, RecordFormView):
    form_class = MembershipForm

    def get_context(self, obj):
        return {**super().get_context(obj),
                "remove_form": MemberRemoveForm(instance=obj, prefix="remove",
                                                 **self.form_kwargs())}

    def forms_saved(self, obj):
        values = {"username": obj.user.get_username(), "role": _role(obj)}
        if obj.can_handle_sources:
            message = gettext("%(username)s is now %(role)s and a source handler.")
        else:
            message = gettext("%(username)s is now %(role)s.")
        messages.success(self.request, message % values)
        return self.after_change(obj)


class MemberRemoveView(MembershipViewMixin, RecordFormView):
    """Taking a member off the case (POST only), refused like an edit when it is stale."""

    http_method_names = ["post"]

    def get_forms(self, obj, data=None, files=None):
        return {"remove_form": MemberRemoveForm(data, instance=obj, prefix="remove",
                                                **self.form_kwargs())}

    def save_forms(self, obj, forms):
        obj.delete()
        return obj

    def form_action(self, obj):
        return reverse("cases:member_edit", args=[self.case.slug, obj.pk])

    def render_forms(self, obj, forms, *, conflicts=(), status=200):
        # Refused: the member's page again, the reason beside the remove button.
        forms = {"form": MembershipForm(instance=obj, **self.form_kwargs()), **forms}
        return super().render_forms(obj, forms, conflicts=conflicts, status=status)

    def forms_saved(self, obj):
        messages.success(self.request, gettext("%(username)s removed from the case.") % {
            "username": obj.user.get_username()})
        return self.after_change(obj, removed=True)
