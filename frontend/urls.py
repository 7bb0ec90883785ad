from django.urls import path

from frontend import views

urlpatterns = [
    path("", views.case_list_page, name="case-list"),
    path("upload/", views.upload_page, name="upload"),
    path("cases/<str:code>/", views.case_page, name="case-page"),
]
