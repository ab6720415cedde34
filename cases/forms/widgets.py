"""Widgets shared by the forms of several pages."""

from __future__ import annotations

import html

from django import forms
from django.forms.utils import flatatt
from django.utils.choices import BaseChoiceIterator
from django.utils.html import format_html
from django.utils.safestring import mark_safe


class CaseChoices(BaseChoiceIterator):
    """A list of cases as choices: the empty one, then (key, title) pairs (a case's str() is
    its title), read when the list is rendered rather than as a thousand Case objects. Like
    Django's ModelChoiceIterator, the empty choice comes without a query: Django looks at
    the first choice before rendering."""

    def __init__(self, cases, empty_label):
        self.cases, self.empty_label = cases, empty_label

    def __iter__(self):
        yield "", self.empty_label
        yield from self.cases.values_list("pk", "title")


class CaseSelect(forms.Select):
    """A list of the user's cases: one option per case, a thousand for a chief editor.
    Django renders every option through its own template, which with a thousand cases was
    most of a page's time; this writes the same markup directly, every value and label
    escaped."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = set(self.format_value(value))
        # The standard library's escape on each value and label, as Django's escape() does
        # (the same characters, the same entities) without its checks for lazy text, and
        # rather than format_html() per option, whose checks of every argument cost more
        # than the escaping itself.
        options = "\n".join(
            f'<option value="{html.escape(str(option_value))}"'
            f'{" selected" if str(option_value) in selected else ""}>'
            f'{html.escape(str(label))}</option>'
            for option_value, label in self.choices)
        return format_html('<select name="{}"{}>\n{}\n</select>', name,
                           flatatt(self.build_attrs(self.attrs, attrs)), mark_safe(options))
