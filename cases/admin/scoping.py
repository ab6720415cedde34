"""Per-case scoping of the admin: the one place that decides which records a staff member
sees in the back office and what they may do with them.

Django model permissions say what kind of record someone may touch at all; a case membership
says which records. Every admin class of case data mixes in `CaseScopedAdmin` (or
`CaseScopedInline`) and names, in `case_path`, how to get from its model to the Case. From
that one attribute follow:

- the changelist, change page, history, delete page and autocomplete results (all built on
  `get_queryset`): another case's record is answered exactly like a missing one;
- the choices of related fields (a Case, a Source, a Claim…): only records of cases where the
  user holds the role needed to write there, so a forged POST cannot reach another case;
- object permissions: viewers read, reporters and editors write (`edit_role`), and some
  records (members, cases) need an editor.

Superusers run the newsroom's infrastructure and see every record; everyone else is held to
their memberships, whatever model permissions they have been given (the rules, read once per
request, are cases.access's: has_case_role, handles_sources). Nobody, superusers
included, sees a protected source's identity or address without being one of its case's
source handlers (need_to_know.py; the audited reveal is reveal.py).

The base classes also give every admin of the back office its version tokens (versions.py),
its need-to-know rules (need_to_know.py) and autocomplete widgets that survive any posted
value (widgets.py).
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from ..access import ANY_CASE, has_case_role
from ..enums import Role
from ..models import Case, Claim
from ..models.base import CaseDataQuerySet
from ..models.case import CaseQuerySet
from .dates import BoundedDatesChangeList
from .forms import AdminRecordForm, ReadOnlyAdminForm
from .keys import KeyCheckedHistoryAdmin
from .need_to_know import NeedToKnowAdminMixin, NeedToKnowInlineMixin
from .versions import VersionedAdminMixin, VersionedInlineMixin
from .widgets import KeysOnlyAutocompleteSelect, KeysOnlyAutocompleteSelectMultiple

# Who wrote a record is set by the server on add, never taken from a form.
AUTHOR_FIELDS = ("created_by", "added_by")

# Fields only cases.workflow writes. An admin save of an existing record leaves them out of
# the UPDATE, so a form saved just after a status change cannot put the old status back.
WORKFLOW_FIELDS = {Claim: frozenset({"status", "proposed_verdict", "proposed_by"})}


# --- from a record to its case ---------------------------------------------------------------

def case_id_via(obj, case_path: str):
    """Follow `case_path` ("case", "claim__case", "pk" for a Case itself) on an instance."""
    if case_path == "pk":
        return obj.pk
    *hops, last = case_path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id")


def visible_records(queryset: QuerySet, user, case_path: str) -> QuerySet:
    """The records of `queryset` in cases the user belongs to (all of them for a superuser).

    The models' own `visible_to()` is the rule wherever a model has one; the few models
    without a case-data queryset (memberships, audit logs, identities) are reached through
    the cases the user can see."""
    if user.is_superuser:
        return queryset
    if isinstance(queryset, CaseDataQuerySet | CaseQuerySet):
        return queryset.visible_to(user)
    return queryset.filter(**{f"{case_path}__in": Case.objects.visible_to(user).values("pk")})


def stamp_authorship(obj, user, also=()) -> None:
    """Set created_by / added_by (and `also`, when empty) on a record being added."""
    if not obj._state.adding:
        return
    field_names = {f.name for f in obj._meta.concrete_fields}
    for name in (*AUTHOR_FIELDS, *also):
        if name in field_names and getattr(obj, f"{name}_id") is None:
            setattr(obj, name, user)


def save_record(obj) -> None:
    """Save an admin-edited record, leaving out the fields only the workflow writes."""
    protected = WORKFLOW_FIELDS.get(type(obj))
    if protected and not obj._state.adding:
        # The history row copies the whole record, so it must carry the workflow's fields as
        # stored, read under a lock (the admin saves in a transaction): a status changed
        # since the form was read would otherwise go into the history as if undone.
        attnames = [obj._meta.get_field(name).attname for name in protected]
        stored = (type(obj)._base_manager.select_for_update().filter(pk=obj.pk)
                  .values(*attnames).first())
        for attname, value in (stored or {}).items():
            setattr(obj, attname, value)
        obj.save(update_fields=[f.name for f in obj._meta.concrete_fields
                                if not f.primary_key and f.name not in protected])
    else:
        obj.save()


# --- the mixins --------------------------------------------------------------------------------

class _CaseScoping:
    """What model admins and inlines share: which records, and which related choices."""

    #: ORM path from this model to its Case ("pk" when the model is Case).
    case_path = "case"
    #: The least role that may add or change these records.
    edit_role = Role.REPORTER
    #: The least role that may delete them.
    delete_role = Role.REPORTER

    def get_queryset(self, request):
        return visible_records(super().get_queryset(request), request.user, self.case_path)

    def case_id_of(self, obj):
        return case_id_via(obj, self.case_path)

    def in_cases_where(self, request, queryset, role: Role):
        """`queryset` narrowed to the cases where the user holds at least `role`."""
        if request.user.is_superuser:
            return queryset
        cases = Case.objects.where_role_at_least(request.user, role).values("pk")
        return queryset.filter(**{f"{self.case_path}__in": cases})

    def get_field_queryset(self, db, db_field, request):
        # Django takes related choices straight from the default manager; case data must be
        # limited to the cases where this user may write records of this kind.
        related_admin = self.admin_site._registry.get(db_field.remote_field.model)
        if isinstance(related_admin, _CaseScoping):
            return related_admin.in_cases_where(
                request, related_admin.get_queryset(request).using(db), self.edit_role)
        return super().get_field_queryset(db, db_field, request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeysOnlyAutocompleteSelect(db_field, self.admin_site,
                                                          using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeysOnlyAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class CaseScopedMixin(NeedToKnowAdminMixin, _CaseScoping):
    """Scoping and object permissions for a ModelAdmin of case data."""

    form = AdminRecordForm
    #: Fields besides created_by/added_by that default to the requesting user on add.
    default_to_user = ()
    #: Whether adding needs `edit_role` in some case (not for Case: whoever opens a case
    #: becomes its editor).
    add_needs_membership = True

    def _may(self, request, obj, role: Role) -> bool:
        case_id = ANY_CASE if obj is None else self.case_id_of(obj)
        return has_case_role(request, role, case_id)

    # Model permissions first (super), then the membership rule.
    def has_view_permission(self, request, obj=None):
        return (super().has_view_permission(request, obj)
                and self._may(request, obj, Role.VIEWER))

    def has_add_permission(self, request):
        return super().has_add_permission(request) and (
            not self.add_needs_membership or self._may(request, None, self.edit_role))

    def has_change_permission(self, request, obj=None):
        return (super().has_change_permission(request, obj)
                and self._may(request, obj, self.edit_role))

    def has_delete_permission(self, request, obj=None):
        return (super().has_delete_permission(request, obj)
                and self._may(request, obj, self.delete_role))

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(
            request, queryset, search_term)
        # An autocomplete offers what the form will accept: records of cases where the user
        # may write the record that is being edited, not every case they can read.
        source_admin = self._autocomplete_source_admin(request)
        if source_admin is not None:
            queryset = self.in_cases_where(request, queryset, source_admin.edit_role)
        return queryset, may_have_duplicates

    def _autocomplete_source_admin(self, request):
        match = getattr(request, "resolver_match", None)
        if match is None or match.url_name != "autocomplete":
            return None
        try:
            source_model = apps.get_model(request.GET["app_label"], request.GET["model_name"])
        except (KeyError, LookupError, ValueError):
            return None
        source_admin = self.admin_site._registry.get(source_model)
        return source_admin if isinstance(source_admin, _CaseScoping) else None

    def get_changelist(self, request, **kwargs):
        return BoundedDatesChangeList  # date filters within cases.timebounds (dates.py)

    def save_model(self, request, obj, form, change):
        stamp_authorship(obj, request.user, also=self.default_to_user)
        obj._history_user = request.user  # as SimpleHistoryAdmin.save_model does
        save_record(obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Records that stand in the way (audit logs are PROTECT: see cases/history.py) are
        # also counted by Django as lacking a delete permission, and its page then speaks of
        # permissions. Nothing can be deleted while anything is protected: say that.
        if protected:
            perms_needed = set()
        return deleted, counts, perms_needed, protected

    def save_formset(self, request, form, formset, change):
        # Inline records get their author like the page's own record does.
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        for obj in instances:
            stamp_authorship(obj, request.user)
            save_record(obj)
        formset.save_m2m()


class CaseScopedAdmin(CaseScopedMixin, VersionedAdminMixin, KeyCheckedHistoryAdmin):
    """Admin of case data that keeps a simple_history log (most models)."""

    object_history_form_template = "admin/cases/object_history_form.html"
    #: Whether superusers may read the history of a deleted record (not of identities).
    deleted_history_for_superusers = True

    def history_view(self, request, object_id, extra_context=None):
        # simple_history falls back to the last historical copy when the live record is not
        # in get_queryset(): for another case's record that would show its history. Only
        # superusers get the history of deleted records.
        self._get_visible_object_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._get_visible_object_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _get_visible_object_or_404(self, request, object_id):
        if request.user.is_superuser and self.deleted_history_for_superusers:
            return
        if self.get_object(request, unquote(object_id)) is None:
            # As the change page answers: no right to these records at all is a 403 (the
            # same for every id), a record outside the user's cases a 404.
            if not self.has_view_permission(request):
                raise PermissionDenied
            raise Http404


class ReadOnlyCaseScopedAdmin(CaseScopedMixin, admin.ModelAdmin):
    """Admin of an append-only audit log: readable by the case's members, written only by
    the code that owns it (the workflow, the evidence views)."""

    form = ReadOnlyAdminForm

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CaseScopedInline(NeedToKnowInlineMixin, VersionedInlineMixin, _CaseScoping):
    """Scoping for an inline: permissions follow the parent record's case."""

    form = AdminRecordForm

    def _may(self, request, parent, role: Role) -> bool:
        if parent is None:
            return has_case_role(request, role)
        parent_admin = self.admin_site._registry[type(parent)]
        return has_case_role(request, role, parent_admin.case_id_of(parent))

    def has_view_permission(self, request, obj=None):
        return (super().has_view_permission(request, obj)
                and self._may(request, obj, Role.VIEWER))

    def has_add_permission(self, request, obj):
        return (super().has_add_permission(request, obj)
                and self._may(request, obj, self.edit_role))

    def has_change_permission(self, request, obj=None):
        return (super().has_change_permission(request, obj)
                and self._may(request, obj, self.edit_role))

    def has_delete_permission(self, request, obj=None):
        return (super().has_delete_permission(request, obj)
                and self._may(request, obj, self.delete_role))


class ReadOnlyInlineMixin:
    """An inline that only shows records (audit logs on their claim or evidence page)."""

    extra = 0
    can_delete = False
    show_change_link = False
    form = ReadOnlyAdminForm
    versioned = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ScopedCountryFilter(admin.AllValuesFieldListFilter):
    """Countries present among the records this user can see, by name.

    django_countries' CountryFilter reads the whole table, which would tell a staff member
    which countries other cases are about; AllValuesFieldListFilter reads the admin's
    (scoped) get_queryset, and only shows codes."""

    def choices(self, changelist):
        names = dict(self.field.get_choices(include_blank=False))
        for choice in super().choices(changelist):
            yield {**choice, "display": names.get(choice["display"], choice["display"])}
