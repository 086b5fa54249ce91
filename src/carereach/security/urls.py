from django.urls import path

from carereach.security import views

app_name = "security"

urlpatterns = [
    path("audit/", views.audit_view, name="audit"),
]
