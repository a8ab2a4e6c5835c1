"""The registry's pages."""

from django.urls import path
from django.views.generic import RedirectView

from registry.views import (
    agents,
    audit,
    change_sets,
    changes,
    compliance,
    drift,
    editor,
    graph,
    repository,
    rules,
    transfer,
)

app_name = "registry"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="registry:agent_list"), name="home"),
    path("agents/", agents.agent_list, name="agent_list"),
    # Before agents/<key>/: "new" is the editor of a new agent, never an agent's key.
    path("agents/new/", editor.agent_new, name="agent_new"),
    path("agents/add-sections/", change_sets.agent_add_sections, name="agent_add_sections"),
    path("agents/<slug:key>/edit/", editor.agent_edit, name="agent_edit"),
    path("agents/<slug:key>/", agents.agent_detail, name="agent_detail"),
    path("agents/<slug:key>/download/", agents.agent_download, name="agent_download"),
    path("agents/<slug:key>/history/", agents.agent_history, name="agent_history"),
    path("agents/<slug:key>/compare/", agents.agent_compare, name="agent_compare"),
    path(
        "agents/<slug:key>/versions/<int:number>/restore/",
        agents.agent_restore,
        name="agent_restore",
    ),
    path("agents/<slug:key>/archive/", agents.agent_archive, name="agent_archive"),
    path("agents/<slug:key>/rename/", change_sets.agent_rename, name="agent_rename"),
    path("changes/", changes.change_queue, name="change_queue"),
    path("changes/<int:pk>/", changes.change_detail, name="change_detail"),
    path(
        "changes/<int:pk>/agents/<int:item_pk>/edit/",
        change_sets.change_item_edit,
        name="change_item_edit",
    ),
    path(
        "changes/<int:pk>/comments/<int:comment_pk>/resolve/",
        changes.comment_resolve,
        name="comment_resolve",
    ),
    path("changes/<int:pk>/<slug:action>/", changes.change_action, name="change_action"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("drift/", drift.drift_page, name="drift"),
    path("drift/import/", drift.drift_import, name="drift_import"),
    path("import/", transfer.import_upload, name="import_upload"),
    path("import/jobs/<int:pk>/", transfer.import_job, name="import_job"),
    path("export.zip", transfer.export_download, name="export_download"),
    path("graph/", graph.graph_page, name="graph"),
    path("compliance/", compliance.compliance, name="compliance"),
    path("rules/", rules.rule_list, name="rules"),
    path("rules/<slug:code>/", rules.rule_detail, name="rule"),
    path("repository/", repository.repository_page, name="repository"),
    path("repository/push/", repository.repository_push_now, name="repository_push_now"),
    path(
        "repository/accept-history/",
        repository.repository_accept_history,
        name="repository_accept_history",
    ),
    path("tasks/", repository.tasks_page, name="tasks"),
    path("tasks/recheck/", repository.tasks_recheck, name="tasks_recheck"),
    path("tasks/<uuid:pk>/retry/", repository.task_retry, name="task_retry"),
]
