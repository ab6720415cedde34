from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce, Least, TruncDate
from django.utils.formats import number_format
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries.fields import CountryField

from .. import fuzzydate
from ..enums import GeoPrecision
from ..history import HistoricalRecords
from .base import AuthoredModel, CaseDataQuerySet


class IncidentType(models.Model):
    """A newsroom-wide taxonomy of incident types, extended by editors in the admin."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    history = HistoricalRecords()

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


@dataclass(frozen=True)
class CountBalance:
    involved: int | None
    accounted: int

    @property
    def unaccounted(self) -> int | None:
        return None if self.involved is None else self.involved - self.accounted

    @property
    def reconciles(self) -> bool:
        return self.involved is not None and self.accounted == self.involved


def _count_field(verbose_name, help_text):
    return models.PositiveIntegerField(verbose_name, null=True, blank=True, help_text=help_text)


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
        when = self.when
        return when.describe() if when else self.occurred

    def count_balance(self) -> CountBalance:
        accounted = sum(getattr(self, f) or 0 for f in OUTCOME_COUNT_FIELDS)
        return CountBalance(self.involved, accounted)

    def clean(self):
        errors = {}
        try:
            self.occurred = fuzzydate.parse(self.occurred).edtf
        except ValidationError as exc:
            errors["occurred"] = exc.error_list
        if (self.latitude is None) != (self.longitude is None):
            errors["longitude" if self.longitude is None else "latitude"] = ValidationError(
                _("Give both latitude and longitude, or neither."),
                code="coordinates_incomplete")
        if self.latitude is not None and not self.geo_precision:
            errors["geo_precision"] = ValidationError(
                _("Say how precise the coordinates are."), code="geo_precision_missing")
        balance = self.count_balance()
        if balance.involved is not None and balance.accounted > balance.involved:
            errors["involved"] = ValidationError(
                ngettext("Detained, killed, missing and at large add up to %(accounted)s, more "
                         "than the %(involved)s person involved.",
                         "Detained, killed, missing and at large add up to %(accounted)s, more "
                         "than the %(involved)s people involved.", balance.involved),
                code="counts_exceed_involved",
                params={"accounted": number_format(balance.accounted),
                        "involved": number_format(balance.involved)})
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

