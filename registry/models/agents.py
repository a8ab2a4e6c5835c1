"""Agents and their immutable versions; importing and exporting their files."""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connections, models, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify

from registry.agentfiles import targets, validation
from registry.agentfiles.document import AgentDocument, DocumentError
from registry.models import search
from registry.models.compliance import ComplianceSnapshot
from registry.ops.metrics import timed_validation
from registry.sync.files import (
    clean_relative_path,
)

logger = logging.getLogger(__name__)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Folder names that say nothing of what the agents in them do.
PLAIN_FOLDERS = frozenset(
    {"agents", "subagents", "agent", "claude", "github", "opencode", "src", "plugins", "docs"}
)


def required_sections() -> list[str]:
    return list(settings.REGISTRY_REQUIRED_SECTIONS)


def rules_fingerprint() -> str:
    """The fingerprint of the rules as this registry is set up (validation.rules_fingerprint)."""
    return validation.rules_fingerprint(required_sections(), settings.REGISTRY_DEFAULT_TARGET)


def target_of(path: str | None) -> tuple[str, str]:
    """(target, the folder that says so or "") of the tool that reads the file at path, an
    agent path (under REGISTRY_GIT_SUBDIR when that is set); no path: the default target."""
    if not path:
        return settings.REGISTRY_DEFAULT_TARGET, ""
    subdir = settings.REGISTRY_GIT_SUBDIR
    return targets.target_of(
        f"{subdir}/{path}" if subdir else path, settings.REGISTRY_DEFAULT_TARGET
    )


def max_file_bytes() -> int:
    return settings.REGISTRY_MAX_FILE_BYTES


def db_text(text: str) -> str:
    """Text any database can store: PostgreSQL refuses NUL, which a YAML "\\0" escape makes."""
    return text.replace("\x00", "\ufffd")


def json_safe(value):
    """Frontmatter as JSON can hold it: text keys, no NaN or infinity, no NUL."""
    if isinstance(value, dict):
        return {db_text(str(key)): json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return db_text(value)
    return value


class ImmutableVersionError(Exception):
    """Versions are history: they are never changed or deleted."""


# The agent fields a list of agents shows (the list page, the API): never a version's text.
LISTED_FIELDS = (
    "key",
    "path",
    "name",
    "description",
    "category",
    "archived",
    "error_count",
    "warning_count",
)


class StampedQuerySet(models.QuerySet):
    """For models with updated_at: an update() moves it, as save() does (the agent list's
    cache key reads it)."""

    def update(self, **kwargs):
        kwargs.setdefault("updated_at", timezone.now())
        return super().update(**kwargs)


class RowPaginator(Paginator):
    """Pages of an ordered queryset of agents, found in two steps: the page's keys by a query
    of the filter and the order alone, then those agents' rows by `rows` (a queryset with what
    a page shows: joins, annotations), in the page's order. A search ranks every match; so only
    their keys go through the sort, and the joins are made for one page's rows."""

    def __init__(self, ordered, per_page: int, rows, count: int | None = None):
        """count: how many agents ordered holds, when the caller knows it; else counted."""
        super().__init__(ordered.values_list("pk", flat=True), per_page)
        self.rows = rows
        if count is not None:
            self.count = count  # in place of the cached property's query

    def _get_page(self, keys, number, paginator):
        keys = list(keys)
        rows = self.rows.filter(pk__in=keys) if keys else []
        # Model instances or, from values(), dicts that hold their "pk".
        found = {row["pk"] if isinstance(row, dict) else row.pk: row for row in rows}
        # An agent deleted between the two queries is left out of its page.
        return super()._get_page([found[key] for key in keys if key in found], number, paginator)


class AgentQuerySet(StampedQuerySet):
    def active(self):
        return self.filter(archived=False)

    def active_count(self) -> int:
        """How many of these agents are active, as active().count() says. Unfiltered, the two
        counts read no entry per agent: every agent (SQLite counts a table from its pages
        alone), less the archived ones, found in the index on archived (`IN` lets SQLite seek;
        a bare boolean does not). active().count() reads an index entry for each agent: 6 ms
        at 100,000."""
        return self.count() - self.filter(archived__in=[True]).count()

    def search(self, query: str):
        """Agents whose name, description or body hold every word of query (as a prefix).

        Query syntax is never passed through: text without letters or digits matches nothing."""
        vendor = connections[self.db].vendor
        if vendor == "sqlite":
            match = search.fts5_query(query)
            if not match:
                return self.none()
            return self._joined_to_search(match)
        if vendor == "postgresql":
            terms = search.tsquery(query)
            if not terms:
                return self.none()
            return self.filter(
                search_vector=SearchQuery(terms, search_type="raw", config=search.PG_CONFIG)
            )
        # Other databases: no index, and names and descriptions only.
        terms = search.search_terms(query)
        if not terms:
            return self.none()
        found = self
        for words in terms:
            found = found.filter(
                Q(name__icontains=" ".join(words)) | Q(description__icontains=" ".join(words))
            )
        return found

    def in_order(self, sort: str, query: str = ""):
        """In the order the list's Sort names. "relevance", with a search: an agent named as
        the search first, then those whose name starts with it, then by how well the text
        matches (SQLite's bm25, PostgreSQL's ts_rank, names weighing most); "changed": the
        newest live version first. Otherwise, and between equals, by name regardless of case."""
        by_name = (Lower("name"), "name", "path")
        if sort == "changed":
            return self.order_by(F("live_version__created_at").desc(nulls_last=True), *by_name)
        name = "-".join(word for words in search.search_terms(query) for word in words)
        if sort != "relevance" or not name:
            return self.order_by(*by_name)
        return (
            self._with_search_rank(query)
            .annotate(name_lower=Lower("name"))
            .annotate(
                name_match=Case(
                    When(name_lower=name, then=Value(0)),
                    When(name_lower__startswith=name, then=Value(1)),
                    default=Value(2),
                ),
            )
            .order_by("name_match", "search_rank", *by_name)
        )

    def _joined_to_search(self, match: str):
        """SQLite: the agents joined to their rows of the search table that match (an FTS5
        MATCH expression), which the MATCH drives."""
        table = search.FTS_TABLE
        return self.extra(
            tables=[table],
            where=[f"{table}.rowid = {self.model._meta.db_table}.id", f"{table} MATCH %s"],
            params=[match],
        )

    def _with_search_rank(self, query: str):
        """Agents matching query, each with search_rank: how well it matches, the best lowest."""
        vendor = connections[self.db].vendor
        if vendor == "sqlite":
            # bm25 is read off each match of the joined search table as the MATCH finds it,
            # never looked up again per row.
            table = search.FTS_TABLE
            agents = self if table in self.query.extra_tables else self.search(query)
            return agents.extra(select={"search_rank": f"bm25({table}, {search.FTS_WEIGHTS})"})
        if vendor == "postgresql":
            terms = SearchQuery(search.tsquery(query), search_type="raw", config=search.PG_CONFIG)
            return self.annotate(search_rank=SearchRank(F("search_vector"), terms) * Value(-1.0))
        return self.annotate(search_rank=Value(0.0))

    def with_status(self, status: str):
        """Agents that are valid (no problems), have errors, have warnings, or have an open
        change ("open": a change request still in progress). Any other status: all of them."""
        if status == "valid":
            return self.filter(error_count=0, warning_count=0)
        if status == "errors":
            return self.filter(error_count__gt=0)
        if status == "warnings":
            return self.filter(warning_count__gt=0)
        if status == "open":
            return self.filter(Exists(self._open_changes()))
        return self

    def _change_model(self):
        """ChangeRequest, through the relation its rows have to agents (it imports this module)."""
        return self.model._meta.get_field("changes").related_model

    def _open_changes(self):
        return self._change_model().objects.active().filter(agent=OuterRef("pk"))

    def listed(
        self,
        *,
        q: str = "",
        category: str = "",
        status: str = "",
        archived: bool = False,
        problem: str = "",
    ):
        """The agents the list shows for its filters (the list page and the API): active ones
        unless archived, matching the search q, in the category, with the status, with a
        problem of the code given."""
        agents = self if archived else self.active()
        if q:
            agents = agents.search(q)
        if category:
            agents = agents.filter(category=category)
        if problem:
            agents = agents.with_problem(problem)
        return agents.with_status(status)

    def compliance_scope(self):
        """The agents compliance counts: active ones with a live version."""
        return self.model.objects.active().filter(live_version__isnull=False)

    def with_problem(self, code: str):
        """Agents with a problem of this code: the stored list read as JSON text, which both
        databases write with ": " between a key and its value."""
        return self.filter(problems__icontains=f'"code": "{code}"')

    def for_list(self):
        """What a row of the agent list shows, in one query, as dicts: no text of any version,
        and no model instances (reading a page's rows as dicts takes half the time)."""
        return self.values(
            "pk",
            *LISTED_FIELDS,
            changed_at=F("live_version__created_at"),
            changed_by=F("live_version__author__username"),
            has_open_change=Exists(self._open_changes()),
        )

    def categories(self) -> list[str]:
        """The categories of the active agents, sorted, for the list's filter."""
        return list(
            self.active()
            .exclude(category="")
            .order_by("category")
            .values_list("category", flat=True)
            .distinct()
        )

    def generation(self) -> tuple:
        """A cache key part for what the agent list shows, which moves on every change: when an
        agent and a change request last changed. On PostgreSQL also the snapshot, which moves
        with every commit: transactions stamp updated_at before they commit, and two can commit
        in the other order. One query, on indexes."""
        connection = connections[self.db]
        latest = [
            f"(SELECT MAX({model._meta.get_field('updated_at').column}) "
            f"FROM {connection.ops.quote_name(model._meta.db_table)})"
            for model in (Agent, self._change_model())
        ]
        if connection.vendor == "postgresql":
            latest.append("pg_current_snapshot()::text")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(latest)}")
            return tuple(cursor.fetchone())

    def name_taken(self, name: str, exclude: Agent | None = None) -> Agent | None:
        """The agent (not archived) whose name equals name ignoring case, if any."""
        others = (
            self.active()
            .annotate(name_lower=Lower("name"))
            .filter(name_lower=db_text(name).lower())
        )
        if exclude is not None and exclude.pk:
            others = others.exclude(pk=exclude.pk)
        return others.first()

    def check_name_available(self, name: str, exclude: Agent | None = None) -> None:
        """Refuse a new agent's or a rename's name that is not valid or is already taken."""
        if not validation.is_valid_name(name):
            suggestion = validation.suggest_name(name)
            raise ValidationError(
                f"{name!r} is not a valid name: use lowercase letters, digits and single "
                f"hyphens, at most {validation.NAME_MAX_LENGTH} characters"
                + (f" (for example {suggestion!r})" if suggestion else ""),
                code="name-invalid",
            )
        self.check_name_free(name, exclude)

    def check_name_free(self, name: str, exclude: Agent | None = None) -> None:
        """Refuse a name another active agent has, ignoring case."""
        clash = self.name_taken(name, exclude)
        if clash is not None:
            raise ValidationError(
                f"the name {name!r} is already used by the agent {clash.name!r} "
                "(names are unique ignoring case)",
                code="name-taken",
            )

    def check_proposed_name(self, document: AgentDocument, agent: Agent | None = None) -> None:
        """The name rule for a text proposed for agent (None: a new agent), whatever way it came
        in: a new agent's name must be valid and free, and no file may be at the path made from
        it; an agent's new name must not be another agent's. Other problems of a name (a rename
        to an invalid one) only stop the change from being submitted, as any error does."""
        name = validation.agent_name(document) or ""
        if agent is None:
            self.check_name_available(name)
            path = self.model.path_for_name(name)
            if self.filter(path=path).exists():
                raise ValidationError(f"a file already exists at {path}", code="path-taken")
        elif name and name != agent.name:
            self.check_name_free(name, exclude=agent)

    def names_for_validation(
        self, name: str, exclude: Agent | None = None, wanted: Iterable[str] = ()
    ) -> tuple[set[str], list[str]]:
        """(those of the wanted names that active agents have, other agents' names equal to name
        ignoring case), from one query that reads only those rows, for validating a text that
        is not stored yet. `wanted` is the names the text delegates to."""
        # Stored names never hold NUL (db_text), and PostgreSQL refuses it in a query.
        lowered = db_text(name or "").lower()
        wanted = [db_text(other) for other in wanted]
        # Written out: the editor's live check asks this on every keystroke pause, and the
        # ORM took ten times the query's own time to build it. LOWER(name) is the expression
        # of the agent_name_lower index, and the same SQL as Lower("name").
        connection = connections[self.db]
        quote = connection.ops.quote_name
        meta = self.model._meta
        name_column, archived = (quote(meta.get_field(f).column) for f in ("name", "archived"))
        names_in = f"{name_column} IN ({', '.join(['%s'] * len(wanted))}) OR " if wanted else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote(meta.pk.column)}, {name_column} FROM {quote(meta.db_table)} "
                f"WHERE NOT {archived} AND {name_column} <> %s "
                f"AND ({names_in}LOWER({name_column}) = %s)",
                ["", *wanted, lowered],
            )
            rows = cursor.fetchall()
        known, taken = set(), []
        for pk, other in rows:
            known.add(other)
            if other.lower() == lowered and (exclude is None or pk != exclude.pk):
                taken.append(other)
        return known, taken

    def problems_of(
        self,
        document: AgentDocument,
        exclude: Agent | None = None,
        caller: str = "other",
        path: str | None = None,
    ) -> list[validation.Problem]:
        """A text's problems as the editor shows them: its own, and those against the registry
        (names it delegates to, a name other agents have). exclude: the agent the text is for;
        caller: the label its validation time is measured under; path: where the file is (by
        default exclude's), which says the tool whose rules apply."""

        name = validation.agent_name(document) or ""
        wanted = [delegation.name for delegation in validation.delegations(document)]
        known, taken = self.names_for_validation(name, exclude=exclude, wanted=wanted)
        with timed_validation(caller):
            return validation.validate(
                document,
                known,
                taken_names=taken,
                required_sections=required_sections(),
                target=target_of(path or (exclude.path if exclude is not None else None))[0],
            )

    def unique_key(self, name: str, path: str, exclude: Agent | None = None) -> str:
        """The URL key: the name when it is a valid slug not taken, else one made from the path."""
        return self.unique_keys([(name, path)], exclude)[0]

    def unique_keys(self, items: list[tuple[str, str]], exclude: Agent | None = None) -> list[str]:
        """unique_key for many (name, path) pairs at once, each distinct from the others too.
        A query for the names, and one per 200 keys made from paths."""
        taken = self.all()
        if exclude is not None and exclude.pk:
            taken = taken.exclude(pk=exclude.pk)
        reserved = {"new"}  # /agents/new/ is the new-agent editor, not an agent's page
        preferred = [
            name if validation.is_valid_name(name) and name not in reserved else None
            for name, _ in items
        ]
        used = reserved | set(
            taken.filter(key__in=[name for name in preferred if name]).values_list("key", flat=True)
        )
        # First the names: an agent gets its own unless it is taken, here or earlier in items.
        claimed: dict[int, str] = {}
        bases: dict[int, str] = {}
        for index, ((_, path), name) in enumerate(zip(items, preferred, strict=True)):
            if name and name not in used:
                claimed[index] = name
                used.add(name)
            else:
                stem = path[: -len(".md")] if path.endswith(".md") else path
                bases[index] = slugify(stem.replace("/", "-"))[:200] or "agent"
        distinct_bases = sorted(set(bases.values()))
        for start in range(0, len(distinct_bases), 200):  # SQLite's expression depth is limited
            starts = Q()
            for base in distinct_bases[start : start + 200]:
                starts |= Q(key__startswith=base)
            used |= set(taken.filter(starts).values_list("key", flat=True))
        # Then the others, from their paths: base, base-2, base-3...
        keys = []
        for index in range(len(items)):
            key = claimed.get(index)
            if key is None:
                key, number = bases[index], 1
                while key in used:
                    number += 1
                    key = f"{bases[index]}-{number}"
                used.add(key)
            keys.append(key)
        return keys

    def make_live(
        self,
        entries: list[tuple[Agent | None, str, AgentDocument, tuple[dict, dict] | None]],
        author=None,
        message: str = "",
        *,
        synced: bool = False,
    ) -> list[Version]:
        """The one way a text becomes an agent's live version, for editing, import and seeding:
        each (agent, or None for a new agent at path; path; document; its (version fields,
        agent fields) when already derived, else None) is stored as the agent's next version,
        in bulk: the new agents, the versions, the agents' cached fields, the search index.
        synced: the texts are the repository's, so the agents are in step with it. The caller
        holds the transaction, checks names, and refreshes the registry's problems after."""
        fields = [
            derived or (version_fields(document, path), cached_fields(document))
            for _, path, document, derived in entries
        ]
        new = [
            (path, agent_fields["name"])
            for (agent, path, _, _), (_, agent_fields) in zip(entries, fields, strict=True)
            if agent is None
        ]
        keys = self.unique_keys([(name, path) for path, name in new])
        created = iter(
            created_rows(
                [Agent(path=path, key=key) for (path, _), key in zip(new, keys, strict=True)]
            )
        )
        agents = [agent or next(created) for agent, _, _, _ in entries]
        latest = dict(
            Version.objects.filter(agent__in=[agent for agent, _, _, _ in entries if agent])
            .values("agent")
            .annotate(latest=models.Max("number"))
            .values_list("agent", "latest")
        )
        versions = created_rows(
            [
                Version(
                    agent=agent,
                    number=latest.get(agent.pk, 0) + 1,
                    text=document.to_bytes().decode("utf-8"),
                    author=author,
                    message=message,
                    parent=agent.live_version,
                    **version_fields,
                )
                for agent, (_, _, document, _), (version_fields, _) in zip(
                    agents, entries, fields, strict=True
                )
            ]
        )
        now = timezone.now()
        for agent, version, (_, agent_fields) in zip(agents, versions, fields, strict=True):
            agent.live_version = version
            for name, value in agent_fields.items():
                setattr(agent, name, value)
            if synced:
                agent.synced_hash = version.sha256
            agent.updated_at = now
        update_rows(
            agents,
            ["live_version", "name", "description", "category", "updated_at"]
            + (["synced_hash"] if synced else []),
        )
        AgentDelegation.objects.index(versions)
        search.write_index(
            connections[self.db],
            [
                (agent.pk, agent.name, agent.description, document.body)
                for agent, (_, _, document, _) in zip(agents, entries, strict=True)
            ],
        )
        for agent in agents:
            # The vector is written by the database: forget any stale copy, so that a later
            # save() of the instance does not overwrite it.
            agent.__dict__.pop("search_vector", None)
        return versions

    def categories_in_use(self, most: int = 30) -> list[str]:
        """The categories active agents have, the most used first."""
        return list(
            self.active()
            .exclude(category="")
            .values("category")
            .annotate(agents=models.Count("pk"))
            .order_by("-agents", "category")
            .values_list("category", flat=True)[:most]
        )

    def stale_versions(self):
        """The versions whose cached problems were found under rules other than today's."""
        return Version.objects.exclude(rules=rules_fingerprint())

    def refresh_problems(self) -> int:
        """Recompute the registry-dependent problems of every agent from cached versions.

        Returns how many agents changed. Parses no file: names and delegations are cached."""
        rows = list(
            self.filter(live_version__isnull=False).values_list(
                "pk",
                "archived",
                "name",
                "problems",
                "live_version__problems",
                "live_version__delegations",
                "live_version__name_line",
            )
        )
        active_names = [name for _, archived, name, *_ in rows if not archived and name]
        known = set(active_names)
        lowered = Counter(name.lower() for name in active_names)
        by_lower: dict[str, list[str]] = {}
        for name in active_names:
            by_lower.setdefault(name.lower(), []).append(name)
        changed, now = [], timezone.now()
        for pk, archived, name, current, intrinsic, delegated, name_line in rows:
            taken = []
            if name and not archived and lowered[name.lower()] > 1:
                taken = [other for other in by_lower[name.lower()] if other != name] or [name]
            problems = [validation.Problem(**item) for item in intrinsic or []]
            problems += validation.registry_problems(
                name,
                name_line or 1,
                [validation.Delegation(*item) for item in delegated or []],
                known,
                taken,
            )
            stored = [p.as_dict() for p in validation.sort_problems(problems)]
            if stored != current:
                errors, warnings = validation.counts(validation.sort_problems(problems))
                changed.append(
                    Agent(
                        pk=pk,
                        problems=stored,
                        error_count=errors,
                        warning_count=warnings,
                        updated_at=now,
                    )
                )
        update_rows(changed, ["problems", "error_count", "warning_count", "updated_at"])
        # Every import, publish and recheck comes here: today's compliance figures follow.
        transaction.on_commit(lambda: ComplianceSnapshot.objects.record(self.compliance_scope()))
        return len(changed)


class Agent(models.Model):
    """An agent definition, identified by its path in the repository."""

    path = models.CharField(max_length=1024, unique=True)
    key = models.SlugField(max_length=255, unique=True, help_text="The agent's URL key.")
    # Cached from the live version, for lists and lookups without reading the text.
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True, db_index=True)
    live_version = models.OneToOneField(
        "Version", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    archived = models.BooleanField(default=False)
    problems = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    # The hash of the text last imported from or exported to the repository.
    synced_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # PostgreSQL's full-text index of name, description and body (SQLite uses an FTS5 table).
    search_vector = SearchVectorField(null=True, editable=False)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["name", "path"]
        indexes = [
            # The list's order, and lookups by name.
            models.Index(fields=["name", "path"], name="agent_name_path"),
            # Counting the active agents and listing their categories read only this index.
            models.Index(fields=["archived", "category"], name="agent_archived_category"),
            # The latest change, for the list's cache key.
            models.Index(fields=["updated_at"], name="agent_updated_at"),
            # Names are unique ignoring case: the editor's check looks them up that way.
            models.Index(Lower("name"), name="agent_name_lower"),
        ]

    def __str__(self) -> str:
        return self.name or self.path

    @property
    def display_name(self) -> str:
        return self.name_shown(self.name, self.path)

    @staticmethod
    def name_shown(name: str, path: str) -> str:
        """What pages call an agent: its name, or its path when its file names none."""
        return name or path

    @classmethod
    def path_for_name(cls, name: str) -> str:
        """Where a new agent's file goes: built only from a valid name."""
        if not validation.is_valid_name(name):
            raise ValidationError(f"{name!r} is not a valid name", code="name-invalid")
        folder = settings.REGISTRY_NEW_AGENT_FOLDER.strip("/")
        return clean_relative_path(f"{folder}/{name}.md" if folder else f"{name}.md")

    @classmethod
    def create_new(cls, text: str, author, message: str = "Created", *, refresh=True) -> Agent:
        """A new agent, published: its name must be valid and free, and its path comes from it
        (ValidationError). refresh=False leaves the registry's problems to the caller."""
        document = parse_text(text)
        name = validation.agent_name(document) or ""
        with transaction.atomic():
            Agent.objects.check_proposed_name(document)
            path = cls.path_for_name(name)
            agent = Agent.objects.create(path=path, key=Agent.objects.unique_key(name, path))
            agent.add_version(text, author, message)
        if refresh:
            Agent.objects.refresh_problems()
            agent.refresh_from_db()
        return agent

    def add_version(
        self, text: str, author=None, message: str = "", *, check_name: bool = True
    ) -> Version:
        """Store text as the next numbered version and make it live. The caller holds the
        transaction; a rename to a taken or invalid name is refused unless check_name is off."""
        document = parse_text(text)
        name = validation.agent_name(document) or ""
        if check_name and self.live_version_id and name != self.name:
            unreadable = document.frontmatter_error
            if unreadable is not None:
                raise ValidationError(
                    f"the name cannot be read: line {unreadable.line}: {unreadable.message}",
                    code=unreadable.code,
                )
            Agent.objects.check_name_available(name, exclude=self)
        with transaction.atomic():
            (version,) = Agent.objects.make_live(
                [(self, self.path, document, None)], author, message
            )
        return version

    @property
    def target(self) -> tuple[str, str, str]:
        """(target, its name, the folder that says so or "") of the tool that reads this file,
        from its path in the repository (under REGISTRY_GIT_SUBDIR when that is set)."""
        target, folder = target_of(self.path)
        return target, targets.TARGETS[target], folder

    @property
    def folder_category(self) -> str:
        """The category the agent's folder suggests: the nearest folder above its file whose
        name says more than "agents" (plugins/data-engineering/agents/x.md: data-engineering)."""
        for folder in reversed(self.path.split("/")[:-1]):
            category = slugify(folder)
            if category and category not in PLAIN_FOLDERS:
                return category[:100]
        return ""

    def problems_of_version(self, version: Version) -> list[validation.Problem]:
        """One of this agent's versions' problems in the registry as it is now (those stored
        for the live one)."""
        if version.pk == self.live_version_id:
            return [validation.Problem(**problem) for problem in self.problems]
        return Agent.objects.problems_of(version.document, self, caller="change")

    def delegation_targets(self) -> list[tuple[str, str | None, list[str]]]:
        """(name, key of that agent or None when no active agent has the name, where the file
        names it: "section", "tools", "agents", "handoffs") for each agent the live version
        delegates to, in file order. One query."""
        if self.live_version is None:
            return []
        sources: dict[str, list[str]] = {}
        for item in self.live_version.delegations or []:
            found = sources.setdefault(item[0], [])
            source = item[3] if len(item) > 3 else "section"
            if source not in found:
                found.append(source)
        keys = dict(Agent.objects.active().filter(name__in=sources).values_list("name", "key"))
        return [(name, keys.get(name), found) for name, found in sources.items()]

    def delegated_by(self) -> list[tuple[str, str]]:
        """(key, name) of the active agents whose live version delegates to this one. One query,
        of the delegation index (AgentDelegation), never of the versions."""
        if not self.name:
            return []
        return list(
            Agent.objects.active()
            .exclude(pk=self.pk)
            .filter(delegates_to__name=self.name)
            .values_list("key", "name")
        )


def derived_fields(document: AgentDocument, path: str | None = None) -> dict:
    """A version's fields for document, the file at path: its text and what validation derives
    from it, under the rules of the tool that reads it there."""
    text = document.to_bytes().decode("utf-8")
    problems = validation.intrinsic_problems(document, required_sections(), target_of(path)[0])
    errors, warnings = validation.counts(problems)
    return {
        "rules": rules_fingerprint(),
        "text": text,
        "sha256": text_hash(text),
        "frontmatter": json_safe(document.frontmatter),
        "problems": [json_safe(p.as_dict()) for p in problems],
        "delegations": [
            [d.name, d.line, d.column, d.source] for d in validation.delegations(document)
        ],
        "name_line": document.key_line("name") or 1,
        "error_count": errors,
        "warning_count": warnings,
    }


# What derived_fields gives a version besides its text.
DERIVED_FIELDS = (
    "rules",
    "sha256",
    "frontmatter",
    "problems",
    "delegations",
    "name_line",
    "error_count",
    "warning_count",
)


def version_fields(document: AgentDocument, path: str | None = None) -> dict:
    """derived_fields without the text, which the document has."""
    fields = derived_fields(document, path)
    del fields["text"]
    return fields


def created_rows(objects: list[models.Model]) -> list[models.Model]:
    """Insert new rows of one model and return them with their ids: in bulk where the database
    returns the ids of a bulk insert (PostgreSQL, SQLite 3.35+), else one by one."""
    if not objects:
        return []
    manager = type(objects[0]).objects
    if connections[manager.db].features.can_return_rows_from_bulk_insert:
        return manager.bulk_create(objects)
    for row in objects:
        row.save(force_insert=True)
    return objects


def cached_fields(document: AgentDocument) -> dict:
    """The agent's fields copied from its live version's document, for lists and lookups."""
    frontmatter = document.frontmatter or {}
    description = frontmatter.get("description")
    category = frontmatter.get("category")
    return {
        "name": db_text(validation.agent_name(document) or "")[:255],
        "description": db_text(description) if isinstance(description, str) else "",
        "category": db_text(category)[:100] if isinstance(category, str) else "",
    }


def parse_text(text: str) -> AgentDocument:
    """Stored text to a document; raises ValidationError for text that is not a valid file."""
    try:
        return AgentDocument.parse(text.encode("utf-8"), max_bytes=max_file_bytes())
    except (DocumentError, UnicodeEncodeError) as error:
        message = error.message if isinstance(error, DocumentError) else "text is not valid UTF-8"
        code = error.code if isinstance(error, DocumentError) else "not-utf8"
        raise ValidationError(message, code=code) from None


class VersionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableVersionError("versions are never changed")

    def delete(self):
        raise ImmutableVersionError("versions are never deleted")


class Version(models.Model):
    """One immutable state of an agent's file: its exact text and what was derived from it."""

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    sha256 = models.CharField(max_length=64)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agent_versions",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    message = models.CharField(max_length=500, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # Caches derived from the text: the text never changes, but what the rules find in it is
    # found again when the rules change (rules: their fingerprint; AgentQuerySet.recheck).
    rules = models.CharField(max_length=16, blank=True, default="")
    frontmatter = models.JSONField(null=True, blank=True)
    problems = models.JSONField(default=list, blank=True)  # intrinsic problems only
    delegations = models.JSONField(default=list, blank=True)  # [name, line, column]
    name_line = models.PositiveIntegerField(default=1)
    error_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)

    objects = VersionQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "number"], name="unique_version_number")
        ]
        indexes = [
            # Export compares each file with its live version's hash, read from this index: in
            # an SQLite row the hash comes after the text, reached through the text's overflow
            # pages (export's query of 10,000 agents: 65 ms from the rows, 25 ms from here).
            models.Index(fields=["id", "sha256"], name="version_id_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise ImmutableVersionError("versions are never changed; add a new version instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableVersionError("versions are never deleted")

    @classmethod
    def build(cls, agent: Agent, document: AgentDocument, **fields) -> Version:
        """A new, unsaved version of agent holding document, with what is derived from it."""
        return cls(agent=agent, **derived_fields(document, agent.path), **fields)

    @property
    def document(self) -> AgentDocument:
        return AgentDocument(self.text)

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")


# Rows of the delegation index deleted or written per statement.
INDEX_BATCH = 500


class DelegationQuerySet(models.QuerySet):
    def index(self, live: list[Version]) -> None:
        """Make the index say what these live versions delegate to, in place of what it said
        for their agents."""
        if not live:
            return
        agents = [version.agent_id for version in live]
        for start in range(0, len(agents), INDEX_BATCH):  # within any database's parameter limit
            self.filter(agent__in=agents[start : start + INDEX_BATCH]).delete()
        self.bulk_create(
            (
                AgentDelegation(agent_id=version.agent_id, name=name)
                for version in live
                for name in dict.fromkeys(item[0] for item in version.delegations or [])
            ),
            batch_size=INDEX_BATCH,
        )


class AgentDelegation(models.Model):
    """An agent whose live version delegates to a name: the index behind an agent's "Delegated
    by", which reads the few rows with its name instead of every live version's delegations.
    Written wherever a live version's delegations are (make_live, a recheck)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="delegates_to")
    name = models.CharField(max_length=255)

    objects = DelegationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "agent"], name="unique_delegation_name_agent")
        ]

    def __str__(self) -> str:
        return f"{self.agent} -> {self.name}"


def update_rows(objects: list[models.Model], fields: list[str]) -> None:
    """Save fields of many rows of one model: bulk_update's effect with one executemany of a
    plain UPDATE, where bulk_update builds a CASE per field and row, slow for thousands."""
    if not objects:
        return
    meta = type(objects[0])._meta
    connection = connections[type(objects[0]).objects.db]
    quote = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s",
            [
                [
                    column.get_db_prep_save(getattr(row, column.attname), connection)
                    for column in columns
                ]
                + [row.pk]
                for row in objects
            ],
        )
