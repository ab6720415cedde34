from django.apps import AppConfig


class CaptureConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "capture"
    verbose_name = "Web captures"
