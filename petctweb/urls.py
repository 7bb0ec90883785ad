from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="frontend/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("portal.urls")),
    path("", include("training.urls")),
    path("", include("frontend.urls")),
]

# JSON for /api/ URLs, the plain templates for pages (petctweb/api_errors.py)
handler404 = "petctweb.api_errors.page_not_found"
handler500 = "petctweb.api_errors.server_error"
