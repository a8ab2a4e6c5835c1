"""The lint_agents, import_agents and export_agents commands."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction

from registry.models import Agent, Version
from registry.sync.files import TEMP_SUFFIX
from tests.helpers import (
    CORPUS,
    DEMO_NAMES,
    FOCUS,
    MANAGE,
    NO_DATABASE,
    NOT_TEXT,
    agent_text,
    run,
    tree,
    write,
)

LINE_RE = re.compile(
    r"(?P<path>.+):(?P<line>\d+):(?P<column>\d+): (?P<severity>error|warning) "
    r"(?P<code>[a-z0-9-]+) (?P<message>.+)"
)


@pytest.fixture
def repo(tmp_path):
    """A repository folder with three valid agents that delegate to each other."""
    return write(
        tmp_path / "repo",
        {
            "agents/agent-one.md": agent_text(),
            "agents/other-agent.md": agent_text(name="other-agent", delegate_to="- agent-one\n"),
            "team/third.md": agent_text(name="third", delegate_to="- agent-one — x\n"),
        },
    )


# --- lint_agents (no django_db mark: touching the database would fail these tests) --------------


def test_lint_of_the_demo_agents_together_passes(demo_folder):
    paths = sorted(demo_folder.glob("*.md"))

    code, out, err = run("lint_agents", *paths)

    assert code == 0
    assert out == ""
    assert "3 files checked: 0 errors, 0 warnings" in err


def test_lint_of_a_folder_finds_its_files(demo_folder):
    code, out, err = run("lint_agents", demo_folder)

    assert code == 0
    assert "3 files checked" in err


def test_lint_of_one_agent_alone_flags_its_unknown_delegates(demo_folder):
    path = demo_folder / "backend-architect.md"
    lines = path.read_text().splitlines()
    first = next(number for number, line in enumerate(lines, 1) if "**security-engineer**" in line)

    code, out, _ = run("lint_agents", path)

    assert code == 1
    assert out.splitlines() == [
        f"{path}:{first}:5: error delegate-unknown "
        "delegates to 'security-engineer', which is not a known agent",
        f"{path}:{first + 1}:5: error delegate-unknown "
        "delegates to 'performance-engineer', which is not a known agent",
    ]


def test_lint_text_lines_are_path_line_column_severity_code_message(tmp_path):
    write(tmp_path, {"bad.md": agent_text(name="Brand Guardian", extra="foo: 1\n")})
    path = tmp_path / "bad.md"

    code, out, _ = run("lint_agents", path)

    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}:2:1: error name-invalid name 'Brand Guardian' ")
    assert "'brand-guardian'" in lines[0]
    assert lines[1].startswith(f"{path}:4:1: warning key-unknown ")
    for line in lines:
        assert LINE_RE.fullmatch(line), line


def test_lint_json_has_exactly_the_documented_keys(tmp_path):
    write(tmp_path, {"bad.md": agent_text(name="Brand Guardian", extra="foo: 1\n")})

    code, out, _ = run("lint_agents", "--format", "json", tmp_path / "bad.md")

    rows = json.loads(out)
    assert code == 1
    assert len(rows) == 3
    for row in rows:
        assert set(row) == {"path", "line", "column", "severity", "code", "message"}
    assert rows[0] == {
        "path": str(tmp_path / "bad.md"),
        "line": 2,
        "column": 1,
        "severity": "error",
        "code": "name-invalid",
        "message": rows[0]["message"],
    }


def test_lint_json_of_valid_files_is_an_empty_list(demo_folder):
    code, out, _ = run("lint_agents", "--format", "json", demo_folder)

    assert code == 0
    assert json.loads(out) == []


def test_lint_with_warnings_only_exits_0(tmp_path):
    write(tmp_path, {"a.md": agent_text(extra="color: mauve\n", delegate_to="Anyone.\n")})

    code, out, _ = run("lint_agents", tmp_path / "a.md")

    assert code == 0
    assert "warning color-unknown" in out


def test_lint_of_a_missing_path_is_a_usage_error(tmp_path):
    code, _, err = run("lint_agents", tmp_path / "nowhere.md")

    assert code == 2
    assert "nowhere.md" in err


def test_lint_flags_a_name_duplicated_across_the_files_linted(tmp_path):
    write(
        tmp_path,
        {
            "a.md": agent_text(name="other-agent"),
            "b.md": agent_text(name="Other-Agent", delegate_to="- other-agent\n"),
        },
    )

    code, out, _ = run("lint_agents", tmp_path)

    assert code == 1
    assert f"{tmp_path}/a.md:2:1: error name-duplicate " in out
    assert f"{tmp_path}/b.md:2:1: error name-duplicate " in out


def test_lint_skips_git_folders(demo_folder):
    write(demo_folder, {".git/broken.md": b"\xff\xfe\x00", "sub/.git/x.md": "no frontmatter"})

    code, _, err = run("lint_agents", demo_folder)

    assert code == 0
    assert "3 files checked" in err


@pytest.mark.parametrize(
    ("names", "status"),
    [(DEMO_NAMES, 0), (["backend-architect"], 1), (["missing"], 2)],
    ids=["valid", "errors", "missing"],
)
def test_lint_exit_status_from_the_shell_without_any_database(demo_folder, names, status):
    paths = [str(demo_folder / f"{name}.md") for name in names]
    env = {**os.environ, "DATABASE_URL": NO_DATABASE}

    result = subprocess.run(
        [sys.executable, str(MANAGE), "lint_agents", *paths],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr


# --- lint_agents --fix -----------------------------------------------------------------------


def without_focus(text: str) -> str:
    return re.sub(r"## Focus Areas\n.*?\n\n", "", text, flags=re.DOTALL)


@pytest.fixture
def fixable(tmp_path):
    """Three agents: one with four certain fixes (CRLF, with a BOM), one clean, and one with a
    missing section and an error no fix can make (a delegate that does not exist)."""
    broken = agent_text(
        "Agent-One", "Does one thing. Use it when: asked.", extra="allowedTools: Read\n"
    )
    return write(
        tmp_path,
        {
            "broken.md": ("\ufeff" + without_focus(broken)).replace("\n", "\r\n"),
            "other-agent.md": agent_text("other-agent", delegate_to="- **agent-one** — x\n"),
            "third.md": without_focus(agent_text("third", delegate_to="- **nobody** — x\n")),
        },
    )


def test_lint_fix_makes_the_certain_fixes_changing_only_their_lines(fixable):
    before = tree(fixable)

    code, out, err = run("lint_agents", "--fix", fixable)

    after = tree(fixable)
    assert after["other-agent.md"] == before["other-agent.md"]
    expected = (
        agent_text("Agent-One", '"Does one thing. Use it when: asked."', extra="tools: Read\n")
        .replace("name: Agent-One", "name: agent-one")
        .replace(FOCUS, "- **Area**: what this agent knows and does\n")
    )
    assert after["broken.md"] == ("\ufeff" + expected.replace("\n", "\r\n")).encode()
    assert not [name for name in os.listdir(fixable) if name.endswith(TEMP_SUFFIX)]
    changes = [line for line in out.splitlines() if " fixed " in line]
    assert changes == [
        f"{fixable}/broken.md:3: fixed yaml-syntax: put the description on line 3 in quotes",
        f"{fixable}/broken.md:2: fixed name-invalid: change the name 'Agent-One' to 'agent-one'",
        f"{fixable}/broken.md:4: fixed key-unknown: rename the key 'allowedTools' to 'tools'",
        f"{fixable}/broken.md:17: fixed section-missing: add the section '## Focus Areas' with "
        "a skeleton to fill in",
        f"{fixable}/third.md:16: fixed section-missing: add the section '## Focus Areas' with "
        "a skeleton to fill in",
    ]
    remaining = [LINE_RE.match(line) for line in out.splitlines() if " fixed " not in line]
    assert [(m["path"], m["code"]) for m in remaining] == [
        (f"{fixable}/third.md", "delegate-unknown")
    ]
    assert code == 1
    assert "3 files checked: 1 errors, 0 warnings" in err


def test_lint_fix_replaces_a_fixed_file_by_renaming_and_leaves_a_clean_one_alone(fixable):
    inodes = {name: os.stat(fixable / name).st_ino for name in ("broken.md", "other-agent.md")}

    run("lint_agents", "--fix", fixable)

    # A new file renamed over the old one (a torn write is never seen); the clean one untouched.
    assert os.stat(fixable / "broken.md").st_ino != inodes["broken.md"]
    assert os.stat(fixable / "other-agent.md").st_ino == inodes["other-agent.md"]


def test_lint_fix_exits_0_once_every_error_is_fixed_and_a_second_run_changes_nothing(fixable):
    (fixable / "third.md").unlink()

    first = run("lint_agents", "--fix", fixable)
    fixed = tree(fixable)
    second = run("lint_agents", "--fix", fixable)

    assert first[0] == 0, first
    assert " fixed " in first[1]
    assert second == (0, "", "2 files checked: 0 errors, 0 warnings\n")
    assert tree(fixable) == fixed


def test_lint_without_fix_changes_no_file(fixable):
    before = tree(fixable)

    code, out, _ = run("lint_agents", fixable)

    assert tree(fixable) == before
    assert " fixed " not in out
    assert code == 1


def test_lint_fix_with_json_keeps_stdout_json_and_lists_changes_on_stderr(fixable):
    code, out, err = run("lint_agents", "--fix", "--format", "json", fixable)

    assert [row["code"] for row in json.loads(out)] == ["delegate-unknown"]
    assert f"{fixable}/third.md:16: fixed section-missing" in err
    assert code == 1


def test_lint_fix_does_not_write_through_a_symlink(tmp_path):
    target = write(tmp_path / "elsewhere", {"a.md": without_focus(agent_text())})
    (tmp_path / "linted").mkdir()
    (tmp_path / "linted" / "a.md").symlink_to(target / "a.md")

    code, out, _ = run("lint_agents", "--fix", tmp_path / "linted" / "a.md")

    assert (target / "a.md").read_text() == without_focus(agent_text())
    assert (tmp_path / "linted" / "a.md").is_symlink()
    assert "not fixed: it is a symlink" in out
    assert code == 1


# --- import_agents -------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_stores_every_file_and_prints_a_summary(repo):
    code, out, _ = run("import_agents", repo)

    assert code == 0
    assert (
        out.strip() == "3 created, 0 updated, 0 unchanged, 0 conflicts, 0 rejected, 0 with errors"
    )
    assert sorted(Agent.objects.values_list("path", flat=True)) == [
        "agents/agent-one.md",
        "agents/other-agent.md",
        "team/third.md",
    ]


@pytest.mark.django_db
def test_import_stores_bom_and_crlf_files_byte_for_byte(tmp_path):
    files = {
        "bom.md": b"\xef\xbb\xbf" + agent_text(name="other-agent").encode(),
        "crlf.md": agent_text().replace("\n", "\r\n").encode(),
        "no-final-newline.md": agent_text(name="third").rstrip("\n").encode(),
    }
    write(tmp_path, files)

    run("import_agents", tmp_path)

    for path, data in files.items():
        assert Agent.objects.get(path=path).live_version.text.encode() == data


@pytest.mark.django_db
def test_import_twice_changes_nothing(repo):
    run("import_agents", repo)
    versions = list(Version.objects.values_list("pk", "sha256"))

    code, out, _ = run("import_agents", repo)

    assert code == 0
    assert out.startswith("0 created, 0 updated, 3 unchanged, 0 conflicts")
    assert list(Version.objects.values_list("pk", "sha256")) == versions


@pytest.mark.django_db
def test_import_of_a_changed_file_adds_a_version(repo):
    run("import_agents", repo)
    write(repo, {"team/third.md": agent_text(name="third", description="Changed.")})

    code, out, _ = run("import_agents", repo)

    agent = Agent.objects.get(path="team/third.md")
    assert code == 0
    assert out.startswith("0 created, 1 updated, 2 unchanged")
    assert agent.live_version.number == 2
    assert agent.description == "Changed."


@pytest.mark.django_db
def test_import_never_reads_inside_git(repo):
    write(repo, {".git/bad.md": b"\x00\xff", "team/.git/x.md": agent_text(name="in-git")})

    code, out, _ = run("import_agents", repo)

    assert code == 0
    assert Agent.objects.count() == 3
    assert not Agent.objects.filter(path__contains=".git").exists()


def make_reject(folder: Path, kind: str) -> str:
    """Put a file of the kind import must reject into folder; returns its path."""
    if kind == "symlink":
        outside = write(folder.parent / "outside", {"target.md": agent_text(name="linked")})
        (folder / "link.md").symlink_to(outside / "target.md")
        return "link.md"
    write(folder, {f"{kind}.md": NOT_TEXT[kind][0]})
    return f"{kind}.md"


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [*NOT_TEXT, "symlink"])
def test_import_rejects_files_that_are_not_text_and_stores_nothing(repo, kind):
    path = make_reject(repo, kind)
    reason = NOT_TEXT[kind][1] if kind in NOT_TEXT else "symlink"

    code, out, err = run("import_agents", repo)

    assert code == 1
    assert f"rejected {path}: " in err
    assert reason in err.split(f"rejected {path}: ", 1)[1].splitlines()[0]
    assert "1 rejected" in out
    assert "Nothing was stored" in out
    assert Agent.objects.count() == 0
    assert Version.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [*NOT_TEXT, "symlink"])
def test_import_with_skip_rejected_stores_the_rest(repo, kind):
    path = make_reject(repo, kind)

    code, out, err = run("import_agents", repo, "--skip-rejected")

    assert code == 1
    assert f"rejected {path}: " in err
    assert out.startswith("3 created, 0 updated, 0 unchanged, 0 conflicts, 1 rejected")
    assert Agent.objects.count() == 3
    assert not Agent.objects.filter(path=path).exists()


@pytest.mark.django_db
def test_import_does_not_follow_a_symlinked_folder(repo, tmp_path):
    outside = write(tmp_path / "outside", {"secret.md": agent_text(name="secret")})
    (repo / "linked").symlink_to(outside, target_is_directory=True)

    code, _, _ = run("import_agents", repo)

    assert code == 0
    assert Agent.objects.count() == 3


@pytest.mark.django_db
def test_import_dry_run_stores_nothing(repo):
    code, out, _ = run("import_agents", repo, "--dry-run")

    assert code == 0
    assert out.startswith("Dry run: 3 created, 0 updated")
    assert Agent.objects.count() == 0
    assert Version.objects.count() == 0


@pytest.mark.django_db
def test_import_dry_run_counts_files_with_errors(tmp_path):
    write(tmp_path, {"bad.md": "no frontmatter\n"})

    _, out, _ = run("import_agents", tmp_path, "--dry-run")

    assert out.strip().endswith("1 with errors")
    assert Agent.objects.count() == 0


@pytest.mark.django_db
def test_import_of_a_missing_folder_is_a_usage_error(tmp_path):
    code, _, err = run("import_agents", tmp_path / "nowhere")

    assert code == 2
    assert "no such folder" in err


@pytest.mark.django_db
def test_file_changed_in_repository_and_registry_is_a_conflict_not_overwritten(repo):
    run("import_agents", repo)
    agent = Agent.objects.get(path="team/third.md")
    registry_text = agent_text(name="third", description="Edited in the registry.")
    agent.add_version(registry_text)
    write(repo, {"team/third.md": agent_text(name="third", description="Edited in the repo.")})

    code, out, err = run("import_agents", repo)

    assert code == 0
    assert "0 updated, 2 unchanged, 1 conflicts" in out
    assert "conflict team/third.md: " in err
    agent.refresh_from_db()
    assert agent.live_version.text == registry_text
    assert agent.versions.count() == 2


@pytest.mark.django_db
def test_import_keeps_a_registry_edit_when_the_repository_file_is_unchanged(repo):
    run("import_agents", repo)
    agent = Agent.objects.get(path="team/third.md")
    registry_text = agent_text(name="third", description="Edited in the registry.")
    agent.add_version(registry_text)

    code, out, _ = run("import_agents", repo)

    assert code == 0
    assert out.startswith("0 created, 0 updated, 3 unchanged, 0 conflicts")
    agent.refresh_from_db()
    assert agent.live_version.text == registry_text


@pytest.mark.django_db
def test_import_after_export_of_a_registry_edit_is_unchanged(repo):
    run("import_agents", repo)
    agent = Agent.objects.get(path="team/third.md")
    agent.add_version(agent_text(name="third", description="Edited in the registry."))
    run("export_agents", repo)

    code, out, _ = run("import_agents", repo)

    assert code == 0
    assert out.startswith("0 created, 0 updated, 3 unchanged, 0 conflicts")


# --- The whole corpus --------------------------------------------------------------------


@pytest.fixture(scope="class")
def corpus_import(django_db_setup, django_db_blocker):
    """One import of the corpus, rolled back after the tests of the class that use it."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield run("import_agents", CORPUS)
        transaction.set_rollback(True)


@pytest.mark.django_db
class TestCorpus:
    """The 536 real agent files and the corpus README, imported once for these tests."""

    def test_every_markdown_file_is_imported(self, corpus_import):
        code, out, _ = corpus_import
        count = len(list(CORPUS.rglob("*.md")))

        assert code == 0
        assert out.startswith(f"{count} created, 0 updated, 0 unchanged, 0 conflicts, 0 rejected")
        assert Agent.objects.count() == count

    def test_every_file_is_stored_byte_for_byte(self, corpus_import):
        for path, text in Version.objects.values_list("agent__path", "text"):
            assert text.encode("utf-8") == (CORPUS / path).read_bytes(), path

    def test_url_keys_are_unique(self, corpus_import):
        keys = list(Agent.objects.values_list("key", flat=True))

        assert len(keys) == len(set(keys))

    def test_second_import_changes_nothing(self, corpus_import):
        versions = Version.objects.count()

        code, out, _ = run("import_agents", CORPUS)

        assert code == 0
        assert out.startswith(f"0 created, 0 updated, {versions} unchanged, 0 conflicts")
        assert Version.objects.count() == versions

    def test_export_round_trip_equals_the_source_files(self, corpus_import, tmp_path):
        code, out, _ = run("export_agents", tmp_path)

        expected = {path: data for path, data in tree(CORPUS).items() if path.endswith(".md")}
        assert code == 0
        assert tree(tmp_path) == expected


# --- export_agents -------------------------------------------------------------------------


@pytest.fixture
def imported(repo):
    run("import_agents", repo)
    return repo


def stats(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        path: ((folder / path).stat().st_mtime_ns, (folder / path).stat().st_ino)
        for path in tree(folder)
    }


@pytest.mark.django_db
def test_export_writes_exactly_the_imported_bytes(tmp_path):
    files = {
        "bom.md": b"\xef\xbb\xbf" + agent_text(name="other-agent").encode(),
        "crlf.md": agent_text().replace("\n", "\r\n").encode(),
        "deep/no-final-newline.md": agent_text(name="third").rstrip("\n").encode(),
    }
    run("import_agents", write(tmp_path / "src", files))

    code, out, _ = run("export_agents", tmp_path / "out")

    assert code == 0
    assert out.strip() == "3 written, 0 unchanged, 0 removed, 0 refused"
    assert tree(tmp_path / "out") == files


@pytest.mark.django_db
def test_export_writes_only_files_that_differ(imported, tmp_path):
    out_folder = tmp_path / "out"
    run("export_agents", out_folder)
    before = stats(out_folder)
    agent = Agent.objects.get(path="team/third.md")
    agent.add_version(agent_text(name="third", description="Changed."))

    code, out, _ = run("export_agents", out_folder)

    after = stats(out_folder)
    assert code == 0
    assert out.strip() == "1 written, 2 unchanged, 0 removed, 0 refused"
    assert after["agents/agent-one.md"] == before["agents/agent-one.md"]
    assert after["agents/other-agent.md"] == before["agents/other-agent.md"]
    assert after["team/third.md"] != before["team/third.md"]
    assert b"Changed." in (out_folder / "team/third.md").read_bytes()


@pytest.mark.django_db
def test_export_into_the_repository_it_came_from_writes_nothing(imported):
    before = stats(imported)

    code, out, _ = run("export_agents", imported)

    assert code == 0
    assert out.strip() == "0 written, 3 unchanged, 0 removed, 0 refused"
    assert stats(imported) == before


@pytest.mark.django_db
def test_export_rewrites_a_file_edited_by_hand_to_the_same_size_and_time(imported):
    target = imported / "team/third.md"
    before = target.stat()
    live = target.read_bytes()
    target.write_bytes(live.replace(b"third", b"THIRD", 1))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_size == before.st_size
    assert target.stat().st_mtime_ns == before.st_mtime_ns

    code, out, _ = run("export_agents", imported)

    assert code == 0
    assert out.strip() == "1 written, 2 unchanged, 0 removed, 0 refused"
    assert target.read_bytes() == live


@pytest.mark.django_db
def test_export_check_writes_nothing_and_names_what_differs(imported):
    Agent.objects.get(path="team/third.md").add_version(
        agent_text(name="third", description="New.")
    )
    (imported / "agents/other-agent.md").unlink()
    before = tree(imported)

    code, out, _ = run("export_agents", imported, "--check")

    assert code == 1
    assert "differs: team/third.md" in out.splitlines()
    assert "differs: agents/other-agent.md" in out.splitlines()
    assert "differs: agents/agent-one.md" not in out
    assert "2 differ, 1 unchanged" in out
    assert tree(imported) == before


@pytest.mark.django_db
def test_export_check_of_an_up_to_date_folder_passes(imported):
    code, out, _ = run("export_agents", imported, "--check")

    assert code == 0
    assert out.strip() == "0 differ, 3 unchanged, 0 to remove, 0 refused"


@pytest.mark.django_db
def test_export_check_of_a_missing_folder_is_a_usage_error(imported, tmp_path):
    code, _, err = run("export_agents", tmp_path / "nowhere", "--check")

    assert code == 2
    assert "no such folder" in err
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.django_db
def test_export_into_a_file_is_a_usage_error(imported):
    code, _, err = run("export_agents", imported / "team/third.md")

    assert code == 2
    assert "not a folder" in err


@pytest.mark.django_db
def test_export_keeps_archived_agents_files_without_prune(imported):
    Agent.objects.filter(path="team/third.md").update(archived=True)

    code, out, _ = run("export_agents", imported)
    checked, listed, _ = run("export_agents", imported, "--check", "--prune")

    assert code == 0
    assert out.strip() == "0 written, 2 unchanged, 0 removed, 0 refused"
    assert checked == 1
    assert "archived, still present: team/third.md" in listed.splitlines()
    assert (imported / "team/third.md").exists()


@pytest.mark.django_db
def test_export_prune_removes_archived_agents_files(imported):
    Agent.objects.filter(path="team/third.md").update(archived=True)

    code, out, _ = run("export_agents", imported, "--prune")

    assert code == 0
    assert out.strip() == "0 written, 2 unchanged, 1 removed, 0 refused"
    assert sorted(tree(imported)) == ["agents/agent-one.md", "agents/other-agent.md"]


@pytest.mark.django_db
def test_export_refuses_a_folder_that_is_a_symlink_to_outside(imported, tmp_path):
    out_folder, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    out_folder.mkdir()
    (out_folder / "team").symlink_to(outside, target_is_directory=True)

    code, out, err = run("export_agents", out_folder)

    assert code == 1
    assert "refused team/third.md: " in err
    assert "symlink" in err
    assert "2 written, 0 unchanged, 0 removed, 1 refused" in out
    assert list(outside.iterdir()) == []


@pytest.mark.django_db
def test_export_replaces_a_symlink_at_the_target_and_leaves_its_target_alone(imported, tmp_path):
    outside = write(tmp_path / "outside", {"precious.md": "precious"})
    out_folder = tmp_path / "out"
    (out_folder / "team").mkdir(parents=True)
    (out_folder / "team/third.md").symlink_to(outside / "precious.md")

    code, _, _ = run("export_agents", out_folder)

    target = out_folder / "team/third.md"
    assert code == 0
    assert not target.is_symlink()
    assert target.read_bytes() == (imported / "team/third.md").read_bytes()
    assert (outside / "precious.md").read_text() == "precious"


@pytest.mark.django_db
def test_export_never_writes_into_git(imported, tmp_path):
    agent = Agent.objects.create(path=".git/hooks/agent.md", key="in-git")
    agent.add_version(agent_text(name="in-git"))
    out_folder = write(tmp_path / "out", {f".git/.x.md.1234{TEMP_SUFFIX}": "git's own"})

    code, _, err = run("export_agents", out_folder)

    assert code == 1
    assert "refused .git/hooks/agent.md: " in err
    assert tree(out_folder / ".git") == {f".x.md.1234{TEMP_SUFFIX}": b"git's own"}


LEFTOVERS = {f".agent-one.md.ab12cd34{TEMP_SUFFIX}": "torn", f"team/.x.md.9{TEMP_SUFFIX}": ""}


@pytest.mark.django_db
def test_export_removes_temporary_files_left_by_a_killed_run(imported, tmp_path):
    out_folder = write(tmp_path / "out", LEFTOVERS)

    code, out, _ = run("export_agents", out_folder)

    assert code == 0
    assert "2 leftover temporary files removed" in out
    assert tree(out_folder) == tree(imported)


@pytest.mark.django_db
def test_export_check_leaves_temporary_files_alone(imported, tmp_path):
    out_folder = write(tmp_path / "out", LEFTOVERS)

    code, _, _ = run("export_agents", out_folder, "--check")

    assert code == 1
    assert tree(out_folder) == {path: content.encode() for path, content in LEFTOVERS.items()}


@pytest.mark.django_db
def test_export_writes_an_agent_with_a_bad_name_to_its_own_path(tmp_path):
    files = {"team/Brand Guardian.md": agent_text(name="Brand Guardian").encode()}
    run("import_agents", write(tmp_path / "src", files))

    code, _, _ = run("export_agents", tmp_path / "out")

    assert code == 0
    assert tree(tmp_path / "out") == files
