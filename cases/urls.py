from django.urls import path

from .views import cases, claims, dashboard, evidence, health, workspace

app_name = "cases"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("", dashboard.dashboard, name="dashboard"),
    path("cases/", cases.case_list, name="case_list"),
    path("cases/new/", cases.case_create, name="case_create"),
    path("cases/<slug:slug>/", cases.case_overview, name="case_overview"),
    path("cases/<slug:slug>/timeline/", workspace.timeline, name="timeline"),
    path("cases/<slug:slug>/claims/", workspace.claims_board, name="claims_board"),
    path("cases/<slug:slug>/claims/<int:pk>/", claims.claim_detail, name="claim_detail"),
    path("cases/<slug:slug>/claims/<int:pk>/transition/", claims.claim_transition,
         name="claim_transition"),
    path("cases/<slug:slug>/claims/<int:pk>/propose/", claims.claim_propose,
         name="claim_propose"),
    path("cases/<slug:slug>/sources/", workspace.source_list, name="source_list"),
    path("cases/<slug:slug>/evidence/", workspace.evidence_list, name="evidence_list"),
    path("cases/<slug:slug>/evidence/<int:pk>/download/", evidence.evidence_download,
         name="evidence_download"),
    path("cases/<slug:slug>/tasks/", workspace.task_list, name="task_list"),
    path("cases/<slug:slug>/activity/", workspace.activity, name="activity"),
    path("review/", claims.review_queue, name="review_queue"),
]
