"""The registry's pages: thin views over the models, HTMX fragments as template partials."""

import hashlib
import json
from pathlib import PurePosixPath

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, F, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.views import defaults
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from . import editor, validation
from .models import (
    Agent,
    AuditEvent,
    ChangeRequest,
    SaveConflict,
    Version,
    WorkflowError,
    parse_text,
)
from .rendering import changed_line_count, render_markdown, structured_diff, unified_diff


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
    # The results and the categories are cached, keyed on what they are made of: the query
    # string, and when agents or change requests last changed. A hit costs one indexed query
    # instead of a count, a page of rows and rendering them.
    generation = Agent.objects.generation() if settings.REGISTRY_LIST_CACHE_SECONDS > 0 else None
    results, _ = _list_cached(
        generation,
        ("results", request.GET.urlencode()),
        lambda: _render_list_results(request, filters),
        # Empty states differ by the user's permissions (what they may do next): not cached.
        keep=lambda made: made[1],
    )
    if request.htmx and not request.htmx.history_restore_request:
        response = HttpResponse(results)
    else:
        context = {
            "results": results,
            "filters": filters,
            "statuses": AgentListFilters.STATUSES,
            "sorts": AgentListFilters.SORTS,
            "categories": _list_cached(generation, ("categories",), Agent.objects.categories),
        }
        response = render(request, "registry/agent_list.html", context)
    # The same URL answers with a fragment or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _list_cached(generation, parts: tuple, make, keep=lambda made: True):
    """make(), reused for REGISTRY_LIST_CACHE_SECONDS under generation and parts when keep()
    allows; generation None (the cache is off): always made."""
    if generation is None:
        return make()
    key = "registry:agent-list:" + hashlib.sha256(repr((generation, parts)).encode()).hexdigest()
    made = cache.get(key)
    if made is None:
        made = make()
        if keep(made):
            cache.set(key, made, settings.REGISTRY_LIST_CACHE_SECONDS)
    return made


def _render_list_results(request: HttpRequest, filters: dict) -> tuple[str, bool]:
    """The results fragment, and whether it holds any agent."""
    context = _agent_list_results(request, filters)
    html = render_to_string("registry/agent_list.html#results", context, request)
    return html, bool(context["page"].object_list)


def _agent_list_results(request: HttpRequest, filters: dict) -> dict:
    agents = Agent.objects.listed(
        q=filters["q"],
        category=filters["category"],
        status=filters["status"],
        archived=filters["archived"],
    ).for_list()
    page = Paginator(agents.order_by(*AGENT_ORDERINGS[filters["sort"]]), AGENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return {
        "page": page,
        "filters": filters,
        "registry_empty": page.paginator.count == 0 and not Agent.objects.exists(),
    }


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
            author=request.user,
            text=text,
            message=message,
            agent=agent,
            problems=problems,
            base_version=_posted_version(request, agent, "base"),
        )
    else:
        posted = request.POST.get("conflict_revision" if overwrite else "revision", "")
        expected = int(posted) if posted.isdigit() else 0
        # Rebased only when the form showed the conflict the author is resolving, and onto the
        # live version the form showed: if another was published since, publishing merges again.
        rebase = _posted_version(request, agent, "rebase") if change.conflicts else None
        try:
            change.save_text(text, message, expected, problems, rebase=rebase)
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


# --- Change requests, the review queue, history, the audit log --------------------------------

DIFF_VIEWS = ("split", "unified")
RECENTLY_PUBLISHED = 20
MY_CHANGES_SHOWN = 50
AUDIT_EVENTS_PER_PAGE = 50
NOTE_MAX_LENGTH = 10_000
CHANGE_ACTIONS = {
    "submit": "Submitted for review.",
    "approve": "Approved.",
    "request_changes": "Changes requested: the author has been asked to revise it.",
    "reject": "Rejected.",
    "withdraw": "Withdrawn.",
    "publish": "Published.",
    "comment": "Comment added.",
}


def _require_permission(request: HttpRequest, permission: str, action: str, reason: str, **details):
    """Refuse (403) a user without permission, recording the attempt in the audit log."""
    if not request.user.has_perm(permission):
        AuditEvent.record(
            f"{action}.denied", actor=request.user, request=request, reason=reason, **details
        )
        raise PermissionDenied(reason)


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _diff_context(request: HttpRequest, old: str, new: str) -> dict:
    """The diff of two texts as the page shows it: by part side by side, or unified."""
    view = request.GET.get("view", "")
    view = view if view in DIFF_VIEWS else "split"
    return {
        "diff_view": view,
        "parts": structured_diff(old, new) if view == "split" else [],
        "unified": unified_diff(old, new) if view == "unified" else [],
        "texts_differ": old != new,
    }


def _with_vary(response: HttpResponse) -> HttpResponse:
    # The same URL answers with a fragment or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def change_editor_url(change: ChangeRequest) -> str:
    """Where the author edits a change: its agent's editor, or the new-agent editor."""
    if change.agent_id and change.kind != ChangeRequest.Kind.CREATE:
        return f"{reverse('registry:agent_edit', args=[change.agent.key])}?change={change.pk}"
    return f"{reverse('registry:agent_new')}?change={change.pk}"


def _new_agent_place(change: ChangeRequest) -> tuple[str, str]:
    """(name, path its file will have) of a proposed new agent; empty where not yet valid."""
    try:
        name = validation.agent_name(parse_text(change.text)) or ""
    except ValidationError:
        return "", ""
    if not validation.is_valid_name(name):
        return name, ""
    return name, Agent.path_for_name(name)


@require_GET
def change_detail(request: HtmxHttpRequest, pk: int):
    change = get_object_or_404(
        ChangeRequest.objects.select_related(
            "agent", "author", "base_version", "published_version"
        ),
        pk=pk,
    )
    base_text = change.base_version.text if change.base_version else ""
    context = {"change": change, **_diff_context(request, base_text, change.text)}
    template = "registry/change_detail.html"
    if _wants_fragment(request):
        return _with_vary(render(request, f"{template}#diff", context))

    problems, unreadable = [], ""
    if change.is_active and change.kind != ChangeRequest.Kind.ARCHIVE:
        try:
            problems = validation.sort_problems(change.current_problems())
        except ValidationError as error:
            unreadable = " ".join(error.messages)
    reviews = list(change.reviews.select_related("reviewer"))
    for review in reviews:
        review.change = change  # Review.is_stale compares with it; no query per review
    new_name, new_path = ("", "") if change.agent_id else _new_agent_place(change)
    actions = change.allowed_actions(request.user)
    context.update(
        {
            "problems": problems,
            "error_count": sum(1 for problem in problems if problem.is_error),
            "unreadable": unreadable,
            "reviews": reviews,
            "comments": change.comments.select_related("author"),
            "valid_approvals": change.valid_approvals().count(),
            "approvals_required": settings.REGISTRY_APPROVALS_REQUIRED,
            "actions": actions,
            # The workflow steps the side panel offers (editing and comments have their places).
            "step_actions": actions - {"comment", "edit"},
            "editor_url": change_editor_url(change),
            "new_name": new_name,
            "new_path": new_path,
        }
    )
    return _with_vary(render(request, template, context))


@require_POST
def change_action(request: HtmxHttpRequest, pk: int, action: str):
    """One step of the workflow, taken by the model, which checks who may take it."""
    if action not in CHANGE_ACTIONS:
        raise Http404("No such action.")
    change = get_object_or_404(ChangeRequest, pk=pk)
    note = request.POST.get("note", "").strip()[:NOTE_MAX_LENGTH]
    revision = change.revision
    try:
        if action == "submit":
            change.submit(request.user, request=request)
        elif action in {"approve", "request_changes"}:
            # The hash of the text the reviewer was shown: a text changed since is refused.
            seen_hash = request.POST.get("seen_hash", "")
            review = change.approve if action == "approve" else change.request_changes
            review(request.user, note, request, seen_hash=seen_hash)
        elif action == "reject":
            change.reject(request.user, note, request)
        elif action == "withdraw":
            change.withdraw(request.user, request)
        elif action == "publish":
            change.publish(request.user, request)
        else:
            change.comment(request.user, request.POST.get("body", ""), request)
    except WorkflowError as error:
        messages.error(request, f"Nothing was done: {error}.")
    else:
        _report_outcome(request, change, action, revision)
    url = reverse("registry:change_detail", args=[change.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _report_outcome(request: HttpRequest, change: ChangeRequest, action: str, revision: int):
    if change.status == ChangeRequest.Status.PUBLISHED and action in {"approve", "publish"}:
        if change.published_version_id:
            outcome = f"published as version {change.published_version.number}"
        else:
            outcome = "published: the agent is archived"
        messages.success(request, f"{CHANGE_ACTIONS[action]} The change is {outcome}.")
    elif change.conflicts and action in {"approve", "publish"}:
        messages.warning(
            request,
            "The live version changed since this change began and both touch "
            f"{', '.join(change.conflicts)}: it was not published. The author must resolve the "
            "conflict in the editor.",
        )
    elif change.revision != revision and action in {"approve", "publish"}:
        messages.warning(
            request,
            "The live version changed since this change began; the two were merged into a new "
            "revision, which needs a fresh approval. Nothing was published.",
        )
    else:
        messages.success(request, CHANGE_ACTIONS[action])


@require_GET
def change_queue(request: HtmxHttpRequest):
    user = request.user
    changes = ChangeRequest.objects.select_related("agent", "author").defer("text")
    can_review = user.has_perm("registry.review_change")
    waiting = (
        changes.waiting_for(user)
        .filter(status=ChangeRequest.Status.OPEN)
        .exclude(author=user)
        .order_by("updated_at")
        if can_review
        else None
    )
    mine = (
        changes.filter(author=user)
        .annotate(
            closed=Case(
                When(status__in=ChangeRequest.ACTIVE_STATUSES, then=Value(0)), default=Value(1)
            )
        )
        .order_by("closed", "-updated_at")[:MY_CHANGES_SHOWN]
    )
    published = changes.filter(status=ChangeRequest.Status.PUBLISHED).order_by("-updated_at")[
        :RECENTLY_PUBLISHED
    ]
    context = {
        "can_review": can_review,
        "can_propose": user.has_perm("registry.propose_change"),
        "waiting": waiting,
        "mine": mine,
        "published": published,
    }
    return render(request, "registry/change_queue.html", context)


# History, compare, restore, archive ---------------------------------------------------------


def _history_context(request: HttpRequest, agent: Agent) -> dict:
    versions = list(
        agent.versions.select_related("author")
        .only("agent_id", "number", "created_at", "message", "author__username")
        .order_by("-number")
    )
    return {
        "agent": agent,
        "versions": versions,
        "compare_b": versions[0].number if versions else None,
        "compare_a": versions[1].number if len(versions) > 1 else None,
        "can_propose": request.user.has_perm("registry.propose_change") and not agent.archived,
    }


@require_GET
def agent_history(request: HttpRequest, key: str):
    agent = get_object_or_404(Agent, key=key)
    return render(request, "registry/agent_history.html", _history_context(request, agent))


# Version numbers are a PositiveIntegerField: none is larger than this on any database.
LARGEST_VERSION_NUMBER = 2**31 - 1


class _NoSuchVersion(Exception):
    """A compare query that names no version of the agent; the message says why."""


def _version_number(request: HttpRequest, name: str, default: int | None) -> int:
    value = request.GET.get(name, "")
    if value == "":
        if default is None:
            raise _NoSuchVersion("This agent has no version to compare yet")
        return default
    shown = value if len(value) <= 24 else f"{value[:20]}…"
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (value.isascii() and value.isdigit()):
        raise _NoSuchVersion(f"{name}={shown} is not a version number")
    digits = value.lstrip("0")
    # Checked before int() and the query: too many digits for int(), too large for the database.
    if not digits or len(digits) > 10 or int(digits) > LARGEST_VERSION_NUMBER:
        raise _NoSuchVersion(f"There is no version {shown} of this agent")
    return int(digits)


@require_GET
def agent_compare(request: HtmxHttpRequest, key: str):
    """Two versions of an agent compared; by default the live one with the one before it. A
    version that does not exist gets the history (a 404) saying so, to choose two others."""
    agent = get_object_or_404(Agent.objects.select_related("live_version"), key=key)
    newest = agent.versions.order_by("-number").values_list("number", flat=True).first()
    try:
        b = _version_number(request, "b", newest)
        a = _version_number(request, "a", max(b - 1, 1))
        a, b = min(a, b), max(a, b)
        versions = agent.versions.select_related("author").filter(number__in=[a, b])
        found = {version.number: version for version in versions}
        for number in (a, b):
            if number not in found:
                raise _NoSuchVersion(f"There is no version {number} of this agent")
    except _NoSuchVersion as problem:
        context = _history_context(request, agent)
        if newest is not None:
            context["problem"] = f"{problem}; its versions are 1 to {newest}."
        return render(request, "registry/agent_history.html", context, status=404)
    old, new = found[a], found[b]
    context = {
        "agent": agent,
        "old": old,
        "new": new,
        **_diff_context(request, old.text, new.text),
    }
    template = "registry/agent_compare.html"
    if _wants_fragment(request):
        template += "#diff"
    return _with_vary(render(request, template, context))


@require_POST
def agent_restore(request: HttpRequest, key: str, number: int):
    """Propose putting an old version's text back: a change request, published after review."""
    _require_permission(
        request,
        "registry.propose_change",
        "agent.restore",
        "only editors can propose restoring a version",
        key=key,
        version=number,
    )
    agent = get_object_or_404(Agent, key=key)
    version = get_object_or_404(Version.objects.select_related("agent"), agent=agent, number=number)
    if version.pk == agent.live_version_id:
        messages.error(request, f"Version {number} is the live version already.")
        return redirect("registry:agent_history", key=agent.key)
    change = ChangeRequest.propose_restore(version, request.user, request=request)
    messages.success(
        request,
        f"Change #{change.pk} proposes restoring version {number}. Submit it for review: "
        "nothing changes until it is approved.",
    )
    return redirect("registry:change_detail", pk=change.pk)


@require_POST
def agent_archive(request: HttpRequest, key: str):
    """Propose archiving an agent: a change request, carried out after review."""
    _require_permission(
        request,
        "registry.propose_change",
        "agent.archive",
        "only editors can propose archiving an agent",
        key=key,
    )
    agent = get_object_or_404(Agent.objects.select_related("live_version"), key=key)
    if agent.archived:
        messages.error(request, f"{agent.display_name} is archived already.")
        return redirect("registry:agent_detail", key=agent.key)
    change = ChangeRequest.propose_archive(agent, request.user, request=request)
    messages.success(
        request,
        f"Change #{change.pk} proposes archiving {agent.display_name}. Submit it for review: "
        "nothing changes until it is approved.",
    )
    return redirect("registry:change_detail", pk=change.pk)


# The audit log ----------------------------------------------------------------------------


@require_GET
def audit_log(request: HtmxHttpRequest):
    _require_permission(
        request,
        "registry.maintain_registry",
        "audit_log.view",
        "only maintainers can read the audit log",
    )
    filters = {name: request.GET.get(name, "").strip() for name in ("agent", "user", "action")}
    events = AuditEvent.objects.select_related("agent")
    if filters["agent"]:
        events = events.filter(
            Q(agent__key=filters["agent"]) | Q(agent__name__icontains=filters["agent"])
        )
    if filters["user"]:
        events = events.filter(actor_name__iexact=filters["user"])
    if filters["action"]:
        events = events.filter(action=filters["action"])
    page = Paginator(events, AUDIT_EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": [
            (event, json.dumps(event.details, ensure_ascii=False, separators=(",", ":")))
            for event in page
        ],
        "filters": filters,
        # Evaluated only by the whole page, not by the results fragment.
        "actions": AuditEvent.objects.order_by("action")
        .values_list("action", flat=True)
        .distinct(),
    }
    template = "registry/audit_log.html"
    if _wants_fragment(request):
        template += "#results"
    return _with_vary(render(request, template, context))
