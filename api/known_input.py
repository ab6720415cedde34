"""Input the API does not know is refused, never ignored.

A misspelt filter (`?serach=`) that filters nothing returns every record as if it had matched;
a body field the serializer does not have (`related_cases`) is dropped, and the 201 says it
was saved. Either way the client believes something that is not so. Both are refused here
with a 400 naming each unknown name, for every list and every serializer:

- `KnownQueryParametersMixin` (views): a list takes its filter set's parameters, its
  pagination's and `format`; any other operation takes `format` only (what the schema
  documents, since drf-spectacular reads the same filter set and paginator).
- `KnownFieldsSerializer` (serializers): a body may hold the serializer's fields, writable or
  read-only (a client may send back what it read); any other name is refused.
"""

from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.settings import api_settings

UNKNOWN_PARAMETER = "unknown_parameter"
UNKNOWN_FIELD = "unknown_field"


def _listing(names) -> str:
    return ", ".join(sorted(names)) or _("none")


class KnownQueryParametersMixin:
    """For viewsets: refuse a request whose query string names a parameter the operation
    does not take. Runs after authentication and permissions (401/403 come first)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        known = self.known_query_parameters()
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            message = _("This operation takes no such query parameter; it takes: "
                        "%(known)s.") % {"known": _listing(known)}
            raise ValidationError({name: [ErrorDetail(message, UNKNOWN_PARAMETER)]
                                   for name in unknown})

    def known_query_parameters(self) -> set[str]:
        known = {api_settings.URL_FORMAT_OVERRIDE} - {None}
        if getattr(self, "action", None) != "list":
            return known
        for backend in self.filter_backends:
            if issubclass(backend, DjangoFilterBackend):
                filterset_class = backend().get_filterset_class(self, self.get_queryset())
                if filterset_class is not None:
                    known |= _filter_parameters(filterset_class)
        paginator = self.paginator
        if paginator is not None:
            known |= {name for name in (getattr(paginator, "page_query_param", None),
                                        getattr(paginator, "page_size_query_param", None))
                      if name}
        return known


def _filter_parameters(filterset_class) -> set[str]:
    """The query parameters a filter set reads: a filter's name, or its name with each
    suffix of a two-part widget (a range's `_min` and `_max`)."""
    names = set()
    for name, filter_ in filterset_class.base_filters.items():
        # The widget's class is enough (instantiating the field would evaluate querysets).
        widget = filter_.extra.get("widget") or filter_.field_class.widget
        suffixes = getattr(widget, "suffixes", None)
        if suffixes:
            names |= {f"{name}_{suffix}" if suffix else name for suffix in suffixes}
        else:
            names.add(name)
    return names


class KnownFieldsMixin:
    """For serializers: refuse a body naming a field this serializer does not have. Every
    error is reported at once: unknown names beside the fields' own errors."""

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            names = set(data) - set(self.fields)
            if names:
                message = _("There is no such field; the fields are: %(known)s.") % {
                    "known": _listing(self.fields)}
                unknown = {name: [ErrorDetail(message, UNKNOWN_FIELD)] for name in names}
        try:
            value = super().to_internal_value(data)
        except ValidationError as error:
            if unknown and isinstance(error.detail, dict):
                error.detail.update(unknown)
            raise
        if unknown:
            raise ValidationError(unknown)
        return value


class KnownFieldsSerializer(KnownFieldsMixin, serializers.Serializer):
    pass
