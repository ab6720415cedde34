from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from . import views
from .search import SearchView

app_name = "api"


class Router(DefaultRouter):
    include_root_view = False  # the schema and its docs page describe the API


router = Router()
router.register("cases", views.CaseViewSet, basename="case")
router.register("incident-types", views.IncidentTypeViewSet, basename="incidenttype")
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("sources", views.SourceViewSet, basename="source")
router.register("claims", views.ClaimViewSet, basename="claim")
router.register("citations", views.CitationViewSet, basename="citation")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("comment-requests", views.CommentRequestViewSet, basename="commentrequest")
router.register("evidence", views.EvidenceViewSet, basename="evidence")
router.register("captures", views.CaptureViewSet, basename="capture")
router.register("case-links", views.CaseLinkViewSet, basename="caselink")
router.register("incident-links", views.IncidentLinkViewSet, basename="incidentlink")

urlpatterns = [
    path("v1/search/", SearchView.as_view(), name="search"),
    path("v1/", include(router.urls)),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.DocsView.as_view(), name="docs"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
