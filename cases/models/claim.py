from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..enums import (
    Credibility,
    FigureQualifier,
    VerificationEventKind,
    VerificationStatus,
)
from ..figures import Figure
from ..history import HistoricalRecords
from .base import AppendOnlyQuerySet, AuthoredModel, CaseDataQuerySet, same_case_errors

# In review, or carrying a proposed verdict: the condition of the partial indexes below, which
# awaiting_review() repeats word for word so that PostgreSQL can use them.
AWAITING_REVIEW = (models.Q(status=VerificationStatus.IN_REVIEW)
                   | models.Q(proposed_verdict__gt=""))


class ClaimQuerySet(CaseDataQuerySet):
    def awaiting_review(self):
        """Claims an editor should look at: in review, or carrying a proposed verdict."""
        return self.filter(AWAITING_REVIEW).exclude(status__in=VerificationStatus.finals())

    def final(self):
        return self.filter(status__in=VerificationStatus.finals())

    def open(self):
        return self.exclude(status__in=VerificationStatus.finals())

    def with_figures(self):
        return self.filter(figure_value__isnull=False)


class Claim(AuthoredModel):
    # Indexed by (case, id) below, which also serves lookups by case alone.
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="claims",
                             db_index=False, verbose_name=_("case"))
    incident = models.ForeignKey("cases.Incident", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="claims",
                                 verbose_name=_("incident"))
    statement = models.TextField(_("statement"),
                                 help_text=_("One checkable statement, in our own words."))

    figure_value = models.DecimalField(_("figure"), max_digits=14, decimal_places=2, null=True,
                                       blank=True, validators=[MinValueValidator(0)],
                                       help_text=_("The number the statement gives."))
    figure_unit = models.CharField(
        _("counted"), max_length=100, blank=True,
        help_text=_("What the figure counts, named the same way each time so the running "
                    "tally can be followed (deserters, caught, at large, arrest warrants)."),
    )
    figure_qualifier = models.CharField(_("qualifier"), max_length=10,
                                        choices=FigureQualifier.choices,
                                        default=FigureQualifier.EXACTLY)

    credibility = models.CharField(
        _("credibility"), max_length=1, choices=Credibility.choices,
        default=Credibility.CANNOT_BE_JUDGED,
        help_text=_("Admiralty grade of the statement itself: 1 confirmed by other sources, "
                    "2 probably true, 3 possibly true, 4 doubtful, 5 improbable, 6 cannot be "
                    "judged."),
    )
    # Written only by cases.workflow: never by forms, the admin or imports
    # (tests/test_workflow_writes.py reads the code for any other write).
    status = models.CharField(_("status"), max_length=20, choices=VerificationStatus.choices,
                              default=VerificationStatus.UNVERIFIED, editable=False,
                              db_index=True)
    proposed_verdict = models.CharField(_("proposed verdict"), max_length=20,
                                        choices=VerificationStatus.choices, blank=True,
                                        editable=False)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    editable=False, verbose_name=_("proposed by"))

    history = HistoricalRecords()
    objects = ClaimQuerySet.as_manager()

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["-updated_at", "pk"]
        indexes = [
            # A case's claims, newest first by id (the back office's list filtered by case:
            # without it PostgreSQL walked the primary key through a million claims, 240 ms).
            models.Index(fields=["case", "id"], name="claim_case_newest"),
            models.Index(fields=["case", "status"]),
            # The claims that carry a figure, all that the key figures and the figures page
            # read (cases/tallies.py): without it, a scan of every claim of the case.
            models.Index(fields=["case", "figure_unit"], condition=models.Q(
                figure_value__isnull=False), name="claim_case_figures"),
            # "Awaiting your verdict" (the dashboard, the review queue): oldest first, across
            # an editor's cases. One index serves an editor of many cases (walk by date, keep
            # their cases), the other an editor of a few (per case, by date); the planner
            # picks. Without them it is a scan of every claim and a sort (about 190 ms at a
            # million claims, bench/README.md).
            models.Index(fields=["updated_at"], condition=AWAITING_REVIEW,
                         name="claim_awaiting_by_date"),
            models.Index(fields=["case", "updated_at"], condition=AWAITING_REVIEW,
                         name="claim_awaiting_by_case_date"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=VerificationStatus.values),
                name="claim_status_valid",
            ),
            # A pending proposal always says who made it.
            models.CheckConstraint(
                condition=(models.Q(proposed_verdict="", proposed_by__isnull=True)
                           | (~models.Q(proposed_verdict="")
                              & models.Q(proposed_by__isnull=False))),
                name="claim_proposal_has_proposer",
            ),
        ]

    def __str__(self):
        text = self.statement.strip().replace("\n", " ")
        return text if len(text) <= 80 else text[:79] + "…"

    @property
    def is_final(self) -> bool:
        return VerificationStatus(self.status).is_final

    @property
    def figure(self) -> Figure | None:
        if self.figure_value is None:
            return None
        return Figure(self.figure_value, FigureQualifier(self.figure_qualifier), self.figure_unit)

    def clean(self):
        errors = same_case_errors(self.case_id, incident=self.incident)
        if self.figure_value is not None and not self.figure_unit.strip():
            errors["figure_unit"] = ValidationError(_("Say what the figure counts."),
                                                    code="figure_unit_missing")
        if errors:
            raise ValidationError(errors)


class VerificationEvent(models.Model):
    """One step of a claim's verification. Written by cases.workflow only, never changed."""

    # PROTECT: verification history is never deleted, not even with its claim (see
    # cases/history.py); a claim that has any cannot be deleted.
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="events",
                              verbose_name=_("claim"))
    kind = models.CharField(_("kind"), max_length=20, choices=VerificationEventKind.choices,
                            default=VerificationEventKind.TRANSITION)
    from_status = models.CharField(_("from status"), max_length=20,
                                   choices=VerificationStatus.choices)
    to_status = models.CharField(_("to status"), max_length=20,
                                 choices=VerificationStatus.choices)
    proposed_verdict = models.CharField(_("proposed verdict"), max_length=20,
                                        choices=VerificationStatus.choices, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="verification_events", verbose_name=_("actor"))
    note = models.TextField(_("note"), blank=True)
    override_reason = models.TextField(_("override reason"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("verification event")
        verbose_name_plural = _("verification events")
        ordering = ["created_at", "pk"]
        get_latest_by = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(from_status__in=VerificationStatus.values)
                           & models.Q(to_status__in=VerificationStatus.values)),
                name="verification_event_statuses_valid",
            ),
            models.CheckConstraint(
                condition=(models.Q(kind=VerificationEventKind.TRANSITION)
                           | ~models.Q(proposed_verdict="")),
                name="verification_event_proposal_names_verdict",
            ),
        ]

    def __str__(self):
        if self.kind == VerificationEventKind.PROPOSAL:
            return _("%(actor)s proposed %(verdict)s") % {
                "actor": self.actor, "verdict": self.get_proposed_verdict_display()}
        return _("%(from_status)s → %(to_status)s") % {
            "from_status": self.get_from_status_display(),
            "to_status": self.get_to_status_display()}

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError(_("Verification history is never edited."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("Verification history is never deleted."))
