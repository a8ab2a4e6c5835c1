"""The registry's models: agents, versions, change requests, reviews, the audit log, API tokens."""

from registry.models.agents import (
    LISTED_FIELDS,
    Agent,
    AgentDelegation,
    AgentQuerySet,
    ImmutableVersionError,
    RowPaginator,
    Version,
    db_text,
    json_safe,
    max_file_bytes,
    parse_text,
    required_sections,
    rules_fingerprint,
    text_hash,
)
from registry.models.audit import AuditEvent, AuditLogIsAppendOnly
from registry.models.change_sets import ChangeItem
from registry.models.changes import (
    ChangeRequest,
    Comment,
    Outcome,
    Result,
    Review,
    SaveConflict,
    WorkflowError,
)
from registry.models.compliance import ComplianceSnapshot, enforcement_is_strict
from registry.models.imports import ImportJob
from registry.models.repository import Push, RepositoryState
from registry.models.tasks import TaskProgress
from registry.models.tokens import ApiToken

__all__ = [
    "Agent",
    "AgentDelegation",
    "ApiToken",
    "AgentQuerySet",
    "AuditEvent",
    "AuditLogIsAppendOnly",
    "ChangeItem",
    "ChangeRequest",
    "Comment",
    "ComplianceSnapshot",
    "ImmutableVersionError",
    "ImportJob",
    "LISTED_FIELDS",
    "Outcome",
    "Push",
    "RepositoryState",
    "Result",
    "RowPaginator",
    "Review",
    "SaveConflict",
    "TaskProgress",
    "Version",
    "WorkflowError",
    "db_text",
    "enforcement_is_strict",
    "json_safe",
    "max_file_bytes",
    "parse_text",
    "required_sections",
    "rules_fingerprint",
    "text_hash",
]
