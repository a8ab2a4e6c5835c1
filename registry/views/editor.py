"""The editor of an agent: structured fields and sections or the raw file, live checks, drafts."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from registry import editor
from registry.agentfiles import validation
from registry.agentfiles.rendering import (
    changed_line_count,
    render_markdown,
    unified_diff,
)
from registry.models import (
    Agent,
    AuditEvent,
    ChangeRequest,
    SaveConflict,
    Version,
    enforcement_is_strict,
)
from registry.views.common import HtmxHttpRequest


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
    changes = _changes_of(agent)
    if request.method == "GET":
        changes = changes.filter(status__in=ChangeRequest.EDITABLE_STATUSES)
    if change_id:
        if not change_id.isdigit():
            raise Http404("No such change.")
        return get_object_or_404(changes, pk=int(change_id))
    if agent is None or request.method != "GET":
        return None
    return changes.filter(author=request.user).order_by("-updated_at").first()


def _opened_text(agent: Agent | None, change: ChangeRequest | None) -> str:
    if change is not None:
        return change.text
    if agent is not None and agent.live_version is not None:
        return agent.live_version.text
    return editor.skeleton_text(settings.REGISTRY_REQUIRED_SECTIONS)


def _base_text(agent: Agent | None, change: ChangeRequest | None) -> str:
    """What the diff is against: the version the change started from, or the live version
    (also for a change in conflict with it: saving bases the change on the live version)."""
    if change is not None and not (change.conflicts and agent is not None):
        return change.base_version.text if change.base_version else ""
    if agent is not None and agent.live_version is not None:
        return agent.live_version.text
    return ""


def _editor_url(agent: Agent | None) -> str:
    if agent is None:
        return reverse("registry:agent_new")
    return reverse("registry:agent_edit", args=[agent.key])


def _problems(document, agent: Agent | None) -> list[validation.Problem]:
    return Agent.objects.problems_of(document, agent, caller="editor")


def _render_editor(
    request: HtmxHttpRequest,
    agent: Agent | None,
    change: ChangeRequest | None,
    form: editor.EditorForm,
    *,
    part: str = "",
    conflict: ChangeRequest | None = None,
    revision: int | None = None,
    focus: str = "",
):
    required = settings.REGISTRY_REQUIRED_SECTIONS
    # A text over the limit is not checked or rendered: the source stands in for it.
    document = form.source if form.too_large else form.document
    text = editor.full_text(document)
    problems = [] if form.too_large else _problems(document, agent)
    slots = form.slots(problems)
    errors, warnings = validation.counts(problems)
    # The errors the version it would change has already: they do not stop a change.
    baseline = change.baseline_version() if change is not None else None
    if change is None and agent is not None and not enforcement_is_strict():
        baseline = agent.live_version
    already_there = (
        len(validation.against_base(problems, agent.problems_of_version(baseline)).already_there)
        if baseline is not None and errors
        else 0
    )
    name = validation.agent_name(document) or ""
    structured = form.mode == editor.STRUCTURED
    shown = form.shown if structured else None
    others_change = change is not None and change.author_id != request.user.pk
    # Parts that clashed with a change published since this one began: shown with what was
    # published, and a save then bases the change on the live version.
    merge_conflicts = change.conflicts if change is not None and agent is not None else []
    context = {
        "agent": agent,
        "change": change,
        "form": form,
        "heading": f"Edit {agent.display_name}" if agent else "New agent",
        "form_url": _editor_url(agent),
        "can_edit": request.user.has_perm("registry.propose_change") and not others_change,
        "others_change": others_change,
        # The change page is where a saved draft goes next: it is submitted for review there.
        "submit_next": change is not None
        and not others_change
        and change.status in (ChangeRequest.Status.DRAFT, ChangeRequest.Status.CHANGES_REQUESTED),
        "merge_conflicts": merge_conflicts,
        "published_meanwhile": (
            unified_diff(
                change.base_version.text if change.base_version else "",
                agent.live_version.text if agent.live_version else "",
            )
            if merge_conflicts
            else []
        ),
        "slots": slots,
        "field_rows": form.field_rows(slots) if structured else [],
        "section_rows": form.section_rows(slots) if structured else [],
        "extra_rows": editor.textarea_rows(shown.extra_yaml, 2, 12) if structured else 0,
        "preamble_rows": editor.textarea_rows(shown.preamble, 3, 12) if structured else 0,
        "raw_rows": editor.textarea_rows(form.raw_text, 20, 40) if not structured else 0,
        "missing_required": [
            (index, title)
            for index, title in enumerate(required)
            if document.find_section(title) is None
        ],
        "error_count": errors,
        "already_there": already_there,
        "baseline": baseline,
        "warning_count": warnings,
        "size_text": f"{form.size:,} of {form.max_bytes:,} bytes",
        "preview": render_markdown(document.body),
        "diff": unified_diff(_base_text(agent, change), text),
        "new_path": (
            Agent.path_for_name(name) if agent is None and validation.is_valid_name(name) else ""
        ),
        "new_agent_folder": settings.REGISTRY_NEW_AGENT_FOLDER.strip("/"),
        "conflict": conflict,
        "conflict_diff": unified_diff(conflict.text, form.text) if conflict else [],
        "revision": revision if revision is not None else (change.revision if change else None),
        "message": request.POST.get("message", ""),
        "focus": focus,
    }
    template = "registry/agent_edit.html"
    if part:
        template += f"#{part}"
    elif request.htmx and request.method == "POST":
        template += "#editor"
    return render(request, template, context)


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
        response = _render_editor(request, agent, change, form, part="feedback")
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
        )
    except ValueError:
        form.errors[editor.GENERAL] = "That button does not apply to this text any more."
        return _render_editor(request, agent, change, form)
    moved = editor.EditorForm(
        editor.full_text(document), mode=editor.STRUCTURED, max_bytes=form.max_bytes
    )
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
    added, removed = changed_line_count(_base_text(agent, change), text)
    messages.success(
        request,
        f"Draft saved: {added} line{'' if added == 1 else 's'} added, "
        f"{removed} removed, against the live version.",
    )
    url = f"{_editor_url(agent)}?change={change.pk}"
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _posted_version(request: HttpRequest, agent: Agent | None, field: str) -> Version | None:
    """The version of this agent whose id the form carried in field, if any."""
    posted = request.POST.get(field, "")
    if agent is None or not posted.isdigit():
        return None
    return Version.objects.filter(agent=agent, pk=int(posted)).first()
