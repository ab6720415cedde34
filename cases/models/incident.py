from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce, Least, TruncDate
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries.fields import CountryField

from .. import fuzzydate
from ..enums import FigureQualifier, GeoPrecision, format_figure_number
from ..figures import Figure, Span, describe_span, nonnegative
from ..history import HistoricalRecords
from ..text import one_line
from .base import AuthoredModel, CaseDataQuerySet


class IncidentTypeQuerySet(models.QuerySet):
    def used_in(self, case):
        """The newsroom's types that `case`'s incidents have, by name: one query (the case's
        incidents are its subquery), for the map's type filter and the visual timeline's
        lanes alike."""
        return self.filter(pk__in=Incident.objects.of_case(case).values("type_id")).order_by(
            "name", "pk")


class IncidentType(models.Model):
    """A newsroom-wide taxonomy of incident types, extended by editors in the admin."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    history = HistoricalRecords()

    objects = IncidentTypeQuerySet.as_manager()

    class Meta:
        verbose_name = _("incident type")
        verbose_name_plural = _("incident types")
        ordering = ["name"]

    def __str__(self):
        return self.name


class IncidentQuerySet(CaseDataQuerySet):
    def chronological(self):
        """Oldest first, by `sort_date`: the earliest possible day, or for an incident whose
        year is unknown (XXXX-05-09) the day it was first reported, i.e. the earliest
        publication among its own and its claims' citations. Undated ones come last."""
        from .source import Citation

        # Two subqueries, not one with `incident OR claim__incident`: each can use its index,
        # where the OR read every citation per incident (and its cost estimate alone made
        # PostgreSQL JIT-compile every timeline query: seconds at a million claims).
        def first_published(**condition):
            return models.Subquery(
                Citation.objects.filter(**condition).exclude(published_at=None)
                .order_by("published_at").values("published_at")[:1])

        own = first_published(incident=models.OuterRef("pk"))
        via_claims = first_published(claim__incident=models.OuterRef("pk"))
        # LEAST ignores NULLs on PostgreSQL but not on SQLite: coalesce each side first.
        first_report = Least(Coalesce(own, via_claims), Coalesce(via_claims, own))
        return self.annotate(
            sort_date=Coalesce("occurred_earliest", TruncDate(first_report))
        ).order_by(models.F("sort_date").asc(nulls_last=True), "occurred_latest", "pk")


# People counts whose sum must not exceed the number involved: they are disjoint outcomes
# (10 deserted = 6 detained + 4 at large). `injured` overlaps with the others, so it is
# deliberately not part of the balance.
OUTCOME_COUNT_FIELDS = ("detained", "killed", "missing", "at_large")


# Every people count of an incident, each with its qualifier field (`<count>_qualifier`).
COUNT_FIELDS = ("involved", "detained", "killed", "injured", "missing", "at_large")


def qualifier_field(count: str) -> str:
    return f"{count}_qualifier"


@dataclass(frozen=True)
class CountBalance:
    """The people involved against the outcomes accounted for (10 = 6 detained + 4 at large).

    `involved` and `accounted` are the numbers as given; with qualifiers ("more than 100
    involved", "at least 4 detained") each side is a range (`involved_span`,
    `accounted_span`), and the balance compares ranges: the outcomes *exceed* the people
    involved only when even their lowest sum is above the highest number involved."""

    involved: int | None
    accounted: int
    involved_span: Span | None  # None exactly when `involved` is
    accounted_span: Span

    @property
    def exact(self) -> bool:
        return (self.involved_span is not None and self.involved_span.is_exact()
                and self.accounted_span.is_exact())

    @property
    def unaccounted(self) -> int | None:
        """People not accounted for, when every count is exact (None otherwise)."""
        return self.involved - self.accounted if self.exact else None

    @property
    def unaccounted_span(self) -> Span | None:
        """The range of people not accounted for (qualified counts): 0 to 4, at least 2."""
        involved = self.involved_span
        return None if involved is None else involved.minus(self.accounted_span)

    @property
    def unaccounted_display(self) -> str:
        span = self.unaccounted_span
        return "" if span is None else describe_span(span)

    @property
    def reconciles(self) -> bool:
        return self.exact and self.accounted == self.involved

    @property
    def may_reconcile(self) -> bool:
        """Not exact, but the counts' ranges allow them to add up."""
        return (not self.exact and self.involved_span is not None
                and self.involved_span.overlaps(self.accounted_span))

    @property
    def exceeds(self) -> bool:
        """The outcomes add up to more than the people involved, whatever the qualifiers
        allow."""
        involved, accounted = self.involved_span, self.accounted_span
        if involved is None:
            return False
        at_most_involved = Span(None, involved.high, high_open=involved.high_open)
        at_least_accounted = Span(accounted.low, None, low_open=accounted.low_open)
        return not at_most_involved.overlaps(at_least_accounted)


def count_span(value, qualifier) -> Span:
    """A count's range of whole people: its figure's, never below zero, each end closed on a
    whole number ("more than 100" is at least 101, "about 300" 270 to 330)."""
    span = nonnegative(Figure(value, qualifier or FigureQualifier.EXACTLY).span())
    low, high = span.low, span.high
    if low is not None:
        low = (low.to_integral_value(ROUND_FLOOR) + 1 if span.low_open
               else low.to_integral_value(ROUND_CEILING))
    if high is not None:
        high = (high.to_integral_value(ROUND_CEILING) - 1 if span.high_open
                else high.to_integral_value(ROUND_FLOOR))
        high = max(high, low)  # "nearly 1" person is still one
    return Span(low, high)


def count_balance(values: dict) -> CountBalance:
    """The balance of one incident's counts, or of a group's added up: `values` maps each
    count and `<count>_qualifier` to its value (a count missing or None is unknown)."""
    given = [f for f in OUTCOME_COUNT_FIELDS if values.get(f) is not None]
    accounted = sum(values[f] for f in given)
    accounted_span = Span(Decimal(0), Decimal(0))
    for name in given:
        accounted_span = accounted_span + count_span(values[name],
                                                     values.get(qualifier_field(name)))
    involved = values.get("involved")
    involved_span = (None if involved is None
                     else count_span(involved, values.get(qualifier_field("involved"))))
    return CountBalance(involved, accounted, involved_span, accounted_span)


def count_reading_errors(values: dict) -> dict[str, ValidationError]:
    """What cannot be read in an incident's counts (`values` as for count_balance), by field:
    a qualifier with no count to qualify, and a qualified count no number of people can be
    ("fewer than 0"). A qualifier that is not one of the choices is the field's own
    validation's to refuse and is not read here."""
    errors = {}
    for name in COUNT_FIELDS:
        qualifier = values.get(qualifier_field(name)) or FigureQualifier.EXACTLY
        if qualifier not in FigureQualifier.values:
            continue
        value = values.get(name)
        if value is None:
            if qualifier != FigureQualifier.EXACTLY:
                errors[qualifier_field(name)] = ValidationError(
                    _("Give the count this qualifier is about, or set it back to “exactly”."),
                    code="qualifier_without_count")
        elif not Figure(value, qualifier).span().overlaps(Span(Decimal(0), None)):
            errors[name] = ValidationError(
                _("No number of people is %(count)s."), code="count_impossible",
                params={"count": str(Figure(value, qualifier))})
    return errors


def count_balance_error(values: dict) -> ValidationError | None:
    """The refusal of counts whose outcomes add up to more than the people involved, whatever
    the qualifiers allow (`values` as for count_balance), or None: the model's clean() and
    the importers give it in the same words, with the same code."""
    balance = count_balance(values)
    if not balance.exceeds:
        return None
    # The outcomes' sum in whole people ("12", "at least 12", "between 12 and 15"), grouped
    # as every other figure is.
    accounted = describe_span(balance.accounted_span)
    involved_qualifier = values.get(qualifier_field("involved")) or FigureQualifier.EXACTLY
    if involved_qualifier == FigureQualifier.EXACTLY:
        return ValidationError(
            ngettext("Detained, killed, missing and at large add up to %(accounted)s, more "
                     "than the %(involved)s person involved.",
                     "Detained, killed, missing and at large add up to %(accounted)s, more "
                     "than the %(involved)s people involved.", balance.involved),
            code="counts_exceed_involved",
            params={"accounted": accounted,
                    "involved": format_figure_number(balance.involved)})
    # A qualified figure cannot stand between "the" and "people" ("the fewer than 10 people
    # involved"): it follows them, whole, as the record gives it.
    return ValidationError(
        _("Detained, killed, missing and at large add up to %(accounted)s, more than the "
          "people involved (%(involved)s)."),
        code="counts_exceed_involved",
        params={"accounted": accounted,
                "involved": str(Figure(balance.involved, involved_qualifier))})


def _count_field(verbose_name, help_text):
    return models.PositiveIntegerField(verbose_name, null=True, blank=True, help_text=help_text)


def _qualifier_field(verbose_name):
    return models.CharField(verbose_name, max_length=10, choices=FigureQualifier.choices,
                            default=FigureQualifier.EXACTLY)


class Incident(AuthoredModel):
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="incidents",
                             verbose_name=_("case"))
    type = models.ForeignKey(IncidentType, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="incidents", verbose_name=_("type"))
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)

    occurred = models.CharField(
        _("when"), max_length=64,
        help_text=format_lazy("{} {}", _("EDTF date:"), fuzzydate.FORMAT_HELP),
    )
    occurred_earliest = models.DateField(_("occurred earliest"), null=True, blank=True,
                                         editable=False, db_index=True)
    occurred_latest = models.DateField(_("occurred latest"), null=True, blank=True,
                                       editable=False)

    place_name = models.CharField(_("place"), max_length=200, blank=True)
    admin_region = models.CharField(_("region"), max_length=200, blank=True,
                                    help_text=_("First-level administrative region (oblast, "
                                                "province, state), as ACLED's admin1."))
    country = CountryField(_("country"), blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True,
                                   blank=True, validators=[MinValueValidator(Decimal(-90)),
                                                           MaxValueValidator(Decimal(90))])
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True,
                                    blank=True, validators=[MinValueValidator(Decimal(-180)),
                                                            MaxValueValidator(Decimal(180))])
    geo_precision = models.CharField(
        _("geo precision"), max_length=20, choices=GeoPrecision.choices, blank=True,
        help_text=_("How precisely the place is known: the coordinates stand for a point, a "
                    "town, a district, a region or only the country."),
    )

    involved = _count_field(_("people involved"), _("Leave empty when unknown; 0 means none."))
    detained = _count_field(_("detained"), _("Arrested, caught or held."))
    killed = _count_field(_("killed"), "")
    injured = _count_field(_("injured"), "")
    missing = _count_field(_("missing"), "")
    at_large = _count_field(_("at large"), _("Still free or being searched for."))
    involved_qualifier = _qualifier_field(_("people involved: qualifier"))
    detained_qualifier = _qualifier_field(_("detained: qualifier"))
    killed_qualifier = _qualifier_field(_("killed: qualifier"))
    injured_qualifier = _qualifier_field(_("injured: qualifier"))
    missing_qualifier = _qualifier_field(_("missing: qualifier"))
    at_large_qualifier = _qualifier_field(_("at large: qualifier"))

    # How the case's people line reads this incident (cases/tallies.py: case_counts).
    count_group = models.CharField(
        _("count group"), max_length=100, blank=True,
        help_text=_("Incidents of one event share a group name (Kadamovsky desertion): the "
                    "case overview reconciles the people counts of each group on its own "
                    "line. Leave empty for an incident of its own."))
    in_case_counts = models.BooleanField(
        _("in the case's people counts"), default=True,
        help_text=_("Untick for an incident whose people are not part of the case's tally "
                    "(a separate event mentioned for context)."))

    history = HistoricalRecords()
    objects = IncidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = [models.F("occurred_earliest").asc(nulls_last=True), "pk"]
        indexes = [models.Index(fields=["case", "occurred_earliest"])]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(latitude__isnull=True, longitude__isnull=True)
                           | models.Q(latitude__isnull=False, longitude__isnull=False)),
                name="incident_coordinates_both_or_neither",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def when(self) -> fuzzydate.FuzzyDate | None:
        try:
            return fuzzydate.parse(self.occurred)
        except ValidationError:
            return None

    @property
    def when_display(self) -> str:
        return fuzzydate.describe_or_as_written(self.occurred)

    def _count_values(self) -> dict:
        return {name: getattr(self, name) for f in COUNT_FIELDS for name in (f, qualifier_field(f))}

    def count_balance(self) -> CountBalance:
        return count_balance(self._count_values())

    def count_figure(self, name: str) -> Figure | None:
        value = getattr(self, name)
        if value is None:
            return None
        return Figure(value, getattr(self, qualifier_field(name)) or FigureQualifier.EXACTLY)

    @property
    def counts_in_words(self) -> dict[str, str]:
        """Each known count with its qualifier, in words ("more than 100"), for the pages."""
        return {name: str(figure) for name in COUNT_FIELDS
                if (figure := self.count_figure(name)) is not None}

    def clean(self):
        errors = {}
        try:
            self.occurred = fuzzydate.parse(self.occurred).edtf
        except ValidationError as exc:
            errors["occurred"] = exc.error_list
        # The case's count lines group incidents by this name: one spelling on every path.
        self.count_group = one_line(self.count_group)
        if (self.latitude is None) != (self.longitude is None):
            errors["longitude" if self.longitude is None else "latitude"] = ValidationError(
                _("Give both latitude and longitude, or neither."),
                code="coordinates_incomplete")
        if self.latitude is not None and not self.geo_precision:
            errors["geo_precision"] = ValidationError(
                _("Say how precise the coordinates are."), code="geo_precision_missing")
        values = self._count_values()
        count_errors = count_reading_errors(values)
        errors.update(count_errors)
        # The balance reads every qualifier: with one unreadable, the field's error says so.
        readable = all(values[qualifier_field(f)] in FigureQualifier.values for f in COUNT_FIELDS)
        if readable and not count_errors and (exceeded := count_balance_error(values)):
            errors["involved"] = exceeded
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        # Derived dates follow the EDTF string on every write path (forms, admin, imports).
        when = fuzzydate.parse(self.occurred)
        self.occurred = when.edtf
        self.occurred_earliest, self.occurred_latest = when.earliest, when.latest
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "occurred" in update_fields:
            kwargs["update_fields"] = {*update_fields, "occurred_earliest", "occurred_latest"}
        super().save(*args, **kwargs)

