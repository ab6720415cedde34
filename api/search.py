"""GET /api/v1/search/: the search page's search (cases/search.py) for API clients.

The same records, ranks, snippets and limits as the page: only the user's cases, never a
protected identity (no search document holds one; a protected source's captured files are
left out for non-handlers), a fixed number of queries whatever the hits. One group per record
kind, five hits each, or with `kind` one kind's hits twenty a page. Input is checked like the
page's form and like every list (a parameter the operation does not take is a 400 naming
it); the lists take the same words as `?q=`.
"""

from __future__ import annotations

from math import ceil

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import search
from cases.enums import VerificationStatus
from cases.models import Case
from cases.timebounds import refuse_reversed_range

from .known_input import UNKNOWN_PARAMETER
from .views import LoginNotRequiredMixin

PER_KIND = 5  # hits per record kind when all kinds are asked for
PER_PAGE = 20  # hits per page when one kind is asked for


class SearchParameters(serializers.Serializer):
    q = serializers.CharField(
        max_length=search.MAX_QUERY_LENGTH, trim_whitespace=True,
        help_text='Words, a name or a place, in any of their forms. "Quotes" for a phrase, '
                  "-word to leave a word out, or to accept either.")
    exact = serializers.BooleanField(
        required=False, default=False,
        help_text="true: without transliterations (Rostov ↔ Ростов) and Ukrainian spellings "
                  "(полігон ↔ полигон).")
    kind = serializers.ChoiceField(choices=list(search.KINDS), required=False,
                                   help_text="One record kind, twenty hits a page.")
    case = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                    help_text="A case's id: only its records.")
    status = serializers.ChoiceField(choices=VerificationStatus.choices, required=False,
                                     help_text="Claims only.")
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(
        required=False, help_text="Incidents by when they happened, quotes by publication, "
                                  "evidence by capture, the rest by when they were added.")
    page = serializers.IntegerField(required=False, min_value=1, max_value=1000,
                                    help_text="With `kind`: the page of its hits.")

    def validate(self, data):
        refuse_reversed_range(data.get("date_from"), data.get("date_to"), end_field="date_to")
        if "page" in data and "kind" not in data:
            raise ValidationError({"page": [_("Pages are of one kind's hits: give `kind` "
                                              "too.")]})
        return data


class SearchHitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    case = serializers.IntegerField(help_text="The case's id.")
    case_slug = serializers.CharField()
    url = serializers.CharField(help_text="The record's page in the web interface.")
    snippet = serializers.CharField(
        help_text="HTML: the matching text, escaped, with the matched words in <mark>.")
    rank = serializers.FloatField(allow_null=True, help_text="null on SQLite (unranked).")


class SearchGroupSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(search.KINDS))
    label = serializers.CharField()
    total = serializers.IntegerField(help_text="Matches (counted up to `capped`).")
    capped = serializers.BooleanField(help_text="More matches than are ranked: narrow the "
                                                "search.")
    hits = SearchHitSerializer(many=True)


class SearchResultsSerializer(serializers.Serializer):
    query = serializers.CharField()
    message = serializers.CharField(help_text="Why nothing was searched, or empty.")
    total = serializers.IntegerField()
    page = serializers.IntegerField(allow_null=True)
    pages = serializers.IntegerField(allow_null=True, help_text="With `kind` only.")
    groups = SearchGroupSerializer(many=True)


def _hit(hit: search.Hit) -> dict:
    return {"id": hit.record.pk, "title": str(hit.title), "case": hit.case.pk,
            "case_slug": hit.case.slug, "url": hit.url, "snippet": str(hit.snippet),
            "rank": hit.rank}


class SearchView(LoginNotRequiredMixin, APIView):
    """Search the records of your cases: cases, incidents, claims, sources (by name or
    codename), citation quotes and evidence, in English, Russian and Ukrainian word forms."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="search", summary="Search your cases",
                   parameters=[SearchParameters], responses={200: SearchResultsSerializer})
    def get(self, request):
        unknown = sorted(set(request.query_params) - set(SearchParameters().fields))
        if unknown:
            message = _("This operation takes no such query parameter; it takes: "
                        "%(known)s.") % {"known": ", ".join(sorted(SearchParameters().fields))}
            raise ValidationError({name: [ErrorDetail(message, UNKNOWN_PARAMETER)]
                                   for name in unknown})
        parameters = SearchParameters(data=request.query_params)
        parameters.is_valid(raise_exception=True)
        data = parameters.validated_data
        case = None
        if "case" in data:
            # Another case's id is refused like a missing one.
            case = Case.objects.visible_to(request.user).filter(pk=data["case"]).first()
            if case is None:
                raise ValidationError({"case": [_("None of your cases has this id.")]})
        filters = search.Filters(case=case, kind=data.get("kind", ""),
                                 status=data.get("status", ""),
                                 date_from=data.get("date_from"), date_to=data.get("date_to"),
                                 variants=not data["exact"])
        page = data.get("page", 1) if filters.kind else None
        if filters.kind:
            results = search.search(request.user, data["q"], filters, per_kind=PER_PAGE,
                                    offset=(page - 1) * PER_PAGE)
        else:
            results = search.search(request.user, data["q"], filters, per_kind=PER_KIND)
        total = results.groups[0].total if filters.kind and results.groups else None
        return Response({
            "query": results.query,
            "message": str(results.message),
            "total": results.total,
            "page": page,
            "pages": max(1, ceil(total / PER_PAGE)) if total is not None else None,
            "groups": [{"kind": group.kind.key, "label": str(group.kind.label),
                        "total": group.total, "capped": group.capped,
                        "hits": [_hit(hit) for hit in group.hits]}
                       for group in results.groups],
        })
