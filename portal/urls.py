"""Reader studies: API (api/studies/..., api/cases/<code>/reads/...) and pages (studies/...)."""

from django.urls import path

from studies import api, views

api_patterns = [
    path("api/cases/<str:code>/reads/", api.CaseReadListApi.as_view(), name="api-case-reads"),
    path("api/cases/<str:code>/reads/<int:read_id>/", api.CaseReadDetailApi.as_view(), name="api-case-read"),
    path("api/cases/<str:code>/reads/<int:read_id>/amend/", api.CaseReadAmendApi.as_view(),
         name="api-case-read-amend"),
    path("api/studies/", api.StudyListApi.as_view(), name="api-study-list"),
    path("api/studies/mine/", api.MyStudiesApi.as_view(), name="api-study-mine"),
    path("api/studies/audit/", api.AuditListApi.as_view(), name="api-audit-list"),
    path("api/studies/audit/export/", api.AuditExportApi.as_view(), name="api-audit-export"),
    path("api/studies/ground-truth/", api.GroundTruthOverviewApi.as_view(), name="api-gt-overview"),
    path("api/studies/ground-truth/<str:code>/", api.GroundTruthCaseApi.as_view(), name="api-gt-case"),
    path("api/studies/ground-truth/<str:code>/<int:ground_truth_id>/", api.GroundTruthVersionApi.as_view(),
         name="api-gt-version"),
    path("api/studies/ground-truth/<str:code>/<int:ground_truth_id>/sign-off/", api.GroundTruthSignOffApi.as_view(),
         name="api-gt-sign-off"),
    path("api/studies/<int:study_id>/", api.StudyDetailApi.as_view(), name="api-study-detail"),
    path("api/studies/<int:study_id>/cases/", api.StudyAddCasesApi.as_view(), name="api-study-cases"),
    path("api/studies/<int:study_id>/readers/", api.StudyAddReadersApi.as_view(), name="api-study-readers"),
    path("api/studies/<int:study_id>/close/", api.StudyCloseApi.as_view(), name="api-study-close"),
    path("api/studies/<int:study_id>/sessions/<int:session_id>/schedule/", api.SessionScheduleApi.as_view(),
         name="api-session-schedule"),
    path("api/studies/<int:study_id>/worklist/", api.WorklistApi.as_view(), name="api-study-worklist"),
    path("api/studies/<int:study_id>/reads/export/", api.StudyReadsExportApi.as_view(), name="api-study-reads-export"),
    path("api/studies/<int:study_id>/ground-truth/import/", api.StudyGroundTruthImportApi.as_view(),
         name="api-study-gt-import"),
]

page_patterns = [
    path("studies/", views.studies_home, name="study-home"),
    path("studies/new/", views.study_create_page, name="study-create"),
    path("studies/audit/", views.audit_page, name="audit-log"),
    path("studies/ground-truth/", views.ground_truth_list_page, name="gt-list"),
    path("studies/ground-truth/<str:code>/", views.ground_truth_case_page, name="gt-case"),
    path("studies/<int:study_id>/", views.study_detail_page, name="study-detail"),
    path("studies/<int:study_id>/action/", views.study_action, name="study-action"),
    path("studies/<int:study_id>/worklist/", views.worklist_page, name="study-worklist"),
    path("studies/<int:study_id>/next/", views.worklist_next, name="study-next"),
    path("studies/<int:study_id>/read/<str:code>/", views.study_read, name="study-read"),
]

urlpatterns = api_patterns + page_patterns
