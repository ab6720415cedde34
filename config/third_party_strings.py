"""Strings other apps mark for translation but ship no Russian for, as the back office shows
them. Marked here so that `make messages` keeps them in our catalogue, which Django reads
before the apps' own (LOCALE_PATHS). Never imported: makemessages reads it as text."""

from django.utils.translation import gettext_noop, pgettext_lazy

THIRD_PARTY_STRINGS = [
    # django-allauth's two-factor app
    gettext_noop("MFA"),
    # django-axes
    gettext_noop("Locked Out"),
    gettext_noop("Access Attempt"),
    gettext_noop("Expires At"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("User Agent"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    # django-tasks-db
    gettext_noop("Task Result"),
    gettext_noop("Task Results"),
    # django-tasks: a task's status (lazy: makemessages knows no pgettext_noop)
    pgettext_lazy("Task", "Ready"),
    pgettext_lazy("Task", "Running"),
    pgettext_lazy("Task", "Successful"),
    pgettext_lazy("Task", "Failed"),
    gettext_noop("args kwargs"),
    gettext_noop("backend name"),
    gettext_noop("enqueued at"),
    gettext_noop("exception class path"),
    gettext_noop("finished at"),
    gettext_noop("priority"),
    gettext_noop("queue name"),
    gettext_noop("return value"),
    gettext_noop("run after"),
    gettext_noop("started at"),
    gettext_noop("task path"),
    gettext_noop("traceback"),
    gettext_noop("worker id"),
]
