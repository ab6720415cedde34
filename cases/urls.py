from django.urls import path

from .views import cases, claims, dashboard, evidence, health, records, reveals, workspace
from .views import search as search_views
from .views import transfer

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
    path("cases/<slug:slug>/sources/reveals/", reveals.identity_reveals, name="identity_reveals"),
    path("cases/<slug:slug>/evidence/", workspace.evidence_list, name="evidence_list"),
    path("cases/<slug:slug>/evidence/<int:pk>/download/", evidence.evidence_download,
         name="evidence_download"),
    path("cases/<slug:slug>/tasks/", workspace.task_list, name="task_list"),
    path("cases/<slug:slug>/activity/", workspace.activity, name="activity"),
    # The workspace's create and edit forms (cases/views/records.py).
    path("cases/<slug:slug>/edit/", records.CaseEditView.as_view(), name="case_edit"),
    path("cases/<slug:slug>/members/", records.MemberListView.as_view(), name="member_list"),
    path("cases/<slug:slug>/members/<int:pk>/edit/", records.MemberEditView.as_view(),
         name="member_edit"),
    path("cases/<slug:slug>/members/<int:pk>/remove/", records.MemberRemoveView.as_view(),
         name="member_remove"),
    path("cases/<slug:slug>/incidents/new/", records.IncidentFormView.as_view(),
         name="incident_create"),
    path("cases/<slug:slug>/incidents/<int:pk>/edit/", records.IncidentFormView.as_view(),
         name="incident_edit"),
    path("cases/<slug:slug>/sources/new/", records.SourceFormView.as_view(),
         name="source_create"),
    path("cases/<slug:slug>/sources/<int:pk>/edit/", records.SourceFormView.as_view(),
         name="source_edit"),
    path("cases/<slug:slug>/claims/new/", records.ClaimFormView.as_view(), name="claim_create"),
    path("cases/<slug:slug>/claims/<int:pk>/edit/", records.ClaimFormView.as_view(),
         name="claim_edit"),
    path("cases/<slug:slug>/evidence/new/", records.EvidenceFormView.as_view(),
         name="evidence_create"),
    path("cases/<slug:slug>/tasks/new/", records.TaskFormView.as_view(), name="task_create"),
    path("cases/<slug:slug>/tasks/<int:pk>/edit/", records.TaskFormView.as_view(),
         name="task_edit"),
    path("cases/<slug:slug>/comment-requests/new/", records.CommentRequestFormView.as_view(),
         name="commentrequest_create"),
    path("cases/<slug:slug>/comment-requests/<int:pk>/edit/",
         records.CommentRequestFormView.as_view(), name="commentrequest_edit"),
    # Import and export (cases/views/transfer.py).
    path("cases/<slug:slug>/export/", transfer.export_case, name="export_case"),
    path("cases/<slug:slug>/import/", transfer.import_upload, name="import_upload"),
    path("cases/<slug:slug>/import/confirm/", transfer.import_confirm, name="import_confirm"),
    path("review/", claims.review_queue, name="review_queue"),
    path("search/", search_views.search_page, name="search"),
]
