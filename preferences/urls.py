from django.urls import path

from preferences import views

# Under accounts/ and named account_*: the switcher works on the sign-in page and while an
# editor's session still waits for its second factor (cases/two_factor.py lets account
# pages through).
urlpatterns = [
    path("language/", views.switch_language, name="account_language"),
]
