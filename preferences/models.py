from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def language_choices():
    """settings.LANGUAGES, read when asked: adding a language needs no migration."""
    return settings.LANGUAGES


class UserPreferences(models.Model):
    """What a user chose for their own interface, kept on the account across devices."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="preferences",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"),
        max_length=15,
        choices=language_choices,
        help_text=_("The language of the interface and of the mails this user receives."),
    )

    class Meta:
        verbose_name = _("user preferences")
        verbose_name_plural = _("user preferences")

    def __str__(self):
        return str(self.user)
