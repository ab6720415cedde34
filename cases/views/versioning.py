"""No lost updates in the workspace's create and edit views (cases/concurrency.py says what
a stale save is; cases/forms/versioning.py finds it in a page's forms)."""

from django.db import transaction

from ..forms.versioning import find_conflicts, show_conflicts


class NoLostUpdatesMixin:
    """POST handling shared by every create and edit view of the workspace.

    In one transaction: fetch and lock the record (`get_object(lock=True)`), bind the page's
    forms (`get_forms`), compare their version tokens with the locked rows, validate, and
    save (`save_forms`) only when the forms are valid and nothing changed since they were
    opened. Otherwise render the forms again with the input kept: status 409 with the
    conflicts when the record changed, 400 for invalid input. The view provides get_object,
    get_forms, save_forms, forms_saved and render_forms."""

    def post(self, request, *args, **kwargs):
        data = request.POST.copy()  # mutable: a refused page is restamped
        with transaction.atomic():
            obj = self.get_object(lock=True)
            page_forms = self.get_forms(obj, data, request.FILES)
            conflicts = find_conflicts(page_forms.values())
            valid = [form.is_valid() for form in page_forms.values()]  # all, for every error
            if all(valid) and not conflicts:
                saved = self.save_forms(obj, page_forms)
                refused = False
            else:
                refused = True
        if not refused:
            return self.forms_saved(saved)
        if conflicts:
            show_conflicts(conflicts, page_forms.values())
            return self.render_forms(obj, page_forms, conflicts=conflicts, status=409)
        return self.render_forms(obj, page_forms, status=400)
