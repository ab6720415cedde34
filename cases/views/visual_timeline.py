"""The visual timeline of a case's incidents (vis-timeline), its JSON data, and the way from
an incident to its place on the list timeline.

**Drawn honestly.** Each incident's EDTF date (cases/fuzzydate.py) decides how it is drawn:
an exact day or time, known without "about" or "uncertain", is a *point*; anything wider (a
range, the night of 8 to 9 May, a month, a year, a day of an unknown month, "about" or
"uncertain" anything) is a *band* from its earliest to its latest possible moment, so the
chart never shows more precision than the record holds. A date whose year is unknown
("9 May, year unknown") has no place on an axis of years: it is listed apart ("Date not
placed"), never drawn at a guessed year, and so is a date that cannot be read at all (a
record older than the rules). Times are drawn as written ("14:30" at 14:30 on the axis,
whatever the reader's time zone), as the words say. Every item carries the same words as
the list timeline (`FuzzyDate.describe()`) and a link to the incident there.

**Bounded.** `timeline_data` reads the columns it needs with `.values()`, in a fixed number
of queries however many incidents the case holds: the member's access (with the session and
user), one aggregate (how many incidents, how many placed, how many without a type, the
case's first and last day, its longest span), the incident types in use (the legend and the
chart's lanes, the same for every window of the case), the placed incidents of the
requested window, and the incidents not placed. A window reads a range of the index on
(case, occurred_earliest): from its start less the case's longest span to its end.
vis-timeline's stacking grows much faster than the number of items, so a browser copes with
a few hundred of them, never with a large case's all: at most `MAX_ITEMS` placed incidents
are sent, the earliest of the window first, with `truncated` set and the totals, and the page
says so; the script asks again with `?from=&to=` (days, both included) for the part of the
axis the reader zooms or moves to. The list of dates not placed is capped the same way
(`MAX_UNPLACED`). In a large case the aggregate, which reads every row of the case, is most
of an answer's cost.

`?from=` and `?to=` are validated by `TimelineWindowForm`: bad input answers 400 in JSON with
each field's message and code, never a 500.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import fuzzydate
from ..models import Incident, IncidentType
from ..timebounds import refuse_reversed_range, validate_date_in_range
from .case_page import case_view
from .workspace import TIMELINE_PAGE_SIZE

# The most placed incidents one answer carries (module docstring), and the most not placed.
MAX_ITEMS = 500
MAX_UNPLACED = 500
# The colours of the types in the legend (static/css/visual_timeline.css), in turn.
TYPE_COLOURS = 8
NO_TYPE_GROUP = "none"

POINT = "point"
BAND = "band"


class TimelineWindowForm(forms.Form):
    """The part of the axis asked for: the days `from` to `to`, both included, either or
    both may be left out."""

    from_ = forms.DateField(label=_("From"), required=False,
                            validators=[validate_date_in_range])
    to = forms.DateField(label=_("To"), required=False, validators=[validate_date_in_range])

    def __init__(self, data=None, **kwargs):
        # `from` is a Python keyword: the field is `from_`, its parameter `from`.
        data = None if data is None else {
            "from_": data.get("from", ""), "to": data.get("to", "")}
        super().__init__(data, **kwargs)

    def clean(self):
        cleaned = super().clean()
        refuse_reversed_range(cleaned.get("from_"), cleaned.get("to"), end_field="to")
        return cleaned

    def errors_by_parameter(self) -> dict:
        """The errors as {parameter: [{"message", "code"}]}, named as in the query string."""
        data = self.errors.get_json_data()
        if "from_" in data:
            data["from"] = data.pop("from_")
        return data


def placement(occurred: str) -> dict | None:
    """How an incident dated `occurred` is drawn: {"kind", "start", "end", "approximate",
    "precision", "when"}, or None when the date has no place on the axis (year unknown, or
    unreadable). `start` and `end` are local ISO times as written ("2025-05-09T14:30"), or
    days ("2025-05-09"); a band's `end` is the first moment after it (exclusive)."""
    try:
        when = fuzzydate.parse(occurred)
    except ValidationError:
        return None
    earliest, latest = when.earliest, when.latest
    if earliest is None or latest is None:
        return None
    start_point, end_point = when.start, when.end or when.start
    exact = earliest == latest and not when.is_approximate
    if exact:
        time = start_point.time if start_point.time == end_point.time else None
        return {"kind": POINT, "start": _moment(earliest, time), "end": None,
                "approximate": False, "precision": when.precision.value,
                "when": when.describe()}
    end = (_moment(latest, end_point.time) if end_point.time
           else (latest + dt.timedelta(days=1)).isoformat())
    return {"kind": BAND, "start": _moment(earliest, start_point.time), "end": end,
            "approximate": when.is_approximate, "precision": when.precision.value,
            "when": when.describe()}


def _moment(day: dt.date, time: str | None) -> str:
    return f"{day.isoformat()}T{time}" if time else day.isoformat()


@case_view(tab="timeline")
def visual_timeline(request, case_page):
    """The page: the chart, its legend, buttons and text alternative are filled in by
    static/js/visual_timeline.js from `timeline_data`."""
    slug = case_page.case.slug
    return case_page.render("cases/incident_timeline.html", {
        "timeline_config": {
            "dataUrl": reverse("cases:timeline_data", args=[slug]),
            # The language alone ("en" of "en-gb"): the name of Moment's and vis-timeline's
            # locales, which the page loads for Russian (and English is built in).
            "locale": (get_language() or "en").split("-")[0],
        },
        "timeline_labels": {
            "loadFailed": gettext("The timeline could not be loaded. Reload the page, or use "
                                  "the list timeline."),
            "empty": gettext("No incidents recorded yet."),
            "noneOnAxis": gettext("No incident of this case has a date with a known year, so "
                                  "none is drawn on the axis."),
            "truncated": ngettext(
                "The chart shows the earliest %(count)s incident of this period only: zoom in "
                "or move along the axis to see the others.",
                "The chart shows the earliest %(count)s incidents of this period only: zoom in "
                "or move along the axis to see the others.", MAX_ITEMS,
            ) % {"count": number_format(MAX_ITEMS, force_grouping=True)},
            "notLoaded": gettext("Not every incident is drawn from here on: zoom in."),
            # Translators: {shown} and {total} are numbers filled in by the page's script.
            "shownOf": gettext("Shown: {shown} of {total}."),
        },
    })


@case_view(tab="timeline")
def timeline_data(request, case_page):
    form = TimelineWindowForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors_by_parameter()}, status=400)
    start, end = form.cleaned_data["from_"], form.cleaned_data["to"]
    case = case_page.case
    incidents = Incident.objects.of_case(case)

    span = ExpressionWrapper(F("occurred_latest") - F("occurred_earliest"),
                             output_field=DurationField())
    totals = incidents.aggregate(
        total=Count("pk"), placed=Count("occurred_earliest"),
        untyped=Count("pk", filter=Q(type=None)),
        first=Min("occurred_earliest"), last=Max("occurred_latest"), longest=Max(span))
    type_names = list(IncidentType.objects.used_in(case).values_list("pk", "name"))

    placed = incidents.exclude(occurred_earliest=None)
    if end is not None:
        placed = placed.filter(occurred_earliest__lte=end)
    if start is not None:
        placed = placed.filter(occurred_latest__gte=start)
        # What reaches into the window started at most the case's longest span before it:
        # a range of the index on (case, occurred_earliest), not every earlier incident.
        reach = _earliest_start(start, totals["longest"])
        if reach is not None:
            placed = placed.filter(occurred_earliest__gte=reach)
    fields = ("pk", "title", "occurred", "type_id")
    placed_rows = list(placed.order_by("occurred_earliest", "pk").values(*fields)[:MAX_ITEMS + 1])
    unplaced_rows = list(incidents.filter(occurred_earliest=None).order_by("pk")
                         .values(*fields)[:MAX_UNPLACED])

    prefix = incident_link_prefix(case)
    # The case's groups, not this answer's: the script makes its lanes from the first answer
    # only, and an item whose lane is missing is not drawn at all.
    groups = _groups(type_names, totals["untyped"] > 0)

    def common(row):
        return {"id": row["pk"], "title": row["title"],
                "group": _group_id(row["type_id"]), "url": f"{prefix}{row['pk']}/"}

    items, unreadable = [], []
    for row in placed_rows[:MAX_ITEMS]:
        drawn = placement(row["occurred"])
        if drawn is None:  # days derived once, from a date no longer read: listed apart
            unreadable.append(row)
        else:
            items.append({**common(row), **drawn})
    unplaced = [{**common(row), "when": fuzzydate.describe_or_as_written(row["occurred"])}
                for row in unplaced_rows + unreadable]
    return JsonResponse({
        "window": {"from": start.isoformat() if start else None,
                   "to": end.isoformat() if end else None},
        "range": {"from": totals["first"].isoformat() if totals["first"] else None,
                  "to": totals["last"].isoformat() if totals["last"] else None},
        "groups": groups,
        "items": items,
        "placed_total": totals["placed"] - len(unreadable),
        "truncated": len(placed_rows) > MAX_ITEMS,
        "max_items": MAX_ITEMS,
        "unplaced": unplaced,
        "unplaced_total": totals["total"] - totals["placed"] + len(unreadable),
    })


def _earliest_start(start: dt.date, longest: dt.timedelta | None) -> dt.date | None:
    """The earliest first day an incident overlapping a window from `start` can have."""
    if longest is None:
        return start
    try:
        return start - longest
    except OverflowError:  # before the year 1: no bound
        return None


def _group_id(type_id) -> str:
    return NO_TYPE_GROUP if type_id is None else f"type-{type_id}"


def _groups(type_names, with_untyped: bool) -> list[dict]:
    groups = [{"id": _group_id(pk), "name": name, "colour": index % TYPE_COLOURS}
              for index, (pk, name) in enumerate(type_names)]
    if with_untyped:
        groups.append({"id": NO_TYPE_GROUP, "name": str(_("No type")),
                       "colour": len(groups) % TYPE_COLOURS})
    return groups


def incident_link_prefix(case) -> str:
    """The address of the case's incidents (`timeline_incident`) up to the incident's id:
    reversed once per answer, not once per row."""
    return reverse("cases:timeline_incident", args=[case.slug, 0]).removesuffix("0/")


@case_view(tab="timeline")
def timeline_incident(request, case_page, pk):
    """An incident's place on the list timeline: the page that shows it, at its anchor. The
    visual timeline's items link here (and any page may: it is the incident's address)."""
    position = _list_position(case_page.case, pk)
    if position is None:
        raise Http404("No such incident.")
    url = reverse("cases:timeline", args=[case_page.case.slug])
    page = (position - 1) // TIMELINE_PAGE_SIZE + 1
    query = f"?page={page}" if page > 1 else ""
    return redirect(f"{url}{query}#incident-{pk}")


def _list_position(case, pk) -> int | None:
    """The incident's place (from 1) in the list timeline's order, in one query: the row
    number over `Incident.objects.chronological()`'s own ordering, kept for this incident
    alone by a condition on the window (evaluated after it, not before)."""
    ordered = Incident.objects.of_case(case).chronological()
    order_by = [_as_order(term) for term in ordered.query.order_by]
    return (ordered.annotate(position=Window(RowNumber(), order_by=order_by))
            .annotate(target=Case(When(pk=pk, then=F("position")), default=Value(0),
                                  output_field=IntegerField()))
            .filter(target__gt=0).values_list("target", flat=True).first())


def _as_order(term):
    if not isinstance(term, str):
        return term
    return F(term[1:]).desc() if term.startswith("-") else F(term).asc()
