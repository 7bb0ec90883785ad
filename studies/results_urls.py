"""Study results: dashboard page (studies/<id>/results/) and API (api/studies/<id>/results/...)."""

from django.urls import path

from studies.results import api, views

urlpatterns = [
    path("studies/<int:study_id>/results/", views.study_results_page, name="study-results"),
    path("api/studies/<int:study_id>/results/", api.StudyResultsApi.as_view(), name="api-study-results"),
    path("api/studies/<int:study_id>/results/json", api.StudyResultsJsonExportApi.as_view(),
         name="api-study-results-json"),
    path("api/studies/<int:study_id>/results/reads.csv", api.StudyReadsCsvExportApi.as_view(),
         name="api-study-results-reads"),
    path("api/studies/<int:study_id>/results/statistics.csv", api.StudyStatisticsCsvExportApi.as_view(),
         name="api-study-results-statistics"),
    path("api/studies/<int:study_id>/results/study.imrmc", api.StudyImrmcExportApi.as_view(),
         name="api-study-results-imrmc"),
    path("api/studies/<int:study_id>/results/masks.zip", api.StudyMasksZipExportApi.as_view(),
         name="api-study-results-masks"),
]
