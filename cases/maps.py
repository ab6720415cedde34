"""The Map tab's data: a case's located incidents as GeoJSON features, each with how it is
drawn at its geo precision and said in words ("somewhere in Rostov Oblast"), and the filters
the page and its data endpoint share (cases/views/maps.py, static/js/incident_map.js).

**Located** means the incident has coordinates; an incident with only a place name or a
region is not on the map (the page counts them and links to the timeline).

**Drawn at its precision** (static/js/incident_map.js): a marker for a point; a circle of
`AREA_RADIUS_METRES` for a town or a district; for a region or a country its outline from
the vendored Natural Earth files (static/vendor/natural-earth-admin1, world-atlas), matched by
`admin_region` and the country's code, else by the region or country the coordinates fall
in, else a circle of that precision's radius.

**Filtered** by type, date and claims' verification status. "Status" of an incident is read
as a desk reads a map of events: which events have a claim at a given verification status
("has a confirmed claim", "has a disputed claim"). Incidents have no status of their own.
Filters that cannot be read are refused with their codes (a reversed period, a day beyond
cases/timebounds.py's, a type or status not offered), never read as something else.

**Bounded**: one query reads the features, `.values()` of the located incidents of the case
and their type's name, in the timeline's order (the (case, occurred_earliest) index), at most
`MAX_FEATURES` of them; the page says when more match. Nothing here reads a source, so no
protected identity can reach the map."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from . import fuzzydate
from .enums import GeoPrecision, VerificationStatus
from .models import Claim, Incident, IncidentType
from .timebounds import refuse_reversed_range, validate_date_in_range

#: The most features one map shows; the page says how many more match.
MAX_FEATURES = 5000

#: The radius drawn for a place known to a town or a district, and for a region or country
#: whose outline the vendored files do not have (metres).
AREA_RADIUS_METRES = {
    GeoPrecision.TOWN: 5_000,
    GeoPrecision.DISTRICT: 25_000,
    GeoPrecision.REGION: 150_000,
    GeoPrecision.COUNTRY: 500_000,
}

FEATURE_FIELDS = ("pk", "title", "occurred", "latitude", "longitude", "geo_precision",
                  "place_name", "admin_region", "country", "type__name")


class IncidentMapFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        refuse_reversed_range(cleaned.get("occurred_from"), cleaned.get("occurred_to"),
                              end_field="occurred_to")
        return cleaned


class IncidentMapFilter(django_filters.FilterSet):
    """The map's filters, as GET parameters of the page and of its data endpoint alike."""

    type = django_filters.ModelChoiceFilter(
        queryset=IncidentType.objects.none(), label=_("Type"), empty_label=_("Any type"))
    occurred_from = django_filters.DateFilter(
        method="filter_occurred_from", label=_("From"), validators=[validate_date_in_range],
        widget=forms.DateInput(attrs={"type": "date"}))
    occurred_to = django_filters.DateFilter(
        method="filter_occurred_to", label=_("To"), validators=[validate_date_in_range],
        widget=forms.DateInput(attrs={"type": "date"}))
    claim_status = django_filters.ChoiceFilter(
        choices=VerificationStatus.choices, method="filter_claim_status",
        label=_("Has a claim that is"), empty_label=_("Any status, or no claim"))

    class Meta:
        model = Incident
        fields = ["type", "occurred_from", "occurred_to", "claim_status"]
        form = IncidentMapFilterForm

    def __init__(self, data=None, *, case, **kwargs):
        super().__init__(data, queryset=Incident.objects.of_case(case), **kwargs)
        # Run when the form is shown or a type is chosen.
        self.filters["type"].queryset = IncidentType.objects.used_in(case)

    def filter_occurred_from(self, queryset, name, value):
        # An incident's span (occurred_earliest..occurred_latest) reaches into the range; one
        # whose year is unknown has no span and is left out once a date is asked for.
        return queryset.filter(occurred_latest__gte=value)

    def filter_occurred_to(self, queryset, name, value):
        return queryset.filter(occurred_earliest__lte=value)

    def filter_claim_status(self, queryset, name, value):
        return queryset.filter(Exists(
            Claim.objects.filter(incident=OuterRef("pk"), status=value)))


#: Has coordinates (the model's constraint makes latitude and longitude both set or neither).
LOCATED = Q(latitude__isnull=False, longitude__isnull=False)


def located(queryset):
    return queryset.filter(LOCATED)


def in_map_order(queryset):
    """The timeline's derived-date order (undated last), which the (case, occurred_earliest)
    index serves with the limit."""
    return queryset.order_by(F("occurred_earliest").asc(nulls_last=True), "pk")


def totals(queryset) -> dict:
    """How many incidents the filters match on the map and off it, in one query."""
    return queryset.aggregate(
        located=Count("pk", filter=LOCATED), unlocated=Count("pk", filter=~LOCATED))


def feature_rows(queryset) -> list[dict]:
    """The located incidents' rows the map needs, at most MAX_FEATURES + 1 (to tell a cut)."""
    return list(in_map_order(located(queryset)).values(*FEATURE_FIELDS)[:MAX_FEATURES + 1])


def describe_place(precision: str, place_name: str, admin_region: str,
                   country_name: str) -> str:
    """How precisely the place is known, in words for the popup and the table."""
    if precision == GeoPrecision.TOWN:
        return (gettext("In or near %(place)s") % {"place": place_name} if place_name
                else gettext("Somewhere in or near this town"))
    if precision == GeoPrecision.DISTRICT:
        return (gettext("Somewhere in this district (%(place)s)") % {"place": place_name}
                if place_name else gettext("Somewhere in this district"))
    if precision == GeoPrecision.REGION:
        region = admin_region or country_name
        return (gettext("Somewhere in %(place)s") % {"place": region} if region
                else gettext("Somewhere in this region"))
    if precision == GeoPrecision.COUNTRY:
        return (gettext("Somewhere in %(place)s") % {"place": country_name} if country_name
                else gettext("Somewhere in this country"))
    if precision == GeoPrecision.POINT:
        return (gettext("At this point: %(place)s") % {"place": place_name} if place_name
                else gettext("At this point"))
    return gettext("How precise this place is was not recorded")


class FeatureWriter:
    """Writes incidents as GeoJSON Features (RFC 7946: longitude first) whose properties are
    what the map draws and says, nothing more. Words are worked out once per distinct value
    (a date, a country, a place at a precision), not per incident: thousands of incidents
    share a handful of them, and translating each again cost most of the endpoint's time."""

    def __init__(self, link_prefix: str):
        self.link_prefix = link_prefix
        self._when: dict[str, str] = {}
        self._country: dict[str, tuple[str, str, str]] = {}
        self._place: dict[tuple, str] = {}
        self._labels = {value: str(label) for value, label in GeoPrecision.choices}

    def country(self, code: str) -> tuple[str, str, str]:
        """(name, ISO alpha-3, ISO numeric): the vendored outlines' keys are Natural Earth
        admin-1's alpha-3 and world-atlas's numeric codes."""
        if code not in self._country:
            self._country[code] = (
                (str(countries.name(code)), countries.alpha3(code) or "",
                 countries.numeric(code, padded=True) or "") if code else ("", "", ""))
        return self._country[code]

    def properties(self, row: dict) -> dict:
        precision, code = row["geo_precision"], row["country"] or ""
        name, alpha3, numeric = self.country(code)
        place_key = (precision, row["place_name"], row["admin_region"], code)
        if place_key not in self._place:
            self._place[place_key] = describe_place(precision, row["place_name"],
                                                    row["admin_region"], name)
        if row["occurred"] not in self._when:
            self._when[row["occurred"]] = fuzzydate.describe_or_as_written(row["occurred"])
        return {
            "title": row["title"],
            "type": row["type__name"] or "",
            "when": self._when[row["occurred"]],
            "precision": precision,
            "precision_label": self._labels.get(precision, ""),
            "place": self._place[place_key],
            "admin_region": row["admin_region"],
            "country": code,
            "country_a3": alpha3,
            "country_n3": numeric,
            "radius": AREA_RADIUS_METRES.get(precision),
            "url": f"{self.link_prefix}{row['pk']}/",
        }

    def feature(self, row: dict) -> dict:
        return {
            "type": "Feature",
            "id": row["pk"],
            "geometry": {"type": "Point",
                         "coordinates": [float(row["longitude"]), float(row["latitude"])]},
            "properties": self.properties(row),
        }


def feature_collection(rows: list[dict], link_prefix: str) -> dict:
    """The rows of feature_rows() as a FeatureCollection, with whether some were cut."""
    writer = FeatureWriter(link_prefix)
    return {
        "type": "FeatureCollection",
        "features": [writer.feature(row) for row in rows[:MAX_FEATURES]],
        "truncated": len(rows) > MAX_FEATURES,
        "limit": MAX_FEATURES,
    }
