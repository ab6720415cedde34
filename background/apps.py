from django.apps import AppConfig


class BackgroundConfig(AppConfig):
    name = "background"
    verbose_name = "Background work"

    def ready(self):
        from django.db.models.signals import pre_save
        from django_tasks_db.models import DBTaskResult

        from .retries import record_failed_attempt

        pre_save.connect(record_failed_attempt, sender=DBTaskResult,
                         dispatch_uid="background.retry")
