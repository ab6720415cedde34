"""Autocomplete widgets that survive any posted value.

Django's AutocompleteSelect, re-rendering a form after an error, reads the selected records
with `filter(pk__in=<the posted values>)`: a posted `case=abc` (or a NUL byte, or a number
past the column's range) raises while the page renders, a 500 instead of the form's own
"Select a valid choice". These widgets read only the values that can be keys of the related
table; the field's validation still reports the rest. The scoping mixins give them to every
autocomplete field of the back office (scoping._CaseScoping.formfield_for_foreignkey).
"""

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError


class _KeysOnlyMixin:
    def _is_key(self, value) -> bool:
        target = self.field.target_field
        try:
            target.run_validators(target.to_python(value))
        except (ValidationError, TypeError, ValueError, OverflowError):
            return False
        return True

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if self._is_key(v)], attr)


class KeysOnlyAutocompleteSelect(_KeysOnlyMixin, AutocompleteSelect):
    pass


class KeysOnlyAutocompleteSelectMultiple(_KeysOnlyMixin, AutocompleteSelectMultiple):
    pass
