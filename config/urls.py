from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

# The admin signs in through the site's sign-in, with its two-factor step, never through a
# password-only form of its own.
admin.site.login = secure_admin_login(admin.site.login)

# Only the allauth account pages Casedesk uses. Left out on purpose: sign-up (accounts are
# created by admins), e-mail management and every e-mail flow, password reset by e-mail (a
# reset link in a mailbox is a phishing lure; an admin resets passwords: README).
account_patterns = [
    path("login/", account_views.login, name="account_login"),
    path("logout/", account_views.logout, name="account_logout"),
    path("inactive/", account_views.account_inactive, name="account_inactive"),
    path("reauthenticate/", account_views.reauthenticate, name="account_reauthenticate"),
    path("password/change/", account_views.password_change, name="account_change_password"),
    path("2fa/", include("allauth.mfa.urls")),
    path("", include("preferences.urls")),
]

urlpatterns = [
    path("accounts/", include(account_patterns)),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("cases.urls")),
]
