from django.apps import AppConfig


class CasesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cases"
    verbose_name = "Casedesk"

    def ready(self):
        # History rows for links a deletion clears, and the append-only guard on history
        # tables created after migration 0004 (cases/history.py).
        from . import history, two_factor  # noqa: F401 (its receiver and system check)

        history.connect_signals()
