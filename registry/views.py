"""The registry's pages: thin views over the models, HTMX fragments as template partials."""

import json
from pathlib import PurePosixPath

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.views import defaults
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from . import editor, validation
from .models import Agent, ChangeRequest, SaveConflict
from .rendering import changed_line_count, render_markdown, unified_diff


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


AGENTS_PER_PAGE = 50
AGENT_ORDERINGS = {
    "name": ("name", "path"),
    "changed": (F("live_version__created_at").desc(nulls_last=True), "name", "path"),
}


class AgentListFilters(forms.Form):
    """The agent list's search, filters and sort, from the query string."""

    STATUSES = [
        ("", "Any status"),
        ("valid", "Valid"),
        ("errors", "With errors"),
        ("warnings", "With warnings"),
        ("open", "With an open change"),
    ]
    SORTS = [("name", "Name"), ("changed", "Last change")]

    q = forms.CharField(required=False)
    category = forms.CharField(required=False)
    status = forms.ChoiceField(choices=STATUSES, required=False)
    sort = forms.ChoiceField(choices=SORTS, required=False)
    archived = forms.BooleanField(required=False)

    def chosen(self) -> dict:
        """The valid values, with defaults for missing or invalid ones."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "q": (data.get("q") or "").strip(),
            "category": data.get("category") or "",
            "status": data.get("status") or "",
            "sort": data.get("sort") or "name",
            "archived": bool(data.get("archived")),
        }


@require_GET
def agent_list(request: HtmxHttpRequest):
    filters = AgentListFilters(request.GET).chosen()
    agents = Agent.objects.all() if filters["archived"] else Agent.objects.active()
    if filters["q"]:
        agents = agents.search(filters["q"])
    if filters["category"]:
        agents = agents.filter(category=filters["category"])
    agents = agents.with_status(filters["status"]).for_list()
    page = Paginator(agents.order_by(*AGENT_ORDERINGS[filters["sort"]]), AGENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "filters": filters,
        "statuses": AgentListFilters.STATUSES,
        "sorts": AgentListFilters.SORTS,
        # Evaluated only by the whole page, not by the results fragment.
        "categories": Agent.objects.active()
        .exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct(),
        "registry_empty": page.paginator.count == 0 and not Agent.objects.exists(),
    }
    template = "registry/agent_list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    response = render(request, template, context)
    # The same URL answers with a fragment or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _frontmatter_value(value) -> str:
    """A frontmatter value as the page shows it: lists comma-joined, nested values as JSON."""
    if isinstance(value, list) and not any(isinstance(item, list | dict) for item in value):
        return ", ".join(_frontmatter_value(item) for item in value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@require_GET
def agent_detail(request: HttpRequest, key: str):
    agent = get_object_or_404(Agent.objects.select_related("live_version__author"), key=key)
    version = agent.live_version
    problems = sorted(
        agent.problems or [],
        key=lambda problem: (problem["severity"] != "error", problem["line"], problem["column"]),
    )
    context = {
        "agent": agent,
        "version": version,
        "body_html": render_markdown(version.document.body) if version else "",
        "frontmatter": [
            (field, _frontmatter_value(value))
            for field, value in ((version.frontmatter or {}) if version else {}).items()
        ],
        "has_frontmatter": bool(version and version.frontmatter is not None),
        "problems": problems,
        "delegates": agent.delegation_targets(),
        "delegated_by": agent.delegated_by(),
        "history": agent.versions.select_related("author")
        .only("agent_id", "number", "created_at", "message", "author__username")
        .order_by("-number"),
        "open_changes": ChangeRequest.objects.active()
        .filter(agent=agent)
        .select_related("author")
        .only("kind", "status", "message", "updated_at", "author__username")
        .order_by("-updated_at"),
    }
    return render(request, "registry/agent_detail.html", context)


@require_GET
def agent_download(request: HttpRequest, key: str):
    """The live version's exact bytes (BOM and line endings included), as a file."""
    agent = get_object_or_404(Agent.objects.select_related("live_version"), key=key)
    if agent.live_version is None:
        raise Http404("This agent has no version yet.")
    return HttpResponse(
        agent.live_version.data,
        content_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition_header(
                as_attachment=True, filename=PurePosixPath(agent.path).name
            )
        },
    )


# --- The editor -------------------------------------------------------------------------------

MESSAGE_MAX_LENGTH = ChangeRequest._meta.get_field("message").max_length


def _changes_of(agent: Agent | None):
    changes = ChangeRequest.objects.select_related("author", "base_version").filter(agent=agent)
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
    """What the diff is against: the version the change started from, or the live version."""
    if change is not None:
        return change.base_version.text if change.base_version else ""
    if agent is not None and agent.live_version is not None:
        return agent.live_version.text
    return ""


def _editor_url(agent: Agent | None) -> str:
    if agent is None:
        return reverse("registry:agent_new")
    return reverse("registry:agent_edit", args=[agent.key])


def _problems(document, agent: Agent | None) -> list[validation.Problem]:
    name = validation.agent_name(document) or ""
    wanted = [delegation.name for delegation in validation.delegations(document)]
    known, taken = Agent.objects.names_for_validation(name, exclude=agent, wanted=wanted)
    return validation.validate(
        document,
        known,
        taken_names=taken,
        required_sections=settings.REGISTRY_REQUIRED_SECTIONS,
    )


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
    name = validation.agent_name(document) or ""
    structured = form.mode == editor.STRUCTURED
    shown = form.shown if structured else None
    context = {
        "agent": agent,
        "change": change,
        "form": form,
        "heading": f"Edit {agent.display_name}" if agent else "New agent",
        "form_url": _editor_url(agent),
        "can_edit": request.user.has_perm("registry.propose_change"),
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
    taken, stops it: a draft may have problems (they stop submitting it for review)."""
    message = " ".join(request.POST.get("message", "").split())
    if len(message) > MESSAGE_MAX_LENGTH:
        form.errors["message"] = f"Keep the message under {MESSAGE_MAX_LENGTH} characters."
    elif problem := editor.character_error(message):
        form.errors["message"] = problem
    if not form.errors:
        name_error = _name_error(agent, form.document)
        if name_error:
            form.errors[form.name_place] = name_error
    if form.errors:
        return _render_editor(request, agent, change, form)
    text = form.text
    problems = _problems(form.document, agent)
    if change is None:
        change = ChangeRequest.start_draft(
            author=request.user, text=text, message=message, agent=agent, problems=problems
        )
    else:
        posted = request.POST.get("conflict_revision" if overwrite else "revision", "")
        expected = int(posted) if posted.isdigit() else 0
        try:
            change.save_text(text, message, expected, problems)
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


def _name_error(agent: Agent | None, document) -> str:
    """Why the draft cannot be saved under its name: a new agent's must be valid (its path is
    made from it) and free; a renamed agent's must not be another's, ignoring case."""
    name = validation.agent_name(document) or ""
    if agent is None:
        try:
            Agent.objects.check_name_available(name)
        except ValidationError as error:
            return error.messages[0]
        return ""
    if name and name != agent.name:
        clash = Agent.objects.name_taken(name, exclude=agent)
        if clash is not None:
            return (
                f"the name {name!r} is already used by the agent {clash.name!r} "
                "(names are unique ignoring case); choose another"
            )
    return ""


def bad_request(request: HtmxHttpRequest, exception: Exception):
    """400s as Django makes them, except a body over DATA_UPLOAD_MAX_MEMORY_SIZE: that gets a
    413 saying what the limits are (in the editor, as a message above the fields)."""
    if not isinstance(exception, RequestDataTooBig):
        return defaults.bad_request(request, exception)
    context = {
        "body_limit": f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}",
        "file_limit": f"{settings.REGISTRY_MAX_FILE_BYTES:,}",
    }
    if getattr(request, "htmx", False):
        # htmx swaps only 2xx answers: keep the page, show the message where problems go.
        response = render(request, "registry/request_too_large.html#alert", context)
        response["HX-Reswap"] = "none"
        return response
    return render(request, "registry/request_too_large.html", context, status=413)
