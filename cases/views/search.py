"""The search page: the navbar's search box lands here (cases/search.py does the searching).

Only the user's cases are searched and offered in the case filter. Bad input (too long, an
inverted date range, a case that is not theirs) is an error beside the field, and nothing is
searched; odd characters (quotes, operators, control characters) are simply searched for."""

from __future__ import annotations

from math import ceil

from django import forms
from django.http import QueryDict
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from .. import search
from ..enums import VerificationStatus
from ..forms.widgets import CaseChoices, CaseSelect
from ..models import Case
from ..timebounds import refuse_reversed_range

PER_KIND = 5  # hits per record kind when all kinds are shown
PER_PAGE = 20  # hits per page when one kind is chosen


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search for"), required=False, strip=True,
        max_length=search.MAX_QUERY_LENGTH,
        error_messages={"max_length": _("Search for at most %(limit_value)d characters "
                                        "(this is %(show_value)d).")},
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
        help_text=_('Words in English, Russian or Ukrainian, a name or a place, in any of '
                    'their forms. "Quotes" for a phrase, -word to leave a word out, or to '
                    'accept either.'),
    )
    case = forms.ModelChoiceField(label=_("Case"), queryset=Case.objects.none(),
                                  required=False, empty_label=_("All my cases"),
                                  widget=CaseSelect)
    kind = forms.ChoiceField(
        label=_("Record type"), required=False,
        choices=[("", _("All records"))] + [(k.key, k.label) for k in search.KINDS.values()])
    status = forms.ChoiceField(
        label=_("Verification status"), required=False,
        choices=[("", _("Any status"))] + list(VerificationStatus.choices),
        help_text=_("Claims only."))
    date_from = forms.DateField(label=_("From"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}),
                              help_text=_("Incidents by when they happened, quotes by "
                                          "publication, evidence by capture, the rest by when "
                                          "they were added."))
    # Off by default, so that the navbar's box (which sends only `q`) searches with them.
    exact = forms.BooleanField(
        label=_("Exact spelling"), required=False,
        help_text=_("Without transliterations (Rostov ↔ Ростов) and Ukrainian spellings "
                    "(полігон ↔ полигон)."))
    page = forms.IntegerField(required=False, min_value=1, max_value=1000,
                              widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        cases = Case.objects.visible_to(user).order_by("title")
        field = self.fields["case"]
        field.queryset = cases  # what a chosen case is checked against
        field.widget.choices = CaseChoices(cases, field.empty_label)

    def clean_q(self):
        return search.clean_query(self.cleaned_data["q"])

    def clean(self):
        cleaned = super().clean()
        refuse_reversed_range(cleaned.get("date_from"), cleaned.get("date_to"),
                              end_field="date_to")
        return cleaned

    def filters(self) -> search.Filters:
        data = self.cleaned_data
        return search.Filters(case=data.get("case"), kind=data.get("kind") or "",
                              status=data.get("status") or "", date_from=data.get("date_from"),
                              date_to=data.get("date_to"),
                              variants=not data.get("exact"))


def _query_string(params: QueryDict, **changes) -> str:
    query = params.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()


def search_page(request):
    # NUL bytes would never reach a field's clean(): the database refuses them before any
    # query could run, so they are blanked as the request's input is read.
    params = request.GET.copy()
    for key in params:
        params.setlist(key, [v.replace("\x00", " ") for v in params.getlist(key)])
    form = SearchForm(params if params else None, user=request.user)
    results, pages = None, None
    if form.is_bound and form.is_valid():
        filters = form.filters()
        page_number = form.cleaned_data.get("page") or 1
        if filters.kind:
            offset = (page_number - 1) * PER_PAGE
            results = search.search(request.user, form.cleaned_data["q"], filters,
                                    per_kind=PER_PAGE, offset=offset)
            total = results.groups[0].total if results.groups else 0
            last = max(1, ceil(total / PER_PAGE))
            pages = {
                "number": page_number, "count": last,
                "previous": _query_string(params, page=str(page_number - 1))
                if page_number > 1 else None,
                "next": _query_string(params, page=str(page_number + 1))
                if page_number < last else None,
            }
        else:
            results = search.search(request.user, form.cleaned_data["q"], filters,
                                    per_kind=PER_KIND)
        for group in results.groups:
            group.more_url = "?" + _query_string(params, kind=group.kind.key, page=None)
    return render(request, "cases/search.html", {
        "nav": "search", "form": form, "results": results, "pages": pages,
        "candidate_limit": search.CANDIDATE_LIMIT, "full_text": search.uses_full_text(),
    })
