"""Change sets: one change request holding several agents' texts, reviewed once and published
together, every agent or none.

A set is a ChangeRequest of kind "set" whose single-agent fields stay empty; its ChangeItems
hold the agents, each with its own base version, text and conflicts. The request's text_hash is
the hash of its items' paths and hashes, so that a review binds to every text in the set and an
edit to any item makes earlier approvals stale, as for a single change."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower

from registry.agentfiles import fixes, renaming, risk, validation
from registry.agentfiles.document import AgentDocument
from registry.models.agents import (
    Agent,
    Version,
    created_rows,
    parse_text,
    required_sections,
    target_of,
    text_hash,
    update_rows,
)
from registry.models.audit import AuditEvent
from registry.models.changes import (
    ChangeRequest,
    Comment,
    Outcome,
    Result,
    SaveConflict,
    WorkflowError,
)
from registry.models.compliance import enforcement_is_strict
from registry.models.repository import Push


class ChangeItem(models.Model):
    """One agent's proposed text in a change set."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="items")
    # None: a new agent, made at path when the set is published.
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.PROTECT, related_name="change_items"
    )
    # Where the file is once published: the agent's path, or its new one (a rename moves it).
    path = models.CharField(max_length=1024)
    base_version = models.ForeignKey(
        Version, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField()
    text_hash = models.CharField(max_length=64)
    error_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    # Parts that clashed with a version published meanwhile; the author resolves them.
    conflicts = models.JSONField(default=list, blank=True)
    published_version = models.ForeignKey(
        Version, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["path", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["change", "path"], name="unique_change_item_path")
        ]

    def __str__(self) -> str:
        return f"{self.path} in {self.change}"

    # What a ChangeRequest of kind set asks of its items, reached through change.items.model:
    # changes.py, which this module builds on, never imports it.
    @staticmethod
    def risk_of_set(items: list[ChangeItem]) -> risk.Summary:
        return set_risk(items)

    @staticmethod
    def refuse_errors_of(change: ChangeRequest) -> None:
        refuse_errors(change)

    @staticmethod
    def publish_set(change: ChangeRequest, user, request) -> Outcome:
        return publish_set(change, user, request)

    @property
    def old_path(self) -> str:
        """The path the file leaves, when publishing moves it; "" otherwise."""
        if self.agent_id and self.agent.path != self.path:
            return self.agent.path
        return ""

    @property
    def label(self) -> str:
        return self.agent.display_name if self.agent_id else self.path

    def save_text(self, text: str, expected_revision: int, *, rebase: bool = False) -> None:
        """A new text for this item: a new revision of the whole set, unless someone saved the
        set since expected_revision (SaveConflict). Approvals of the set become stale. With
        rebase, the author resolved a conflict against the live version as it is now."""
        document = parse_text(text)
        with transaction.atomic():
            change = ChangeRequest.objects.select_for_update().get(pk=self.change_id)
            if change.revision != expected_revision or not change.is_editable:
                raise SaveConflict(change)
            items = list(change.items.select_related("agent"))
            mine = next(item for item in items if item.pk == self.pk)
            mine.text, mine.text_hash = text, text_hash(text)
            documents = [
                document if item.pk == self.pk else parse_text(item.text) for item in items
            ]
            _check_names(items, documents)
            if rebase and mine.agent_id:
                mine.base_version_id = (
                    Agent.objects.filter(pk=mine.agent_id)
                    .values_list("live_version", flat=True)
                    .first()
                )
                mine.conflicts = []
            for item, problems in zip(items, _problems(items, documents), strict=True):
                item.error_count, item.warning_count = validation.counts(problems)
            update_rows(
                items,
                ["text", "text_hash", "base_version", "conflicts", "error_count", "warning_count"],
            )
            _restamp(change, items)
            change.revision += 1
            if change.status == ChangeRequest.Status.APPROVED:
                change.status = ChangeRequest.Status.OPEN
            change.save()
            AuditEvent.record(
                "change.save", actor=change.author, obj=change, revision=change.revision
            )
        self.refresh_from_db()


def set_hash(items) -> str:
    """The hash a review of the set binds to: every item's path and text."""
    digest = hashlib.sha256()
    for path, hashed in sorted((item.path, item.text_hash) for item in items):
        digest.update(f"{path}\0{hashed}\n".encode())
    return digest.hexdigest()


def set_risk(items: list[ChangeItem]) -> risk.Summary:
    """What a set grants: every agent's grants against its base version, each read as the tool
    that reads its file reads it and named with its agent; its level is the highest. One query
    for the base texts."""
    bases = dict(
        Version.objects.filter(
            pk__in=[item.base_version_id for item in items if item.base_version_id]
        ).values_list("pk", "text")
    )
    grants = []
    for item in items:
        before = bases.get(item.base_version_id) if item.base_version_id else None
        summary = risk.summarize_texts(before, item.text, target_of(item.path)[0])
        grants += [replace(grant, what=f"{item.label}: {grant.what}") for grant in summary.grants]
    return risk.Summary(tuple(grants))


def _restamp(change: ChangeRequest, items: list[ChangeItem]) -> None:
    """The set's hash, counts, conflicts and risk level, from its items."""
    change.risk = set_risk(items).level
    change.text_hash = set_hash(items)
    change.error_count = sum(item.error_count for item in items)
    change.warning_count = sum(item.warning_count for item in items)
    change.conflicts = [f"{item.label}: {part}" for item in items for part in item.conflicts or []]


def _problems(
    items: list[ChangeItem], documents: list[AgentDocument]
) -> list[list[validation.Problem]]:
    """Each item's problems in the registry as it would be with the whole set published: the
    names the set gives count, and those it renames away do not. One query for the names."""
    names: dict[tuple, str] = {
        ("agent", pk): name
        for pk, name in Agent.objects.active().exclude(name="").values_list("pk", "name")
    }
    owners = []
    for index, (item, document) in enumerate(zip(items, documents, strict=True)):
        owner = ("agent", item.agent_id) if item.agent_id else ("new", index)
        owners.append(owner)
        names[owner] = validation.agent_name(document) or ""
    known = {name for name in names.values() if name}
    by_lower: dict[str, list[tuple[tuple, str]]] = {}
    for owner, name in names.items():
        if name:
            by_lower.setdefault(name.lower(), []).append((owner, name))
    found = []
    for item, document, owner in zip(items, documents, owners, strict=True):
        name = names[owner]
        taken = [other for who, other in by_lower.get(name.lower(), []) if who != owner]
        found.append(
            validation.validate(
                document,
                known,
                taken_names=taken,
                required_sections=required_sections(),
                target=target_of(item.path)[0],
            )
        )
    return found


def _check_names(items: list[ChangeItem], documents: list[AgentDocument]) -> None:
    """The name rule for a whole set (ValidationError): a new agent's name is valid, and a new
    name or a new path is nobody else's, in the registry (agents the set renames away aside)
    or in the set. A few queries, whatever the set's size."""
    moving_away, proposed, paths = set(), {}, {}
    for item, document in zip(items, documents, strict=True):
        name = validation.agent_name(document) or ""
        if item.agent_id is None:
            if not validation.is_valid_name(name):
                Agent.objects.check_name_available(name)  # refused, with the reason
        elif name == item.agent.name:
            continue
        else:
            moving_away.add(item.agent_id)
        if name.lower() in proposed:
            raise ValidationError(
                f"two agents of the set would be named {name!r}", code="name-taken"
            )
        proposed[name.lower()] = name
        if item.agent_id is None or item.path != item.agent.path:
            paths[item.path] = name
    if proposed:
        clash = (
            Agent.objects.active()
            .annotate(name_lower=Lower("name"))
            .filter(name_lower__in=list(proposed))
            .exclude(pk__in=moving_away)
            .values_list("name", flat=True)
            .first()
        )
        if clash is not None:
            raise ValidationError(
                f"the name {proposed[clash.lower()]!r} is already used by the agent {clash!r} "
                "(names are unique ignoring case)",
                code="name-taken",
            )
    if paths:
        taken = (
            Agent.objects.filter(path__in=list(paths))
            .exclude(pk__in=moving_away)
            .values_list("path", flat=True)
            .first()
        )
        if taken is not None:
            raise ValidationError(f"a file already exists at {taken}", code="path-taken")


def start_set(
    *,
    author,
    entries: list[tuple[Agent | None, str, str]],
    message: str = "",
    request=None,
) -> ChangeRequest:
    """A change set as author's draft: each entry (agent, or None for a new agent; the path its
    file has once published; its text). Refused (ValidationError) as start_draft refuses a
    text, a name or a message, and for a set without agents or naming one twice. In bulk: a
    few queries whatever the number of agents."""
    message = ChangeRequest.clean_message(message)
    if not entries:
        raise ValidationError("a change set needs at least one agent", code="set-empty")
    agents = [agent.pk for agent, _, _ in entries if agent is not None]
    paths = [path for _, path, _ in entries]
    if len(set(agents)) != len(agents) or len(set(paths)) != len(paths):
        raise ValidationError("a change set names an agent or a path twice", code="set-duplicate")
    if any(agent.archived for agent, _, _ in entries if agent is not None):
        raise ValidationError("an agent of the set is archived", code="agent-archived")
    documents = [parse_text(text) for _, _, text in entries]
    items = [
        ChangeItem(
            agent=agent,
            path=path,
            base_version_id=agent.live_version_id if agent else None,
            text=text,
            text_hash=text_hash(text),
        )
        for agent, path, text in entries
    ]
    _check_names(items, documents)
    for item, problems in zip(items, _problems(items, documents), strict=True):
        item.error_count, item.warning_count = validation.counts(problems)
    with transaction.atomic():
        change = ChangeRequest(
            kind=ChangeRequest.Kind.SET,
            author=author,
            text="",
            message=message,
        )
        _restamp(change, items)
        change.save()
        for item in items:
            item.change = change
        created_rows(items)
        AuditEvent.record("change.create", actor=author, obj=change, request=request)
    return change


@dataclass(frozen=True)
class CheckedItem:
    """An item's problems, and its errors against its baseline (as ChangeRequest.checked)."""

    item: ChangeItem
    problems: list[validation.Problem]
    errors: validation.AgainstBase

    @property
    def introduced(self) -> list[validation.Problem]:
        return self.errors.introduced

    @property
    def fixed(self) -> list[validation.Problem]:
        return self.errors.fixed


def checked_items(
    change: ChangeRequest, items: list[ChangeItem] | None = None
) -> list[CheckedItem]:
    """Every item's problems, sorted against its base version's (the live one's stored
    problems; none for a new agent, which must be clean, and under strict enforcement)."""
    items = items if items is not None else list(change.items.select_related("agent"))
    documents = [parse_text(item.text) for item in items]
    strict = enforcement_is_strict()
    found = []
    for item, problems in zip(items, _problems(items, documents), strict=True):
        base: list[validation.Problem] = []
        if item.agent_id and item.base_version_id and not strict:
            if item.base_version_id == item.agent.live_version_id:
                base = [validation.Problem(**problem) for problem in item.agent.problems]
            else:
                base = item.agent.problems_of_version(item.base_version)
        problems = validation.sort_problems(problems)
        found.append(CheckedItem(item, problems, validation.against_base(problems, base)))
    return found


def refuse_errors(change: ChangeRequest) -> None:
    """WorkflowError when an item brings in errors, as submitting a single change is refused."""
    refused = [checked for checked in checked_items(change) if checked.introduced]
    if refused:
        first = refused[0]
        error = first.introduced[0]
        raise WorkflowError(
            f"{len(refused)} agent{'s' if len(refused) != 1 else ''} of the set have errors "
            f"their live versions do not have; fix them before submitting (first: "
            f"{first.item.label}, line {error.line}: {error.message})"
        )


def publish_set(change: ChangeRequest, user, request) -> Outcome:
    """Inside the caller's transaction, with the set's row locked: every agent published, or
    the set merged with live versions that moved, or handed back in conflict, or (a name or an
    agent no longer available) nothing at all."""
    items = list(change.items.select_related("agent", "base_version"))
    ids = [item.agent_id for item in items if item.agent_id]
    agents = {agent.pk: agent for agent in Agent.objects.select_for_update().filter(pk__in=ids)}
    if any(agent.archived for agent in agents.values()):
        raise WorkflowError("an agent of the set was archived since; it cannot be published")
    for item in items:
        if item.agent_id:
            item.agent = agents[item.agent_id]
    moved = [
        item
        for item in items
        if item.agent_id and item.agent.live_version_id != item.base_version_id
    ]
    if moved:
        return _merge_with_live(change, items, moved, user, request)
    for item in items:
        if item.agent_id:  # its base is its live version: no query per agent for it
            item.agent.live_version = item.base_version
    documents = [parse_text(item.text) for item in items]
    try:
        _check_names(items, documents)
    except ValidationError as error:
        raise WorkflowError(" ".join(error.messages)) from None
    old_paths = {item.pk: item.old_path for item in items}
    moving = [item.agent for item in items if old_paths[item.pk]]
    for item in items:
        if old_paths[item.pk]:
            item.agent.path = item.path
    update_rows(moving, ["path"])
    versions = Agent.objects.make_live(
        [
            (item.agent if item.agent_id else None, item.path, document, None)
            for item, document in zip(items, documents, strict=True)
        ],
        change.author,
        change.message or str(change),
    )
    for item, version in zip(items, versions, strict=True):
        item.published_version = version
        item.agent = version.agent
    update_rows(items, ["published_version", "agent"])
    change.status = ChangeRequest.Status.PUBLISHED
    change.save(update_fields=["status", "updated_at"])
    Push.queue_set(
        change,
        [
            (
                item.agent,
                version,
                item.path,
                old_paths[item.pk],
                item.base_version.sha256 if item.base_version_id else "",
            )
            for item, version in zip(items, versions, strict=True)
        ],
    )
    Agent.objects.refresh_problems()
    AuditEvent.record(
        "change.publish", actor=user, obj=change, request=request, agents=len(versions)
    )
    return Outcome((Result.PUBLISHED,), versions=tuple(versions))


def _merge_with_live(change, items, moved, user, request) -> Outcome:
    """Live versions moved since the set began: each is merged on its own; any conflict hands
    the set back to its author, else the merged set needs a fresh approval."""
    from registry.agentfiles.merge import merge

    live = dict(
        Version.objects.filter(pk__in=[item.agent.live_version_id for item in moved]).values_list(
            "pk", "text"
        )
    )
    conflicted = []
    for item in moved:
        base = item.base_version.text if item.base_version_id else ""
        result = merge(base, item.text, live.get(item.agent.live_version_id, ""))
        if result.conflicts:
            item.conflicts = list(result.conflicts)
            conflicted.append(item)
        else:
            item.text, item.text_hash = result.text, text_hash(result.text)
            item.base_version_id = item.agent.live_version_id
            item.conflicts = []
    if conflicted:
        # Only the conflicts are kept: the texts stay as they were until the author resolves.
        update_rows(conflicted, ["conflicts"])
        change.conflicts = [
            f"{item.label}: {part}" for item in conflicted for part in item.conflicts
        ]
        change.status = ChangeRequest.Status.CHANGES_REQUESTED
        change.save(update_fields=["conflicts", "status", "updated_at"])
        Comment.objects.create(
            change=change,
            author=None,
            body="Live versions changed since this change set began, and both sides touch "
            + "; ".join(change.conflicts)
            + ". The author resolves each conflict and submits the set again.",
        )
        AuditEvent.record(
            "change.conflict", actor=user, obj=change, request=request, parts=change.conflicts
        )
        return Outcome((Result.CONFLICT,), conflicts=tuple(change.conflicts))
    documents = [parse_text(item.text) for item in items]
    for item, problems in zip(items, _problems(items, documents), strict=True):
        item.error_count, item.warning_count = validation.counts(problems)
    update_rows(
        items, ["text", "text_hash", "base_version", "conflicts", "error_count", "warning_count"]
    )
    _restamp(change, items)
    change.revision += 1
    change.status = ChangeRequest.Status.OPEN
    change.save()
    Comment.objects.create(
        change=change,
        author=None,
        body=f"Live versions of {len(moved)} agent{'s' if len(moved) != 1 else ''} changed since "
        "this change set began. The two sides touched different parts, so they were merged "
        "into a new revision; it needs a fresh approval.",
    )
    AuditEvent.record(
        "change.merge", actor=user, obj=change, request=request, revision=change.revision
    )
    return Outcome((Result.MERGED,))


# Ways to make a set ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RenamePlan:
    """What renaming an agent changes: its own file (and path), and the agents naming it."""

    agent: Agent
    new_name: str
    new_path: str
    referrers: list[Agent]

    def entries(self) -> list[tuple[Agent, str, str]]:
        own = renaming.renamed_self(self.agent.live_version.document, self.new_name)
        found = [(self.agent, self.new_path, own.text)]
        for other in self.referrers:
            document = renaming.renamed_references(
                other.live_version.document, self.agent.name, self.new_name
            )
            found.append((other, other.path, document.text))
        return found


def plan_rename(agent: Agent, new_name: str) -> RenamePlan:
    """What renaming agent to new_name would change; ValidationError when the name is not
    valid, is taken, or its file's new path is."""
    if agent.archived or agent.live_version_id is None:
        raise ValidationError(f"{agent.display_name} cannot be renamed", code="agent-archived")
    if new_name == agent.name:
        raise ValidationError("the new name is the agent's name already", code="name-unchanged")
    Agent.objects.check_name_available(new_name, exclude=agent)
    new_path = renaming.renamed_path(agent.path, agent.name, new_name)
    if new_path != agent.path and Agent.objects.filter(path=new_path).exists():
        raise ValidationError(f"a file already exists at {new_path}", code="path-taken")
    keys = {key for key, _ in agent.delegated_by()}
    referrers = list(
        Agent.objects.filter(key__in=keys).select_related("live_version").order_by("path")
    )
    return RenamePlan(agent, new_name, new_path, referrers)


def propose_rename(agent: Agent, new_name: str, user, request=None) -> ChangeRequest:
    """A change set that renames agent, moves its file where the path follows the name, and
    renames every delegation to it in other agents: only those lines change."""
    plan = plan_rename(agent, new_name)
    return start_set(
        author=user,
        entries=plan.entries(),
        message=f"Rename {agent.name} to {new_name}",
        request=request,
    )


def missing_sections(agents) -> list[tuple[Agent, str, str]]:
    """(agent, path, text with its missing required sections added) for each of the agents
    (a queryset) that lacks one. One query, reading only those with the problem."""
    rows = (
        agents.filter(archived=False, live_version__isnull=False)
        .with_problem("section-missing")
        .select_related("live_version")
        .order_by("path")
    )
    required = required_sections()
    entries = []
    for agent in rows:
        document, added = fixes.with_missing_sections(agent.live_version.document, required)
        if added:
            entries.append((agent, agent.path, document.text))
    return entries


def propose_missing_sections(agents, user, request=None) -> ChangeRequest:
    """A change set adding the required sections each of the agents lacks, with skeletons."""
    entries = missing_sections(agents)
    return start_set(
        author=user,
        entries=entries,
        message=f"Add the missing required sections to {len(entries)} "
        f"agent{'s' if len(entries) != 1 else ''}",
        request=request,
    )
