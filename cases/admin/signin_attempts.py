"""django-axes' failed sign-in attempts in the back office, with a clean-up action that works.

axes' own "Clean up expired attempts" reads `request.axes_attempt_time`, which only a sign-in
request carries (axes' middleware sets it there), so in the admin it raised AttributeError, a
500. The action here deletes what has expired by the settings' cool-off: an attempt older
than AXES_COOLOFF_TIME no longer counts towards a lockout.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


def expired_attempts():
    """Attempts that no longer count towards a lockout; none when lockouts never expire."""
    if settings.AXES_COOLOFF_TIME is None:
        return AccessAttempt.objects.none()
    return AccessAttempt.objects.filter(
        attempt_time__lte=timezone.now() - settings.AXES_COOLOFF_TIME)


class SignInAttemptAdmin(AccessAttemptAdmin):
    actions = ["cleanup_expired_attempts"]

    @admin.action(description=_("Clean up expired attempts"))
    def cleanup_expired_attempts(self, request, queryset):
        if settings.AXES_COOLOFF_TIME is None:
            self.message_user(request, _("Lockouts here never expire (AXES_COOLOFF_MINUTES is "
                                         "0): delete the attempts to lift them."),
                              messages.WARNING)
            return
        count, _deleted = expired_attempts().delete()
        self.message_user(request, ngettext("Deleted %(count)d expired sign-in attempt.",
                                            "Deleted %(count)d expired sign-in attempts.",
                                            count) % {"count": count})


admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, SignInAttemptAdmin)
