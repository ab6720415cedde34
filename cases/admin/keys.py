"""Ids in the back office's URLs, checked before anything filters by them.

Django's change view turns an id that is not the model's key into its "does not exist"
answer; django-simple-history's history and revert views filter by the raw ids and raised
ValueError (a 500) for `abc` or `1.0`.

The history page also lists the changes to a record's parts that have a history of their own
(a citation's relays): see KeyCheckedHistoryAdmin.part_history_context."""

from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin


def history_ids_or_404(model, object_id, version_id=None) -> None:
    """Http404 unless `object_id` can be a key of `model` (and `version_id` of its history)."""
    checks = [(model._meta.pk, unquote(object_id))]
    if version_id is not None:
        checks.append((model.history.model._meta.pk, version_id))
    for field, value in checks:
        try:
            field.run_validators(field.to_python(value))
        except ValidationError:
            raise Http404 from None


class KeyCheckedHistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin whose history and revert pages answer 404 to ids that cannot be
    keys. Every history admin of the site derives from it (tests/test_admin_history_ids.py)."""

    def history_view(self, request, object_id, extra_context=None):
        history_ids_or_404(self.model, object_id)
        return super().history_view(request, object_id, {
            **(extra_context or {}), **self.part_history_context(request, object_id)})

    def part_history_context(self, request, object_id) -> dict:
        """What the history page lists beside the record's own rows: the changes to its
        parts kept in history tables of their own (none here; the citation's admin gives its
        relays'). Reached after the admin's scoping has let the user see the record
        (CaseScopedAdmin.history_view)."""
        return {}

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        history_ids_or_404(self.model, object_id, version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)
