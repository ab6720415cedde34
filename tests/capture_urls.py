"""The site's URLs with the incident captures page (cases/views/captures.py
incident_captures) in the `cases` namespace, for tests/test_capture_incidents.py until
cases/urls.py routes it (its path is the one below)."""

from django.urls import include, path

from cases import urls as cases_urls
from cases.views import captures
from config.urls import urlpatterns as site_patterns

incident_captures = path("cases/<slug:slug>/incidents/<int:pk>/captures/",
                         captures.incident_captures, name="incident_captures")

urlpatterns = [pattern for pattern in site_patterns
               if getattr(pattern, "app_name", None) != "cases"] + [
    path("", include(([*cases_urls.urlpatterns, incident_captures], "cases"))),
]
