"""The registry's pages."""

from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "registry"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="registry:agent_list"), name="home"),
    path("agents/", views.agent_list, name="agent_list"),
    # Before agents/<key>/: "new" is the editor of a new agent, never an agent's key.
    path("agents/new/", views.agent_new, name="agent_new"),
    path("agents/<slug:key>/edit/", views.agent_edit, name="agent_edit"),
    path("agents/<slug:key>/", views.agent_detail, name="agent_detail"),
    path("agents/<slug:key>/download/", views.agent_download, name="agent_download"),
]
