from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from ..enums import CommentChannel, CommentOutcome, TaskState
from ..history import HistoricalRecords
from ..timebounds import validate_date_in_range, validate_datetime_in_range
from .base import AuthoredModel, CaseDataQuerySet, same_case_errors


class TaskQuerySet(CaseDataQuerySet):
    def open(self):
        return self.filter(state=TaskState.OPEN)

    def overdue(self, today=None):
        return self.open().filter(due_on__lt=today or timezone.localdate())

    def assigned_to(self, user):
        return self.filter(assignee=user)


class Task(AuthoredModel):
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="tasks",
                             verbose_name=_("case"))
    claim = models.ForeignKey("cases.Claim", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="tasks", verbose_name=_("claim"))
    incident = models.ForeignKey("cases.Incident", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="tasks",
                                 verbose_name=_("incident"))
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="tasks",
                                 verbose_name=_("assignee"))
    due_on = models.DateField(_("due on"), null=True, blank=True,
                              validators=[validate_date_in_range])
    state = models.CharField(_("state"), max_length=20, choices=TaskState.choices,
                             default=TaskState.OPEN)

    history = HistoricalRecords()
    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = [models.F("due_on").asc(nulls_last=True), "pk"]

    def __str__(self):
        return self.title

    @property
    def is_overdue(self) -> bool:
        return (self.state == TaskState.OPEN and self.due_on is not None
                and self.due_on < timezone.localdate())

    def clean(self):
        errors = same_case_errors(self.case_id, claim=self.claim, incident=self.incident)
        if self.assignee_id and self.case_id and not self.case.memberships.filter(
                user_id=self.assignee_id).exists():
            errors["assignee"] = ValidationError(_("Assign the task to a member of this case."),
                                                 code="assignee_not_member")
        if errors:
            raise ValidationError(errors)


class CommentRequestQuerySet(CaseDataQuerySet):
    def past_deadline(self, now=None):
        return self.filter(outcome=CommentOutcome.PENDING,
                           deadline__lt=now or timezone.now())


class CommentRequest(AuthoredModel):
    """Right of reply: who we asked for comment, how, by when, and what came of it."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE,
                             related_name="comment_requests", verbose_name=_("case"))
    incident = models.ForeignKey("cases.Incident", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="comment_requests",
                                 verbose_name=_("incident"))
    party_source = models.ForeignKey("cases.Source", null=True, blank=True,
                                     on_delete=models.RESTRICT, related_name="comment_requests",
                                     verbose_name=_("party (a source of the case)"))
    party_name = models.CharField(_("party (anyone else)"), max_length=200, blank=True)
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("asked by"))
    asked_at = models.DateTimeField(_("asked at"), default=timezone.now,
                                    validators=[validate_datetime_in_range])
    channel = models.CharField(_("channel"), max_length=20, choices=CommentChannel.choices,
                               default=CommentChannel.EMAIL)
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True,
                                    validators=[validate_datetime_in_range])
    outcome = models.CharField(_("outcome"), max_length=20, choices=CommentOutcome.choices,
                               default=CommentOutcome.PENDING)
    reply_summary = models.TextField(_("reply summary"), blank=True)

    history = HistoricalRecords()
    objects = CommentRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("comment request")
        verbose_name_plural = _("comment requests")
        ordering = ["asked_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(party_source__isnull=True, party_name=""),
                name="comment_request_has_party",
            ),
        ]

    def __str__(self):
        return _("%(party)s: %(summary)s") % {"party": self.party, "summary": self.summary}

    @property
    def party(self) -> str:
        return str(self.party_source) if self.party_source_id else self.party_name

    @property
    def is_overdue(self) -> bool:
        return (self.outcome == CommentOutcome.PENDING and self.deadline is not None
                and self.deadline < timezone.now())

    @property
    def summary(self) -> str:
        """'asked 12 May 2025, no answer by the deadline' – the request in one line, in the
        active language."""
        # Translators: a Django date format (see the "date" template filter): "j M Y" gives
        # "12 May 2025", "j E Y" gives the month as with a day ("12 мая 2025").
        date_format = pgettext("date format of a request for comment", "j M Y")
        asked = formats.date_format(timezone.localtime(self.asked_at), date_format)
        if self.outcome == CommentOutcome.PENDING:
            if self.is_overdue:
                return pgettext("request for comment", "asked %(date)s, deadline passed") % {
                    "date": asked}
            return pgettext("request for comment", "asked %(date)s, awaiting reply") % {
                "date": asked}
        return pgettext("request for comment", "asked %(date)s, %(outcome)s") % {
            "date": asked, "outcome": self.get_outcome_display().lower()}

    def clean(self):
        errors = same_case_errors(self.case_id, incident=self.incident,
                                  party_source=self.party_source)
        if not self.party_source_id and not self.party_name.strip():
            errors["party_name"] = ValidationError(
                _("Say who was asked: pick a source or type a name."), code="party_missing")
        if self.deadline and self.asked_at and self.deadline < self.asked_at:
            errors["deadline"] = ValidationError(
                _("The deadline is before the request was made."),
                code="deadline_before_asked")
        if self.outcome == CommentOutcome.REPLIED and not self.reply_summary.strip():
            errors["reply_summary"] = ValidationError(_("Summarise the reply."),
                                                      code="reply_summary_missing")
        if errors:
            raise ValidationError(errors)
