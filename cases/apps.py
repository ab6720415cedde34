from django.apps import AppConfig


class CasesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cases"
    verbose_name = "Casedesk"

    def ready(self):
        # History rows for links a deletion clears, and the append-only guard on history
        # tables created after migration 0004 (cases/history.py).
        # identities: the receiver that tells a case's source handlers of every new grant.
        from . import history, identities, revisions, two_factor  # noqa: F401 (receivers, check)

        history.connect_signals()
        # A session's absolute lifetime starts at sign-in (config/middleware.py).
        from django.contrib.auth.signals import user_logged_in

        from config.middleware import record_sign_in

        user_logged_in.connect(record_sign_in, dispatch_uid="casedesk.session_lifetime")
        # The triggers behind Case.content_version (cases/revisions.py).
        revisions.connect_signals(self)
        # A date the database holds but Python cannot read is logged and clamped, so one bad
        # row never fails a page (cases/readback.py).
        from django.db.backends.signals import connection_created

        from . import readback

        connection_created.connect(readback.on_connection_created,
                                   dispatch_uid="cases.readback")
        readback.install_sqlite_converters()
