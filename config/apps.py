"""Other apps' configurations with names a reader of the back office can read in their
language: their own names are plain English strings, which no catalogue can translate."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _
from django_tasks_db.apps import TasksAppConfig


class SignInAttemptsConfig(AxesAppConfig):
    verbose_name = _("Sign-in attempts")


class BackgroundTaskResultsConfig(TasksAppConfig):
    verbose_name = _("Background tasks")
