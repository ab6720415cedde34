"""API tokens: who holds each, who made it, when it stops working.

A token is a random key shown once, when it is made; the database keeps its SHA-256 only (and
its first characters, to tell tokens apart in the back office), so a leaked database or
backup hands over no working key. The key has 256 random bits, so a plain, unsalted hash is
enough: nothing can be guessed from it. Every token expires (`API_TOKEN_LIFETIME_DAYS` after
it was made) and records who made it; api/tokens.py says who may.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

KEY_BYTES = 32
PREFIX_LENGTH = 8


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class ApiTokenManager(models.Manager):
    def issue(self, user, *, created_by, key: str | None = None) -> tuple["ApiToken", str]:
        """A new token for `user`, made by `created_by`, and its key (the only time it is
        known). `key` is for fixtures that must recreate a known key; otherwise random."""
        token = self.model(user=user, created_by=created_by)
        key = token.assign_key(key)
        token.save()
        return token, key


class ApiToken(models.Model):
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("key starts with"), max_length=PREFIX_LENGTH, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens", verbose_name=_("for"),
                             limit_choices_to={"is_active": True})
    # Whoever made someone else's token stays on record: deactivate, don't delete, them.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.RESTRICT,
                                   related_name="+", editable=False,
                                   verbose_name=_("made by"))
    created_at = models.DateTimeField(_("made"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"), editable=False)

    objects = ApiTokenManager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    def assign_key(self, key: str | None = None) -> str:
        """Give this (unsaved) token a new key, its lifetime from now, and return the key."""
        key = key or secrets.token_hex(KEY_BYTES)
        self.digest, self.prefix = digest_of(key), key[:PREFIX_LENGTH]
        self.created_at = timezone.now()
        self.expires_at = self.created_at + timedelta(days=settings.API_TOKEN_LIFETIME_DAYS)
        return key

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()
