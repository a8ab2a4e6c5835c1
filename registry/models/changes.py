"""Change requests on their way through review to publishing, and their reviews and comments."""

from __future__ import annotations

from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone

from registry.agentfiles import validation
from registry.models.agents import (
    Agent,
    StampedQuerySet,
    Version,
    parse_text,
    required_sections,
    text_hash,
)
from registry.models.audit import AuditEvent
from registry.ops import metrics


class SaveConflict(Exception):
    """Someone saved the change request since this copy of it was loaded."""

    def __init__(self, change: ChangeRequest):
        super().__init__("the change request was saved by someone else in the meantime")
        self.change = change


class WorkflowError(Exception):
    """A step the change request's state does not allow, with a message for the person."""


class ChangeRequestQuerySet(StampedQuerySet):
    def active(self):
        return self.filter(status__in=ChangeRequest.ACTIVE_STATUSES)

    def waiting_for(self, user):
        """The changes in which it is this user's turn to act."""
        mine = Q(
            author=user,
            status__in=[ChangeRequest.Status.DRAFT, ChangeRequest.Status.CHANGES_REQUESTED],
        )
        if not user.has_perm("registry.review_change"):
            return self.filter(mine)
        reviewed = Review.objects.filter(
            change=models.OuterRef("pk"),
            reviewer=user,
            verdict=Review.Verdict.APPROVE,
            text_hash=models.OuterRef("text_hash"),
        )
        to_review = Q(status=ChangeRequest.Status.OPEN) & ~Q(author=user) & ~models.Exists(reviewed)
        return self.filter(mine | to_review)


class ChangeRequest(models.Model):
    """A proposed edit, new agent, restore or archive, on its way through review."""

    class Kind(models.TextChoices):
        EDIT = "edit", "Edit"
        CREATE = "create", "New agent"
        RESTORE = "restore", "Restore"
        ARCHIVE = "archive", "Archive"

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
        subject = self.agent.display_name if self.agent_id else "new agent"
        return f"Change #{self.pk} to {subject}"

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
        problems=(),
        kind: str | None = None,
        request=None,
        base_version: Version | None = None,
    ) -> ChangeRequest:
        errors, warnings = validation.counts(problems)
        with transaction.atomic():
            change = cls.objects.create(
                agent=agent,
                kind=kind or (cls.Kind.EDIT if agent else cls.Kind.CREATE),
                author=author,
                base_version=(base_version or agent.live_version) if agent else None,
                text=text,
                text_hash=text_hash(text),
                message=message,
                error_count=errors,
                warning_count=warnings,
            )
            AuditEvent.record("change.create", actor=author, obj=change, request=request)
        return change

    def save_text(
        self, text: str, message: str, expected_revision: int, problems=(), *, rebase=False
    ) -> None:
        """Store a new revision of the proposal, unless someone saved since expected_revision.

        An approved change goes back to open: its approvals were for the old text. With rebase,
        the author resolved a conflict: the change is now based on rebase, the Version the text
        was resolved against (True: the live version now, which is right only if it cannot have
        moved since the author read it; a later version would be overwritten on publishing)."""
        errors, warnings = validation.counts(problems)
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

    def valid_approvals(self):
        """Approvals of exactly the current text, one per reviewer, never the author's."""
        return (
            self.reviews.filter(verdict=Review.Verdict.APPROVE, text_hash=self.text_hash)
            .exclude(reviewer_id=self.author_id)
            .values("reviewer")
            .distinct()
        )

    def stale_approvals(self):
        return self.reviews.filter(verdict=Review.Verdict.APPROVE).exclude(text_hash=self.text_hash)

    def next_actor(self) -> str:
        """Who must act next, in words."""
        if self.conflicts:
            return "the author, to resolve the conflict in the editor"
        return {
            self.Status.DRAFT: "the author, to submit it for review",
            self.Status.OPEN: "a reviewer other than the author",
            self.Status.CHANGES_REQUESTED: "the author, to address the requested changes",
            self.Status.APPROVED: "a reviewer, to publish it",
        }.get(self.status, "nobody: it is closed")

    def allowed_actions(self, user) -> set[str]:
        """The actions this user may take now (the server checks again when they are taken)."""
        actions = set()
        is_author = user.pk == self.author_id
        can_propose = user.has_perm("registry.propose_change")
        can_review = user.has_perm("registry.review_change")
        if self.is_active and (can_propose or can_review):
            actions.add("comment")
        if is_author and can_propose:
            if self.is_editable:
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

    def submit(self, user, request=None) -> None:
        if user.pk != self.author_id or not user.has_perm("registry.propose_change"):
            self._deny(user, "submit", "only the author can submit this change", request)
        with transaction.atomic():
            change = self._locked()
            if change.status not in (self.Status.DRAFT, self.Status.CHANGES_REQUESTED):
                raise WorkflowError(
                    f"a change that is {change.get_status_display()} cannot be submitted"
                )
            if change.conflicts:
                raise WorkflowError("resolve the conflict in the editor before submitting")
            if change.kind != self.Kind.ARCHIVE:
                errors = [p for p in change.current_problems() if p.is_error]
                if errors:
                    raise WorkflowError(
                        f"the text has {len(errors)} error{'s' if len(errors) != 1 else ''}; "
                        f"fix them before submitting (first: line {errors[0].line}: "
                        f"{errors[0].message})"
                    )
            change.status = self.Status.OPEN
            change.save(update_fields=["status", "updated_at"])
            AuditEvent.record("change.submit", actor=user, obj=change, request=request)
        self.refresh_from_db()

    def review(
        self, user, verdict: str, body: str = "", request=None, *, seen_hash: str | None = None
    ) -> Review:
        """Approve, request changes or comment as a reviewer. Enough approvals publish.

        seen_hash is the hash of the text the reviewer was shown: if the text changed since,
        the review is refused, so that nobody approves text they have not seen."""
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
            )
            if verdict == Review.Verdict.REQUEST_CHANGES:
                change.status = self.Status.CHANGES_REQUESTED
                change.save(update_fields=["status", "updated_at"])
            elif (
                verdict == Review.Verdict.APPROVE
                and change.valid_approvals().count() >= settings.REGISTRY_APPROVALS_REQUIRED
            ):
                change.status = self.Status.APPROVED
                change.save(update_fields=["status", "updated_at"])
                change._publish(user, request)
        self.refresh_from_db()
        return review

    def publish(self, user, request=None) -> None:
        if not user.has_perm("registry.review_change"):
            self._deny(user, "publish", "only reviewers can publish changes", request)
        with transaction.atomic():
            change = self._locked()
            if change.status != self.Status.APPROVED:
                raise WorkflowError(
                    f"a change that is {change.get_status_display()} cannot be published"
                )
            change._publish(user, request)
        self.refresh_from_db()

    def _publish(self, user, request) -> None:
        """Inside the caller's transaction, with this change row locked."""
        if self.valid_approvals().count() < settings.REGISTRY_APPROVALS_REQUIRED:
            raise WorkflowError("the current text does not have enough approvals")
        if self.kind == self.Kind.CREATE:
            version = self._publish_new_agent()
        else:
            agent = Agent.objects.select_for_update().get(pk=self.agent_id)
            if agent.live_version_id != self.base_version_id:
                self._merge_with_live(agent, user, request)
                return
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
        Agent.objects.refresh_problems()
        AuditEvent.record(
            "change.publish",
            actor=user,
            obj=self,
            request=request,
            version=version.number if version else None,
        )

    def _publish_new_agent(self) -> Version:
        document = parse_text(self.text)
        name = validation.agent_name(document) or ""
        try:
            Agent.objects.check_name_available(name)
            path = Agent.path_for_name(name)
        except ValidationError as error:
            raise WorkflowError(" ".join(error.messages)) from None
        if Agent.objects.filter(path=path).exists():
            raise WorkflowError(f"a file already exists at {path}")
        agent = Agent.objects.create(path=path, key=Agent.objects.unique_key(name, path))
        version = agent.add_version(self.text, self.author, self.message or "Created")
        self.agent = agent
        return version

    def _merge_with_live(self, agent: Agent, user, request) -> None:
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
            return
        problems = validation.intrinsic_problems(parse_text(result_text), required_sections())
        errors, warnings = validation.counts(problems)
        self.text = result_text
        self.text_hash = text_hash(result_text)
        self.base_version_id = agent.live_version_id
        self.revision += 1
        self.error_count, self.warning_count = errors, warnings
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

    def request_changes(self, user, body="", request=None, *, seen_hash=None) -> Review:
        return self.review(user, Review.Verdict.REQUEST_CHANGES, body, request, seen_hash=seen_hash)

    def approve(self, user, body="", request=None, *, seen_hash=None) -> Review:
        return self.review(user, Review.Verdict.APPROVE, body, request, seen_hash=seen_hash)

    def reject(self, user, body: str = "", request=None) -> None:
        if not user.has_perm("registry.review_change") or user.pk == self.author_id:
            self._deny(user, "reject", "only a reviewer other than the author can reject", request)
        # Only a change waiting for a reviewer: a draft, or one sent back, is its author's turn.
        waiting = (self.Status.OPEN, self.Status.APPROVED)
        with self._refusal_denied(user, "reject", request):
            self._close(user, self.Status.REJECTED, "change.reject", body, request, waiting)

    def withdraw(self, user, request=None) -> None:
        if user.pk != self.author_id:
            self._deny(user, "withdraw", "only the author can withdraw this change", request)
        self._close(user, self.Status.WITHDRAWN, "change.withdraw", "", request)

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

    def comment(self, user, body: str, request=None) -> Comment:
        if not (
            user.has_perm("registry.propose_change") or user.has_perm("registry.review_change")
        ):
            self._deny(user, "comment", "only editors and reviewers can comment", request)
        body = body.strip()
        if not body:
            raise WorkflowError("a comment cannot be empty")
        with self._refusal_denied(user, "comment", request), transaction.atomic():
            change = self._locked()
            if not change.is_active:
                raise WorkflowError(
                    f"a change that is {change.get_status_display()} cannot be commented on"
                )
            comment = Comment.objects.create(change=change, author=user, body=body[:10_000])
            AuditEvent.record("change.comment", actor=user, obj=change, request=request)
        return comment

    @classmethod
    def propose_restore(cls, version: Version, user, request=None) -> ChangeRequest:
        """A change request that puts an old version's text back, through review."""
        agent = version.agent
        return cls.start_draft(
            author=user,
            text=version.text,
            message=f"Restore version {version.number}",
            agent=agent,
            problems=validation.intrinsic_problems(version.document, required_sections()),
            kind=cls.Kind.RESTORE,
            request=request,
        )

    @classmethod
    def propose_archive(cls, agent: Agent, user, request=None) -> ChangeRequest:
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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment on {self.change}"


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
    metrics.Gauge(
        "registry_change_requests",
        "Change requests by status, counted when scraped.",
        ("status",),
        collect=_change_requests_by_status,
    )
)
