"""The registry's pages."""

from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "registry"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="registry:agent_list"), name="home"),
    path("agents/", views.agent_list, name="agent_list"),
]
