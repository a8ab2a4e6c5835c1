"""Measure a change set of 1,000 agents: adding the missing required sections to the real corpus
(tests/corpus, twice, under two folders), then submitting, approving (which publishes) and
pushing it to a local bare repository as one commit. Prints the times, the queries of each
step and the lines changed per agent.

Run: uv run python bench/change_set.py [--agents 1000]   (a fresh SQLite file under /tmp)"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="change-set-bench-"))
    bare, checkout = work / "team.git", work / "checkout"
    corpus = sorted((ROOT / "tests" / "corpus").rglob("*.md"))
    corpus = [path for path in corpus if path.name != "README.md"]
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", bare], check=True)
    subprocess.run(["git", "clone", "-q", bare, checkout], check=True, stderr=subprocess.DEVNULL)
    for copy in ("one", "two"):
        for path in corpus:
            target = checkout / copy / path.relative_to(ROOT / "tests" / "corpus")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    git = ["git", "-C", checkout, "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "Corpus"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "HEAD:main"], check=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="agentsite.settings",
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{work / 'bench.sqlite3'}",
        REGISTRY_GIT_REMOTE=str(bare),
        REGISTRY_GIT_BRANCH="main",
        REGISTRY_DATA_DIR=str(work / "data"),
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
    )
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from registry.agentfiles.rendering import unified_diff
    from registry.models import Agent, Push
    from registry.models.change_sets import propose_missing_sections
    from registry.sync.repository import push_waiting

    call_command("migrate", verbosity=0)
    call_command("import_agents", str(checkout), verbosity=0)
    editor = User.objects.create_user("editor")
    editor.groups.add(Group.objects.get(name="Editors"))
    reviewer = User.objects.create_user("reviewer")
    reviewer.groups.add(Group.objects.get(name="Reviewers"))
    lacking = Agent.objects.with_problem("section-missing").order_by("path")
    chosen = Agent.objects.filter(
        pk__in=list(lacking.values_list("pk", flat=True)[: options.agents])
    )

    def timed(what, step):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = step()
            took = time.perf_counter() - started
        print(f"{what:<32} {took:7.2f} s  {len(queries.captured_queries):5} queries")
        return result

    print(f"{Agent.objects.count()} agents imported; {lacking.count()} lack a required section")
    change = timed("make the set", lambda: propose_missing_sections(chosen, editor))
    items = list(change.items.select_related("base_version"))
    timed("submit (checks every agent)", lambda: change.submit(editor))
    outcome = timed("approve (publishes)", lambda: change.approve(reviewer))
    print(
        f"  outcome: {[str(result) for result in outcome.results]}, "
        f"{len(outcome.versions)} versions, {Push.objects.filter(change=change).count()} pushes"
    )
    report = timed("push (one commit)", push_waiting)
    log = subprocess.run(
        ["git", "-C", bare, "log", "--format=%s", "main"], capture_output=True, text=True
    ).stdout.splitlines()
    numstat = subprocess.run(
        ["git", "-C", bare, "diff", "--numstat", "main~1", "main"], capture_output=True, text=True
    ).stdout.splitlines()
    print(
        f"  pushed changes {report.pushed}; commits now: {log}; files in the commit: {len(numstat)}"
    )
    added, removed = [], []
    for item in items:
        diff = unified_diff(item.base_version.text, item.text)
        added.append(sum(line.kind == "add" for line in diff))
        removed.append(sum(line.kind == "del" for line in diff))
    print(
        f"agents in the set: {len(items)}; lines added per agent: min {min(added)}, "
        f"median {statistics.median(added)}, max {max(added)}, mean {statistics.mean(added):.1f}; "
        f"lines removed per agent: max {max(removed)}"
    )
    git_added = [int(row.split("\t")[0]) for row in numstat]
    git_removed = [int(row.split("\t")[1]) for row in numstat]
    print(
        f"git numstat: added per file min {min(git_added)} max {max(git_added)}, "
        f"removed per file max {max(git_removed)}"
    )


if __name__ == "__main__":
    main()
