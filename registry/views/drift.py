"""The drift page: the repository checkout compared with the registry, and imports from it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from registry.agentfiles.document import AgentDocument
from registry.models import Agent, AuditEvent, ChangeRequest, text_hash
from registry.sync.drift import (
    DriftReport,
    compare,
    import_message,
    read_file,
    repository_root,
)
from registry.sync.files import (
    UnsafePath,
    target_path,
)


def _require_maintainer(request, action: str) -> None:
    """Refuse (403) anyone but a maintainer, recording the attempt in the audit log."""
    if not request.user.has_perm("registry.maintain_registry"):
        reason = "only maintainers can compare with and import from the repository"
        AuditEvent.record(f"{action}.denied", actor=request.user, request=request, reason=reason)
        raise PermissionDenied(reason)


@require_GET
def drift_page(request):
    _require_maintainer(request, "drift.view")
    root, problem = repository_root()
    report = compare(root) if root else DriftReport(folder="", problem=problem)
    return render(request, "registry/drift.html", {"report": report})


@require_POST
def drift_import(request):
    """Propose a repository file's text as a change request (a draft by this maintainer): an
    edit of the agent at its path, or a new agent. Nothing is overwritten here."""
    _require_maintainer(request, "drift.import")
    back = redirect("registry:drift")
    root, problem = repository_root()
    if root is None:
        messages.error(request, problem)
        return back
    path = request.POST.get("path", "")
    try:
        target = target_path(root, path)
    except UnsafePath as error:
        messages.error(request, f"Not imported: {error}.")
        return back
    if target.is_symlink() or not target.is_file():
        messages.error(request, f"Not imported: there is no file {path} in the repository.")
        return back
    file = read_file(target)
    if file.reason:
        messages.error(request, f"Not imported: {path}: {file.reason}.")
        return back
    if text_hash(file.text) != request.POST.get("sha256", ""):
        messages.error(
            request,
            f"Not imported: {path} changed in the repository since the page was shown. "
            "Look at it again below.",
        )
        return back
    agent = Agent.objects.select_related("live_version").filter(path=path).first()
    if agent is not None and agent.archived:
        messages.error(request, f"Not imported: the agent at {path} is archived.")
        return back
    existing = ChangeRequest.objects.active().filter(text_hash=text_hash(file.text)).first()
    if existing is not None:
        messages.info(request, f"Change #{existing.pk} already proposes this text.")
        return back
    try:
        change = ChangeRequest.start_draft(
            author=request.user,
            text=file.text,
            message=import_message(path, AgentDocument(file.text), agent),
            agent=agent,
            request=request,
        )
    except ValidationError as refusal:
        messages.error(request, f"Not imported: {path}: {' '.join(refusal.messages)}.")
        return back
    AuditEvent.record(
        "drift.import",
        actor=request.user,
        obj=change,
        request=request,
        path=path,
        sha256=change.text_hash,
    )
    messages.success(
        request,
        f"Draft change #{change.pk} made from {path}: check it, then submit it for review.",
    )
    editor = (
        reverse("registry:agent_edit", args=[agent.key]) if agent else reverse("registry:agent_new")
    )
    return redirect(f"{editor}?change={change.pk}")
