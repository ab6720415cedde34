from django.conf import settings
from django.db import models
from django.utils.text import slugify

from ..enums import CaseStatus, Role, Sensitivity
from ..history import HistoricalRecords
from .base import TimeStampedModel


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self.filter(pk__in=Membership.objects.filter(user=user).values("case_id"))

    def where_role_at_least(self, user, role: Role):
        roles = [r for r in Role if r.at_least(role)]
        return self.filter(
            pk__in=Membership.objects.filter(user=user, role__in=roles).values("case_id")
        )


class Case(TimeStampedModel):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True, blank=True,
                            help_text="Used in addresses; made from the title when left empty.")
    summary = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=CaseStatus.choices,
                              default=CaseStatus.ACTIVE)
    sensitivity = models.CharField(max_length=20, choices=Sensitivity.choices,
                                   default=Sensitivity.NORMAL)
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="led_cases",
                             help_text="The reporter or editor who leads the story.")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership",
                                     through_fields=("case", "user"), related_name="cases")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", editable=False)

    # Written by database triggers only (cases/revisions.py): one more whenever an incident,
    # claim, source, citation or request for comment of the case changes. Cached page parts
    # are keyed by it (cases/fragments.py).
    content_version = models.PositiveBigIntegerField(default=0, db_default=0, editable=False)

    history = HistoricalRecords(excluded_fields=["content_version"])
    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = self._unique_slug()
        super().save(*args, **kwargs)

    def _unique_slug(self) -> str:
        base = slugify(self.title)[:70] or "case"
        slug, n = base, 2
        while Case.objects.filter(slug=slug).exclude(pk=self.pk).exists():
            slug, n = f"{base}-{n}", n + 1
        return slug

    def role_of(self, user) -> Role | None:
        return Membership.objects.role_of(user, self)


class MembershipQuerySet(models.QuerySet):
    def role_of(self, user, case) -> Role | None:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return None
        role = self.filter(user=user, case=case).values_list("role", flat=True).first()
        return Role(role) if role else None


class Membership(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER,
                            help_text="Viewers read; reporters add and edit records and "
                                      "propose verdicts; editors decide verdicts and manage "
                                      "members.")
    can_handle_sources = models.BooleanField(
        "source handler", default=False,
        help_text="May see the real identity of this case's protected sources.",
    )
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+", editable=False)
    added_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()
    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="membership_unique_user"),
        ]
        ordering = ["case", "user__username"]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} of {self.case}"
