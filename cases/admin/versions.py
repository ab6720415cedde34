"""No lost updates in the back office: the workspace's version tokens on every admin form.

Every admin change form, every row of its inlines and every revert page carry the signed
version token of `cases.concurrency` (the record's `updated_at`, or the date of its latest
history row). The admin saves in one transaction (Django's changeform and delete views are
atomic; the revert page is made so here); on a POST the record is read with
`select_for_update`, and so are the rows of its inlines, before any token is compared. A form
whose record changed since it was opened, or whose token is missing or altered, is refused:
the page comes back with status 409, the input kept, an error naming who changed what (coded
as the workspace's pages and the API code it: `version_changed`, `version_unknown`,
`record_removed` or `record_added`), the saved value beside each field changed meanwhile
(code `changed_meanwhile`), and a fresh token, so that saving again is a deliberate
overwrite.

The check runs in the form's `full_clean()`, before validation writes the input into the
instance, so it covers every way the admin validates a form without copying Django's views.

The account admins of Django and allauth (users, groups, e-mail addresses, second factors:
accounts.py) edit records with neither `updated_at` nor a history: their token signs a digest
of what is stored (columns and many-to-many links), so a change is still caught, though not
named field by field.
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.utils import unquote
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router, transaction
from django.forms.models import BaseInlineFormSet
from django.http import QueryDict
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..concurrency import CHANGED_MEANWHILE, VERSION_CHANGED
from ..forms.versioning import TOKEN_FIELD, VersionedFormMixin, find_conflicts

# The request attribute that tells get_form() a revert page's form is being built, and on
# which live record: the form's instance is then the historical copy.
REVERT_OF_ATTR = "_casedesk_admin_revert_of"

class RefusesStaleSaves:
    """What every versioned admin form is (the admin checks its forms are)."""

    #: Why this form was refused as stale, if it was (the admin answers 409 then).
    conflict = None


class AdminVersionedFormMixin(RefusesStaleSaves, VersionedFormMixin):
    """An admin form (a page's record or one inline row) that refuses a stale save."""

    #: Field names whose saved value this user may not see (see need_to_know): never put
    #: beside a field as "the saved value".
    withheld = frozenset()

    def full_clean(self):
        conflicts = find_conflicts([self]) if self.is_bound else []
        super().full_clean()
        if not conflicts:
            return
        self.conflict = conflict = conflicts[0]
        who = ", ".join(conflict.people) or gettext("someone")
        for name, saved in conflict.saved_values.items():
            if name not in self.withheld:
                self.add_error(name, ValidationError(
                    _("Changed meanwhile by %(who)s. Saved value: %(saved)s"),
                    code=CHANGED_MEANWHILE, params={"who": who, "saved": saved}))
        self.add_error(None, ValidationError(
            _("%(change)s Nothing was saved: your input is kept below; save again to keep "
              "your version."), code=conflict.code, params={"change": conflict.text}))
        if isinstance(self.data, QueryDict) and not self.data._mutable:
            self.data = self.data.copy()
        self.refresh_version()


_FINGERPRINT_SALT = "cases.admin.versions.fingerprint"
_FINGERPRINT_SIGNER = signing.Signer(salt=_FINGERPRINT_SALT)


def fingerprint(obj) -> str:
    """A keyed digest of what is stored of `obj`: its columns and its many-to-many links.
    Keyed, so the page shows nothing that could be checked against guessed values (a user's
    row holds a password hash)."""
    values = [(f.attname, f.value_to_string(obj)) for f in obj._meta.concrete_fields]
    for m2m in obj._meta.many_to_many:
        values.append((m2m.name, sorted(getattr(obj, m2m.name).values_list("pk", flat=True))))
    return salted_hmac(_FINGERPRINT_SALT, repr(values), algorithm="sha256").hexdigest()


class FingerprintVersionedFormMixin(RefusesStaleSaves):
    """The token of a record without a version of its own (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[TOKEN_FIELD] = forms.CharField(required=False, widget=forms.HiddenInput,
                                                   initial=self._current_token())

    def _current_token(self) -> str:
        instance = self.instance
        if instance.pk is None:
            return ""
        return _FINGERPRINT_SIGNER.sign(
            f"{instance._meta.label_lower}|{instance.pk}|{fingerprint(instance)}")

    def full_clean(self):
        # Before validation writes the input into the (locked) instance.
        current = self._current_token() if self.is_bound else ""
        posted = self.data.get(self.add_prefix(TOKEN_FIELD)) if self.is_bound else None
        stale = bool(current) and not constant_time_compare(str(posted or ""), current)
        super().full_clean()
        if not stale:
            return
        self.conflict = _("Someone changed this %(thing)s after you opened the page, or the "
                          "page's version stamp is not valid.") % {
            "thing": self.instance._meta.verbose_name}
        self.add_error(None, ValidationError(
            _("%(change)s Nothing was saved: your input is kept below; compare it with what "
              "is saved now, then save again to keep your version."),
            # A changed row and an altered stamp look alike here: no history tells them apart.
            code=VERSION_CHANGED, params={"change": self.conflict}))
        if isinstance(self.data, QueryDict) and not self.data._mutable:
            self.data = self.data.copy()
        self.data[self.add_prefix(TOKEN_FIELD)] = current


class VersionedInlineFormSet(BaseInlineFormSet):
    """Inline rows: a row marked for deletion is not validated by Django, so a stale one
    would be deleted anyway; its conflict refuses the whole page instead."""

    def clean(self):
        super().clean()
        if not self.can_delete:
            return
        for form in self.forms[: self.initial_form_count()]:
            if (self._should_delete_form(form)
                    and getattr(form, "conflict", None) is not None):
                raise ValidationError(str(getattr(form.conflict, "text", form.conflict)),
                                      code=getattr(form.conflict, "code", VERSION_CHANGED))

    @property
    def conflicts(self):
        return [form.conflict for form in self.forms
                if getattr(form, "conflict", None) is not None]


def _locked(queryset, request):
    """`queryset` read with row locks when the request writes (inside the view's
    transaction): the token is compared with a version no one can change meanwhile."""
    if request.method == "POST" and transaction.get_connection(queryset.db).in_atomic_block:
        return queryset.select_for_update(of=("self",))
    return queryset


class VersionedAdminMixin:
    """For a ModelAdmin: tokens on the page's form and its inlines, locks, status 409."""

    def get_object(self, request, object_id, from_field=None):
        queryset = _locked(self.get_queryset(request), request)
        model = queryset.model
        field = model._meta.pk if from_field is None else model._meta.get_field(from_field)
        try:
            object_id = field.to_python(object_id)
            return queryset.get(**{field.name: object_id})
        except (model.DoesNotExist, ValidationError, ValueError, OverflowError):
            return None

    def get_form(self, request, obj=None, *args, **kwargs):
        form = super().get_form(request, obj, *args, **kwargs)
        if obj is not None and not issubclass(form, RefusesStaleSaves):
            raise TypeError(f"{type(self).__name__}.form must be an AdminRecordForm: every "
                            "admin change form carries a version token.")
        live = getattr(request, REVERT_OF_ATTR, None)
        if live is not None and obj is not None and hasattr(obj, "updated_at"):
            # A revert page's form shows a historical copy, but is stale when the record
            # itself changed: its token is the live record's version.
            obj.updated_at = live.updated_at
        return form

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        kwargs["queryset"] = _locked(kwargs["queryset"], request)
        return kwargs

    def render_change_form(self, request, context, *args, **kwargs):
        response = super().render_change_form(request, context, *args, **kwargs)
        if _page_conflicts(context):
            response.status_code = 409
        return response

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A revert writes the record: the rules of its change form, in a transaction with
        # the record locked. simple_history checks only the view permission on a POST (it
        # just leaves the Revert button out): a user who may not revert is refused here.
        with transaction.atomic(using=router.db_for_write(self.model)):
            live = self.get_object(request, unquote(object_id))
            if request.method == "POST" and (
                    live is None or not self.has_change_permission(request, live)
                    or self.revert_disabled(request, live)):
                raise PermissionDenied
            if live is not None:
                setattr(request, REVERT_OF_ATTR, live)
            return super().history_form_view(request, object_id, version_id, extra_context)

    def render_history_view(self, request, template, context, **kwargs):
        response = super().render_history_view(request, template, context, **kwargs)
        adminform = context.get("adminform")
        if adminform is not None and getattr(adminform.form, "conflict", None) is not None:
            response.status_code = 409
        return response


def _page_conflicts(context):
    adminform = context.get("adminform")
    if adminform is not None and getattr(adminform.form, "conflict", None) is not None:
        return True
    for inline in context.get("inline_admin_formsets", ()):
        if getattr(inline.formset, "conflicts", None):
            return True
    return False


class VersionedInlineMixin:
    """For an InlineModelAdmin: a token on each row, stale deletions refused."""

    formset = VersionedInlineFormSet
    #: False for inlines that only show records (audit logs have no versions).
    versioned = True

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if self.versioned and not issubclass(formset.form, RefusesStaleSaves):
            raise TypeError(f"{type(self).__name__}.form must be an AdminRecordForm: every "
                            "admin form carries a version token.")
        return formset


class AdminVersionedForm(AdminVersionedFormMixin, forms.ModelForm):
    """The admin's base form when nothing else is needed (see forms.AdminRecordForm)."""
