"""django-filter filter sets of the API's lists. Every related-record filter offers the
requesting user's cases only: another case's id is refused like a missing one (400).

Every list takes `?q=`, the search page's search (cases/search.py: word forms, Russian and
English stems, transliterations and Ukrainian spellings unless `?exact=true`), as one more
condition on the list: its order, pages and other filters stay as they are."""

import datetime as dt

import django_filters
from django_filters.fields import IsoDateTimeField

from capture.models import Capture
from cases import search
from cases.enums import CommentChannel, CommentOutcome, VerificationStatus
from cases.models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    Evidence,
    Incident,
    IncidentType,
    Source,
    Task,
)
from cases.timebounds import range_error


def _visible(model):
    def queryset(request):
        return model.objects.visible_to(getattr(request, "user", None))
    return queryset


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, given to the database in UTC: Python accepts offsets up to
    a day, PostgreSQL only up to 16 hours."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise range_error("datetime_out_of_range") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class TextSearchFilter(django_filters.FilterSet):
    """`?q=` and `?exact=` (see the module docstring)."""

    q = django_filters.CharFilter(
        method="filter_text", max_length=search.MAX_QUERY_LENGTH,
        help_text="Words, a name or a place, in any of their forms (as the search page: "
                  '"quotes" for a phrase, -word to leave a word out, or to accept either).')
    exact = django_filters.BooleanFilter(
        method="filter_nothing",
        help_text="true: `q` without transliterations (Rostov ↔ Ростов) and Ukrainian "
                  "spellings (полігон ↔ полигон).")
    #: The fields `q` searches in a list whose records have no stored search document.
    search_fields: tuple[str, ...] = ()

    def filter_text(self, queryset, name, value):
        return search.matching_records(queryset, value,
                                       variants=not self.form.cleaned_data.get("exact"),
                                       fields=self.search_fields)

    def filter_nothing(self, queryset, name, value):
        return queryset  # read by filter_text


class IncidentTypeFilter(TextSearchFilter):
    """For the incident types' list (the newsroom's, not a case's): their names and
    descriptions."""

    search_fields = ("name", "description")

    class Meta:
        model = IncidentType
        fields = []


class CaseRecordFilter(TextSearchFilter):
    case = django_filters.ModelChoiceFilter(queryset=_visible(Case), help_text="A case's id.")
    case_slug = django_filters.CharFilter(field_name="case__slug", help_text="A case's slug.")
    updated_after = UtcIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = UtcIsoDateTimeFilter(field_name="updated_at", lookup_expr="lt")


class CaseFilter(TextSearchFilter):
    class Meta:
        model = Case
        fields = ["status", "sensitivity", "slug"]


class IncidentFilter(CaseRecordFilter):
    type = django_filters.ModelChoiceFilter(queryset=IncidentType.objects.all(),
                                            to_field_name="slug",
                                            help_text="An incident type's slug.")
    occurred_after = django_filters.DateFilter(
        field_name="occurred_latest", lookup_expr="gte",
        help_text="Incidents that may have happened on or after this day.")
    occurred_before = django_filters.DateFilter(
        field_name="occurred_earliest", lookup_expr="lte",
        help_text="Incidents that may have happened on or before this day.")

    class Meta:
        model = Incident
        fields = ["case", "type", "country", "geo_precision"]


class SourceFilter(CaseRecordFilter):
    class Meta:
        model = Source
        fields = ["case", "kind", "reliability", "protected", "language", "country"]


class ClaimFilter(CaseRecordFilter):
    status = django_filters.MultipleChoiceFilter(choices=VerificationStatus.choices)
    incident = django_filters.ModelChoiceFilter(queryset=_visible(Incident))
    awaiting_review = django_filters.BooleanFilter(
        method="filter_awaiting_review",
        help_text="Claims in review or carrying a proposed verdict, without a verdict yet.")

    class Meta:
        model = Claim
        fields = ["case", "status", "incident", "credibility", "figure_unit"]

    def filter_awaiting_review(self, queryset, name, value):
        if value is None:
            return queryset
        awaiting = queryset.awaiting_review()
        return awaiting if value else queryset.exclude(pk__in=awaiting.values("pk"))


class CitationFilter(CaseRecordFilter):
    case = django_filters.ModelChoiceFilter(queryset=_visible(Case), field_name="source__case",
                                            help_text="A case's id.")
    case_slug = django_filters.CharFilter(field_name="source__case__slug",
                                          help_text="A case's slug.")
    claim = django_filters.ModelChoiceFilter(queryset=_visible(Claim))
    incident = django_filters.ModelChoiceFilter(queryset=_visible(Incident))
    source = django_filters.ModelChoiceFilter(queryset=_visible(Source))

    class Meta:
        model = Citation
        fields = ["case", "claim", "incident", "source", "relation"]


class TaskFilter(CaseRecordFilter):
    search_fields = ("title", "notes")
    assignee = django_filters.CharFilter(field_name="assignee__username",
                                         help_text="The assignee's username.")
    claim = django_filters.ModelChoiceFilter(queryset=_visible(Claim))
    incident = django_filters.ModelChoiceFilter(queryset=_visible(Incident))
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lt")
    due_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte")

    class Meta:
        model = Task
        fields = ["case", "state", "assignee", "claim", "incident"]


class CommentRequestFilter(CaseRecordFilter):
    # A party that is a source by its name, which for a protected source is its codename.
    search_fields = ("party_name", "party_source__name", "reply_summary")
    incident = django_filters.ModelChoiceFilter(queryset=_visible(Incident))
    party_source = django_filters.ModelChoiceFilter(queryset=_visible(Source))
    outcome = django_filters.ChoiceFilter(choices=CommentOutcome.choices)
    channel = django_filters.ChoiceFilter(choices=CommentChannel.choices)

    class Meta:
        model = CommentRequest
        fields = ["case", "incident", "party_source", "outcome", "channel"]


class EvidenceFilter(CaseRecordFilter):
    claim = django_filters.ModelChoiceFilter(queryset=_visible(Claim))
    incident = django_filters.ModelChoiceFilter(queryset=_visible(Incident))
    citation = django_filters.ModelChoiceFilter(
        queryset=_visible(Citation), field_name="capture_file__capture__citation",
        help_text="A citation's id: the files of its captures.")
    capture = django_filters.ModelChoiceFilter(
        queryset=_visible(Capture), field_name="capture_file__capture",
        help_text="A capture's id: its files.")

    class Meta:
        model = Evidence
        fields = ["case", "claim", "incident", "citation", "capture", "content_type"]


class CaptureFilter(TextSearchFilter):
    # The cited quote; never the captured address (for a protected source, part of its
    # identity).
    search_fields = ("citation__quote",)
    case = django_filters.ModelChoiceFilter(queryset=_visible(Case), help_text="A case's id.")
    citation = django_filters.ModelChoiceFilter(queryset=_visible(Citation))
    requested_after = UtcIsoDateTimeFilter(field_name="requested_at", lookup_expr="gte")

    class Meta:
        model = Capture
        fields = ["case", "citation", "status"]
