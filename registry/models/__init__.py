"""The registry's models: agents, versions, change requests, reviews, the audit log, API tokens."""

from .agents import (
    LISTED_FIELDS,
    Agent,
    AgentQuerySet,
    ExportReport,
    ImmutableVersionError,
    ImportReport,
    IncomingFile,
    Version,
    db_text,
    export_agents,
    import_files,
    json_safe,
    max_file_bytes,
    parse_text,
    required_sections,
    text_hash,
)
from .audit import AuditEvent, AuditLogIsAppendOnly
from .changes import ChangeRequest, Comment, Review, SaveConflict, WorkflowError
from .tokens import ApiToken

__all__ = [
    "Agent",
    "ApiToken",
    "AgentQuerySet",
    "AuditEvent",
    "AuditLogIsAppendOnly",
    "ChangeRequest",
    "Comment",
    "ExportReport",
    "ImmutableVersionError",
    "ImportReport",
    "IncomingFile",
    "LISTED_FIELDS",
    "Review",
    "SaveConflict",
    "Version",
    "WorkflowError",
    "db_text",
    "export_agents",
    "import_files",
    "json_safe",
    "max_file_bytes",
    "parse_text",
    "required_sections",
    "text_hash",
]
