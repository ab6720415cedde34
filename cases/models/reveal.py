from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .base import AppendOnlyQuerySet


class RevealChannel(models.TextChoices):
    SOURCE_PAGE = "source_page", pgettext_lazy("reveal channel", "source page")
    ADMIN_SOURCE = "admin_source", pgettext_lazy("reveal channel", "admin: source page")
    ADMIN_IDENTITY = "admin_identity", pgettext_lazy("reveal channel", "admin: identity page")
    ADMIN_LIST = "admin_list", pgettext_lazy("reveal channel", "admin: identity list")
    ADMIN_HISTORY = "admin_history", pgettext_lazy("reveal channel", "admin: identity history")
    # An administrator who is not a source handler, with the reason they gave.
    ADMIN_REVEAL = "admin_reveal", pgettext_lazy("reveal channel", "admin: audited reveal")


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
                             related_name="identity_reveals", verbose_name=_("case"))
    source = models.ForeignKey("cases.Source", null=True, on_delete=models.SET_NULL,
                               related_name="identity_reveals", verbose_name=_("source"))
    source_name = models.CharField(_("source (codename)"), max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="identity_reveals", verbose_name=_("user"))
    channel = models.CharField(_("where"), max_length=20, choices=RevealChannel.choices)
    revealed_at = models.DateTimeField(_("revealed at"), auto_now_add=True, db_index=True)
    # Why an administrator who is not a handler asked to see it (empty for a handler's own
    # pages, where being a handler is the reason).
    reason = models.TextField(_("reason"), blank=True)

    objects = IdentityRevealQuerySet.as_manager()

    class Meta:
        verbose_name = _("identity reveal")
        verbose_name_plural = _("identity reveals")
        ordering = ["-revealed_at", "-pk"]
        get_latest_by = ["revealed_at", "pk"]

    def __str__(self):
        return _("%(user)s saw the identity of %(source)s") % {"user": self.user,
                                                               "source": self.source_name}

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError(_("The identity reveal log is never edited."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("The identity reveal log is never deleted."))
