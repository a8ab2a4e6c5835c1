"""The editor of an agent: structured fields and sections or the raw file, live checks, drafts."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from registry import editor
from registry.agentfiles.rendering import (
    changed_line_count,
)
from registry.models import (
    Agent,
    AuditEvent,
    ChangeRequest,
    SaveConflict,
    Version,
)
from registry.models.agents import target_of
from registry.views.common import HtmxHttpRequest
from registry.views.editor_page import EditorPage, base_text, editor_url


def _changes_of(agent: Agent | None):
    # An archive's text is the live one, not the author's: it is never edited.
    changes = (
        ChangeRequest.objects.select_related("author", "base_version")
        .filter(agent=agent)
        .exclude(kind=ChangeRequest.Kind.ARCHIVE)
    )
    return changes if agent else changes.filter(kind=ChangeRequest.Kind.CREATE)


def _opened_change(request: HttpRequest, agent: Agent | None, change_id: str | None):
    """The change the editor works on: the one named, else (opening an agent) the user's own
    newest editable one, else None (the live version, or a new agent's skeleton).

    A save may name a change that stopped being editable since: saving it then reports that."""
    if not change_id and (agent is None or request.method != "GET"):
        return None
    changes = _changes_of(agent)
    if request.method == "GET":
        changes = changes.filter(status__in=ChangeRequest.EDITABLE_STATUSES)
    if change_id:
        if not change_id.isdigit():
            raise Http404("No such change.")
        return get_object_or_404(changes, pk=int(change_id))
    return changes.filter(author=request.user).order_by("-updated_at").first()


def _opened_text(agent: Agent | None, change: ChangeRequest | None) -> str:
    if change is not None:
        return change.text
    if agent is not None and agent.live_version is not None:
        return agent.live_version.text
    return editor.skeleton_text(settings.REGISTRY_REQUIRED_SECTIONS)


def _render_editor(
    request: HtmxHttpRequest,
    agent: Agent | None,
    change: ChangeRequest | None,
    form: editor.EditorForm,
    *,
    feedback_only: bool = False,
    **shown,
):
    """The editor page, or only its feedback part (what a live check answers), for the form;
    shown: what EditorPage takes besides."""
    page = EditorPage(
        agent, change, form, request.user, message=request.POST.get("message", ""), **shown
    )
    template = "registry/agent_edit.html"
    if feedback_only:
        return render(request, f"{template}#feedback", page.feedback())
    if request.htmx and request.method == "POST":
        template += "#editor"
    return render(request, template, page.context())


@require_http_methods(["GET", "POST"])
def agent_new(request: HtmxHttpRequest):
    return _editor_page(request, None)


@require_http_methods(["GET", "POST"])
def agent_edit(request: HtmxHttpRequest, key: str):
    agent = get_object_or_404(Agent.objects.select_related("live_version"), key=key)
    return _editor_page(request, agent)


def _editor_page(request: HtmxHttpRequest, agent: Agent | None):
    """The editor of an agent (or of a new one): GET shows it; any POST needs the Editors role."""
    if request.method == "POST":
        return _editor_post(request, agent)
    change = _opened_change(request, agent, request.GET.get("change"))
    form = editor.EditorForm(
        _opened_text(agent, change),
        mode=request.GET.get("mode", editor.STRUCTURED),
        max_bytes=settings.REGISTRY_MAX_FILE_BYTES,
    )
    return _render_editor(request, agent, change, form)


@permission_required("registry.propose_change", raise_exception=True)
def _editor_post(request: HtmxHttpRequest, agent: Agent | None):
    change = _opened_change(request, agent, request.POST.get("change"))
    if change is not None and change.author_id != request.user.pk:
        reason = "only the author of a change can edit it"
        AuditEvent.record(
            "change.save.denied", actor=request.user, obj=change, request=request, reason=reason
        )
        raise PermissionDenied(reason)
    form = editor.EditorForm(
        _opened_text(agent, change), request.POST, max_bytes=settings.REGISTRY_MAX_FILE_BYTES
    )
    action = request.POST.get("action") or "check"
    if action in {"save", "overwrite"}:
        return _editor_save(request, agent, change, form, overwrite=action == "overwrite")
    if action == "check":
        if not request.htmx:
            return _render_editor(request, agent, change, form)
        # Only out-of-band swaps: the fields the user is typing in are left alone.
        response = _render_editor(request, agent, change, form, feedback_only=True)
        response["HX-Reswap"] = "none"
        return response
    if form.errors:
        form.errors.setdefault(
            editor.GENERAL, "Correct the problems marked below first; nothing was changed."
        )
        return _render_editor(request, agent, change, form)
    if action.startswith("mode:"):
        mode = action.removeprefix("mode:")
        switched = editor.EditorForm(form.text, mode=mode, max_bytes=form.max_bytes)
        if switched.mode != mode:
            # The raw text cannot be shown field by field (its YAML does not parse): say so
            # next to it, and keep the user's text exactly as it was sent.
            form.errors["text"] = switched.notice
            return _render_editor(request, agent, change, form)
        return _render_editor(request, agent, change, switched, focus=f"mode-{mode}")
    try:
        document, focus = editor.apply_action(
            form.document,
            action,
            settings.REGISTRY_REQUIRED_SECTIONS,
            request.POST.get("new_section_title", ""),
            target_of(agent.path if agent is not None else None)[0],
        )
    except ValueError:
        if action.startswith("fix:"):
            # A Fix button names a problem; the text as sent may no longer have it.
            form.errors[editor.GENERAL] = (
                "That fix does not apply to this text: the problem it was for is not in it any "
                "more, or has no certain fix. Nothing was changed."
            )
            response = _render_editor(request, agent, change, form)
            response.status_code = 400
            return response
        form.errors[editor.GENERAL] = "That button does not apply to this text any more."
        return _render_editor(request, agent, change, form)
    # A fix keeps the mode the user works in; the section buttons exist in the structured one.
    mode = form.mode if action.startswith("fix:") else editor.STRUCTURED
    moved = editor.EditorForm(editor.full_text(document), mode=mode, max_bytes=form.max_bytes)
    if moved.mode == editor.RAW:
        focus = "field-text"
    return _render_editor(request, agent, change, moved, focus=focus)


def _editor_save(
    request: HtmxHttpRequest,
    agent: Agent | None,
    change: ChangeRequest | None,
    form: editor.EditorForm,
    *,
    overwrite: bool,
):
    """Save the text as the user's draft. Only input that cannot be stored, or a name that is
    taken, stops it (the model's refusal, shown beside the field at fault): a draft may have
    problems (they stop submitting it for review)."""
    if form.errors:
        return _render_editor(request, agent, change, form)
    text, message = form.text, request.POST.get("message", "")
    try:
        if change is None:
            change = ChangeRequest.start_draft(
                author=request.user,
                text=text,
                message=message,
                agent=agent,
                base_version=_posted_version(request, agent, "base"),
            )
        else:
            posted = request.POST.get("conflict_revision" if overwrite else "revision", "")
            expected = int(posted) if posted.isdigit() else 0
            # Rebased only when the form showed the conflict the author is resolving, and onto
            # the live version the form showed: if another was published since, publishing
            # merges again.
            rebase = _posted_version(request, agent, "rebase") if change.conflicts else None
            change.save_text(text, message, expected, rebase=rebase)
    except ValidationError as refusal:
        field = editor.GENERAL
        if refusal.code.startswith("message-"):
            field = "message"
        elif refusal.code.startswith("name-") or refusal.code == "path-taken":
            field = form.name_place
        form.errors[field] = " ".join(refusal.messages)
        return _render_editor(request, agent, change, form)
    except SaveConflict as conflict:
        # The form keeps the revision the user started from; only "Save anyway" uses theirs.
        started = request.POST.get("revision", "")
        return _render_editor(
            request,
            agent,
            conflict.change,
            form,
            conflict=conflict.change,
            revision=int(started) if started.isdigit() else 0,
        )
    added, removed = changed_line_count(base_text(agent, change), text)
    messages.success(
        request,
        f"Draft saved: {added} line{'' if added == 1 else 's'} added, "
        f"{removed} removed, against the live version.",
    )
    url = f"{editor_url(agent)}?change={change.pk}"
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _posted_version(request: HttpRequest, agent: Agent | None, field: str) -> Version | None:
    """The version of this agent whose id the form carried in field, if any."""
    posted = request.POST.get(field, "")
    if agent is None or not posted.isdigit():
        return None
    return Version.objects.filter(agent=agent, pk=int(posted)).first()
