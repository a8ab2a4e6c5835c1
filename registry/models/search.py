"""Full-text search of agents: SQLite FTS5 or PostgreSQL text search, whichever the database is."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from registry.agentfiles.document import AgentDocument

# Rows of the SQLite FTS5 table are keyed by agent id (its rowid).
FTS_TABLE = "registry_agent_search"
CREATE_FTS_TABLE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "name, description, body, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
)
# bm25's weights of the name, description and body columns: as on PostgreSQL, names weigh most.
FTS_WEIGHTS = "10.0, 4.0, 1.0"
CREATE_GIN_INDEX = (
    "CREATE INDEX IF NOT EXISTS registry_agent_search_vector_gin "
    "ON registry_agent USING gin (search_vector)"
)
# Names weigh most, then descriptions, then the body; 'simple' neither stems nor drops stop
# words, so that prefixes typed into the search box match as they do on SQLite.
PG_CONFIG = "simple"
PG_VECTOR_SQL = (
    f"setweight(to_tsvector('{PG_CONFIG}', %s), 'A') || "
    f"setweight(to_tsvector('{PG_CONFIG}', %s), 'B') || "
    f"setweight(to_tsvector('{PG_CONFIG}', %s), 'C')"
)
MAX_TERMS = 12
MAX_QUERY_LENGTH = 200
_WORD_RE = re.compile(r"[^\W_]+")


def search_terms(query: str) -> list[list[str]]:
    """The user's text as terms, each a list of words: `backend-arch "api` ->
    [["backend", "arch"], ["api"]]. Only letters and digits survive, so no query syntax can."""
    query = unicodedata.normalize("NFKC", query[:MAX_QUERY_LENGTH]).lower()
    terms = [_WORD_RE.findall(term) for term in query.split()]
    return [words for words in terms if words][:MAX_TERMS]


def index_words(text: str) -> str:
    """Text as the words search_terms finds in a query, so that both sides split alike
    (PostgreSQL's own parser reads `helper-5` as `helper` and `-5`, which `5` never matches)."""
    return " ".join(_WORD_RE.findall(unicodedata.normalize("NFKC", text).lower()))


def fts5_query(query: str) -> str:
    """An FTS5 MATCH expression: every term must match, each as a phrase whose last word is a
    prefix (`"backend arch"* "api"*`). Empty when the text holds no words."""
    return " ".join('"' + " ".join(words) + '"*' for words in search_terms(query))


def tsquery(query: str) -> str:
    """A PostgreSQL tsquery (for to_tsquery) with the same meaning as fts5_query."""
    return " & ".join(
        "(" + " <-> ".join([*words[:-1], words[-1] + ":*"]) + ")" for words in search_terms(query)
    )


def document_fields(text: str) -> tuple[str, str]:
    """(description, body) of an agent's text, for the index."""
    document = AgentDocument(text)
    description = (document.frontmatter or {}).get("description")
    return (description if isinstance(description, str) else ""), document.body


def write_index(connection, rows: Iterable[tuple[int, str, str, str]]) -> None:
    """Store (agent id, name, description, body) rows in the database's search index."""
    rows = list(rows)
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.executemany(
                f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [(row[0],) for row in rows]
            )
            cursor.executemany(
                f"INSERT INTO {FTS_TABLE} (rowid, name, description, body) VALUES (%s, %s, %s, %s)",
                rows,
            )
        elif connection.vendor == "postgresql":
            cursor.executemany(
                f"UPDATE registry_agent SET search_vector = {PG_VECTOR_SQL} WHERE id = %s",
                [
                    (index_words(name), index_words(description), index_words(body), pk)
                    for pk, name, description, body in rows
                ],
            )


def create_index(connection) -> None:
    """The search table (SQLite) or index (PostgreSQL); other databases search without one."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(CREATE_FTS_TABLE)
        elif connection.vendor == "postgresql":
            cursor.execute(CREATE_GIN_INDEX)


def drop_index(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        elif connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS registry_agent_search_vector_gin")
