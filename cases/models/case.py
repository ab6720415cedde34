import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from ..enums import CaseStatus, Role, Sensitivity
from ..history import HistoricalRecords
from .base import TimeStampedModel


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.where_role_at_least(user, Role.VIEWER)

    def where_role_at_least(self, user, role: Role):
        from ..access import member_case_ids  # cases.access imports the models

        ids = member_case_ids(user, min_role=role)
        return self.none() if ids is None else self.filter(pk__in=ids)


# The random ending of a case's address: no 0/1/i/l/o, which read alike.
SLUG_TAIL_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
SLUG_TAIL_LENGTH = 5
# Who may lead a case: someone who writes in it. A viewer reads only.
LEAD_ROLES = (Role.REPORTER, Role.EDITOR)
LEAD_NOT_ELIGIBLE = "lead_not_eligible"
LEAD_NOT_ELIGIBLE_MESSAGE = _(
    "Choose the lead among this case's reporters and editors. A case being opened has one "
    "member, whoever opens it: add the team, then choose the lead."
)


class Case(TimeStampedModel):
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True, blank=True,
                            help_text=_("Used in addresses: made from the title with a random "
                                        "ending when the case is opened."))
    summary = models.TextField(_("summary"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=CaseStatus.choices,
                              default=CaseStatus.ACTIVE)
    sensitivity = models.CharField(_("sensitivity"), max_length=20, choices=Sensitivity.choices,
                                   default=Sensitivity.NORMAL)
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="led_cases",
                             verbose_name=_("lead"),
                             help_text=_("The reporter or editor who leads the story."))
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership",
                                     through_fields=("case", "user"), related_name="cases",
                                     verbose_name=_("members"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", editable=False,
                                   verbose_name=_("created by"))

    # Written by database triggers only (cases/revisions.py): one more whenever an incident,
    # claim, source, citation or request for comment of the case changes. Cached page parts
    # are keyed by it (cases/fragments.py).
    content_version = models.PositiveBigIntegerField(_("content version"), default=0,
                                                     db_default=0, editable=False)

    history = HistoricalRecords(excluded_fields=["content_version"])
    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-updated_at"]
        permissions = [("open_case", "Can open a case (and become its editor)")]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = self._unique_slug()
        super().save(*args, **kwargs)

    def _unique_slug(self) -> str:
        """The title's words and a random ending, always: an address that depended on other
        cases' addresses ("-2" when the title's is taken) would tell whoever opens a case
        that a case they cannot see exists. A taken address is drawn again, unseen."""
        base = slugify(self.title)[:70].strip("-") or "case"
        while True:
            tail = "".join(secrets.choice(SLUG_TAIL_ALPHABET)
                           for _position in range(SLUG_TAIL_LENGTH))
            slug = f"{base}-{tail}"
            if not Case.objects.filter(slug=slug).exclude(pk=self.pk).exists():
                return slug

    def lead_candidates(self):
        """Who may lead this case: its reporters and editors (and its lead as it is saved,
        so that an unchanged form saves). A case being opened has no members yet: only
        whoever opens it (`created_by`)."""
        users = get_user_model().objects.all()
        if self.pk is None:
            return users.filter(pk=self.created_by_id) if self.created_by_id else users.none()
        writers = Membership.objects.filter(case=self, role__in=LEAD_ROLES, user__is_active=True)
        saved_lead = Case.objects.filter(pk=self.pk).values("lead_id")
        return users.filter(models.Q(pk__in=writers.values("user_id"))
                            | models.Q(pk__in=saved_lead))

    def clean(self):
        super().clean()
        if self.lead_id is not None and not self.lead_candidates().filter(
                pk=self.lead_id).exists():
            raise ValidationError({"lead": ValidationError(LEAD_NOT_ELIGIBLE_MESSAGE,
                                                           code=LEAD_NOT_ELIGIBLE)})

    def role_of(self, user) -> Role | None:
        return Membership.objects.role_of(user, self)


class MembershipQuerySet(models.QuerySet):
    def role_of(self, user, case) -> Role | None:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return None
        role = self.filter(user=user, case=case).values_list("role", flat=True).first()
        return Role(role) if role else None


class Membership(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="memberships",
                             verbose_name=_("case"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships", verbose_name=_("user"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.VIEWER,
                            help_text=_("Viewers read; reporters add and edit records and "
                                        "propose verdicts; editors decide verdicts and manage "
                                        "members."))
    can_handle_sources = models.BooleanField(
        _("source handler"), default=False,
        help_text=_("May see the real identity of this case's protected sources."),
    )
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+", editable=False,
                                 verbose_name=_("added by"))
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="membership_unique_user"),
        ]
        ordering = ["case", "user__username"]

    def __str__(self):
        return _("%(user)s – %(role)s of %(case)s") % {
            "user": self.user, "role": self.get_role_display(), "case": self.case}
