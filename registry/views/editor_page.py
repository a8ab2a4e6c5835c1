"""What the editor page shows, built from the form and what it edits: the view loads, binds,
acts and renders one of these."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.urls import reverse

from registry import editor
from registry.agentfiles import fixes, validation
from registry.agentfiles.rendering import render_markdown, unified_diff
from registry.models import Agent, ChangeRequest, Version, enforcement_is_strict
from registry.models.agents import target_of


def editor_url(agent: Agent | None) -> str:
    if agent is None:
        return reverse("registry:agent_new")
    return reverse("registry:agent_edit", args=[agent.key])


def base_text(agent: Agent | None, change: ChangeRequest | None) -> str:
    """What the diff is against: the version the change started from, or the live version
    (also for a change in conflict with it: saving bases the change on the live version)."""
    if change is not None and not (change.conflicts and agent is not None):
        return change.base_version.text if change.base_version else ""
    if agent is not None and agent.live_version is not None:
        return agent.live_version.text
    return ""


@dataclass
class EditorPage:
    agent: Agent | None
    change: ChangeRequest | None
    form: editor.EditorForm
    user: object
    conflict: ChangeRequest | None = None  # someone saved since the form was loaded
    revision: int | None = None  # the revision the form carries, when not the change's
    focus: str = ""  # the id of the element to focus
    message: str = ""  # the change's message as typed

    @cached_property
    def document(self):
        # A text over the limit is not checked or rendered: the source stands in for it.
        return self.form.source if self.form.too_large else self.form.document

    @cached_property
    def problems(self) -> list[validation.Problem]:
        if self.form.too_large:
            return []
        return Agent.objects.problems_of(self.document, self.agent, caller="editor")

    @cached_property
    def baseline(self) -> Version | None:
        """The version whose errors a change may keep (ChangeRequest.baseline_version)."""
        if self.change is not None:
            return self.change.baseline_version()
        if self.agent is not None and not enforcement_is_strict():
            return self.agent.live_version
        return None

    def already_there(self, errors: int) -> int:
        """How many of the errors the baseline has already: they do not stop a change."""
        if self.baseline is None or not errors:
            return 0
        base = self.agent.problems_of_version(self.baseline)
        return len(validation.against_base(self.problems, base).already_there)

    @cached_property
    def others_change(self) -> bool:
        return self.change is not None and self.change.author_id != self.user.pk

    @cached_property
    def merge_conflicts(self) -> list[str]:
        """Parts that clashed with a change published since this one began: shown with what
        was published, and a save then bases the change on the live version."""
        return self.change.conflicts if self.change is not None and self.agent else []

    def published_meanwhile(self):
        if not self.merge_conflicts:
            return []
        change, agent = self.change, self.agent
        return unified_diff(
            change.base_version.text if change.base_version else "",
            agent.live_version.text if agent.live_version else "",
        )

    def certain_fixes(self, can_edit: bool) -> list[fixes.Fix]:
        """The certain fixes of the problems shown, for their Fix buttons (for editors only)."""
        if not can_edit or self.form.too_large:
            return []
        target = target_of(self.agent.path if self.agent is not None else None)[0]
        found = fixes.available(
            self.document, self.problems, settings.REGISTRY_REQUIRED_SECTIONS, target
        )
        return [fix for same_code in found.values() for fix in same_code]

    def offered(self) -> dict[str, tuple[str, ...]]:
        """Suggestions for fields: a category, from the agent's folder and those in use."""
        folder = self.agent.folder_category if self.agent is not None else ""
        categories = dict.fromkeys([folder, *Agent.objects.categories_in_use()])
        return {"category": tuple(category for category in categories if category)}

    def new_path(self) -> str:
        name = validation.agent_name(self.document) or ""
        if self.agent is None and validation.is_valid_name(name):
            return Agent.path_for_name(name)
        return ""

    def layout(self) -> dict:
        """The form's rows and the heights of its text areas, for the mode it is in."""
        form = self.form
        if form.mode != editor.STRUCTURED:
            return {
                "field_rows": [],
                "section_rows": [],
                "extra_rows": 0,
                "preamble_rows": 0,
                "raw_rows": editor.textarea_rows(form.raw_text, 20, 40),
            }
        shown = form.shown
        return {
            "field_rows": form.field_rows(self.slots, self.offered()),
            "section_rows": form.section_rows(self.slots),
            "extra_rows": editor.textarea_rows(shown.extra_yaml, 2, 12),
            "preamble_rows": editor.textarea_rows(shown.preamble, 3, 12),
            "raw_rows": 0,
        }

    @cached_property
    def can_edit(self) -> bool:
        return self.user.has_perm("registry.propose_change") and not self.others_change

    @cached_property
    def slots(self) -> dict[str, editor.Slot]:
        return self.form.slots(self.problems, self.certain_fixes(self.can_edit))

    def feedback(self) -> dict:
        """What a check of the text shows (the page's feedback part, all a live check answers):
        its problems, their counts, the diff and the preview."""
        agent, form = self.agent, self.form
        errors, warnings = validation.counts(self.problems)
        return {
            "agent": agent,
            "form": form,
            "can_edit": self.can_edit,
            "slots": self.slots,
            "missing_required": [
                (index, title)
                for index, title in enumerate(settings.REGISTRY_REQUIRED_SECTIONS)
                if self.document.find_section(title) is None
            ],
            "error_count": errors,
            "already_there": self.already_there(errors),
            "baseline": self.baseline,
            "warning_count": warnings,
            "size_text": f"{form.size:,} of {form.max_bytes:,} bytes",
            "preview": render_markdown(self.document.body),
            "diff": unified_diff(base_text(agent, self.change), editor.full_text(self.document)),
            "new_path": self.new_path(),
            "new_agent_folder": settings.REGISTRY_NEW_AGENT_FOLDER.strip("/"),
        }

    def context(self) -> dict:
        """The whole page: the form's fields and sections, and the feedback beside them."""
        agent, change, form = self.agent, self.change, self.form
        return {
            **self.feedback(),
            "change": change,
            "heading": f"Edit {agent.display_name}" if agent else "New agent",
            "form_url": editor_url(agent),
            "others_change": self.others_change,
            # The change page is where a saved draft goes next: it is submitted for review there.
            "submit_next": change is not None
            and not self.others_change
            and change.status
            in (ChangeRequest.Status.DRAFT, ChangeRequest.Status.CHANGES_REQUESTED),
            "merge_conflicts": self.merge_conflicts,
            "published_meanwhile": self.published_meanwhile(),
            **self.layout(),
            "conflict": self.conflict,
            "conflict_diff": unified_diff(self.conflict.text, form.text) if self.conflict else [],
            "revision": self.revision
            if self.revision is not None
            else (change.revision if change else None),
            "message": self.message,
            "focus": self.focus,
        }
