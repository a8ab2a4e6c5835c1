"""lint_agents in other people's CI: GitHub workflow annotations and SARIF for code scanning,
with the same exit codes as the text output."""

import json

from registry.agentfiles import rules
from tests.helpers import agent_text, run, write


def bad_file(tmp_path):
    write(tmp_path, {"team/bad, one.md": agent_text(name="Brand Guardian", extra="foo: 1\n")})
    return tmp_path / "team" / "bad, one.md"


def test_github_annotations_mark_each_problem_on_its_line(tmp_path):
    path = bad_file(tmp_path)

    code, out, _ = run("lint_agents", "--format", "github", path)

    assert code == 1
    lines = out.splitlines()
    shown = str(path).replace(":", "%3A").replace(",", "%2C")
    assert lines[0].startswith(f"::error file={shown},line=2,col=1,title=name-invalid::name ")
    assert lines[1].startswith(f"::warning file={shown},line=4,col=1,title=key-unknown::")
    assert all("\n" not in line for line in lines)


def test_a_message_with_a_newline_or_percent_stays_one_annotation():
    from registry.agentfiles.validation import ERROR, Problem
    from registry.management.commands.lint_agents import github_annotation

    problem = Problem("yaml-syntax", ERROR, "50% done\nsecond line", 3, 7, "frontmatter")

    assert github_annotation("a.md", problem) == (
        "::error file=a.md,line=3,col=7,title=yaml-syntax::50%25 done%0Asecond line"
    )


def test_sarif_describes_each_rule_once_and_locates_each_result(tmp_path):
    path = bad_file(tmp_path)

    code, out, _ = run("lint_agents", "--format", "sarif", path)

    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    (run_,) = log["runs"]
    described = run_["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in described] == ["delegate-unknown", "key-unknown", "name-invalid"]
    assert described[2]["shortDescription"]["text"] == rules.rule("name-invalid").title
    assert described[2]["defaultConfiguration"] == {"level": "error"}
    first = run_["results"][0]
    assert (first["ruleId"], first["level"]) == ("name-invalid", "error")
    assert described[first["ruleIndex"]]["id"] == "name-invalid"
    region = first["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 2, "startColumn": 1}
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "team/bad, one.md"
    )


def test_clean_files_give_no_annotations_and_an_empty_sarif_run(tmp_path):
    write(
        tmp_path,
        {
            "agent-one.md": agent_text(),
            "other-agent.md": agent_text("other-agent", delegate_to="- **agent-one** — x\n"),
        },
    )

    assert run("lint_agents", "--format", "github", tmp_path)[:2] == (0, "")
    code, out, _ = run("lint_agents", "--format", "sarif", tmp_path)
    assert code == 0
    assert json.loads(out)["runs"][0]["results"] == []


def test_the_pre_commit_hook_runs_the_linter_over_its_folder(tmp_path):
    import os
    import subprocess

    import yaml

    from tests.helpers import MANAGE

    root = MANAGE.parent
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["language"], hook["pass_filenames"]) == (
        "lint-agents",
        "script",
        False,
    )
    entry = root / hook["entry"]
    assert os.access(entry, os.X_OK)
    write(tmp_path, {".claude/agents/agent-one.md": agent_text()})
    write(
        tmp_path,
        {
            ".claude/agents/other-agent.md": agent_text(
                "other-agent", delegate_to="- **agent-one** — x\n"
            )
        },
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DEBUG")}

    clean = subprocess.run([entry, *hook["args"]], cwd=tmp_path, env=env, capture_output=True)
    write(tmp_path, {".claude/agents/bad.md": "---\nname: Bad Name\n---\n"})
    broken = subprocess.run(
        [entry, "--format", "github", *hook["args"]], cwd=tmp_path, env=env, capture_output=True
    )

    assert clean.returncode == 0, clean.stderr
    assert broken.returncode == 1, broken.stderr
    assert b"::error file=.claude/agents/bad.md,line=2,col=1,title=name-invalid::" in broken.stdout


def test_the_pre_commit_hook_passes_fix_through_to_the_linter(tmp_path):
    import os
    import subprocess

    from tests.helpers import MANAGE

    write(
        tmp_path,
        {
            ".claude/agents/agent-one.md": agent_text(),
            ".claude/agents/other-agent.md": agent_text(
                "other-agent", extra="Tools: Read\n", delegate_to="- **agent-one** — x\n"
            ),
        },
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DEBUG")}

    result = subprocess.run(
        [MANAGE.parent / "bin" / "lint-agents", "--fix", ".claude/agents"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        ".claude/agents/other-agent.md:4: fixed key-unknown: rename the key 'Tools' to 'tools'\n"
    )
    fixed = (tmp_path / ".claude/agents/other-agent.md").read_text()
    assert fixed == agent_text(
        "other-agent", extra="tools: Read\n", delegate_to="- **agent-one** — x\n"
    )
