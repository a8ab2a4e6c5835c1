"""Change requests on their way through review to publishing, and their reviews and comments."""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone

from registry.agentfiles import risk, validation
from registry.editor import character_error
from registry.models.agents import (
    Agent,
    StampedQuerySet,
    Version,
    parse_text,
    target_of,
    text_hash,
    update_rows,
)
from registry.models.audit import AuditEvent
from registry.models.compliance import enforcement_is_strict
from registry.models.repository import Push
from registry.ops import metrics

# The longest note a reviewer leaves with a verdict or a rejection; longer ones are cut.
NOTE_MAX_LENGTH = 10_000


class SaveConflict(Exception):
    """Someone saved the change request since this copy of it was loaded."""

    def __init__(self, change: ChangeRequest):
        super().__init__("the change request was saved by someone else in the meantime")
        self.change = change


class WorkflowError(Exception):
    """A step the change request's state does not allow, with a message for the person."""


class UnresolvedComments(WorkflowError):
    """An approval refused while comments on the change are unresolved (their ids)."""

    def __init__(self, comment_ids: list[int]):
        count = len(comment_ids)
        super().__init__(
            f"{count} comment{'s are' if count != 1 else ' is'} unresolved; resolve "
            f"{'them' if count != 1 else 'it'} before approving"
        )
        self.comment_ids = tuple(comment_ids)


class Result(StrEnum):
    """What one workflow step did."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    COMMENTED = "commented"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    PUBLISHED = "published"
    # The live version moved since the change began: its text and the change's were merged
    # into a new revision, which needs a fresh approval.
    MERGED = "merged"
    # The live version moved and both touch the same parts: handed back to the author.
    CONFLICT = "conflict"
    # Not allowed in the change's state: nothing was done.
    REFUSED = "refused"


@dataclass(frozen=True)
class Outcome:
    """What a transition did, in order (an approval may go on to publish, to a merge or to a
    conflict), so that a page says it without guessing from the fields."""

    results: tuple[Result, ...]
    # PUBLISHED: the version made live; None when publishing archived the agent.
    version: Version | None = None
    conflicts: tuple[str, ...] = ()  # CONFLICT: the parts both sides changed
    reason: str = ""  # REFUSED: why nothing was done
    review: Review | None = None  # the verdict an approval or a request for changes recorded
    versions: tuple[Version, ...] = ()  # PUBLISHED, a change set: the versions made live
    comments: tuple[int, ...] = ()  # REFUSED for unresolved comments: their ids

    @property
    def result(self) -> Result:
        return self.results[-1]

    def then(self, later: Outcome) -> Outcome:
        """This step followed by what it led to."""
        return replace(later, results=self.results + later.results, review=self.review)


@dataclass(frozen=True)
class Action:
    """Something a user may do with a change, as the change page offers it."""

    name: str
    label: str  # its button or link; {pk} stands for the change's number
    # The ChangeRequest method that takes it (user first, then request and inputs); none for
    # editing, which happens in the editor.
    method: str = ""
    # (argument of the method, form field it is read from).
    inputs: tuple[tuple[str, str], ...] = ()
    note: str = ""  # the label of its optional note, if it takes one
    confirm: str = ""  # what it is folded behind, a second click confirming it; "" for nothing
    help: str = ""
    style: str = ""  # "primary" or "danger"
    joins: str = ""  # the action whose form its button goes in ("" for a form of its own)
    # Where the page offers it: "steps" (the workflow panel), "head" or "discussion".
    place: str = "steps"

    @property
    def shows_text_hash(self) -> bool:
        """Whether its form carries the hash of the text shown, refused if it changed since."""
        return any(argument == "seen_hash" for argument, _ in self.inputs)


REVIEW_INPUTS = (("body", "note"), ("seen_hash", "seen_hash"))
# Every action, in the order the page offers them.
ACTIONS = {
    action.name: action
    for action in (
        Action(
            "submit",
            "Submit for review",
            "submit",
            help="Reviewers are asked to approve it; errors the change brings in stop it.",
            style="primary",
        ),
        Action(
            "approve",
            "Approve",
            "approve",
            REVIEW_INPUTS,
            note="Note to the author",
            style="primary",
        ),
        Action(
            "request_changes", "Request changes", "request_changes", REVIEW_INPUTS, joins="approve"
        ),
        Action("publish", "Publish", "publish", style="primary"),
        Action(
            "reject",
            "Reject change #{pk}",
            "reject",
            (("body", "note"),),
            note="Why",
            confirm="Reject…",
            help="A rejected change is closed for good.",
            style="danger",
        ),
        Action(
            "withdraw",
            "Withdraw change #{pk}",
            "withdraw",
            confirm="Withdraw…",
            help="A withdrawn change is closed for good; its text stays readable here.",
            style="danger",
        ),
        Action("edit", "Edit in the editor", place="head"),
        Action(
            "comment",
            "Comment",
            "comment",
            (("body", "body"), ("anchor", "anchor")),
            place="discussion",
        ),
    )
}


@dataclass(frozen=True)
class Checked:
    """A proposed text's problems, and its errors against its baseline (ChangeRequest.checked)."""

    problems: list[validation.Problem]
    baseline: Version | None  # None: every error counts
    errors: validation.AgainstBase

    @property
    def introduced(self) -> list[validation.Problem]:
        return self.errors.introduced

    @property
    def already_there(self) -> list[validation.Problem]:
        return self.errors.already_there

    @property
    def fixed(self) -> list[validation.Problem]:
        return self.errors.fixed

    @property
    def warnings(self) -> list[validation.Problem]:
        return [problem for problem in self.problems if not problem.is_error]


class ChangeRequestQuerySet(StampedQuerySet):
    def active(self):
        return self.filter(status__in=ChangeRequest.ACTIVE_STATUSES)

    def recount(self) -> None:
        """Count again the errors and warnings of these changes' texts, against the registry
        as it is now (after the rules changed). Their revisions stay as they are."""
        changes = list(self.select_related("agent"))
        for change in changes:
            if change.kind not in (ChangeRequest.Kind.ARCHIVE, ChangeRequest.Kind.SET):
                change.error_count, change.warning_count = validation.counts(
                    change.current_problems()
                )
        update_rows(changes, ["error_count", "warning_count"])

    def waiting_for(self, user):
        """The changes in which it is this user's turn to act."""
        return self._waiting_for(user.pk, user.has_perm("registry.review_change"))

    def _waiting_for(self, user_id: int, reviewer: bool):
        mine = Q(
            author_id=user_id,
            status__in=[ChangeRequest.Status.DRAFT, ChangeRequest.Status.CHANGES_REQUESTED],
        )
        if not reviewer:
            return self.filter(mine)
        reviewed = Review.objects.filter(
            change=models.OuterRef("pk"),
            reviewer_id=user_id,
            verdict=Review.Verdict.APPROVE,
            text_hash=models.OuterRef("text_hash"),
        )
        to_review = (
            Q(status=ChangeRequest.Status.OPEN) & ~Q(author_id=user_id) & ~models.Exists(reviewed)
        )
        return self.filter(mine | to_review)


# The user id that _waiting_count_statement builds its SQL for, and that the user's own id
# takes the place of when it runs; no user has it (ids are positive).
ANY_USER = -1


@functools.cache
def _waiting_count_statement(using: str, reviewer: bool) -> tuple[str, tuple]:
    """The SQL of waiting_for(user).count() with ANY_USER for the user's id, and its parameters:
    made by the ORM once per process and database, since making it takes thirty times as long
    (1 ms) as running it."""
    waiting = ChangeRequest.objects.using(using)._waiting_for(ANY_USER, reviewer)
    sql, params = waiting.order_by().values("pk").query.get_compiler(using).as_sql()
    return f"SELECT COUNT(*) FROM ({sql}) waiting", tuple(params)


class ChangeRequest(models.Model):
    """A proposed edit, new agent, restore or archive, on its way through review."""

    class Kind(models.TextChoices):
        EDIT = "edit", "Edit"
        CREATE = "create", "New agent"
        RESTORE = "restore", "Restore"
        ARCHIVE = "archive", "Archive"
        SET = "set", "Change set"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open for review"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    ACTIVE_STATUSES = (
        Status.DRAFT,
        Status.OPEN,
        Status.CHANGES_REQUESTED,
        Status.APPROVED,
    )
    EDITABLE_STATUSES = (Status.DRAFT, Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED)

    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.EDIT)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="change_requests"
    )
    base_version = models.ForeignKey(
        Version, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField()
    text_hash = models.CharField(max_length=64)
    # Bumped by every save; a save names the revision it started from.
    revision = models.PositiveIntegerField(default=1)
    message = models.CharField(max_length=500, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    # What the text grants against its base (registry.agentfiles.risk), kept with the text.
    risk = models.CharField(
        max_length=10,
        choices=[(level, risk.LEVEL_LABELS[level]) for level in risk.LEVELS],
        default=risk.NONE,
        db_index=True,
    )
    # Parts that clashed with a change published meanwhile; the author resolves them.
    conflicts = models.JSONField(default=list, blank=True)
    published_version = models.ForeignKey(
        Version, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ChangeRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["updated_at"], name="change_updated_at")]
        permissions = [
            ("propose_change", "Can propose changes to agents"),
            ("review_change", "Can review and approve changes"),
            ("maintain_registry", "Can import, export and administer the registry"),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.SET:
            return f"Change set #{self.pk}"
        subject = self.agent.display_name if self.agent_id else "new agent"
        return f"Change #{self.pk} to {subject}"

    @classmethod
    def count_waiting_for(cls, user, using: str = DEFAULT_DB_ALIAS) -> int:
        """How many changes wait for this user: objects.waiting_for(user).count(), which every
        page's header shows."""
        sql, params = _waiting_count_statement(using, user.has_perm("registry.review_change"))
        with connections[using].cursor() as cursor:
            cursor.execute(sql, [user.pk if param == ANY_USER else param for param in params])
            return cursor.fetchone()[0]

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATUSES

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    # Starting and saving --------------------------------------------------------------------

    @classmethod
    def start_draft(
        cls,
        *,
        author,
        text: str,
        message: str = "",
        agent: Agent | None = None,
        kind: str | None = None,
        request=None,
        base_version: Version | None = None,
    ) -> ChangeRequest:
        """Propose text for agent (None: a new agent) as author's draft, checked as every way in
        checks it. Refused with a ValidationError whose code says why (see clean_message,
        AgentQuerySet.check_proposed_name, parse_text); any other problem of the text is
        counted, and stops only its submission."""
        kind = kind or (cls.Kind.EDIT if agent else cls.Kind.CREATE)
        message = cls.clean_message(message)
        errors, warnings = cls._checked_counts(text, agent, kind)
        base_version = (base_version or agent.live_version) if agent else None
        with transaction.atomic():
            change = cls.objects.create(
                agent=agent,
                kind=kind,
                author=author,
                base_version=base_version,
                text=text,
                text_hash=text_hash(text),
                message=message,
                error_count=errors,
                warning_count=warnings,
                risk=cls.risk_of(text, base_version, agent).level,
            )
            AuditEvent.record("change.create", actor=author, obj=change, request=request)
        return change

    @classmethod
    def clean_message(cls, message: str) -> str:
        """The message as stored, its runs of white space made one space. Checked as given:
        refused (ValidationError, code message-too-long or message-characters) when it is over
        the limit or holds a character that cannot be stored or that a reader cannot see."""
        limit = cls._meta.get_field("message").max_length
        if len(message) > limit:
            raise ValidationError(
                f"the message is {len(message):,} characters long; the limit is {limit:,}",
                code="message-too-long",
            )
        if problem := character_error(message):
            raise ValidationError(f"the message, {problem}", code="message-characters")
        return " ".join(message.split())

    @classmethod
    def _checked_counts(cls, text: str, agent: Agent | None, kind: str) -> tuple[int, int]:
        """(errors, warnings) of text proposed for agent, against the registry as it is now,
        after the name rule; ValidationError for a text or a name that cannot be proposed. An
        archive's text is the live one, which it leaves as it is: nothing to check."""
        if kind == cls.Kind.ARCHIVE:
            return 0, 0
        document = parse_text(text)
        Agent.objects.check_proposed_name(document, agent)
        return validation.counts(Agent.objects.problems_of(document, agent, caller="change"))

    def save_text(self, text: str, message: str, expected_revision: int, *, rebase=False) -> None:
        """Store a new revision of the proposal, unless someone saved since expected_revision
        (SaveConflict). The message and the text are checked as start_draft checks them.

        An approved change goes back to open: its approvals were for the old text. With rebase,
        the author resolved a conflict: the change is now based on rebase, the Version the text
        was resolved against (True: the live version now, which is right only if it cannot have
        moved since the author read it; a later version would be overwritten on publishing)."""
        message = self.clean_message(message)
        errors, warnings = self._checked_counts(text, self.agent, self.kind)
        fields = {
            "text": text,
            "text_hash": text_hash(text),
            "message": message,
            "error_count": errors,
            "warning_count": warnings,
            "revision": F("revision") + 1,
            "updated_at": timezone.now(),
            "status": Case(
                When(status=self.Status.APPROVED, then=Value(self.Status.OPEN)),
                default=F("status"),
            ),
        }
        if isinstance(rebase, Version):
            fields["base_version_id"] = rebase.pk
            fields["conflicts"] = []
        elif rebase and self.agent_id:
            live = Agent.objects.filter(pk=self.agent_id).values_list("live_version", flat=True)
            fields["base_version_id"] = live.first()
            fields["conflicts"] = []
        fields["risk"] = self._risk_after_save(text, fields.get("base_version_id", False))
        with transaction.atomic():
            updated = ChangeRequest.objects.filter(
                pk=self.pk, revision=expected_revision, status__in=self.EDITABLE_STATUSES
            ).update(**fields)
            self.refresh_from_db()
            if not updated:
                raise SaveConflict(self)
            AuditEvent.record("change.save", actor=self.author, obj=self, revision=self.revision)

    # Reading -------------------------------------------------------------------------------

    def current_problems(self) -> list[validation.Problem]:
        """The proposed text's problems in the registry as it is now."""
        return Agent.objects.problems_of(parse_text(self.text), self.agent, caller="change")

    def baseline_version(self) -> Version | None:
        """The version whose errors this change may keep: the one it is based on. None for a
        new agent, which must be free of errors, and under REGISTRY_ENFORCEMENT=strict."""
        if self.agent_id is None or enforcement_is_strict():
            return None
        return self.base_version

    def checked(self) -> Checked:
        """The proposed text's problems, its errors sorted against its baseline's (by code and
        the key or section they concern): those it introduces stop it; those already there
        do not; those it fixes are gone."""
        problems = validation.sort_problems(self.current_problems())
        baseline = self.baseline_version()
        base = self.agent.problems_of_version(baseline) if baseline else []
        return Checked(problems, baseline, validation.against_base(problems, base))

    def valid_approvals(self):
        """Approvals of exactly the current text, one per reviewer, never the author's."""
        return (
            self.reviews.filter(verdict=Review.Verdict.APPROVE, text_hash=self.text_hash)
            .exclude(reviewer_id=self.author_id)
            .values("reviewer")
            .distinct()
        )

    # What it grants, and the approvals and comments that stand in its way ------------------

    @classmethod
    def risk_of(cls, text: str, base_version: Version | None, agent: Agent | None):
        """What text grants against base_version (a new agent: against nothing), read as the
        tool that reads the agent's file reads it."""
        target, _ = target_of(agent.path if agent else None)
        return risk.summarize_texts(base_version.text if base_version else None, text, target)

    def risk_summary(self) -> risk.Summary:
        if self.kind == self.Kind.SET:
            return self.items.model.risk_of_set(list(self.items.all()))
        return self.risk_of(self.text, self.base_version, self.agent)

    def _risk_after_save(self, text: str, base_version_id) -> str:
        """The risk level of text saved as this change's, on base_version_id (False: the base
        it has); an archive keeps the live text, so it grants nothing."""
        if self.kind == self.Kind.ARCHIVE:
            return risk.NONE
        base = self.base_version
        if base_version_id is not False:
            base = Version.objects.filter(pk=base_version_id).first()
        return self.risk_of(text, base, self.agent).level

    def high_risk_approval_missing(self) -> bool:
        """Whether the change is high risk and the current text still lacks an approval from
        REGISTRY_HIGH_RISK_GROUP by someone other than its author (stale ones do not count)."""
        if self.risk != risk.HIGH:
            return False
        group = settings.REGISTRY_HIGH_RISK_GROUP
        return not self.valid_approvals().filter(reviewer__groups__name=group).exists()

    def has_enough_approvals(self) -> bool:
        return (
            self.valid_approvals().count() >= settings.REGISTRY_APPROVALS_REQUIRED
            and not self.high_risk_approval_missing()
        )

    def approval_publishes(self, user) -> bool:
        """Whether user's approval, were it the last one missing, is one that counts for it."""
        return not self.high_risk_approval_missing() or (
            user.groups.filter(name=settings.REGISTRY_HIGH_RISK_GROUP).exists()
        )

    def unresolved_comments(self):
        """People's comments nobody has resolved yet (the registry's own notes are not asked)."""
        return self.comments.filter(resolved_at__isnull=True, author__isnull=False)

    def check_comments_resolved(self) -> None:
        """UnresolvedComments when the setting asks for resolved comments and some are not."""
        if settings.REGISTRY_REQUIRE_RESOLVED_COMMENTS:
            ids = list(self.unresolved_comments().values_list("pk", flat=True))
            if ids:
                raise UnresolvedComments(ids)

    def next_actor(self) -> str:
        """Who must act next, in words."""
        if self.conflicts:
            if self.kind == self.Kind.SET:
                return "the author, to resolve each agent's conflict with its Resolve button"
            return "the author, to resolve the conflict in the editor"
        return {
            self.Status.DRAFT: "the author, to submit it for review",
            self.Status.OPEN: "a reviewer other than the author",
            self.Status.CHANGES_REQUESTED: "the author, to address the requested changes",
            self.Status.APPROVED: "a reviewer, to publish it",
        }.get(self.status, "")

    def where_it_stands(self) -> str:
        """The change's state in a sentence, for its page: who acts next, or how it closed."""
        if self.is_active:
            return f"Next: {self.next_actor()}."
        if self.status == self.Status.PUBLISHED:
            if self.kind == self.Kind.ARCHIVE:
                return "Closed: published, and the agent is archived."
            if self.published_version_id:
                return f"Closed: published as version {self.published_version.number}."
            return "Closed: published."
        if self.status == self.Status.REJECTED:
            return "Closed: rejected by a reviewer."
        return "Closed: withdrawn by its author."

    def actions_for(self, user) -> list[Action]:
        """What this user may do with the change now, in the order the page offers it, with
        each label made for this change (the server checks again when an action is taken)."""
        allowed = self.allowed_actions(user)
        actions = [
            replace(action, label=action.label.format(pk=self.pk))
            for name, action in ACTIONS.items()
            if name in allowed
        ]
        if "approve" in allowed and self.approvals_missing() == 1 and self.approval_publishes(user):
            last = "It is the last approval needed: approving publishes the change at once."
            actions = [
                replace(action, help=last) if action.name == "approve" else action
                for action in actions
            ]
        return actions

    def approvals_missing(self) -> int:
        """How many more approvals of the current text publishing needs."""
        missing = settings.REGISTRY_APPROVALS_REQUIRED - self.valid_approvals().count()
        return max(missing, int(self.high_risk_approval_missing()))

    def allowed_actions(self, user) -> set[str]:
        """The names of the actions this user may take now."""
        actions = set()
        is_author = user.pk == self.author_id
        can_propose = user.has_perm("registry.propose_change")
        can_review = user.has_perm("registry.review_change")
        if self.is_active and (can_propose or can_review):
            actions.add("comment")
        if is_author and can_propose:
            if self.is_editable and self.kind != self.Kind.SET:
                actions.add("edit")
            if self.status in (self.Status.DRAFT, self.Status.CHANGES_REQUESTED):
                actions.add("submit")
            if self.is_active:
                actions.add("withdraw")
        if can_review and not is_author and self.status in (self.Status.OPEN, self.Status.APPROVED):
            actions.update({"approve", "request_changes", "reject"})
        if can_review and self.status == self.Status.APPROVED and not self.conflicts:
            actions.add("publish")
        return actions

    # Transitions ---------------------------------------------------------------------------

    def take(self, name: str, user, request=None, **inputs) -> Outcome:
        """Take the action of ACTIONS named name as user, with the inputs its form gives
        (Action.inputs). A step the change's state does not allow comes back as a refused
        outcome; one this user may never take raises PermissionDenied."""
        action = ACTIONS[name]
        if not action.method:
            raise ValueError(f"{name} is not a step taken on the change itself")
        arguments = {
            argument: inputs[argument] for argument, _ in action.inputs if argument in inputs
        }
        try:
            return getattr(self, action.method)(user, request=request, **arguments)
        except UnresolvedComments as refusal:
            return Outcome((Result.REFUSED,), reason=str(refusal), comments=refusal.comment_ids)
        except WorkflowError as refusal:
            return Outcome((Result.REFUSED,), reason=str(refusal))

    def _locked(self) -> ChangeRequest:
        return ChangeRequest.objects.select_for_update().get(pk=self.pk)

    def _deny(self, user, action: str, reason: str, request=None):
        # Recorded outside the caller's transaction would be lost on rollback: callers raise
        # after this returns, and the views record denials before raising too.
        AuditEvent.record(
            f"change.{action}.denied", actor=user, obj=self, request=request, reason=reason
        )
        raise PermissionDenied(reason)

    @contextmanager
    def _refusal_denied(self, user, action: str, request=None):
        """Audit a step refused for the change's state (a WorkflowError) as denied. Recorded once
        the step's transaction has rolled back, which would otherwise take the record with it."""
        try:
            yield
        except WorkflowError as refusal:
            AuditEvent.record(
                f"change.{action}.denied",
                actor=user,
                obj=self,
                request=request,
                reason=str(refusal),
            )
            raise

    def submit(self, user, request=None) -> Outcome:
        if user.pk != self.author_id or not user.has_perm("registry.propose_change"):
            self._deny(user, "submit", "only the author can submit this change", request)
        with transaction.atomic():
            change = self._locked()
            if change.status not in (self.Status.DRAFT, self.Status.CHANGES_REQUESTED):
                raise WorkflowError(
                    f"a change that is {change.get_status_display()} cannot be submitted"
                )
            if change.conflicts:
                raise WorkflowError(
                    "resolve each agent's conflict (its Resolve button) before submitting"
                    if self.kind == self.Kind.SET
                    else "resolve the conflict in the editor before submitting"
                )
            if change.kind == self.Kind.SET:
                change.items.model.refuse_errors_of(change)
            elif change.kind != self.Kind.ARCHIVE:
                errors = change.checked().introduced
                if errors:
                    baseline = change.baseline_version()
                    raise WorkflowError(
                        f"the text has {len(errors)} error{'s' if len(errors) != 1 else ''}"
                        + (f" that version {baseline.number} does not have" if baseline else "")
                        + f"; fix them before submitting (first: line {errors[0].line}: "
                        f"{errors[0].message})"
                    )
            change.status = self.Status.OPEN
            change.save(update_fields=["status", "updated_at"])
            AuditEvent.record(
                "change.submit", actor=user, obj=change, request=request, risk=change.risk
            )
        self.refresh_from_db()
        return Outcome((Result.SUBMITTED,))

    def review(
        self, user, verdict: str, body: str = "", request=None, *, seen_hash: str | None = None
    ) -> Outcome:
        """Approve, request changes or comment as a reviewer, with body as the note (cut at
        NOTE_MAX_LENGTH). Enough approvals publish: the outcome then says what publishing did.

        seen_hash is the hash of the text the reviewer was shown: if the text changed since,
        the review is refused, so that nobody approves text they have not seen."""
        body = body.strip()[:NOTE_MAX_LENGTH]
        if not user.has_perm("registry.review_change"):
            self._deny(user, verdict, "only reviewers can review changes", request)
        if user.pk == self.author_id and verdict != Review.Verdict.COMMENT:
            self._deny(user, verdict, "nobody reviews their own change", request)
        with transaction.atomic():
            change = self._locked()
            if change.status not in (self.Status.OPEN, self.Status.APPROVED):
                raise WorkflowError(
                    f"a change that is {change.get_status_display()} cannot be reviewed"
                )
            if seen_hash is not None and seen_hash != change.text_hash:
                raise WorkflowError(
                    "the proposed text changed while you were reviewing it; read it again"
                )
            if verdict == Review.Verdict.APPROVE:
                change.check_comments_resolved()
            review = Review.objects.create(
                change=change,
                reviewer=user,
                verdict=verdict,
                body=body,
                text_hash=change.text_hash,
                revision=change.revision,
            )
            AuditEvent.record(
                f"change.{verdict}",
                actor=user,
                obj=change,
                request=request,
                revision=change.revision,
                risk=change.risk,
            )
            result = {
                Review.Verdict.APPROVE: Result.APPROVED,
                Review.Verdict.REQUEST_CHANGES: Result.CHANGES_REQUESTED,
            }.get(verdict, Result.COMMENTED)
            outcome = Outcome((result,), review=review)
            if verdict == Review.Verdict.REQUEST_CHANGES:
                change.status = self.Status.CHANGES_REQUESTED
                change.save(update_fields=["status", "updated_at"])
            elif verdict == Review.Verdict.APPROVE and change.has_enough_approvals():
                change.status = self.Status.APPROVED
                change.save(update_fields=["status", "updated_at"])
                outcome = outcome.then(change._publish(user, request))
        self.refresh_from_db()
        return outcome

    def publish(self, user, request=None) -> Outcome:
        if not user.has_perm("registry.review_change"):
            self._deny(user, "publish", "only reviewers can publish changes", request)
        with transaction.atomic():
            change = self._locked()
            if change.status != self.Status.APPROVED:
                raise WorkflowError(
                    f"a change that is {change.get_status_display()} cannot be published"
                )
            outcome = change._publish(user, request)
        self.refresh_from_db()
        return outcome

    def _publish(self, user, request) -> Outcome:
        """Inside the caller's transaction, with this change row locked: published, or merged
        with a live version that moved, or handed back in conflict with it."""
        if not self.has_enough_approvals():
            raise WorkflowError("the current text does not have enough approvals")
        if self.kind == self.Kind.SET:
            return self.items.model.publish_set(self, user, request)
        if self.kind == self.Kind.CREATE:
            version = self._publish_new_agent()
        else:
            agent = Agent.objects.select_for_update().get(pk=self.agent_id)
            if agent.live_version_id != self.base_version_id:
                return self._merge_with_live(agent, user, request)
            if self.kind == self.Kind.ARCHIVE:
                agent.archived = True
                agent.save(update_fields=["archived", "updated_at"])
                version = None
            else:
                try:
                    version = agent.add_version(self.text, self.author, self.message or str(self))
                except ValidationError as error:  # a rename to a name it cannot have
                    raise WorkflowError(" ".join(error.messages)) from None
        self.status = self.Status.PUBLISHED
        self.published_version = version
        self.save(update_fields=["status", "published_version", "updated_at", "agent"])
        Push.queue(self, version)
        Agent.objects.refresh_problems()
        AuditEvent.record(
            "change.publish",
            actor=user,
            obj=self,
            request=request,
            version=version.number if version else None,
            risk=self.risk,
        )
        return Outcome((Result.PUBLISHED,), version=version)

    def _publish_new_agent(self) -> Version:
        try:
            agent = Agent.create_new(
                self.text, self.author, self.message or "Created", refresh=False
            )
        except ValidationError as error:  # its name was taken meanwhile
            raise WorkflowError(" ".join(error.messages)) from None
        self.agent = agent
        return agent.live_version

    def _merge_with_live(self, agent: Agent, user, request) -> Outcome:
        """The live version moved since this change began: merge, or hand back a conflict."""
        base = self.base_version.text if self.base_version_id else ""
        live = agent.live_version.text if agent.live_version_id else ""
        if self.kind == self.Kind.ARCHIVE:
            result_text, conflicts = live, []
        else:
            from registry.agentfiles.merge import merge

            result = merge(base, self.text, live)
            result_text, conflicts = result.text, result.conflicts
        if conflicts:
            self.conflicts = conflicts
            self.status = self.Status.CHANGES_REQUESTED
            self.save(update_fields=["conflicts", "status", "updated_at"])
            Comment.objects.create(
                change=self,
                author=None,
                body="The live version changed since this change began, and both touch "
                + ", ".join(conflicts)
                + ". Open it in the editor, resolve the conflict and submit it again.",
            )
            AuditEvent.record(
                "change.conflict", actor=user, obj=self, request=request, parts=conflicts
            )
            return Outcome((Result.CONFLICT,), conflicts=tuple(conflicts))
        problems = Agent.objects.problems_of(parse_text(result_text), agent, caller="change")
        errors, warnings = validation.counts(problems)
        self.text = result_text
        self.text_hash = text_hash(result_text)
        self.base_version_id = agent.live_version_id
        self.revision += 1
        self.error_count, self.warning_count = errors, warnings
        self.risk = self.risk_of(result_text, agent.live_version, agent).level
        self.status = self.Status.OPEN
        self.save()
        Comment.objects.create(
            change=self,
            author=None,
            body="The live version changed since this change began. The two touched different "
            "parts, so they were merged into a new revision; it needs a fresh approval.",
        )
        AuditEvent.record(
            "change.merge", actor=user, obj=self, request=request, revision=self.revision
        )
        return Outcome((Result.MERGED,))

    def request_changes(self, user, body="", request=None, *, seen_hash=None) -> Outcome:
        return self.review(user, Review.Verdict.REQUEST_CHANGES, body, request, seen_hash=seen_hash)

    def approve(self, user, body="", request=None, *, seen_hash=None) -> Outcome:
        return self.review(user, Review.Verdict.APPROVE, body, request, seen_hash=seen_hash)

    def reject(self, user, body: str = "", request=None) -> Outcome:
        if not user.has_perm("registry.review_change") or user.pk == self.author_id:
            self._deny(user, "reject", "only a reviewer other than the author can reject", request)
        # Only a change waiting for a reviewer: a draft, or one sent back, is its author's turn.
        waiting = (self.Status.OPEN, self.Status.APPROVED)
        body = body.strip()[:NOTE_MAX_LENGTH]
        with self._refusal_denied(user, "reject", request):
            self._close(user, self.Status.REJECTED, "change.reject", body, request, waiting)
        return Outcome((Result.REJECTED,))

    def withdraw(self, user, request=None) -> Outcome:
        if user.pk != self.author_id:
            self._deny(user, "withdraw", "only the author can withdraw this change", request)
        self._close(user, self.Status.WITHDRAWN, "change.withdraw", "", request)
        return Outcome((Result.WITHDRAWN,))

    def _close(
        self, user, status: str, action: str, body: str, request, from_statuses=ACTIVE_STATUSES
    ) -> None:
        with transaction.atomic():
            change = self._locked()
            if not change.is_active:
                raise WorkflowError(f"the change is already {change.get_status_display()}")
            if change.status not in from_statuses:
                raise WorkflowError(
                    f"a change that is {change.get_status_display()} cannot be "
                    f"{self.Status(status).label.lower()}"
                )
            change.status = status
            change.save(update_fields=["status", "updated_at"])
            if body:
                Comment.objects.create(change=change, author=user, body=body)
            AuditEvent.record(action, actor=user, obj=change, request=request)
        self.refresh_from_db()

    def comment(self, user, body: str, request=None, anchor: str = "") -> Outcome:
        """Comment as user; anchor, when given, is the frontmatter key (`frontmatter.<key>`) or
        section (`section:<title>`) of the diff it is about, as validation problems name them."""
        if not (
            user.has_perm("registry.propose_change") or user.has_perm("registry.review_change")
        ):
            self._deny(user, "comment", "only editors and reviewers can comment", request)
        body = body.strip()
        if not body:
            raise WorkflowError("a comment cannot be empty")
        anchor = Comment.clean_anchor(anchor)
        with self._refusal_denied(user, "comment", request), transaction.atomic():
            change = self._locked()
            if not change.is_active:
                raise WorkflowError(
                    f"a change that is {change.get_status_display()} cannot be commented on"
                )
            comment = Comment.objects.create(
                change=change, author=user, body=body[:10_000], anchor=anchor
            )
            AuditEvent.record(
                "change.comment",
                actor=user,
                obj=change,
                request=request,
                comment=comment.pk,
                anchor=anchor,
            )
        return Outcome((Result.COMMENTED,))

    @classmethod
    def propose_restore(cls, version: Version, user, request=None) -> ChangeRequest:
        """A change request that puts an old version's text back, through review: checked and
        counted as any proposal is, against the agents there are now (ValidationError)."""
        agent = version.agent
        if version.pk == agent.live_version_id:
            raise ValidationError(
                f"Version {version.number} is the live version already.", code="restore-live"
            )
        return cls.start_draft(
            author=user,
            text=version.text,
            message=f"Restore version {version.number}",
            agent=agent,
            kind=cls.Kind.RESTORE,
            request=request,
        )

    @classmethod
    def propose_archive(cls, agent: Agent, user, request=None) -> ChangeRequest:
        """A change request that archives agent once approved (ValidationError if it is)."""
        if agent.archived:
            raise ValidationError(
                f"{agent.display_name} is archived already.", code="agent-archived"
            )
        live = agent.live_version.text if agent.live_version_id else ""
        return cls.start_draft(
            author=user,
            text=live,
            message=f"Archive {agent.display_name}",
            agent=agent,
            kind=cls.Kind.ARCHIVE,
            request=request,
        )


class Review(models.Model):
    """A reviewer's verdict on exactly one proposed text (by its hash)."""

    class Verdict(models.TextChoices):
        APPROVE = "approve", "Approved"
        REQUEST_CHANGES = "request_changes", "Requested changes"
        COMMENT = "comment", "Commented"

    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    body = models.TextField(blank=True)
    text_hash = models.CharField(max_length=64)
    revision = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.get_verdict_display().lower()} {self.change}"

    @property
    def is_stale(self) -> bool:
        return self.text_hash != self.change.text_hash


class Comment(models.Model):
    """A remark on a change request; author None for the registry's own notes."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="change_comments",
    )
    body = models.TextField()
    # The frontmatter key (`frontmatter.<key>`) or section (`section:<title>`) it is about, as
    # validation problems name them; "" for the change as a whole.
    anchor = models.CharField(max_length=300, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    ANCHOR_PREFIXES = ("frontmatter.", "section:")

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment on {self.change}"

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None

    @classmethod
    def clean_anchor(cls, anchor: str) -> str:
        """The anchor as stored; WorkflowError for one that names neither a key nor a section."""
        anchor = " ".join((anchor or "").split())
        if not anchor:
            return ""
        limit = cls._meta.get_field("anchor").max_length
        prefix = next((p for p in cls.ANCHOR_PREFIXES if anchor.startswith(p)), None)
        if prefix is None or anchor == prefix or len(anchor) > limit or character_error(anchor):
            raise WorkflowError(
                "a comment is attached to a frontmatter key (frontmatter.<key>) or a section "
                "(section:<title>)"
            )
        return anchor

    def may_resolve(self, user) -> bool:
        """Its author, the change's author or a maintainer may resolve or reopen it."""
        return user.is_authenticated and (
            user.pk in (self.author_id, self.change.author_id)
            or user.has_perm("registry.maintain_registry")
        )

    def resolve(self, user, request=None, *, reopen: bool = False) -> None:
        """Mark it resolved (or, with reopen, unresolved again), with an audit event."""
        action = "reopen" if reopen else "resolve"
        if not self.may_resolve(user):
            AuditEvent.record(
                f"change.comment.{action}.denied",
                actor=user,
                obj=self.change,
                request=request,
                comment=self.pk,
                reason="only its author, the change's author or a maintainer",
            )
            raise PermissionDenied(
                f"only the comment's author, the change's author or a maintainer can {action} it"
            )
        with transaction.atomic():
            self.resolved_at = None if reopen else timezone.now()
            self.resolved_by = None if reopen else user
            self.save(update_fields=["resolved_at", "resolved_by"])
            AuditEvent.record(
                f"change.comment.{action}",
                actor=user,
                obj=self.change,
                request=request,
                comment=self.pk,
                anchor=self.anchor,
            )


def _change_requests_by_status() -> dict[tuple[str], int]:
    """Every status, counted by one GROUP BY query (statuses with none are 0)."""
    counts = dict.fromkeys(ChangeRequest.Status.values, 0)
    rows = (
        ChangeRequest.objects.order_by()
        .values_list("status")
        .annotate(total=Count("pk"))
        .values_list("status", "total")
    )
    counts.update(dict(rows))
    return {(status,): total for status, total in counts.items()}


change_requests_metric = metrics.register(
    metrics.ScrapedGauge(
        "registry_change_requests",
        "Change requests by status, counted when scraped.",
        ("status",),
        collect=_change_requests_by_status,
    )
)
