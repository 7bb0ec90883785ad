from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cases.api import CaseDetailApi, CaseListApi, CaseUploadApi, CaseVolumeApi
from inference.api import InferenceRequestApi, InferenceRunApi, ModelVersionListApi, ResultExportApi
from inference.segmentation_api import DraftApi, SegmentationListApi, SegmentationMaskApi

api = [
    path("cases/", CaseListApi.as_view(), name="api-case-list"),
    path("cases/upload/", CaseUploadApi.as_view(), name="api-case-upload"),
    path("cases/<str:code>/", CaseDetailApi.as_view(), name="api-case-detail"),
    path("cases/<str:code>/volumes/<str:kind>/", CaseVolumeApi.as_view(), name="api-case-volume"),
    path("cases/<str:code>/segmentations/", SegmentationListApi.as_view(), name="api-segmentations"),
    path("cases/<str:code>/segmentations/draft/", DraftApi.as_view(), name="api-segmentation-draft"),
    path("cases/<str:code>/segmentations/<int:segmentation_id>/mask/", SegmentationMaskApi.as_view(),
         name="api-segmentation-mask"),
    path("cases/<str:code>/inference/", InferenceRequestApi.as_view(), name="api-case-inference"),
    path("cases/<str:code>/results/<str:fmt>/", ResultExportApi.as_view(), name="api-case-result"),
    path("inference-runs/<int:run_id>/", InferenceRunApi.as_view(), name="api-inference-run"),
    path("models/", ModelVersionListApi.as_view(), name="api-model-list"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="frontend/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include(api)),
    path("", include("studies.urls")),
    path("", include("studies.results_urls")),
    path("", include("training.urls")),
    path("", include("frontend.urls")),
]
