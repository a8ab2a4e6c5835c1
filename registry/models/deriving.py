"""What the rules find in many texts at once, for import and for a recheck after the rules
change: in this process, or in forked ones, one per CPU the caller gives."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from django.db import transaction

from registry.agentfiles.document import AgentDocument
from registry.models.agents import (
    DERIVED_FIELDS,
    Agent,
    AgentDelegation,
    Version,
    cached_fields,
    update_rows,
    version_fields,
)
from registry.models.changes import ChangeRequest

# Below this many files, starting processes costs more than it saves.
PARALLEL_MIN_FILES = 200
# Versions rechecked per transaction when the rules change.
RECHECK_BATCH = 500


@contextmanager
def deriving(documents: list[tuple[AgentDocument, str]], workers: int):
    """An iterator of (version fields without the text, agent fields) for (document, path)
    pairs, in order:
    computed here, or by `workers` forked processes (a document takes about a millisecond).
    A worker that dies (killed, out of memory) raises BrokenProcessPool here: the caller's
    transaction is rolled back rather than left waiting."""
    items = [(d.text, d.bom, path) for d, path in documents]
    with _mapped(_derive, items, workers) as derived:
        yield derived


def _derive(item: tuple[str, bool, str]) -> tuple[dict, dict]:
    # A document of its own, dropped once read: the caller's keeps no parse of its body.
    text, bom, path = item
    document = AgentDocument(text, bom)
    return version_fields(document, path), cached_fields(document)


@contextmanager
def _mapped(function: Callable, items: list, workers: int) -> Iterator:
    if workers <= 1 or len(items) < PARALLEL_MIN_FILES:
        yield map(function, items)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield pool.map(function, items, chunksize=50)


def recheck(
    *, workers: int = 1, progress=None, batch_size: int = RECHECK_BATCH, everything: bool = False
) -> int:
    """Find again, under today's rules, what they find in every version whose cached problems
    were found under other rules (everything: in every version), a batch per transaction; then
    refresh the agents' problems and count the open changes' again. Returns how many versions
    were rechecked. Texts are never changed. progress: a Progress, stepped per version."""
    versions = Version.objects.all() if everything else Agent.objects.stale_versions()
    stale = list(versions.order_by("pk").values_list("pk", flat=True))
    fields = [name for name in DERIVED_FIELDS if name != "sha256"]  # the same text
    for start in range(0, len(stale), batch_size):
        versions = list(
            Version.objects.filter(pk__in=stale[start : start + batch_size])
            .select_related("agent")
            .only("text", "agent__path", "agent__live_version")
        )
        items = [(version.text, version.agent.path) for version in versions]
        with _mapped(_recheck, items, workers) as derived:
            for version, found in zip(versions, derived, strict=True):
                for name, value in found.items():
                    setattr(version, name, value)
        with transaction.atomic():
            update_rows(versions, fields)
            AgentDelegation.objects.index(
                [version for version in versions if version.agent.live_version_id == version.pk]
            )
        if progress is not None:
            progress.step(len(versions))
    if stale:
        Agent.objects.refresh_problems()
        ChangeRequest.objects.active().recount()
    return len(stale)


def _recheck(item: tuple[str, str]) -> dict:
    text, path = item
    return version_fields(AgentDocument(text), path)
