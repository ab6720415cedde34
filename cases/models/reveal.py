from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from .base import AppendOnlyQuerySet


class RevealChannel(models.TextChoices):
    SOURCE_PAGE = "source_page", "source page"
    ADMIN_SOURCE = "admin_source", "admin: source page"
    ADMIN_IDENTITY = "admin_identity", "admin: identity page"
    ADMIN_LIST = "admin_list", "admin: identity list"
    ADMIN_HISTORY = "admin_history", "admin: identity history"
    # An administrator who is not a source handler, with the reason they gave.
    ADMIN_REVEAL = "admin_reveal", "admin: audited reveal"


class IdentityRevealQuerySet(AppendOnlyQuerySet):
    def of_case(self, case):
        return self.filter(case=case)

    def record(self, user, sources, channel: RevealChannel) -> list["IdentityReveal"]:
        """Log that `user` was just shown the identities of `sources` through `channel`."""
        return self.bulk_create([
            IdentityReveal(case_id=source.case_id, source=source, source_name=source.name,
                           user=user, channel=channel)
            for source in sources
        ])


class IdentityReveal(models.Model):
    """One showing of a protected source's identity to one person: who, when, which source,
    through which page. Written by the pages that show identities, read by the case's
    editors, never changed. The codename is kept, so the entry still reads after the
    source is deleted."""

    # PROTECT: the reveal log is never deleted, not even with its case (see cases/history.py).
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT,
                             related_name="identity_reveals")
    source = models.ForeignKey("cases.Source", null=True, on_delete=models.SET_NULL,
                               related_name="identity_reveals")
    source_name = models.CharField("source (codename)", max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="identity_reveals")
    channel = models.CharField("where", max_length=20, choices=RevealChannel.choices)
    revealed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Why an administrator who is not a handler asked to see it (empty for a handler's own
    # pages, where being a handler is the reason).
    reason = models.TextField(blank=True)

    objects = IdentityRevealQuerySet.as_manager()

    class Meta:
        ordering = ["-revealed_at", "-pk"]
        get_latest_by = ["revealed_at", "pk"]

    def __str__(self):
        return f"{self.user} saw the identity of {self.source_name}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("The identity reveal log is never edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("The identity reveal log is never deleted.")
