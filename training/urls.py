"""Training: API (api/training-jobs/...) and the administrators' page (training/)."""

from django.urls import path

from training import api, views

urlpatterns = [
    path("api/training-jobs/", api.TrainingJobListApi.as_view(), name="api-training-jobs"),
    path("api/training-jobs/<int:job_id>/", api.TrainingJobDetailApi.as_view(), name="api-training-job"),
    path("training/", views.training_page, name="training"),
]
