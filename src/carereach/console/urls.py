from django.urls import path

from carereach.console import simulator, views

app_name = "console"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("signin/", views.login_view, name="login"),
    path("signout/", views.logout_view, name="logout"),
    path("account/api-keys/", views.apikeys_view, name="apikeys"),
    path("simulator/", simulator.simulator_view, name="simulator"),
]
