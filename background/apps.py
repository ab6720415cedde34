from django.apps import AppConfig


class BackgroundConfig(AppConfig):
    name = "background"
    verbose_name = "Background work"

    def ready(self):
        from django.db.models.signals import pre_save
        from django_tasks_db.models import DBTaskResult

        from .retries import retry_instead_of_failing

        pre_save.connect(retry_instead_of_failing, sender=DBTaskResult,
                         dispatch_uid="background.retry")
